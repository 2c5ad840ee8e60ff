package workflow

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/stspilot/stspilot/internal/duration"
	"github.com/stspilot/stspilot/internal/printable"
)

// The two modes a rung may have. Mode none is not a rung: it is where
// rollback --to none and teardown go, off the ladder.
const (
	RungTesting = "testing"
	RungEnforce = "enforce"
)

// MaxRungMaxAge is the largest max_age a rung may have: RFC 8461 caps
// max_age at 31557600 seconds, 365.25 days (STS-POL-9), and pmsr, mailauth
// and chasquid reject a policy above it.
const MaxRungMaxAge = 31557600 * time.Second

// maxSoak bounds a soak so that no parsed value overflows time.Duration
// (about 292 years) and a typo like "14000d" is caught.
const maxSoak = 3660 * 24 * time.Hour

// Rung is one step of the ladder: a policy mode and max_age, and how long a
// domain soaks on it before promote may climb to the next rung.
type Rung struct {
	// Mode is RungTesting or RungEnforce.
	Mode string
	// MaxAge is the policy's max_age, in whole seconds, 1s to MaxRungMaxAge.
	MaxAge time.Duration
	// Soak is the time the domain stays on this rung before the window gate
	// of promote opens; zero on the last rung, which has no next one.
	Soak time.Duration
}

// MaxAgeSeconds is the rung's max_age as the policy writes it.
func (r Rung) MaxAgeSeconds() int64 { return int64(r.MaxAge / time.Second) }

// String is MODE@MAX_AGE, the rung without its soak.
func (r Rung) String() string { return r.Mode + "@" + strconv.FormatInt(r.MaxAgeSeconds(), 10) }

// Ladder is the ordered list of rungs promote climbs, from testing to the
// longest enforce max_age. Its text form (flags, config file, journal) is
// MODE@MAX_AGE:SOAK,... with the last rung written without a soak.
//
// A Ladder is a plain slice: methods never modify it, and a valid Ladder
// (Validate returns nil) is what ParseLadder returns.
type Ladder []Rung

// DefaultLadder is docs/design.md's ladder:
// testing@86400:14d,enforce@86400:7d,enforce@604800:30d,enforce@2592000.
// Treat it as read-only; Clone it before changing a copy.
var DefaultLadder = Ladder{
	{Mode: RungTesting, MaxAge: 86400 * time.Second, Soak: 14 * day},
	{Mode: RungEnforce, MaxAge: 86400 * time.Second, Soak: 7 * day},
	{Mode: RungEnforce, MaxAge: 604800 * time.Second, Soak: 30 * day},
	{Mode: RungEnforce, MaxAge: 2592000 * time.Second},
}

const day = 24 * time.Hour

// Clone returns a copy that shares nothing with l.
func (l Ladder) Clone() Ladder { return append(Ladder(nil), l...) }

// ParseLadder reads the text form: rungs separated by commas, each
// MODE@MAX_AGE:SOAK, the last one MODE@MAX_AGE. Durations are plain seconds
// or a number with one unit s, m, h or d ("86400", "14d", "90m"). Spaces
// around rungs and parts are ignored. Errors name the rung's position and
// the text at fault. The result is validated (see Validate); values below
// the recommended ones are accepted and reported by Warnings.
func ParseLadder(s string) (Ladder, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("ladder: empty; write it as MODE@MAX_AGE:SOAK,...,MODE@MAX_AGE, e.g. " + DefaultLadder.String())
	}
	parts := strings.Split(s, ",")
	if len(parts) > 64 {
		return nil, fmt.Errorf("ladder: %d rungs; at most 64", len(parts))
	}
	l := make(Ladder, 0, len(parts))
	for i, part := range parts {
		pos := i + 1
		last := i == len(parts)-1
		text := strings.TrimSpace(part)
		bad := func(format string, a ...any) error {
			return fmt.Errorf("ladder: rung %d %q: %s", pos, clip(text), fmt.Sprintf(format, a...))
		}
		if text == "" {
			return nil, bad("empty rung (two commas in a row, or a trailing comma)")
		}
		modeText, rest, ok := strings.Cut(text, "@")
		if !ok {
			return nil, bad("no @: write MODE@MAX_AGE%s", map[bool]string{false: ":SOAK", true: ""}[last])
		}
		mode := strings.TrimSpace(modeText)
		if mode != RungTesting && mode != RungEnforce {
			return nil, bad("mode %q is not testing or enforce", clip(mode))
		}
		ageText, soakText, hasSoak := strings.Cut(rest, ":")
		ageText = strings.TrimSpace(ageText)
		maxAge, err := parseDuration(ageText, MaxRungMaxAge)
		if errors.Is(err, errTooLarge) {
			return nil, bad("max_age %q is above 31557600 seconds (365.25 days), the RFC's maximum (STS-POL-9)", clip(ageText))
		}
		if err != nil {
			return nil, bad("max_age %q: %v", clip(ageText), err)
		}
		if maxAge%time.Second != 0 {
			return nil, bad("max_age %q is not a whole number of seconds", clip(ageText))
		}
		r := Rung{Mode: mode, MaxAge: maxAge}
		switch {
		case hasSoak && last:
			return nil, bad("the last rung takes no soak: there is no rung to climb to after it")
		case !hasSoak && !last:
			return nil, bad("no soak: every rung but the last is written MODE@MAX_AGE:SOAK")
		case hasSoak:
			soakText = strings.TrimSpace(soakText)
			if r.Soak, err = parseDuration(soakText, maxSoak); errors.Is(err, errTooLarge) {
				return nil, bad("soak %q is above the limit of %s", clip(soakText), formatDuration(maxSoak))
			} else if err != nil {
				return nil, bad("soak %q: %v", clip(soakText), err)
			}
		}
		l = append(l, r)
	}
	if err := l.Validate(); err != nil {
		return nil, err
	}
	return l, nil
}

