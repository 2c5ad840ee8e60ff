package dnsclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/stspilot/stspilot/internal/loopback"
)

// server is an in-process DNS server on 127.0.0.1, UDP and TCP on the same
// port. handle answers each query; it may return nil to send nothing.
type server struct {
	addr   string
	handle func(network string, q *dns.Msg) *dns.Msg

	mu  sync.Mutex
	log []string // "udp TXT name. 1232" per query: network, type, name, EDNS size (0 without OPT)
}

func startServer(t *testing.T, handle func(network string, q *dns.Msg) *dns.Msg) *server {
	t.Helper()
	s := &server{handle: handle}
	p, err := loopback.ListenPair("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	pc, ln := p.UDP, p.TCP
	s.addr = pc.LocalAddr().String()
	h := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		network := w.LocalAddr().Network()
		size := 0
		if o := r.IsEdns0(); o != nil {
			size = int(o.UDPSize())
		}
		s.mu.Lock()
		if len(r.Question) == 1 {
			s.log = append(s.log, fmt.Sprintf("%s %s %s %d", network, dns.TypeToString[r.Question[0].Qtype], r.Question[0].Name, size))
		}
		s.mu.Unlock()
		if m := s.handle(network, r); m != nil {
			w.WriteMsg(m)
		}
	})
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: h}, {Listener: ln, Handler: h}} {
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
	return s
}

func (s *server) queries() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log)
}

func query(name string, qtype uint16) *dns.Msg {
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	q.RecursionDesired = true
	return q
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// bigTXT answers with 40 TXT records of 200 octets (about 8 KB): more
// than EDNSSize, so a UDP reply is truncated as a server must (TC set).
func bigTXT(network string, q *dns.Msg) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(q)
	m.Authoritative = true
	for i := range 40 {
		m.Answer = append(m.Answer, &dns.TXT{
			Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60},
			Txt: []string{fmt.Sprintf("%03d", i) + strings.Repeat("x", 197)},
		})
	}
	if network == "udp" {
		size := dns.MinMsgSize
		if o := q.IsEdns0(); o != nil {
			size = int(o.UDPSize())
		}
		m.Truncate(size)
	}
	return m
}

// A UDP reply with TC set is asked again over TCP, and the TCP reply is
// whole; the query advertises EDNSSize; the caller's message is unchanged.
func TestTruncatedReplyRetriedOverTCP(t *testing.T) {
	s := startServer(t, bigTXT)
	q := query("big.example.test.", dns.TypeTXT)
	reply, err := Exchange(testCtx(t), q, s.addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if reply.Truncated || len(reply.Answer) != 40 {
		t.Errorf("reply: TC=%v, %d records; want the whole 40 over TCP", reply.Truncated, len(reply.Answer))
	}
	want := []string{"udp TXT big.example.test. 1232", "tcp TXT big.example.test. 1232"}
	if got := s.queries(); !slices.Equal(got, want) {
		t.Errorf("server saw %q, want %q", got, want)
	}
	if q.IsEdns0() != nil {
		t.Error("Exchange added an OPT record to the caller's message")
	}
}

// A small answer stays on UDP; a query with its own OPT keeps it.
func TestSmallReplyOverUDP(t *testing.T) {
	s := startServer(t, func(network string, q *dns.Msg) *dns.Msg {
		m := new(dns.Msg)
		m.SetReply(q)
		m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(192, 0, 2, 1)}}
		return m
	})
	if _, err := Exchange(testCtx(t), query("a.example.test.", dns.TypeA), s.addr, time.Second); err != nil {
		t.Fatal(err)
	}
	q := query("b.example.test.", dns.TypeA)
	q.SetEdns0(4000, false)
	if _, err := Exchange(testCtx(t), q, s.addr, time.Second); err != nil {
		t.Fatal(err)
	}
	want := []string{"udp A a.example.test. 1232", "udp A b.example.test. 4000"}
	if got := s.queries(); !slices.Equal(got, want) {
		t.Errorf("server saw %q, want %q", got, want)
	}
}

