package dnsprovider

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

const (
	oldSTS = "v=STSv1; id=20240101000000oldoldol;"
	newSTS = "v=STSv1; id=20261129000000newnewne;"
)

// exampleZone is example.test with two name servers: ns1 with glue
// (127.0.0.2 and ::1), ns2 without (its address, 127.0.0.3, is in the
// zone but only found by asking A ns2.example.test), and a child zone
// sub.example.test delegated to ns.sub.example.test with glue.
func exampleZone(t testing.TB, sts string, extraNS ...string) *fakeZone {
	lines := []string{
		"@ 3600 IN NS ns1.example.test.",
		"@ 3600 IN NS ns2.example.test.",
		"ns1 3600 IN A 127.0.0.2",
		"ns1 3600 IN AAAA ::1",
		"ns2 3600 IN A 127.0.0.3",
		"@ 300 IN MX 10 mx1.example.test.",
		"fresh 300 IN MX 10 mx1.example.test.",
		`_mta-sts 600 IN TXT "` + sts + `"`,
		`_mta-sts 600 IN TXT "google-site-verification=abc"`,
		"sub 3600 IN NS ns.sub.example.test.",
		"ns.sub 3600 IN A 127.0.0.9",
	}
	return newZone(t, "example.test", append(lines, extraNS...)...)
}

func subZone(t *testing.T) *fakeZone {
	return newZone(t, "sub.example.test",
		"@ 3600 IN NS ns.sub.example.test.",
		"ns 3600 IN A 127.0.0.9",
		`_mta-sts 300 IN TXT "v=STSv1; id=sub1;"`,
	)
}

func TestFindZone(t *testing.T) {
	parent, child := exampleZone(t, oldSTS), subZone(t)
	// 127.0.0.1: a resolver that knows both zones (what a recursive
	// resolver shows); 127.0.0.6: only the parent, non-recursive, so a
	// child name gets a referral; 127.0.0.7: strips the authority section
	// (some stub resolvers do), so FindZone must walk up.
	stripped := serveZones(parent, child)
	port, _ := startServers(t, map[string]*fakeServer{
		"127.0.0.1": {fill: serveZones(parent, child)},
		"127.0.0.6": {fill: serveZones(parent)},
		"127.0.0.7": {fill: func(req, m *dns.Msg) { stripped(req, m); m.Ns = nil }},
	})
	cases := []struct {
		resolver, name, want string
	}{
		{"127.0.0.1", "example.test", "example.test."},
		{"127.0.0.1", "EXAMPLE.test.", "example.test."},
		{"127.0.0.1", "_mta-sts.example.test", "example.test."},         // exists, no SOA there
		{"127.0.0.1", "_mta-sts.fresh.example.test", "example.test."},   // NXDOMAIN
		{"127.0.0.1", "deep.er.nothing.example.test", "example.test."},  // NXDOMAIN, several labels
		{"127.0.0.1", "_mta-sts.sub.example.test", "sub.example.test."}, // delegated child
		{"127.0.0.1", "sub.example.test", "sub.example.test."},          // the child's apex
		{"127.0.0.6", "_mta-sts.sub.example.test", "sub.example.test."}, // referral
		{"127.0.0.7", "_mta-sts.fresh.example.test", "example.test."},   // walk up
		{"127.0.0.7", "_mta-sts.sub.example.test", "sub.example.test."}, // walk up into the child
	}
	for _, c := range cases {
		t.Run(c.resolver+"/"+c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			q := &Resolver{Servers: []string{c.resolver + ":" + port}, Timeout: time.Second}
			got, err := FindZone(ctx, q, c.name)
			if err != nil || got != c.want {
				t.Errorf("FindZone(%s) = %q, %v; want %q", c.name, got, err, c.want)
			}
		})
	}
	t.Run("unknown", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		q := &Resolver{Servers: []string{"127.0.0.1:" + port}, Timeout: time.Second}
		if z, err := FindZone(ctx, q, "mail.nowhere.invalid"); err == nil {
			t.Errorf("FindZone of a name no server knows = %q, want an error", z)
		}
	})
	t.Run("bad name", func(t *testing.T) {
		if _, err := FindZone(context.Background(), &Resolver{Servers: []string{"127.0.0.1:" + port}}, "a..b"); err == nil {
			t.Error("FindZone accepted a..b")
		}
	})
}

