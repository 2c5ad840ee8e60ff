package workflow

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/stspilot/stspilot/workflow/journal"
)

// applyQuiet is apply without failing the test on an error.
func (h *harness) applyQuiet(req Request, opt ApplyOptions) (*Outcome, error) {
	req.Domain = tDomain
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return h.e.Apply(ctx, req, nil, &Recorder{}, opt)
}

// killAtSave makes the n-th journal write from now on fail, as if the
// run had been killed right after the write before it.
func (h *harness) killAtSave(n int) {
	saves := 0
	h.j.fail = func(journal.Entry) error {
		saves++
		if saves == n {
			return errors.New("killed")
		}
		return nil
	}
}

// TestTeardownKilledAfterEveryWrite: a teardown killed after its n-th
// journal write, for each n, then resumed, never deletes
// before the enforce policy's max_age has passed since mode none went
// live, never deletes twice, never says done before the records are
// gone, and finishes.
func TestTeardownKilledAfterEveryWrite(t *testing.T) {
	for cut := 1; cut <= 24; cut++ {
		t.Run(strconv.Itoa(cut), func(t *testing.T) {
			h := newHarness(t, hopts{file: true})
			h.climb(3)
			start := h.clock.Now()
			earliest := start.Add(2592000 * time.Second)
			h.killAtSave(cut)
			deletes := 0
			done := false
			for i := 0; i < 200 && !done; i++ {
				stsBefore := len(h.txt("_mta-sts"))
				out, err := h.applyQuiet(Request{Workflow: Teardown}, ApplyOptions{})
				if err != nil {
					t.Logf("run %d: %v", i, err)
				}
				if len(h.txt("_mta-sts")) < stsBefore {
					deletes++
					if h.clock.Now().Before(earliest) {
						t.Fatalf("run %d deleted _mta-sts at %v, before %v", i, h.clock.Now(), earliest)
					}
				}
				if h.servedFile() == "" && h.clock.Now().Before(earliest) {
					t.Fatalf("run %d removed the policy at %v, before %v", i, h.clock.Now(), earliest)
				}
				if out != nil && out.Status == StatusDone {
					done = true
					// Done means removed, never just mode none live.
					if out.Stage != StageAbsent || deletes != 1 {
						t.Fatalf("run %d says done (%s) at stage %s after %d deletions", i, out.Message, out.Stage, deletes)
					}
				}
				h.clock.Advance(12 * time.Hour)
			}
			if !done {
				t.Fatalf("teardown never finished; journal %+v", h.j.must(tDomain))
			}
			if deletes != 1 {
				t.Errorf("%d deletions", deletes)
			}
			h.j.fail = nil
			if out, _ := h.apply(Request{Workflow: Teardown}, ApplyOptions{}); out.Status != StatusNothing {
				t.Errorf("after: %+v", out)
			}
			if j := h.j.must(tDomain); j.Stage != StageAbsent || j.Policy != nil || j.Intent != nil || teardownPending(j) || len(j.Pending()) > 0 {
				t.Errorf("journal after: stage %q policy %v intent %v teardown pending %v pending %d", j.Stage, j.Policy, j.Intent, teardownPending(j), len(j.Pending()))
			}
		})
	}
}
