package tui

import (
	"bytes"
	"context"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/stspilot/stspilot/workflow"
	"github.com/stspilot/stspilot/workflow/journal"
)

// lockedBuffer is an io.Writer safe for the program's renderer and the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// TestRunWaitsForTheApply: when the program ends because its context does
// (SIGTERM, or the terminal going away), Run cancels the running apply and
// returns only after engine.Apply has: the journal holds no pending entry
// and its lock is free.
func TestRunWaitsForTheApply(t *testing.T) {
	w := newWorld(t)
	bp := blockingPublisher{Publisher: w.e.Config().Publisher, started: make(chan struct{})}
	w.reconfigure(t, func(c *workflow.Config) { c.Publisher = bp })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	in, keys := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- Run(ctx, w.opts, in, &lockedBuffer{}) }()

	// n plans the rollout, enter and y confirm it; repeated until the
	// apply has begun, as each key is ignored on the other screens.
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(30 * time.Second)
wait:
	for {
		select {
		case <-bp.started:
			break wait
		case err := <-done:
			t.Fatalf("Run returned early: %v", err)
		case <-tick.C:
			keys.Write([]byte("n\ry"))
		case <-timeout:
			t.Fatal("the apply never started")
		}
	}
	cancel()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	keys.Close()
	h, _ := w.sb.Journal.History(w.sb.Domain, 0)
	if len(h) == 0 || h[len(h)-1].Status == journal.Pending {
		t.Fatalf("journal after Run returned: %+v", h)
	}
	txn, err := w.sb.Journal.Begin(w.sb.Domain, "test", w.clock.Now())
	if err != nil {
		t.Fatalf("Run returned while the apply still held the journal: %v", err)
	}
	txn.Close()
}
