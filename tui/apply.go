package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/spinner"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/stspilot/stspilot/tui/textout"
	"github.com/stspilot/stspilot/workflow"
)

// applyModel renders a running apply from the engine's events: each step,
// and under a gate each policy-host address or name server.
type applyModel struct {
	c        *common
	req      workflow.Request
	ch       chan tea.Msg
	spin     spinner.Model
	steps    []stepRow
	notes    []string
	journal  int
	out      *workflow.Outcome
	err      error
	finished bool
}

type stepRow struct {
	step    workflow.Step
	state   string // "", running, done, skip, closed, failed
	detail  string
	targets []workflow.TargetStatus
}

func newApply(c *common, req workflow.Request) applyModel {
	return applyModel{c: c, req: req, spin: spinner.New(spinner.WithSpinner(spinner.Line))}
}

func (a *applyModel) row(s *workflow.Step) *stepRow {
	if s == nil {
		return nil
	}
	for i := range a.steps {
		if a.steps[i].step.ID == s.ID {
			return &a.steps[i]
		}
	}
	a.steps = append(a.steps, stepRow{step: *s})
	return &a.steps[len(a.steps)-1]
}

// event applies one engine event to the screen.
func (a *applyModel) event(ev workflow.Event) {
	switch ev.Kind {
	case workflow.EventPlan:
		if ev.Plan != nil {
			a.steps = a.steps[:0]
			for _, s := range ev.Plan.Steps {
				r := stepRow{step: s}
				if s.Done {
					r.state = "skip"
				}
				a.steps = append(a.steps, r)
			}
		}
	case workflow.EventStep:
		if r := a.row(ev.Step); r != nil {
			r.state = "running"
		}
	case workflow.EventStepDone:
		if r := a.row(ev.Step); r != nil {
			r.state = "done"
			if !ev.Changed {
				r.detail = "already in place"
			}
			if ev.Message != "" {
				r.detail = ev.Message
			}
		}
	case workflow.EventStepSkip:
		if r := a.row(ev.Step); r != nil {
			r.state, r.detail = "skip", "already in place"
		}
	case workflow.EventGate:
		if r := a.row(ev.Step); r != nil && ev.Gate != nil {
			r.targets = ev.Gate.Targets
			r.detail = ev.Gate.Reason
			if ev.Gate.Open {
				r.state = "done"
			} else {
				r.state = "closed"
			}
		}
	case workflow.EventProgress:
		if r := a.row(ev.Step); r != nil && ev.Target != nil {
			found := false
			for i, t := range r.targets {
				if t.Name == ev.Target.Name && t.Addr == ev.Target.Addr {
					r.targets[i], found = *ev.Target, true
				}
			}
			if !found {
				r.targets = append(r.targets, *ev.Target)
			}
		}
	case workflow.EventWarning:
		a.notes = append(a.notes, "! "+ev.Message)
	case workflow.EventManual:
		a.notes = append(a.notes, "your turn: "+ev.Message)
	case workflow.EventRisk:
		a.notes = append(a.notes, "risk window: "+ev.Message)
	case workflow.EventRefused:
		if ev.Refusal != nil {
			a.notes = append(a.notes, "refused: "+ev.Refusal.Reason)
		}
	case workflow.EventJournal:
		a.journal++
	case workflow.EventOutcome:
		a.out = ev.Outcome
	}
}

func (a *applyModel) finish(out *workflow.Outcome, err error) {
	a.finished, a.err = true, err
	if out != nil {
		a.out = out
	}
	for i := range a.steps {
		if a.steps[i].state == "running" {
			a.steps[i].state = "failed"
		}
	}
}

func (a applyModel) update(msg tea.Msg) (applyModel, tea.Cmd) {
	if t, ok := msg.(spinner.TickMsg); ok && !a.finished {
		var cmd tea.Cmd
		a.spin, cmd = a.spin.Update(t)
		return a, cmd
	}
	return a, nil
}

func targetMark(c *common, state string) string {
	switch state {
	case workflow.StateOK:
		return c.st.OK.Render("✓")
	case workflow.StatePending:
		return c.st.Warn.Render("…")
	}
	return c.st.Err.Render("✗")
}

func (a applyModel) view() string {
	c := a.c
	var b strings.Builder
	title := fmt.Sprintf("%s %s", a.req.Workflow, c.domain)
	if !a.finished {
		title = a.spin.View() + " " + title
	}
	b.WriteString(c.st.Bold.Render(title) + c.st.Subtle.Render("  journal: "+textout.Plural(a.journal, "write")) + "\n")
	for i, r := range a.steps {
		var mark string
		switch r.state {
		case "running":
			mark = a.spin.View()
		case "done":
			mark = c.st.OK.Render("✓")
		case "skip":
			mark = c.st.Subtle.Render("=")
		case "closed":
			mark = c.st.Warn.Render("⏸")
		case "failed":
			mark = c.st.Err.Render("✗")
		default:
			mark = c.st.Subtle.Render("·")
		}
		// Long lines wrap (the root's fit), never cut: a host name or the
		// id at the end is what the operator reads.
		b.WriteString(fmt.Sprintf("%s %d. %s", mark, i+1, r.step.Summary) + "\n")
		if r.state == "closed" && r.detail != "" {
			b.WriteString("     " + c.st.Warn.Render(r.detail) + "\n")
		}
		if r.state == "running" || r.state == "closed" || (r.state == "done" && r.step.Kind.IsGate()) {
			for _, t := range r.targets {
				line := fmt.Sprintf("     %s %s %s %s", targetMark(c, t.State), t.Name, t.Addr, c.st.Subtle.Render(t.State))
				b.WriteString(line + "\n")
			}
		}
	}
	for _, n := range a.notes {
		b.WriteString(c.st.Warn.Render(n) + "\n")
	}
	switch {
	case a.err != nil:
		b.WriteString(c.st.Err.Render("✗ "+a.err.Error()) + "\n")
	case a.out != nil && a.finished:
		b.WriteString(outcomeLine(c, a.out) + "\n")
	}
	if a.finished {
		b.WriteString(c.st.Subtle.Render("enter: back to the dashboard") + "\n")
	}
	return b.String()
}

func outcomeLine(c *common, o *workflow.Outcome) string {
	switch o.Status {
	case workflow.StatusDone, workflow.StatusNothing:
		return labelled(c.st.OK.Render("✓ "+string(o.Status)+": ")) + o.Message
	case workflow.StatusPending:
		return labelled(c.st.Warn.Render("⏸ pending: ")) + o.Message
	case workflow.StatusRefused:
		return labelled(c.st.Danger.Render("✗ refused: ")) + o.Message
	}
	msg := o.Message
	if o.Error != "" {
		msg += ": " + o.Error
	}
	return labelled(c.st.Err.Render("✗ "+string(o.Status)+": ")) + msg
}
