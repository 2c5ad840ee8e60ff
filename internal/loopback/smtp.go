package loopback

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Hostile selects a misbehaviour in place of a normal session.
type Hostile int

// The behaviours of an SMTP server.
const (
	Polite              Hostile = iota // a normal, RFC 5321 conforming server
	Silent                             // accept the connection, never send anything
	EndlessBanner                      // "220-..." continuation lines, up to FloodBytes
	NoCRLF                             // "220 " then bytes without a line ending, up to FloodBytes
	Flood                              // long "220-" lines, up to FloodBytes
	Binary                             // pseudo-random bytes, up to FloodBytes
	StallAfterBanner                   // greet, then read and never answer
	SSL3Only                           // answer the ClientHello with an SSL 3.0 ServerHello
	InjectAfterSTARTTLS                // send an extra reply in the same packet as the STARTTLS 220
)

// maxLine caps a command line (a longer one ends the session) and
// maxCommandBytes what a session reads as commands before and after
// STARTTLS each.
const (
	maxLine         = 4096
	maxCommandBytes = 1 << 20
)

// FloodBytes is how much the flooding modes send at most: 1 GiB.
const FloodBytes = 1 << 30

// SMTP is an MX on loopback: a greeting, EHLO offering STARTTLS, the TLS
// handshake with a configurable certificate and TLS versions, and the
// misbehaviours an MX probe must survive (see Hostile). Set the fields,
// then call Listen (or Start in a test); do not change them afterwards,
// except Delay.
type SMTP struct {
	Hostname string          // name in the greeting and the EHLO reply; "" = "mx.smtptest.test"
	Cert     tls.Certificate // presented after STARTTLS; zero = handshake fails for lack of one
	// GetCertificate, when set, chooses the certificate instead of Cert
	// (the SNI is recorded first).
	GetCertificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	NoSTARTTLS     bool // leave STARTTLS out of EHLO and refuse the command
	// MinVersion and MaxVersion bound the TLS versions served. MinVersion 0
	// means TLS 1.0 (Go servers default to 1.2, which would hide old-version
	// tests); MaxVersion 0 means Go's maximum.
	MinVersion, MaxVersion uint16
	CipherSuites           []uint16 // TLS 1.0-1.2 suites served; nil = Go's defaults
	BannerCode             int      // greeting code; 0 = 220
	// BannerLines are the greeting's lines; nil = one line "<Hostname> ESMTP
	// smtptest". Several lines make a multi-line greeting.
	BannerLines []string
	// EHLOLines are the EHLO reply's lines after the first (which is the
	// host name); nil = PIPELINING, SIZE 10240000, 8BITMIME. STARTTLS is
	// appended unless NoSTARTTLS.
	EHLOLines []string
	Delay     time.Duration // before every reply
	Hostile   Hostile
	Addr      string // listen address; "" = "127.0.0.1:0"
	// Listener, when set, is served instead of listening on Addr (for
	// ports shared by several servers, see ListenTCP).
	Listener net.Listener
	// SessionTimeout bounds every session; 0 = a minute.
	SessionTimeout time.Duration

	l         net.Listener
	ehlo      []string // the EHLO reply lines, STARTTLS excluded
	tlsCfg    *tls.Config
	done      chan struct{}
	wg        sync.WaitGroup
	written   atomic.Int64
	closeOnce sync.Once

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	sni   []string
	cmds  []string
}

// TB is the part of testing.TB that Start uses (the package does not
// import testing: the sandbox of the binary uses it too).
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// Start listens and serves in the background until Close, which t.Cleanup
// calls; a failure to listen ends the test.
func (s *SMTP) Start(t TB) {
	t.Helper()
	if err := s.Listen(); err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(s.Close)
}

