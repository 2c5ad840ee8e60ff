package tui

import (
	"context"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/stspilot/stspilot/workflow"
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
