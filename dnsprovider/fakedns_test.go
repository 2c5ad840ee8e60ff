package dnsprovider

import (
	"cmp"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/stspilot/stspilot/internal/loopback"
)

// fakeZone is a read-only authoritative zone for the in-process servers.
type fakeZone struct {
	apex string
	rrs  []dns.RR
}

func newZone(t testing.TB, apex string, lines ...string) *fakeZone {
	t.Helper()
	z := &fakeZone{apex: dns.Fqdn(apex)}
	for _, l := range append([]string{"@ 3600 IN SOA ns1." + z.apex + " hostmaster." + z.apex + " 1 3600 600 86400 60"}, lines...) {
		rr, err := dns.NewRR("$ORIGIN " + z.apex + "\n" + l)
		if err != nil {
			t.Fatalf("zone line %q: %v", l, err)
		}
		z.rrs = append(z.rrs, rr)
	}
	return z
}

func lowerName(rr dns.RR) string { return strings.ToLower(rr.Header().Name) }

// answer fills m as an authoritative server of z answers req (a referral
// for names below a delegation).
func (z *fakeZone) answer(req, m *dns.Msg) {
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	for _, rr := range z.rrs {
		if ns, ok := rr.(*dns.NS); ok && lowerName(ns) != z.apex && dns.IsSubDomain(lowerName(ns), name) {
			cut := lowerName(ns)
			for _, r := range z.rrs {
				if _, ok := r.(*dns.NS); ok && lowerName(r) == cut {
					m.Ns = append(m.Ns, r)
					m.Extra = append(m.Extra, z.glue(r.(*dns.NS).Ns)...)
				}
			}
			return
		}
	}
	m.Authoritative = true
	exists := false
	for _, rr := range z.rrs {
		owner := lowerName(rr)
		if owner == name {
			exists = true
			if rr.Header().Rrtype == q.Qtype {
				m.Answer = append(m.Answer, dns.Copy(rr))
			}
		} else if dns.IsSubDomain(name, owner) {
			exists = true // empty non-terminal
		}
	}
	if len(m.Answer) > 0 {
		if q.Qtype == dns.TypeNS {
			for _, rr := range m.Answer {
				m.Extra = append(m.Extra, z.glue(rr.(*dns.NS).Ns)...)
			}
		}
		return
	}
	if !exists {
		m.Rcode = dns.RcodeNameError
	}
	m.Ns = []dns.RR{dns.Copy(z.rrs[0])}
}

func (z *fakeZone) glue(ns string) []dns.RR {
	var out []dns.RR
	for _, rr := range z.rrs {
		if lowerName(rr) == strings.ToLower(ns) && (rr.Header().Rrtype == dns.TypeA || rr.Header().Rrtype == dns.TypeAAAA) {
			out = append(out, rr)
		}
	}
	return out
}

// serveZones answers from the zone with the longest apex that holds the
// question, REFUSED when none does.
func serveZones(zones ...*fakeZone) func(*dns.Msg, *dns.Msg) {
	return func(req, m *dns.Msg) {
		var best *fakeZone
		for _, z := range zones {
			if dns.IsSubDomain(z.apex, strings.ToLower(req.Question[0].Name)) && (best == nil || len(z.apex) > len(best.apex)) {
				best = z
			}
		}
		if best == nil {
			m.Rcode = dns.RcodeRefused
			return
		}
		best.answer(req, m)
	}
}

// fakeServer is one address of the in-process DNS world.
type fakeServer struct {
	// fill answers a query; nil: REFUSED.
	fill func(req, m *dns.Msg)
	// delay before answering; truncUDP answers UDP with TC and no records.
	delay    time.Duration
	truncUDP bool
	noAA     bool
	queries  atomic.Int64
	updates  atomic.Int64
}

func (f *fakeServer) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	f.queries.Add(1)
	if req.Opcode == dns.OpcodeUpdate {
		f.updates.Add(1)
	}
	if f.delay > 0 {
		time.Sleep(f.delay)
	}
	m := new(dns.Msg)
	m.SetReply(req)
	_, udp := w.LocalAddr().(*net.UDPAddr)
	switch {
	case len(req.Question) != 1:
		m.Rcode = dns.RcodeFormatError
	case f.truncUDP && udp:
		m.Truncated = true
	case f.fill == nil:
		m.Rcode = dns.RcodeRefused
	default:
		f.fill(req, m)
		if f.noAA {
			m.Authoritative = false
		}
	}
	w.WriteMsg(m)
}

// startServers listens on every address with one shared port (the
// published gate asks every name server on the same port) and serves each
// address with its handler. Addresses that cannot be bound (no IPv6) are
// left out of the returned set.
func startServers(t testing.TB, handlers map[string]*fakeServer) (port string, up map[string]bool) {
	t.Helper()
	addrs := make([]string, 0, len(handlers))
	for a := range handlers {
		addrs = append(addrs, a)
	}
	// IPv4 first: the port is chosen on the first address.
	slices.SortFunc(addrs, func(a, b string) int {
		return cmp.Or(cmp.Compare(strings.Count(a, ":"), strings.Count(b, ":")), cmp.Compare(a, b))
	})
	var hosts []string
	for _, a := range addrs {
		pc, err := net.ListenPacket("udp", net.JoinHostPort(a, "0"))
		if err != nil {
			if strings.Contains(a, ":") {
				continue // no IPv6 here
			}
			t.Fatal(err)
		}
		pc.Close()
		hosts = append(hosts, a)
	}
	pairs, err := loopback.ListenPairs(hosts...)
	if err != nil {
		t.Fatalf("cannot bind the fake DNS servers on one shared port: %v", err)
	}
	up = map[string]bool{}
	for i, p := range pairs {
		h := handlers[hosts[i]]
		us := &dns.Server{PacketConn: p.UDP, Handler: h}
		ts := &dns.Server{Listener: p.TCP, Handler: h}
		var wg sync.WaitGroup
		wg.Add(2)
		us.NotifyStartedFunc = wg.Done
		ts.NotifyStartedFunc = wg.Done
		go us.ActivateAndServe()
		go ts.ActivateAndServe()
		wg.Wait()
		t.Cleanup(func() { us.Shutdown(); ts.Shutdown() })
		up[hosts[i]] = true
	}
	return strconv.Itoa(pairs[0].Port()), up
}
