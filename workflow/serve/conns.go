package serve

import (
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// connTracker bounds the connections of one Server across all its
// listeners, so that no client can take every slot:
//
//   - at most perClient connections from one address (one /64 for IPv6,
//     where a single host commonly has a whole /64); a further connection
//     evicts that client's oldest idle keep-alive connection, or is closed
//     unserved when the client has none idle;
//   - at most max connections in all; at the cap a new connection evicts the
//     oldest idle keep-alive connection, and when none is idle, Accept waits
//     (the kernel's backlog queues) until one is idle or closed;
//   - a connection that has not completed the headers of a first request
//     within header of being accepted (TLS handshake included) is closed.
//
// Connections that are not idle are never evicted: they are bounded by the
// header, read and write timeouts. The accounting happens at accept and at
// http.Server's ConnState transitions: a request on a kept-alive connection
// costs two short critical sections that move the connection off and back
// onto the idle list, and no allocation.
type connTracker struct {
	perClient int
	max       int
	header    time.Duration

	mu      sync.Mutex
	live    int
	clients map[netip.Addr]int
	idle    connList      // idle keep-alive connections, oldest first
	wake    chan struct{} // closed when a slot frees or a connection goes idle; nil when nobody waits

	// Counters for tests and diagnostics.
	refused, evicted, expired atomic.Int64
	// events count the connections refused or closed by reason (the
	// metrics'); log, when set, receives a line about them at most once
	// per reason per logEvery.
	events   [numConnReasons]connEvents
	log      *slog.Logger
	logEvery time.Duration
}

// connReason is why the tracker refused or closed a connection.
type connReason uint8

// The reasons, in label order.
const (
	reasonPerClientCap connReason = iota // refused: the client at its cap, none of its connections idle
	reasonGlobalCap                      // refused: at the global cap, the idle connection waited for active again
	reasonIdleEvicted                    // an idle keep-alive connection closed to make room
	reasonFirstRequest                   // no complete first request head within the header timeout
	numConnReasons
)

var connReasonNames = [numConnReasons]string{"per_client_cap", "global_cap", "idle_evicted", "first_request_timeout"}

// String is the reason's label value.
func (r connReason) String() string { return connReasonNames[r] }

// connLogEvery is how often a reason's refusals are logged at most.
const connLogEvery = time.Minute

// connEvents counts the events of one reason: n in all, logged up to the
// last line written, next the earliest time (UnixNano) of the next line.
type connEvents struct {
	n, logged atomic.Uint64
	next      atomic.Int64
}

func newConnTracker(limit, perClient int, header time.Duration) *connTracker {
	return &connTracker{max: limit, perClient: perClient, header: header, clients: map[netip.Addr]int{}, logEvery: connLogEvery}
}

// note counts one event of reason r about client: one atomic add, and
// rarely (once per logEvery at most) a log line with the events since
// the last one. Only the client's address is logged.
func (t *connTracker) note(r connReason, client netip.Addr) {
	e := &t.events[r]
	e.n.Add(1)
	if t.log == nil {
		return
	}
	now := time.Now().UnixNano()
	next := e.next.Load()
	if now < next || !e.next.CompareAndSwap(next, now+int64(t.logEvery)) {
		return
	}
	t.logLine(r, client)
}

// logLine logs the events of r not logged yet; client is the last one's
// (none: not named).
func (t *connTracker) logLine(r connReason, client netip.Addr) {
	e := &t.events[r]
	n := e.n.Load()
	since := n - e.logged.Swap(n)
	if since == 0 || since > n {
		return // none, or a concurrent line logged them
	}
	args := []any{"reason", r.String(), "count", since}
	if client.IsValid() {
		args = append(args, "last_client", client.String())
	}
	t.log.Warn("connections refused or closed by the connection limits", args...)
}

// flushLog logs the events not logged yet (at shutdown).
func (t *connTracker) flushLog() {
	if t.log == nil {
		return
	}
	for r := range numConnReasons {
		t.logLine(r, netip.Addr{})
	}
}

type connPhase uint8

const (
	phaseNew    connPhase = iota // accepted, no request read yet
	phaseActive                  // serving a request
	phaseIdle                    // between requests (keep-alive)
	phaseGone                    // released
)

// trackedConn is an accepted connection under a connTracker. Every field
// after Conn is guarded by t.mu.
type trackedConn struct {
	net.Conn
	t          *connTracker
	client     netip.Addr
	phase      connPhase
	watchdog   *time.Timer
	prev, next *trackedConn // on t.idle
}

// connList is an intrusive doubly linked list of trackedConns.
type connList struct{ head, tail *trackedConn }

func (l *connList) push(c *trackedConn) {
	c.prev, c.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = c
	} else {
		l.head = c
	}
	l.tail = c
}

