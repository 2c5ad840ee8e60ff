package dnsprobe

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// STS-TXT-3, STS-TXT-4: the strings of each RR come back unjoined, in
// order, one slice per RR, as the octets sent (no presentation escapes).
func TestTXTSeveralStringsAndRRs_STS_TXT_3(t *testing.T) {
	f := newFake(t, fakeOpts{},
		`_mta-sts.example.com. 300 IN TXT "v=STSv1; " "id=20240101"`,
		`_mta-sts.example.com. 60 IN TXT "google-site-verification=abc"`,
		`_mta-sts.example.com. 120 IN TXT "say \"hi\" \\ \195\169" ""`,
	)
	r := &Resolver{Servers: []string{f.Addr}}
	for _, name := range []string{"_mta-sts.example.com", "_MTA-STS.Example.COM."} {
		got, err := r.TXT(testCtx(t), name)
		if err != nil {
			t.Fatalf("TXT(%q): %v", name, err)
		}
		want := [][]string{
			{"v=STSv1; ", "id=20240101"},
			{"google-site-verification=abc"},
			{"say \"hi\" \\ \xc3\xa9", ""},
		}
		if !slices.EqualFunc(got.Records, want, slices.Equal) {
			t.Errorf("TXT(%q).Records = %q, want %q", name, got.Records, want)
		}
		if got.Name != "_mta-sts.example.com" || got.Server != f.Addr || got.TTL != 60 ||
			got.RCode != dns.RcodeSuccess || got.NXDomain || got.Truncated || len(got.Chain) != 0 || len(got.RRs) != 3 {
			t.Errorf("TXT(%q) answer = %+v", name, got.Answer)
		}
	}
}

// STS-TXT-13: `_mta-sts` may be a chain of CNAMEs ending at the TXT record;
// it is followed whether the server chases the chain itself (a resolver) or
// stops at each CNAME (an authoritative server for another zone).
func TestTXTFollowsCNAMEChain_STS_TXT_13(t *testing.T) {
	records := []string{
		`_mta-sts.example.com. 300 IN CNAME _mta-sts.Provider.NET.`,
		`_mta-sts.provider.net. 300 IN CNAME sts.provider.net.`,
		`sts.provider.net. 300 IN TXT "v=STSv1; id=p1"`,
	}
	for _, tc := range []struct {
		name     string
		noFollow bool
		queries  int
	}{
		{"server chases chain", false, 1},
		{"server stops at each CNAME", true, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, fakeOpts{NoFollow: tc.noFollow}, records...)
			r := &Resolver{Servers: []string{f.Addr}}
			got, err := r.TXT(testCtx(t), "_mta-sts.example.com")
			if err != nil {
				t.Fatal(err)
			}
			if want := []string{"_mta-sts.provider.net", "sts.provider.net"}; !slices.Equal(got.Chain, want) {
				t.Errorf("Chain = %q, want %q", got.Chain, want)
			}
			if len(got.Records) != 1 || !slices.Equal(got.Records[0], []string{"v=STSv1; id=p1"}) {
				t.Errorf("Records = %q", got.Records)
			}
			if got.Name != "_mta-sts.example.com" {
				t.Errorf("Name = %q", got.Name)
			}
			if q := f.queries(); len(q) != tc.queries {
				t.Errorf("server saw %d queries %q, want %d", len(q), q, tc.queries)
			}
		})
	}
}

