package tui

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/stspilot/stspilot/checks"
	"github.com/stspilot/stspilot/internal/duration"
	"github.com/stspilot/stspilot/tui/textout"
	"github.com/stspilot/stspilot/workflow"
)

// planModel shows what a workflow would do now: records before and after,
// the policy diff, the id change, the gates, and a refusal with its
// override.
type planModel struct {
	c    *common
	req  workflow.Request
	plan *workflow.Plan
	// pager is the scroll position (the root clamps it when it draws).
	pager
	// rep is the live check, for the fix a refusal names.
	rep *checks.Report
	// asking: O opened the field for the largest max_age ever published
	// (a refusal whose override is CodeLastMaxAge); in holds it, bad says
	// why what was typed does not parse.
	asking bool
	in     textinput.Model
	bad    error
}

// askMaxAge opens the max_age field, prefilled with what the request
// already gave (a conservative suggestion to edit, never shortened by the
// engine) or empty.
func (p planModel) askMaxAge() (planModel, tea.Cmd) {
	v := ""
	if p.req.LastMaxAge > 0 {
		v = duration.Format(p.req.LastMaxAge)
	}
	p.in = newInput(hint("180d"), v)
	p.in.Prompt = "> "
	p.in.Width = 20
	p.asking, p.bad = true, nil
	return p, p.in.Focus()
}

// updateAsk feeds the max_age field; ok with the duration when enter
// took a valid one, cancel when esc closed the field.
func (p planModel) updateAsk(msg tea.Msg, k keyMap) (pm planModel, cmd tea.Cmd, d time.Duration, ok bool) {
	if km, isKey := msg.(tea.KeyMsg); isKey {
		switch {
		case key.Matches(km, k.Back):
			p.asking, p.bad = false, nil
			p.in.Blur()
			return p, nil, 0, false
		case km.Type == tea.KeyEnter:
			d, err := duration.Parse(strings.TrimSpace(p.in.Value()))
			if err == nil && d <= 0 {
				err = fmt.Errorf("give a max_age longer than zero")
			}
			if err != nil {
				p.bad = err
				return p, nil, 0, false
			}
			p.bad = nil
			return p, nil, d, true
		}
	}
	p.in, cmd = p.in.Update(msg)
	return p, cmd, 0, false
}

// keepAction says whether O toggles keeping the TLS-RPT record on a
// teardown plan: keep is what the next plan asks for.
func keepAction(req workflow.Request, p *workflow.Plan) (keep, ok bool) {
	if p == nil || p.Refusal != nil || p.Workflow != workflow.Teardown {
		return false, false
	}
	if req.KeepTLSRPT {
		return false, true
	}
	for _, s := range p.Steps {
		if s.Skip == workflow.CodeKeepTLSRPT && !s.Done {
			return true, true
		}
	}
	return false, false
}

func newPlan(c *common, req workflow.Request, p *workflow.Plan, rep *checks.Report) planModel {
	return planModel{c: c, req: req, plan: p, rep: rep}
}

// findingByID is the first finding of rep with id.
func findingByID(rep *checks.Report, id string) *checks.Finding {
	if rep == nil {
		return nil
	}
	for i := range rep.Findings {
		if rep.Findings[i].ID == id {
			return &rep.Findings[i]
		}
	}
	return nil
}

// diff renders the policy change line by line (textout.PolicyDiff).
func diff(c *common, before, after string) []string {
	var out []string
	for _, d := range textout.PolicyDiff(before, after) {
		switch d.Op {
		case '-':
			out = append(out, c.st.Err.Render("- "+d.Text))
		case '+':
			out = append(out, c.st.OK.Render("+ "+d.Text))
		default:
			out = append(out, c.st.Subtle.Render("  "+d.Text))
		}
	}
	return out
}

