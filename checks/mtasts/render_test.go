package mtasts

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stspilot/stspilot/internal/txtrecord"
)

func TestRenderCanonical(t *testing.T) {
	p := Policy{
		Version: "STSv1", Mode: ModeEnforce, MaxAge: 604800,
		MX:         []string{"mx1.example.com", "*.example.net"},
		Extensions: []Field{{Name: "x-note", Value: "hello there"}, {Name: "ext.2", Value: "1"}},
	}
	got, err := Render(p)
	if err != nil {
		t.Fatal(err)
	}
	want := "version: STSv1\r\nmode: enforce\r\nmx: mx1.example.com\r\nmx: *.example.net\r\nmax_age: 604800\r\nx-note: hello there\r\next.2: 1\r\n"
	if string(got) != want {
		t.Errorf("Render = %q\nwant     %q", got, want)
	}
	// an empty Version means STSv1
	p.Version = ""
	if got2, err := Render(p); err != nil || !bytes.Equal(got2, got) {
		t.Errorf("Render(empty Version) = %q, %v", got2, err)
	}
}

func TestRenderRejectsInvalid(t *testing.T) {
	ok := Policy{Version: "STSv1", Mode: ModeEnforce, MaxAge: 86400, MX: []string{"mail.example.com"}}
	for _, tc := range []struct {
		name string
		edit func(*Policy)
	}{
		{"STS-POL-7 version", func(p *Policy) { p.Version = "STSv2" }},
		{"STS-POL-8 mode case", func(p *Policy) { p.Mode = "Enforce" }},
		{"STS-POL-8 mode empty", func(p *Policy) { p.Mode = "" }},
		{"STS-POL-9 negative max_age", func(p *Policy) { p.MaxAge = -1 }},
		{"STS-POL-9 max_age above maximum", func(p *Policy) { p.MaxAge = MaxMaxAge + 1 }},
		{"STS-POL-6 no mx under enforce", func(p *Policy) { p.MX = nil }},
		{"STS-POL-6 no mx under testing", func(p *Policy) { p.MX = nil; p.Mode = ModeTesting }},
		{"STS-POL-17 leading dot", func(p *Policy) { p.MX = []string{".example.com"} }},
		{"STS-POL-16 bad wildcard", func(p *Policy) { p.MX = append(p.MX, "mail*.example.com") }},
		{"STS-POL-11 list in one pattern", func(p *Policy) { p.MX = []string{"a.example, b.example"} }},
		{"STS-POL-10 trailing dot", func(p *Policy) { p.MX = []string{"mail.example.com."} }},
		{"STS-POL-13 malformed extension key", func(p *Policy) { p.Extensions = []Field{{Name: "x y", Value: "1"}} }},
		{"STS-POL-13 extension key is a policy key", func(p *Policy) { p.Extensions = []Field{{Name: "Mode", Value: "testing"}} }},
		{"STS-POL-13 empty extension value", func(p *Policy) { p.Extensions = []Field{{Name: "x", Value: ""}} }},
		{"STS-POL-13 extension value with edge space", func(p *Policy) { p.Extensions = []Field{{Name: "x", Value: "a "}} }},
		{"STS-POL-13 extension value with newline", func(p *Policy) { p.Extensions = []Field{{Name: "x", Value: "a\r\nmode: none"}} }},
		{"STS-POL-13 non-ASCII extension value", func(p *Policy) { p.Extensions = []Field{{Name: "x", Value: "caf\u00e9"}} }},
		{"STS-POL-4 extension value with colon", func(p *Policy) { p.Extensions = []Field{{Name: "x", Value: "https://example.com"}} }},
		{"STS-POL-14 repeated extension", func(p *Policy) { p.Extensions = []Field{{Name: "x", Value: "1"}, {Name: "x", Value: "2"}} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := ok
			p.MX = append([]string(nil), ok.MX...)
			tc.edit(&p)
			b, err := Render(p)
			if err == nil {
				t.Fatalf("Render(%+v) = %q, want an error", p, b)
			}
			rule := strings.Fields(tc.name)[0]
			if !strings.Contains(err.Error(), rule) {
				t.Errorf("error %q does not cite %s", err, rule)
			}
		})
	}
	if _, err := Render(ok); err != nil {
		t.Fatalf("the base policy must render: %v", err)
	}
	none := Policy{Mode: ModeNone, MaxAge: 86400}
	if _, err := Render(none); err != nil {
		t.Errorf("STS-POL-12: mode none without mx must render: %v", err)
	}
}