// STS-TXT-13: a CNAME chain that loops, or is longer than MaxCNAMEHops, is
// an error naming the chain, never an endless walk.
func TestCNAMELoop_STS_TXT_13(t *testing.T) {
	long := make([]string, 0, 12)
	for i := range 11 {
		long = append(long, fmt.Sprintf("h%d.example.com. 60 IN CNAME h%d.example.com.", i, i+1))
	}
	long = append(long, `h11.example.com. 60 IN TXT "end"`)
	exact := make([]string, 0, 9)
	for i := range MaxCNAMEHops {
		exact = append(exact, fmt.Sprintf("e%d.example.com. 60 IN CNAME e%d.example.com.", i, i+1))
	}
	exact = append(exact, fmt.Sprintf(`e%d.example.com. 60 IN TXT "end"`, MaxCNAMEHops))

	for _, noFollow := range []bool{false, true} {
		t.Run(fmt.Sprintf("noFollow=%v", noFollow), func(t *testing.T) {
			recs := []string{
				`a.example.com. 60 IN CNAME b.example.com.`,
				`b.example.com. 60 IN CNAME a.example.com.`,
				`self.example.com. 60 IN CNAME self.example.com.`,
			}
			recs = append(recs, long...)
			recs = append(recs, exact...)
			f := newFake(t, fakeOpts{NoFollow: noFollow}, recs...)
			r := &Resolver{Servers: []string{f.Addr}}
			for _, tc := range []struct {
				name, wantMsg string
			}{
				{"a.example.com", "a.example.com -> b.example.com -> a.example.com"},
				{"self.example.com", "self.example.com -> self.example.com"},
				{"h0.example.com", "more than 8 CNAMEs"},
			} {
				got, err := r.TXT(testCtx(t), tc.name)
				if !errors.Is(err, ErrCNAMELoop) {
					t.Errorf("TXT(%s) err = %v, want ErrCNAMELoop", tc.name, err)
					continue
				}
				if !strings.Contains(err.Error(), tc.wantMsg) {
					t.Errorf("TXT(%s) err = %q, want it to contain %q", tc.name, err, tc.wantMsg)
				}
				if len(got.Chain) == 0 || len(got.Chain) > MaxCNAMEHops+1 {
					t.Errorf("TXT(%s) Chain = %q", tc.name, got.Chain)
				}
			}
			// Exactly MaxCNAMEHops hops is still fine.
			got, err := r.TXT(testCtx(t), "e0.example.com")
			if err != nil || len(got.Chain) != MaxCNAMEHops || len(got.Records) != 1 {
				t.Errorf("TXT(e0) = %+v, %v; want %d hops and the record", got, err, MaxCNAMEHops)
			}
		})
	}
}

// NXDOMAIN and NODATA are answers, not errors (STS-TXT-5: no record means
// no policy; the engine needs to tell the two apart).
func TestNXDomainVsNoData_STS_TXT_5(t *testing.T) {
	for _, noFollow := range []bool{false, true} {
		f := newFake(t, fakeOpts{NoFollow: noFollow},
			`example.com. 60 IN A 192.0.2.1`,
			`_mta-sts.alias.com. 60 IN CNAME _mta-sts.gone.net.`,
			`_mta-sts.nodata.com. 60 IN CNAME nodata.net.`,
			`nodata.net. 60 IN A 192.0.2.2`,
		)
		r := &Resolver{Servers: []string{f.Addr}}
		for _, tc := range []struct {
			name   string
			nx     bool
			rcode  int
			chain  []string
			server string
		}{
			{"_mta-sts.example.com", true, dns.RcodeNameError, nil, f.Addr},
			{"example.com", false, dns.RcodeSuccess, nil, f.Addr},
			{"_mta-sts.alias.com", true, dns.RcodeNameError, []string{"_mta-sts.gone.net"}, f.Addr},
			{"_mta-sts.nodata.com", false, dns.RcodeSuccess, []string{"nodata.net"}, f.Addr},
		} {
			got, err := r.TXT(testCtx(t), tc.name)
			if err != nil {
				t.Errorf("noFollow=%v TXT(%s): %v", noFollow, tc.name, err)
				continue
			}
			if got.NXDomain != tc.nx || got.RCode != tc.rcode || len(got.RRs) != 0 || len(got.Records) != 0 ||
				!slices.Equal(got.Chain, tc.chain) || got.Server != tc.server || got.TTL != 0 {
				t.Errorf("noFollow=%v TXT(%s) = %+v, want NXDomain=%v RCode=%d Chain=%q",
					noFollow, tc.name, got, tc.nx, tc.rcode, tc.chain)
			}
		}
	}
}

