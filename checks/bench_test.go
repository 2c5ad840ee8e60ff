package checks

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/stspilot/stspilot/checks/checktest"
	"github.com/stspilot/stspilot/checks/smtpprobe"
	"github.com/stspilot/stspilot/internal/loopback"
)

// BenchmarkCheckOverlap checks a domain with two policy-host addresses and
// three MX hosts through a network path with a 50 ms one-way delay (a
// loopback.Delay in front of every in-process server: DNS over UDP and TCP,
// each policy host, each MX), and compares a whole check with the floor:
// the chains a check cannot avoid, each doing nothing else, run in parallel
// through the same delays:
//
//	policy: A lookup, connect + TLS handshake, GET
//	MX:     MX lookup, A lookup, connect + banner, EHLO, STARTTLS, TLS handshake
//
// Checks and floors alternate in one run, so the ratio x-floor holds on a
// busy machine where the milliseconds do not. Near 1 means the check waits
// for nothing but its observations.
func BenchmarkCheckOverlap(b *testing.B) {
	const delay = 50 * time.Millisecond
	const d = "bench.example.test"
	w := checktest.New(b)
	body := policyText("enforce", 604800, "*."+d)

	// The servers listen on the world's addresses; clients reach them
	// only through the delays, on addresses of their own (127.0.1.x).
	dnsDelay, err := loopback.DelayPair("127.0.0.1", w.DNSAddr, delay)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(dnsDelay.Close)
	through := func(base int, backends []string, port int) (int, []string) {
		front := make([]string, len(backends))
		for i := range backends {
			front[i] = "127.0.1." + strconv.Itoa(base+i)
		}
		ls, err := loopback.ListenTCP(front...)
		if err != nil {
			b.Fatal(err)
		}
		for i, l := range ls {
			p := loopback.DelayTCP(l, net.JoinHostPort(backends[i], strconv.Itoa(port)), delay)
			b.Cleanup(p.Close)
		}
		return ls[0].Addr().(*net.TCPAddr).Port, front
	}
	pc := w.Leaf([]string{"mta-sts." + d}, checktest.CertOpts{})
	w.PolicyHost(polIP, pc, checktest.Policy(body))
	w.PolicyHost(polIP2, pc, checktest.Policy(body))
	httpsPort, polFront := through(10, []string{polIP, polIP2}, w.HTTPSPort)
	mxIPs := []string{"127.0.0.5", "127.0.0.6", "127.0.0.7"}
	mxNames := []string{"mx1." + d, "mx2." + d, "mx3." + d}
	for i, ip := range mxIPs {
		w.MX(ip, mxNames[i], checktest.MXOpts{Cert: w.Leaf([]string{mxNames[i]}, checktest.CertOpts{})})
	}
	smtpPort, mxFront := through(20, mxIPs, w.SMTPPort)
	w.RR(
		"_mta-sts."+d+". 300 IN TXT \"v=STSv1; id=1\"",
		"_smtp._tls."+d+". 300 IN TXT \"v=TLSRPTv1; rua=mailto:r@"+d+"\"",
		"mta-sts."+d+". 300 IN A "+polFront[0], "mta-sts."+d+". 300 IN A "+polFront[1],
	)
	for i, h := range mxNames {
		w.RR(d+". 300 IN MX 10 "+h+".", h+". 300 IN A "+mxFront[i])
	}

	var courtesy smtpprobe.Courtesy
	opt := Options{
		Resolvers: []string{dnsDelay.Addr}, Roots: w.Roots, HTTPSPort: httpsPort, SMTPPort: smtpPort,
		Timeout: 30 * time.Second, Courtesy: &courtesy,
	}
	fl := floor{dns: dnsDelay.Addr, roots: w.Roots, domain: d, httpsPort: httpsPort, smtpPort: smtpPort}
	if _, err := fl.run(b.Context()); err != nil { // warm up, and prove the floor works
		b.Fatal(err)
	}
	b.ResetTimer()
	var checks, floors time.Duration
	n := 0
	for b.Loop() {
		t0 := time.Now()
		r := Run(b.Context(), d, opt)
		checks += time.Since(t0)
		if r.Error != "" || r.HasErrors() {
			b.Fatalf("check failed: %s %v", r.Error, ids(r, SevError))
		}
		b.StopTimer()
		courtesy.Wait(b.Context()) // not part of the check, and not left to overlap the floor
		f, err := fl.run(b.Context())
		if err != nil {
			b.Fatal(err)
		}
		floors += f
		n++
		b.StartTimer()
	}
	check, fm := checks/time.Duration(n), floors/time.Duration(n)
	b.ReportMetric(float64(check.Microseconds())/1000, "ms/check")
	b.ReportMetric(float64(fm.Microseconds())/1000, "ms/floor")
	b.ReportMetric(float64(check)/float64(fm), "x-floor")
}

