package watch

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// HookConfig shapes a Hook.
type HookConfig struct {
	// Run runs the hook once for e, with e's JSON line on stdin
	// (workflow.RunHook for exec:CMD).
	Run func(ctx context.Context, e Event, stdin []byte) error
	// Log reports a failed try, a given-up event or a dropped one; the
	// watch goes on whatever the hook does.
	Log func(msg string)
	// Tries is how often an event is tried at most (default 5).
	Tries int
	// Backoff is the wait after the first failure (default 10 s); it
	// doubles after each, up to MaxBackoff (default 5 minutes).
	Backoff, MaxBackoff time.Duration
	// Queue is how many events may wait (default 256); beyond it, new
	// ones are dropped and logged.
	Queue int
	// Sleep waits d or until ctx ends (false then). Nil: real time.
	Sleep func(ctx context.Context, d time.Duration) bool
}

// Hook runs the alert hook for each event it is sent, one at a time, off
// the watch's path: a slow or failing hook never holds up or stops the
// watch.
type Hook struct {
	cfg  HookConfig
	q    chan Event
	done chan struct{}
}

// StartHook starts the hook's worker; it ends when ctx does (a running
// hook is killed with it) and Close has been called.
func StartHook(ctx context.Context, cfg HookConfig) *Hook {
	if cfg.Tries <= 0 {
		cfg.Tries = 5
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 10 * time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 5 * time.Minute
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 256
	}
	if cfg.Log == nil {
		cfg.Log = func(string) {}
	}
	if cfg.Sleep == nil {
		cfg.Sleep = func(ctx context.Context, d time.Duration) bool {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
				return true
			case <-ctx.Done():
				return false
			}
		}
	}
	h := &Hook{cfg: cfg, q: make(chan Event, cfg.Queue), done: make(chan struct{})}
	go h.work(ctx)
	return h
}

// Send queues e for the hook without waiting; a full queue drops it
// (logged).
func (h *Hook) Send(e Event) {
	select {
	case h.q <- e:
	default:
		h.cfg.Log(fmt.Sprintf("alert hook: queue full, dropped the %s event of %s for %s", e.Change, e.Finding.ID, e.Domain))
	}
}

// Close stops taking events, lets the queued ones run (until ctx ends)
// and waits for the worker.
func (h *Hook) Close() {
	close(h.q)
	<-h.done
}

func (h *Hook) work(ctx context.Context) {
	defer close(h.done)
	for e := range h.q {
		if ctx.Err() != nil {
			continue // drain: nothing runs after the end
		}
		line, err := json.Marshal(e)
		if err != nil {
			h.cfg.Log("alert hook: " + err.Error())
			continue
		}
		line = append(line, '\n')
		h.deliver(ctx, e, line)
	}
}

// deliver tries one event until the hook succeeds, the tries run out or
// ctx ends.
func (h *Hook) deliver(ctx context.Context, e Event, line []byte) {
	wait := h.cfg.Backoff
	for try := 1; ; try++ {
		err := h.cfg.Run(ctx, e, line)
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			return
		}
		if try >= h.cfg.Tries {
			h.cfg.Log(fmt.Sprintf("alert hook: gave up on the %s event of %s for %s after %d tries: %v", e.Change, e.Finding.ID, e.Domain, try, err))
			return
		}
		h.cfg.Log(fmt.Sprintf("alert hook: try %d of %d failed, again in %s: %v", try, h.cfg.Tries, wait, err))
		if !h.cfg.Sleep(ctx, wait) {
			return
		}
		wait = min(2*wait, h.cfg.MaxBackoff)
	}
}

// Env is the environment a hook command gets for e beside its stdin:
// STSPILOT_DOMAIN, STSPILOT_CHANGE, STSPILOT_FINDING (the id) and
// STSPILOT_SEVERITY.
func Env(e Event) []string {
	return []string{
		"STSPILOT_DOMAIN=" + e.Domain, "STSPILOT_CHANGE=" + string(e.Change),
		"STSPILOT_FINDING=" + e.Finding.ID, "STSPILOT_SEVERITY=" + string(e.Finding.Severity),
	}
}
