package serve

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stspilot/stspilot/internal/txtrecord"
)

// The fast path: serve's own request loop for the one request senders
// make, a policy GET over TLS on HTTP/1.1. net/http's per-request
// machinery (its deadlines, the background read it starts and aborts
// around every request, its buffered writer and header maps) cost more
// than the whole answer; this loop reads the request with one capped
// buffer, answers from the policy in memory with the bytes net/http would
// write, and hands everything else to the net/http server unchanged.
//
// It answers only a request whose head is exactly
//
//	GET /.well-known/mta-sts.txt HTTP/1.1 CRLF
//	header lines of token names and printable ASCII values, CRLF-ended
//	CRLF
//
// with exactly one Host, equal to the TLS server name (SNI) and naming
// mta-sts.DOMAIN of a domain with a policy; at most one User-Agent; no
// Content-Length, Transfer-Encoding, Expect or Upgrade; at most one
// Connection, "close" or "keep-alive"; and a head that fits the buffer.
// Anything else (another path or method, a report, HTTP/1.0, a HEAD, a
// malformed or oversized head, a wrong Host, no policy) is handed, with
// every byte read so far replayed first, to the net/http server, which
// answers it and the rest of the connection as it does without the fast
// path. The connection tracker's phases, the timeouts, the access log and
// the fetch counters are the handler's.

// fastBufSize is the fast path's read buffer: a head that does not fit
// is handed off (net/http's own cap, MaxHeaderBytes, is larger).
const fastBufSize = 4 << 10

// fastRequestLine is the only request line the fast path answers.
const fastRequestLine = "GET " + policyPath + " HTTP/1.1\r\n"

// headVerdict is what parseHead makes of the bytes read so far.
type headVerdict uint8

const (
	headMore    headVerdict = iota // a prefix of a head the fast path may answer
	headFast                       // a complete head the fast path answers
	headHandOff                    // anything else: net/http answers it
)

// fastHead is a head the fast path answers; its slices point into the
// parsed bytes.
type fastHead struct {
	host, userAgent []byte
	close           bool
}

// parseHead reads a request head from the start of b. With headFast, n is
// the head's length (through the empty line) and h its fields. It never
// reads past b and accepts a strict subset of what net/http accepts with
// the same meaning (FuzzParseHead compares the two).
func parseHead(b []byte) (h fastHead, n int, v headVerdict) {
	if len(b) < len(fastRequestLine) {
		if string(b) != fastRequestLine[:len(b)] {
			return h, 0, headHandOff
		}
		return h, 0, headMore
	}
	if string(b[:len(fastRequestLine)]) != fastRequestLine {
		return h, 0, headHandOff
	}
	var seenHost, seenUA, seenConn bool
	i := len(fastRequestLine)
	for {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return fastHead{}, 0, headMore
		}
		j += i
		if j == i || b[j-1] != '\r' {
			return fastHead{}, 0, headHandOff // a bare LF
		}
		line := b[i : j-1]
		i = j + 1
		if len(line) == 0 {
			if !seenHost {
				return fastHead{}, 0, headHandOff
			}
			return h, i, headFast
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return fastHead{}, 0, headHandOff // no name, or a folded line
		}
		name := line[:colon]
		for _, c := range name {
			if !isTokenByte(c) {
				return fastHead{}, 0, headHandOff
			}
		}
		value := trimOWS(line[colon+1:])
		for _, c := range value {
			if (c < ' ' && c != '\t') || c >= 0x7f {
				return fastHead{}, 0, headHandOff
			}
		}
		switch {
		case equalFold(name, "host"):
			if seenHost || !plainHost(value) {
				return fastHead{}, 0, headHandOff
			}
			seenHost, h.host = true, value
		case equalFold(name, "user-agent"):
			if seenUA {
				return fastHead{}, 0, headHandOff
			}
			seenUA, h.userAgent = true, value
		case equalFold(name, "connection"):
			if seenConn {
				return fastHead{}, 0, headHandOff
			}
			seenConn = true
			switch {
			case equalFold(value, "close"):
				h.close = true
			case equalFold(value, "keep-alive"):
			default:
				return fastHead{}, 0, headHandOff
			}
		case equalFold(name, "content-length"), equalFold(name, "transfer-encoding"),
			equalFold(name, "expect"), equalFold(name, "upgrade"):
			return fastHead{}, 0, headHandOff
		}
	}
}

