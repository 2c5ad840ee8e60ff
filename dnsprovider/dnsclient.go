package dnsprovider

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/stspilot/stspilot/internal/dnsclient"
)

// This file is dnsprovider's side of the DNS client, for zone discovery
// ([FindZone]) and the published gate ([WaitPropagated],
// [ReadAuthoritative]): which servers to ask and what to ask them. The
// transport (server addresses, resolv.conf, EDNS0, the TCP retry, reply
// checks) is internal/dnsclient, which checks/dnsprobe shares: dnsprovider
// and checks never import each other.

const (
	// DefaultQueryTimeout bounds one DNS query (one server, UDP and its
	// TCP retry).
	DefaultQueryTimeout = dnsclient.DefaultTimeout
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
	// Servers are recursive resolvers, IP addresses with an optional port
	// (53 when missing), as dnsclient.ParseServer accepts them; empty
	// means the nameserver lines of ResolvConf.
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

// servers returns the recursive resolvers to ask, IP:PORT, and, when they
// are the system's, the resolv.conf's timeout and attempts options (zero
// otherwise).
func (r *Resolver) servers() ([]string, dnsclient.ResolvConf, error) {
	if r != nil && len(r.Servers) > 0 {
		out := make([]string, 0, len(r.Servers))
		for _, s := range r.Servers {
			hp, err := dnsclient.ParseServer(s)
			if err != nil {
				return nil, dnsclient.ResolvConf{}, fmt.Errorf("resolver: %w", err)
			}
			out = append(out, hp)
		}
		return out, dnsclient.ResolvConf{}, nil
	}
	var path string
	if r != nil {
		path = r.ResolvConf
	}
	conf, err := dnsclient.ReadResolvConfOptions(path)
	if err != nil {
		return nil, dnsclient.ResolvConf{}, fmt.Errorf("system resolvers: %w", err)
	}
	return conf.Servers, conf, nil
}

// exchange asks m at server (host:port) with dnsclient.Exchange: over UDP
// with EDNS0, and again over TCP when the answer is truncated, within the
// query timeout and ctx. When ctx is done its error is returned. conf is
// the system resolvers' options when server is one of them: its attempts
// set the UDP tries, and its timeout, when Timeout is not set, the query
// timeout (the per-try timeout times the tries).
func (r *Resolver) exchange(ctx context.Context, m *dns.Msg, server string, conf dnsclient.ResolvConf) (*dns.Msg, error) {
	timeout := r.timeout()
	if t := conf.ExchangeTimeout(); t > 0 && (r == nil || r.Timeout <= 0) {
		timeout = t
	}
	in, err := dnsclient.ExchangeTries(ctx, m, server, timeout, conf.Tries())
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return nil, cerr
		}
		return nil, err
	}
	return in, nil
}

// query asks the recursive resolvers, one after the other until one gives
// an answer that is not SERVFAIL or REFUSED.
func (r *Resolver) query(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	servers, conf, err := r.servers()
	if err != nil {
		return nil, err
	}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.RecursionDesired = true
	var last error
	for _, s := range servers {
		in, err := r.exchange(ctx, m, s, conf)
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
	return r.exchange(ctx, m, netip.AddrPortFrom(addr, uint16(port)).String(), dnsclient.ResolvConf{})
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

// mxSetFrom collects the MX records owned by name in rrs.
func mxSetFrom(name string, rrs []dns.RR) MXSet {
	set := MXSet{Name: Fqdn(name)}
	for _, rr := range rrs {
		if mx, ok := rr.(*dns.MX); ok && strings.EqualFold(Fqdn(mx.Hdr.Name), set.Name) {
			set.Records = append(set.Records, MX{Pref: mx.Preference, Host: Fqdn(mx.Mx)})
			set.TTL = max(set.TTL, time.Duration(mx.Hdr.Ttl)*time.Second)
		}
	}
	sortMX(set.Records)
	return set
}