// Listen listens and serves in the background until Close.
func (s *SMTP) Listen() error {
	if s.Hostname == "" {
		s.Hostname = "mx.smtptest.test"
	}
	if s.BannerCode == 0 {
		s.BannerCode = 220
	}
	if s.BannerLines == nil {
		s.BannerLines = []string{s.Hostname + " ESMTP smtptest"}
	}
	s.ehlo = append([]string{s.Hostname}, s.EHLOLines...)
	if s.EHLOLines == nil {
		s.ehlo = append(s.ehlo, "PIPELINING", "SIZE 10240000", "8BITMIME")
	}
	addr := s.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	minV := s.MinVersion
	if minV == 0 {
		minV = tls.VersionTLS10
	}
	s.tlsCfg = &tls.Config{
		MinVersion:   minV,
		MaxVersion:   s.MaxVersion,
		CipherSuites: s.CipherSuites,
		GetCertificate: func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
			s.mu.Lock()
			s.sni = append(s.sni, h.ServerName)
			s.mu.Unlock()
			if s.GetCertificate != nil {
				return s.GetCertificate(h)
			}
			if len(s.Cert.Certificate) == 0 {
				return nil, errors.New("loopback: no certificate configured")
			}
			return &s.Cert, nil
		},
	}
	l := s.Listener
	if l == nil {
		var err error
		if l, err = net.Listen("tcp", addr); err != nil {
			return fmt.Errorf("loopback: SMTP listen: %w", err)
		}
	}
	s.l, s.done, s.conns = l, make(chan struct{}), map[net.Conn]struct{}{}
	s.wg.Go(s.serve)
	return nil
}

// AddrPort is the address the server listens on.
func (s *SMTP) AddrPort() netip.AddrPort {
	return s.l.Addr().(*net.TCPAddr).AddrPort()
}

// Port is the port the server listens on, for Prober.Port.
func (s *SMTP) Port() int { return int(s.AddrPort().Port()) }

// Close stops the server and ends every session. It is idempotent.
func (s *SMTP) Close() {
	if s.l == nil {
		return
	}
	s.closeOnce.Do(func() {
		s.mu.Lock()
		close(s.done)
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.l.Close()
	})
	s.wg.Wait()
}

// ServerNames returns the SNI of every TLS ClientHello received, in order.
func (s *SMTP) ServerNames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.sni...)
}

// Commands returns every command line received, in order; those received
// over TLS are prefixed with "TLS ".
func (s *SMTP) Commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.cmds...)
}

// BytesWritten is how much the server has written on all connections.
func (s *SMTP) BytesWritten() int64 { return s.written.Load() }

func (s *SMTP) serve() {
	for {
		c, err := s.l.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		select {
		case <-s.done:
			s.mu.Unlock()
			c.Close()
			return
		default:
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Go(func() {
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				c.Close()
			}()
			timeout := s.SessionTimeout
			if timeout <= 0 {
				timeout = time.Minute
			}
			_ = c.SetDeadline(time.Now().Add(timeout))
			s.session(c)
		})
	}
}

// conn is one session's state.
type conn struct {
	s     *SMTP
	c     net.Conn
	br    *bufio.Reader
	tlsOn bool
}

func (c *conn) say(lines ...string) bool {
	if c.s.Delay > 0 {
		t := time.NewTimer(c.s.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-c.s.done:
			return false
		}
	}
	n, err := io.WriteString(c.c, strings.Join(lines, "\r\n")+"\r\n")
	c.s.written.Add(int64(n))
	return err == nil
}

// reply formats a possibly multi-line reply with code.
func reply(code string, lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		sep := "-"
		if i == len(lines)-1 {
			sep = " "
		}
		out[i] = code + sep + l
	}
	return out
}

