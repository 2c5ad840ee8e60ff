package loopback

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Records returns every record at name (a lower-case FQDN), and whether
// questions about name answer SERVFAIL.
type Records func(name string) (rrs []dns.RR, servfail bool)

// DNSConfig shapes an authoritative DNS server.
type DNSConfig struct {
	// Host is the address to listen on; "" = 127.0.0.1.
	Host string
	// Records answers every question (required).
	Records Records
	// Apex, when set, is the zone (FQDN) whose SOA goes into the authority
	// section of negative answers for names inside it.
	Apex string
	// Delay, when set, is waited before every answer (read at each one).
	Delay func() time.Duration
	// UDPReadBuffer, when set, sizes the UDP socket's receive buffer (up
	// to the system's maximum), so that a burst of questions (a benchmark
	// checking hundreds of domains at once) is queued rather than dropped.
	UDPReadBuffer int
}

// DNS is an authoritative DNS server on loopback, over UDP and TCP on one
// port: answers of the record type asked for or a CNAME, NXDOMAIN for a
// name without records, SERVFAIL where Records says so, and over UDP a
// truncated answer (TC set) when it does not fit, so that resolvers
// retry over TCP.
type DNS struct {
	// Addr is host:port of both sockets; Port the port.
	Addr string
	Port int

	udp, tcp *dns.Server
	once     sync.Once
}

// StartDNS binds UDP and TCP on one port (see ListenPair) and serves.
func StartDNS(c DNSConfig) (*DNS, error) {
	if c.Records == nil {
		return nil, fmt.Errorf("loopback: DNS without records")
	}
	host := c.Host
	if host == "" {
		host = "127.0.0.1"
	}
	p, err := ListenPair(host)
	if err != nil {
		return nil, err
	}
	if u, ok := p.UDP.(*net.UDPConn); ok && c.UDPReadBuffer > 0 {
		_ = u.SetReadBuffer(c.UDPReadBuffer)
	}
	h := c.handler()
	d := &DNS{
		Addr: p.Addr(), Port: p.Port(),
		udp: &dns.Server{PacketConn: p.UDP, Handler: h},
		tcp: &dns.Server{Listener: p.TCP, Handler: h, ReadTimeout: 5 * time.Second},
	}
	for _, srv := range []*dns.Server{d.udp, d.tcp} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go func() { _ = srv.ActivateAndServe() }()
		<-started
	}
	return d, nil
}

// Close stops both servers. It is idempotent.
func (d *DNS) Close() {
	d.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = d.udp.ShutdownContext(ctx)
		_ = d.tcp.ShutdownContext(ctx)
	})
}

func (c DNSConfig) handler() dns.Handler {
	apex := strings.ToLower(c.Apex)
	return dns.HandlerFunc(func(rw dns.ResponseWriter, q *dns.Msg) {
		if c.Delay != nil {
			if d := c.Delay(); d > 0 {
				time.Sleep(d)
			}
		}
		m := new(dns.Msg)
		m.SetReply(q)
		m.Authoritative = true
		if len(q.Question) != 1 {
			m.Rcode = dns.RcodeFormatError
			_ = rw.WriteMsg(m)
			return
		}
		qq := q.Question[0]
		name := strings.ToLower(qq.Name)
		rrs, servfail := c.Records(name)
		if servfail {
			m.Rcode = dns.RcodeServerFailure
			_ = rw.WriteMsg(m)
			return
		}
		for _, rr := range rrs {
			t := rr.Header().Rrtype
			if t == qq.Qtype || (t == dns.TypeCNAME && qq.Qtype != dns.TypeCNAME) {
				m.Answer = append(m.Answer, dns.Copy(rr))
			}
		}
		if len(rrs) == 0 {
			m.Rcode = dns.RcodeNameError
		}
		if apex != "" && len(m.Answer) == 0 && dns.IsSubDomain(apex, name) {
			at, _ := c.Records(apex)
			for _, rr := range at {
				if rr.Header().Rrtype == dns.TypeSOA {
					m.Ns = append(m.Ns, dns.Copy(rr))
				}
			}
		}
		size := dns.MinMsgSize
		if opt := q.IsEdns0(); opt != nil {
			m.SetEdns0(opt.UDPSize(), false)
			size = int(opt.UDPSize())
		}
		if _, udp := rw.RemoteAddr().(*net.UDPAddr); udp {
			m.Truncate(size) // sets TC: the client retries over TCP
		}
		_ = rw.WriteMsg(m)
	})
}

// Zone is a mutable set of records for a DNS server, safe for concurrent
// use; its Records method is a Records.
type Zone struct {
	mu       sync.Mutex
	rrs      map[string][]dns.RR // by lower-case FQDN
	servfail map[string]bool
}

// Add adds records in presentation format
// ("_mta-sts.example.test. 300 IN TXT \"v=STSv1; id=1\"").
func (z *Zone) Add(lines ...string) error {
	var parsed []dns.RR
	for _, l := range lines {
		rr, err := dns.NewRR(l)
		if err != nil {
			return fmt.Errorf("loopback: bad record %q: %w", l, err)
		}
		if rr == nil {
			return fmt.Errorf("loopback: no record in %q", l)
		}
		parsed = append(parsed, rr)
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.rrs == nil {
		z.rrs = map[string][]dns.RR{}
	}
	for _, rr := range parsed {
		name := strings.ToLower(rr.Header().Name)
		z.rrs[name] = append(z.rrs[name], rr)
	}
	return nil
}

// Remove deletes every record at name of type t (0: of all types) whose
// presentation form contains data ("": any).
func (z *Zone) Remove(name string, t uint16, data string) {
	z.mu.Lock()
	defer z.mu.Unlock()
	name = strings.ToLower(dns.Fqdn(name))
	var keep []dns.RR
	for _, rr := range z.rrs[name] {
		if (t != 0 && rr.Header().Rrtype != t) || (data != "" && !strings.Contains(rr.String(), data)) {
			keep = append(keep, rr)
		}
	}
	if z.rrs != nil {
		z.rrs[name] = keep
	}
}

// ServFail makes every question about name answer SERVFAIL.
func (z *Zone) ServFail(name string) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.servfail == nil {
		z.servfail = map[string]bool{}
	}
	z.servfail[strings.ToLower(dns.Fqdn(name))] = true
}

// Records returns copies of the records at name (a lower-case FQDN) and
// whether it answers SERVFAIL.
func (z *Zone) Records(name string) ([]dns.RR, bool) {
	z.mu.Lock()
	defer z.mu.Unlock()
	out := make([]dns.RR, 0, len(z.rrs[name]))
	for _, rr := range z.rrs[name] {
		out = append(out, dns.Copy(rr))
	}
	return out, z.servfail[name]
}
