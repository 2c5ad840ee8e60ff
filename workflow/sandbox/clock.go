package sandbox

import (
	"sync"
	"time"
)

// Clock is an accelerated workflow.Clock: Now runs Factor times faster
// than real time, plus whatever Skip added, so that the soaks and cache
// windows of the ladder pass in seconds. After waits d/Factor of real time
// (less when Skip jumps past its deadline).
type Clock struct {
	Factor float64

	mu        sync.Mutex
	start     time.Time // sandbox time at realStart
	realStart time.Time
	skipped   time.Duration
	real      func() time.Time // time.Now; tests replace it
}

// NewClock starts a clock at start running factor times faster than real
// time (factor < 1 is taken as 1).
func NewClock(start time.Time, factor float64) *Clock {
	if factor < 1 {
		factor = 1
	}
	return &Clock{Factor: factor, start: start, realStart: time.Now(), real: time.Now}
}

// Now is the sandbox time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nowLocked()
}

func (c *Clock) nowLocked() time.Time {
	el := c.real().Sub(c.realStart)
	return c.start.Add(time.Duration(float64(el)*c.Factor) + c.skipped).UTC()
}

// Skip moves sandbox time forward by d.
func (c *Clock) Skip(d time.Duration) {
	if d <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.skipped += d
}

// SkipTo moves sandbox time forward to t (never backwards).
func (c *Clock) SkipTo(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d := t.Sub(c.nowLocked()); d > 0 {
		c.skipped += d
	}
}

// RealDuration is how long sandbox duration d takes in real time; the
// wizard uses it to run its countdown at the sandbox's pace.
func (c *Clock) RealDuration(d time.Duration) time.Duration {
	return time.Duration(float64(d) / c.Factor)
}

// After fires once sandbox time has advanced by d. Its goroutine ends
// when it fires; the channel is buffered, so nobody has to read it.
func (c *Clock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	until := c.Now().Add(d)
	go func() {
		for {
			now := c.Now()
			rem := until.Sub(now)
			if rem <= 0 {
				ch <- now
				return
			}
			// Poll at least every 50ms so that Skip is noticed.
			time.Sleep(min(c.RealDuration(rem)+time.Millisecond, 50*time.Millisecond))
		}
	}()
	return ch
}