// A failing first server is skipped for the next one, whatever the failure.
func TestFallbackToNextServer(t *testing.T) {
	good := newFake(t, fakeOpts{}, `_smtp._tls.example.com. 60 IN TXT "v=TLSRPTv1; rua=mailto:r@example.com"`)
	rcode := func(rc int) fakeOpts {
		return fakeOpts{Tweak: func(_ string, _ dns.Question, m *dns.Msg) { m.Answer, m.Rcode = nil, rc }}
	}
	for _, tc := range []struct {
		name  string
		first func(t *testing.T) string
		kind  error
		rcode RCode
	}{
		{"SERVFAIL", func(t *testing.T) string { return newFake(t, rcode(dns.RcodeServerFailure)).Addr }, ErrServFail, dns.RcodeServerFailure},
		{"REFUSED", func(t *testing.T) string { return newFake(t, rcode(dns.RcodeRefused)).Addr }, ErrRefused, dns.RcodeRefused},
		{"NOTIMP", func(t *testing.T) string { return newFake(t, rcode(dns.RcodeNotImplemented)).Addr }, ErrRCode, dns.RcodeNotImplemented},
		{"REFUSED without question", func(t *testing.T) string {
			return newFake(t, fakeOpts{Tweak: func(_ string, _ dns.Question, m *dns.Msg) {
				m.Question, m.Answer, m.Rcode = nil, nil, dns.RcodeRefused
			}}).Addr
		}, ErrRefused, dns.RcodeRefused},
		{"reply for another name", func(t *testing.T) string {
			return newFake(t, fakeOpts{Tweak: func(_ string, _ dns.Question, m *dns.Msg) {
				m.Question[0].Name = "evil.example."
			}}).Addr
		}, ErrBadReply, 0},
		{"reply for another type", func(t *testing.T) string {
			return newFake(t, fakeOpts{Tweak: func(_ string, _ dns.Question, m *dns.Msg) {
				m.Question[0].Qtype = dns.TypeA
			}}).Addr
		}, ErrBadReply, 0},
		{"NOERROR without question", func(t *testing.T) string {
			return newFake(t, fakeOpts{Tweak: func(_ string, _ dns.Question, m *dns.Msg) { m.Question = nil }}).Addr
		}, ErrBadReply, 0},
		{"connection refused", func(t *testing.T) string { return closedPort(t) }, ErrNetwork, 0},
		{"never answers", func(t *testing.T) string { return newBlackhole(t).Addr }, ErrTimeout, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			first := tc.first(t)
			r := &Resolver{Servers: []string{first, good.Addr}, PerQuery: 500 * time.Millisecond}
			got, err := r.TXT(testCtx(t), "_smtp._tls.example.com")
			if err != nil {
				t.Fatalf("TXT: %v", err)
			}
			if got.Server != good.Addr || len(got.Records) != 1 {
				t.Errorf("answer = %+v, want the record from %s", got, good.Addr)
			}

			// Alone, the first server's failure is reported, classified,
			// naming the question and the server.
			r.Servers = r.Servers[:1]
			_, err = r.TXT(testCtx(t), "_smtp._tls.example.com.")
			var se *ServerError
			if !errors.Is(err, tc.kind) || !errors.As(err, &se) {
				t.Fatalf("alone: err = %v, want %v as *ServerError", err, tc.kind)
			}
			if se.Server != first || se.Name != "_smtp._tls.example.com" || se.Type != dns.TypeTXT || se.RCode != tc.rcode {
				t.Errorf("alone: ServerError = %+v", se)
			}
			if msg := err.Error(); !strings.Contains(msg, first) || !strings.Contains(msg, "TXT _smtp._tls.example.com") {
				t.Errorf("alone: message %q does not name the question and server", msg)
			}
		})
	}
}

