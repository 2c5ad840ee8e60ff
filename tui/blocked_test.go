package tui

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/stspilot/stspilot/workflow"
	"github.com/stspilot/stspilot/workflow/sandbox"
)

// enforcedThenBroken drives the world's engine (no screens) to enforce
// and then makes its policy host answer 404: the field's failure 1 under
// an enforce policy.
func enforcedThenBroken(t testing.TB, w *world) {
	t.Helper()
	ctx := context.Background()
	apply := func(req workflow.Request) *workflow.Outcome {
		t.Helper()
		out, err := w.e.Apply(ctx, req, nil, nil, workflow.ApplyOptions{})
		if err != nil {
			t.Fatalf("%s: %v", req.Workflow, err)
		}
		return out
	}
	if out := apply(workflow.Request{Workflow: workflow.Rollout, Domain: w.sb.Domain, RUA: sandbox.DefaultRUA}); out.Status != workflow.StatusDone {
		t.Fatalf("rollout: %+v", out)
	}
	w.clock.Advance(15 * 24 * time.Hour)
	if out := apply(workflow.Request{Workflow: workflow.Promote, Domain: w.sb.Domain, WithoutReports: true}); out.Stage != workflow.StageEnforce {
		t.Fatalf("promote: %+v", out)
	}
	if on, err := w.sb.Toggle(sandbox.PolicyNotFound); err != nil || !on {
		t.Fatalf("inject %s: %v %v", sandbox.PolicyNotFound, on, err)
	}
}

// leaks finds a flag or a command line in a rendered screen: the wizard
// offers keys, never flags or commands.
var leaks = regexp.MustCompile(`--[a-z]|stspilot (rollout|promote|rollback|teardown|check|status|plan|reports|serve|providers|demo|help|version|wizard)\b`)

func assertNoCommands(t *testing.T, d *driver) {
	t.Helper()
	for _, v := range append(d.views, d.m.View()) {
		if m := leaks.FindString(v); m != "" {
			t.Fatalf("a screen tells the user to run a command or pass a flag (%q):\n%s", m, v)
		}
	}
}

// TestBlockedRollbackWaitsOnOneScreen: the emergency rollback from
// enforce while the policy host answers 404 cannot open its served gate
// by itself. The wait screen says so: the cause (address and answer), the
// fix check gives, the horizon, the keys, and no countdown. It re-runs the
// rollback behind the same screen (never flipping to the apply screen),
// c re-checks at once, f shows the finding and esc comes back; once the
// host is healed the rollback finishes by itself.
func TestBlockedRollbackWaitsOnOneScreen(t *testing.T) {
	w := newWorld(t)
	enforcedThenBroken(t, w)
	d := drive(t, NewModel(context.Background(), w.opts))
	d.ready()
	d.key("!")
	d.key("y")
	d.until("the wait screen", func() bool { return d.m.state == stWait })
	if !d.m.wait.gate.blocked {
		t.Fatalf("a 404 from the policy host is not a blocked gate: %+v", d.m.wait.out.Gate)
	}
	d.screen("the fix from the live check", "policy.http-status")
	v := d.m.View()
	for _, want := range []string{
		"Blocked: the served gate of rollback will not open by itself",
		"cause", "mta-sts.demo.test at 127.0.0.1: answers HTTP 404",
		"fix", "serve the policy file at exactly /.well-known/mta-sts.txt with", "(policy.http-status)",
		"meanwhile", "senders keep the cached enforce policy (mx mx1.demo.test,", "until 2030-01-17 00:00 UTC whatever you do",
		"c re-check now", "f show the finding", "! roll back", "esc leave",
	} {
		if !strings.Contains(v, want) {
			t.Errorf("blocked wait screen lacks %q:\n%s", want, v)
		}
	}
	for _, not := range []string{"opens", "(in ", "timer"} {
		if strings.Contains(v, not) {
			t.Errorf("a blocked gate shows a countdown (%q):\n%s", not, v)
		}
	}
	// The re-runs happen behind the wait screen.
	stay := func(what string, cond func() bool) {
		t.Helper()
		d.until(what, func() bool {
			if d.m.state != stWait {
				t.Fatalf("left the wait screen while %s: %s\n%s", what, d.m.State(), d.m.View())
			}
			return cond()
		})
	}
	stay("three re-runs", func() bool { return d.m.wait.runs >= 3 && !d.m.wait.checking })
	runs := d.m.wait.runs
	d.key("c")
	stay("the re-check asked for", func() bool { return d.m.wait.runs > runs })
	d.key("f")
	if d.m.state != stFindings || !strings.Contains(d.m.View(), "policy.http-status") {
		t.Fatalf("f on the wait screen: %s\n%s", d.m.State(), d.m.View())
	}
	d.key("esc")
	if d.m.state != stWait {
		t.Fatalf("esc from the finding went to %s, not back to the wait screen", d.m.State())
	}
	assertNoCommands(t, d)
	if on, err := w.sb.Toggle(sandbox.PolicyNotFound); err != nil || on {
		t.Fatalf("heal: %v %v", on, err)
	}
	d.until("the rollback to finish", func() bool { return d.m.state == stApply && d.m.apply.finished })
	if out := d.m.apply.out; out == nil || out.Status != workflow.StatusDone || out.Stage != workflow.StageTesting {
		t.Fatalf("the rollback after the fix: %+v", out)
	}
}

