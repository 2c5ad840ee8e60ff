package workflow

import (
	"context"
	"testing"
	"time"
)

func TestProbeJournalTimesAfterNow(t *testing.T) {
	h := newHarness(t, hopts{})
	right := h.clock.Now()
	h.clock.Set(right.Add(400 * 24 * time.Hour))
	h.climb(3)
	h.clock.Set(right)
	out, _ := h.apply(Request{Workflow: Rollback}, ApplyOptions{})
	t.Logf("rollback %+v", out)
	if out.Status != StatusDone {
		t.Fatalf("rollback: %+v", out)
	}
	if _, err := h.e.Status(context.Background(), tDomain); err != nil {
		t.Fatal(err)
	}
	out, _ = h.apply(Request{Workflow: Promote, WithoutReports: true}, ApplyOptions{})
	t.Logf("promote %+v", out)
	out, _ = h.apply(Request{Workflow: Teardown}, ApplyOptions{})
	t.Logf("teardown %+v", out)
	if out.Status == StatusDone {
		t.Fatal("teardown done")
	}
	h.clock.Advance(31 * 24 * time.Hour)
	out, _ = h.apply(Request{Workflow: Teardown}, ApplyOptions{})
	t.Logf("teardown2 %+v", out)
	out, _ = h.apply(Request{Workflow: Rollback}, ApplyOptions{})
	t.Logf("rollback2 %+v", out)
	h.clock.Advance(500 * 24 * time.Hour)
	out, _ = h.apply(Request{Workflow: Teardown}, ApplyOptions{})
	t.Logf("teardown3 %+v", out)
}

func TestProbeMaxAgeZeroTeardownFresh(t *testing.T) {
	h := newHarness(t, hopts{})
	h.adopt("version: STSv1\r\nmode: enforce\r\nmx: mx1.example.test\r\nmax_age: 0\r\n", "adopted1")
	out, _ := h.apply(Request{Workflow: Teardown}, ApplyOptions{})
	t.Logf("teardown %+v", out)
	out, _ = h.apply(Request{Workflow: Teardown}, ApplyOptions{})
	t.Logf("teardown2 %+v", out)
}

func TestProbeNoneLiveOldEnforce(t *testing.T) {
	h := newHarness(t, hopts{})
	h.climb(3)
	h.adopt("version: STSv1\r\nmode: none\r\nmax_age: 86400\r\n", "byhand1")
	out, _ := h.apply(Request{Workflow: Teardown}, ApplyOptions{})
	t.Logf("teardown %+v", out)
	out, _ = h.apply(Request{Workflow: Teardown, AdoptLive: true}, ApplyOptions{})
	t.Logf("teardown adopt %+v", out)
	h.clock.Advance(31 * 24 * time.Hour)
	out, _ = h.apply(Request{Workflow: Teardown, AdoptLive: true}, ApplyOptions{})
	t.Logf("teardown adopt +31d %+v", out)
	out, _ = h.apply(Request{Workflow: Rollback}, ApplyOptions{})
	t.Logf("rollback %+v", out)
}
