package tui

import (
	"context"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/stspilot/stspilot/workflow"
)

// unknownWindow puts the driver on a teardown plan refused because the
// cache window is unknown, as the engine refuses it when the journal never
// recorded the last testing/enforce max_age.
func unknownWindow(d *driver, domain string) {
	d.t.Helper()
	req := workflow.Request{Workflow: workflow.Teardown, Domain: domain}
	d.send(planMsg{req: req, plan: &workflow.Plan{Workflow: workflow.Teardown, Domain: domain, Refusal: &workflow.Refusal{
		Code: workflow.CodeUnknownWindow, Reason: "the cache window is unknown: give the largest max_age ever published", Override: workflow.CodeLastMaxAge,
	}}})
	if d.m.state != stPlan {
		d.t.Fatalf("not on the plan: %s", d.m.State())
	}
}

// TestOverrideLastMaxAge: a teardown refused for an unknown cache window
// offers O, which asks for the largest max_age ever published in a field
// (read as the CLI reads durations: days), refuses what does not parse,
// and plans again with the duration given.
func TestOverrideLastMaxAge(t *testing.T) {
	w := newWorld(t)
	d := drive(t, NewModel(context.Background(), w.opts))
	d.ready()
	unknownWindow(d, w.sb.Domain)
	v := d.m.View()
	if strings.Contains(v, "cannot accept") || !strings.Contains(v, "O gives the largest max_age ever published") || !d.m.c.keys.Override.Enabled() {
		t.Fatalf("the refusal offers no override key:\n%s", v)
	}
	d.key("O")
	if !d.m.plan.asking || !d.m.typing() || d.m.c.keys.Override.Enabled() {
		t.Fatalf("O opened no field: asking %v", d.m.plan.asking)
	}
	d.screen("the max_age field", "The largest max_age ever published", "esc cancels")
	// q is a letter here, not quit; it does not parse.
	d.typeText("q")
	if d.quit {
		t.Fatal("q in the max_age field quit")
	}
	d.key("enter")
	if d.m.plan.bad == nil || !strings.Contains(d.m.View(), "✗ ") || d.m.state != stPlan {
		t.Fatalf("a bad max_age was taken:\n%s", d.m.View())
	}
	// esc closes the field, O opens it again, empty.
	d.key("esc")
	if d.m.plan.asking || d.m.state != stPlan {
		t.Fatalf("esc left the field open or the plan: %s", d.m.State())
	}
	d.key("O")
	if d.m.plan.in.Value() != "" || d.m.plan.bad != nil {
		t.Fatalf("the field reopened with %q (%v)", d.m.plan.in.Value(), d.m.plan.bad)
	}
	d.typeText("0d")
	d.key("enter")
	if d.m.plan.bad == nil {
		t.Fatal("a zero max_age was taken")
	}
	for range 2 {
		d.send(tea.KeyMsg{Type: tea.KeyBackspace})
	}
	d.typeText("30d")
	d.key("enter")
	d.until("the plan with the max_age given", func() bool {
		return d.m.state == stPlan && !d.m.plan.asking && d.m.plan.req.LastMaxAge == 30*24*time.Hour || d.m.err != nil
	})
	if d.m.err != nil || d.m.plan.req.Workflow != workflow.Teardown {
		t.Fatalf("planning again: %v, %s", d.m.err, d.m.plan.req.Workflow)
	}
}

// TestOverrideKeepTLSRPT: a teardown plan that deletes the TLS-RPT record
// offers O to keep it (a yes/no), and O again deletes it after all.
func TestOverrideKeepTLSRPT(t *testing.T) {
	w := newWorld(t)
	d := drive(t, NewModel(context.Background(), w.opts))
	rollout(d)
	d.key("enter")
	d.ready()
	d.key("t")
	d.until("the teardown plan", func() bool { return d.m.state == stPlan && d.m.plan.plan.Workflow == workflow.Teardown })
	deletes := func() bool {
		for _, s := range d.m.plan.plan.Steps {
			if s.Skip == workflow.CodeKeepTLSRPT {
				return true
			}
		}
		return false
	}
	if !deletes() || !strings.Contains(d.m.View(), "O plans again keeping the TLS-RPT record") || !d.m.c.keys.Override.Enabled() {
		t.Fatalf("the teardown plan offers no key to keep the TLS-RPT record:\n%s", d.m.View())
	}
	d.key("O")
	d.until("the plan keeping the record", func() bool { return d.m.plan.req.KeepTLSRPT || d.m.err != nil })
	if d.m.err != nil || deletes() || !strings.Contains(d.m.View(), "O plans again deleting the TLS-RPT record too") {
		t.Fatalf("O did not keep the record (%v):\n%s", d.m.err, d.m.View())
	}
	d.key("O")
	d.until("the plan deleting the record", func() bool { return !d.m.plan.req.KeepTLSRPT || d.m.err != nil })
	if d.m.err != nil || !deletes() {
		t.Fatalf("O did not delete the record again (%v):\n%s", d.m.err, d.m.View())
	}
}