func (l *connList) remove(c *trackedConn) {
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		l.head = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	} else {
		l.tail = c.prev
	}
	c.prev, c.next = nil, nil
}

// clientKey is the address a per-client cap counts against: the IPv4
// address, or the /64 of an IPv6 address.
func clientKey(a net.Addr) netip.Addr {
	var ip netip.Addr
	switch a := a.(type) {
	case *net.TCPAddr:
		ip = a.AddrPort().Addr().Unmap()
	default:
		if ap, err := netip.ParseAddrPort(a.String()); err == nil {
			ip = ap.Addr().Unmap()
		}
	}
	if ip.Is6() {
		if p, err := ip.Prefix(64); err == nil {
			ip = p.Addr()
		}
	}
	return ip
}

// room reports whether a new connection can be admitted now; t.mu held.
func (t *connTracker) roomLocked() bool { return t.live < t.max || t.idle.head != nil }

// waitRoom blocks until a connection can be admitted or done is closed.
func (t *connTracker) waitRoom(done <-chan struct{}) bool {
	for {
		t.mu.Lock()
		if t.roomLocked() {
			t.mu.Unlock()
			return true
		}
		if t.wake == nil {
			t.wake = make(chan struct{})
		}
		w := t.wake
		t.mu.Unlock()
		select {
		case <-w:
		case <-done:
			return false
		}
	}
}

// signalLocked wakes Accepts waiting for room; t.mu held.
func (t *connTracker) signalLocked() {
	if t.wake != nil {
		close(t.wake)
		t.wake = nil
	}
}

// admit accounts for c, evicting idle connections to make room, or returns
// nil when c must be refused.
func (t *connTracker) admit(c net.Conn) *trackedConn {
	key := clientKey(c.RemoteAddr())
	var evict [2]*trackedConn
	t.mu.Lock()
	if t.clients[key] >= t.perClient {
		var v *trackedConn
		for x := t.idle.head; x != nil; x = x.next {
			if x.client == key {
				v = x
				break
			}
		}
		if v == nil {
			t.mu.Unlock()
			t.refused.Add(1)
			t.note(reasonPerClientCap, key)
			return nil
		}
		t.releaseLocked(v)
		evict[0] = v
	}
	if t.live >= t.max {
		v := t.idle.head
		if v == nil {
			// The idle connection Accept waited for became active again.
			t.mu.Unlock()
			t.closeEvicted(evict)
			t.refused.Add(1)
			t.note(reasonGlobalCap, key)
			return nil
		}
		t.releaseLocked(v)
		evict[1] = v
	}
	tc := &trackedConn{Conn: c, t: t, client: key}
	t.live++
	t.clients[key]++
	if t.header > 0 {
		tc.watchdog = time.AfterFunc(t.header, tc.expire)
	}
	t.mu.Unlock()
	t.closeEvicted(evict)
	return tc
}

// closeEvicted closes the idle connections admit evicted.
func (t *connTracker) closeEvicted(evict [2]*trackedConn) {
	for _, v := range evict {
		if v != nil {
			t.evicted.Add(1)
			t.note(reasonIdleEvicted, v.client)
			v.Conn.Close()
		}
	}
}