var errTooLarge = errors.New("above the limit")

// parseDuration reads a duration with the one parser of durations
// (internal/duration: plain seconds, or whole numbers with units s, m, h,
// d), at most limit.
func parseDuration(s string, limit time.Duration) (time.Duration, error) {
	d, err := duration.Parse(s)
	if errors.Is(err, duration.ErrTooLarge) || err == nil && d > limit {
		return 0, errTooLarge
	}
	if err != nil {
		return 0, errors.New(strings.TrimPrefix(err.Error(), strconv.Quote(s)+": "))
	}
	return d, nil
}

// formatDuration writes d in the syntax parseDuration reads ("14d", "90m").
func formatDuration(d time.Duration) string { return duration.Exact(d) }

// clip shortens s for a message (%q quotes it), never splitting a
// character.
func clip(s string) string { return printable.Shorten(s, 40, "...") }

// String is the text form ParseLadder reads: max_age in plain seconds (as
// the policy writes it), soaks in the largest exact unit.
func (l Ladder) String() string {
	var b strings.Builder
	for i, r := range l {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(r.String())
		if i < len(l)-1 {
			b.WriteByte(':')
			b.WriteString(formatDuration(r.Soak))
		}
	}
	return b.String()
}

// Validate says what makes l unusable, naming the rung: no rungs; a first
// rung that is not testing (a domain enters MTA-STS in testing, RFC 8461
// §5); a mode other than testing or enforce; a max_age outside 1s to
// 31557600s (STS-POL-9) or not in whole seconds; a testing rung after an
// enforce one; a max_age lower than the one before it in the same mode (the
// ladder climbs; rollback is how to go down); the same rung twice (Find
// would be ambiguous); a negative soak, a soak on the last rung, or a soak
// not in whole seconds.
func (l Ladder) Validate() error {
	if len(l) == 0 {
		return errors.New("ladder: no rungs")
	}
	seenEnforce := false
	for i, r := range l {
		bad := func(format string, a ...any) error {
			return fmt.Errorf("ladder: rung %d %q: %s", i+1, r.String(), fmt.Sprintf(format, a...))
		}
		switch r.Mode {
		case RungTesting:
			if seenEnforce {
				return bad("testing after enforce: the ladder climbs from testing to enforce (going back down is a rollback, not a rung)")
			}
		case RungEnforce:
			seenEnforce = true
		default:
			return bad("mode %q is not testing or enforce", clip(r.Mode))
		}
		if i == 0 && r.Mode != RungTesting {
			return bad("the first rung must be testing: a domain enters MTA-STS in testing mode and climbs to enforce (RFC 8461 §5)")
		}
		switch {
		case r.MaxAge <= 0:
			return bad("max_age must be at least 1 second")
		case r.MaxAge > MaxRungMaxAge:
			return bad("max_age is above 31557600 seconds (365.25 days), the RFC's maximum (STS-POL-9)")
		case r.MaxAge%time.Second != 0:
			return bad("max_age is not a whole number of seconds")
		case r.Soak < 0:
			return bad("negative soak")
		case r.Soak > maxSoak:
			return bad("soak above %s", formatDuration(maxSoak))
		case r.Soak%time.Second != 0:
			return bad("soak is not a whole number of seconds")
		case i == len(l)-1 && r.Soak != 0:
			return bad("the last rung takes no soak: there is no rung to climb to after it")
		}
		if i > 0 {
			p := l[i-1]
			if p.Mode == r.Mode && r.MaxAge < p.MaxAge {
				return bad("max_age %d is below the previous %s rung's %d: the ladder climbs", r.MaxAgeSeconds(), r.Mode, p.MaxAgeSeconds())
			}
		}
		if j, _ := l[:i].Find(r.Mode, r.MaxAge); j >= 0 {
			return bad("the same rung as rung %d", j+1)
		}
	}
	return nil
}

