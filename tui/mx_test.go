package tui

import (
	"context"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/stspilot/stspilot/workflow"
	"github.com/stspilot/stspilot/workflow/journal"
)

// TestMXScreenKeyPath: m on the dashboard opens the MX screen with the
// live check's MX hosts and their TLS; the target typed there (parsed as
// the command line parses it) is planned through the engine on the plan
// screen; esc goes back to the target, esc again to the dashboard. A
// target that does not parse stays on the MX screen with why.
func TestMXScreenKeyPath(t *testing.T) {
	w := newWorld(t)
	d := drive(t, NewModel(context.Background(), w.opts))
	d.ready()
	if !strings.Contains(d.m.View(), "m mx migration") {
		t.Errorf("the dashboard's footer does not offer m:\n%s", d.m.View())
	}
	d.key("m")
	if d.m.State() != "mx" {
		t.Fatalf("m opened %s", d.m.State())
	}
	d.screen("the MX screen", "Current MX", "mx1."+w.sb.Domain, "mx2."+w.sb.Domain, "STARTTLS", "Target MX set")

	// q is a letter of the target here, not a quit.
	d.typeText("q:x")
	d.key("enter")
	if d.m.state != stMX || d.m.mx.err == nil || d.quit {
		t.Fatalf("a bad target: state %s, err %v, quit %v", d.m.State(), d.m.mx.err, d.quit)
	}
	d.screen("why the target is refused", "preference")
	for range 3 {
		d.send(tea.KeyMsg{Type: tea.KeyBackspace})
	}

	d.typeText("mx2." + w.sb.Domain + ":10")
	d.key("enter")
	d.until("the mx-migrate plan", func() bool { return d.m.state == stPlan || d.m.err != nil })
	if d.m.err != nil {
		t.Fatalf("plan: %v", d.m.err)
	}
	req := d.m.plan.req
	if req.Workflow != workflow.MXMigrate || len(req.MXTo) != 1 || req.MXTo[0].Host != "mx2."+w.sb.Domain || req.MXTo[0].Pref != 10 {
		t.Errorf("planned %+v", req)
	}
	d.screen("the plan screen", "Plan: mx-migrate")
	d.key("esc")
	if d.m.state != stMX || d.m.mx.in.Value() != "mx2."+w.sb.Domain+":10" {
		t.Errorf("esc from the plan: %s, target %q", d.m.State(), d.m.mx.in.Value())
	}
	d.key("esc")
	if d.m.state != stDashboard {
		t.Errorf("esc from the MX screen: %s", d.m.State())
	}
}

// TestMXUnderWay: with a migration under way, n plans it to the journal's
// target (the engine needs one), and m shows that target in the field.
func TestMXUnderWay(t *testing.T) {
	if got := mxTargetText([]string{"10 mx2.demo.test.", "20 mx3.demo.test.", "bad"}); got != "mx2.demo.test:10,mx3.demo.test:20" {
		t.Errorf("mxTargetText: %q", got)
	}
	w := newWorld(t)
	if out, err := w.e.Apply(context.Background(), workflow.Request{Workflow: workflow.Rollout, Domain: w.sb.Domain, RUA: "mailto:r@demo.test"}, nil, nil, workflow.ApplyOptions{}); err != nil {
		t.Fatal(out, err)
	}
	d := drive(t, NewModel(context.Background(), w.opts))
	d.ready()
	st := *d.m.dash.st
	st.Next, st.Pending = workflow.MXMigrate, nil
	st.MXMigration = &journal.MXMigration{To: []string{"10 mx2." + w.sb.Domain + "."}, KeepOld: true}
	d.m.dash.st = &st
	d.key("n")
	d.until("the mx-migrate plan", func() bool { return d.m.state == stPlan || d.m.err != nil })
	if req := d.m.plan.req; d.m.err != nil || len(req.MXTo) != 1 || req.MXTo[0].Host != "mx2."+w.sb.Domain || !req.KeepOld {
		t.Fatalf("n planned %+v (%v)", req, d.m.err)
	}
	d.key("esc")
	if d.m.state != stMX {
		t.Errorf("esc from the mx-migrate plan: %s", d.m.State())
	}
	d.key("esc")
	d.key("m")
	if v := d.m.mx.in.Value(); v != "mx2."+w.sb.Domain+":10" {
		t.Errorf("the field holds %q", v)
	}
}
