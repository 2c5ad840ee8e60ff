// Package checktest is an in-process MTA-STS world for tests and benchmarks:
// an authoritative DNS server (miekg/dns) serving a mutable zone, HTTPS policy
// hosts and STARTTLS MX servers on 127.0.0.0/8 addresses, all with
// certificates from a throwaway CA, and an optional delay on every reply so
// that a benchmark can count round trips. The servers and the CA are those
// of internal/loopback and internal/testca, which the sandbox runs too.
//
// Every server listens on loopback only. Policy hosts share one port and MX
// servers another, so that the engine's port overrides reach all of them.
package checktest

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stspilot/stspilot/internal/loopback"
	"github.com/stspilot/stspilot/internal/testca"
	"github.com/stspilot/stspilot/internal/txtrecord"
)

// World is a running set of fake servers. Create it with New; it is closed
// by the test's cleanup.
type World struct {
	t     testing.TB
	Roots *x509.CertPool
	// DNSAddr is host:port of the authoritative server.
	DNSAddr string
	// HTTPSPort and SMTPPort are the ports every policy host and MX listens on.
	HTTPSPort, SMTPPort int
	// Delay is added before every DNS answer, HTTP response and SMTP reply.
	Delay time.Duration

	ca      *testca.CA
	zone    loopback.Zone
	closers []func()
	held    map[int]net.Listener // reserved ports on 127.0.0.1, by port
	mxs     []*loopback.SMTP
}

// New starts the DNS server and reserves the HTTPS and SMTP ports.
func New(t testing.TB) *World {
	t.Helper()
	w := &World{t: t}
	w.newCA()
	w.HTTPSPort = w.reserve()
	w.SMTPPort = w.reserve()
	w.startDNS()
	t.Cleanup(w.Close)
	return w
}

// Close stops every server.
func (w *World) Close() {
	for i := len(w.closers) - 1; i >= 0; i-- {
		w.closers[i]()
	}
	w.closers = nil
}

// reserve picks a port and keeps it bound on 127.0.0.1 until a server
// there takes it over (see listen), so that no other socket can take it
// meanwhile; other addresses bind the port when a server starts.
func (w *World) reserve() int {
	w.t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		w.t.Fatalf("checktest: no free port: %v", err)
	}
	if w.held == nil {
		w.held = map[int]net.Listener{}
	}
	port := l.Addr().(*net.TCPAddr).Port
	w.held[port] = l
	w.closers = append(w.closers, func() { _ = l.Close() })
	return port
}

// Listen returns a listener on ip:port (HTTPSPort or SMTPPort, for a server
// of the test's own): the reserved one for 127.0.0.1. The World closes it.
func (w *World) Listen(ip string, port int) net.Listener {
	w.t.Helper()
	l, err := w.listen(ip, port)
	if err != nil {
		w.t.Fatalf("checktest: %v", err)
	}
	w.closers = append(w.closers, func() { _ = l.Close() })
	return l
}

func (w *World) listen(ip string, port int) (net.Listener, error) {
	if l, ok := w.held[port]; ok && ip == "127.0.0.1" {
		delete(w.held, port)
		return l, nil
	}
	return net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
}

// ---------------------------------------------------------------- CA

func (w *World) newCA() {
	w.ca = testca.MustNew(w.t, testca.Options{
		Name:      "checktest root",
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(10 * 365 * 24 * time.Hour),
	})
	w.Roots = w.ca.Pool()
}

// CertOpts shape a leaf certificate.
type CertOpts struct {
	NotBefore, NotAfter time.Time // zero: an hour ago, a year ahead
	Untrusted           bool      // signed by a CA outside Roots
	CNOnly              bool      // no SAN, names[0] as CN
}

