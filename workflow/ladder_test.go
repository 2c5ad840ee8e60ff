package workflow

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

const defaultLadderText = "testing@86400:14d,enforce@86400:7d,enforce@604800:30d,enforce@2592000"

func TestDefaultLadderIsDesignsLadder(t *testing.T) {
	if got := DefaultLadder.String(); got != defaultLadderText {
		t.Fatalf("DefaultLadder.String() = %q, want docs/design.md's %q", got, defaultLadderText)
	}
	if err := DefaultLadder.Validate(); err != nil {
		t.Fatalf("DefaultLadder invalid: %v", err)
	}
	if w := DefaultLadder.Warnings(); len(w) != 0 {
		t.Fatalf("DefaultLadder has warnings: %q", w)
	}
	p, err := ParseLadder(defaultLadderText)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p, DefaultLadder) {
		t.Fatalf("ParseLadder(default) = %#v, want %#v", p, DefaultLadder)
	}
}

func TestParseLadder(t *testing.T) {
	s := time.Second
	tests := []struct {
		in   string
		want Ladder
		text string // String() of the result
	}{
		{"testing@86400", Ladder{{RungTesting, 86400 * s, 0}}, "testing@86400"},
		{"testing@1d", Ladder{{RungTesting, 86400 * s, 0}}, "testing@86400"},
		{"testing@60:30,enforce@60", Ladder{{RungTesting, 60 * s, 30 * s}, {RungEnforce, 60 * s, 0}}, "testing@60:30s,enforce@60"},
		{" testing@2m:90m , enforce@3h:2h, enforce@4h ", Ladder{{RungTesting, 120 * s, 90 * time.Minute}, {RungEnforce, 3 * time.Hour, 2 * time.Hour}, {RungEnforce, 4 * time.Hour, 0}}, "testing@120:90m,enforce@10800:2h,enforce@14400"},
		{"testing@86400:0,enforce@86400", Ladder{{RungTesting, 86400 * s, 0}, {RungEnforce, 86400 * s, 0}}, "testing@86400:0s,enforce@86400"},
		{"testing@60:90s,enforce@60", Ladder{{RungTesting, 60 * s, 90 * s}, {RungEnforce, 60 * s, 0}}, "testing@60:90s,enforce@60"},
		// STS-POL-9: 31557600 is the largest max_age the RFC allows.
		{"testing@86400:1d,enforce@31557600", Ladder{{RungTesting, 86400 * s, day}, {RungEnforce, 31557600 * s, 0}}, "testing@86400:1d,enforce@31557600"},
		// Two testing rungs, then enforce.
		{"testing@300:5m,testing@86400:1d,enforce@86400", Ladder{{RungTesting, 300 * s, 5 * time.Minute}, {RungTesting, 86400 * s, day}, {RungEnforce, 86400 * s, 0}}, "testing@300:5m,testing@86400:1d,enforce@86400"},
	}
	for _, tt := range tests {
		got, err := ParseLadder(tt.in)
		if err != nil {
			t.Errorf("ParseLadder(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseLadder(%q) = %#v, want %#v", tt.in, got, tt.want)
		}
		if s := got.String(); s != tt.text {
			t.Errorf("ParseLadder(%q).String() = %q, want %q", tt.in, s, tt.text)
		}
		again, err := ParseLadder(got.String())
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Errorf("round trip of %q: %#v, %v", got.String(), again, err)
		}
	}
}