// releaseLocked takes c out of the accounting; t.mu held. It reports
// whether c was still accounted for.
func (t *connTracker) releaseLocked(c *trackedConn) bool {
	if c.phase == phaseGone {
		return false
	}
	if c.phase == phaseIdle {
		t.idle.remove(c)
	}
	if c.watchdog != nil {
		c.watchdog.Stop()
	}
	c.phase = phaseGone
	t.live--
	if n := t.clients[c.client] - 1; n > 0 {
		t.clients[c.client] = n
	} else {
		delete(t.clients, c.client)
	}
	t.signalLocked()
	return true
}

// expire closes c if it has not completed a request's headers by now.
func (c *trackedConn) expire() {
	t := c.t
	t.mu.Lock()
	fire := c.phase == phaseNew && t.releaseLocked(c)
	t.mu.Unlock()
	if fire {
		t.expired.Add(1)
		t.note(reasonFirstRequest, c.client)
		c.Conn.Close()
	}
}

// Close releases c's slot and closes it.
func (c *trackedConn) Close() error {
	c.t.mu.Lock()
	c.t.releaseLocked(c)
	c.t.mu.Unlock()
	return c.Conn.Close()
}

// connState is http.Server.ConnState: it moves connections on and off
// the idle list.
func (t *connTracker) connState(nc net.Conn, s http.ConnState) {
	switch c := nc.(type) {
	case *tls.Conn:
		nc = c.NetConn()
	case *handoffConn:
		nc = c.raw
	}
	c, ok := nc.(*trackedConn)
	if !ok {
		return
	}
	switch s {
	case http.StateActive:
		t.setActive(c)
	case http.StateIdle:
		t.setIdle(c)
	case http.StateClosed, http.StateHijacked:
		t.mu.Lock()
		t.releaseLocked(c)
		t.mu.Unlock()
	}
}

// setActive marks c as serving a request: off the idle list, and past
// the watchdog once its first request's headers are in.
func (t *connTracker) setActive(c *trackedConn) {
	t.mu.Lock()
	switch c.phase {
	case phaseNew:
		if c.watchdog != nil {
			c.watchdog.Stop()
		}
		c.phase = phaseActive
	case phaseIdle:
		t.idle.remove(c)
		c.phase = phaseActive
	}
	t.mu.Unlock()
}

// setIdle marks c as waiting for its next request: evictable.
func (t *connTracker) setIdle(c *trackedConn) {
	t.mu.Lock()
	if c.phase == phaseActive {
		c.phase = phaseIdle
		t.idle.push(c)
		t.signalLocked()
	}
	t.mu.Unlock()
}

// closeIdle closes every idle connection (at shutdown).
func (t *connTracker) closeIdle() {
	t.mu.Lock()
	var idle []*trackedConn
	for t.idle.head != nil {
		c := t.idle.head
		t.releaseLocked(c)
		idle = append(idle, c)
	}
	t.mu.Unlock()
	for _, c := range idle {
		c.Conn.Close()
	}
}

// counts is the number of open and of idle connections (for tests).
func (t *connTracker) counts() (live, idle int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for c := t.idle.head; c != nil; c = c.next {
		idle++
	}
	return t.live, idle
}

// trackedListener admits the connections of one listener through a
// connTracker.
type trackedListener struct {
	net.Listener
	t         *connTracker
	done      chan struct{}
	closeOnce sync.Once
}

func (t *connTracker) listener(ln net.Listener) *trackedListener {
	return &trackedListener{Listener: ln, t: t, done: make(chan struct{})}
}

// Accept waits for room, accepts, and closes refused connections itself:
// http.Server never sees them.
func (l *trackedListener) Accept() (net.Conn, error) {
	for {
		if !l.t.waitRoom(l.done) {
			return nil, net.ErrClosed
		}
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if tc := l.t.admit(c); tc != nil {
			return tc, nil
		}
		c.Close()
	}
}

// Close stops Accept, also when it waits for room.
func (l *trackedListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}
