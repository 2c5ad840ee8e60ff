package serve

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The connection tests use source addresses of 127.0.0.0/8 other than
// 127.0.0.1 to be several clients: on Linux every one of them is local.

const fetchLimit = 5 * time.Second // far above a loopback fetch's milliseconds

// dialFrom opens a TCP connection to r from the loopback address src.
func (r *running) dialFrom(t *testing.T, src string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: fetchLimit}
	c, err := d.Dial("tcp", r.addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRNOTAVAIL) {
			t.Skipf("cannot bind %s: %v", src, err)
		}
		t.Fatalf("dial from %s: %v", src, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// keepAlive fetches the policy once from src over a new TLS connection and
// leaves the connection open; it returns the connection, or the error that
// prevented the fetch.
func (r *running) keepAlive(t *testing.T, src string) (*tls.Conn, error) {
	t.Helper()
	tc := tls.Client(r.dialFrom(t, src), &tls.Config{RootCAs: r.ca.pool, ServerName: "mta-sts.a.test", NextProtos: []string{"http/1.1"}})
	tc.SetDeadline(time.Now().Add(fetchLimit))
	if _, err := io.WriteString(tc, "GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: mta-sts.a.test\r\n\r\n"); err != nil {
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(tc), nil)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 || string(b) != policyA {
		return nil, errors.New("bad answer " + resp.Status)
	}
	tc.SetDeadline(time.Time{})
	return tc, nil
}

// clientFrom is an HTTP/1.1 client of r whose connections come from src.
func (r *running) clientFrom(src string) *http.Client {
	c := r.client(false)
	c.Timeout = fetchLimit
	c.Transport.(*http.Transport).DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
		return d.DialContext(ctx, network, r.addr)
	}
	return c
}