// Errors name the rung's position and the text at fault, so an operator
// finds the typo in a long --ladder value.
func TestParseLadderErrors(t *testing.T) {
	tests := []struct {
		in   string
		want []string // every one must be in the error
	}{
		{"", []string{"empty", defaultLadderText}},
		{"   ", []string{"empty"}},
		{"testing@86400:14d,", []string{"rung 2", "empty rung"}},
		{"testing@86400:14d,,enforce@86400", []string{"rung 2", "empty rung"}},
		{"testing86400", []string{"rung 1", `"testing86400"`, "no @"}},
		{"testing@86400:14d,enforce", []string{"rung 2", `"enforce"`, "no @"}},
		{"none@86400", []string{"rung 1", `"none"`, "not testing or enforce"}},
		{"Testing@86400", []string{"rung 1", `"Testing"`, "not testing or enforce"}},
		{"testing@86400:14d,enforce@1w", []string{"rung 2", `"1w"`, "max_age"}},
		{"testing@86400:14d,enforce@-5", []string{"rung 2", `"-5"`}},
		{"testing@86400:14d,enforce@1.5d", []string{"rung 2", `"1.5d"`}},
		{"testing@86400:14d,enforce@", []string{"rung 2", "max_age", "empty"}},
		{"testing@d", []string{"rung 1", "no number before the unit"}},
		{"testing@86400:2w,enforce@86400", []string{"rung 1", `"2w"`, "soak"}},
		{"testing@86400:,enforce@86400", []string{"rung 1", "soak", "empty"}},
		{"testing@86400:14d,enforce@86400:7d", []string{"rung 2", "last rung takes no soak"}},
		{"testing@86400,enforce@86400", []string{"rung 1", "no soak"}},
		// STS-POL-9: max_age at most 31557600.
		{"testing@86400:14d,enforce@31557601", []string{"rung 2", "31557601", "STS-POL-9"}},
		{"testing@86400:14d,enforce@366d", []string{"rung 2", "366d", "STS-POL-9"}},
		{"testing@86400:14d,enforce@99999999999999999999", []string{"rung 2", "STS-POL-9"}},
		{"testing@0:1d,enforce@86400", []string{"rung 1", "at least 1 second"}},
		{"testing@86400:99999d,enforce@86400", []string{"rung 1", "soak", "limit"}},
		// Validation after parsing.
		{"enforce@86400", []string{"rung 1", "first rung must be testing"}},
		{"testing@86400:1d,enforce@86400:1d,testing@86400", []string{"rung 3", "testing after enforce"}},
		{"testing@86400:1d,enforce@604800:1d,enforce@86400", []string{"rung 3", "below the previous enforce rung"}},
		{"testing@86400:1d,testing@3600:1d,enforce@86400", []string{"rung 2", "below the previous testing rung"}},
		{"testing@86400:1d,enforce@86400:1d,enforce@86400", []string{"rung 3", "same rung as rung 2"}},
	}
	for _, tt := range tests {
		l, err := ParseLadder(tt.in)
		if err == nil {
			t.Errorf("ParseLadder(%q) = %v, want an error", tt.in, l)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("ParseLadder(%q) error %q does not say %q", tt.in, err, w)
			}
		}
	}
}

func TestValidateBuiltLadders(t *testing.T) {
	s := time.Second
	tests := []struct {
		name string
		l    Ladder
		want string
	}{
		{"empty", nil, "no rungs"},
		{"zero max_age", Ladder{{RungTesting, 0, 0}}, "at least 1 second"},
		{"fractional max_age", Ladder{{RungTesting, 1500 * time.Millisecond, 0}}, "whole number of seconds"},
		{"above STS-POL-9", Ladder{{RungTesting, MaxRungMaxAge + s, 0}}, "STS-POL-9"},
		{"negative soak", Ladder{{RungTesting, 60 * s, -s}, {RungEnforce, 60 * s, 0}}, "negative soak"},
		{"fractional soak", Ladder{{RungTesting, 60 * s, 1500 * time.Millisecond}, {RungEnforce, 60 * s, 0}}, "soak is not a whole"},
		{"soak on last rung", Ladder{{RungTesting, 60 * s, s}, {RungEnforce, 60 * s, s}}, "last rung takes no soak"},
		{"mode none", Ladder{{"none", 60 * s, 0}}, "not testing or enforce"},
	}
	for _, tt := range tests {
		err := tt.l.Validate()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Validate() = %v, want an error saying %q", tt.name, err, tt.want)
		}
		if _, err := tt.l.MarshalText(); err == nil {
			t.Errorf("%s: MarshalText of an invalid ladder succeeded", tt.name)
		}
	}
}

func TestLadderWarnings(t *testing.T) {
	// A rehearsal ladder: every value below the recommended one.
	l, err := ParseLadder("testing@60:5m,enforce@60:5m,enforce@120")
	if err != nil {
		t.Fatal(err)
	}
	w := strings.Join(l.Warnings(), "\n")
	for _, want := range []string{
		"rung 1 (testing@60): max_age 60 is below 86400", "OPS-1",
		"rung 1 (testing@60): soak 5m is below the recommended 14d",
		"rung 2 (enforce@60): soak 5m is below the recommended 7d",
		"rung 3 (enforce@120): max_age 120 is below 86400",
		"top rung's max_age 120 is below a week", "RFC 8461 §3.2",
	} {
		if !strings.Contains(w, want) {
			t.Errorf("warnings do not say %q:\n%s", want, w)
		}
	}
	if strings.Contains(w, "rung 3 (enforce@120): soak") {
		t.Errorf("warned about the last rung's soak:\n%s", w)
	}

	// Enforce rungs of a week or more want a month's soak.
	l, err = ParseLadder("testing@86400:14d,enforce@604800:7d,enforce@2592000")
	if err != nil {
		t.Fatal(err)
	}
	if w := strings.Join(l.Warnings(), "\n"); !strings.Contains(w, "rung 2 (enforce@604800): soak 7d is below the recommended 30d") || strings.Contains(w, "below 86400") || strings.Contains(w, "below a week") {
		t.Errorf("warnings for a short soak at a week's max_age: %q", w)
	}

	// A ladder that never leaves testing protects nothing (STS-SEND-14).
	l, err = ParseLadder("testing@86400")
	if err != nil {
		t.Fatal(err)
	}
	if w := strings.Join(l.Warnings(), "\n"); !strings.Contains(w, "never reaches enforce") || !strings.Contains(w, "STS-SEND-14") {
		t.Errorf("testing-only ladder warnings: %q", w)
	}

	// Longer than recommended is fine.
	l, err = ParseLadder("testing@604800:30d,enforce@604800:60d,enforce@31557600")
	if err != nil {
		t.Fatal(err)
	}
	if w := l.Warnings(); len(w) != 0 {
		t.Errorf("generous ladder has warnings: %q", w)
	}
}