// checkStrict asserts design invariant 7 on rendered bytes.
func checkStrict(t *testing.T, b []byte) {
	t.Helper()
	s := string(b)
	if !strings.HasPrefix(s, "version: STSv1\r\n") {
		t.Fatalf("%q: version is not first", s)
	}
	if !strings.HasSuffix(s, "\r\n") || strings.Contains(s, "\r\n\r\n") ||
		strings.Count(s, "\n") != strings.Count(s, "\r\n") || strings.Count(s, "\r") != strings.Count(s, "\r\n") {
		t.Fatalf("%q: line endings are not CRLF throughout, or there is a blank line", s)
	}
	for _, l := range strings.Split(strings.TrimSuffix(s, "\r\n"), "\r\n") {
		k, v, ok := strings.Cut(l, ": ")
		if !ok || !validExtName(k) || v == "" || strings.Contains(v, ":") || strings.HasPrefix(l, "#") {
			t.Fatalf("%q: line %q is not a strict key: value line", s, l)
		}
	}
	if len(b) > MaxBodySize {
		t.Fatalf("rendered %d bytes", len(b))
	}
}

// Property: for random valid policies, ParsePolicy(Render(p)) gives p back
// with no problem at all (docs/design.md invariant 7).
func TestRenderRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 3000 {
		p := randPolicy(r)
		b, err := Render(p)
		if err != nil {
			t.Fatalf("Render(%+v): %v", p, err)
		}
		checkStrict(t, b)
		got, ps := ParsePolicy(b)
		if len(ps) != 0 {
			t.Fatalf("ParsePolicy(%q): %v", b, ps)
		}
		if !equalPolicy(got, p) {
			t.Fatalf("round trip of %q:\n got %+v\nwant %+v", b, got, p)
		}
	}
}

// max_age 0 is valid and renders, but draws a warning (STS-POL-9).
func TestRenderMaxAgeZero_STS_POL_9(t *testing.T) {
	b, err := Render(Policy{Mode: ModeNone, MaxAge: 0})
	if err != nil {
		t.Fatal(err)
	}
	_, ps := ParsePolicy(b)
	if !sameProblems(ps, []pk{{"STS-POL-9", 3, txtrecord.SevWarn}}) {
		t.Errorf("problems = %v", ps)
	}
}

func randPolicy(r *rand.Rand) Policy {
	modes := []Mode{ModeEnforce, ModeTesting, ModeNone}
	p := Policy{Version: "STSv1", Mode: modes[r.IntN(3)], MaxAge: 1 + r.Int64N(MaxMaxAge)}
	n := r.IntN(5)
	if p.Mode != ModeNone && n == 0 {
		n = 1
	}
	for range n {
		pat := randLabel(r)
		for range r.IntN(4) {
			pat += "." + randLabel(r)
		}
		if r.IntN(3) == 0 {
			pat = "*." + pat
		}
		p.MX = append(p.MX, pat)
	}
	seen := map[string]bool{}
	for range r.IntN(4) {
		name := randExtName(r)
		if seen[name] || knownKeys[strings.ToLower(name)] {
			continue
		}
		seen[name] = true
		p.Extensions = append(p.Extensions, Field{Name: name, Value: randExtValue(r)})
	}
	return p
}

func randExtName(r *rand.Rand) string {
	const first = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	const rest = first + "_-."
	b := []byte{first[r.IntN(len(first))]}
	for range r.IntN(32) {
		b = append(b, rest[r.IntN(len(rest))])
	}
	return string(b)
}

// randExtValue returns printable ASCII without ':' and without edge spaces.
func randExtValue(r *rand.Rand) string {
	n := 1 + r.IntN(40)
	b := make([]byte, n)
	for i := range b {
		c := byte(0x20 + r.IntN(0x5f))
		if c == ':' || (c == ' ' && (i == 0 || i == n-1)) {
			c = 'x'
		}
		b[i] = c
	}
	return string(b)
}
