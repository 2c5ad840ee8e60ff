package mtasts

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestValidatePattern(t *testing.T) {
	label63 := strings.Repeat("a", 63)
	for _, tc := range []struct {
		name, pattern, rule string // rule "" means valid
	}{
		{"STS-POL-10 host", "mail.example.com", ""},
		{"STS-POL-10 single label", "localhost", ""},
		{"STS-POL-10 upper case", "MAIL.Example.COM", ""},
		{"STS-POL-10 hyphen inside", "mx-1.ex-ample.com", ""},
		{"STS-POL-10 A-label", "mail.xn--bcher-kva.example", ""},
		{"STS-POL-10 63-character label", label63 + ".example", ""},
		{"STS-POL-16 wildcard", "*.example.com", ""},
		{"STS-POL-16 wildcard provider", "*.mail.protection.outlook.com", ""},
		{"STS-POL-10 empty", "", "STS-POL-10"},
		{"STS-POL-10 trailing dot", "mail.example.com.", "STS-POL-10"},
		{"STS-POL-10 wildcard with trailing dot", "*.example.com.", "STS-POL-10"},
		{"STS-POL-10 only dots", "..", "STS-POL-10"},
		{"STS-POL-10 underscore", "_mx.example.com", "STS-POL-10"},
		{"STS-POL-10 U-label", "mail.b\u00fccher.example", "STS-POL-10"},
		{"STS-POL-10 empty label", "mail..example.com", "STS-POL-10"},
		{"STS-POL-10 label starts with hyphen", "-mail.example.com", "STS-POL-10"},
		{"STS-POL-10 label ends with hyphen", "mail-.example.com", "STS-POL-10"},
		{"STS-POL-10 64-character label", label63 + "a.example", "STS-POL-10"},
		{"STS-POL-10 name over 253", strings.Repeat(label63+".", 4) + "com", "STS-POL-10"},
		{"STS-POL-10 slash", "mail/example.com", "STS-POL-10"},
		{"STS-POL-10 colon and port", "mail.example.com:25", "STS-POL-10"},
		{"STS-POL-11 comma", "a.example,b.example", "STS-POL-11"},
		{"STS-POL-11 space", "a.example b.example", "STS-POL-11"},
		{"STS-POL-16 star alone", "*", "STS-POL-16"},
		{"STS-POL-16 star dot", "*.", "STS-POL-16"},
		{"STS-POL-16 two stars", "*.*.example.com", "STS-POL-16"},
		{"STS-POL-16 partial label suffix", "mail*.example.com", "STS-POL-16"},
		{"STS-POL-16 partial label prefix", "*mail.example.com", "STS-POL-16"},
		{"STS-POL-16 star in the middle", "a.*.example.com", "STS-POL-16"},
		{"STS-POL-16 star at the end", "example.*", "STS-POL-16"},
		{"STS-POL-17 leading dot", ".example.com", "STS-POL-17"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidatePattern(tc.pattern)
			if tc.rule == "" {
				if err != nil {
					t.Errorf("ValidatePattern(%q) = %v, want nil", tc.pattern, err)
				}
				return
			}
			var pe *PatternError
			if !errors.As(err, &pe) {
				t.Fatalf("ValidatePattern(%q) = %v, want a *PatternError", tc.pattern, err)
			}
			if pe.Rule != tc.rule || pe.Pattern != tc.pattern || pe.Message == "" {
				t.Errorf("ValidatePattern(%q) = %+v, want rule %s", tc.pattern, pe, tc.rule)
			}
			if !strings.HasPrefix(err.Error(), tc.rule+": ") {
				t.Errorf("Error() = %q, want it to start with the rule", err.Error())
			}
		})
	}
}

func TestValidatePatternHints(t *testing.T) {
	for p, want := range map[string]string{
		".example.com":             `"*.example.com"`,              // STS-POL-17
		"mail.example.com.":        `"mail.example.com"`,           // STS-POL-10 trailing dot
		"mail.b\u00fccher.example": `"mail.xn--bcher-kva.example"`, // STS-POL-10 A-label
		"*.b\u00fccher.example":    `"*.xn--bcher-kva.example"`,
	} {
		err := ValidatePattern(p)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ValidatePattern(%q) = %v, want a hint %s", p, err, want)
		}
	}
}

func TestMatch_STS_POL_15(t *testing.T) {
	for _, tc := range []struct {
		pattern, host string
		want          bool
	}{
		{"*.example.com", "a.example.com", true},
		{"*.example.com", "example.com", false},
		{"*.example.com", "a.b.example.com", false},
		{"*.example.com", ".example.com", false},
		{"*.example.com", "aexample.com", false},
		{"*.example.com", "a.example.com.evil", false},
		{"*.example.com", "A.EXAMPLE.COM", true},  // STS-SEND-9 case-insensitive
		{"*.EXAMPLE.com", "a.example.com", true},  // pattern case too
		{"*.example.com", "a.example.com.", true}, // STS-SEND-9 trailing dot dropped
		{"mail.example.com", "mail.example.com", true},
		{"mail.example.com", "MAIL.Example.Com.", true},
		{"mail.example.com", "mail.example.com..", false}, // only one root dot
		{"mail.example.com", "mx.mail.example.com", false},
		{"mail.example.com", "ail.example.com", false},
		{"mail.example.com", "example.com", false},
		{"*.mail.protection.outlook.com", "contoso-com.mail.protection.outlook.com", true}, // OPS-5
		{"*.mx.microsoft", "icewolf-li.h-v1.mx.microsoft", false},                          // OPS-6
		{"*.h-v1.mx.microsoft", "icewolf-li.h-v1.mx.microsoft", true},
		{"*.aspmx.l.google.com", "aspmx.l.google.com", false}, // OPS-7
		{"*.aspmx.l.google.com", "alt1.aspmx.l.google.com", true},
		// STS-POL-16/17: invalid patterns match nothing beyond themselves
		{".example.com", "a.example.com", false},
		{"mail*.example.com", "mail1.example.com", false},
		{"*", "example", false},
		{"*.*.example.com", "a.b.example.com", false},
		// STS-SEND-9: Unicode case folding must not apply (K is U+212A KELVIN SIGN)
		{"k.example.com", "\u212a.example.com", false},
		{"", "", false},
		{"*.example.com", "", false},
		{"example.com", ".", false},
	} {
		if got := Match(tc.pattern, tc.host); got != tc.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tc.pattern, tc.host, got, tc.want)
		}
	}
}

