// Package clock is stspilot's one source of time: the engine, the journal
// and the wizard take a Clock, so that tests freeze it and the demo runs it
// faster than real time. It imports nothing of stspilot's.
package clock

import (
	"sync"
	"time"
)

// Clock tells the time and waits.
type Clock interface {
	// Now is the current time.
	Now() time.Time
	// After waits like time.After: the channel receives the time once d
	// has passed on this clock.
	After(d time.Duration) <-chan time.Time
}

// System is the real clock.
type System struct{}

// Now is time.Now.
func (System) Now() time.Time { return time.Now() }

// After is time.After.
func (System) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Fake is a clock for tests: it stands still unless Advance or Set moves
// it, and After moves it forward by d and fires at once, so that a wait
// of the code under test passes instantly and leaves the clock where the
// wait would have ended. It is safe for concurrent use.
type Fake struct {
	mu sync.Mutex
	t  time.Time
}

// NewFake returns a Fake that reads t.
func NewFake(t time.Time) *Fake { return &Fake{t: t} }

// Now returns the fake time.
func (c *Fake) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d (backwards for d < 0).
func (c *Fake) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Set moves the clock to t.
func (c *Fake) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// After advances the clock by d (when d > 0) and returns a channel that
// already holds the new time; nobody has to read it.
func (c *Fake) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	if d > 0 {
		c.t = c.t.Add(d)
	}
	now := c.t
	c.mu.Unlock()
	ch := make(chan time.Time, 1)
	ch <- now
	return ch
}
