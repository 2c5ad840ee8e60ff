package workflow

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stspilot/stspilot/checks/mtasts"
	"github.com/stspilot/stspilot/internal/txtrecord"
	"github.com/stspilot/stspilot/workflow/journal"
)

// idTime is the time an id of the scheme carries, and whether its hash
// names the bytes served now.
func (h *harness) idTime(id string) time.Time {
	h.t.Helper()
	at, _, ok := mtasts.ParseID(id)
	if !ok {
		h.t.Fatalf("id %q is not of the scheme", id)
	}
	if _, match := mtasts.VerifyID(id, []byte(h.servedFile())); !match {
		h.t.Errorf("id %q does not name the served policy %q", id, h.servedFile())
	}
	return at
}

// TestIDTimeIsWhenTheChangeStarts: promote --wait across the 14-day soak
// of testing, and again across the 7-day soak of enforce@86400, publishes an id whose time is when the policy was written, after the
// soak ended, not when the plan was made at its start: from live DNS
// alone anyone reads when the current policy was published.
func TestIDTimeIsWhenTheChangeStarts(t *testing.T) {
	h := newHarness(t, hopts{})
	out, _ := h.apply(Request{Workflow: Rollout, RUA: "mailto:r@example.test"}, ApplyOptions{})
	if out.Status != StatusDone {
		t.Fatalf("rollout: %+v", out)
	}
	if at := h.idTime(out.Policy.ID); !at.Equal(h.clock.Now()) {
		t.Errorf("rollout without a wait: id time %s, want now %s", at, h.clock.Now())
	}
	// The 14-day soak of testing, then the 7-day soak of enforce@86400.
	for _, rung := range []struct {
		soak time.Duration
		want string
	}{{14 * 24 * time.Hour, "enforce@86400"}, {7 * 24 * time.Hour, "enforce@604800"}} {
		soakEnd := h.j.must(tDomain).Policy.PublishedAt.Add(rung.soak)
		start := h.clock.Now()
		out, _ = h.apply(Request{Workflow: Promote, WithoutReports: true}, ApplyOptions{Wait: 40 * 24 * time.Hour})
		if out.Status != StatusDone || fmt.Sprintf("%s@%d", out.Policy.Mode, out.Policy.MaxAge) != rung.want {
			t.Fatalf("promote --wait to %s: %+v", rung.want, out)
		}
		end := h.clock.Now()
		if !end.After(start.Add(rung.soak - 24*time.Hour)) {
			t.Fatalf("the run did not wait out the soak (%s to %s)", start, end)
		}
		at := h.idTime(out.Policy.ID)
		if at.Before(soakEnd.Truncate(time.Second)) || at.After(end) {
			t.Errorf("%s: id %s carries %s, want a time between the soak's end %s and the run's end %s", rung.want, out.Policy.ID, at, soakEnd, end)
		}
		if got := h.txt("_mta-sts"); len(got) != 1 || got[0] != (txtrecord.STSRecord{ID: out.Policy.ID}).String() {
			t.Errorf("_mta-sts holds %q, want the id %s", got, out.Policy.ID)
		}
		if j := h.j.must(tDomain); j.Policy == nil || j.Policy.ID != out.Policy.ID {
			t.Errorf("the journal's policy %+v, want the id %s", j.Policy, out.Policy.ID)
		}
	}
}

// TestResumedRunKeepsItsIntentsID: a promote --wait killed right after it
// wrote the policy, resumed an hour later, sets the id its intent holds
// (the bytes already served under it, invariant 6), minted after the
// soak; it does not mint another.
func TestResumedRunKeepsItsIntentsID(t *testing.T) {
	h := newHarness(t, hopts{file: true})
	if out, _ := h.apply(Request{Workflow: Rollout, RUA: "mailto:r@example.test"}, ApplyOptions{}); out.Status != StatusDone {
		t.Fatalf("rollout: %+v", out)
	}
	soakEnd := h.j.must(tDomain).Policy.PublishedAt.Add(14 * 24 * time.Hour)
	killed := false
	h.j.fail = func(e journal.Entry) error {
		if e.Kind == StepPublishPolicy.Journal() && e.Status == journal.Done && !killed {
			killed = true
			return errors.New("killed")
		}
		return nil
	}
	out, _ := h.apply(Request{Workflow: Promote, WithoutReports: true}, ApplyOptions{Wait: 40 * 24 * time.Hour})
	if out.Status != StatusFailed || !killed {
		t.Fatalf("cut run: %+v", out)
	}
	in := h.j.must(tDomain).Intent
	if in == nil || in.Target == nil {
		t.Fatal("no intent journaled before the policy was written")
	}
	if at := h.idTime(in.Target.ID); at.Before(soakEnd.Truncate(time.Second)) {
		t.Errorf("the intent's id %s carries %s, before the soak's end %s", in.Target.ID, at, soakEnd)
	}
	h.clock.Advance(time.Hour)
	pubs := h.publishes
	out, _ = h.apply(Request{Workflow: Promote, WithoutReports: true}, ApplyOptions{Wait: time.Hour})
	if out.Status != StatusDone || out.Policy.ID != in.Target.ID {
		t.Fatalf("resumed run: %+v, want the intent's id %s", out, in.Target.ID)
	}
	if h.publishes != pubs {
		t.Errorf("the resumed run wrote the policy again (%d writes)", h.publishes-pubs)
	}
	if got := h.txt("_mta-sts"); len(got) != 1 || got[0] != (txtrecord.STSRecord{ID: in.Target.ID}).String() {
		t.Errorf("_mta-sts holds %q, want the intent's id %s", got, in.Target.ID)
	}
}

// TestConfirmedPlanGetsTheIDOfItsChange: the plan the operator confirmed
// before the soak (as the command line and the wizard pass it) does not
// bring its id along: promote --wait publishes an id of the moment the
// policy is written, and sets the record the steps name.
func TestConfirmedPlanGetsTheIDOfItsChange(t *testing.T) {
	h := newHarness(t, hopts{})
	if out, _ := h.apply(Request{Workflow: Rollout, RUA: "mailto:r@example.test"}, ApplyOptions{}); out.Status != StatusDone {
		t.Fatalf("rollout: %+v", out)
	}
	soakEnd := h.j.must(tDomain).Policy.PublishedAt.Add(14 * 24 * time.Hour)
	req := Request{Workflow: Promote, Domain: tDomain, WithoutReports: true}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	shown, err := h.e.Plan(ctx, req)
	if err != nil || shown.Target == nil {
		t.Fatalf("plan: %+v %v", shown, err)
	}
	rec := &Recorder{}
	out, err := h.e.Apply(ctx, req, shown, rec, ApplyOptions{Wait: 40 * 24 * time.Hour})
	if err != nil || out.Status != StatusDone {
		t.Fatalf("promote --wait: %+v %v", out, err)
	}
	if out.Policy.ID == shown.Target.ID {
		t.Errorf("the id %s of the plan made before the soak was published", shown.Target.ID)
	}
	if at := h.idTime(out.Policy.ID); at.Before(soakEnd.Truncate(time.Second)) || at.After(h.clock.Now()) {
		t.Errorf("id %s carries %s, want a time between the soak's end %s and now %s", out.Policy.ID, at, soakEnd, h.clock.Now())
	}
	if got := h.txt("_mta-sts"); len(got) != 1 || got[0] != (txtrecord.STSRecord{ID: out.Policy.ID}).String() {
		t.Errorf("_mta-sts holds %q, want the id %s", got, out.Policy.ID)
	}
}