// Replies that do not answer the question match ErrBadReply; a reply
// without a question section is accepted with an error rcode only; any
// rcode comes back as is.
func TestReplyChecks(t *testing.T) {
	for _, tc := range []struct {
		name  string
		tweak func(m *dns.Msg)
		bad   string // "" = accepted
	}{
		{"ok", func(m *dns.Msg) {}, ""},
		{"SERVFAIL is returned, not an error", func(m *dns.Msg) { m.Rcode = dns.RcodeServerFailure }, ""},
		{"REFUSED without question", func(m *dns.Msg) { m.Rcode = dns.RcodeRefused; m.Question = nil }, ""},
		{"NOERROR without question", func(m *dns.Msg) { m.Question = nil }, "no question section"},
		{"QR not set", func(m *dns.Msg) { m.Response = false }, "QR bit not set"},
		{"other opcode", func(m *dns.Msg) { m.Opcode = dns.OpcodeNotify }, "opcode NOTIFY"},
		{"other name", func(m *dns.Msg) { m.Question[0].Name = "other.example.test." }, "reply is for other.example.test."},
		{"other type", func(m *dns.Msg) { m.Question[0].Qtype = dns.TypeMX }, "MX"},
		{"other class", func(m *dns.Msg) { m.Question[0].Qclass = dns.ClassCHAOS }, "CH"},
		{"two questions", func(m *dns.Msg) { m.Question = append(m.Question, m.Question[0]) }, "2 questions"},
		{"name in other case", func(m *dns.Msg) { m.Question[0].Name = "X.Example.TEST." }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, func(network string, q *dns.Msg) *dns.Msg {
				m := new(dns.Msg)
				m.SetReply(q)
				tc.tweak(m)
				return m
			})
			reply, err := Exchange(testCtx(t), query("x.example.test.", dns.TypeTXT), s.addr, time.Second)
			if tc.bad == "" {
				if err != nil {
					t.Fatalf("err = %v, want the reply", err)
				}
				return
			}
			var re *ReplyError
			if !errors.Is(err, ErrBadReply) || !errors.As(err, &re) || !strings.Contains(err.Error(), tc.bad) || reply != nil {
				t.Errorf("reply %v, err = %v; want ErrBadReply saying %q", reply != nil, err, tc.bad)
			}
		})
	}
}

// A reply that does not unpack is a bad reply too, and keeps miekg/dns's
// error.
func TestMalformedReply(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 512)
		n, from, err := pc.ReadFrom(buf)
		if err != nil || n < 12 {
			return
		}
		// The query's ID, QR set, one answer announced, and a name cut
		// short where it should be.
		pc.WriteTo([]byte{buf[0], buf[1], 0x81, 0x80, 0, 0, 0, 1, 0, 0, 0, 0, 3, 'a', 'b'}, from)
	}()
	_, err = Exchange(testCtx(t), query("x.example.test.", dns.TypeA), pc.LocalAddr().String(), time.Second)
	var de *dns.Error
	if !errors.Is(err, ErrBadReply) || !errors.As(err, &de) {
		t.Errorf("err = %v (%T), want ErrBadReply wrapping *dns.Error", err, err)
	}
}