// When every server fails, the error lists each one and matches each kind.
func TestAllServersFail(t *testing.T) {
	sf := newFake(t, fakeOpts{Tweak: func(_ string, _ dns.Question, m *dns.Msg) { m.Rcode = dns.RcodeServerFailure }})
	ref := newFake(t, fakeOpts{Tweak: func(_ string, _ dns.Question, m *dns.Msg) { m.Rcode = dns.RcodeRefused }})
	r := &Resolver{Servers: []string{sf.Addr, ref.Addr}}
	got, err := r.MX(testCtx(t), "example.com")
	var qe *QueryError
	if !errors.As(err, &qe) || len(qe.Errors) != 2 || !errors.Is(err, ErrServFail) || !errors.Is(err, ErrRefused) || errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %#v, want a QueryError with SERVFAIL then REFUSED", err)
	}
	if qe.Errors[0].Server != sf.Addr || qe.Errors[1].Server != ref.Addr {
		t.Errorf("servers in error = %s, %s", qe.Errors[0].Server, qe.Errors[1].Server)
	}
	for _, s := range []string{"MX example.com", sf.Addr, ref.Addr, "SERVFAIL", "REFUSED"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("message %q lacks %q", err, s)
		}
	}
	if got.Name != "example.com" || len(got.MX) != 0 {
		t.Errorf("answer on error = %+v", got)
	}
}

// A server that never answers costs no more than the context allows: the
// lookup ends with ErrTimeout naming the server, not a hang.
func TestTimeoutWithinContextDeadline(t *testing.T) {
	bh := newBlackhole(t)
	r := &Resolver{Servers: []string{bh.Addr}, PerQuery: time.Hour}
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	_, err := r.Query(ctx, "example.com", dns.TypeA)
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrTimeout and context.DeadlineExceeded", err)
	}
	if !strings.Contains(err.Error(), bh.Addr) || !strings.Contains(err.Error(), "A example.com") {
		t.Errorf("message %q does not name the server and question", err)
	}
}

// Cancelling the context ends a blocked read at once, even with no deadline
// anywhere (a regression would hang this test until go test's timeout).
func TestCancelEndsBlockedRead(t *testing.T) {
	bh := newBlackhole(t)
	r := &Resolver{Servers: []string{bh.Addr, bh.Addr}, PerQuery: time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-bh.got; cancel() }()
	_, err := r.Query(ctx, "example.com", dns.TypeA)
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want context.Canceled and not ErrTimeout", err)
	}
	var qe *QueryError
	if errors.As(err, &qe) {
		t.Errorf("err = %v: tried the second server after cancellation", err)
	}
}

// A UDP reply with TC set is asked again over TCP: a 50 KB TXT RRset comes
// back whole.
func TestTruncatedUDPRetriedOverTCP(t *testing.T) {
	var recs []string
	var want [][]string
	for i := range 200 {
		s := fmt.Sprintf("%03d%s", i, strings.Repeat("x", 247))
		recs = append(recs, fmt.Sprintf(`big.example.com. 60 IN TXT "%s"`, s))
		want = append(want, []string{s})
	}
	f := newFake(t, fakeOpts{}, recs...)
	r := &Resolver{Servers: []string{f.Addr}}
	got, err := r.TXT(testCtx(t), "big.example.com")
	if err != nil {
		t.Fatal(err)
	}
	if got.Truncated || !slices.EqualFunc(got.Records, want, slices.Equal) {
		t.Errorf("got %d records (Truncated=%v), want all 200 in order", len(got.Records), got.Truncated)
	}
	if q := f.queries(); !slices.Equal(q, []string{"udp TXT big.example.com.", "tcp TXT big.example.com."}) {
		t.Errorf("server saw %q, want UDP then TCP", q)
	}
}