// TestLeavingABlockedRollbackOffersToFinishIt: esc leaves a blocked wait
// with a note that names no countdown; the dashboard shows the interrupted
// rollback with n to finish it (never "run rollout first"), and the plan
// n opens says that it lowers enforce to testing.
func TestLeavingABlockedRollbackOffersToFinishIt(t *testing.T) {
	w := newWorld(t)
	enforcedThenBroken(t, w)
	d := drive(t, NewModel(context.Background(), w.opts))
	d.ready()
	d.key("!")
	d.key("y")
	d.until("the wait screen", func() bool { return d.m.state == stWait })
	d.key("esc")
	if d.m.state != stDashboard || !strings.Contains(d.m.note, "blocked") || strings.Contains(d.m.note, "(in ") {
		t.Fatalf("esc from a blocked wait: %s, note %q", d.m.State(), d.m.note)
	}
	d.until("the interrupted rollback on the dashboard", func() bool {
		return d.m.dash.st != nil && d.m.dash.st.Pending != nil && !d.m.applying()
	})
	v := d.m.View()
	for _, want := range []string{"a rollback (to testing@86400) started 2030-01-16 00:00 UTC did not finish", "n finishes it", "n finish rollback"} {
		if !strings.Contains(v, want) {
			t.Errorf("dashboard lacks %q:\n%s", want, v)
		}
	}
	if strings.Contains(v, "first") {
		t.Errorf("the dashboard sends the operator elsewhere first:\n%s", v)
	}
	// Promote is refused until the rollback is finished; O plans that.
	d.key("p")
	d.until("the promote plan", func() bool { return d.m.state == stPlan })
	if r := d.m.plan.plan.Refusal; r == nil || r.Code != workflow.CodeFinishInterrupted || !strings.Contains(d.m.View(), "O plans the interrupted rollback, to finish it first") {
		t.Fatalf("promote over an interrupted rollback:\n%s", d.m.View())
	}
	d.key("O")
	d.until("the rollback plan O made", func() bool { return d.m.state == stPlan && d.m.plan.plan.Workflow == workflow.Rollback })
	d.key("esc")
	d.key("n")
	d.until("the rollback plan", func() bool { return d.m.state == stPlan })
	if p := d.m.plan.plan; p.Workflow != workflow.Rollback {
		t.Fatalf("n planned %s", p.Workflow)
	}
	if v := d.m.View(); !strings.Contains(v, "Plan: rollback demo.test lowers enforce to testing") || !strings.Contains(v, "nothing served (senders may hold enforce) → testing") {
		t.Errorf("the plan hides that it lowers the mode:\n%s", v)
	}
	assertNoCommands(t, d)
}