func (s *SMTP) session(nc net.Conn) {
	c := &conn{s: s, c: nc, br: bufio.NewReaderSize(io.LimitReader(nc, maxCommandBytes), maxLine)}
	switch s.Hostile {
	case Silent:
		c.drain()
		return
	case EndlessBanner:
		c.flood([]byte("220-smtptest endless banner\r\n"))
		return
	case NoCRLF:
		c.flood([]byte("220 " + strings.Repeat("x", 4092)))
		return
	case Flood:
		c.flood([]byte("220-" + strings.Repeat("F", 2000) + "\r\n"))
		return
	case Binary:
		b := make([]byte, 4096)
		x := uint32(2463534242)
		for i := range b { // xorshift: deterministic, includes NUL, CR, LF, ESC
			x ^= x << 13
			x ^= x >> 17
			x ^= x << 5
			b[i] = byte(x)
		}
		c.flood(b)
		return
	}
	code := itoa3(s.BannerCode)
	if !c.say(reply(code, s.BannerLines)...) {
		return
	}
	if s.Hostile == StallAfterBanner {
		c.drain()
		return
	}
	for {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return
		}
		cmd := strings.TrimRight(string(line), "\r\n")
		s.mu.Lock()
		if c.tlsOn {
			s.cmds = append(s.cmds, "TLS "+cmd)
		} else {
			s.cmds = append(s.cmds, cmd)
		}
		s.mu.Unlock()
		verb, _, _ := strings.Cut(strings.ToUpper(cmd), " ")
		switch {
		case verb == "QUIT":
			c.say("221 2.0.0 Bye")
			return
		case s.BannerCode != 220:
			if !c.say("503 5.5.1 no service") {
				return
			}
		case verb == "EHLO":
			lines := s.ehlo
			if !s.NoSTARTTLS && !c.tlsOn {
				lines = append(lines[:len(lines):len(lines)], "STARTTLS")
			}
			if !c.say(reply("250", lines)...) {
				return
			}
		case verb == "NOOP" || verb == "RSET":
			if !c.say("250 2.0.0 OK") {
				return
			}
		case verb == "HELO":
			if !c.say("250 " + s.Hostname) {
				return
			}
		case verb == "STARTTLS" && !s.NoSTARTTLS && !c.tlsOn:
			if !c.starttls() {
				return
			}
		default:
			if !c.say("502 5.5.2 Error: command not recognized") {
				return
			}
		}
	}
}

// starttls answers STARTTLS and runs the server side of the handshake.
func (c *conn) starttls() bool {
	switch c.s.Hostile {
	case InjectAfterSTARTTLS:
		c.say("220 2.0.0 Ready to start TLS", "250 injected")
		c.drain()
		return false
	case SSL3Only:
		if !c.say("220 2.0.0 Ready to start TLS") {
			return false
		}
		var hdr [5]byte
		if _, err := io.ReadFull(c.c, hdr[:]); err != nil { // the ClientHello record
			return false
		}
		if _, err := io.CopyN(io.Discard, c.c, int64(hdr[3])<<8|int64(hdr[4])); err != nil {
			return false
		}
		n, _ := c.c.Write(ssl3ServerHello())
		c.s.written.Add(int64(n))
		c.drain()
		return false
	}
	if !c.say("220 2.0.0 Ready to start TLS") {
		return false
	}
	tc := tls.Server(c.c, c.s.tlsCfg)
	if err := tc.Handshake(); err != nil {
		return false
	}
	c.c, c.br, c.tlsOn = tc, bufio.NewReaderSize(io.LimitReader(tc, maxCommandBytes), maxLine), true
	return true
}

// ssl3ServerHello is a ServerHello record choosing SSL 3.0 (0x0300) and
// TLS_RSA_WITH_AES_128_CBC_SHA, as a server limited to SSL 3 would send.
func ssl3ServerHello() []byte {
	body := []byte{0x03, 0x00}                  // server_version
	body = append(body, make([]byte, 32)...)    // random
	body = append(body, 0x00, 0x00, 0x2f, 0x00) // session_id (empty), cipher suite, compression
	hs := append([]byte{0x02, 0, 0, byte(len(body))}, body...)
	return append([]byte{0x16, 0x03, 0x00, 0, byte(len(hs))}, hs...)
}

// flood writes chunk repeatedly until FloodBytes, a write error or Close.
func (c *conn) flood(chunk []byte) {
	for sent := 0; sent < FloodBytes; {
		select {
		case <-c.s.done:
			return
		default:
		}
		n, err := c.c.Write(chunk)
		c.s.written.Add(int64(n))
		sent += n
		if err != nil {
			return
		}
	}
}

// drain reads and discards until the client closes or the server stops.
func (c *conn) drain() { _, _ = io.Copy(io.Discard, c.c) }

func itoa3(n int) string {
	if n < 100 || n > 999 {
		return "220"
	}
	return string([]byte{byte('0' + n/100), byte('0' + n/10%10), byte('0' + n%10)})
}
