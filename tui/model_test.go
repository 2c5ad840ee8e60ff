package tui

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/stspilot/stspilot/checks"
	"github.com/stspilot/stspilot/dnsprovider"
	"github.com/stspilot/stspilot/workflow"
	"github.com/stspilot/stspilot/workflow/journal"
	"github.com/stspilot/stspilot/workflow/sandbox"
)

func hasFinding(r *checks.Report, id string) bool {
	return r != nil && slices.ContainsFunc(r.Findings, func(f checks.Finding) bool { return f.ID == id })
}

// toggleBreak opens the demo's switchboard and flips the failure b,
// returning its row there.
func toggleBreak(d *driver, b sandbox.Break) int {
	d.t.Helper()
	d.key("x")
	i := slices.IndexFunc(d.m.breaks.items, func(f Failure) bool { return f.Name == string(b) })
	if i < 0 {
		d.t.Fatalf("the switchboard has no %s", b)
	}
	d.key(string(breakKeys[i]))
	return i
}

// rollout drives the dashboard's next step through plan and confirmation.
func rollout(d *driver) *workflow.Outcome {
	d.t.Helper()
	d.ready()
	d.key("n")
	d.until("the plan", func() bool { return d.m.state == stPlan })
	if d.m.plan.plan.Workflow != workflow.Rollout {
		d.t.Fatalf("next step planned %s, want rollout", d.m.plan.plan.Workflow)
	}
	d.key("enter")
	if d.m.state != stConfirm || d.m.confirm.destructive {
		d.t.Fatalf("after enter on the plan: %s (destructive %v)", d.m.State(), d.m.confirm.destructive)
	}
	d.key("y")
	return d.applied()
}

// TestRolloutThroughTheScreens: dashboard -> plan (records, diff, id) ->
// confirm -> apply, rendered from the engine's events, ending in testing.
func TestRolloutThroughTheScreens(t *testing.T) {
	w := newWorld(t)
	d := drive(t, NewModel(context.Background(), w.opts))
	d.ready()
	if d.m.dash.st.Stage != workflow.StageAbsent || d.m.dash.st.Next != workflow.Rollout {
		t.Fatalf("status: %+v", d.m.dash.st)
	}
	d.key("n")
	d.until("the plan", func() bool { return d.m.state == stPlan })
	v := d.m.View()
	for _, want := range []string{"Plan: rollout demo.test", "no policy → testing, max_age 86400", "+ mode: testing", "+ mx: mx1.demo.test", `+ _smtp._tls.demo.test "v=TLSRPTv1; rua=mailto:tlsrpt@demo.test"`} {
		if !strings.Contains(v, want) {
			t.Errorf("plan screen lacks %q:\n%s", want, v)
		}
	}
	id := d.m.plan.plan.Target.ID
	d.key("enter")
	d.key("y")
	out := d.applied()
	if out == nil || out.Status != workflow.StatusDone || out.Stage != workflow.StageTesting || out.Policy.ID != id {
		t.Fatalf("outcome %+v, want done in testing with the id shown (%s)", out, id)
	}
	v = d.m.View()
	for _, want := range []string{"✓ 1. publish the testing policy", "✓ mta-sts.demo.test 127.0.0.1 ok", "✓ ns1.demo.test 127.0.0.1 ok", "✓ done: demo.test is live: mode testing"} {
		if !strings.Contains(v, want) {
			t.Errorf("apply screen lacks %q:\n%s", want, v)
		}
	}
	if d.m.apply.journal == 0 {
		t.Error("no journal write was shown")
	}
	if h, _ := w.sb.Journal.History(w.sb.Domain, 0); len(h) == 0 {
		t.Error("the journal is empty after the wizard's rollout")
	}
	d.key("enter")
	d.until("the dashboard in testing", func() bool {
		return d.m.state == stDashboard && d.m.dash.st != nil && d.m.dash.st.Stage == workflow.StageTesting
	})
}

