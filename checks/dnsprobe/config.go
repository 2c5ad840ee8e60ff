package dnsprobe

import (
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strings"
)

// DefaultResolvConf is the file SystemServers reads when given "".
const DefaultResolvConf = "/etc/resolv.conf"

// maxResolvConf caps how much of a resolv.conf SystemServers reads.
const maxResolvConf = 64 << 10

// SystemServers reads the nameserver lines of a resolv.conf file (path, or
// DefaultResolvConf when path is "") and returns them as host:port in file
// order, without duplicates, IPv6 in brackets. Comment lines (# or ;),
// trailing comments and entries that are not IP literals are skipped, as the
// C library does. It fails with ErrNoServers when no usable nameserver
// remains, and when the file is larger than 64 KiB.
func SystemServers(path string) ([]string, error) {
	if path == "" {
		path = DefaultResolvConf
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("dnsprobe: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxResolvConf+1))
	if err != nil {
		return nil, fmt.Errorf("dnsprobe: %s: %w", path, err)
	}
	if len(data) > maxResolvConf {
		return nil, fmt.Errorf("dnsprobe: %s: larger than %d bytes", path, maxResolvConf)
	}
	servers := parseResolvConf(string(data))
	if len(servers) == 0 {
		return nil, fmt.Errorf("dnsprobe: %s: %w: no usable nameserver line", path, ErrNoServers)
	}
	return servers, nil
}

// parseResolvConf returns the normalised nameserver addresses of a
// resolv.conf, in order and without duplicates.
func parseResolvConf(data string) []string {
	var servers []string
	for line := range strings.Lines(data) {
		fields := strings.Fields(line)
		if len(fields) < 2 || fields[0] != "nameserver" {
			continue // also skips comment lines, which start with # or ;
		}
		value := fields[1]
		if i := strings.IndexAny(value, "#;"); i >= 0 {
			value = value[:i]
		}
		s, err := NormalizeServer(value)
		if err != nil {
			continue
		}
		if !slices.Contains(servers, s) {
			servers = append(servers, s)
		}
	}
	return servers
}

// NormalizeServer turns a server given as an IP literal, with or without a
// port ("192.0.2.1", "192.0.2.1:5353", "2001:db8::1", "[2001:db8::1]",
// "[2001:db8::1]:53"), into host:port with port 53 by default and IPv6 in
// brackets. Host names such as "localhost:53" are refused with ErrBadServer:
// resolving them would need DNS, and would hide which server was asked.
func NormalizeServer(s string) (string, error) {
	t := strings.TrimSpace(s)
	if ap, err := netip.ParseAddrPort(t); err == nil {
		if ap.Port() == 0 {
			return "", fmt.Errorf("dnsprobe: server %q: %w: port 0", s, ErrBadServer)
		}
		return ap.String(), nil
	}
	if inner, ok := strings.CutPrefix(t, "["); ok {
		if inner, ok = strings.CutSuffix(inner, "]"); ok {
			if a, err := netip.ParseAddr(inner); err == nil && a.Is6() {
				return netip.AddrPortFrom(a, 53).String(), nil
			}
		}
	} else if a, err := netip.ParseAddr(t); err == nil {
		return netip.AddrPortFrom(a, 53).String(), nil
	}
	return "", fmt.Errorf("dnsprobe: server %q: %w: want an IP address, optionally with :port", s, ErrBadServer)
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
		return "", fmt.Errorf("dnsprobe: name %q: %w: %s", truncate(name, 80), ErrBadName, why)
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

// truncate shortens s for an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
