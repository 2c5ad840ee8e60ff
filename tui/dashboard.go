package tui

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/spinner"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/stspilot/stspilot/checks"
	"github.com/stspilot/stspilot/tui/textout"
	"github.com/stspilot/stspilot/workflow"
)

// dashModel is the home screen: stage, ladder, next gate and the live
// check with a spinner per probe.
type dashModel struct {
	c       *common
	gen     int
	ch      chan tea.Msg
	probes  []probeRow
	running bool
	rep     *checks.Report
	st      *workflow.StatusReport
	stErr   error
	spin    spinner.Model
	// reports are the TLS-RPT summary lines (Options.Reports), nil
	// without reports.
	reports []string
	// room is how many lines the dashboard may use (the root sets it
	// before it draws).
	room int
	// reread is the gate time whose opening made the clock read the
	// status again (once per gate).
	reread time.Time
}

type probeRow struct {
	name    string
	done    bool
	ok      bool
	elapsed time.Duration
}

func newDash(c *common) dashModel {
	return dashModel{c: c, spin: spinner.New(spinner.WithSpinner(spinner.Line))}
}

// startCheck begins a new live check; the older one's messages are ignored.
func (d *dashModel) startCheck() tea.Cmd {
	d.gen++
	d.probes, d.running = nil, true
	d.ch = make(chan tea.Msg, 256)
	run := d.c.opts.Check
	if run == nil {
		e := d.c.engine
		run = func(ctx context.Context, domain string, _ func(checks.ProbeEvent)) *checks.Report {
			return e.Check(ctx, domain)
		}
	}
	return tea.Batch(checkCmd(d.c.ctx, run, d.c.domain, d.gen, d.ch, d.c.exited), d.spin.Tick)
}

func (d dashModel) update(msg tea.Msg) (dashModel, tea.Cmd) {
	switch msg := msg.(type) {
	case probeMsg:
		if msg.gen != d.gen {
			return d, nil
		}
		i := slices.IndexFunc(d.probes, func(p probeRow) bool { return p.name == msg.ev.Probe })
		if i < 0 {
			// Sorted by name: probes keep their place however they finish.
			i, _ = slices.BinarySearchFunc(d.probes, msg.ev.Probe, func(p probeRow, n string) int { return strings.Compare(p.name, n) })
			d.probes = slices.Insert(d.probes, i, probeRow{name: msg.ev.Probe})
		}
		if msg.ev.Done {
			d.probes[i].done, d.probes[i].ok, d.probes[i].elapsed = true, msg.ev.OK, msg.ev.Elapsed
		}
		return d, listen(d.ch)
	case checkDoneMsg:
		if msg.gen != d.gen {
			return d, nil
		}
		d.rep, d.running = msg.rep, false
		return d, nil
	case spinner.TickMsg:
		if !d.running {
			return d, nil
		}
		var cmd tea.Cmd
		d.spin, cmd = d.spin.Update(msg)
		return d, cmd
	}
	return d, nil
}