func (p planModel) view() string {
	c, pl := p.c, p.plan
	var out []string
	add := func(s string) { out = append(out, strings.Split(s, "\n")...) }
	title := c.st.Bold.Render("Plan: " + string(pl.Workflow) + " " + pl.Domain)
	if from, to, ok := lowers(pl); ok {
		title += " " + c.st.Danger.Render("lowers "+from+" to "+to)
	}
	add(title + c.st.Subtle.Render("  stage "+string(pl.Stage)))
	if pl.Target != nil {
		old := "none"
		if pl.Current != nil && pl.Current.ID != "" {
			old = pl.Current.ID
		}
		cur := textout.PolicyLabel(pl.Current)
		if from, _, ok := lowers(pl); ok && pl.Current == nil {
			cur = "nothing served (senders may hold " + from + ")"
		}
		add(fmt.Sprintf("%s → %s", cur, c.st.Bold.Render(textout.PolicyLabel(pl.Target))))
		add(fmt.Sprintf("policy id %s → %s", old, c.st.Bold.Render(pl.Target.ID)))
	}
	if pl.Reason != "" {
		add(pl.Reason)
	}
	for _, w := range pl.Warnings {
		add(c.st.Warn.Render("! " + w))
	}
	if r := pl.Refusal; r != nil {
		add("")
		add(c.st.Danger.Render("Refused: ") + r.Reason)
		for _, d := range r.Details {
			add("  · " + d)
		}
		if r.Finding != "" {
			if f := findingByID(p.rep, r.Finding); f != nil && f.Fix != "" {
				add(c.st.OK.Render("fix: ") + f.Fix + c.st.Subtle.Render("  ("+f.ID+")"))
			}
		}
		if h := refusalHint(r); h != "" {
			add(c.st.Subtle.Render(h))
		}
		if p.asking {
			add("")
			add("The largest max_age ever published on this domain (e.g. 180d, 12w), then enter; esc cancels:")
			add(p.in.View())
			if p.bad != nil {
				add(c.st.Err.Render("✗ " + p.bad.Error()))
			}
		}
	}
	if keep, ok := keepAction(p.req, pl); ok {
		if keep {
			add(c.st.Subtle.Render("O plans again keeping the TLS-RPT record (reports keep coming)"))
		} else {
			add(c.st.Subtle.Render("O plans again deleting the TLS-RPT record too"))
		}
	}
	if pl.Nothing {
		add(c.st.OK.Render("✓ nothing to do"))
	}
	// The changes and their diff come first, then the gates, each once:
	// a step that only evaluates a gate listed below is not repeated.
	listed := map[workflow.GateKind]bool{}
	for _, g := range pl.Gates {
		listed[g.Kind] = true
	}
	if pl.Refusal == nil && !pl.Nothing {
		add("")
		for i, s := range pl.Steps {
			if s.Kind.IsGate() && listed[s.Gate] {
				continue
			}
			t := fmt.Sprintf("%d. %s", i+1, s.Summary)
			switch {
			case s.Done:
				t = c.st.Subtle.Render(t + " (already done)")
			case s.Destructive:
				t = c.st.Danger.Render(t)
			}
			add(t)
			if s.Done || s.Kind.IsGate() {
				continue
			}
			if s.Kind.ShowsPolicy() {
				for _, l := range diff(c, s.Before, s.After) {
					add("     " + l)
				}
				continue
			}
			if s.Before != "" {
				add("     " + c.st.Err.Render("- "+s.Before))
			}
			if s.After != "" {
				add("     " + c.st.OK.Render("+ "+s.Name+" "+fmt.Sprintf("%q", s.After)))
			}
		}
	}
	if len(pl.Gates) > 0 {
		add("")
		add(c.st.Bold.Render("Gates") + c.st.Subtle.Render("  (checked again before each change)"))
		for _, g := range pl.Gates {
			mark := c.st.OK.Render("✓ open  ")
			if !g.Open {
				mark = c.st.Warn.Render("⏸ closed")
			}
			reason := g.Reason
			if pl.Refusal != nil && reason == pl.Refusal.Reason {
				reason = "(the refusal above)" // said once
			}
			add(fmt.Sprintf("gate %-8s %s %s", g.Kind, mark, reason))
		}
	}
	if pl.Risk != nil {
		add(c.st.Warn.Render("risk window: ") + pl.Risk.String())
	}
	return strings.Join(out, "\n")
}

// confirmModel asks before anything is written: y for ordinary changes,
// the domain typed out for destructive ones.
type confirmModel struct {
	c           *common
	req         workflow.Request
	plan        *workflow.Plan
	destructive bool
	in          textinput.Model
	wrong       bool
}

func newConfirm(c *common) confirmModel { return confirmModel{c: c} }