// TestWaitingGateCountsDownOnTheEngineClock: a waiting gate's countdown
// follows the engine's clock, second by second, on the one wait screen.
func TestWaitingGateCountsDownOnTheEngineClock(t *testing.T) {
	w := newWorld(t)
	d := drive(t, NewModel(context.Background(), w.opts))
	rollout(d)
	d.key("enter")
	d.ready()
	d.key("p")
	d.until("the promote plan", func() bool { return d.m.state == stPlan })
	d.key("enter")
	d.key("y")
	d.until("the wait screen", func() bool { return d.m.state == stWait })
	if d.m.wait.gate.blocked {
		t.Fatal("the soak is a blocked gate")
	}
	w.clock.Advance(14*24*time.Hour - 90*time.Second)
	d.screen("the last minute and a half", "opens    2030-01-15 00:00 UTC (in 1m 30s)")
	w.clock.Advance(time.Second)
	d.screen("a second later", "(in 1m 29s)")
	assertNoCommands(t, d)
}

// TestNoScreenNamesAFlagOrCommand walks the screens each demo failure
// leads to from testing and from enforce (the dashboard with its full
// help, the findings, the promote plan and what O plans from it, the plan
// n opens, the teardown plan, its confirmation and the plan O makes from
// it, the max_age field O opens on a refused teardown, the MX screen with a bad
// target and the plan of a good one, the rollback question) and, through drive's check, finds
// no flag and no command line on any of them.
func TestNoScreenNamesAFlagOrCommand(t *testing.T) {
	for _, b := range sandbox.Breaks {
		for _, enforce := range []bool{false, true} {
			name := string(b.Name) + "/testing"
			if enforce {
				name = string(b.Name) + "/enforce"
			}
			t.Run(name, func(t *testing.T) { walkScreens(t, b.Name, enforce) })
		}
	}
}

