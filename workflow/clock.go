package workflow

import "github.com/stspilot/stspilot/internal/clock"

// Clock is the engine's only source of time, so that tests and the demo
// (where a day passes in seconds) control it: internal/clock's Clock.
type Clock = clock.Clock

// SystemClock is the real clock.
type SystemClock = clock.System
