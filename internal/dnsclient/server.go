// Package dnsclient is stspilot's one DNS transport, shared by the checks
// (checks/dnsprobe) and the provider layer (dnsprovider): how a DNS server
// address is written and validated ([ParseServer], [ParseHostPort]), which
// servers the system uses ([ReadResolvConf]), and how one question is
// exchanged with one server ([Exchange]: EDNS0, the TC bit and TCP, a
// deadline on every exchange, a reply that must match the question).
//
// It imports nothing from the rest of stspilot, and knows nothing about
// CNAMEs, retries across servers or what an answer means: its callers
// decide that.
package dnsclient

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/stspilot/stspilot/internal/printable"
)

// DefaultPort is the DNS port used when an address gives none.
const DefaultPort = 53

// ErrBadServer is wrapped by every error of [ParseServer] and
// [ParseHostPort].
var ErrBadServer = errors.New("invalid DNS server address")

// serverForms is the sentence every refused server address ends with.
const serverForms = "a DNS server is given as an IP address with an optional port " +
	"(192.0.2.53, 192.0.2.53:5353, 2001:db8::53 or [2001:db8::53]:5353); host names are not resolved"

// hostPortForms ends the errors of [ParseHostPort].
const hostPortForms = "want HOST or HOST:PORT, HOST being an IP address or a host name " +
	"(IPv6 in brackets when a port follows: [2001:db8::53]:53)"

// AddrError is a refused server address. It wraps [ErrBadServer].
type AddrError struct {
	Input  string // as given (truncated in the message when long)
	Reason string // what is wrong with it
	forms  string // what is wanted instead
}

func (e *AddrError) Error() string {
	return fmt.Sprintf("%q is not a usable DNS server address: %s; %s", printable.Shorten(e.Input, 80, "..."), e.Reason, e.forms)
}

// Unwrap returns ErrBadServer.
func (e *AddrError) Unwrap() error { return ErrBadServer }

// ParseServer validates the address of a DNS server to ask and returns it
// as IP:PORT, IPv6 in brackets, port 53 when none is given: "192.0.2.1",
// "192.0.2.1:5353", "2001:db8::1", "[2001:db8::1]", "[2001:db8::1]:53" and
// "fe80::1%eth0" (a zone is an interface name or number). Surrounding
// space is ignored.
//
// Anything else is refused with an *AddrError that wraps ErrBadServer and
// says what is wanted: an empty value, a port that is not 1 to 65535, an
// IPv4 address in brackets, an IPv6 address with a port but no brackets,
// and a host name such as "localhost" or "dns.quad9.net": resolving it
// would need DNS (which server would answer that?) and would hide which
// server was asked.
//
// ParseServer(ParseServer(s)) gives the same value back.
func ParseServer(s string) (string, error) {
	return parse(s, false)
}

// ParseHostPort is ParseServer that also accepts a host name, with or
// without a port ("ns1.example.net", "ns1.example.net:5353"), returned as
// given (HOST:PORT). It is for a server the user names for other reasons
// than asking it questions, such as the primary server of an RFC 2136
// zone, which the dialer resolves. It never resolves anything itself.
func ParseHostPort(s string) (string, error) {
	return parse(s, true)
}

func parse(s string, names bool) (string, error) {
	forms := serverForms
	if names {
		forms = hostPortForms
	}
	bad := func(format string, a ...any) (string, error) {
		return "", &AddrError{Input: s, Reason: fmt.Sprintf(format, a...), forms: forms}
	}
	t := strings.TrimSpace(s)
	switch {
	case t == "":
		return bad("it is empty")
	case len(t) > 300:
		return bad("it is %d bytes long", len(t))
	}

	// [IPv6] or [IPv6]:PORT
	if inner, ok := strings.CutPrefix(t, "["); ok {
		host, rest, ok := strings.Cut(inner, "]")
		if !ok {
			return bad("missing ] after the IPv6 address")
		}
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is6() {
			return bad("%q in brackets is not an IPv6 address (only IPv6 addresses go in brackets)", host)
		}
		if !validZone(a.Zone()) {
			return bad("zone %q is not an interface name or number", a.Zone())
		}
		port := uint16(DefaultPort)
		if rest != "" {
			p, ok := strings.CutPrefix(rest, ":")
			if !ok {
				return bad("%q follows the ]: want [IPv6]:PORT", rest)
			}
			if port, err = parsePort(p); err != nil {
				return bad("%v", err)
			}
		}
		return netip.AddrPortFrom(a, port).String(), nil
	}

	// A bare address, IPv4 or IPv6 (an IPv6 address without brackets
	// has no port: "::1:53" is an address).
	if a, err := netip.ParseAddr(t); err == nil {
		if !validZone(a.Zone()) {
			return bad("zone %q is not an interface name or number", a.Zone())
		}
		return netip.AddrPortFrom(a, DefaultPort).String(), nil
	}
	if strings.Count(t, ":") > 1 {
		return bad("it is not an IP address, and an IPv6 address with a port goes in brackets: [IPv6]:PORT")
	}

	// IPv4:PORT or, for ParseHostPort, HOST[:PORT].
	host, p, hasPort := strings.Cut(t, ":")
	port := uint16(DefaultPort)
	if hasPort {
		var err error
		if port, err = parsePort(p); err != nil {
			return bad("%v", err)
		}
	}
	if a, err := netip.ParseAddr(host); err == nil && a.Is4() {
		return netip.AddrPortFrom(a, port).String(), nil
	}
	switch {
	case host == "":
		return bad("there is no address before the port")
	case !validHostname(host):
		if names {
			return bad("%s is neither an IP address nor a host name", it(host, t))
		}
		return bad("%s is not an IP address", it(host, t))
	case !names:
		return bad("%s is a host name, not an IP address", it(host, t))
	}
	return host + ":" + strconv.Itoa(int(port)), nil
}

// it names host in a reason: "it" when host is the whole input t.
func it(host, t string) string {
	if host == t {
		return "it"
	}
	return strconv.Quote(printable.Shorten(host, 80, "..."))
}

// parsePort accepts the decimal numbers 1 to 65535.
func parsePort(p string) (uint16, error) {
	if p == "" {
		return 0, errors.New("the port is missing after the colon")
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("port %q is not a number from 1 to 65535", printable.Shorten(p, 20, "..."))
	}
	return uint16(n), nil
}

// validZone accepts the zone of a link-local IPv6 address (fe80::1%eth0):
// an interface name or number, or none. It keeps spaces, control
// characters and the like out of addresses that end up in messages.
func validZone(z string) bool {
	for _, c := range []byte(z) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// validHostname accepts names of letters, digits, hyphens and underscores
// in labels of 1 to 63 octets that neither start nor end with a hyphen, at most 253 octets without the optional
// final dot, whose last label is not all digits (that would be a mistyped
// IPv4 address such as 300.1.1.1).
func validHostname(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	labels := strings.Split(h, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, c := range []byte(l) {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	last := labels[len(labels)-1]
	return strings.Trim(last, "0123456789") != ""
}