// world starts a resolver (127.0.0.1) and the name servers of example.test:
// ns1 at 127.0.0.2 and ::1, ns2 at 127.0.0.3; servers overrides handlers.
func world(t *testing.T, zone *fakeZone, servers map[string]*fakeServer) (*Resolver, map[string]bool) {
	t.Helper()
	h := map[string]*fakeServer{
		"127.0.0.1": {fill: serveZones(zone)},
		"127.0.0.2": {fill: serveZones(zone)},
		"::1":       {fill: serveZones(zone)},
		"127.0.0.3": {fill: serveZones(zone)},
	}
	for a, s := range servers {
		h[a] = s
	}
	port, up := startServers(t, h)
	if !up["::1"] {
		t.Log("no IPv6 loopback here: ::1 left out")
	}
	return &Resolver{Servers: []string{"127.0.0.1:" + port}, Port: port, Timeout: time.Second}, up
}

func wantValue(v string) func(TXTSet) bool {
	return func(s TXTSet) bool { return slices.Contains(s.Ours(KindSTS), v) && len(s.Ours(KindSTS)) == 1 }
}

func addrsOf(r Result) []string {
	var out []string
	for _, s := range r.Servers {
		out = append(out, s.NS+" "+s.Addr.String()+" "+string(s.State))
	}
	return out
}

// TestReadAuthoritativeEveryAddress: every address of every NS is asked,
// from glue (ns1, v4 and v6) and by resolution (ns2), and each answer is
// the authoritative RRset with its TTL.
func TestReadAuthoritativeEveryAddress(t *testing.T) {
	q, up := world(t, exampleZone(t, newSTS), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := ReadAuthoritative(ctx, q, "example.test", "_mta-sts.example.test", wantValue(newSTS))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"ns1.example.test. 127.0.0.2 ok", "ns2.example.test. 127.0.0.3 ok"}
	if up["::1"] {
		want = []string{"ns1.example.test. 127.0.0.2 ok", "ns1.example.test. ::1 ok", "ns2.example.test. 127.0.0.3 ok"}
	}
	if got := addrsOf(res); !slices.Equal(got, want) {
		t.Errorf("servers = %q, want %q", got, want)
	}
	if !res.Done() {
		t.Errorf("not done: %s", res.Summary())
	}
	for _, s := range res.Servers {
		if !slices.Equal(s.Answer.Values, []string{"google-site-verification=abc", newSTS}) || s.Answer.TTL != 600*time.Second || s.Rcode != "NOERROR" {
			t.Errorf("%s answered %s (%s)", s.Key(), s.Answer, s.Rcode)
		}
	}
	set, ok := res.Answer()
	if !ok || !slices.Contains(set.Values, newSTS) {
		t.Errorf("Answer() = %s, %v", set, ok)
	}
	// A nil want accepts any authoritative answer, also NXDOMAIN.
	res, err = ReadAuthoritative(ctx, q, "example.test", "_mta-sts.fresh.example.test", nil)
	if err != nil || !res.Done() || res.Servers[0].Rcode != "NXDOMAIN" || len(res.Servers[0].Answer.Values) != 0 {
		t.Errorf("fresh: %s %v", res.Summary(), err)
	}
	if _, err := ReadAuthoritative(ctx, q, "example.test", "_mta-sts.elsewhere.test", nil); err == nil {
		t.Error("a name outside the zone was accepted")
	}
}

// immediate is an After that fires at once and records the interval asked.
func immediate(asked *atomic.Int64) func(time.Duration) <-chan time.Time {
	return func(d time.Duration) <-chan time.Time {
		asked.Store(int64(d))
		c := make(chan time.Time, 1)
		c <- time.Now()
		return c
	}
}