// Leaf issues a leaf for names, its chain ending with the issuing root.
func (w *World) Leaf(names []string, o CertOpts) tls.Certificate {
	w.t.Helper()
	l := testca.Leaf{Names: names, CommonName: names[0], NotBefore: o.NotBefore, NotAfter: o.NotAfter, Chain: true}
	if l.NotAfter.IsZero() {
		l.NotAfter = time.Now().Add(365 * 24 * time.Hour)
	}
	if o.CNOnly {
		l.Names = nil
	}
	issuer := w.ca
	if o.Untrusted {
		issuer = testca.MustNew(w.t, testca.Options{
			Name:      "untrusted root",
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		})
	}
	return issuer.MustIssue(w.t, l)
}

// ---------------------------------------------------------------- DNS

// RR adds records in presentation format ("_mta-sts.example.test. 300 IN TXT \"v=STSv1; id=1\"").
func (w *World) RR(lines ...string) {
	w.t.Helper()
	if err := w.zone.Add(lines...); err != nil {
		w.t.Fatalf("checktest: %v", err)
	}
}

// ServFail makes every question about name answer SERVFAIL.
func (w *World) ServFail(name string) { w.zone.ServFail(name) }

// Remove deletes every record of type t (0: all types) at name.
func (w *World) Remove(name string, t uint16) { w.zone.Remove(name, t, "") }

func (w *World) startDNS() {
	d, err := loopback.StartDNS(loopback.DNSConfig{
		Records: w.zone.Records,
		Delay:   func() time.Duration { return w.Delay },
	})
	if err != nil {
		w.t.Fatalf("checktest: DNS: %v", err)
	}
	w.DNSAddr = d.Addr
	w.closers = append(w.closers, d.Close)
}

// ---------------------------------------------------------------- HTTPS

// PolicyHost serves handler over HTTPS with cert on ip:HTTPSPort.
func (w *World) PolicyHost(ip string, cert tls.Certificate, handler http.Handler) {
	l, err := w.listen(ip, w.HTTPSPort)
	if err != nil {
		w.t.Fatalf("checktest: policy host %s: %v", ip, err)
	}
	delayed := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if w.Delay > 0 {
			time.Sleep(w.Delay)
		}
		handler.ServeHTTP(rw, r)
	})
	w.closers = append(w.closers, loopback.ServeHTTPS(l, testca.ServerConfig(cert), delayed))
}

// Policy returns a handler serving body as text/plain at the well-known path.
func Policy(body string) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path != txtrecord.WellKnownPath {
			http.NotFound(rw, r)
			return
		}
		rw.Header().Set("Content-Type", "text/plain")
		_, _ = rw.Write([]byte(body))
	})
}

// ---------------------------------------------------------------- SMTP

// MXOpts shape a fake MX.
type MXOpts struct {
	Cert       tls.Certificate
	NoSTARTTLS bool
	MaxVersion uint16 // 0: Go's default
}

// MX serves an SMTP server with STARTTLS (loopback.SMTP) on ip:SMTPPort.
// The delay is the World's at the time of the call.
func (w *World) MX(ip, hostname string, o MXOpts) {
	w.t.Helper()
	l, err := w.listen(ip, w.SMTPPort)
	if err != nil {
		w.t.Fatalf("checktest: MX %s: %v", ip, err)
	}
	srv := &loopback.SMTP{
		Hostname: hostname, Cert: o.Cert, NoSTARTTLS: o.NoSTARTTLS,
		MinVersion: tls.VersionTLS10, MaxVersion: o.MaxVersion,
		Listener: l,
	}
	w.mxs = append(w.mxs, srv)
	srv.Start(w.t)
}

// SetDelay sets the delay of every server, including MX servers already started.
func (w *World) SetDelay(d time.Duration) {
	w.Delay = d
	for _, s := range w.mxs {
		s.Delay = d
	}
}

// MXCommands is every command the MX servers received so far, those of the
// first MX started first ("TLS " marks those sent after STARTTLS).
func (w *World) MXCommands() []string {
	var out []string
	for _, s := range w.mxs {
		out = append(out, s.Commands()...)
	}
	return out
}