// A server that never answers: the exchange ends at the timeout with an
// error that says so and wraps context.DeadlineExceeded; the caller's own
// deadline gives context.DeadlineExceeded; cancelling ends it at once.
func TestTimeoutAndCancel(t *testing.T) {
	s := startServer(t, func(string, *dns.Msg) *dns.Msg { return nil })

	// The exchange's own timeout, not testCtx's 10 s deadline, ended it:
	// the error names the 200ms (no wall-clock bound, which fails by
	// chance on a loaded machine).
	_, err := Exchange(testCtx(t), query("x.example.test.", dns.TypeA), s.addr, 200*time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no reply within 200ms") {
		t.Errorf("timeout: err = %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	_, err = Exchange(ctx, query("x.example.test.", dns.TypeA), s.addr, 5*time.Second)
	if err != context.DeadlineExceeded {
		t.Errorf("caller's deadline: err = %v, want context.DeadlineExceeded", err)
	}

	// Cancelled, not timed out: an exchange that ignored the cancel would
	// end at its 5 s timeout with DeadlineExceeded instead.
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err = Exchange(ctx, query("x.example.test.", dns.TypeA), s.addr, 5*time.Second)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v, want context.Canceled", err)
	}

	n := len(s.queries())
	if _, err := Exchange(ctx, query("x.example.test.", dns.TypeA), s.addr, time.Second); !errors.Is(err, context.Canceled) {
		t.Errorf("ended context: err = %v, want context.Canceled", err)
	}
	// Each of the three exchanges sent its query (the first two again,
	// unanswered: see TestResendsAnUnansweredQuery); none after the
	// context ended.
	if got := len(s.queries()); got != n || n < 3 {
		t.Errorf("server saw %d queries, then %d after the context ended; want at least 3, then none", n, got)
	}
}

// The TCP retry shares the exchange's timeout: a server that truncates
// over UDP and never answers over TCP costs one timeout, not two.
func TestTCPRetrySharesTheTimeout(t *testing.T) {
	release := make(chan struct{})
	s := startServer(t, func(network string, q *dns.Msg) *dns.Msg {
		if network == "tcp" {
			<-release
			return nil
		}
		return bigTXT(network, q)
	})
	t.Cleanup(func() { close(release) }) // before the server's shutdown, which waits for the handler
	// The exchange's timeout ends it, not testCtx's 10 s deadline.
	_, err := Exchange(testCtx(t), query("big.example.test.", dns.TypeTXT), s.addr, 300*time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no reply within 300ms") {
		t.Errorf("err = %v, want the exchange's timeout", err)
	}
	if got := s.queries(); len(got) != 2 || !strings.HasPrefix(got[1], "tcp ") {
		t.Errorf("server saw %q, want UDP then TCP", got)
	}
}

// Nothing listens: a network error, neither a timeout nor a bad reply.
func TestNetworkError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	q := query("x.example.test.", dns.TypeA)
	q.SetEdns0(EDNSSize, false)
	// UDP to a closed port gives "connection refused" on Linux.
	_, err = Exchange(testCtx(t), q, addr, time.Second)
	if err == nil || errors.Is(err, ErrBadReply) {
		t.Errorf("err = %v, want a network error", err)
	}
}

func TestQueryWithoutOneQuestion(t *testing.T) {
	q := new(dns.Msg)
	if _, err := Exchange(testCtx(t), q, "127.0.0.1:1", time.Second); err == nil {
		t.Error("a query without a question was sent")
	}
}

// answerA answers q with one A record.
func answerA(q *dns.Msg) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(q)
	m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(192, 0, 2, 1)}}
	return m
}

// A UDP query whose first datagram gets no reply is sent again, with the
// same ID, after its share of the timeout, and the reply to the resend is
// the answer; within the caller's deadline too when that is the shorter.
func TestResendsAnUnansweredQuery(t *testing.T) {
	for _, tc := range []struct {
		name     string
		ctx      time.Duration // the caller's deadline
		timeout  time.Duration
		resendBy time.Duration // the resend goes out before this
	}{
		{"the exchange's timeout", 10 * time.Second, 600 * time.Millisecond, 600 * time.Millisecond},
		{"the caller's deadline", 600 * time.Millisecond, 10 * time.Second, 600 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var ids []uint16
			s := startServer(t, func(network string, q *dns.Msg) *dns.Msg {
				mu.Lock()
				defer mu.Unlock()
				ids = append(ids, q.Id)
				if len(ids) == 1 {
					return nil // the first datagram is lost
				}
				return answerA(q)
			})
			ctx, cancel := context.WithTimeout(context.Background(), tc.ctx)
			defer cancel()
			// An answer at all says the resend went out before the
			// deadline (after it the exchange fails); how long it took
			// is not asserted, which would fail by chance under load.
			reply, err := Exchange(ctx, query("a.example.test.", dns.TypeA), s.addr, tc.timeout)
			if err != nil {
				t.Fatalf("err = %v, want the answer to the resent query before %v", err, tc.resendBy)
			}
			if len(reply.Answer) != 1 {
				t.Errorf("reply %v", reply)
			}
			want := []string{"udp A a.example.test. 1232", "udp A a.example.test. 1232"}
			if got := s.queries(); !slices.Equal(got, want) {
				t.Errorf("server saw %q, want %q", got, want)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(ids) != 2 || ids[0] != ids[1] {
				t.Errorf("query IDs %v, want one ID sent twice", ids)
			}
		})
	}
}