// TestRollbackKeyOnEveryScreen: ! opens one confirmation on every screen;
// n leaves everything as it was; y rolls back at once.
func TestRollbackKeyOnEveryScreen(t *testing.T) {
	w := newWorld(t)
	d := drive(t, NewModel(context.Background(), w.opts))
	rollout(d)
	w.clock.Advance(15 * 24 * time.Hour)
	d.key("enter")
	d.ready()
	screens := map[state]func(){
		stDashboard: func() {},
		stFindings:  func() { d.key("f") },
		stBreaks:    func() { d.key("x") },
		stPlan: func() {
			d.key("p")
			d.until("the promote plan", func() bool { return d.m.state == stPlan })
		},
	}
	for _, s := range []state{stDashboard, stFindings, stBreaks, stPlan} {
		d.m.state = stDashboard
		screens[s]()
		if d.m.state != s {
			t.Fatalf("could not reach screen %d (at %s)", s, d.m.State())
		}
		d.key("!")
		if d.m.overlay != ovRollback || !strings.Contains(d.m.View(), "Emergency rollback of demo.test") {
			t.Fatalf("! on %s: overlay %d\n%s", d.m.State(), d.m.overlay, d.m.View())
		}
		d.key("n")
		if d.m.overlay != ovNone || d.m.state != s || d.m.applying() {
			t.Fatalf("n on the rollback question changed something: %s overlay %d", d.m.State(), d.m.overlay)
		}
	}
	// Promote to enforce first, so that there is something to roll back.
	d.m.state = stDashboard
	d.key("p")
	d.until("the promote plan", func() bool { return d.m.state == stPlan })
	d.key("enter")
	d.key("y")
	if out := d.applied(); out.Stage != workflow.StageEnforce {
		t.Fatalf("promote: %+v", out)
	}
	d.key("!")
	d.key("y")
	out := d.applied()
	if out.Status != workflow.StatusDone || out.Stage != workflow.StageTesting || d.m.apply.req.Workflow != workflow.Rollback {
		t.Fatalf("rollback: %+v", out)
	}
	if !strings.Contains(d.m.View(), "risk window:") {
		t.Errorf("the rollback did not show its risk window:\n%s", d.m.View())
	}
}

// blockingPublisher holds Publish until the run is cancelled.
type blockingPublisher struct {
	workflow.Publisher
	started chan struct{}
}

func (b blockingPublisher) Publish(ctx context.Context, d string, p []byte) (workflow.Published, error) {
	close(b.started)
	<-ctx.Done()
	return workflow.Published{}, ctx.Err()
}

// TestQuitDuringApplyAsksAndLeavesTheJournalConsistent: q (or a quit from
// anywhere, through the filter) during an apply asks; n goes on; y
// cancels the run, waits for Apply to return, then quits. The journal
// holds no half-written entry and its lock is free.
func TestQuitDuringApplyAsksAndLeavesTheJournalConsistent(t *testing.T) {
	w := newWorld(t)
	bp := blockingPublisher{Publisher: w.e.Config().Publisher, started: make(chan struct{})}
	w.reconfigure(t, func(c *workflow.Config) { c.Publisher = bp })
	d := drive(t, NewModel(context.Background(), w.opts))
	d.ready()
	d.key("n")
	d.until("the plan", func() bool { return d.m.state == stPlan })
	d.key("enter")
	d.key("y")
	d.until("the publish step to start", func() bool {
		select {
		case <-bp.started:
			return true
		default:
			return false
		}
	})
	if got := Filter(d.m, tea.QuitMsg{}); got != (askQuitMsg{}) {
		t.Fatalf("a quit during the apply passed the filter: %T", got)
	}
	d.key("q")
	if d.m.overlay != ovQuit || !strings.Contains(d.m.View(), "Quit anyway?") {
		t.Fatalf("q during the apply did not ask:\n%s", d.m.View())
	}
	d.key("n")
	if d.m.overlay != ovNone || !d.m.applying() || d.quit {
		t.Fatal("n did not keep the apply going")
	}
	d.key("ctrl+c")
	d.key("y")
	d.until("the program to quit", func() bool { return d.quit })
	if !d.m.apply.finished || d.m.apply.out == nil || d.m.apply.out.Status != workflow.StatusFailed {
		t.Fatalf("the apply did not end before the quit: %+v", d.m.apply.out)
	}
	h, _ := w.sb.Journal.History(w.sb.Domain, 0)
	if len(h) == 0 || h[len(h)-1].Status == journal.Pending {
		t.Fatalf("journal after the quit: %+v", h)
	}
	txn, err := w.sb.Journal.Begin(w.sb.Domain, "test", w.clock.Now())
	if err != nil {
		t.Fatalf("the journal is still locked: %v", err)
	}
	txn.Close()
	if got := Filter(d.m, tea.QuitMsg{}); got != (tea.QuitMsg{}) {
		t.Errorf("with no apply running the filter changed a quit into %T", got)
	}
}