// MaxRRs caps what is kept, and Truncated says so; MX records come back
// sorted by preference then host, the null MX (RFC 7505) as "".
func TestMaxRRsCap(t *testing.T) {
	var recs []string
	for i := range 2000 {
		recs = append(recs, fmt.Sprintf("many.example.com. %d IN MX %d mx%04d.example.com.", 100+i, 2000-i, i))
	}
	recs = append(recs,
		`five.example.com. 300 IN A 192.0.2.1`,
		`five.example.com. 200 IN A 192.0.2.2`,
		`five.example.com. 100 IN A 192.0.2.3`,
		`five.example.com. 50 IN A 192.0.2.4`,
		`five.example.com. 10 IN A 192.0.2.5`,
		`sorted.example.com. 60 IN MX 20 B.example.com.`,
		`sorted.example.com. 60 IN MX 10 c.example.com.`,
		`sorted.example.com. 60 IN MX 20 a.example.com.`,
		`null.example.com. 60 IN MX 0 .`,
	)
	f := newFake(t, fakeOpts{}, recs...)

	r := &Resolver{Servers: []string{f.Addr}}
	many, err := r.MX(testCtx(t), "many.example.com")
	if err != nil {
		t.Fatal(err)
	}
	if !many.Truncated || len(many.RRs) != DefaultMaxRRs || len(many.MX) != DefaultMaxRRs {
		t.Errorf("many: Truncated=%v, %d RRs, %d MX; want true, %d", many.Truncated, len(many.RRs), len(many.MX), DefaultMaxRRs)
	}
	// The first 1000 in answer order are kept, then sorted.
	if len(many.MX) > 0 && (many.MX[0] != MX{"mx0999.example.com", 1001} || many.TTL != 100) {
		t.Errorf("many: first MX %+v, TTL %d", many.MX[0], many.TTL)
	}
	if q := f.queries(); len(q) != 2 || !strings.HasPrefix(q[1], "tcp") {
		t.Errorf("many: server saw %q, want a TCP retry", q)
	}

	r.MaxRRs = 3
	five, err := r.Query(testCtx(t), "five.example.com", dns.TypeA)
	if err != nil {
		t.Fatal(err)
	}
	if !five.Truncated || len(five.RRs) != 3 || five.TTL != 100 {
		t.Errorf("five: Truncated=%v, %d RRs, TTL %d; want true, 3, 100", five.Truncated, len(five.RRs), five.TTL)
	}
	sorted, err := r.MX(testCtx(t), "sorted.example.com")
	if err != nil {
		t.Fatal(err)
	}
	if want := []MX{{"c.example.com", 10}, {"a.example.com", 20}, {"b.example.com", 20}}; sorted.Truncated || !slices.Equal(sorted.MX, want) {
		t.Errorf("sorted: %+v (Truncated=%v), want %+v", sorted.MX, sorted.Truncated, want)
	}
	null, err := r.MX(testCtx(t), "null.example.com")
	if err != nil || !slices.Equal(null.MX, []MX{{"", 0}}) {
		t.Errorf("null MX: %+v, %v; want one MX with Host \"\"", null.MX, err)
	}
}

// A and AAAA are asked together: the fake holds each question until the
// other one has arrived, so a sequential implementation never sees both
// (the 10 s guard only keeps a regression from hanging).
func TestAddrsAskA_AAAATogether(t *testing.T) {
	var (
		mu      sync.Mutex
		arrived = map[uint16]chan struct{}{dns.TypeA: make(chan struct{}), dns.TypeAAAA: make(chan struct{})}
		overlap = map[uint16]bool{}
	)
	other := map[uint16]uint16{dns.TypeA: dns.TypeAAAA, dns.TypeAAAA: dns.TypeA}
	tweak := func(_ string, q dns.Question, _ *dns.Msg) {
		if q.Name != "mx.example.com." {
			return
		}
		mu.Lock()
		select {
		case <-arrived[q.Qtype]:
		default:
			close(arrived[q.Qtype])
		}
		mu.Unlock()
		select {
		case <-arrived[other[q.Qtype]]:
			mu.Lock()
			overlap[q.Qtype] = true
			mu.Unlock()
		case <-time.After(10 * time.Second):
		}
	}
	f := newFake(t, fakeOpts{Tweak: tweak},
		`mx.example.com. 60 IN CNAME host.example.net.`,
		`host.example.net. 60 IN A 192.0.2.1`,
		`host.example.net. 60 IN A 192.0.2.2`,
		`host.example.net. 60 IN AAAA 2001:db8::1`,
		`v4only.example.com. 60 IN A 198.51.100.1`,
	)
	r := &Resolver{Servers: []string{f.Addr}, PerQuery: 20 * time.Second}
	got := r.Addrs(testCtx(t), "MX.example.com.")
	want := []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("2001:db8::1")}
	if got.ErrA != nil || got.ErrAAAA != nil || !slices.Equal(got.Addrs, want) ||
		got.Name != "mx.example.com" || !slices.Equal(got.Chain, []string{"host.example.net"}) || got.NXDomain {
		t.Errorf("Addrs = %+v, want %v", got, want)
	}
	mu.Lock()
	if !overlap[dns.TypeA] || !overlap[dns.TypeAAAA] {
		t.Errorf("A and AAAA were not in flight together: %v", overlap)
	}
	mu.Unlock()

	if got := r.Addrs(testCtx(t), "v4only.example.com"); got.ErrA != nil || got.ErrAAAA != nil ||
		!slices.Equal(got.Addrs, []netip.Addr{netip.MustParseAddr("198.51.100.1")}) || got.NXDomain {
		t.Errorf("v4only: %+v", got)
	}
	if got := r.Addrs(testCtx(t), "missing.example.com"); got.ErrA != nil || !got.NXDomain || len(got.Addrs) != 0 {
		t.Errorf("missing: %+v, want NXDomain", got)
	}
}

