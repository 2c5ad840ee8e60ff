package workflow

import "time"

// Clock is the engine's only source of time, so that tests and the demo
// (where a day passes in seconds) control it.
type Clock interface {
	Now() time.Time
	// After waits like time.After.
	After(d time.Duration) <-chan time.Time
}

// SystemClock is the real clock.
type SystemClock struct{}

func (SystemClock) Now() time.Time                         { return time.Now() }
func (SystemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