// TestWaitScreenOnAFakeClock: a promote inside the soak waits; re-checks
// before the gate's time keep waiting; once the clock reaches it, the
// re-check runs the promote again, which finishes.
func TestWaitScreenOnAFakeClock(t *testing.T) {
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
	if want := t0.Add(14 * 24 * time.Hour); !d.m.wait.nextAt.Equal(want) {
		t.Errorf("waiting until %s, want %s", d.m.wait.nextAt, want)
	}
	if v := d.m.View(); !strings.Contains(v, "Waiting: the window gate of promote is closed") || !strings.Contains(v, "(in 14d)") {
		t.Errorf("wait screen:\n%s", v)
	}
	// Re-checks run while the clock has not moved; the screen stays.
	d.until("three re-checks", func() bool { return d.m.wait.rechecks >= 3 })
	if d.m.state != stWait {
		t.Fatalf("left the wait screen before the gate's time: %s", d.m.State())
	}
	w.clock.Advance(13 * 24 * time.Hour)
	n := d.m.wait.rechecks
	d.until("a re-check a day before", func() bool { return d.m.wait.rechecks > n })
	if d.m.state != stWait || !strings.Contains(d.m.View(), "(in 1d)") {
		t.Fatalf("a day before the gate: %s\n%s", d.m.State(), d.m.View())
	}
	gen := d.m.applyGen
	w.clock.Advance(24 * time.Hour)
	d.until("the promote to run again", func() bool { return d.m.applyGen > gen && d.m.apply.finished })
	out := d.m.apply.out
	if out.Status != workflow.StatusDone || out.Stage != workflow.StageEnforce {
		t.Fatalf("promote after the wait: %+v", out)
	}
}

// TestInjectedFailureIsShownAndRefused: the demo switchboard injects an
// MX certificate failure; the dashboard shows the finding, the findings
// screen its fix, and promote to enforce is refused on the plan screen.
func TestInjectedFailureIsShownAndRefused(t *testing.T) {
	w := newWorld(t)
	d := drive(t, NewModel(context.Background(), w.opts))
	rollout(d)
	w.clock.Advance(15 * 24 * time.Hour)
	d.key("enter")
	d.ready()
	i := toggleBreak(d, sandbox.MXCertName)
	d.until("the injected failure in the check", func() bool { return !d.m.dash.running && hasFinding(d.m.dash.rep, "mx.cert-name") })
	if !d.m.breaks.items[i].On || !strings.Contains(d.m.View(), "[x] 3 mx-cert-name") {
		t.Errorf("switchboard does not show the failure on:\n%s", d.m.View())
	}
	d.key("esc")
	if v := d.m.View(); !strings.Contains(v, "✗ mx.cert-name") {
		t.Errorf("dashboard does not show the finding:\n%s", v)
	}
	d.key("f")
	if v := d.m.View(); !strings.Contains(v, "mx.cert-name") || !strings.Contains(v, "fix:") {
		t.Errorf("findings screen lacks the finding and its fix:\n%s", v)
	}
	d.key("esc")
	d.key("p")
	d.until("the promote plan", func() bool { return d.m.state == stPlan })
	if p := d.m.plan.plan; p.Refusal == nil || !strings.Contains(d.m.View(), "Refused: enforce would make senders refuse mail") {
		t.Fatalf("promote with a bad MX certificate was not refused:\n%s", d.m.View())
	}
	d.key("enter")
	if d.m.state != stPlan {
		t.Fatalf("enter on a refused plan went to %s", d.m.State())
	}
}

