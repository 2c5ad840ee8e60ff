package sandbox

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/stspilot/stspilot/dnsprovider"
	"github.com/stspilot/stspilot/internal/loopback"
	"github.com/stspilot/stspilot/internal/txtrecord"
	"github.com/stspilot/stspilot/workflow/serve"
)

// ---------------------------------------------------------------- DNS

// rrsAt returns every record at name (lower-case FQDN).
func (s *Sandbox) rrsAt(name string) []dns.RR {
	out, _ := s.static.Records(name)
	for _, r := range s.mem.Records(s.zone) {
		abs := strings.ToLower(r.Name)
		if abs == "@" {
			abs = s.zone
		} else if !strings.HasSuffix(abs, ".") {
			abs += "." + s.zone
		}
		if abs != name {
			continue
		}
		data := r.Data
		if r.Type == "TXT" {
			data = dnsprovider.QuoteTXT(data)
		}
		rr, err := dns.NewRR(fmt.Sprintf("%s %d IN %s %s", abs, int(r.TTL/time.Second), r.Type, data))
		if err == nil && rr != nil {
			out = append(out, rr)
		}
	}
	return out
}

// startDNS serves, authoritatively, the static records of the sandbox and
// the zone the memory provider holds (what the engine wrote).
func (s *Sandbox) startDNS() error {
	d, err := loopback.StartDNS(loopback.DNSConfig{
		Host: ip1, Apex: s.zone,
		Records: func(name string) ([]dns.RR, bool) { return s.rrsAt(name), false },
	})
	if err != nil {
		return err
	}
	s.DNSAddr, s.DNSPort = d.Addr, d.Port
	s.closers = append(s.closers, d.Close)
	return nil
}

// ---------------------------------------------------------------- HTTPS

// policyHandler serves the publisher's file, or one of the policy-host
// field failures (docs/design.md) when it is injected, and logs each
// request to the access log as serve does, on the sandbox clock.
func (s *Sandbox) policyHandler() http.Handler {
	return serve.LogRequests(s.accessLog, s.Clock.Now, s.answerPolicy)
}

// answerPolicy answers one request of the policy host; e gets the domain
// and the policy id of a policy served.
func (s *Sandbox) answerPolicy(rw http.ResponseWriter, r *http.Request, e *serve.AccessEntry) {
	if r.URL.Path != txtrecord.WellKnownPath {
		http.NotFound(rw, r)
		return
	}
	switch {
	case s.Broken(PolicyNotFound):
		http.NotFound(rw, r)
		return
	case s.Broken(PolicyRedirect):
		http.Redirect(rw, r, "https://www."+s.Domain+txtrecord.WellKnownPath, http.StatusMovedPermanently)
		return
	}
	b, id := s.Publisher.Served(s.Domain)
	if b == nil {
		http.NotFound(rw, r)
		return
	}
	ct := "text/plain; charset=utf-8"
	if s.Broken(PolicyContentType) {
		ct = "text/html; charset=utf-8"
	}
	e.Domain, e.PolicyID = s.Domain, id
	rw.Header().Set("Content-Type", ct)
	_, _ = rw.Write(b)
}

func (s *Sandbox) startHTTPS(ip string) error {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return err
	}
	s.HTTPSPort = l.Addr().(*net.TCPAddr).Port
	cfg := &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		if s.Broken(PolicyCertExpired) {
			return s.policyExpired, nil
		}
		return s.policyCert, nil
	}}
	s.closers = append(s.closers, loopback.ServeHTTPS(l, cfg, s.policyHandler()))
	return nil
}

// ---------------------------------------------------------------- SMTP

// startMX serves a small STARTTLS MX for host on l: a greeting, EHLO
// offering STARTTLS, the TLS handshake with the certificate its host is
// meant to have (or the wrong one when that failure is injected), EHLO
// again and QUIT.
func (s *Sandbox) startMX(host string, l net.Listener) error {
	m := &loopback.SMTP{
		Hostname:    host,
		Listener:    l,
		BannerLines: []string{host + " ESMTP stspilot sandbox"},
		EHLOLines:   []string{"PIPELINING", "8BITMIME"},
		MinVersion:  tls.VersionTLS12,
		GetCertificate: func(hi *tls.ClientHelloInfo) (*tls.Certificate, error) {
			return s.mxCert(hi.ServerName, host), nil
		},
		SessionTimeout: 30 * time.Second,
	}
	if err := m.Listen(); err != nil {
		_ = l.Close()
		return err
	}
	s.closers = append(s.closers, m.Close)
	return nil
}