// walkScreens starts in testing (or enforce), injects failure b and visits
// the screens it leads to.
func walkScreens(t *testing.T, b sandbox.Break, enforce bool) {
	w := newWorld(t)
	ctx := context.Background()
	if out, err := w.e.Apply(ctx, workflow.Request{Workflow: workflow.Rollout, Domain: w.sb.Domain, RUA: sandbox.DefaultRUA}, nil, nil, workflow.ApplyOptions{}); err != nil || out.Status != workflow.StatusDone {
		t.Fatalf("rollout: %+v %v", out, err)
	}
	w.clock.Advance(15 * 24 * time.Hour)
	if enforce {
		if out, err := w.e.Apply(ctx, workflow.Request{Workflow: workflow.Promote, Domain: w.sb.Domain, WithoutReports: true}, nil, nil, workflow.ApplyOptions{}); err != nil || out.Stage != workflow.StageEnforce {
			t.Fatalf("promote: %+v %v", out, err)
		}
	}
	d := drive(t, NewModel(ctx, w.opts))
	d.ready()
	i := toggleBreak(d, b)
	d.until("the failure injected", func() bool { return d.m.breaks.items[i].On && !d.m.dash.running && d.m.dash.rep != nil })
	d.key("esc")
	d.key("?")
	d.key("?")
	d.key("f")
	d.key("esc")
	planned := func(k string) {
		d.key(k)
		d.until("the plan of "+k, func() bool { return d.m.state == stPlan || d.m.err != nil })
	}
	planned("p")
	if d.m.state == stPlan && d.m.c.keys.Override.Enabled() {
		d.key("O")
		d.until("the plan O made", func() bool { return !strings.HasPrefix(d.m.note, "planning") || d.m.err != nil })
	}
	d.m.state, d.m.err = stDashboard, nil
	if d.m.c.keys.Next.Enabled() {
		planned("n")
		d.m.state, d.m.err = stDashboard, nil
	}
	planned("t")
	if d.m.state == stPlan && d.m.plan.plan.Refusal == nil && !d.m.plan.plan.Nothing {
		d.key("enter")
		d.key("esc")
	}
	if d.m.state == stPlan && d.m.c.keys.Override.Enabled() {
		// O keeps (or deletes) the TLS-RPT record.
		d.key("O")
		d.until("the teardown plan O made", func() bool { return !strings.HasPrefix(d.m.note, "planning") || d.m.err != nil })
	}
	d.m.state, d.m.err = stDashboard, nil
	// A teardown refused for an unknown cache window: O's max_age field,
	// a value that does not parse, then one planned.
	unknownWindow(d, w.sb.Domain)
	d.key("O")
	d.typeText("x")
	d.key("enter")
	d.send(tea.KeyMsg{Type: tea.KeyBackspace})
	d.typeText("90d")
	d.key("enter")
	d.until("the teardown planned with a max_age", func() bool { return d.m.state == stPlan && !d.m.plan.asking || d.m.err != nil })
	d.m.state, d.m.err = stDashboard, nil
	// The MX screen, a target that does not parse, then one planned.
	d.key("m")
	d.typeText("mx2." + w.sb.Domain + ":x")
	d.key("enter")
	d.send(tea.KeyMsg{Type: tea.KeyBackspace})
	d.typeText("10")
	d.key("enter")
	d.until("the mx-migrate plan", func() bool { return d.m.state == stPlan || d.m.err != nil })
	d.m.state, d.m.err = stDashboard, nil
	d.key("!")
	d.key("n")
	seen := map[string]bool{}
	for _, v := range d.views {
		for _, s := range []string{"Plan: promote", "Plan: teardown", "Findings for", "Inject a field failure", "Emergency rollback", "Target MX set", "The largest max_age ever published"} {
			if strings.Contains(v, s) {
				seen[s] = true
			}
		}
	}
	if !seen["The largest max_age ever published"] {
		t.Error("the walk never saw the max_age field")
	}
	if !seen["Target MX set"] {
		t.Error("the walk never saw the MX screen")
	}
	if len(seen) < 5 {
		t.Errorf("the walk saw only %v", seen)
	}
}

// TestFindingActionKey: a finding whose typed action is a workflow offers
// that workflow's key on the findings screen, and the key plans it.
func TestFindingActionKey(t *testing.T) {
	w := newWorld(t)
	d := drive(t, NewModel(context.Background(), w.opts))
	rollout(d)
	d.key("enter")
	d.ready()
	toggleBreak(d, sandbox.OrphanPolicy)
	d.until("the orphan policy in the check and the status", func() bool {
		return !d.m.dash.running && hasFinding(d.m.dash.rep, "teardown.orphan-policy") && d.m.dash.st != nil && d.m.dash.st.Stage == workflow.StageBroken
	})
	d.key("esc")
	if v := d.m.View(); !strings.Contains(v, "t plans the teardown that fixes it") {
		t.Errorf("the broken dashboard does not offer the finding's action:\n%s", v)
	}
	d.key("f")
	if v := d.m.View(); !strings.Contains(v, "key:  t plans the teardown") {
		t.Fatalf("the findings screen does not offer the action's key:\n%s", v)
	}
	d.key("t")
	d.until("the teardown plan", func() bool { return d.m.state == stPlan })
	if p := d.m.plan.plan; p.Workflow != workflow.Teardown {
		t.Fatalf("t on the findings planned %s", p.Workflow)
	}
}

// TestKeysReadTogether: keys the terminal delivers in one read ("xa")
// are each a key (the switchboard opens, then a injects); the fields of
// the set-up and confirmation screens still take them as text.
func TestKeysReadTogether(t *testing.T) {
	w := newWorld(t)
	d := drive(t, NewModel(context.Background(), w.opts))
	d.ready()
	d.send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("xa")})
	d.until("policy-404 injected", func() bool { return d.m.state == stBreaks && d.m.breaks.items[0].On })
}