// One family failing leaves the other's addresses.
func TestAddrsOneFamilyFails(t *testing.T) {
	f := newFake(t, fakeOpts{Tweak: func(_ string, q dns.Question, m *dns.Msg) {
		if q.Qtype == dns.TypeAAAA {
			m.Answer, m.Rcode = nil, dns.RcodeServerFailure
		}
	}}, `h.example.com. 60 IN A 192.0.2.1`, `h.example.com. 60 IN AAAA 2001:db8::1`)
	r := &Resolver{Servers: []string{f.Addr}}
	got := r.Addrs(testCtx(t), "h.example.com")
	if got.ErrA != nil || !errors.Is(got.ErrAAAA, ErrServFail) || !slices.Equal(got.Addrs, []netip.Addr{netip.MustParseAddr("192.0.2.1")}) {
		t.Errorf("Addrs = %+v", got)
	}
}

// OPS-2, RFC 2181 §10.3: an MX target that is a CNAME is flagged, with its
// target; a plain host is not.
func TestCNAMETargetFlagsAliasMX_OPS_2(t *testing.T) {
	records := []string{
		`example.com. 60 IN MX 10 mx1.example.com.`,
		`example.com. 60 IN MX 20 mx2.example.com.`,
		`mx1.example.com. 60 IN CNAME Mail.Provider.net.`,
		`mail.provider.net. 60 IN A 192.0.2.1`,
		`mx2.example.com. 60 IN A 192.0.2.2`,
	}
	poorCNAME := func(_ string, q dns.Question, m *dns.Msg) {
		if q.Qtype == dns.TypeCNAME { // a resolver that answers CNAME questions badly
			m.Answer, m.Rcode = nil, dns.RcodeNotImplemented
		}
	}
	for _, tc := range []struct {
		name string
		opts fakeOpts
	}{
		{"resolver", fakeOpts{}},
		{"authoritative", fakeOpts{NoFollow: true}},
		{"CNAME question unanswered, seen in A answer", fakeOpts{Tweak: poorCNAME}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, tc.opts, records...)
			r := &Resolver{Servers: []string{f.Addr}}
			mx, err := r.MX(testCtx(t), "example.com")
			if err != nil || len(mx.MX) != 2 {
				t.Fatalf("MX = %+v, %v", mx, err)
			}
			want := map[string]string{"mx1.example.com": "mail.provider.net", "mx2.example.com": ""}
			for _, m := range mx.MX {
				target, ok, err := r.CNAMETarget(testCtx(t), m.Host)
				if err != nil || ok != (want[m.Host] != "") || target != want[m.Host] {
					t.Errorf("CNAMETarget(%s) = %q, %v, %v; want %q", m.Host, target, ok, err, want[m.Host])
				}
				// The same from the address lookup's answer and a lone
				// CNAME question, as the check asks them (no question twice).
				target, ok = r.Addrs(testCtx(t), m.Host).AliasOf()
				if !ok {
					target, ok, _ = r.CNAME(testCtx(t), m.Host)
				}
				if ok != (want[m.Host] != "") || target != want[m.Host] {
					t.Errorf("AliasOf, CNAME(%s) = %q, %v; want %q", m.Host, target, ok, want[m.Host])
				}
			}
		})
	}
	t.Run("both questions fail", func(t *testing.T) {
		f := newFake(t, fakeOpts{Tweak: func(_ string, _ dns.Question, m *dns.Msg) { m.Rcode = dns.RcodeRefused }}, records...)
		r := &Resolver{Servers: []string{f.Addr}}
		if _, ok, err := r.CNAMETarget(testCtx(t), "mx1.example.com"); ok || !errors.Is(err, ErrRefused) {
			t.Errorf("CNAMETarget = %v, %v; want ErrRefused", ok, err)
		}
	})
}