// isTokenByte reports whether c may appear in a header name (RFC 9110
// tchar).
func isTokenByte(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// plainHost reports whether a Host value is a bare DNS name: letters,
// digits, dots and hyphens, no port.
func plainHost(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// equalFold reports whether b is s (lower case) in any case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// httpDate is the Date header's value for t, as net/http writes it;
// computed once a second.
func httpDate(t time.Time) []byte {
	sec := t.Unix()
	if d := dateCache.Load(); d != nil && d.sec == sec {
		return d.b
	}
	d := &cachedDate{sec: sec, b: t.UTC().AppendFormat(make([]byte, 0, len(http.TimeFormat)), http.TimeFormat)}
	dateCache.Store(d)
	return d.b
}

type cachedDate struct {
	sec int64
	b   []byte
}

var dateCache atomic.Pointer[cachedDate]

// fastConn is one TLS connection on the fast path.
type fastConn struct {
	s       *Server
	raw     *trackedConn
	tc      *tls.Conn
	remote  string
	sni     string // the TLS server name as sent
	sniHost string // hostName(sni)
	buf     []byte
	r, w    int // buf[r:w] is read and not yet answered
	out     []byte
	handed  bool // handed off: buf belongs to net/http's connection
	// The last request's Host and User-Agent as strings, reused while
	// the next request sends the same bytes.
	host, domain, ua string
}

// serveTLS serves one accepted connection: the TLS handshake as net/http
// does it, then the fast path's loop.
func (s *Server) serveTLS(raw *trackedConn) {
	defer s.fastDone(raw)
	tc := tls.Server(raw, s.srv.TLSConfig)
	if d := s.handshakeTimeout(); d > 0 {
		dl := time.Now().Add(d)
		_ = tc.SetDeadline(dl)
	}
	if err := tc.HandshakeContext(s.hsCtx); err != nil {
		reason := err.Error()
		var re tls.RecordHeaderError
		if errors.As(err, &re) && re.Conn != nil && looksLikeHTTP(re.RecordHeader) {
			_, _ = io.WriteString(re.Conn, "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
			reason = "client sent an HTTP request to an HTTPS server"
		}
		s.srv.ErrorLog.Printf("http: TLS handshake error from %s: %v", raw.RemoteAddr(), reason)
		raw.Close()
		return
	}
	_ = tc.SetDeadline(time.Time{})
	st := tc.ConnectionState()
	if p := st.NegotiatedProtocol; p != "" && p != "http/1.1" && p != "http/1.0" {
		// acme-tls/1: the handshake was the answer (net/http closes too).
		tc.Close()
		return
	}
	c := &fastConn{s: s, raw: raw, tc: tc, remote: raw.RemoteAddr().String(), sni: st.ServerName, sniHost: hostName(st.ServerName)}
	if s.cfg.ReadHeaderTimeout > 0 {
		_ = tc.SetReadDeadline(time.Now().Add(s.cfg.ReadHeaderTimeout))
	}
	c.loop()
	if c.buf != nil && !c.handed {
		fastBufs.Put(&fastBuffers{in: c.buf, out: c.out[:0]})
	}
}

// fastBuffers are a connection's read buffer and answer buffer, kept for
// the next connection (a handed-off connection's stay with it).
type fastBuffers struct{ in, out []byte }

var fastBufs = sync.Pool{New: func() any { return &fastBuffers{in: make([]byte, fastBufSize)} }}

// looksLikeHTTP is net/http's test of a TLS record header that is an
// HTTP request's start.
func looksLikeHTTP(hdr [5]byte) bool {
	switch string(hdr[:]) {
	case "GET /", "HEAD ", "POST ", "PUT /", "OPTIO":
		return true
	}
	return false
}

// handshakeTimeout is net/http's: the shortest of the header, read and
// write timeouts.
func (s *Server) handshakeTimeout() time.Duration {
	var d time.Duration
	for _, v := range []time.Duration{s.cfg.ReadHeaderTimeout, s.cfg.ReadTimeout, s.cfg.WriteTimeout} {
		if v > 0 && (d == 0 || v < d) {
			d = v
		}
	}
	return d
}

// loop answers requests until the connection ends or is handed off.
func (c *fastConn) loop() {
	s := c.s
	first := true
	for {
		h, n, ok := c.readHead(first)
		if !ok {
			return
		}
		if h == nil {
			c.handOff()
			return
		}
		if !c.answer(h, n) {
			c.handOff()
			return
		}
		first = false
		if h.close {
			c.tc.Close()
			return
		}
		s.conns.setIdle(c.raw)
		if s.closing.Load() {
			c.tc.Close()
			return
		}
	}
}

// readHead reads until buf[r:] starts with a complete head the fast path
// answers (h, its length n), or one to hand off (h nil); ok is false when
// the connection ended (it is closed). The deadlines are net/http's: a
// kept-alive connection waits IdleTimeout for a request's first bytes,
// and its head must be in ReadHeaderTimeout after them (the first
// request's header deadline is set after the handshake); a head read
// whole in one go costs no deadline of its own.
func (c *fastConn) readHead(first bool) (h *fastHead, n int, ok bool) {
	hdrDeadline := first
	for {
		fh, n, v := parseHead(c.buf[c.r:c.w])
		switch v {
		case headFast:
			return &fh, n, true
		case headHandOff:
			return nil, 0, true
		}
		if c.buf == nil {
			fb := fastBufs.Get().(*fastBuffers)
			c.buf, c.out = fb.in, fb.out
		}
		if c.r == c.w {
			c.r, c.w = 0, 0
			if d := c.s.cfg.IdleTimeout; d > 0 && !hdrDeadline {
				_ = c.tc.SetReadDeadline(time.Now().Add(d))
			}
		} else if !hdrDeadline {
			hdrDeadline = true
			if d := c.s.cfg.ReadHeaderTimeout; d > 0 {
				_ = c.tc.SetReadDeadline(time.Now().Add(d))
			}
		}
		if c.w == len(c.buf) {
			if c.r == 0 {
				return nil, 0, true // a head larger than the buffer
			}
			c.w = copy(c.buf, c.buf[c.r:c.w])
			c.r = 0
		}
		m, err := c.tc.Read(c.buf[c.w:])
		c.w += m
		if err != nil && m == 0 {
			if c.r < c.w && errors.Is(err, io.EOF) {
				// Part of a head and then the end: net/http
				// answers it (400) and meets the same end.
				return nil, 0, true
			}
			// Nothing of a request, a timeout, a closed
			// connection: net/http closes without an answer.
			c.tc.Close()
			return nil, 0, false
		}
	}
}

// answer answers the head h of n bytes at buf[r:] with the policy, as the
// handler would; it reports false, having written nothing, when the
// handler would not answer 200 with a policy (the connection is then
// handed off with the request unread).
func (c *fastConn) answer(h *fastHead, n int) bool {
	s := c.s
	hd := s.handler
	if c.sni == "" {
		return false
	}
	if string(h.host) != c.host {
		host := hostName(string(h.host))
		domain, ok := strings.CutPrefix(host, txtrecord.PolicyHostPrefix)
		if !ok || domain == "" || host != c.sniHost {
			return false
		}
		c.host, c.domain = string(h.host), domain
	}
	start := now()
	p, ok := hd.Policies.cached(c.domain, start)
	if !ok {
		var err error
		if p, err = hd.Policies.Lookup(c.domain); err != nil {
			return false
		}
	}
	s.conns.setActive(c.raw)
	c.r += n
	if string(h.userAgent) != c.ua {
		c.ua = string(h.userAgent)
	}
	if s.closing.Load() {
		// Shutting down: the last answer on this connection, and it
		// says so, as net/http's does.
		h.close = true
	}
	b := append(c.out[:0], "HTTP/1.1 200 OK\r\nCache-Control: no-store\r\nContent-Length: "...)
	b = append(b, p.clen[0]...)
	b = append(b, "\r\nContent-Type: text/plain\r\nX-Content-Type-Options: nosniff\r\nDate: "...)
	b = append(b, httpDate(time.Now())...)
	if h.close {
		b = append(b, "\r\nConnection: close"...)
	}
	b = append(b, "\r\n\r\n"...)
	b = append(b, p.Data...)
	c.out = b
	// Counted and logged before the answer goes out, as the handler's
	// are (net/http writes its answer after the handler returns).
	p.Counts.Inc(ClassifySender(c.ua))
	if hd.Log != nil {
		e := AccessEntry{
			Time: start.UTC(), Remote: c.remote, Proto: "HTTP/1.1", Host: c.host, SNI: c.sni,
			Method: http.MethodGet, Path: policyPath, Status: http.StatusOK, Bytes: int64(len(p.Data)),
			UserAgent: c.ua, Domain: p.Domain, PolicyID: p.ID,
		}
		e.DurationMS = float64(now().Sub(start).Microseconds()) / 1000
		hd.Log.Log(e)
	}
	if d := s.cfg.WriteTimeout; d > 0 {
		_ = c.tc.SetWriteDeadline(time.Now().Add(d))
	}
	if _, err := c.tc.Write(b); err != nil {
		h.close = true // the loop closes the connection
	}
	return true
}

// handOff gives the connection to the net/http server, the bytes read and
// not answered first.
func (c *fastConn) handOff() {
	s := c.s
	s.handedOff.Add(1)
	s.fastForget(c.raw)
	// The deadlines are net/http's from here.
	_ = c.tc.SetDeadline(time.Time{})
	c.handed = true
	hc := &handoffConn{Conn: c.tc, raw: c.raw, pending: c.buf[c.r:c.w]}
	select {
	case s.handoff.ch <- hc:
	case <-s.handoff.done:
		c.tc.Close()
	}
}

// handoffConn is a TLS connection handed to net/http: it reads the bytes
// the fast path read first. Its ConnectionState (of the embedded
// *tls.Conn) gives net/http the request's TLS state.
type handoffConn struct {
	*tls.Conn
	raw     *trackedConn
	pending []byte
}

func (c *handoffConn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// handoffListener is the net/http server's listener of handed-off
// connections.
type handoffListener struct {
	addr net.Addr
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func newHandoffListener(addr net.Addr) *handoffListener {
	return &handoffListener{addr: addr, ch: make(chan net.Conn), done: make(chan struct{})}
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *handoffListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *handoffListener) Addr() net.Addr { return l.addr }

// fastConns are the connections on the fast path, for shutdown.
type fastConns struct {
	mu    sync.Mutex
	conns map[*trackedConn]struct{}
	wg    sync.WaitGroup
}

// acceptTLS accepts on ln and serves each connection on the fast path
// until ln is closed.
func (s *Server) acceptTLS(ln net.Listener) error {
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.closing.Load() || errors.Is(err, net.ErrClosed) {
				return nil
			}
			// net/http's retry of a temporary error (EMFILE, ...).
			if te, ok := err.(interface{ Temporary() bool }); ok && te.Temporary() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.srv.ErrorLog.Printf("http: Accept error: %v; retrying in %v", err, delay)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		raw := c.(*trackedConn)
		s.fast.mu.Lock()
		if s.closing.Load() {
			s.fast.mu.Unlock()
			raw.Close()
			continue
		}
		s.fast.conns[raw] = struct{}{}
		s.fast.wg.Add(1)
		s.fast.mu.Unlock()
		go s.serveTLS(raw)
	}
}

// fastForget takes raw off the fast path's books (it was handed off).
func (s *Server) fastForget(raw *trackedConn) {
	s.fast.mu.Lock()
	delete(s.fast.conns, raw)
	s.fast.mu.Unlock()
}

// fastDone ends raw's time on the fast path.
func (s *Server) fastDone(raw *trackedConn) {
	s.fastForget(raw)
	s.fast.wg.Done()
}

// shutdownFast closes the fast path's idle connections, lets the others
// finish their request until ctx ends, then closes what is left.
func (s *Server) shutdownFast(ctx context.Context) {
	s.closing.Store(true)
	s.conns.closeIdle()
	done := make(chan struct{})
	go func() {
		s.fast.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return
	case <-ctx.Done():
	}
	s.hsCancel()
	s.fast.mu.Lock()
	for c := range s.fast.conns {
		c.Conn.Close()
	}
	s.fast.mu.Unlock()
	<-done
}