func newConfirmFor(c *common, req workflow.Request, p *workflow.Plan) confirmModel {
	m := confirmModel{c: c, req: req, plan: p, destructive: p.Destructive()}
	if m.destructive {
		m.in = newInput("the domain, as shown above", "")
	}
	return m
}

func (m *confirmModel) focus() tea.Cmd {
	if m.destructive {
		return m.in.Focus()
	}
	return nil
}

func (m confirmModel) update(msg tea.Msg) (confirmModel, tea.Cmd, bool, bool) {
	k := m.c.keys
	km, ok := msg.(tea.KeyMsg)
	if !m.destructive {
		if ok && key.Matches(km, k.Yes) {
			return m, nil, true, false
		}
		if ok && (key.Matches(km, k.No) || key.Matches(km, k.Back)) {
			return m, nil, false, true
		}
		return m, nil, false, false
	}
	if ok {
		switch {
		case key.Matches(km, k.Back):
			return m, nil, false, true
		case km.Type == tea.KeyEnter:
			if strings.EqualFold(strings.TrimSpace(m.in.Value()), m.plan.Domain) {
				return m, nil, true, false
			}
			m.wrong = true
			return m, nil, false, false
		}
	}
	var cmd tea.Cmd
	m.in, cmd = m.in.Update(msg)
	return m, cmd, false, false
}

func (m confirmModel) view() string {
	c, p := m.c, m.plan
	var b strings.Builder
	changes := 0
	for _, s := range p.Steps {
		if !s.Kind.IsGate() && !s.Done {
			changes++
		}
	}
	fmt.Fprintf(&b, "%s\n\n", c.st.Bold.Render(fmt.Sprintf("Apply %s to %s?", p.Workflow, p.Domain)))
	fmt.Fprintf(&b, "%s, each journaled before and after; the run stops at the\nfirst closed gate and says when to come back.\n", textout.Plural(changes, "change"))
	if p.Target != nil {
		fmt.Fprintf(&b, "Target: %s, id %s\n", textout.PolicyLabel(p.Target), p.Target.ID)
	}
	if !m.destructive {
		b.WriteString("\n" + c.st.Key.Render("y") + " apply   " + c.st.Key.Render("n") + " back to the plan\n")
		return b.String()
	}
	b.WriteString("\n" + c.st.Danger.Render("This deletes records and the policy file. There is no undo:") + "\n")
	for _, s := range p.Steps {
		if s.Destructive && !s.Done {
			b.WriteString("  · " + s.Summary + "\n")
		}
	}
	b.WriteString("\nType the domain name to confirm, then enter:\n" + m.in.View() + "\n")
	if m.wrong {
		b.WriteString(c.st.Err.Render("✗ that is not "+p.Domain) + "\n")
	}
	return b.String()
}

// refusalAction is what O does on a refused plan: plan again accepting
// the risk (an override the wizard can take), or plan the workflow the
// refusal says comes first. ok is false when O does nothing.
func refusalAction(r *workflow.Refusal) (override workflow.Code, first workflow.Workflow, ok bool) {
	if r == nil {
		return "", "", false
	}
	switch r.Override {
	case workflow.CodeWithoutReports, workflow.CodeAdoptLive, workflow.CodeLastMaxAge:
		return r.Override, "", true
	}
	if r.Workflow != "" {
		return "", r.Workflow, true
	}
	return "", "", false
}

// refusalHint says what the keys do about a refusal, in the wizard's
// words: keys, never flags or commands.
func refusalHint(r *workflow.Refusal) string {
	override, first, ok := refusalAction(r)
	switch {
	case override == workflow.CodeWithoutReports:
		return "O plans again without TLS-RPT reports: promote on the live checks alone"
	case override == workflow.CodeAdoptLive:
		return "O plans again taking the served policy as the new baseline"
	case override == workflow.CodeLastMaxAge:
		return "O gives the largest max_age ever published here, and plans again counting the wait from it"
	case ok && r.Code == workflow.CodeFinishInterrupted:
		return "O plans the interrupted " + string(first) + ", to finish it first"
	case ok:
		return "O plans the " + string(first) + " first"
	case r.Override != "":
		return "the wizard cannot accept this risk; ! rolls back from anywhere"
	}
	return ""
}
