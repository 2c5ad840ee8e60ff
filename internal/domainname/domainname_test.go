package domainname

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

// safeFileName: letters, digits and hyphens in dot-separated labels.
var safeFileName = regexp.MustCompile(`^[a-z0-9-]+(\.[a-z0-9-]+)+$`)

func TestNormalize(t *testing.T) {
	good := []struct{ in, want string }{
		{"example.com", "example.com"},
		{"  Example.COM.  ", "example.com"},
		{"bücher.example", "xn--bcher-kva.example"}, // IDN to A-label (STS-SEND-9: matching is on A-labels)
		{"ÉXAMPLE.fr", "xn--xample-9ua.fr"},
		{"xn--bcher-kva.example", "xn--bcher-kva.example"},
		{"a-b.c0.test", "a-b.c0.test"},
	}
	for _, c := range good {
		got, err := Normalize(c.in)
		if err != nil || got != c.want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	bad := []struct{ in, says string }{
		{"", "empty"},
		{"localhost", "two labels"},
		{"exa mple.com", "space"},
		{"a..b.com", "empty label"},
		{"-a.com", "invalid label"},
		{"a_b.example.com", "only letters"},
		{"user@example.com", "address"},
		{"https://example.com/", "URL"},
		{"mta-sts.example.com", "adds the mta-sts."},
		{strings.Repeat("a", 64) + ".com", "63 octets"},
		{strings.Repeat("abcdefghi.", 25) + "com", "253-octet"},
		{strings.Repeat("x", 5000), "characters long"},
		{"exa\x00mple.com", ""},
		{"192.0.2.1", "an IP address"},
		{"192.0.2.1.", "an IP address"},
		{"2001:db8::1", "an IP address"},
		{"[2001:db8::1]", "an IP address"},
		{"::ffff:192.0.2.1", "an IP address"},
		{"mail.123", "all digits"},
	}
	for _, c := range bad {
		_, err := Normalize(c.in)
		if err == nil || !errors.Is(err, ErrInvalid) {
			t.Errorf("Normalize(%q) accepted or wrong error: %v", c.in, err)
			continue
		}
		if !strings.Contains(err.Error(), c.says) {
			t.Errorf("Normalize(%q) = %v; want it to say %q", c.in, err, c.says)
		}
		if len(err.Error()) > 300 {
			t.Errorf("error for %q is %d bytes long", c.in[:10], len(err.Error()))
		}
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"example.com", "bücher.example", "a..b", "xn--", "user@x.y", strings.Repeat("a.", 130)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		d, err := Normalize(in)
		if err != nil {
			return
		}
		// accepted names are canonical: normalising again is the identity
		if d2, err := Normalize(d); err != nil || d2 != d {
			t.Fatalf("%q -> %q -> %q, %v", in, d, d2, err)
		}
		if len(d) > maxDomainLen || strings.ToLower(d) != d || strings.HasSuffix(d, ".") {
			t.Fatalf("%q -> %q is not canonical", in, d)
		}
		// and safe as a file name (journals are filed under it)
		if !safeFileName.MatchString(d) {
			t.Fatalf("%q -> %q is not a safe file name", in, d)
		}
	})
}

// Moved from the journal, which files journals under the normalised name.
func TestNormalizeRefusesPathTricks(t *testing.T) {
	for _, in := range []string{"", ".", "..", "../x", "../../etc/passwd", "/etc", "a/b.com", `a\b.com`, "x\x00.com", "example.com\x00.json", ".example.com", "example..com", "-x.com", "x y.com", "example.com/", "~root", "com", "mta-sts.example.com", strings.Repeat("a.", 130) + "com"} {
		if d, err := Normalize(in); err == nil {
			t.Errorf("Normalize(%q) = %q, want an error", in, d)
		}
	}
	for in, want := range map[string]string{"EXAMPLE.com": "example.com", "example.com.": "example.com", " mail.example.org ": "mail.example.org", "bücher.example": "xn--bcher-kva.example"} {
		if d, err := Normalize(in); err != nil || d != want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", in, d, err, want)
		}
	}
}

func TestFoldIDN(t *testing.T) {
	for in, want := range map[string]string{
		"bücher.example":         "xn--bcher-kva.example",
		"BÜCHER.Example.":        "xn--bcher-kva.example",
		"Xn--Bcher-Kva.Example.": "xn--bcher-kva.example",
		"Example.COM.":           "example.com",
	} {
		if got := FoldIDN(in); got != want {
			t.Errorf("FoldIDN(%q) = %q, want %q", in, got, want)
		}
		if n, err := Normalize(in); err == nil && n != FoldIDN(in) {
			t.Errorf("FoldIDN(%q) = %q, Normalize %q", in, FoldIDN(in), n)
		}
	}
}
