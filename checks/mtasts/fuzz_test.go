package mtasts

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stspilot/stspilot/internal/txtrecord"
)

// recordRE is the STS-TXT-8 grammar as docs/rules.md states it.
var recordRE = regexp.MustCompile(`^v=STSv1([ \t]*;[ \t]*(id=[A-Za-z0-9]{1,32}|[A-Za-z0-9][A-Za-z0-9_.-]{0,31}=[\x21-\x3A\x3C\x3E-\x7E]+))+([ \t]*;[ \t]*)?$`)

// patternRE is the STS-POL-10 grammar as docs/rules.md states it.
var patternRE = regexp.MustCompile(`^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$`)

var idRE = regexp.MustCompile(`^[A-Za-z0-9]{1,32}$`)

// oracleRecordOK is an independent statement of a valid record: the regex,
// at least one id field, and every field named id valid (STS-TXT-8/9).
func oracleRecordOK(s string) bool {
	if !recordRE.MatchString(s) {
		return false
	}
	ids := 0
	for _, f := range strings.Split(s, ";")[1:] {
		name, value, _ := strings.Cut(strings.Trim(f, " \t"), "=")
		if name == "id" {
			if !idRE.MatchString(value) {
				return false
			}
			ids++
		}
	}
	return ids > 0
}

func FuzzParseRecord(f *testing.F) {
	for _, s := range []string{
		"v=STSv1; id=20240101T000000Z", "v=STSv1;id=abc;", "v=STSv1 ; id=abc", "v=STSv1; id = abc",
		"V=STSv1; id=abc", " v=STSv1; id=abc", "v=STSv1; id=2024-01-01", "v=STSv1; id=a; id=b",
		"v=STSv1; id=a; x=y=z", "v=STSv1", "v=STSv1;;", "v=spf1 -all", "v=STSv1 id=123", "v = STSv1; id=1",
		"v=STSv1; id=a;\text=\x7e", "v=STSv1; id=\u00e9",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rec, ps := ParseRecord(s)
		for _, p := range ps {
			if !strings.HasPrefix(p.Rule, "STS-TXT-") || p.Message == "" || p.Line != 0 ||
				(p.Severity != txtrecord.SevError && p.Severity != txtrecord.SevWarn) {
				t.Fatalf("malformed problem %+v", p)
			}
		}
		noErr := len(txtrecord.Errors(ps)) == 0
		if want := oracleRecordOK(s); noErr != want {
			t.Fatalf("ParseRecord(%q): no errors = %v, but the STS-TXT-8 grammar says %v (problems %v)", s, noErr, want, ps)
		}
		if noErr && !ValidID(rec.ID) {
			t.Fatalf("ParseRecord(%q): valid record with id %q", s, rec.ID)
		}
		if rec.ID != "" && !ValidID(rec.ID) {
			t.Fatalf("ParseRecord(%q): ID %q is not a valid id", s, rec.ID)
		}
		sts, near, foreign := SelectRecords([]string{s})
		if len(sts)+len(near)+len(foreign) != 1 {
			t.Fatalf("SelectRecords(%q) lost or duplicated the record", s)
		}
		if len(sts) == 1 != strings.HasPrefix(s, "v=STSv1;") {
			t.Fatalf("SelectRecords(%q): sts = %q", s, sts)
		}
	})
}

func FuzzParsePolicy(f *testing.F) {
	for _, s := range []string{
		googlePolicy, msPolicy, lfPolicy, lfPolicy + "\n", "\xef\xbb\xbf" + lfPolicy,
		"version: STSv1\nMode: Enforce\nmx: mail.example.com, mx2.example.com\nmx: .example.com\nmax_age: 40000000\n",
		"version: STSv1\rmode: testing\r\nmx: *.example.com\nmax_age: +86400\n#comment\n x: y\nfoo : bar\n",
		"version: STSv1\nmode: none\nmax_age: 0\nx-a: b:c\nx-a: d\n",
		"version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 1d\next: caf\u00e9\n",
		"\xff\xfev\x00e\x00", "mx: a.example # c\n", "\x1f\x8b\x08\x00", "<html>", "", "\x00", ":", "mx:\u2028", "max_age: 99999999999999999999",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, ps := ParsePolicy(body)
		if len(ps) > maxProblems {
			t.Fatalf("%d problems", len(ps))
		}
		for _, x := range ps {
			if !strings.HasPrefix(x.Rule, "STS-POL-") || x.Message == "" || x.Line < 0 ||
				(x.Severity != txtrecord.SevError && x.Severity != txtrecord.SevWarn) || !utf8.ValidString(x.Message) {
				t.Fatalf("malformed problem %+v", x)
			}
		}
		b, err := Render(p)
		if len(txtrecord.Errors(ps)) == 0 {
			// A policy without errors renders, unless an extension trips
			// some implementation (a warning only).
			noExt := p
			noExt.Extensions = nil
			if _, err := Render(noExt); err != nil {
				t.Fatalf("ParsePolicy(%q) has no errors, but Render fails: %v", body, err)
			}
		}
		if err != nil {
			return
		}
		// Whatever Render accepts parses back identically, strictly.
		if p.Version == "" {
			p.Version = "STSv1" // Render writes the only version there is
		}
		got, ps2 := ParsePolicy(b)
		for _, x := range ps2 {
			if x.Rule != "STS-POL-9" || p.MaxAge != 0 {
				t.Fatalf("ParsePolicy(Render(%+v)) = %v", p, ps2)
			}
		}
		if !equalPolicy(got, p) {
			t.Fatalf("round trip of %q:\n got %+v\nwant %+v", body, got, p)
		}
	})
}