func TestLadderFindNext(t *testing.T) {
	l := DefaultLadder
	s := time.Second
	tests := []struct {
		mode   string
		maxAge time.Duration
		i      int
		ok     bool
	}{
		{RungTesting, 86400 * s, 0, true},
		{RungEnforce, 86400 * s, 1, true},
		{RungEnforce, 604800 * s, 2, true},
		{RungEnforce, 2592000 * s, 3, true},
		{RungTesting, 604800 * s, -1, false},
		{"none", 86400 * s, -1, false},
		{RungEnforce, 86401 * s, -1, false},
	}
	for _, tt := range tests {
		i, ok := l.Find(tt.mode, tt.maxAge)
		if i != tt.i || ok != tt.ok {
			t.Errorf("Find(%s, %v) = %d, %v; want %d, %v", tt.mode, tt.maxAge, i, ok, tt.i, tt.ok)
		}
	}
	for i, want := range []struct {
		next int
		ok   bool
	}{{1, true}, {2, true}, {3, true}, {-1, false}} {
		if n, ok := l.Next(i); n != want.next || ok != want.ok {
			t.Errorf("Next(%d) = %d, %v; want %d, %v", i, n, ok, want.next, want.ok)
		}
	}
	if n, ok := l.Next(-1); ok || n != -1 {
		t.Errorf("Next(-1) = %d, %v", n, ok)
	}
	if n, ok := Ladder(nil).Next(0); ok || n != -1 {
		t.Errorf("nil.Next(0) = %d, %v", n, ok)
	}
}

func TestLadderCloneIsIndependent(t *testing.T) {
	c := DefaultLadder.Clone()
	c[0].Soak = time.Minute
	if DefaultLadder[0].Soak != 14*day {
		t.Fatal("Clone shares its array with DefaultLadder")
	}
}

func TestLadderFlagAndText(t *testing.T) {
	var l Ladder
	if err := l.Set("testing@60:1m,enforce@120"); err != nil {
		t.Fatal(err)
	}
	if l.String() != "testing@60:1m,enforce@120" || l.Type() != "ladder" {
		t.Fatalf("Set: %q %q", l.String(), l.Type())
	}
	if err := l.Set("enforce@60"); err == nil {
		t.Fatal("Set accepted an invalid ladder")
	}
	if l.String() != "testing@60:1m,enforce@120" {
		t.Fatal("a failed Set changed the ladder")
	}

	type config struct {
		Ladder Ladder `json:"ladder"`
	}
	b, err := json.Marshal(config{DefaultLadder})
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"ladder":"`+defaultLadderText+`"}` {
		t.Fatalf("JSON: %s", b)
	}
	var c config
	if err := json.Unmarshal(b, &c); err != nil || !reflect.DeepEqual(c.Ladder, DefaultLadder) {
		t.Fatalf("JSON round trip: %#v, %v", c.Ladder, err)
	}
	if err := json.Unmarshal([]byte(`{"ladder":"enforce@1"}`), &c); err == nil {
		t.Fatal("JSON accepted an invalid ladder")
	}
}

// FuzzParseLadder: never panics; whatever it accepts is valid, and its
// String() parses back to the same ladder.
func FuzzParseLadder(f *testing.F) {
	for _, s := range []string{
		defaultLadderText, "testing@60", "testing@1d:1h,enforce@2d", "testing@86400:14d,",
		"enforce@86400", "testing@31557601", "testing@99999999999999999999d", "testing@:", "@:,@:",
		"testing@60:0,enforce@60", " testing @ 60 : 5m , enforce @ 60 ",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseLadder(s)
		if err != nil {
			if l != nil {
				t.Fatalf("ParseLadder(%q) returned a ladder with an error", s)
			}
			return
		}
		if err := l.Validate(); err != nil {
			t.Fatalf("ParseLadder(%q) accepted an invalid ladder: %v", s, err)
		}
		again, err := ParseLadder(l.String())
		if err != nil {
			t.Fatalf("String() %q of ParseLadder(%q) does not parse: %v", l.String(), s, err)
		}
		if !reflect.DeepEqual(again, l) {
			t.Fatalf("round trip of %q: %#v != %#v", s, again, l)
		}
		_ = l.Warnings()
	})
}