// fetchFrom fetches the policy from src on a fresh connection within
// fetchLimit.
func (r *running) fetchFrom(t *testing.T, src, what string) {
	t.Helper()
	c := r.clientFrom(src)
	defer c.CloseIdleConnections()
	t0 := time.Now()
	resp, err := c.Get("https://mta-sts.a.test/.well-known/mta-sts.txt")
	if err != nil {
		t.Fatalf("%s: a fetch from %s failed after %v: %v", what, src, time.Since(t0), err)
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != policyA {
		t.Fatalf("%s: fetch from %s: %d %q", what, src, resp.StatusCode, b)
	}
}

// waitCounts waits until the server has live open and idle idle
// connections (the server moves a connection to idle right after writing
// its response, which the client may read first).
func (r *running) waitCounts(t *testing.T, live, idle int) {
	t.Helper()
	r.waitConns(t, fmt.Sprintf("want %d and %d", live, idle), func(l, i int) bool { return l == live && i == idle })
}

// waitConns waits until ok holds of the server's open and idle
// connections; it fails, saying want, when it does not within fetchLimit.
func (r *running) waitConns(t *testing.T, want string, ok func(live, idle int) bool) {
	t.Helper()
	deadline := time.Now().Add(fetchLimit)
	for {
		l, i := r.srv.conns.counts()
		if ok(l, i) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("server has %d open, %d idle connections, %s", l, i, want)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// waitAllIdle waits until every connection the server has open is idle.
func (r *running) waitAllIdle(t *testing.T) {
	t.Helper()
	r.waitConns(t, "want all idle", func(l, i int) bool { return l == i })
}

// closedByServer reads c until the server closes it; it fails when the
// server does not within limit.
func closedByServer(t *testing.T, c net.Conn, limit time.Duration, what string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(limit))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("%s: the server did not close the connection within %v", what, limit)
	}
}

func startCapped(t *testing.T, cfg Config) *running {
	t.Helper()
	state := t.TempDir()
	publish(t, state, "a.test", []byte(policyA))
	cfg.StateDir = state
	return start(t, cfg, []string{"mta-sts.a.test"})
}

// (a) One client opens more idle keep-alive connections than its cap: it
// keeps at most the cap (each new one evicts its own oldest idle one), and
// other clients and the same client's next fetch are served.
func TestPerClientCap(t *testing.T) {
	r := startCapped(t, Config{MaxConns: 32, MaxConnsPerClient: 4, IdleTimeout: time.Hour})
	var conns []*tls.Conn
	for i := range 10 {
		c, err := r.keepAlive(t, "127.0.0.2")
		if err != nil {
			t.Fatalf("keep-alive connection %d: %v", i, err)
		}
		conns = append(conns, c)
		r.waitCounts(t, min(i+1, 4), min(i+1, 4))
	}
	if n := r.srv.conns.evicted.Load(); n != 6 {
		t.Errorf("%d connections evicted, want 6", n)
	}
	for i, c := range conns[:6] {
		closedByServer(t, c, fetchLimit, "evicted connection "+strconv.Itoa(i))
	}
	r.fetchFrom(t, "127.0.0.3", "another client")
	r.fetchFrom(t, "127.0.0.2", "the capped client again")

	// Connections that are not idle are not evicted: a client with its
	// cap of connections that never finished a handshake gets its next
	// connection closed unserved, and the others are served meanwhile.
	r2 := startCapped(t, Config{MaxConns: 32, MaxConnsPerClient: 4, ReadHeaderTimeout: time.Hour})
	for range 4 {
		r2.dialFrom(t, "127.0.0.4")
	}
	r2.waitCounts(t, 4, 0)
	c := r2.dialFrom(t, "127.0.0.4")
	closedByServer(t, c, fetchLimit, "a connection over the client's cap")
	if n := r2.srv.conns.refused.Load(); n != 1 {
		t.Errorf("%d connections refused, want 1", n)
	}
	r2.fetchFrom(t, "127.0.0.5", "another client while one is at its cap")
}

// (b) Filled to the global cap with idle connections from many addresses,
// a new client evicts the oldest idle one and is served. Filled with
// connections that are not idle, a new client waits for a slot (one frees
// when the header timeout closes a stalled connection) instead of being
// refused.
func TestGlobalCapEvictsIdle(t *testing.T) {
	r := startCapped(t, Config{MaxConns: 8, MaxConnsPerClient: 2, IdleTimeout: time.Hour})
	var conns []*tls.Conn
	for i := range 8 {
		c, err := r.keepAlive(t, "127.0.0."+strconv.Itoa(2+i/2))
		if err != nil {
			t.Fatalf("keep-alive connection %d: %v", i, err)
		}
		conns = append(conns, c)
		r.waitCounts(t, i+1, i+1)
	}
	r.fetchFrom(t, "127.0.0.20", "at the global cap")
	closedByServer(t, conns[0], fetchLimit, "the oldest idle connection")
	if n := r.srv.conns.evicted.Load(); n < 1 {
		t.Errorf("%d connections evicted, want at least 1", n)
	}

	r2 := startCapped(t, Config{MaxConns: 8, MaxConnsPerClient: 2, ReadHeaderTimeout: 300 * time.Millisecond})
	for i := range 8 {
		r2.dialFrom(t, "127.0.1."+strconv.Itoa(1+i))
	}
	r2.waitCounts(t, 8, 0)
	r2.fetchFrom(t, "127.0.0.21", "at the global cap with nothing idle")
	if n := r2.srv.conns.refused.Load(); n != 0 {
		t.Errorf("%d connections refused at the global cap, want them to wait", n)
	}
}

// (c) ALPN offers HTTP/1.1 only, also to a client that prefers h2; a
// connection whose request headers stall, or that speaks HTTP/2 anyway and
// stalls in a header block, is closed after the header timeout; one whose
// handshake and headers each stay under the header timeout but together
// exceed it is closed by the watchdog.
func TestHeaderStallsAndNoHTTP2(t *testing.T) {
	const hdr = 500 * time.Millisecond
	r := startCapped(t, Config{ReadHeaderTimeout: hdr})
	dialTLS := func(protos ...string) *tls.Conn {
		tc := tls.Client(r.dialFrom(t, "127.0.0.6"), &tls.Config{RootCAs: r.ca.pool, ServerName: "mta-sts.a.test", NextProtos: protos})
		tc.SetDeadline(time.Now().Add(fetchLimit))
		if err := tc.Handshake(); err != nil {
			t.Fatal(err)
		}
		return tc
	}
	tc := dialTLS("h2", "http/1.1")
	if p := tc.ConnectionState().NegotiatedProtocol; p != "http/1.1" {
		t.Errorf("ALPN with h2 offered first: %q, want http/1.1", p)
	}
	io.WriteString(tc, "GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: mta-sts.a.test\r\n")
	closedByServer(t, tc, fetchLimit, "stalled HTTP/1.1 headers")

	// A client that speaks only h2 fails the handshake.
	h2only := tls.Client(r.dialFrom(t, "127.0.0.6"), &tls.Config{RootCAs: r.ca.pool, ServerName: "mta-sts.a.test", NextProtos: []string{"h2"}})
	h2only.SetDeadline(time.Now().Add(fetchLimit))
	if err := h2only.Handshake(); err == nil {
		t.Errorf("handshake with ALPN h2 only succeeded with %q", h2only.ConnectionState().NegotiatedProtocol)
	}

	// One that speaks HTTP/2 on the HTTP/1.1 connection anyway: the
	// preface, SETTINGS, then HEADERS without END_HEADERS.
	tc = dialTLS("h2", "http/1.1")
	io.WriteString(tc, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"+
		"\x00\x00\x00\x04\x00\x00\x00\x00\x00"+
		"\x00\x00\x01\x01\x01\x00\x00\x00\x01\x82")
	closedByServer(t, tc, fetchLimit, "a stalled HTTP/2 header block")

	// The watchdog: a handshake after half the header timeout, then
	// headers that stall. Go's own header deadline, started after the
	// handshake, would close it only at 1.5 header timeouts.
	expired := r.srv.conns.expired.Load()
	raw := r.dialFrom(t, "127.0.0.7")
	r.waitCounts(t, 1, 0)
	time.Sleep(hdr / 2) // the client being slow, not a wait for the server
	tc = tls.Client(raw, &tls.Config{RootCAs: r.ca.pool, ServerName: "mta-sts.a.test", NextProtos: []string{"http/1.1"}})
	tc.SetDeadline(time.Now().Add(fetchLimit))
	if err := tc.Handshake(); err == nil {
		io.WriteString(tc, "GET /.well-known/mta-sts.txt HTTP/1.1\r\n")
		closedByServer(t, tc, fetchLimit, "a slow handshake and stalled headers")
	}
	if n := r.srv.conns.expired.Load() - expired; n != 1 {
		t.Errorf("%d connections closed by the watchdog, want 1", n)
	}
	r.fetchFrom(t, "127.0.0.8", "after the stalls")
}

// (d) A kept-alive connection is closed after IdleTimeout without a request.
func TestKeepAliveIdleTimeout(t *testing.T) {
	r := startCapped(t, Config{IdleTimeout: 300 * time.Millisecond})
	c, err := r.keepAlive(t, "127.0.0.9")
	if err != nil {
		t.Fatal(err)
	}
	closedByServer(t, c, fetchLimit, "an idle keep-alive connection")
	r.waitCounts(t, 0, 0)
}

// The accounting is exact after many clients come and go: no slot leaks.
func TestConnAccountingReleasesEverything(t *testing.T) {
	r := startCapped(t, Config{MaxConns: 16, MaxConnsPerClient: 3, IdleTimeout: time.Hour})
	for i := range 12 {
		src := "127.0.2." + strconv.Itoa(1+i%4)
		if _, err := r.keepAlive(t, src); err != nil {
			t.Fatal(err)
		}
		r.fetchFrom(t, src, "between keep-alives")
	}
	// Every request is answered, but the server moves a connection to
	// idle only after writing its answer, which the client may read
	// first: wait until every open connection is idle, then close them
	// (net/http's and the fast path's). Closing at once could miss one
	// that went idle a moment later, left open for the hour of
	// IdleTimeout.
	r.waitAllIdle(t)
	r.srv.srv.SetKeepAlivesEnabled(false)
	r.srv.conns.closeIdle()
	// The client side of the keep-alive connections closes at cleanup;
	// the server must count every connection it closed itself as gone.
	r.waitCounts(t, 0, 0)
	r.srv.conns.mu.Lock()
	defer r.srv.conns.mu.Unlock()
	if n := len(r.srv.conns.clients); n != 0 {
		t.Errorf("%d clients left with no connection", n)
	}
}

// startCounted is startCapped with metrics and a log of refusals.
func startCounted(t *testing.T, cfg Config) (*running, *prometheus.Registry, *syncBuffer) {
	t.Helper()
	state := t.TempDir()
	publish(t, state, "a.test", []byte(policyA))
	pol := NewPolicies(state)
	reg := prometheus.NewRegistry()
	logs := new(syncBuffer)
	cfg.StateDir, cfg.Policies, cfg.Metrics = state, pol, NewMetrics(reg, pol)
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	return start(t, cfg, []string{"mta-sts.a.test"}), reg, logs
}

// checkRefused checks the refusal counter's series: want's, the others 0.
func checkRefused(t *testing.T, reg prometheus.Gatherer, what string, want map[string]float64) {
	t.Helper()
	for _, reason := range connReasonNames {
		if v := counterValue(t, reg, "stspilot_serve_connections_refused_total", "reason", reason); v != want[reason] {
			t.Errorf("%s: %v connections refused for %s, want %v", what, v, reason, want[reason])
		}
	}
}

// Connections refused or closed by the caps and the first request's
// timeout are counted by reason and logged, by the client's address only.
func TestConnRefusalsCounted(t *testing.T) {
	r, reg, logs := startCounted(t, Config{MaxConns: 32, MaxConnsPerClient: 2, IdleTimeout: time.Hour, ReadHeaderTimeout: time.Hour})
	checkRefused(t, reg, "at start", nil)
	// A third keep-alive connection of one client evicts its first.
	var conns []*tls.Conn
	for i := range 3 {
		c, err := r.keepAlive(t, "127.0.0.2")
		if err != nil {
			t.Fatalf("keep-alive connection %d: %v", i, err)
		}
		conns = append(conns, c)
		r.waitCounts(t, min(i+1, 2), min(i+1, 2))
	}
	closedByServer(t, conns[0], fetchLimit, "the evicted connection")
	checkRefused(t, reg, "after an eviction", map[string]float64{"idle_evicted": 1})
	// A third connection of a client whose two are not idle is refused.
	r.dialFrom(t, "127.0.0.3")
	r.dialFrom(t, "127.0.0.3")
	r.waitCounts(t, 4, 2)
	closedByServer(t, r.dialFrom(t, "127.0.0.3"), fetchLimit, "a connection over the client's cap")
	checkRefused(t, reg, "after a refusal", map[string]float64{"idle_evicted": 1, "per_client_cap": 1})

	// The watchdog, as in TestHeaderStallsAndNoHTTP2: a handshake after
	// half the header timeout, then headers that stall.
	const hdr = 500 * time.Millisecond
	r2, reg2, logs2 := startCounted(t, Config{ReadHeaderTimeout: hdr})
	raw := r2.dialFrom(t, "127.0.0.7")
	r2.waitCounts(t, 1, 0)
	time.Sleep(hdr / 2) // the client being slow, not a wait for the server
	tc := tls.Client(raw, &tls.Config{RootCAs: r2.ca.pool, ServerName: "mta-sts.a.test", NextProtos: []string{"http/1.1"}})
	tc.SetDeadline(time.Now().Add(fetchLimit))
	if err := tc.Handshake(); err == nil {
		io.WriteString(tc, "GET /.well-known/mta-sts.txt HTTP/1.1\r\n")
		closedByServer(t, tc, fetchLimit, "a slow handshake and stalled headers")
	}
	r2.waitCounts(t, 0, 0)
	checkRefused(t, reg2, "after the header timeout", map[string]float64{"first_request_timeout": 1})

	out := logs.String() + logs2.String()
	for _, s := range []string{
		"reason=idle_evicted count=1 last_client=127.0.0.2",
		"reason=per_client_cap count=1 last_client=127.0.0.3",
		"reason=first_request_timeout count=1 last_client=127.0.0.7",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("log has no %q:\n%s", s, out)
		}
	}
	if strings.Contains(out, "mta-sts") || strings.Contains(out, "GET") {
		t.Errorf("log has a client's request data:\n%s", out)
	}
}