func TestCovering_STS_SEND_8(t *testing.T) {
	pats := []string{"mail.example.com", "*.example.net", "*.example.com"}
	for _, tc := range []struct {
		host, want string
		ok         bool
	}{
		{"mail.example.com", "mail.example.com", true}, // first match wins
		{"mx.example.com.", "*.example.com", true},
		{"a.example.net", "*.example.net", true},
		{"a.b.example.net", "", false},
		{"example.org", "", false},
	} {
		got, ok := Covering(pats, tc.host)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Covering(%q) = %q, %v; want %q, %v", tc.host, got, ok, tc.want, tc.ok)
		}
	}
	if _, ok := Covering(nil, "a.example"); ok {
		t.Errorf("Covering(nil) matched")
	}
}

func TestSuggestPatterns(t *testing.T) {
	for _, tc := range []struct {
		name  string
		hosts []string
		want  []string
	}{
		{"OPS-5 Microsoft 365", []string{"contoso-com.mail.protection.outlook.com."}, []string{"*.mail.protection.outlook.com"}},
		{"OPS-7 Google new", []string{"smtp.google.com."}, []string{"smtp.google.com"}},
		{
			"OPS-7 Google classic",
			[]string{"aspmx.l.google.com.", "alt1.aspmx.l.google.com.", "alt2.aspmx.l.google.com.", "ALT3.ASPMX.L.GOOGLE.COM", "alt4.aspmx.l.google.com"},
			[]string{"*.aspmx.l.google.com", "aspmx.l.google.com"},
		},
		{
			"OPS-7 Google very old",
			[]string{"aspmx.l.google.com", "aspmx2.googlemail.com", "aspmx3.googlemail.com"},
			[]string{"*.googlemail.com", "aspmx.l.google.com"},
		},
		{"OPS-7 Google only alternates", []string{"alt1.aspmx.l.google.com"}, []string{"*.aspmx.l.google.com"}},
		{"OPS-6 Microsoft DANE", []string{"icewolf-li.h-v1.mx.microsoft."}, []string{"*.h-v1.mx.microsoft"}},
		{"OPS-6 one label below mx.microsoft is listed exactly", []string{"x.mx.microsoft"}, []string{"x.mx.microsoft"}},
		{"STS-POL-15 others exactly", []string{"mx2.example.com", "MX1.example.com.", "mx2.example.com"}, []string{"mx1.example.com", "mx2.example.com"}},
		{"STS-POL-15 deeper Microsoft names exactly", []string{"a.b.mail.protection.outlook.com"}, []string{"a.b.mail.protection.outlook.com"}},
		{"STS-POL-10 names no pattern can cover are left out", []string{"", ".", "mail_1.example.com", "b\u00fccher.example", "ok.example"}, []string{"ok.example"}},
		{"empty", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := SuggestPatterns(tc.hosts)
			if !slices.Equal(got, tc.want) {
				t.Errorf("SuggestPatterns(%q) = %q, want %q", tc.hosts, got, tc.want)
			}
		})
	}
}

// Property: the suggestion is sorted, has no duplicates, holds only valid
// patterns, and covers every host that a valid pattern can cover.
func TestSuggestPatternsCoversEveryHost(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	parents := []string{
		"mail.protection.outlook.com", "aspmx.l.google.com", "googlemail.com", "h-v1.mx.microsoft", "mx.microsoft",
		"google.com", "example.com", "l.google.com", "protection.outlook.com",
	}
	for range 2000 {
		var hosts []string
		for range 1 + r.IntN(6) {
			h := randLabel(r)
			for range r.IntN(2) {
				h = randLabel(r) + "." + h
			}
			if r.IntN(4) > 0 {
				h += "." + parents[r.IntN(len(parents))]
			}
			if r.IntN(3) == 0 {
				h = strings.ToUpper(h) + "."
			}
			hosts = append(hosts, h)
		}
		got := SuggestPatterns(hosts)
		if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
			t.Fatalf("SuggestPatterns(%q) = %q: not sorted and unique", hosts, got)
		}
		for _, p := range got {
			if err := ValidatePattern(p); err != nil {
				t.Fatalf("SuggestPatterns(%q) gave an invalid pattern: %v", hosts, err)
			}
		}
		for _, h := range hosts {
			if _, ok := Covering(got, h); !ok {
				t.Fatalf("SuggestPatterns(%q) = %q leaves %q uncovered", hosts, got, h)
			}
		}
	}
}

// randLabel returns a valid LDH label of 1 to 10 characters.
func randLabel(r *rand.Rand) string {
	const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	n := 1 + r.IntN(10)
	b := make([]byte, n)
	for i := range b {
		if i > 0 && i < n-1 && r.IntN(5) == 0 {
			b[i] = '-'
		} else {
			b[i] = alnum[r.IntN(len(alnum))]
		}
	}
	return string(b)
}