// TestTeardownNeedsTheDomainTyped: destructive steps are confirmed by
// typing the domain; anything else is refused.
func TestTeardownNeedsTheDomainTyped(t *testing.T) {
	w := newWorld(t)
	d := drive(t, NewModel(context.Background(), w.opts))
	rollout(d)
	d.key("enter")
	d.ready()
	d.key("t")
	d.until("the teardown plan", func() bool { return d.m.state == stPlan })
	d.key("enter")
	if d.m.state != stConfirm || !d.m.confirm.destructive {
		t.Fatalf("teardown confirmation is not the destructive one: %s", d.m.State())
	}
	d.typeText("demo.tes")
	d.key("enter")
	if d.m.state != stConfirm || d.m.applying() || !strings.Contains(d.m.View(), "that is not demo.test") {
		t.Fatalf("a wrong domain was accepted:\n%s", d.m.View())
	}
	d.typeText("t")
	d.key("enter")
	d.until("the teardown to wait", func() bool { return d.m.state == stWait })
	if d.m.wait.out.Gate == nil || d.m.wait.out.Gate.Kind != workflow.GateWindow {
		t.Fatalf("teardown waits on %+v", d.m.wait.out.Gate)
	}
}

// TestSetupMasksSecretsAndPassesThemAsASource: the set-up screen's fields
// come from the provider metadata; a secret never appears on screen and
// reaches Open only through the Source.
func TestSetupMasksSecretsAndPassesThemAsASource(t *testing.T) {
	const secret = "tok-9f8e7d6c5b4a"
	got := make(chan Setup, 1)
	opts := Options{
		Providers: []dnsprovider.Info{{Name: "acme", Title: "Acme DNS", Description: "a test provider", Settings: []dnsprovider.Setting{
			{Name: "api_token", Env: "ACME_API_TOKEN", Secret: true, Required: true, Help: "API token"},
		}}},
		RUA: "mailto:r@example.com",
		Open: func(ctx context.Context, s Setup) (*workflow.Engine, error) {
			got <- s
			return nil, context.Canceled
		},
	}
	d := drive(t, NewModel(context.Background(), opts))
	if d.m.state != stSetup {
		t.Fatalf("without an engine the wizard starts on %s", d.m.State())
	}
	d.typeText("example.com")
	d.key("tab") // provider
	d.key("tab") // ACME_API_TOKEN
	d.key("enter")
	d.key("enter") // publish: empty is manual
	d.key("enter") // rua: submit without the token
	if !strings.Contains(d.m.View(), "acme needs ACME_API_TOKEN") {
		t.Fatalf("a missing required setting was not named:\n%s", d.m.View())
	}
	for range 3 {
		d.key("tab") // rua -> domain -> provider -> token
	}
	d.typeText(secret)
	d.key("enter")
	d.key("enter")
	d.key("enter")
	var s Setup
	select {
	case s = <-got:
	case <-time.After(10 * time.Second):
		t.Fatalf("Open was not called:\n%s", d.m.View())
	}
	if s.Domain != "example.com" || s.Provider != "acme" || s.Publish != "manual" || s.RUA != "mailto:r@example.com" {
		t.Errorf("set-up: %+v", s)
	}
	if v, ok := s.Source.Lookup("ACME_API_TOKEN"); !ok || v != secret {
		t.Errorf("the token did not reach the source: %q %v", v, ok)
	}
	for _, v := range d.views {
		if strings.Contains(v, secret) || strings.Contains(v, secret[:6]) {
			t.Fatalf("the secret was on screen:\n%s", v)
		}
	}
	d.until("the open error", func() bool { return d.m.err != nil })
}

