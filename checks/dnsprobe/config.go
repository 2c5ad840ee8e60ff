package dnsprobe

import (
	"fmt"
	"strings"

	"github.com/stspilot/stspilot/internal/dnsclient"
	"github.com/stspilot/stspilot/internal/printable"
)

// DefaultResolvConf is the file SystemServers reads when given "".
const DefaultResolvConf = dnsclient.DefaultResolvConf

// SystemServers reads the nameserver lines of a resolv.conf file (path, or
// DefaultResolvConf when path is "") and returns them as host:port in file
// order, without duplicates, IPv6 in brackets (see
// dnsclient.ReadResolvConf). Comment lines (# or ;), trailing comments and
// entries that are not IP literals are skipped, as the C library does. It
// fails with ErrNoServers when no usable nameserver remains, and when the
// file is larger than 64 KiB.
func SystemServers(path string) ([]string, error) {
	servers, err := dnsclient.ReadResolvConf(path)
	if err != nil {
		return nil, fmt.Errorf("dnsprobe: %w", err)
	}
	return servers, nil
}

// SystemResolver is a Resolver over the system's resolvers: the nameservers
// of a resolv.conf, as SystemServers reads them, asked as its "options
// timeout:N attempts:N" say (see dnsclient.ParseResolvConfOptions):
// Tries is attempts:N, and PerQuery the per-try timeout:N times the tries.
// A file without these options leaves the defaults.
func SystemResolver(path string) (*Resolver, error) {
	c, err := dnsclient.ReadResolvConfOptions(path)
	if err != nil {
		return nil, fmt.Errorf("dnsprobe: %w", err)
	}
	return &Resolver{Servers: c.Servers, PerQuery: c.ExchangeTimeout(), Tries: c.Attempts}, nil
}

// checkName validates a domain name given by the caller and returns it in
// the form used by Answer: lower case, without the trailing dot. It refuses
// empty names and labels, names longer than 253 octets, labels longer than
// 63, octets that are not printable ASCII (IDNs must be given as A-labels),
// and the characters miekg/dns escapes in presentation form (space ' @ ; ( )
// " \), which no host name or underscore label uses and which would not
// compare equal to the names in replies.
func checkName(name string) (string, error) {
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("dnsprobe: name %q: %w: %s", printable.Shorten(name, 80, "..."), ErrBadName, why)
	}
	n := strings.TrimSuffix(name, ".")
	switch {
	case n == "":
		return bad("empty")
	case len(n) > 253:
		return bad(fmt.Sprintf("%d octets, more than 253", len(n)))
	}
	for label := range strings.SplitSeq(n, ".") {
		switch {
		case label == "":
			return bad("empty label")
		case len(label) > 63:
			return bad(fmt.Sprintf("label of %d octets, more than 63", len(label)))
		}
	}
	for i := 0; i < len(n); i++ {
		switch c := n[i]; {
		case c >= 0x80:
			return bad("not ASCII: give IDNs as A-labels (xn--...)")
		case c <= ' ' || c == 0x7f || strings.IndexByte(`'@;()"\`, c) >= 0:
			return bad(fmt.Sprintf("character %q not allowed", c))
		}
	}
	return strings.ToLower(n), nil
}
