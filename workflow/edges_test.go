package workflow

import (
	"context"
	"testing"
	"time"

	"github.com/stspilot/stspilot/checks/mtasts"
	"github.com/stspilot/stspilot/dnsprovider"
	"github.com/stspilot/stspilot/internal/txtrecord"
)

// adopt makes text the live policy under id, published outside stspilot.
func (h *harness) adopt(text, id string) {
	h.t.Helper()
	ctx := context.Background()
	if _, err := (&Webroot{Dir: h.webroot}).Publish(ctx, tDomain, []byte(text)); err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.e.cfg.Provider.SetOurs(ctx, tDomain+".", txtrecord.STSName(tDomain), dnsprovider.KindSTS, "v=STSv1; id="+id+";", 0); err != nil {
		h.t.Fatal(err)
	}
}

// TestRollbackOfPolicyWithPatternsRenderRefuses: a policy found live in
// enforce whose mx patterns the parser flags but lenient senders take (a
// trailing dot, the early drafts' leading dot) still rolls back: the
// testing policy leaves those patterns out and covers the live MX host,
// instead of the emergency rollback failing on Render's refusal.
func TestRollbackOfPolicyWithPatternsRenderRefuses(t *testing.T) {
	for _, mx := range []string{"mx1.example.test.", ".example.test", "MX1.EXAMPLE.TEST", "mx1.example.test.\r\nmx: mx2.example.test"} {
		t.Run(mx, func(t *testing.T) {
			h := newHarness(t, hopts{})
			h.adopt("version: STSv1\r\nmode: enforce\r\nmx: "+mx+"\r\nmax_age: 604800\r\n", "adopted1")
			out, _ := h.apply(Request{Workflow: Rollback}, ApplyOptions{})
			if out.Status != StatusDone || out.Policy == nil || out.Policy.Mode != "testing" {
				t.Fatalf("rollback: %+v", out)
			}
			if _, ok := mtasts.Covering(out.Policy.MX, "mx1."+tDomain); !ok {
				t.Errorf("the testing policy (mx %v) leaves out the live MX host", out.Policy.MX)
			}
			if out.Risk == nil || out.Risk.OldMode != "enforce" {
				t.Errorf("risk %+v, want the enforce policy's", out.Risk)
			}
		})
	}
}

// TestHorizonNeverBeforePublished: a clock that ran backwards between
// runs stamps a policy's replacement before it went live. Its horizon
// still counts its max_age from no earlier than when it went live, so a
// teardown after the clock is set right waits out the enforce policy's
// 30 days, not only the 7 days of the rung before it.
func TestHorizonNeverBeforePublished(t *testing.T) {
	h := newHarness(t, hopts{})
	if enf := h.climb(3); enf.Mode != "enforce" || enf.MaxAge != 2592000 {
		t.Fatalf("climbed to %+v", enf)
	}
	right := h.clock.Now()
	h.clock.Set(right.Add(-40 * 24 * time.Hour)) // the clock runs 40 days behind
	if out, _ := h.apply(Request{Workflow: Rollback}, ApplyOptions{}); out.Status != StatusDone {
		t.Fatalf("rollback: %+v", out)
	}
	h.clock.Set(right.Add(time.Hour)) // and is set right again
	want := right.Add(30 * 24 * time.Hour)
	st, err := h.e.Status(context.Background(), tDomain)
	if err != nil {
		t.Fatal(err)
	}
	if w := st.Horizon.Worst; w == nil || w.Mode != "enforce" || w.Until.Before(want) {
		t.Errorf("horizon %+v, want enforce until at least %s", st.Horizon.Worst, want)
	}
	out, _ := h.apply(Request{Workflow: Teardown}, ApplyOptions{})
	if out.Status != StatusPending || out.NextAt == nil || out.NextAt.Before(want) {
		t.Fatalf("teardown: %+v, want its window to end no earlier than %s", out, want)
	}
}

// TestRollbackOfFirstMetDomainWithBrokenHost: a domain stspilot meets
// for the first time in an emergency, its _mta-sts record live and its
// policy host failing, has something to roll back: senders may hold the
// policy the record named. The rollback publishes the testing policy and
// waits, blocked, at the served gate instead of saying there is nothing
// to do; healed, it completes with a new id.
func TestRollbackOfFirstMetDomainWithBrokenHost(t *testing.T) {
	for _, kind := range []string{"404", "cert"} {
		t.Run(kind, func(t *testing.T) {
			h := newHarness(t, hopts{})
			h.adopt("version: STSv1\r\nmode: enforce\r\nmx: mx1.example.test\r\nmax_age: 604800\r\n", "adopted1")
			heal := h.breakHost(kind)
			out, _ := h.apply(Request{Workflow: Rollback}, ApplyOptions{})
			if out.Status != StatusPending || out.Gate == nil || out.Gate.Kind != GateServed || out.Gate.State != GateBlocked {
				t.Fatalf("rollback on a broken host: %+v gate %+v", out, out.Gate)
			}
			if got := h.txt("_mta-sts"); len(got) != 1 || got[0] != "v=STSv1; id=adopted1;" {
				t.Errorf("the id changed before the policy was served: %q", got)
			}
			heal()
			out, _ = h.apply(Request{Workflow: Rollback}, ApplyOptions{})
			if out.Status != StatusDone || out.Policy == nil || out.Policy.Mode != "testing" {
				t.Fatalf("rollback once healed: %+v", out)
			}
			if got := h.txt("_mta-sts"); len(got) != 1 || got[0] != "v=STSv1; id="+out.Policy.ID+";" {
				t.Errorf("_mta-sts %q, want the testing policy's id %s", got, out.Policy.ID)
			}
		})
	}
}
