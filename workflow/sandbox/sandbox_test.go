package sandbox

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stspilot/stspilot/checks"
	"github.com/stspilot/stspilot/workflow"
	"github.com/stspilot/stspilot/workflow/serve"
)

func start(t *testing.T, breaks ...Break) (*Sandbox, *workflow.Engine) {
	t.Helper()
	// A very slow day: sandbox time moves only when the test skips it.
	s, err := Start(context.Background(), Options{Day: 1000 * time.Hour, Breaks: breaks})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	e, err := s.Engine()
	if err != nil {
		t.Fatal(err)
	}
	return s, e
}

func apply(t *testing.T, e *workflow.Engine, req workflow.Request) *workflow.Outcome {
	t.Helper()
	req.Domain = DefaultDomain
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := e.Apply(ctx, req, nil, nil, workflow.ApplyOptions{})
	if err != nil {
		t.Fatalf("%s: %v", req.Workflow, err)
	}
	return out
}

func findingIDs(r *checks.Report) []string {
	var ids []string
	for _, f := range r.Findings {
		ids = append(ids, f.ID)
	}
	return ids
}

func rollout(t *testing.T, e *workflow.Engine) {
	t.Helper()
	if out := apply(t, e, workflow.Request{Workflow: workflow.Rollout, RUA: DefaultRUA}); out.Status != workflow.StatusDone || out.Stage != workflow.StageTesting {
		t.Fatalf("rollout: %+v", out)
	}
}

// TestWholeLadderThroughTheSandbox: the sandbox is a world the real engine,
// checks and gates accept: rollout ends in testing with a healthy check,
// promote waits for the soak, climbs to enforce on the sandbox's reports,
// and rollback and teardown finish.
func TestWholeLadderThroughTheSandbox(t *testing.T) {
	s, e := start(t)
	rep := s.Check(context.Background(), DefaultDomain)
	if rep.Stage != "absent" || len(rep.MX) != 2 {
		t.Fatalf("fresh sandbox: stage %s, %d MX, findings %v, error %q", rep.Stage, len(rep.MX), findingIDs(rep), rep.Error)
	}
	rollout(t, e)
	rep = s.Check(context.Background(), DefaultDomain)
	if rep.Stage != "testing" || rep.HasErrors() {
		t.Fatalf("after rollout: stage %s, findings %v", rep.Stage, findingIDs(rep))
	}
	for _, m := range rep.MX {
		for _, a := range m.Addrs {
			if !a.STARTTLS || a.CertProblem != "" {
				t.Errorf("MX %s %s: starttls %v, cert %q, err %q", m.Host, a.Addr, a.STARTTLS, a.CertProblem, a.Error)
			}
		}
	}
	// Failure 5: enforce too early is pending, not done.
	out := apply(t, e, workflow.Request{Workflow: workflow.Promote})
	if out.Status != workflow.StatusPending || out.Gate == nil || out.Gate.Kind != workflow.GateWindow {
		t.Fatalf("promote inside the soak: %+v", out)
	}
	s.Clock.SkipTo(*out.NextAt)
	out = apply(t, e, workflow.Request{Workflow: workflow.Promote})
	if out.Status != workflow.StatusDone || out.Stage != workflow.StageEnforce {
		t.Fatalf("promote after the soak: %+v", out)
	}
	out = apply(t, e, workflow.Request{Workflow: workflow.Rollback})
	if out.Status != workflow.StatusDone || out.Stage != workflow.StageTesting || out.Risk == nil {
		t.Fatalf("rollback: %+v", out)
	}
	out = apply(t, e, workflow.Request{Workflow: workflow.Teardown})
	if out.Status != workflow.StatusPending || out.NextAt == nil {
		t.Fatalf("teardown part 1: %+v", out)
	}
	s.Clock.SkipTo(out.NextAt.Add(time.Minute))
	out = apply(t, e, workflow.Request{Workflow: workflow.Teardown})
	if out.Status != workflow.StatusDone || out.Stage != workflow.StageAbsent {
		t.Fatalf("teardown: %+v", out)
	}
	if s.Publisher.File(DefaultDomain) != nil {
		t.Error("the policy is still published after teardown")
	}
	hist, _ := s.Journal.History(DefaultDomain, 0)
	if len(hist) == 0 {
		t.Error("the journal recorded nothing")
	}
}

