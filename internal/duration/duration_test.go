package duration

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"14d":     14 * Day,
		"1d":      Day,
		"1d12h":   36 * time.Hour,
		"2d 4h":   52 * time.Hour,
		"90m":     90 * time.Minute,
		"1h30m0s": 90 * time.Minute,
		"30s":     30 * time.Second,
		"500ms":   500 * time.Millisecond,
		"86400":   Day,
		"0":       0,
		"0s":      0,
		" 7d ":    7 * Day,
	} {
		got, err := Parse(in)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "1x", "-1d", "1d-2h", "1..5h", ".h", "1 d", "abc", "36526d", "9999999999999999999", strings.Repeat("9", 40) + "s", "1e9h", "1D", "1.5h", "1.5d"} {
		if d, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) = %v, want an error", in, d)
		}
	}
	if _, err := Parse("99999999999999999999"); !errors.Is(err, ErrTooLarge) {
		t.Errorf("a huge number: %v", err)
	}
	if _, err := Parse("d"); err == nil || !strings.Contains(err.Error(), "no number before the unit") {
		t.Errorf("a unit alone: %v", err)
	}
}

func TestFormat(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                                     "0s",
		350 * time.Millisecond:                "350ms",
		45 * time.Second:                      "45s",
		5 * time.Minute:                       "5m",
		5*time.Minute + 3*time.Second:         "5m 3s",
		90 * time.Minute:                      "1h 30m",
		24 * time.Hour:                        "1d",
		720 * time.Hour:                       "30d",
		336 * time.Hour:                       "14d",
		12*Day + 4*time.Hour:                  "12d 4h",
		12*Day + 4*time.Hour + 40*time.Minute: "12d 5h",
		-2 * time.Hour:                        "-2h",
		23*time.Hour + 59*time.Minute + 59*time.Second: "1d",
	} {
		if got := Format(d); got != want {
			t.Errorf("Format(%v) = %q, want %q", d, got, want)
		}
		if d >= time.Second && d%time.Second == 0 {
			back, err := Parse(strings.ReplaceAll(Format(d), " ", ""))
			if err != nil || (back-d) > time.Hour || (d-back) > time.Hour {
				t.Errorf("Parse(Format(%v)) = %v, %v", d, back, err)
			}
		}
	}
}

func TestWords(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                    "0 seconds",
		time.Millisecond:     "less than a second",
		time.Second:          "1 second",
		Day:                  "1 day",
		14 * Day:             "14 days",
		12*Day + 4*time.Hour: "12 days 4 hours",
		90 * time.Minute:     "1 hour 30 minutes",
		2 * time.Minute:      "2 minutes",
	} {
		if got := Words(d); got != want {
			t.Errorf("Words(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestExact(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "0s", 14 * Day: "14d", 36 * time.Hour: "36h", 90 * time.Minute: "90m", 45 * time.Second: "45s"} {
		if got := Exact(d); got != want {
			t.Errorf("Exact(%v) = %q, want %q", d, got, want)
		}
		if back, err := Parse(want); err != nil || back != d {
			t.Errorf("Parse(%q) = %v, %v", want, back, err)
		}
	}
}

func TestValue(t *testing.T) {
	var d time.Duration
	v := NewValue(&d, 30*time.Second)
	if v.String() != "30s" || v.Type() != "duration" {
		t.Errorf("%q %q", v.String(), v.Type())
	}
	if err := v.Set("1d"); err != nil || d != Day || v.String() != "1d" {
		t.Errorf("Set(1d): %v %v", err, d)
	}
	if err := v.Set("soon"); err == nil || !strings.Contains(err.Error(), "not a duration") {
		t.Errorf("Set(soon): %v", err)
	}
	if err := v.Set("30"); err == nil || !strings.Contains(err.Error(), "no unit: write 30s, 30m") {
		t.Errorf("Set(30): %v", err)
	}
	if err := (&Value{D: &d, Seconds: true}).Set("86400"); err != nil || d != Day {
		t.Errorf("Seconds: Set(86400): %v %v", err, d)
	}
	if (&Value{D: new(time.Duration)}).String() != "0" {
		t.Error("zero is not written as 0")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"14d", "1d12h", "2d 4h", "86400", "1.5h", "-1s", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := Parse(s)
		if err == nil && (d < 0 || d > Max) {
			t.Fatalf("Parse(%q) = %v outside [0, Max]", s, d)
		}
		_ = Format(d)
		_ = Words(d)
	})
}

// The most negative duration has no positive counterpart: negating it
// overflows back to itself, which once made Format and Words recurse
// until the stack ran out.
func TestFormatExtremes(t *testing.T) {
	for _, d := range []time.Duration{math.MinInt64, math.MaxInt64, math.MinInt64 + 1} {
		if got := Format(d); !strings.Contains(got, "106751d") {
			t.Errorf("Format(%d) = %q, want days", int64(d), got)
		}
		if got := Words(d); !strings.Contains(got, "days") {
			t.Errorf("Words(%d) = %q, want days", int64(d), got)
		}
	}
}

func TestSeconds(t *testing.T) {
	const limit = math.MaxInt64 / int64(time.Second)
	for _, c := range []struct {
		n    int64
		want time.Duration
	}{
		{0, 0},
		{86400, Day},
		{-5, -5 * time.Second},
		{31557600, 31557600 * time.Second},
		{limit, time.Duration(limit) * time.Second},
		{limit + 1, math.MaxInt64},
		{99999999999, math.MaxInt64},
		{math.MaxInt64, math.MaxInt64},
		{-limit - 1, math.MinInt64},
		{math.MinInt64, math.MinInt64},
	} {
		if got := Seconds(c.n); got != c.want {
			t.Errorf("Seconds(%d) = %v, want %v", c.n, got, c.want)
		}
	}
}