// TestWaitPropagatedOldThenNew: ns2 answers the old record for its first
// two queries, then the new one; the wait ends when every address serves
// the new record, reports each change through Progress, and remembers the
// old record's TTL (the risk window).
func TestWaitPropagatedOldThenNew(t *testing.T) {
	oldZ, newZ := exampleZone(t, oldSTS), exampleZone(t, newSTS)
	var n atomic.Int64
	lagging := &fakeServer{fill: func(req, m *dns.Msg) {
		if req.Question[0].Qtype == dns.TypeTXT && n.Add(1) <= 2 {
			serveZones(oldZ)(req, m)
			m.Answer[0].Header().Ttl = 7200 // the old record had a long TTL
			return
		}
		serveZones(newZ)(req, m)
	}}
	q, _ := world(t, newZ, map[string]*fakeServer{"127.0.0.3": lagging})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var asked atomic.Int64
	var seen []string
	res, err := WaitPropagated(ctx, PropagationOptions{
		Resolver: q, Interval: 250 * time.Millisecond, After: immediate(&asked),
		Progress: func(s ServerStatus) { seen = append(seen, s.NS+" "+string(s.State)) },
	}, "example.test.", "_mta-sts.example.test.", wantValue(newSTS))
	if err != nil {
		t.Fatalf("WaitPropagated: %v", err)
	}
	if !res.Done() || res.Polls != 3 {
		t.Errorf("done=%v polls=%d, want done after 3 polls: %s", res.Done(), res.Polls, res.Summary())
	}
	if res.OldTTL != 2*time.Hour {
		t.Errorf("OldTTL = %s, want 2h (the TTL of the record replaced)", res.OldTTL)
	}
	if time.Duration(asked.Load()) != 250*time.Millisecond {
		t.Errorf("waited %s between polls, want the Interval 250ms", time.Duration(asked.Load()))
	}
	// ns2 reported mismatch once (not again while unchanged), then ok.
	var ns2 []string
	for _, s := range seen {
		if strings.HasPrefix(s, "ns2.") {
			ns2 = append(ns2, s)
		}
	}
	if !slices.Equal(ns2, []string{"ns2.example.test. mismatch", "ns2.example.test. ok"}) {
		t.Errorf("progress of ns2 = %q", ns2)
	}
	// ok servers are not asked again: ns1 once per address.
	if got := n.Load(); got != 3 {
		t.Errorf("ns2 asked %d times for TXT, want 3", got)
	}
}

// TestWaitPropagatedNamesBadServers: a lame server (REFUSED), one that
// answers without AA, and an NS whose address does not answer are named
// in the error when the deadline passes; the good ones are ok.
func TestWaitPropagatedNamesBadServers(t *testing.T) {
	z := exampleZone(t, newSTS,
		"@ 3600 IN NS ns3.example.test.", "ns3 3600 IN A 127.0.0.4",
		"@ 3600 IN NS ns4.example.test.", "ns4 3600 IN A 127.0.0.5",
		"@ 3600 IN NS ns5.example.test.", "ns5 3600 IN A 127.0.0.8",
		"@ 3600 IN NS ns6.example.test.", "ns6 3600 IN A 127.0.0.10",
	)
	q, _ := world(t, z, map[string]*fakeServer{
		"127.0.0.4": {},                                // REFUSED
		"127.0.0.5": {fill: serveZones(z), noAA: true}, // answers like a cache
		// 127.0.0.8: nothing listens
		"127.0.0.10": {fill: func(req, m *dns.Msg) { m.Rcode = dns.RcodeServerFailure }},
	})
	q.Timeout = 300 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	res, err := WaitPropagated(ctx, PropagationOptions{Resolver: q, Interval: 100 * time.Millisecond}, "example.test", "_mta-sts.example.test", wantValue(newSTS))
	if err == nil {
		t.Fatal("WaitPropagated succeeded with a lame and an unreachable server")
	}
	if !errors.Is(err, ErrNotPropagated) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want ErrNotPropagated and DeadlineExceeded", err)
	}
	for _, want := range []string{
		"ns3.example.test. (127.0.0.4) lame: answered REFUSED",
		"ns4.example.test. (127.0.0.5) lame: answered without the AA bit",
		"ns5.example.test. (127.0.0.8) unreachable",
		"ns6.example.test. (127.0.0.10) lame: answered SERVFAIL",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "127.0.0.2") || strings.Contains(err.Error(), "127.0.0.3") {
		t.Errorf("error names good servers: %v", err)
	}
	states := map[string]ServerState{}
	for _, s := range res.Servers {
		states[s.Addr.String()] = s.State
	}
	if states["127.0.0.2"] != ServerOK || states["127.0.0.4"] != ServerLame || states["127.0.0.5"] != ServerLame || states["127.0.0.8"] != ServerUnreachable {
		t.Errorf("states = %v", states)
	}
	if res.Polls < 2 {
		t.Errorf("polls = %d: it should have kept polling until the deadline", res.Polls)
	}
}