// Names are checked before any network traffic.
func TestBadNamesRejectedWithoutNetwork(t *testing.T) {
	f := newFake(t, fakeOpts{})
	r := &Resolver{Servers: []string{f.Addr}}
	label63 := strings.Repeat("a", 63)
	name253 := strings.Join([]string{label63, label63, label63, strings.Repeat("b", 61)}, ".")
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{name253, true},
		{name253 + ".", true},
		{name253 + "b", false}, // 254 octets
		{label63 + ".example.com", true},
		{label63 + "a.example.com", false},
		{"", false},
		{".", false},
		{"a..example.com", false},
		{".example.com", false},
		{"example.com..", false},
		{"exa mple.com", false},
		{"ex\\065mple.com", false},
		{"bücher.example", false},
		{"exa\x00mple.com", false},
	} {
		_, err := r.Query(testCtx(t), tc.name, dns.TypeTXT)
		if tc.ok {
			if err != nil {
				t.Errorf("Query(%q): %v", tc.name, err)
			}
			continue
		}
		if !errors.Is(err, ErrBadName) {
			t.Errorf("Query(%q) err = %v, want ErrBadName", tc.name, err)
		}
		if _, _, err := r.CNAMETarget(testCtx(t), tc.name); !errors.Is(err, ErrBadName) {
			t.Errorf("CNAMETarget(%q) err = %v, want ErrBadName", tc.name, err)
		}
		if got := r.Addrs(testCtx(t), tc.name); !errors.Is(got.ErrA, ErrBadName) || !errors.Is(got.ErrAAAA, ErrBadName) {
			t.Errorf("Addrs(%q) = %+v, want ErrBadName", tc.name, got)
		}
	}
	if q := f.queries(); len(q) != 3 {
		t.Errorf("server saw %d queries %q, want only the 3 valid names", len(q), q)
	}
}

func TestServerConfigErrors(t *testing.T) {
	if _, err := (&Resolver{}).Query(testCtx(t), "example.com", dns.TypeA); !errors.Is(err, ErrNoServers) {
		t.Errorf("no servers: err = %v, want ErrNoServers", err)
	}
	if _, _, err := (&Resolver{}).CNAMETarget(testCtx(t), "example.com"); !errors.Is(err, ErrNoServers) {
		t.Errorf("CNAMETarget, no servers: err = %v, want ErrNoServers", err)
	}
	f := newFake(t, fakeOpts{}, `example.com. 60 IN A 192.0.2.1`)
	if got, err := (&Resolver{Servers: []string{" " + f.Addr + " "}}).Query(testCtx(t), "example.com", dns.TypeA); err != nil || got.Server != f.Addr {
		t.Errorf("server with spaces: Server = %q, %v; want it normalised to %q", got.Server, err, f.Addr)
	}
	r := &Resolver{Servers: []string{"127.0.0.1:53", "localhost:53"}}
	if _, err := r.Query(testCtx(t), "example.com", dns.TypeA); !errors.Is(err, ErrBadServer) || !strings.Contains(err.Error(), "localhost:53") {
		t.Errorf("host name as server: err = %v, want ErrBadServer naming it", err)
	}
}

func TestRCodeString(t *testing.T) {
	for c, want := range map[RCode]string{dns.RcodeServerFailure: "SERVFAIL", dns.RcodeNameError: "NXDOMAIN", 4000: "RCODE4000"} {
		if got := c.String(); got != want {
			t.Errorf("RCode(%d).String() = %q, want %q", int(c), got, want)
		}
	}
}