// TestResize: the screen keeps to the terminal's size.
func TestResize(t *testing.T) {
	w := newWorld(t)
	d := drive(t, NewModel(context.Background(), w.opts))
	d.ready()
	for _, sz := range [][2]int{{80, 24}, {60, 15}, {120, 40}} {
		d.send(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
		lines := strings.Split(d.m.View(), "\n")
		if len(lines) != sz[1] {
			t.Errorf("%dx%d: %d lines", sz[0], sz[1], len(lines))
		}
		for _, l := range lines {
			if n := lipglossWidth(l); n > sz[0] {
				t.Errorf("%dx%d: line of %d columns: %q", sz[0], sz[1], n, l)
			}
		}
	}
}

// TestRollbackKeyOnTheConfirmations: ! asks for the rollback on the
// confirmations too, the teardown's (where letters are text) included,
// and never lands in the typed domain.
func TestRollbackKeyOnTheConfirmations(t *testing.T) {
	w := newWorld(t)
	d := drive(t, NewModel(context.Background(), w.opts))
	rollout(d)
	for _, wf := range []string{"p", "t"} {
		d.m.state = stDashboard
		d.key(wf)
		d.until("the plan", func() bool { return d.m.state == stPlan })
		d.key("enter")
		if d.m.state != stConfirm {
			t.Fatalf("%s: enter on the plan led to %s", wf, d.m.State())
		}
		if d.m.confirm.destructive {
			d.typeText("demo")
		}
		d.key("!")
		if d.m.overlay != ovRollback || !strings.Contains(d.m.View(), "Emergency rollback of demo.test") {
			t.Fatalf("! on the %s confirmation: overlay %d\n%s", wf, d.m.overlay, d.m.View())
		}
		for _, l := range strings.Split(d.m.rollbackBox(), "\n") {
			if ansiWidth(l) > 60 {
				t.Fatalf("the rollback question is wider than 60 columns:\n%s", d.m.rollbackBox())
			}
		}
		d.key("n")
		if d.m.overlay != ovNone || d.m.state != stConfirm || d.m.applying() {
			t.Fatalf("n on the rollback question changed something: %s overlay %d", d.m.State(), d.m.overlay)
		}
		if d.m.confirm.destructive && d.m.confirm.in.Value() != "demo" {
			t.Errorf("the typed domain is %q after !", d.m.confirm.in.Value())
		}
	}
	// The apply screen, once the run is done.
	d.m.state = stApply
	d.key("!")
	if d.m.overlay != ovRollback {
		t.Fatalf("! on the apply screen: overlay %d", d.m.overlay)
	}
	d.key("n")
}

// TestQuitKeys: q quits, ctrl+c interrupts (Run returns
// tea.ErrInterrupted: exit 130), on the set-up form too, where q is text.
func TestQuitKeys(t *testing.T) {
	w := newWorld(t)
	d := drive(t, NewModel(context.Background(), w.opts))
	d.ready()
	d.key("q")
	d.until("the quit", func() bool { return d.quit })
	if d.interrupted {
		t.Fatalf("q: quit %v interrupted %v", d.quit, d.interrupted)
	}
	d = drive(t, NewModel(context.Background(), w.opts))
	d.ready()
	d.key("ctrl+c")
	d.until("the interrupt", func() bool { return d.quit })
	if !d.interrupted {
		t.Fatalf("ctrl+c: quit %v interrupted %v", d.quit, d.interrupted)
	}
	s := drive(t, NewModel(context.Background(), Options{Providers: dnsprovider.Providers(false)}))
	s.key("q")
	if s.quit {
		t.Fatal("q quit the set-up form, where it is a letter")
	}
	s.key("ctrl+c")
	s.until("the interrupt", func() bool { return s.quit })
	if !s.interrupted {
		t.Fatalf("ctrl+c on set-up: quit %v interrupted %v", s.quit, s.interrupted)
	}
}

// TestTLSRPTFailuresAreAFinding: TLS-RPT reports with failures block
// promote; the Findings screen lists that as a finding with its fix, and
// the dashboard counts it.
func TestTLSRPTFailuresAreAFinding(t *testing.T) {
	w := newWorld(t)
	d := drive(t, NewModel(context.Background(), w.opts))
	rollout(d)
	w.clock.Advance(15 * 24 * time.Hour)
	d.key("enter")
	d.ready()
	toggleBreak(d, sandbox.TLSRPTFailing)
	d.until("promote blocked by the reports", func() bool {
		st := d.m.dash.st
		return st != nil && st.Blocked != nil && st.Blocked.Code == workflow.CodeEvidence && !d.m.dash.running
	})
	d.key("esc")
	if v := d.m.View(); !strings.Contains(v, "✗ tlsrpt.failures") {
		t.Errorf("the dashboard does not count the reports' failures:\n%s", v)
	}
	d.key("f")
	if v := d.m.View(); !strings.Contains(v, "tlsrpt.failures") || !strings.Contains(v, "fix:") {
		t.Errorf("findings screen lacks the TLS-RPT failures and their fix:\n%s", v)
	}
}

// TestSetupHints: placeholders read as examples, the rua's follows the
// domain typed, and a setting's help is never cut to its field.
func TestSetupHints(t *testing.T) {
	long := "API token with DNS edit rights on every zone the domain lives in, from the provider's console"
	d := drive(t, NewModel(context.Background(), Options{Providers: []dnsprovider.Info{{Name: "acme", Settings: []dnsprovider.Setting{
		{Name: "api_token", Env: "ACME_API_TOKEN", Secret: true, Required: true, Help: long},
	}}}}))
	d.typeText("mail.example.org")
	v := d.m.View()
	for _, want := range []string{"e.g. mailto:tlsrpt@mail.example.org", "e.g. webroot:"} {
		if !strings.Contains(v, want) {
			t.Errorf("set-up lacks %q:\n%s", want, v)
		}
	}
	if !strings.Contains(strings.Join(strings.Fields(v), " "), long) {
		t.Errorf("the setting's help is cut:\n%s", v)
	}
}

// TestPlanScrollsByLineAndPage: j/k move a line, space and pgdn a page,
// pgup back; the last line says how to scroll while the plan goes on.
func TestPlanScrollsByLineAndPage(t *testing.T) {
	w := newWorld(t)
	d := drive(t, NewModel(context.Background(), w.opts))
	rollout(d)
	w.clock.Advance(24 * time.Hour)
	d.key("enter")
	d.ready()
	d.key("p")
	d.until("the promote plan", func() bool { return d.m.state == stPlan })
	if v := d.m.View(); !strings.Contains(v, "space/pgdn or j/↓ scrolls") {
		t.Fatalf("the plan does not say how to scroll:\n%s", v)
	}
	d.key("j")
	if d.m.plan.off != 1 {
		t.Fatalf("j: offset %d", d.m.plan.off)
	}
	d.key("k")
	d.send(tea.KeyMsg{Type: tea.KeySpace, Runes: []rune{' '}})
	d.m.View()
	if d.m.plan.off < 2 || !strings.Contains(d.m.View(), "gate live") {
		t.Fatalf("space: offset %d\n%s", d.m.plan.off, d.m.View())
	}
	d.send(tea.KeyMsg{Type: tea.KeyPgUp})
	if d.m.plan.off != 0 {
		t.Fatalf("pgup: offset %d", d.m.plan.off)
	}
	d.send(tea.KeyMsg{Type: tea.KeyPgDown})
	if d.m.plan.off == 0 {
		t.Fatal("pgdn did not scroll")
	}
}

// TestClockTicks: the header clock and the countdowns are drawn again
// every second while nothing else happens.
func TestClockTicks(t *testing.T) {
	w := newWorld(t)
	m := NewModel(context.Background(), w.opts)
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	before := m.View()
	w.clock.Advance(3 * time.Hour)
	if _, cmd := m.Update(clockMsg{}); cmd == nil {
		t.Fatal("the clock tick is not re-armed")
	}
	if after := m.View(); after == before || !strings.Contains(after, w.clock.Now().UTC().Format("2006-01-02 15:04")) {
		t.Fatalf("the header clock did not move:\n%s", after)
	}
}

// TestFindingsScrollByPage: the findings screen pages as the plan does:
// j/k a line, space and pgdn a page, pgup back, home and end to the ends,
// its last line saying how while the findings go on, and ? lists the keys.
func TestFindingsScrollByPage(t *testing.T) {
	w := newWorld(t)
	d := drive(t, NewModel(context.Background(), w.opts))
	d.ready()
	rep := &checks.Report{Domain: w.sb.Domain, Stage: "absent"}
	for i := range 8 {
		rep.Findings = append(rep.Findings, checks.Finding{
			ID: fmt.Sprintf("test.finding-%d", i), Severity: checks.SevWarn, Subject: "subject",
			Observed: "what was seen", Why: "why it matters", Fix: "what to do about it",
		})
	}
	d.key("f")
	if d.m.state != stFindings {
		t.Fatalf("f: state %v", d.m.state)
	}
	d.m.findings.rep = rep
	v := d.m.View()
	if !strings.Contains(v, "test.finding-0") || strings.Contains(v, "test.finding-7") || !strings.Contains(v, "below: space/pgdn or j/↓ scrolls") {
		t.Fatalf("the first page:\n%s", v)
	}
	page := d.m.findings.page
	if page < 10 {
		t.Fatalf("page of %d lines at 80x24", page)
	}
	d.key("j")
	if d.m.findings.off != 1 {
		t.Fatalf("j: offset %d", d.m.findings.off)
	}
	d.key("k")
	d.send(tea.KeyMsg{Type: tea.KeySpace, Runes: []rune{' '}})
	if d.m.findings.off != page-1 {
		t.Fatalf("space: offset %d, want %d", d.m.findings.off, page-1)
	}
	if v := d.m.View(); !strings.Contains(v, "above: space/j down, pgup/k up") {
		t.Fatalf("paged once:\n%s", v)
	}
	d.send(tea.KeyMsg{Type: tea.KeyPgUp})
	if d.m.findings.off != 0 {
		t.Fatalf("pgup: offset %d", d.m.findings.off)
	}
	d.send(tea.KeyMsg{Type: tea.KeyPgDown})
	if d.m.findings.off != page-1 {
		t.Fatalf("pgdn: offset %d", d.m.findings.off)
	}
	d.send(tea.KeyMsg{Type: tea.KeyEnd})
	if v := d.m.View(); !strings.Contains(v, "test.finding-7") || !strings.Contains(v, "(end of the findings; pgup or k/↑ scrolls back") {
		t.Fatalf("end:\n%s", v)
	}
	d.key("g")
	if v := d.m.View(); d.m.findings.off != 0 || !strings.Contains(v, "test.finding-0") {
		t.Fatalf("g: offset %d\n%s", d.m.findings.off, v)
	}
	d.key("G")
	d.m.View()
	if d.m.findings.off == 0 {
		t.Fatal("G did not go to the end")
	}
	d.send(tea.KeyMsg{Type: tea.KeyHome})
	if d.m.findings.off != 0 {
		t.Fatalf("home: offset %d", d.m.findings.off)
	}
	d.key("?")
	v = d.m.View()
	words := strings.Join(strings.Fields(v), " ")
	for _, want := range []string{"space page down", "pgup page up", "home/g top", "end/G bottom"} {
		if !strings.Contains(words, want) {
			t.Errorf("the help lacks %q:\n%s", want, v)
		}
	}
	// A new visit starts at the top.
	d.key("?")
	d.key("G")
	d.key("esc")
	d.key("f")
	if d.m.findings.off != 0 {
		t.Errorf("findings opened again at offset %d", d.m.findings.off)
	}
}
