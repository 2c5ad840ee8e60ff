package tui

import (
	"fmt"
	"slices"
	"strings"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/stspilot/stspilot/checks"
	"github.com/stspilot/stspilot/workflow"
)

// findingsModel lists the live check's findings, each with its fix.
type findingsModel struct {
	c   *common
	rep *checks.Report
	// st is the last status: what blocks the next step beyond the live
	// check (TLS-RPT failures) is a finding too.
	st *workflow.StatusReport
	// pager is the scroll position (the root clamps it when it draws).
	pager
}

// blockedFinding is the finding for TLS-RPT failures that block promote
// (nil when nothing of the kind does): the live check cannot see them,
// the status's refusal can.
func blockedFinding(st *workflow.StatusReport) *checks.Finding {
	if st == nil || st.Blocked == nil || st.Blocked.Code != workflow.CodeEvidence || st.Blocked.Override == workflow.CodeWithoutReports {
		return nil
	}
	r := st.Blocked
	observed := r.Reason
	if len(r.Details) > 0 {
		observed += ": " + strings.Join(r.Details, "; ")
	}
	f := checks.TLSRPTFailures(st.Domain, observed)
	return &f
}

// findings are the live check's and the status's, errors and warnings.
func findings(rep *checks.Report, st *workflow.StatusReport) []checks.Finding {
	var out []checks.Finding
	if f := blockedFinding(st); f != nil {
		out = append(out, *f)
	}
	if rep != nil {
		out = append(out, rep.Findings...)
	}
	return out
}

func (f findingsModel) view() string {
	c := f.c
	if f.rep == nil {
		return "No check has finished yet; c on the dashboard runs one."
	}
	var out []string
	out = append(out, c.st.Bold.Render(fmt.Sprintf("Findings for %s (stage seen: %s)", f.rep.Domain, f.rep.Stage)))
	n := 0
	for _, x := range findings(f.rep, f.st) {
		if x.Severity == checks.SevInfo {
			continue
		}
		n++
		mark := c.st.Warn.Render("! warn ")
		if x.Severity == checks.SevError {
			mark = c.st.Err.Render("✗ error")
		}
		out = append(out, "", fmt.Sprintf("%s %s  %s", mark, c.st.Bold.Render(x.ID), x.Subject))
		if x.Observed != "" {
			out = append(out, labelled("  seen: ")+x.Observed)
		}
		if x.Why != "" {
			out = append(out, labelled("  why:  ")+x.Why)
		}
		if x.Fix != "" {
			out = append(out, labelled(c.st.OK.Render("  fix:  "))+x.Fix)
		}
		if a := x.Action; a != nil && a.Workflow != "" {
			if k := c.keys.workflowKey(a.Workflow); k != "" {
				out = append(out, labelled(c.st.OK.Render("  key:  "))+c.st.Key.Render(k)+" plans the "+a.Workflow)
			}
		}
	}
	if n == 0 {
		out = append(out, "", c.st.OK.Render("✓ no errors or warnings"))
	}
	return strings.Join(out, "\n")
}

// actions are the workflows the findings shown name as their fix (but
// rollback, which is ! everywhere).
func (f findingsModel) actions() []string {
	var out []string
	if f.rep == nil {
		return nil
	}
	for _, x := range f.rep.Findings {
		if a := x.Action; a != nil && a.Workflow != "" && a.Workflow != "rollback" && !slices.Contains(out, a.Workflow) {
			out = append(out, a.Workflow)
		}
	}
	return out
}

// actionKey reports the workflow whose key km is, among the actions.
func (f findingsModel) actionKey(km tea.KeyMsg) (string, bool) {
	for _, wf := range f.actions() {
		if km.String() == f.c.keys.workflowKey(wf) {
			return wf, true
		}
	}
	return "", false
}
