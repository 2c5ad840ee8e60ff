package dnsclient

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

// Accepted by both parsers, with the normal form.
var goodServers = []struct{ in, want string }{
	{"192.0.2.1", "192.0.2.1:53"},
	{"192.0.2.1:5353", "192.0.2.1:5353"},
	{"127.0.0.1:5353", "127.0.0.1:5353"},
	{" 192.0.2.1 ", "192.0.2.1:53"},
	{" 10.0.0.1:53 ", "10.0.0.1:53"},
	{"\t192.0.2.1\n", "192.0.2.1:53"},
	{"192.0.2.1:053", "192.0.2.1:53"},
	{"::1", "[::1]:53"},
	{"[::1]", "[::1]:53"},
	{"[::1]:53", "[::1]:53"},
	{"[::1]:5353", "[::1]:5353"},
	{"2001:db8::53", "[2001:db8::53]:53"},
	{"2001:DB8::1", "[2001:db8::1]:53"},
	{"[2001:db8::1]:8053", "[2001:db8::1]:8053"},
	{"::1:53", "[::1:53]:53"}, // unbracketed IPv6 has no port
	{"fe80::1%eth0", "[fe80::1%eth0]:53"},
	{"[fe80::1%eth0]:53", "[fe80::1%eth0]:53"},
	{"[fe80::1%2]", "[fe80::1%2]:53"},
	{"::ffff:192.0.2.1", "[::ffff:192.0.2.1]:53"},
	{"192.0.2.1:65535", "192.0.2.1:65535"},
}

// Refused by ParseServer; want is a word the error must contain besides
// the input (the command line tests of --resolver rely on these words).
var badServers = []struct{ in, want string }{
	{"", "empty"},
	{"   ", "empty"},
	{"localhost", "host name"},
	{"localhost:53", "host name"},
	{"dns.quad9.net", "host name"},
	{"dns.google", "host name"},
	{"ns1.example.net:53", "host name"},
	{"ns1.example.test.", "host name"},
	{"dns_server:53", "host name"},
	{"192.0.2.1:0", "port"},
	{"192.0.2.1:65536", "port"},
	{"192.0.2.1:", "port"},
	{"192.0.2.1:dns", "port"},
	{"192.0.2.1:+53", "port"},
	{"192.0.2.1:-1", "port"},
	{"192.0.2.1:99999999999999999999", "port"},
	{"[::1]:0", "port"},
	{"[::1]:", "port"},
	{"::1:53:x", "brackets"},
	{"[::1", "]"},
	{"[192.0.2.1]", "IPv6"},
	{"[127.0.0.1]:53", "IPv6"},
	{"[::1]53", "[IPv6]:PORT"},
	{"[]:53", "IPv6"},
	{"[zz::1]:53", "IPv6"},
	{":53", "no address"},
	{":", "port"},
	{"300.1.1.1", "not an IP address"},
	{"1.2.3.4.5", "not an IP address"},
	{"192.0.2.1%eth0", "not an IP address"},
	{"fe80::1%", "IP address"},
	{"fe80::1%eth 0", "IP address"},
	{"fe80::1%eth0\n:53", "zone"},
	{"[fe80::1%a\x00b]:53", "zone"},
	{"http://192.0.2.1", "port"},
	{"a b:53", "not an IP address"},
	{"192.0.2.1 53", "not an IP address"},
	{"\x00", "not an IP address"},
	{"192.0.2.1\x00:53", "not an IP address"},
	{"\u202e192.0.2.1", "not an IP address"},
	{"[::1]]:53", "[IPv6]:PORT"},
	{"[[::1]]:53", "IPv6"},
	{strings.Repeat("1", 400), "bytes long"},
	{strings.Repeat("a.", 200) + "com", "bytes long"},
}

func TestParseServer(t *testing.T) {
	for _, tc := range goodServers {
		got, err := ParseServer(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseServer(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
		if again, err := ParseServer(got); err != nil || again != got {
			t.Errorf("ParseServer(%q) = %q, %v; not stable", got, again, err)
		}
	}
	for _, tc := range badServers {
		got, err := ParseServer(tc.in)
		if err == nil {
			t.Errorf("ParseServer(%q) = %q, want an error", tc.in, got)
			continue
		}
		msg := err.Error()
		var ae *AddrError
		if !errors.Is(err, ErrBadServer) || !errors.As(err, &ae) || ae.Input != tc.in {
			t.Errorf("ParseServer(%q): %v is not an *AddrError wrapping ErrBadServer", tc.in, err)
		}
		if !strings.Contains(msg, tc.want) {
			t.Errorf("ParseServer(%q): %q does not say %q", tc.in, msg, tc.want)
		}
		if len(tc.in) < 80 && !strings.Contains(msg, strconv.Quote(tc.in)) {
			t.Errorf("ParseServer(%q): %q does not name the input", tc.in, msg)
		}
		if !strings.Contains(msg, "IP address with an optional port") {
			t.Errorf("ParseServer(%q): %q does not say what is wanted", tc.in, msg)
		}
		if len(msg) > 600 || strings.ContainsAny(msg, "\x00\n") {
			t.Errorf("ParseServer(%q): message too long or with raw control characters: %q", tc.in, msg)
		}
	}
}

// TestParseHostPort: what ParseServer accepts, and host names as given
// (the primary server of an RFC 2136 zone may be named).
func TestParseHostPort(t *testing.T) {
	for _, tc := range goodServers {
		if got, err := ParseHostPort(tc.in); err != nil || got != tc.want {
			t.Errorf("ParseHostPort(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for in, want := range map[string]string{
		"127.0.0.53":        "127.0.0.53:53",
		"127.0.0.53:5353":   "127.0.0.53:5353",
		"ns1.example.test":  "ns1.example.test:53",
		"ns1.example.test.": "ns1.example.test.:53",
		"localhost":         "localhost:53",
		"bind:5300":         "bind:5300",
		"dns_server:53":     "dns_server:53",
		"NS1.Example.Test":  "NS1.Example.Test:53",
		"x.example.:053":    "x.example.:53",
		"[::1]":             "[::1]:53",
		"::1":               "[::1]:53",
		"[2001:db8::1]:53":  "[2001:db8::1]:53",
		" 10.0.0.1:53 ":     "10.0.0.1:53",
	} {
		if got, err := ParseHostPort(in); err != nil || got != want {
			t.Errorf("ParseHostPort(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{
		"", "1.2.3.4:0", "1.2.3.4:65536", "host:port", ":53", "a b:53", "[zz::1]:53", "http://x", "[::1",
		"300.1.1.1", "ns1..example", "-", ".", "a/b", "ns1.example.test:0", strings.Repeat("a", 64) + ".example", "\x00",
	} {
		got, err := ParseHostPort(bad)
		if err == nil {
			t.Errorf("ParseHostPort(%q) = %q, want an error", bad, got)
			continue
		}
		if !errors.Is(err, ErrBadServer) || strings.Contains(err.Error(), "host names are not resolved") {
			t.Errorf("ParseHostPort(%q): %v", bad, err)
		}
	}
}
