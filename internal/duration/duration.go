// Package duration is stspilot's one parser and one printer of durations
// for people: every duration flag reads with Parse (so --timeout 1d,
// --ttl 1d and --wait 2d work like the ladder's soaks), and every
// duration shown to people is written by Format or Words: "7d", "12d 4h",
// "5m", "14 days", never Go's "336h0m0s". JSON keeps numbers.
package duration

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/stspilot/stspilot/internal/printable"
)

// Day is 24 hours: stspilot's days are spans of time (soaks, max_age),
// not calendar days.
const Day = 24 * time.Hour

// Max is the largest duration Parse accepts: 100 years, far above any
// max_age (RFC 8461: at most 31557600 s) or soak, and far below overflow.
const Max = 36525 * Day

// unit is one unit of the durations Parse reads and Format and Words write.
type unit struct {
	name string // as Parse reads it and Format writes it
	word string // as Words writes it (in the singular); "" for one it does not write
	d    time.Duration
}

// units are the units, smallest first.
var units = []unit{
	{"ms", "", time.Millisecond},
	{"s", "second", time.Second},
	{"m", "minute", time.Minute},
	{"h", "hour", time.Hour},
	{"d", "day", Day},
}

// ErrTooLarge wraps the error of a duration above Max.
var ErrTooLarge = errors.New("longer than 100 years")

// Parse reads a duration as people type it: whole numbers with a unit, d
// (days), h, m, s or ms, one after the other with or without spaces
// ("14d", "1d12h", "2d 4h", "90m", Go's "1h30m0s"), or plain digits,
// which are seconds ("86400", as a policy's max_age is written). It
// refuses fractions, negative values, units it does not know, and
// anything above Max (ErrTooLarge), with an error that says what it wants.
func Parse(s string) (time.Duration, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return 0, errors.New("empty; want a number with a unit: 14d, 36h, 90m, 30s")
	}
	if allDigits(in) {
		n, err := strconv.ParseInt(in, 10, 64)
		if err != nil || n > int64(Max/time.Second) {
			return 0, tooLarge(s)
		}
		return time.Duration(n) * time.Second, nil
	}
	var total time.Duration
	rest := in
	for rest != "" {
		rest = strings.TrimLeft(rest, " ")
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		num := rest[:i]
		rest = rest[i:]
		j := 0
		for j < len(rest) && rest[j] >= 'a' && rest[j] <= 'z' {
			j++
		}
		unit := rest[:j]
		rest = rest[j:]
		var u time.Duration
		for _, c := range units {
			if c.name == unit {
				u = c.d
			}
		}
		switch {
		case num == "" && u != 0:
			return 0, fmt.Errorf("%q: no number before the unit", clip(s))
		case num == "" || u == 0:
			return 0, bad(s)
		}
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil || n > int64(Max/u) {
			return 0, tooLarge(s)
		}
		total += time.Duration(n) * u
		if total > Max {
			return 0, tooLarge(s)
		}
	}
	return total, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func bad(s string) error {
	return fmt.Errorf("%q is not a duration; want whole numbers with a unit d, h, m or s (14d, 1d12h, 90m, 30s), or plain seconds", clip(s))
}

func tooLarge(s string) error {
	return fmt.Errorf("%q is %w", clip(s), ErrTooLarge)
}

// clip shortens s for a message (%q quotes it), never splitting a
// character.
func clip(s string) string { return printable.Shorten(s, 40, "...") }

// Format writes d for people in its two largest units, rounded to the
// smaller: "12d 4h", "7d", "1h 30m", "5m", "45s"; below a second
// "350ms"; 0 is "0s". A negative d gets a minus sign.
func Format(d time.Duration) string { return short.write(d) }

// Words writes d in words for prose, in its two largest units, rounded to
// the smaller: "1 day", "14 days", "12 days 4 hours", "90 minutes" is
// "1 hour 30 minutes", "1 second"; below a second "less than a second".
func Words(d time.Duration) string { return words.write(d) }

// style is a way of writing durations for people: Format's or Words'.
type style struct {
	minus, zero string
	// subSecond writes d below a second (d > 0, rounded).
	subSecond func(d time.Duration) string
	// part writes n of the unit u.
	part func(n int64, u unit) string
}