// floor runs the two chains a check cannot avoid, each as bare as it can
// be, in parallel, and returns the time until both are done.
type floor struct {
	dns                 string
	roots               *x509.CertPool
	domain              string
	httpsPort, smtpPort int
}

func (f floor) run(ctx context.Context) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	t0 := time.Now()
	var wg sync.WaitGroup
	var errPolicy, errMX error
	wg.Go(func() { errPolicy = f.policy(ctx) })
	wg.Go(func() { errMX = f.mx(ctx) })
	wg.Wait()
	return time.Since(t0), errors.Join(errPolicy, errMX)
}

// lookup asks one question over UDP and returns the first record's data.
func (f floor) lookup(ctx context.Context, name string, qtype uint16) (string, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	c := &dns.Client{Net: "udp", Timeout: 10 * time.Second}
	r, _, err := c.ExchangeContext(ctx, m, f.dns)
	if err != nil {
		return "", err
	}
	for _, rr := range r.Answer {
		switch v := rr.(type) {
		case *dns.A:
			return v.A.String(), nil
		case *dns.MX:
			return strings.TrimSuffix(v.Mx, "."), nil
		}
	}
	return "", fmt.Errorf("no %s for %s", dns.TypeToString[qtype], name)
}

// policy: A, connect and TLS handshake, GET and the whole response.
func (f floor) policy(ctx context.Context) error {
	host := "mta-sts." + f.domain
	ip, err := f.lookup(ctx, host, dns.TypeA)
	if err != nil {
		return err
	}
	d := tls.Dialer{Config: &tls.Config{ServerName: host, RootCAs: f.roots, NextProtos: []string{"http/1.1"}}}
	c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(ip, strconv.Itoa(f.httpsPort)))
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: "+host+"\r\nConnection: close\r\n\r\n"); err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return err
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil || resp.StatusCode != 200 {
		return fmt.Errorf("policy: %d %v", resp.StatusCode, err)
	}
	return nil
}

// mx: MX, A, connect and banner, EHLO, STARTTLS, TLS handshake.
func (f floor) mx(ctx context.Context) error {
	host, err := f.lookup(ctx, f.domain, dns.TypeMX)
	if err != nil {
		return err
	}
	ip, err := f.lookup(ctx, host, dns.TypeA)
	if err != nil {
		return err
	}
	var nd net.Dialer
	raw, err := nd.DialContext(ctx, "tcp", net.JoinHostPort(ip, strconv.Itoa(f.smtpPort)))
	if err != nil {
		return err
	}
	defer raw.Close()
	tp := textproto.NewConn(raw)
	if _, _, err := tp.ReadResponse(220); err != nil {
		return err
	}
	for _, c := range []struct {
		cmd  string
		code int
	}{{"EHLO floor.invalid", 250}, {"STARTTLS", 220}} {
		if err := tp.PrintfLine("%s", c.cmd); err != nil {
			return err
		}
		if _, _, err := tp.ReadResponse(c.code); err != nil {
			return err
		}
	}
	tc := tls.Client(raw, &tls.Config{ServerName: host, RootCAs: f.roots})
	return tc.HandshakeContext(ctx)
}