// TestEachFailureIsCaught: every injected failure is seen by the checks
// or stops the engine (refused or pending), and nothing is written.
func TestEachFailureIsCaught(t *testing.T) {
	cases := []struct {
		b       Break
		finding string            // a finding the check must report ("" none)
		wf      workflow.Workflow // the workflow to try afterwards
		want    workflow.Status   // its outcome
		skip    bool              // skip past the soak first
	}{
		{PolicyNotFound, "policy.http-status", workflow.Promote, workflow.StatusRefused, true},
		{PolicyRedirect, "policy.redirect", workflow.Promote, workflow.StatusRefused, true},
		{PolicyContentType, "policy.content-type", workflow.Promote, workflow.StatusPending, true}, // held at the served gate
		{PolicyCertExpired, "policy.cert", workflow.Promote, workflow.StatusRefused, true},
		{MXUncovered, "mx.uncovered", workflow.Promote, workflow.StatusRefused, true},
		{MXCertName, "mx.cert-name", workflow.Promote, workflow.StatusRefused, true},
		{PolicyDrift, "policy.id-drift", workflow.Promote, workflow.StatusRefused, true},
		{EnforceEarly, "", workflow.Promote, workflow.StatusPending, false},
		{TLSRPTMissing, "tlsrpt.missing", workflow.Promote, workflow.StatusRefused, true},
		{TLSRPTFailing, "", workflow.Promote, workflow.StatusRefused, true},
		{OrphanPolicy, "teardown.orphan-policy", workflow.Promote, workflow.StatusRefused, true},
	}
	for _, c := range cases {
		t.Run(string(c.b), func(t *testing.T) {
			s, e := start(t)
			rollout(t, e)
			if c.skip {
				s.Clock.Skip(15 * 24 * time.Hour)
			}
			if err := s.Inject(c.b); err != nil {
				t.Fatal(err)
			}
			rep := s.Check(context.Background(), DefaultDomain)
			if c.finding != "" && !slices.Contains(findingIDs(rep), c.finding) {
				t.Errorf("check after %s: findings %v, want %s", c.b, findingIDs(rep), c.finding)
			}
			before := string(s.Publisher.File(DefaultDomain))
			id := stsRecord(t, s)
			out := apply(t, e, workflow.Request{Workflow: c.wf})
			if out.Status != c.want {
				t.Errorf("%s after %s: %s (%s), want %s", c.wf, c.b, out.Status, out.Message, c.want)
			}
			if out.Stage == workflow.StageEnforce || stsRecord(t, s) != id {
				t.Errorf("%s published a new id despite %s: %q -> %q", c.wf, c.b, id, stsRecord(t, s))
			}
			if c.want == workflow.StatusRefused && string(s.Publisher.File(DefaultDomain)) != before {
				t.Errorf("a refused %s changed the policy file (%s)", c.wf, c.b)
			}
			// Healing lets the climb go on (except drift, which needs an
			// operator's decision, and the early promote, which needs time).
			if err := s.Heal(c.b); err != nil {
				t.Fatal(err)
			}
			if s.Broken(c.b) {
				t.Errorf("%s still injected after Heal", c.b)
			}
			if c.b == EnforceEarly {
				return
			}
			if out := apply(t, e, workflow.Request{Workflow: workflow.Promote}); out.Status != workflow.StatusDone {
				t.Errorf("promote after healing %s: %s (%s)", c.b, out.Status, out.Message)
			}
		})
	}
}