// addrConn is a net.Conn from addr.
type addrConn struct {
	net.Conn
	addr net.Addr
}

func (c addrConn) RemoteAddr() net.Addr { return c.addr }

func pipeFrom(t *testing.T, ip string) net.Conn {
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	return addrConn{a, &net.TCPAddr{IP: net.ParseIP(ip), Port: 1}}
}

// At the global cap with no idle connection to evict (the one Accept
// waited for active again), a connection is refused and counted; the log
// has one line per reason per interval with the count since the last
// line, and the rest at shutdown.
func TestConnRefusalGlobalCapAndLogRate(t *testing.T) {
	tr := newConnTracker(1, 1, 0)
	var logs syncBuffer
	tr.log = slog.New(slog.NewTextHandler(&logs, nil))
	tr.logEvery = time.Hour
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg, NewPolicies(t.TempDir()))
	m.conns.Store(tr)
	if tr.admit(pipeFrom(t, "192.0.2.1")) == nil {
		t.Fatal("first connection refused")
	}
	for range 3 {
		if tr.admit(pipeFrom(t, "192.0.2.2")) != nil {
			t.Fatal("a connection admitted over the global cap")
		}
	}
	if v := counterValue(t, reg, "stspilot_serve_connections_refused_total", "reason", "global_cap"); v != 3 {
		t.Errorf("%v refused at the global cap, want 3", v)
	}
	lines := func() []string { return strings.Split(strings.TrimSpace(logs.String()), "\n") }
	if l := lines(); len(l) != 1 || !strings.Contains(l[0], "reason=global_cap count=1 last_client=192.0.2.2") {
		t.Errorf("log after 3 refusals within the interval: %q, want one line of the first", l)
	}
	tr.flushLog()
	tr.flushLog()
	if l := lines(); len(l) != 2 || !strings.Contains(l[1], "reason=global_cap count=2") {
		t.Errorf("log after the flush: %q, want a second line of the other 2", l)
	}
}