// hostFor builds a host that a valid pattern must match.
func hostFor(p string) string {
	if rest, ok := strings.CutPrefix(p, "*."); ok {
		return "x0." + rest
	}
	return p
}

func FuzzValidatePattern(f *testing.F) {
	for _, s := range []string{
		"mail.example.com", "*.example.com", ".example.com", "mail.example.com.", "*", "*.", "*.*.a",
		"mail*.example.com", "a_b.example", "b\u00fccher.example", "a..b", "-a.b", strings.Repeat("a", 64) + ".b", "a,b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		err := ValidatePattern(p)
		base := strings.TrimPrefix(p, "*.")
		labelsOK := len(base) <= 253
		for _, l := range strings.Split(base, ".") {
			labelsOK = labelsOK && len(l) <= 63
		}
		if want := patternRE.MatchString(p) && labelsOK; (err == nil) != want {
			t.Fatalf("ValidatePattern(%q) = %v, but the STS-POL-10 grammar says valid=%v", p, err, want)
		}
		if err != nil {
			if pe, ok := err.(*PatternError); !ok || pe.Message == "" || !strings.HasPrefix(pe.Rule, "STS-POL-") {
				t.Fatalf("ValidatePattern(%q) = %#v", p, err)
			}
			return
		}
		h := hostFor(p)
		if !Match(p, h) || !Match(p, strings.ToUpper(h)+".") {
			t.Fatalf("valid pattern %q does not match %q", p, h)
		}
		if c, ok := Covering([]string{"unrelated.invalid", p}, h); !ok || c != p {
			t.Fatalf("Covering(%q) = %q, %v", h, c, ok)
		}
		if s := SuggestPatterns([]string{h}); len(s) != 1 {
			t.Fatalf("SuggestPatterns(%q) = %q", h, s)
		} else if !Match(s[0], h) {
			t.Fatalf("SuggestPatterns(%q) = %q does not cover it", h, s)
		}
		if strings.HasPrefix(p, "*.") {
			// STS-POL-15: exactly one label more
			if Match(p, base) || Match(p, "a.b."+base) {
				t.Fatalf("wildcard %q matches at the wrong depth", p)
			}
		}
	})
}

func FuzzMatch(f *testing.F) {
	for _, s := range [][2]string{
		{"*.example.com", "a.example.com"},
		{"*.example.com", "example.com"},
		{"*.example.com", "a.b.example.com"},
		{"mail.example.com", "MAIL.example.com."},
		{".example.com", "a.example.com"},
		{"", ""},
		{"*", "*"},
		{"*.", "a."},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, host string) {
		m := Match(pattern, host)
		// STS-SEND-9: case and one trailing dot do not matter
		if !strings.HasSuffix(host, ".") && Match(pattern, host+".") != m {
			t.Fatalf("Match(%q, %q) changes with a trailing dot", pattern, host)
		}
		if Match(pattern, asciiUpper(host)) != m || Match(asciiUpper(pattern), host) != m {
			t.Fatalf("Match(%q, %q) depends on case", pattern, host)
		}
		if !m {
			return
		}
		h, p := normName(host), normName(pattern)
		if rest, ok := strings.CutPrefix(p, "*."); ok {
			label, tail, _ := strings.Cut(h, ".")
			if label == "" || tail != rest {
				t.Fatalf("Match(%q, %q) = true beyond one label", pattern, host)
			}
		} else if h != p {
			t.Fatalf("Match(%q, %q) = true for different names", pattern, host)
		}
		if _, ok := Covering([]string{pattern}, host); !ok {
			t.Fatalf("Covering disagrees with Match on %q, %q", pattern, host)
		}
	})
}

func asciiUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}