// stsRecord is what the sandbox's name server answers at _mta-sts.
func stsRecord(t *testing.T, s *Sandbox) string {
	t.Helper()
	var vals []string
	for _, rr := range s.rrsAt("_mta-sts." + s.zone) {
		vals = append(vals, rr.String())
	}
	return strings.Join(vals, " | ")
}

// TestStartWithABreakThatCannotApplyYet: Start fails cleanly (no panic,
// servers stopped) when a failure needs something published first.
func TestStartWithABreakThatCannotApplyYet(t *testing.T) {
	for _, b := range []Break{PolicyDrift, TLSRPTMissing, OrphanPolicy} {
		s, err := Start(context.Background(), Options{Breaks: []Break{b}})
		if s != nil || !errors.Is(err, ErrNotApplicable) {
			t.Errorf("%s at start: %v, %v", b, s, err)
		}
	}
	if _, err := Start(context.Background(), Options{Breaks: []Break{"mx-everything"}}); err == nil {
		t.Error("an unknown failure was accepted")
	}
}

// TestClock: sandbox time runs Factor times faster, Skip adds to it, and
// After fires at sandbox deadlines.
func TestClock(t *testing.T) {
	real0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cur := real0
	c := NewClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), 3600)
	c.realStart, c.real = real0, func() time.Time { return cur }
	cur = real0.Add(2 * time.Second)
	if got := c.Now(); !got.Equal(time.Date(2030, 1, 1, 2, 0, 0, 0, time.UTC)) {
		t.Errorf("2s at 3600x: %s", got)
	}
	c.Skip(24 * time.Hour)
	if got := c.Now(); !got.Equal(time.Date(2030, 1, 2, 2, 0, 0, 0, time.UTC)) {
		t.Errorf("after skipping a day: %s", got)
	}
	if d := c.RealDuration(time.Hour); d != time.Second {
		t.Errorf("an hour takes %s of real time", d)
	}
	ch := c.After(48 * time.Hour)
	select {
	case <-ch:
		t.Fatal("After fired before its deadline")
	case <-time.After(100 * time.Millisecond):
	}
	c.SkipTo(c.Now().Add(48 * time.Hour))
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("After did not fire once the deadline was skipped to")
	}
}

// TestAccessLog: the policy host logs its requests as serve does, with the
// policy id the engine published, so that the demo's dashboard shows which
// senders fetched the live id: after a rollout, the live check's fetches
// (stspilot's sender fetch, not counted as Google, and its browser fetch).
// A policy edited behind the engine's back is served without an id.
func TestAccessLog(t *testing.T) {
	s, e := start(t)
	rollout(t, e)
	if rep := s.Check(context.Background(), DefaultDomain); rep.Stage != "testing" {
		t.Fatalf("after rollout: stage %s, findings %v", rep.Stage, findingIDs(rep))
	}
	st, err := e.Status(context.Background(), DefaultDomain)
	if err != nil || st.Policy == nil || st.Policy.ID == "" {
		t.Fatalf("status: %+v %v", st, err)
	}
	lf := serve.LiveFetchers(st, s.AccessLog)
	if lf == nil || lf.Error != "" || lf.Senders["other"] == 0 || lf.Senders["browser"] == 0 || lf.Senders["google"] != 0 {
		t.Fatalf("fetchers of the live id from the sandbox's access log: %+v", lf)
	}
	before := lf.Senders["other"]
	if on, err := s.Toggle(PolicyDrift); err != nil || !on {
		t.Fatalf("inject %s: %v %v", PolicyDrift, on, err)
	}
	s.Check(context.Background(), DefaultDomain)
	if lf := serve.LiveFetchers(st, s.AccessLog); lf.Senders["other"] != before {
		t.Errorf("a drifted policy was logged with the id the engine gave the bytes before: %+v", lf)
	}
	b, err := os.ReadFile(s.AccessLog)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), `"user_agent":"stspilot `); n <= before {
		t.Errorf("the drifted policy's fetches are not in the log: %d stspilot fetches logged, %d before", n, before)
	}
}