// A reply to the first datagram that comes late, after the resend went
// out, is the answer: both carry the same ID.
func TestLateReplyToTheFirstTryCounts(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		var first *dns.Msg
		for range Tries {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			q := new(dns.Msg)
			if q.Unpack(buf[:n]) != nil {
				return
			}
			if first == nil {
				first = q
				continue
			}
			// The resend is here: answer the first datagram only.
			b, _ := answerA(first).Pack()
			pc.WriteTo(b, from)
		}
	}()
	reply, err := Exchange(testCtx(t), query("a.example.test.", dns.TypeA), pc.LocalAddr().String(), 400*time.Millisecond)
	if err != nil || len(reply.Answer) != 1 {
		t.Errorf("reply %v, err = %v; want the late answer", reply, err)
	}
	pc.Close() // ends the server's read when no resend came
	<-done
}

// A server that never answers: every try is sent, the exchange fails at
// its timeout, not later, and leaves no goroutine behind.
func TestNoReplyToAnyTry(t *testing.T) {
	s := startServer(t, func(string, *dns.Msg) *dns.Msg { return nil })
	before := runtime.NumGoroutine()
	start := time.Now()
	_, err := Exchange(testCtx(t), query("x.example.test.", dns.TypeA), s.addr, 300*time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no reply within 300ms") {
		t.Errorf("err = %v, want the exchange's timeout", err)
	}
	// Not before the timeout: a timer never fires early, so this lower
	// bound cannot fail by chance. That it ended at the timeout and not
	// later is the error above (testCtx's 10 s deadline would say so).
	if d := time.Since(start); d < 290*time.Millisecond {
		t.Errorf("took %v, want the 300ms timeout", d)
	}
	if got := len(s.queries()); got != Tries {
		t.Errorf("server saw %d queries, want %d tries", got, Tries)
	}
	// The caller's deadline ends it as well.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := Exchange(ctx, query("x.example.test.", dns.TypeA), s.addr, 5*time.Second); err != context.DeadlineExceeded {
		t.Errorf("caller's deadline: err = %v, want context.DeadlineExceeded", err)
	}
	var after int
	for range 50 {
		if after = runtime.NumGoroutine(); after <= before {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("%d goroutines before the exchanges, %d after", before, after)
}

// ExchangeTries sends an unanswered query the number of times it is told
// (a resolv.conf's attempts:N), bounded to MaxAttempts, within the one
// timeout.
func TestExchangeTries(t *testing.T) {
	for _, tc := range []struct{ tries, want int }{{1, 1}, {3, 3}, {0, Tries}, {-1, Tries}, {99, MaxAttempts}} {
		s := startServer(t, func(string, *dns.Msg) *dns.Msg { return nil })
		_, err := ExchangeTries(testCtx(t), query("x.example.test.", dns.TypeA), s.addr, 500*time.Millisecond, tc.tries)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("tries %d: err = %v, want the exchange's timeout", tc.tries, err)
		}
		if got := len(s.queries()); got != tc.want {
			t.Errorf("tries %d: server saw %d queries, want %d", tc.tries, got, tc.want)
		}
	}
}
