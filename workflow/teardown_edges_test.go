package workflow

import (
	"strconv"
	"testing"
	"time"
)

// teardownUntilDone runs teardown every 12 hours (req as given) until it
// is done, failing when _mta-sts or the policy goes before notBefore.
func (h *harness) teardownUntilDone(req Request, notBefore time.Time) {
	h.t.Helper()
	req.Workflow = Teardown
	for i := 0; i < 200; i++ {
		out, err := h.applyQuiet(req, ApplyOptions{})
		if err != nil {
			h.t.Fatalf("teardown: %v", err)
		}
		gone := len(h.txt("_mta-sts")) == 0 || h.servedFile() == ""
		if gone && h.clock.Now().Before(notBefore) {
			h.t.Fatalf("teardown removed records at %v, before %v (%+v)", h.clock.Now(), notBefore, out)
		}
		if out.Status == StatusDone {
			if !gone {
				h.t.Fatalf("done but records left: %+v", out)
			}
			return
		}
		if out.Status == StatusRefused {
			h.t.Fatalf("teardown refused: %+v", out.Refusal)
		}
		h.clock.Advance(12 * time.Hour)
	}
	h.t.Fatal("teardown never finished")
}

// TestTeardownRollbackTeardown: teardown, rollback to testing, teardown
// again: the enforce policy the first teardown replaced still bounds the
// second's deletions.
func TestTeardownRollbackTeardown(t *testing.T) {
	h := newHarness(t, hopts{file: true})
	h.climb(3)
	t0 := h.clock.Now()
	if out, _ := h.apply(Request{Workflow: Teardown}, ApplyOptions{}); out.Status != StatusPending {
		t.Fatalf("teardown 1: %+v", out)
	}
	h.clock.Advance(10 * 24 * time.Hour)
	if out, _ := h.apply(Request{Workflow: Rollback}, ApplyOptions{}); out.Status != StatusDone || out.Stage != StageTesting {
		t.Fatalf("rollback: %+v", out)
	}
	h.clock.Advance(5 * 24 * time.Hour)
	h.teardownUntilDone(Request{}, t0.Add(2592000*time.Second))
}

// TestTeardownOverHandEnforce: mode none is live and its window running
// when someone publishes enforce by hand; a teardown that adopts it waits
// its max_age from when none replaced it again.
func TestTeardownOverHandEnforce(t *testing.T) {
	h := newHarness(t, hopts{file: true})
	h.climb(1) // enforce, max_age one day
	if out, _ := h.apply(Request{Workflow: Teardown}, ApplyOptions{}); out.Status != StatusPending {
		t.Fatalf("teardown 1: %+v", out)
	}
	h.clock.Advance(12 * time.Hour)
	h.adopt("version: STSv1\nmode: enforce\nmx: mx1.example.test\nmax_age: 2592000\n", "handmade1")
	h.clock.Advance(12 * time.Hour)
	// Without --adopt-live it is refused, and nothing goes.
	out, _ := h.apply(Request{Workflow: Teardown}, ApplyOptions{})
	if out.Status != StatusRefused || len(h.txt("_mta-sts")) == 0 {
		t.Fatalf("teardown over a hand-made policy: %+v", out)
	}
	h.teardownUntilDone(Request{AdoptLive: true}, h.clock.Now().Add(2592000*time.Second))
}

// TestTeardownNoneByHandAfterHandEnforce: while the teardown window runs,
// enforce is published by hand and seen by a status-free teardown run
// that is refused (drift); then none is put back by hand under a new id.
// The deletion still waits out the hand-made enforce's max_age from
// when stspilot last saw it served.
func TestTeardownNoneByHandAfterHandEnforce(t *testing.T) {
	h := newHarness(t, hopts{file: true})
	h.climb(1)
	if out, _ := h.apply(Request{Workflow: Teardown}, ApplyOptions{}); out.Status != StatusPending {
		t.Fatalf("teardown 1: %+v", out)
	}
	none := h.servedFile()
	h.clock.Advance(12 * time.Hour)
	h.adopt("version: STSv1\nmode: enforce\nmx: mx1.example.test\nmax_age: 2592000\n", "handmade1")
	h.clock.Advance(time.Hour)
	seen := h.clock.Now()
	if out, _ := h.apply(Request{Workflow: Teardown}, ApplyOptions{}); out.Status != StatusRefused {
		t.Fatalf("teardown over a hand-made policy: %+v", out)
	}
	h.clock.Advance(time.Hour)
	h.adopt(none, "handmade2")
	h.teardownUntilDone(Request{}, seen.Add(2592000*time.Second))
}

// TestTeardownKilledThenRollbackThenTeardown: a teardown killed after
// its n-th journal write, then a rollback, then teardown again: the
// enforce policy still bounds the deletions.
func TestTeardownKilledThenRollbackThenTeardown(t *testing.T) {
	for cut := 1; cut <= 8; cut++ {
		t.Run(strconv.Itoa(cut), func(t *testing.T) {
			h := newHarness(t, hopts{file: true})
			h.climb(3)
			t0 := h.clock.Now()
			h.killAtSave(cut)
			if _, err := h.applyQuiet(Request{Workflow: Teardown}, ApplyOptions{}); err != nil {
				t.Fatal(err)
			}
			h.j.fail = nil
			h.clock.Advance(time.Hour)
			if out, _ := h.apply(Request{Workflow: Rollback}, ApplyOptions{}); out.Status != StatusDone {
				t.Fatalf("rollback: %+v", out)
			}
			h.clock.Advance(time.Hour)
			h.teardownUntilDone(Request{}, t0.Add(2592000*time.Second))
		})
	}
}

// TestTeardownOfFirstMetDomainWithBrokenHost: a domain met for the first
// time with its _mta-sts record live and its policy host failing: senders
// may hold whatever policy the record named, for a max_age nobody told
// stspilot. Once the host serves mode none, the teardown refuses to
// delete until the operator gives that max_age, then waits it out from
// when none went live.
func TestTeardownOfFirstMetDomainWithBrokenHost(t *testing.T) {
	h := newHarness(t, hopts{})
	h.adopt("version: STSv1\nmode: enforce\nmx: mx1.example.test\nmax_age: 604800\n", "adopted1")
	heal := h.breakHost("404")
	if out, _ := h.apply(Request{Workflow: Teardown}, ApplyOptions{}); out.Status != StatusPending {
		t.Fatalf("teardown on a broken host: %+v", out)
	}
	heal()
	noneLive := h.clock.Now()
	for range 2 {
		out, _ := h.apply(Request{Workflow: Teardown}, ApplyOptions{})
		if out.Status != StatusRefused || out.Refusal == nil || out.Refusal.Code != CodeUnknownWindow || out.Refusal.Override != CodeLastMaxAge {
			t.Fatalf("teardown with the cache window unknown: %+v", out)
		}
		if len(h.txt("_mta-sts")) == 0 || h.servedFile() == "" {
			t.Fatalf("deleted with the cache window unknown: %+v", out)
		}
		h.clock.Advance(time.Hour)
	}
	h.teardownUntilDone(Request{LastMaxAge: 604800 * time.Second}, noneLive.Add(604800*time.Second))
}