// TestWaitPropagatedSlowServer: a server slower than the others, but within
// the query timeout, counts; the caller's deadline bounds everything.
func TestWaitPropagatedSlowServer(t *testing.T) {
	z := exampleZone(t, newSTS)
	q, _ := world(t, z, map[string]*fakeServer{"127.0.0.3": {fill: serveZones(z), delay: 300 * time.Millisecond}})
	q.Timeout = 2 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := WaitPropagated(ctx, PropagationOptions{Resolver: q}, "example.test", "_mta-sts.example.test", wantValue(newSTS))
	if err != nil || !res.Done() || res.Polls != 1 {
		t.Fatalf("slow server: polls=%d err=%v %s", res.Polls, err, res.Summary())
	}
	// Too slow for the query timeout: unreachable, and the deadline ends the wait.
	q.Timeout = 100 * time.Millisecond
	ctx2, cancel2 := context.WithTimeout(context.Background(), 800*time.Millisecond)
	defer cancel2()
	_, err = WaitPropagated(ctx2, PropagationOptions{Resolver: q, Interval: 50 * time.Millisecond}, "example.test", "_mta-sts.example.test", wantValue(newSTS))
	if err == nil || !strings.Contains(err.Error(), "ns2.example.test. (127.0.0.3) unreachable") {
		t.Errorf("err = %v", err)
	}
	// Ended by the caller's deadline (not by a wall-clock bound, which
	// fails by chance on a loaded machine; a wait that ignored the
	// deadline hangs the test).
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want the caller's deadline to end the wait", err)
	}
}

// TestTruncatedAnswerRetriedOverTCP: an RRset larger than the EDNS0 size
// comes back truncated over UDP and whole over TCP.
func TestTruncatedAnswerRetriedOverTCP(t *testing.T) {
	var lines []string
	for i := range 12 {
		lines = append(lines, fmt.Sprintf(`_mta-sts 300 IN TXT "foreign-%02d-%s"`, i, strings.Repeat("x", 200)))
	}
	z := exampleZone(t, newSTS, lines...)
	trunc := &fakeServer{fill: serveZones(z), truncUDP: true}
	q, _ := world(t, z, map[string]*fakeServer{"127.0.0.2": trunc, "::1": trunc, "127.0.0.3": trunc})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := ReadAuthoritative(ctx, q, "example.test", "_mta-sts.example.test", wantValue(newSTS))
	if err != nil || !res.Done() {
		t.Fatalf("%v %s", err, res.Summary())
	}
	if n := len(res.Servers[0].Answer.Values); n != 14 {
		t.Errorf("got %d values over TCP, want 14", n)
	}
}

// TestNoNameServers: a name that is not an apex has no NS set: the error
// says so instead of waiting.
func TestNoNameServers(t *testing.T) {
	q, _ := world(t, exampleZone(t, newSTS), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := ReadAuthoritative(ctx, q, "fresh.example.test", "_mta-sts.fresh.example.test", nil)
	if err == nil || !strings.Contains(err.Error(), "no NS records") {
		t.Errorf("err = %v", err)
	}
}

// BenchmarkReadAuthoritative: one round of the published gate (NS set,
// glue and resolution, three server addresses) against in-process servers.
func BenchmarkReadAuthoritative(b *testing.B) {
	z := exampleZone(b, newSTS)
	h := map[string]*fakeServer{}
	for _, a := range []string{"127.0.0.1", "127.0.0.2", "::1", "127.0.0.3"} {
		h[a] = &fakeServer{fill: serveZones(z)}
	}
	port, _ := startServers(b, h)
	q := &Resolver{Servers: []string{"127.0.0.1:" + port}, Port: port, Timeout: time.Second}
	ctx := context.Background()
	want := wantValue(newSTS)
	b.ResetTimer()
	for b.Loop() {
		res, err := ReadAuthoritative(ctx, q, "example.test", "_mta-sts.example.test", want)
		if err != nil || !res.Done() {
			b.Fatal(err, res.Summary())
		}
	}
}
