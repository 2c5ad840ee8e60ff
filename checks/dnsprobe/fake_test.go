package dnsprobe

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/stspilot/stspilot/internal/loopback"
)

// fakeOpts shapes a fake server's behaviour. They are fixed before the
// server starts.
type fakeOpts struct {
	// NoFollow stops answers at the first CNAME, as an authoritative server
	// does when the target is in another zone. By default the fake chases
	// CNAMEs through its own records, as a recursive resolver would.
	NoFollow bool
	// Tweak runs on every reply before it is sent; it may change the reply
	// or block (to delay or to synchronise).
	Tweak func(network string, q dns.Question, m *dns.Msg)
}

// fake is an in-process DNS server on 127.0.0.1, UDP and TCP on the same
// port, answering from a fixed set of records.
type fake struct {
	Addr string
	opts fakeOpts
	zone map[string][]dns.RR // by lower-case FQDN

	mu  sync.Mutex
	log []string // "udp TXT name." per query received
}

// newFake starts a fake serving records given in zone-file syntax.
func newFake(t testing.TB, opts fakeOpts, records ...string) *fake {
	t.Helper()
	f := &fake{opts: opts, zone: map[string][]dns.RR{}}
	for _, s := range records {
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Fatalf("record %q: %v", s, err)
		}
		f.add(rr)
	}
	f.start(t)
	return f
}

func (f *fake) add(rr dns.RR) {
	name := strings.ToLower(rr.Header().Name)
	f.zone[name] = append(f.zone[name], rr)
}

func (f *fake) start(t testing.TB) {
	t.Helper()
	p, err := loopback.ListenPair("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	pc, ln := p.UDP, p.TCP
	f.Addr = pc.LocalAddr().String()
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: f}, {Listener: ln, Handler: f}} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go srv.ActivateAndServe()
		<-started
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			srv.ShutdownContext(ctx)
		})
	}
}

// queries returns the log of questions received so far.
func (f *fake) queries() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.log...)
}

func (f *fake) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	network := w.LocalAddr().Network()
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	if len(r.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		w.WriteMsg(m)
		return
	}
	q := r.Question[0]
	f.mu.Lock()
	f.log = append(f.log, fmt.Sprintf("%s %s %s", network, dns.TypeToString[q.Qtype], q.Name))
	f.mu.Unlock()

	f.answer(m, q)
	if f.opts.Tweak != nil {
		f.opts.Tweak(network, q, m)
	}
	if network == "udp" {
		size := dns.MinMsgSize
		if o := r.IsEdns0(); o != nil {
			size = int(o.UDPSize())
		}
		m.Truncate(size)
	} else {
		m.Compress = true
	}
	w.WriteMsg(m)
}

// answer fills m from the zone: records of the asked type, after CNAMEs
// (chased within the zone for at most 20 hops unless NoFollow), NODATA when
// the name has other records, NXDOMAIN when it has none.
func (f *fake) answer(m *dns.Msg, q dns.Question) {
	name := strings.ToLower(q.Name)
	for range 20 {
		rrs, ok := f.zone[name]
		if !ok {
			m.Rcode = dns.RcodeNameError
			return
		}
		var cname *dns.CNAME
		found := false
		for _, rr := range rrs {
			if rr.Header().Rrtype == q.Qtype {
				m.Answer = append(m.Answer, rr)
				found = true
			} else if c, ok := rr.(*dns.CNAME); ok {
				cname = c
			}
		}
		if found || cname == nil {
			return
		}
		m.Answer = append(m.Answer, cname)
		if f.opts.NoFollow {
			return
		}
		name = strings.ToLower(cname.Target)
	}
}

// blackhole is a UDP socket on 127.0.0.1 that reads queries and never
// answers. Each query received is signalled on got (without blocking).
type blackhole struct {
	Addr string
	got  chan struct{}
}

func newBlackhole(t testing.TB) *blackhole {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &blackhole{Addr: pc.LocalAddr().String(), got: make(chan struct{}, 1)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 512)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
			select {
			case b.got <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() { pc.Close(); <-done })
	return b
}

// closedPort returns a loopback UDP address where nothing listens, so a
// query there fails with "connection refused".
func closedPort(t testing.TB) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	return addr
}
