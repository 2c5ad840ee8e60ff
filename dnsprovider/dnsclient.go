package dnsprovider

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// This file is dnsprovider's own small DNS client, for zone discovery
// ([FindZone]) and the published gate ([WaitPropagated],
// [ReadAuthoritative]). It is deliberately separate from checks/dnsprobe:
// dnsprovider and checks never import each other.

const (
	// DefaultQueryTimeout bounds one DNS query (one server, one try).
	DefaultQueryTimeout = 3 * time.Second
	// ednsSize is the EDNS0 UDP payload size we advertise and the size of
	// the UDP read buffer (the DNS flag day 2020 value). Larger answers
	// come back truncated and are asked again over TCP, whose messages the
	// protocol caps at 64 KiB.
	ednsSize = 1232
	// maxResolvConf caps how much of a resolv.conf is read.
	maxResolvConf = 64 << 10
	// defaultResolvConf is read when no resolver is given.
	defaultResolvConf = "/etc/resolv.conf"
	// maxNameServers caps the NS set (and maxAddrsPerNS the addresses of
	// each NS) that the published gate asks: a zone with more is unusual,
	// and each one costs a query per poll.
	maxNameServers = 32
	maxAddrsPerNS  = 16
)

// Resolver asks the DNS questions of zone discovery and of the published
// gate. The zero value uses the system's resolvers and port 53.
// It is safe for concurrent use.
type Resolver struct {
	// Servers are recursive resolvers, host:port (":53" is added when the
	// port is missing); empty means the nameserver lines of ResolvConf.
	Servers []string
	// Port is the DNS port of the authoritative servers the published gate
	// asks directly; "53" when empty.
	Port string
	// Timeout bounds each query; DefaultQueryTimeout when 0. The caller's
	// context bounds the whole operation.
	Timeout time.Duration
	// ResolvConf is the file read when Servers is empty; /etc/resolv.conf
	// when "".
	ResolvConf string
}

// NewResolver returns the resolver a provider Factory gets from env.
func NewResolver(env Env) *Resolver {
	return &Resolver{Servers: slices.Clone(env.Resolvers), Port: env.Port}
}

func (r *Resolver) timeout() time.Duration {
	if r == nil || r.Timeout <= 0 {
		return DefaultQueryTimeout
	}
	return r.Timeout
}

func (r *Resolver) port() string {
	if r == nil || r.Port == "" {
		return "53"
	}
	return r.Port
}

// servers returns the recursive resolvers to ask, host:port.
func (r *Resolver) servers() ([]string, error) {
	if r != nil && len(r.Servers) > 0 {
		out := make([]string, 0, len(r.Servers))
		for _, s := range r.Servers {
			hp, err := hostPort(s, "53")
			if err != nil {
				return nil, fmt.Errorf("resolver %q: %w", s, err)
			}
			out = append(out, hp)
		}
		return out, nil
	}
	path := defaultResolvConf
	if r != nil && r.ResolvConf != "" {
		path = r.ResolvConf
	}
	return readResolvConf(path)
}

// readResolvConf returns the nameserver lines of a resolv.conf as host:port.
func readResolvConf(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("system resolvers: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxResolvConf+1))
	if err != nil {
		return nil, fmt.Errorf("system resolvers: %s: %w", path, err)
	}
	if len(data) > maxResolvConf {
		return nil, fmt.Errorf("system resolvers: %s is larger than %d bytes", path, maxResolvConf)
	}
	var out []string
	for line := range strings.Lines(string(data)) {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "nameserver" {
			continue
		}
		v := f[1]
		if i := strings.IndexAny(v, "#;"); i >= 0 {
			v = v[:i]
		}
		v, _, _ = strings.Cut(v, "%") // fe80::1%eth0: the zone is not ours to dial
		a, err := netip.ParseAddr(v)
		if err != nil {
			continue
		}
		hp := netip.AddrPortFrom(a, 53).String()
		if !slices.Contains(out, hp) {
			out = append(out, hp)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("system resolvers: %s has no usable nameserver line (give --resolver)", path)
	}
	return out, nil
}

// hostPort normalises "host[:port]" to host:port, adding defPort when the
// port is missing; a bare IPv6 address ("::1") or one in brackets ("[::1]")
// is accepted. It never resolves host.
func hostPort(s, defPort string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errors.New("empty address")
	}
	if host, port, err := net.SplitHostPort(s); err == nil {
		if host == "" {
			return "", fmt.Errorf("%q has no host", s)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("%q: the port must be a number from 1 to 65535", s)
		}
		if strings.Contains(host, ":") {
			if _, err := netip.ParseAddr(host); err != nil {
				return "", fmt.Errorf("%q: %q is not an IPv6 address", s, host)
			}
		} else if !validHost(host) {
			return "", fmt.Errorf("%q: %q is not a host name or address", s, host)
		}
		return net.JoinHostPort(host, port), nil
	}
	h := s
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
	}
	if a, err := netip.ParseAddr(h); err == nil && a.Zone() == "" {
		return net.JoinHostPort(a.String(), defPort), nil
	}
	if !validHost(s) {
		return "", fmt.Errorf("%q is not host:port (IPv6 addresses go in brackets: [2001:db8::1]:53)", s)
	}
	return net.JoinHostPort(s, defPort), nil
}

