package httpsprobe

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stspilot/stspilot/internal/testca"
)

// testHost is the policy host every test certificate is about.
const testHost = "mta-sts.example.test"

// testNow is the clock the fetcher verifies certificates against; the test
// certificates are dated relative to it, so tests do not depend on the
// wall clock (and prove Fetcher.Now is used).
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// ca is a throwaway certificate authority dated around testNow.
type ca struct{ *testca.CA }

func newCA(tb testing.TB, name string) *ca {
	tb.Helper()
	return &ca{testca.MustNew(tb, testca.Options{
		Name: name, Organization: "httpsprobe test",
		NotBefore: testNow.Add(-10 * 365 * 24 * time.Hour), NotAfter: testNow.Add(10 * 365 * 24 * time.Hour),
	})}
}

func (c *ca) pool() *x509.CertPool { return c.Pool() }

// leaf issues a server certificate valid from nb to na.
func (c *ca) leaf(tb testing.TB, cn string, sans []string, nb, na time.Time) tls.Certificate {
	tb.Helper()
	return c.MustIssue(tb, testca.Leaf{Names: sans, CommonName: cn, NotBefore: nb, NotAfter: na})
}

// pki holds the test CA and the leaves the tests serve. It is built once per
// process so that the system-pool test (SSL_CERT_FILE is read only once per
// process) sees the same CA however often the tests run.
type pki struct {
	root                                             *ca
	good, expired, notYet, wrongSAN, cnOnly, foreign tls.Certificate
}

var (
	pkiOnce sync.Once
	testPKI *pki
)

func getPKI(tb testing.TB) *pki {
	tb.Helper()
	pkiOnce.Do(func() {
		root := newCA(tb, "httpsprobe test root")
		other := newCA(tb, "untrusted root")
		day := 24 * time.Hour
		testPKI = &pki{
			root:     root,
			good:     root.leaf(tb, testHost, []string{testHost}, testNow.Add(-day), testNow.Add(90*day)),
			expired:  root.leaf(tb, testHost, []string{testHost}, testNow.Add(-90*day), testNow.Add(-day)),
			notYet:   root.leaf(tb, testHost, []string{testHost}, testNow.Add(day), testNow.Add(90*day)),
			wrongSAN: root.leaf(tb, "mta-sts.provider.test", []string{"mta-sts.provider.test"}, testNow.Add(-day), testNow.Add(90*day)),
			cnOnly:   root.leaf(tb, testHost, nil, testNow.Add(-day), testNow.Add(90*day)),
			foreign:  other.leaf(tb, testHost, []string{testHost}, testNow.Add(-day), testNow.Add(90*day)),
		}
	})
	if testPKI == nil {
		tb.Fatal("test PKI could not be built")
	}
	return testPKI
}

// server is an httptest TLS server plus what it saw.
type server struct {
	*httptest.Server
	port     int
	addr     netip.Addr
	requests atomic.Int64 // requests that reached the handler
	newConns atomic.Int64
	done     chan struct{} // closed at cleanup, before the server closes
}

// startTLS serves h over TLS with cert on listener l (nil = 127.0.0.1:0).
// Handlers that block should also select on s.done.
func startTLS(tb testing.TB, cert tls.Certificate, l net.Listener, h func(s *server, w http.ResponseWriter, r *http.Request)) *server {
	tb.Helper()
	return startServer(tb, cert, l, false, h)
}

// startServer is startTLS with HTTP/2 offered by the server when h2 is set.
func startServer(tb testing.TB, cert tls.Certificate, l net.Listener, h2 bool, h func(s *server, w http.ResponseWriter, r *http.Request)) *server {
	tb.Helper()
	s := &server{done: make(chan struct{})}
	hs := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		h(s, w, r)
	}))
	if l != nil {
		hs.Listener.Close()
		hs.Listener = l
	}
	hs.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	hs.EnableHTTP2 = h2
	hs.Config.ErrorLog = log.New(io.Discard, "", 0) // aborted handshakes are expected
	hs.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.newConns.Add(1)
		}
	}
	hs.StartTLS()
	s.Server = hs
	ap := netip.MustParseAddrPort(hs.Listener.Addr().String())
	s.addr, s.port = ap.Addr(), int(ap.Port())
	tb.Cleanup(hs.Close)
	tb.Cleanup(func() { close(s.done) }) // runs first: unblocks handlers
	return s
}

// newPlain starts a plain-HTTP server on 127.0.0.1.
func newPlain(h http.Handler) *httptest.Server {
	hs := httptest.NewUnstartedServer(h)
	hs.Config.ErrorLog = log.New(io.Discard, "", 0)
	hs.Start()
	return hs
}

// rawTLS accepts TLS connections with the good certificate on 127.0.0.1,
// reads the request head (bounded) and hands the connection to fn, then
// closes it. It returns the port.
func rawTLS(tb testing.TB, fn func(c net.Conn)) int {
	tb.Helper()
	p := getPKI(tb)
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{p.good}})
	if err != nil {
		tb.Fatal(err)
	}
	var wg sync.WaitGroup
	tb.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				if !readHead(c) {
					return
				}
				fn(c)
			})
		}
	})
	return int(netip.MustParseAddrPort(l.Addr().String()).Port())
}

// readHead reads up to the blank line ending a request head (at most 8 KiB).
func readHead(c net.Conn) bool {
	br := bufio.NewReader(io.LimitReader(c, 8<<10))
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return false
		}
		if line == "\r\n" || line == "\n" {
			return true
		}
	}
}

// fetcher returns a Fetcher trusting the test root, aimed at port.
func fetcher(tb testing.TB, port int, timeout time.Duration) *Fetcher {
	return &Fetcher{Roots: getPKI(tb).root.pool(), Port: port, Timeout: timeout, Now: func() time.Time { return testNow }}
}

var loopback = netip.MustParseAddr("127.0.0.1")
