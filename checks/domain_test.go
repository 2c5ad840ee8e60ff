package checks

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalizeDomain(t *testing.T) {
	good := []struct{ in, want string }{
		{"example.com", "example.com"},
		{"  Example.COM.  ", "example.com"},
		{"bücher.example", "xn--bcher-kva.example"}, // IDN to A-label (STS-SEND-9: matching is on A-labels)
		{"ÉXAMPLE.fr", "xn--xample-9ua.fr"},
		{"xn--bcher-kva.example", "xn--bcher-kva.example"},
		{"a-b.c0.test", "a-b.c0.test"},
	}
	for _, c := range good {
		got, err := NormalizeDomain(c.in)
		if err != nil || got != c.want {
			t.Errorf("NormalizeDomain(%q) = %q, %v; want %q", c.in, got, err, c.want)
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
	}
	for _, c := range bad {
		_, err := NormalizeDomain(c.in)
		if err == nil || !errors.Is(err, ErrBadDomain) {
			t.Errorf("NormalizeDomain(%q) accepted or wrong error: %v", c.in, err)
			continue
		}
		if !strings.Contains(err.Error(), c.says) {
			t.Errorf("NormalizeDomain(%q) = %v; want it to say %q", c.in, err, c.says)
		}
		if len(err.Error()) > 300 {
			t.Errorf("error for %q is %d bytes long", c.in[:10], len(err.Error()))
		}
	}
}

func FuzzNormalizeDomain(f *testing.F) {
	for _, s := range []string{"example.com", "bücher.example", "a..b", "xn--", "user@x.y", strings.Repeat("a.", 130)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		d, err := NormalizeDomain(in)
		if err != nil {
			return
		}
		// accepted names are canonical: normalising again is the identity
		if d2, err := NormalizeDomain(d); err != nil || d2 != d {
			t.Fatalf("%q -> %q -> %q, %v", in, d, d2, err)
		}
		if len(d) > maxDomainLen || strings.ToLower(d) != d || strings.HasSuffix(d, ".") {
			t.Fatalf("%q -> %q is not canonical", in, d)
		}
	})
}