// validHost accepts IPv4 literals and host names of letters, digits,
// hyphens, underscores and dots.
func validHost(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, l := range strings.Split(h, ".") {
		if l == "" || len(l) > 63 {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// exchange sends m to server (host:port) over UDP with EDNS0, and again
// over TCP when the answer is truncated. Each try is bounded by the query
// timeout and by ctx.
func (r *Resolver) exchange(ctx context.Context, m *dns.Msg, server string) (*dns.Msg, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if m.IsEdns0() == nil {
		m.SetEdns0(ednsSize, false)
	}
	in, err := r.try(ctx, "udp", m, server)
	if err == nil && in.Truncated {
		in, err = r.try(ctx, "tcp", m, server)
	}
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return nil, cerr
		}
		return nil, err
	}
	return in, nil
}

func (r *Resolver) try(ctx context.Context, network string, m *dns.Msg, server string) (*dns.Msg, error) {
	qctx, cancel := context.WithTimeout(ctx, r.timeout())
	defer cancel()
	c := &dns.Client{Net: network, UDPSize: ednsSize, Timeout: r.timeout()}
	in, _, err := c.ExchangeContext(qctx, m.Copy(), server)
	if err != nil {
		return nil, err
	}
	if len(in.Question) != 1 || !strings.EqualFold(in.Question[0].Name, m.Question[0].Name) || in.Question[0].Qtype != m.Question[0].Qtype {
		return nil, fmt.Errorf("%s answered another question", server)
	}
	return in, nil
}

// query asks the recursive resolvers, one after the other until one gives
// an answer that is not SERVFAIL or REFUSED.
func (r *Resolver) query(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	servers, err := r.servers()
	if err != nil {
		return nil, err
	}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.RecursionDesired = true
	var last error
	for _, s := range servers {
		in, err := r.exchange(ctx, m, s)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			last = fmt.Errorf("%s %s via %s: %w", dns.TypeToString[qtype], name, s, err)
			continue
		}
		if in.Rcode == dns.RcodeServerFailure || in.Rcode == dns.RcodeRefused {
			last = fmt.Errorf("%s %s via %s: %s", dns.TypeToString[qtype], name, s, dns.RcodeToString[in.Rcode])
			continue
		}
		return in, nil
	}
	return nil, last
}

// queryAuth asks one authoritative server directly, without recursion.
func (r *Resolver) queryAuth(ctx context.Context, addr netip.Addr, name string, qtype uint16) (*dns.Msg, error) {
	port, err := strconv.Atoi(r.port())
	if err != nil || port < 1 || port > 65535 {
		return nil, fmt.Errorf("bad DNS port %q", r.port())
	}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.RecursionDesired = false
	return r.exchange(ctx, m, netip.AddrPortFrom(addr, uint16(port)).String())
}

// txtValue joins the character-strings of a TXT record as miekg/dns holds
// them (escaped presentation form) into the raw value.
func txtValue(t *dns.TXT) string {
	var b strings.Builder
	for _, s := range t.Txt {
		b.WriteString(unescape(s))
	}
	return b.String()
}

// txtSetFrom collects the TXT records owned by name in rrs.
func txtSetFrom(name string, rrs []dns.RR) TXTSet {
	set := TXTSet{Name: Fqdn(name)}
	for _, rr := range rrs {
		t, ok := rr.(*dns.TXT)
		if !ok || !strings.EqualFold(dns.Fqdn(t.Hdr.Name), set.Name) {
			continue
		}
		set.Values = append(set.Values, txtValue(t))
		set.TTL = max(set.TTL, time.Duration(t.Hdr.Ttl)*time.Second)
	}
	slices.Sort(set.Values)
	return set
}