var (
	short = style{
		minus: "-", zero: "0s",
		subSecond: func(d time.Duration) string { return strconv.FormatInt(int64(d/time.Millisecond), 10) + "ms" },
		part:      func(n int64, u unit) string { return strconv.FormatInt(n, 10) + u.name },
	}
	words = style{
		minus: "minus ", zero: "0 seconds",
		subSecond: func(time.Duration) string { return "less than a second" },
		part:      func(n int64, u unit) string { return count(n, u.word) },
	}
)

// write writes d in its two largest units from seconds to days, rounded
// to the smaller, which is left out when it is 0 (and below a minute).
func (s style) write(d time.Duration) string {
	if d < 0 {
		if d == math.MinInt64 {
			d++ // -d would overflow back to itself; a nanosecond is lost in rounding anyway
		}
		return s.minus + s.write(-d)
	}
	if d == 0 {
		return s.zero
	}
	d = round(d)
	if d < time.Second {
		return s.subSecond(d)
	}
	i := len(units) - 1
	for d < units[i].d {
		i--
	}
	big, small := units[i], units[i-1]
	out := s.part(int64(d/big.d), big)
	if small.d < time.Second {
		return out
	}
	if r := int64(d % big.d / small.d); r > 0 {
		out += " " + s.part(r, small)
	}
	return out
}

// round rounds d to the smaller of the two units it is written in; a
// value that rounds up into the next unit (23h59m59s) is written in that
// one ("1d").
func round(d time.Duration) time.Duration {
	switch {
	case d < time.Second:
		if r := d.Round(time.Millisecond); r < time.Second {
			return r
		}
		return time.Second
	case d < time.Hour:
		return d.Round(time.Second)
	case d < Day:
		return d.Round(time.Minute)
	}
	return d.Round(time.Hour)
}

func count(n int64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.FormatInt(n, 10) + " " + word + "s"
}

// Seconds is n seconds as a duration, saturated at the largest and
// smallest durations (about 292 years) instead of wrapping: a max_age or
// TTL read from a policy, a zone or a journal can be any int64, and a
// wrapped value would put a cache window in the past.
func Seconds(n int64) time.Duration {
	const limit = math.MaxInt64 / int64(time.Second)
	switch {
	case n > limit:
		return math.MaxInt64
	case n < -limit:
		return math.MinInt64
	}
	return time.Duration(n) * time.Second
}

// Exact writes d in the one largest unit that divides it exactly, in the
// syntax Parse reads ("14d", "90m", "45s", "0s"): for specs that are read
// back, such as a ladder. Sub-second parts are dropped.
func Exact(d time.Duration) string {
	switch {
	case d == 0:
		return "0s"
	case d%Day == 0:
		return strconv.FormatInt(int64(d/Day), 10) + "d"
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
	return strconv.FormatInt(int64(d/time.Second), 10) + "s"
}

// Value is a flag value (the pflag.Value interface: Set, String, Type)
// that reads with Parse and prints with Format, so that --help shows
// "(default 30s)" and "--timeout 1d" works. A bare number is refused
// ("30": seconds or minutes?) unless Seconds is set, for flags that take
// what a policy writes in seconds (max_age).
type Value struct {
	D       *time.Duration
	Seconds bool
}

// NewValue sets *p to def and returns the flag value writing to it.
func NewValue(p *time.Duration, def time.Duration) *Value {
	*p = def
	return &Value{D: p}
}

// Set parses s into the duration.
func (v *Value) Set(s string) error {
	if t := strings.TrimSpace(s); !v.Seconds && allDigits(t) && t != "0" {
		return fmt.Errorf("%q has no unit: write %ss, %sm, %sh or %sd", clip(s), t, t, t, t)
	}
	d, err := Parse(s)
	if err != nil {
		return err
	}
	*v.D = d
	return nil
}

// String is the duration as Format writes it; zero is "0", which flag
// packages take for "no default" in usage lines.
func (v *Value) String() string {
	if v == nil || v.D == nil || *v.D == 0 {
		return "0"
	}
	return Format(*v.D)
}

// Type names the value in usage lines.
func (v *Value) Type() string { return "duration" }