// Recommended values (docs/design.md "Stages and the ladder"); values
// below them are honoured with a warning.
const (
	recommendedMinMaxAge   = 86400 * time.Second  // OPS-1: rumoured Gmail floor
	recommendedTopMaxAge   = 604800 * time.Second // RFC 8461 §3.2, §10.2 expect weeks
	recommendedTestingSoak = 14 * day
	recommendedEnforceSoak = 7 * day  // for enforce rungs below a week of max_age
	recommendedLongSoak    = 30 * day // for enforce rungs of a week or more
)

// Warnings lists the values of l below the recommended ones, one sentence
// each, with the rule behind it; nil for the default ladder. A ladder with
// warnings is still valid: short values rehearse a whole ladder in minutes.
func (l Ladder) Warnings() []string {
	var w []string
	for i, r := range l {
		at := fmt.Sprintf("ladder rung %d (%s)", i+1, r.String())
		if r.MaxAge < recommendedMinMaxAge {
			w = append(w, fmt.Sprintf("%s: max_age %d is below 86400; some senders are rumoured to ignore shorter policies (OPS-1, unconfirmed), and senders re-fetch more often", at, r.MaxAgeSeconds()))
		}
		if i == len(l)-1 {
			break
		}
		want, why := recommendedTestingSoak, "two weeks of TLS-RPT reports in testing before enforce"
		if r.Mode == RungEnforce {
			want, why = recommendedEnforceSoak, "a week in enforce before a longer max_age"
			if r.MaxAge >= recommendedTopMaxAge {
				want, why = recommendedLongSoak, "a month at this max_age before a longer one"
			}
		}
		if r.Soak < want {
			w = append(w, fmt.Sprintf("%s: soak %s is below the recommended %s (%s)", at, formatDuration(r.Soak), formatDuration(want), why))
		}
	}
	if len(l) > 0 {
		top := l[len(l)-1]
		if top.Mode != RungEnforce {
			w = append(w, fmt.Sprintf("ladder: the top rung %s is testing; the ladder never reaches enforce, so MTA-STS protects no mail (STS-SEND-14)", top.String()))
		} else if top.MaxAge < recommendedTopMaxAge {
			w = append(w, fmt.Sprintf("ladder: the top rung's max_age %d is below a week; RFC 8461 expects weeks or more, so a downgrade attacker who blocks policy refreshes wins sooner (RFC 8461 §3.2, §10.2)", top.MaxAgeSeconds()))
		}
	}
	return w
}

// Find is the position of the rung mode@maxAge, or (-1, false) when the
// ladder has no such rung.
func (l Ladder) Find(mode string, maxAge time.Duration) (int, bool) {
	for i, r := range l {
		if r.Mode == mode && r.MaxAge == maxAge {
			return i, true
		}
	}
	return -1, false
}

// Next is the position of the rung after rung i, or (-1, false) when i is
// the top rung or not a position on l.
func (l Ladder) Next(i int) (int, bool) {
	if i < 0 || i+1 >= len(l) {
		return -1, false
	}
	return i + 1, true
}

// Set parses s into l (the pflag.Value of --ladder).
func (l *Ladder) Set(s string) error {
	p, err := ParseLadder(s)
	if err != nil {
		return err
	}
	*l = p
	return nil
}

// Type names the flag's value in help output.
func (l *Ladder) Type() string { return "ladder" }

// MarshalText writes the text form (config files, JSON).
func (l Ladder) MarshalText() ([]byte, error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	return []byte(l.String()), nil
}

// UnmarshalText reads the text form.
func (l *Ladder) UnmarshalText(b []byte) error { return l.Set(string(b)) }
