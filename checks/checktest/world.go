// Package checktest is an in-process MTA-STS world for tests and benchmarks:
// an authoritative DNS server (miekg/dns) serving a mutable zone, HTTPS policy
// hosts and STARTTLS MX servers on 127.0.0.0/8 addresses, all with
// certificates from a throwaway CA, and an optional delay on every reply so
// that a benchmark can count round trips.
//
// Every server listens on loopback only. Policy hosts share one port and MX
// servers another, so that the engine's port overrides reach all of them.
package checktest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/stspilot/stspilot/checks/smtpprobe/smtptest"
	"github.com/stspilot/stspilot/internal/testca"
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

	ca *testca.CA

	mu       sync.Mutex
	zone     map[string][]dns.RR // by lower-case FQDN
	servfail map[string]bool

	closers []func()
	mxs     []*smtptest.Server
}

// New starts the DNS server and reserves the HTTPS and SMTP ports.
func New(t testing.TB) *World {
	t.Helper()
	w := &World{t: t, zone: map[string][]dns.RR{}, servfail: map[string]bool{}}
	w.newCA()
	w.HTTPSPort = freePort(t)
	w.SMTPPort = freePort(t)
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

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("checktest: no free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// ---------------------------------------------------------------- CA

func (w *World) newCA() {
	w.ca = testca.MustNew(w.t, testca.Options{Name: "checktest root",
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(10 * 365 * 24 * time.Hour)})
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
		issuer = testca.MustNew(w.t, testca.Options{Name: "untrusted root",
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)})
	}
	return issuer.MustIssue(w.t, l)
}

// ---------------------------------------------------------------- DNS

// RR adds records in presentation format ("_mta-sts.example.test. 300 IN TXT \"v=STSv1; id=1\"").
func (w *World) RR(lines ...string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, l := range lines {
		rr, err := dns.NewRR(l)
		if err != nil {
			w.t.Fatalf("checktest: bad RR %q: %v", l, err)
		}
		name := strings.ToLower(rr.Header().Name)
		w.zone[name] = append(w.zone[name], rr)
	}
}

// ServFail makes every question about name answer SERVFAIL.
func (w *World) ServFail(name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.servfail[strings.ToLower(dns.Fqdn(name))] = true
}

// Remove deletes every record of type t (0: all types) at name.
func (w *World) Remove(name string, t uint16) {
	w.mu.Lock()
	defer w.mu.Unlock()
	name = strings.ToLower(dns.Fqdn(name))
	var keep []dns.RR
	for _, rr := range w.zone[name] {
		if t != 0 && rr.Header().Rrtype != t {
			keep = append(keep, rr)
		}
	}
	w.zone[name] = keep
}

func (w *World) startDNS() {
	h := dns.HandlerFunc(func(rw dns.ResponseWriter, q *dns.Msg) {
		if w.Delay > 0 {
			time.Sleep(w.Delay)
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
		w.mu.Lock()
		if w.servfail[name] {
			w.mu.Unlock()
			m.Rcode = dns.RcodeServerFailure
			_ = rw.WriteMsg(m)
			return
		}
		rrs, exists := w.zone[name]
		for _, rr := range rrs {
			t := rr.Header().Rrtype
			if t == qq.Qtype || (t == dns.TypeCNAME && qq.Qtype != dns.TypeCNAME) {
				m.Answer = append(m.Answer, dns.Copy(rr))
			}
		}
		w.mu.Unlock()
		if !exists || len(rrs) == 0 {
			m.Rcode = dns.RcodeNameError
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
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		w.t.Fatal(err)
	}
	port := pc.LocalAddr().(*net.UDPAddr).Port
	tl, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		pc.Close()
		w.t.Fatal(err)
	}
	us := &dns.Server{PacketConn: pc, Handler: h}
	ts := &dns.Server{Listener: tl, Handler: h}
	go func() { _ = us.ActivateAndServe() }()
	go func() { _ = ts.ActivateAndServe() }()
	w.DNSAddr = pc.LocalAddr().String()
	w.closers = append(w.closers, func() { _ = us.Shutdown(); _ = ts.Shutdown() })
}

// ---------------------------------------------------------------- HTTPS

// PolicyHost serves handler over HTTPS with cert on ip:HTTPSPort.
func (w *World) PolicyHost(ip string, cert tls.Certificate, handler http.Handler) {
	l, err := net.Listen("tcp", fmt.Sprintf("%s:%d", ip, w.HTTPSPort))
	if err != nil {
		w.t.Fatalf("checktest: policy host %s: %v", ip, err)
	}
	delayed := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if w.Delay > 0 {
			time.Sleep(w.Delay)
		}
		handler.ServeHTTP(rw, r)
	})
	srv := &http.Server{Handler: delayed, ReadHeaderTimeout: 5 * time.Second,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}, ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = srv.ServeTLS(l, "", "") }()
	w.closers = append(w.closers, func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = srv.Close()
	})
}

// Policy returns a handler serving body as text/plain at the well-known path.
func Policy(body string) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/mta-sts.txt" {
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

// MX serves an SMTP server with STARTTLS (smtptest.Server) on ip:SMTPPort.
// The delay is the World's at the time of the call.
func (w *World) MX(ip, hostname string, o MXOpts) {
	srv := &smtptest.Server{
		Hostname: hostname, Cert: o.Cert, NoSTARTTLS: o.NoSTARTTLS,
		MinVersion: tls.VersionTLS10, MaxVersion: o.MaxVersion,
		Addr: fmt.Sprintf("%s:%d", ip, w.SMTPPort),
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
