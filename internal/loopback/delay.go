package loopback

import (
	"errors"
	"net"
	"sync"
	"time"
)

// Delay forwards TCP connections and UDP datagrams to a target, every
// segment and datagram handed on a fixed one-way delay after it arrived, as
// a network path with that latency would: a benchmark puts one in front of
// each in-process server to count round trips at the wire, where connects
// and TLS handshakes pay them too, rather than in the servers' replies.
//
// A TCP connect costs a round trip, as on a real path: the target sees the
// connection one delay after the client connected (its SYN), and nothing
// the client sends reaches the target before three delays (the client
// could only send once the SYN-ACK was back). Bytes are forwarded in order
// in each direction; an end of stream is forwarded like data (a half close),
// and an error closes both sides.
//
// Start one with DelayTCP or DelayUDP (or DelayPair for a DNS server's
// UDP and TCP on one port); Close stops it and every connection through it.
type Delay struct {
	// Addr is the address clients use (host:port).
	Addr string

	target string
	delay  time.Duration
	l      net.Listener
	pc     net.PacketConn

	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{}
	also   *Delay // DelayPair's TCP side, closed with this one
	wg     sync.WaitGroup
}

// maxSegment is the most one read forwards at a time.
const maxSegment = 16 << 10

// DelayTCP forwards the connections l accepts to target after delay.
func DelayTCP(l net.Listener, target string, delay time.Duration) *Delay {
	p := &Delay{Addr: l.Addr().String(), target: target, delay: delay, l: l, conns: map[net.Conn]struct{}{}}
	p.wg.Go(p.acceptLoop)
	return p
}

// DelayUDP forwards the datagrams pc receives to target, and target's
// answers back to their sender, each after delay.
func DelayUDP(pc net.PacketConn, target string, delay time.Duration) *Delay {
	p := &Delay{Addr: pc.LocalAddr().String(), target: target, delay: delay, pc: pc, conns: map[net.Conn]struct{}{}}
	p.wg.Go(p.udpLoop)
	return p
}

// DelayPair binds UDP and TCP on host at one port (ListenPair) and
// forwards both to target (a DNS server) after delay. Close stops both.
func DelayPair(host, target string, delay time.Duration) (*Delay, error) {
	pair, err := ListenPair(host)
	if err != nil {
		return nil, err
	}
	u := DelayUDP(pair.UDP, target, delay)
	t := DelayTCP(pair.TCP, target, delay)
	u.mu.Lock()
	u.also = t
	u.mu.Unlock()
	return u, nil
}

// Close stops forwarding and closes every connection; it is idempotent.
func (p *Delay) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	if p.l != nil {
		_ = p.l.Close()
	}
	if p.pc != nil {
		_ = p.pc.Close()
	}
	for c := range p.conns {
		_ = c.Close()
	}
	also := p.also
	p.mu.Unlock()
	p.wg.Wait()
	if also != nil {
		also.Close()
	}
}

// track registers c to be closed by Close; false when closed already.
func (p *Delay) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		_ = c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Delay) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	_ = c.Close()
}

func (p *Delay) acceptLoop() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if !p.track(c) {
			return
		}
		p.wg.Go(func() { p.forward(c, time.Now()) })
	}
}

// forward joins client to a fresh connection to the target, made one delay
// after the client connected at t0.
func (p *Delay) forward(client net.Conn, t0 time.Time) {
	defer p.untrack(client)
	time.Sleep(time.Until(t0.Add(p.delay)))
	d := net.Dialer{Timeout: 10 * time.Second}
	server, err := d.Dial("tcp", p.target)
	if err != nil || !p.track(server) {
		return
	}
	defer p.untrack(server)
	var wg sync.WaitGroup
	wg.Go(func() { p.pipe(server, client, t0.Add(3*p.delay)) })
	wg.Go(func() { p.pipe(client, server, time.Time{}) })
	wg.Wait()
}

// pipe copies src to dst, each segment delay after it was read but never
// before notBefore; src's end of stream half-closes dst. A failure closes
// both.
func (p *Delay) pipe(dst, src net.Conn, notBefore time.Time) {
	type segment struct {
		at time.Time
		b  []byte
	}
	q := make(chan segment, 256)
	go func() {
		defer close(q)
		for {
			buf := make([]byte, maxSegment)
			n, err := src.Read(buf)
			if n > 0 {
				at := time.Now().Add(p.delay)
				if at.Before(notBefore) {
					at = notBefore
				}
				q <- segment{at, buf[:n]}
			}
			if err != nil {
				return
			}
		}
	}()
	ok := true
	for s := range q {
		if !ok {
			continue // drain, so that the reader ends
		}
		time.Sleep(time.Until(s.at))
		if _, err := dst.Write(s.b); err != nil {
			ok = false
			_ = dst.Close()
			_ = src.Close()
		}
	}
	if !ok {
		return
	}
	// End of stream (or a read error): forwarded one delay later.
	time.Sleep(p.delay)
	if cw, isTCP := dst.(interface{ CloseWrite() error }); isTCP {
		_ = cw.CloseWrite()
	} else {
		_ = dst.Close()
	}
}

// udpIdle ends the upstream socket of a client that sent nothing for so long.
const udpIdle = 30 * time.Second

func (p *Delay) udpLoop() {
	upstream := map[string]net.Conn{}
	buf := make([]byte, 64<<10)
	for {
		n, from, err := p.pc.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		b := append([]byte(nil), buf[:n]...)
		key := from.String()
		up, ok := upstream[key]
		if !ok {
			up, err = net.Dial("udp", p.target)
			if err != nil || !p.track(up) {
				continue
			}
			upstream[key] = up
			p.wg.Go(func() { p.udpBack(up, from) })
		}
		at := time.Now().Add(p.delay)
		p.wg.Add(1)
		time.AfterFunc(time.Until(at), func() {
			defer p.wg.Done()
			_ = up.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = up.Write(b)
		})
		if len(upstream) > 4096 { // forget old clients (their sockets end by idling)
			clear(upstream)
		}
	}
}

// udpBack forwards the target's answers on up to the client at to.
func (p *Delay) udpBack(up net.Conn, to net.Addr) {
	defer p.untrack(up)
	buf := make([]byte, 64<<10)
	for {
		_ = up.SetReadDeadline(time.Now().Add(udpIdle))
		n, err := up.Read(buf)
		if err != nil {
			return
		}
		b := append([]byte(nil), buf[:n]...)
		at := time.Now().Add(p.delay)
		p.wg.Add(1)
		time.AfterFunc(time.Until(at), func() {
			defer p.wg.Done()
			_, _ = p.pc.WriteTo(b, to)
		})
	}
}