// ladderLine marks the live rung.
func ladderLine(c *common, rung int) string {
	var parts []string
	for i, r := range c.engine.Ladder() {
		s := r.String()
		if i == rung {
			s = c.st.Bold.Render("[" + s + "]")
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " → ")
}

func (d dashModel) view() string {
	c := d.c
	var b strings.Builder
	label := func(s string) string { return labelled(c.st.Subtle.Render(fmt.Sprintf("%-7s", s))) }
	switch {
	case d.stErr != nil:
		b.WriteString(label("Stage") + c.st.Err.Render("✗ "+d.stErr.Error()) + "\n")
	case d.st == nil:
		b.WriteString(label("Stage") + d.spin.View() + " reading status…\n")
	default:
		st := d.st
		line := label("Stage") + c.st.Bold.Render(string(st.Stage))
		if st.Policy != nil {
			line += fmt.Sprintf("  %s@%d", st.Policy.Mode, st.Policy.MaxAge)
			if st.Policy.ID != "" {
				line += "  id " + st.Policy.ID
			}
		}
		b.WriteString(line + "\n")
		b.WriteString(label("Ladder") + ladderLine(c, st.Rung) + "\n")
		if st.Horizon != nil && st.Horizon.Worst != nil {
			b.WriteString(label("Cached") + worstLine(st.Horizon.Worst) + "\n")
		}
		if st.Fetchers != nil {
			// Which senders hold the live id (serve's access log): after
			// a rollback, the evidence that it has reached them.
			b.WriteString(label("Fetched") + " " + ansi.Truncate(textout.FetchersBrief(st.Fetchers), max(c.width-9, 20), "…") + "\n")
		}
		switch {
		case st.Pending != nil:
			// An interrupted change comes first: nothing else runs until
			// it is finished (or rolled back).
			p := st.Pending
			what := "removing the policy"
			if p.Target != nil {
				what = fmt.Sprintf("to %s@%d", p.Target.Mode, p.Target.MaxAge)
			}
			b.WriteString(label("Halted") + c.st.Warn.Render(fmt.Sprintf("a %s (%s) started %s did not finish", p.Workflow, what, stamp(p.StartedAt))) + "\n")
			keys := c.st.Key.Render("n") + " finishes it"
			if p.Workflow != string(workflow.Rollback) {
				keys += "   " + c.st.Key.Render("!") + " rolls back instead"
			}
			b.WriteString(label("") + keys + "\n")
		case st.Stage == workflow.StageBroken:
			b.WriteString(d.brokenLines(label))
		default:
			next := string(st.Next)
			if next == "" {
				next = "nothing"
			}
			step := st.NextStep
			if st.NextAt != nil {
				step = dropCountdown(step)
			}
			b.WriteString(label("Next") + c.st.Bold.Render(next) + ": " + step + "\n")
			if st.NextAt != nil {
				b.WriteString(label("") + "gate opens " + stamp(*st.NextAt) + " " + inParens(st.NextAt.Sub(c.now())) + "\n")
			}
		}
	}
	for i, l := range d.reports {
		if i == 4 {
			break
		}
		name := ""
		if i == 0 {
			name = "Reports"
		}
		b.WriteString(label(name) + " " + ansi.Truncate(l, max(c.width-9, 20), "…") + "\n")
	}
	b.WriteString("\n")
	top := b.String()
	b.Reset()
	nProbes, nRun := len(d.probes), 0
	for _, p := range d.probes {
		if !p.done {
			nRun++
		}
	}
	head := c.st.Bold.Render("Live check")
	switch {
	case d.running:
		head += fmt.Sprintf("  %s %s, %d running", d.spin.View(), textout.Plural(nProbes, "probe"), nRun)
	case d.rep != nil:
		head += fmt.Sprintf("  %s, stage seen: %s", textout.Plural(nProbes, "probe"), d.rep.Stage)
	}
	head += "\n"
	var bottom strings.Builder
	if d.rep != nil {
		if d.rep.Error != "" {
			b.WriteString(c.st.Err.Render("✗ "+d.rep.Error) + "\n")
		}
		errs, warns := 0, 0
		var top []string
		for _, f := range findings(d.rep, d.st) {
			switch f.Severity {
			case checks.SevError:
				errs++
				top = append(top, c.st.Err.Render("✗ "+f.ID)+" "+f.Subject)
			case checks.SevWarn:
				warns++
				top = append(top, c.st.Warn.Render("! "+f.ID)+" "+f.Subject)
			}
		}
		fmt.Fprintf(&b, "Findings: %s, %s", textout.Plural(errs, "error"), textout.Plural(warns, "warning"))
		if errs+warns > 0 {
			b.WriteString(c.st.Subtle.Render("  (f: each with its fix)"))
		}
		b.WriteString("\n")
		for i, t := range top {
			if i == 3 {
				b.WriteString(c.st.Subtle.Render(fmt.Sprintf(" … %d more", len(top)-3)) + "\n")
				break
			}
			b.WriteString(" " + ansi.Truncate(t, c.width-2, "…") + "\n")
		}
	}
	bottom.WriteString(b.String())
	// The grid takes the rows the screen has left (at least four).
	lines := func(s string) int { return strings.Count(s, "\n") }
	rows := max(d.room-lines(top)-lines(head)-lines(bottom.String()), 4)
	return top + head + d.grid(rows) + bottom.String()
}

// grid lays the probes out in two columns on at most rows lines, the
// last saying how many did not fit. Once the check is done each mark
// agrees with the findings: ✗ for a probe with an error finding, ! for
// one with a warning, ✓ when it answered and nothing is wrong, and a
// plain · when it found nothing there and nothing is wrong with that
// (no policy host before the rollout).
func (d dashModel) grid(rows int) string {
	c := d.c
	colW := max(c.width/2-1, 20)
	var cells []string
	for _, p := range d.probes {
		mark := d.spin.View()
		if p.done {
			switch sev, found := d.probeSeverity(p.name); {
			case found && sev == checks.SevError:
				mark = c.st.Err.Render("✗")
			case found && sev == checks.SevWarn:
				mark = c.st.Warn.Render("!")
			case p.ok:
				mark = c.st.OK.Render("✓")
			case d.rep == nil:
				mark = c.st.Err.Render("✗")
			default:
				mark = c.st.Subtle.Render("·")
			}
		}
		cells = append(cells, ansi.Truncate(mark+" "+probeLabel(c.domain, p.name), colW, "…"))
	}
	fits := rows * 2
	if len(cells) > fits {
		fits = (rows - 1) * 2
	}
	var b strings.Builder
	for i := 0; i < len(cells) && i < fits; i += 2 {
		row := cells[i]
		if i+1 < len(cells) && i+1 < fits {
			row += strings.Repeat(" ", max(colW-ansi.StringWidth(row), 1)) + cells[i+1]
		}
		b.WriteString(" " + row + "\n")
	}
	if len(cells) > fits {
		b.WriteString(c.st.Subtle.Render(" … and "+textout.Plural(len(cells)-fits, "more probe")) + "\n")
	}
	return b.String()
}

// probeLabel names every probe one way, kind:host or kind:host/address:
// the HTTPS probes, named by address alone, get the policy host.
func probeLabel(domain, name string) string {
	if addr, ok := strings.CutPrefix(name, "https:"); ok && !strings.Contains(addr, "/") {
		return "https:mta-sts." + domain + "/" + addr
	}
	return name
}

// probeSeverity is the worst severity of the findings about what the probe
// looked at (found is false when none is).
func (d dashModel) probeSeverity(name string) (sev checks.Severity, found bool) {
	if d.rep == nil {
		return "", false
	}
	kind, rest, _ := strings.Cut(name, ":")
	host, addr, _ := strings.Cut(rest, "/")
	var families []string
	switch {
	case kind == "smtp":
		families = []string{"mx."}
	case kind == "https":
		addr, host = host, "mta-sts."+d.c.domain
		families = []string{"policy."}
	case strings.HasSuffix(rest, " TXT") && strings.HasPrefix(rest, "_mta-sts."):
		families = []string{"sts-record."}
	case strings.HasSuffix(rest, " TXT"):
		families = []string{"tlsrpt."}
	case strings.HasSuffix(rest, " MX"):
		families = []string{"mx.none", "mx.too-many", "domain."}
	default:
		return "", false // an address lookup: its answer is the finding
	}
	host = strings.TrimSuffix(strings.TrimSuffix(host, " TXT"), " MX")
	for _, f := range d.rep.Findings {
		if f.Severity != checks.SevError && f.Severity != checks.SevWarn {
			continue
		}
		if !slices.ContainsFunc(families, func(p string) bool { return strings.HasPrefix(f.ID, p) }) {
			continue
		}
		words := strings.FieldsFunc(f.Subject, func(r rune) bool { return strings.ContainsRune(" ()/,[]", r) })
		if len(words) > 0 && !slices.Contains(words, host) && !(kind == "dns" && f.Subject == "") {
			continue
		}
		if addr != "" && slices.ContainsFunc(words, isAddr) && !slices.Contains(words, addr) {
			continue // about another address of the host
		}
		if !found || f.Severity == checks.SevError {
			sev, found = f.Severity, true
		}
	}
	return sev, found
}

// isAddr: an IPv4 or IPv6 address.
func isAddr(s string) bool { _, err := netip.ParseAddr(s); return err == nil }

// inParens is "(in 12d 4h)", or "(now)" once the time has come.
func inParens(d time.Duration) string {
	if d <= 0 {
		return "(now)"
	}
	return "(in " + textout.In(d) + ")"
}

// brokenLines: a broken stage offers the fix of its worst finding and
// the rollback, never another workflow's prerequisites.
func (d dashModel) brokenLines(label func(string) string) string {
	c := d.c
	// The worst finding: errors first, status's before the live check's.
	var f *checks.Finding
	for _, sev := range []checks.Severity{checks.SevError, checks.SevWarn} {
		for _, src := range [][]checks.Finding{d.st.Findings, reportFindings(d.rep)} {
			for i := range src {
				if f == nil && src[i].Severity == sev {
					f = &src[i]
				}
			}
		}
	}
	var b strings.Builder
	if f == nil {
		b.WriteString(label("Broken") + c.st.Danger.Render("live state matches no stage") + "\n")
	} else {
		b.WriteString(label("Broken") + c.st.Danger.Render(f.ID) + " " + f.Subject + ": " + f.Observed + "\n")
		if f.Fix != "" {
			first, _, _ := strings.Cut(f.Fix, "\n")
			b.WriteString(label("Fix") + c.st.OK.Render(first) + "\n")
		}
		if a := f.Action; a != nil && a.Workflow != "" && a.Workflow != "rollback" {
			if k := c.keys.workflowKey(a.Workflow); k != "" {
				b.WriteString(label("") + c.st.Key.Render(k) + " plans the " + a.Workflow + " that fixes it\n")
			}
		}
	}
	b.WriteString(label("") + c.st.Key.Render("!") + " rolls back to testing now   " + c.st.Key.Render("f") + " each finding with its fix\n")
	return b.String()
}

func reportFindings(r *checks.Report) []checks.Finding {
	if r == nil {
		return nil
	}
	return r.Findings
}
