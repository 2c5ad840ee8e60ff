package sandbox

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/stspilot/stspilot/dnsprovider"
	"github.com/stspilot/stspilot/workflow"
)

// ---------------------------------------------------------------- DNS

// serveDNS answers, authoritatively, from the static records of the
// sandbox and the zone the memory provider holds (what the engine wrote).
func (s *Sandbox) dnsHandler() dns.Handler {
	return dns.HandlerFunc(func(rw dns.ResponseWriter, q *dns.Msg) {
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
		rrs := s.rrsAt(name)
		for _, rr := range rrs {
			t := rr.Header().Rrtype
			if t == qq.Qtype || (t == dns.TypeCNAME && qq.Qtype != dns.TypeCNAME) {
				m.Answer = append(m.Answer, rr)
			}
		}
		if len(rrs) == 0 {
			m.Rcode = dns.RcodeNameError
		}
		if len(m.Answer) == 0 && dns.IsSubDomain(s.zone, name) {
			if soa := s.rrsAt(s.zone); len(soa) > 0 {
				for _, rr := range soa {
					if rr.Header().Rrtype == dns.TypeSOA {
						m.Ns = append(m.Ns, rr)
					}
				}
			}
		}
		size := dns.MinMsgSize
		if opt := q.IsEdns0(); opt != nil {
			m.SetEdns0(opt.UDPSize(), false)
			size = int(opt.UDPSize())
		}
		if _, udp := rw.RemoteAddr().(*net.UDPAddr); udp {
			m.Truncate(size)
		}
		_ = rw.WriteMsg(m)
	})
}

// rrsAt returns every record at name (lower-case FQDN).
func (s *Sandbox) rrsAt(name string) []dns.RR {
	s.mu.Lock()
	out := make([]dns.RR, 0, len(s.static[name]))
	for _, rr := range s.static[name] {
		out = append(out, dns.Copy(rr))
	}
	s.mu.Unlock()
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

func (s *Sandbox) startDNS() error {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	port := pc.LocalAddr().(*net.UDPAddr).Port
	tl, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		pc.Close()
		return err
	}
	h := s.dnsHandler()
	us := &dns.Server{PacketConn: pc, Handler: h}
	ts := &dns.Server{Listener: tl, Handler: h, ReadTimeout: 5 * time.Second}
	go func() { _ = us.ActivateAndServe() }()
	go func() { _ = ts.ActivateAndServe() }()
	s.DNSAddr = pc.LocalAddr().String()
	s.DNSPort = port
	s.closers = append(s.closers, func() { _ = us.Shutdown(); _ = ts.Shutdown() })
	return nil
}

// ---------------------------------------------------------------- HTTPS

// policyHandler serves the publisher's file, or one of the policy-host
// failures of the field guide when it is injected.
func (s *Sandbox) policyHandler() http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/"+workflow.WellKnownPath {
			http.NotFound(rw, r)
			return
		}
		switch {
		case s.Broken(PolicyNotFound):
			http.NotFound(rw, r)
			return
		case s.Broken(PolicyRedirect):
			http.Redirect(rw, r, "https://www."+s.Domain+"/"+workflow.WellKnownPath, http.StatusMovedPermanently)
			return
		}
		b := s.Publisher.File(s.Domain)
		if b == nil {
			http.NotFound(rw, r)
			return
		}
		ct := "text/plain; charset=utf-8"
		if s.Broken(PolicyContentType) {
			ct = "text/html; charset=utf-8"
		}
		rw.Header().Set("Content-Type", ct)
		_, _ = rw.Write(b)
	})
}

func (s *Sandbox) startHTTPS(ip string) error {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return err
	}
	s.HTTPSPort = l.Addr().(*net.TCPAddr).Port
	srv := &http.Server{
		Handler:           s.policyHandler(),
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
		TLSConfig: &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			if s.Broken(PolicyCertExpired) {
				return s.policyExpired, nil
			}
			return s.policyCert, nil
		}},
	}
	go func() { _ = srv.ServeTLS(l, "", "") }()
	s.closers = append(s.closers, func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = srv.Close()
	})
	return nil
}

// ---------------------------------------------------------------- SMTP

// mxServer is a small STARTTLS MX: a greeting, EHLO offering STARTTLS,
// the TLS handshake with the certificate its host is meant to have (or
// the wrong one when that failure is injected), EHLO again and QUIT.
type mxServer struct {
	s    *Sandbox
	host string // the MX host whose address this is
	l    net.Listener
	wg   sync.WaitGroup
}

func (s *Sandbox) startMX(host, ip string, port int) (*mxServer, int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, fmt.Sprint(port)))
	if err != nil {
		return nil, 0, err
	}
	m := &mxServer{s: s, host: host, l: l}
	m.wg.Add(1)
	go m.serve()
	s.closers = append(s.closers, func() { _ = l.Close(); m.wg.Wait() })
	return m, l.Addr().(*net.TCPAddr).Port, nil
}

func (m *mxServer) serve() {
	defer m.wg.Done()
	for {
		c, err := m.l.Accept()
		if err != nil {
			return
		}
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			defer c.Close()
			m.session(c)
		}()
	}
}

// maxLine caps each command line read.
const maxLine = 1024

func (m *mxServer) session(c net.Conn) {
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	var conn net.Conn = c
	br := bufio.NewReaderSize(io.LimitReader(conn, 64<<10), maxLine)
	write := func(s string) bool {
		_, err := io.WriteString(conn, s+"\r\n")
		return err == nil
	}
	if !write("220 " + m.host + " ESMTP stspilot sandbox") {
		return
	}
	tlsOn := false
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(string(line)))
		verb, _, _ := strings.Cut(cmd, " ")
		switch verb {
		case "EHLO", "HELO":
			if tlsOn {
				write("250-" + m.host + "\r\n250-PIPELINING\r\n250 8BITMIME")
			} else {
				write("250-" + m.host + "\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 STARTTLS")
			}
		case "STARTTLS":
			if tlsOn {
				write("503 5.5.1 TLS already active")
				continue
			}
			if !write("220 2.0.0 ready to start TLS") {
				return
			}
			tc := tls.Server(c, &tls.Config{GetCertificate: func(hi *tls.ClientHelloInfo) (*tls.Certificate, error) {
				return m.s.mxCert(hi.ServerName, m.host), nil
			}})
			if err := tc.Handshake(); err != nil {
				return
			}
			conn, tlsOn = tc, true
			br = bufio.NewReaderSize(io.LimitReader(conn, 64<<10), maxLine)
		case "NOOP", "RSET":
			write("250 2.0.0 OK")
		case "QUIT":
			write("221 2.0.0 bye")
			return
		default:
			write("502 5.5.2 not in the sandbox")
		}
	}
}
