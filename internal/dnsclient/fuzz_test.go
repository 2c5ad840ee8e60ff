package dnsclient

import (
	"errors"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"
)

// Hand-written seeds live in testdata/fuzz/<FuzzName>/ and in the f.Add
// calls; generated corpus entries are committed only when they found a bug.

// ParseServer either refuses with ErrBadServer or returns an IP:PORT that
// parses, has a port, and normalises to itself; ParseHostPort accepts it
// unchanged.
func FuzzParseServer(f *testing.F) {
	for _, s := range []string{"127.0.0.1", "127.0.0.1:53", "[::1]", "[::1]:5353", "::1", "ns.example:53", "[fe80::1%eth0]:53", "1.2.3.4:0", "[::1", "a:b:c", ":", "", "[]:53", "x.example.:053"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := ParseServer(s)
		if err != nil {
			if !errors.Is(err, ErrBadServer) {
				t.Fatalf("ParseServer(%q) err = %v, want ErrBadServer", s, err)
			}
			return
		}
		ap, err := netip.ParseAddrPort(out)
		if err != nil || ap.Port() == 0 {
			t.Fatalf("ParseServer(%q) = %q: not IP:PORT (%v)", s, out, err)
		}
		if again, err := ParseServer(out); err != nil || again != out {
			t.Fatalf("ParseServer(%q) = %q, then %q, %v", s, out, again, err)
		}
		if hp, err := ParseHostPort(s); err != nil || hp != out {
			t.Fatalf("ParseServer(%q) = %q, but ParseHostPort gives %q, %v", s, out, hp, err)
		}
	})
}

// ParseHostPort (RFC2136_SERVER values) never panics, and what it accepts
// is a host:port that net.SplitHostPort takes back and that normalises to
// itself.
func FuzzParseHostPort(f *testing.F) {
	for _, s := range []string{"127.0.0.53", "[::1]:53", "::1", "ns1.example.test:5353", "[fe80::1%eth0]:53", "a:b:c", "", "[", "x:0", "1.2.3.4:65536"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		hp, err := ParseHostPort(s)
		if err != nil {
			if !errors.Is(err, ErrBadServer) {
				t.Fatalf("ParseHostPort(%q) err = %v, want ErrBadServer", s, err)
			}
			return
		}
		h, p, err := net.SplitHostPort(hp)
		if err != nil || h == "" || p == "" {
			t.Fatalf("ParseHostPort(%q) = %q, which does not split: %v", s, hp, err)
		}
		if again, err := ParseHostPort(hp); err != nil || again != hp {
			t.Fatalf("ParseHostPort(%q) = %q, but ParseHostPort(%q) = %q, %v", s, hp, hp, again, err)
		}
	})
}

// Every server parsed from a resolv.conf is normalised and listed once;
// its timeout and attempts options are within the C library's bounds.
func FuzzParseResolvConf(f *testing.F) {
	f.Fuzz(func(t *testing.T, data string) {
		servers := ParseResolvConf(data)
		if c := ParseResolvConfOptions(data); !slices.Equal(c.Servers, servers) ||
			c.Timeout != 0 && (c.Timeout < MinTimeout || c.Timeout > MaxTimeout || c.Timeout%time.Second != 0) ||
			c.Attempts < 0 || c.Attempts > MaxAttempts {
			t.Fatalf("ParseResolvConfOptions(%q) = %+v, out of bounds or other servers than %q", data, c, servers)
		}
		for i, s := range servers {
			if n, err := ParseServer(s); err != nil || n != s {
				t.Fatalf("server %q not normalised: %q, %v", s, n, err)
			}
			if slices.Contains(servers[:i], s) {
				t.Fatalf("server %q listed twice in %q", s, servers)
			}
		}
	})
}
