package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/stspilot/stspilot/checks"
	"github.com/stspilot/stspilot/dnsprovider"
	"github.com/stspilot/stspilot/workflow"
)

// mxModel is the MX screen: the MX hosts the live check saw with their
// TLS, and the target MX set typed as HOST[:PREF],... (parsed by
// workflow.ParseMXSet, as the command line parses it). Enter plans the
// mx-migrate to it on the plan screen; its run waits on the wait screen.
type mxModel struct {
	c   *common
	in  textinput.Model
	err error // the target typed does not parse
}

func newMX(c *common) mxModel {
	in := newInput(hint("mx1.example.net:10,mx2.example.net:20"), "")
	in.Prompt = "> "
	in.Width = max(min(c.width-4, 70), 20)
	return mxModel{c: c, in: in}
}

func (x *mxModel) focus() tea.Cmd { return x.in.Focus() }

// update takes the keys typed into the target; to is the parsed target
// set once enter is pressed on one that parses.
func (x mxModel) update(msg tea.Msg) (_ mxModel, cmd tea.Cmd, to []dnsprovider.MX) {
	if km, ok := msg.(tea.KeyMsg); ok && key.Matches(km, x.c.keys.Enter) {
		set, err := workflow.ParseMXSet([]string{x.in.Value()})
		x.err = err
		return x, nil, set
	}
	x.in, cmd = x.in.Update(msg)
	x.err = nil
	return x, cmd, nil
}

func (x mxModel) view(rep *checks.Report) string {
	c := x.c
	var b strings.Builder
	b.WriteString(c.st.Bold.Render("MX migration of "+c.domain) + "\n\n")
	b.WriteString(c.st.Bold.Render("Current MX") + c.st.Subtle.Render(" (live check)") + "\n")
	switch {
	case rep == nil:
		b.WriteString("  the live check has not finished yet\n")
	case len(rep.MX) == 0 && rep.Error != "":
		b.WriteString("  " + c.st.Err.Render("✗ "+rep.Error) + "\n")
	case len(rep.MX) == 0:
		b.WriteString("  " + c.st.Warn.Render("! no MX host") + "\n")
	}
	if rep != nil {
		for _, mx := range rep.MX {
			line := fmt.Sprintf("  %5d %s", mx.Preference, c.st.Bold.Render(mx.Host))
			switch {
			case mx.Covered != nil && *mx.Covered:
				line += c.st.Subtle.Render("  covered by " + mx.Pattern)
			case mx.Covered != nil:
				line += "  " + c.st.Warn.Render("! no mx pattern covers it")
			}
			b.WriteString(line + "\n")
			if mx.Error != "" {
				b.WriteString("        " + c.st.Err.Render("✗ "+mx.Error) + "\n")
			}
			for _, a := range mx.Addrs {
				b.WriteString("        " + a.Addr + "  " + x.tls(a) + "\n")
			}
		}
		var fs []string
		for _, f := range rep.Findings {
			if !strings.HasPrefix(f.ID, "mx.") || (f.Severity != checks.SevError && f.Severity != checks.SevWarn) {
				continue
			}
			mark := c.st.Warn.Render("! " + f.ID)
			if f.Severity == checks.SevError {
				mark = c.st.Err.Render("✗ " + f.ID)
			}
			fs = append(fs, "  "+mark+" "+f.Subject)
		}
		if len(fs) > 0 {
			b.WriteString(strings.Join(fs, "\n") + "\n")
		}
	}
	b.WriteString("\n" + c.st.Bold.Render("Target MX set") + c.st.Subtle.Render(": HOST[:PREF],... (preferences 10, 20, ... where left out)") + "\n")
	b.WriteString(x.in.View() + "\n")
	if x.err != nil {
		b.WriteString(c.st.Err.Render("✗ "+x.err.Error()) + "\n")
	}
	b.WriteString("\n" + c.st.Key.Render("enter") + " plans the migration: its steps, gates and the windows it waits on\n")
	return b.String()
}

// tls is what the STARTTLS probe of one MX address found.
func (x mxModel) tls(a checks.MXAddrInfo) string {
	st := x.c.st
	switch {
	case a.Error != "":
		return st.Err.Render("✗ " + a.Error)
	case !a.STARTTLS:
		return st.Err.Render("✗ no STARTTLS")
	case a.CertProblem != "":
		return st.Err.Render("✗ STARTTLS " + a.TLSVersion + ", certificate: " + a.CertProblem)
	}
	s := "✓ STARTTLS " + a.TLSVersion
	if a.CertExpiry != "" {
		s += ", certificate until " + a.CertExpiry
	}
	return st.OK.Render(s)
}

// mxTargetText turns the journal's target set ("PREF HOST." each) into
// the text typed on the MX screen (HOST:PREF,...).
func mxTargetText(lines []string) string {
	var items []string
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) != 2 {
			continue
		}
		items = append(items, strings.TrimSuffix(f[1], ".")+":"+f[0])
	}
	return strings.Join(items, ",")
}

// mxTarget is the journal's target set as a request's (nil when it does
// not parse: the engine then says the target is missing).
func mxTarget(lines []string) []dnsprovider.MX {
	to, err := workflow.ParseMXSet([]string{mxTargetText(lines)})
	if err != nil {
		return nil
	}
	return to
}
