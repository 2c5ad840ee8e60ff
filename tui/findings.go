package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/stspilot/stspilot/checks"
)

// findingsModel lists the live check's findings, each with its fix.
type findingsModel struct {
	c   *common
	rep *checks.Report
	off int
}

func (f findingsModel) scroll(km tea.KeyMsg) findingsModel {
	switch {
	case key.Matches(km, f.c.keys.Down):
		f.off++
	case key.Matches(km, f.c.keys.Up) && f.off > 0:
		f.off--
	}
	return f
}

func (f findingsModel) view() string {
	c := f.c
	if f.rep == nil {
		return "No check has finished yet; c on the dashboard runs one."
	}
	var out []string
	out = append(out, c.st.Bold.Render(fmt.Sprintf("Findings for %s (stage seen: %s)", f.rep.Domain, f.rep.Stage)))
	n := 0
	for _, x := range f.rep.Findings {
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
			out = append(out, "  seen: "+x.Observed)
		}
		if x.Why != "" {
			out = append(out, "  why:  "+x.Why)
		}
		if x.Fix != "" {
			out = append(out, c.st.OK.Render("  fix:  ")+x.Fix)
		}
	}
	if n == 0 {
		out = append(out, "", c.st.OK.Render("✓ no errors or warnings"))
	}
	off := min(f.off, max(len(out)-1, 0))
	return strings.Join(out[off:], "\n")
}
