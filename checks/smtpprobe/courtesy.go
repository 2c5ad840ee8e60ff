package smtpprobe

import (
	"context"
	"net"
	"sync"
	"time"
)

// Courtesy runs the courtesy commands a probe sends once it has observed
// everything (EHLO and QUIT over TLS after the handshake, QUIT after a
// refusal) in the background, so that the probe returns as soon as its
// last observation is in: those commands observe nothing, and waiting for
// their replies would put two round trips on the critical path of a check.
//
// Each courtesy is bounded by politeTimeout on its own (the probe's context
// has ended by then). Wait joins them: a program waits with a short bound
// before it exits, a test before it ends, and whatever is still running
// when the bound passes has its connection cut, so nothing outlives Wait.
// The zero value is ready to use; a Courtesy is safe for concurrent use.
type Courtesy struct {
	mu    sync.Mutex
	conns map[net.Conn]struct{} // connections of the courtesies running
	idle  chan struct{}         // closed when the last running courtesy ends
}

// start runs f on conn in the background, then closes conn.
func (c *Courtesy) start(conn net.Conn, f func()) {
	c.mu.Lock()
	if c.conns == nil {
		c.conns = map[net.Conn]struct{}{}
	}
	if len(c.conns) == 0 {
		c.idle = make(chan struct{})
	}
	c.conns[conn] = struct{}{}
	c.mu.Unlock()
	go func() {
		defer func() {
			_ = conn.Close()
			c.mu.Lock()
			delete(c.conns, conn)
			if len(c.conns) == 0 {
				close(c.idle)
			}
			c.mu.Unlock()
		}()
		f()
	}()
}

// Running is the number of courtesies not yet ended.
func (c *Courtesy) Running() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.conns)
}

// Wait returns once every courtesy started before or during the call has
// ended. When ctx is done first, it cuts the connections of those still
// running, which then end at once, and waits for them to return; an
// already expired ctx therefore cancels every courtesy in flight.
func (c *Courtesy) Wait(ctx context.Context) {
	for {
		c.mu.Lock()
		if len(c.conns) == 0 {
			c.mu.Unlock()
			return
		}
		idle := c.idle
		if ctx.Err() != nil {
			for conn := range c.conns {
				_ = conn.SetDeadline(time.Unix(1, 0))
			}
		}
		c.mu.Unlock()
		select {
		case <-idle:
		case <-ctx.Done():
			// Loop: cut what is running (a courtesy that starts after
			// the cut is cut on the next turn) and wait for it.
			select {
			case <-idle:
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
}
