package tui

import (
	"fmt"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/stspilot/stspilot/checks"
	"github.com/stspilot/stspilot/tui/textout"
	"github.com/stspilot/stspilot/workflow"
)

// waitModel is one screen for a closed gate, whatever happens while it is
// shown: a waiting gate counts down on the engine's clock and runs the
// workflow again when its time has come; a blocked gate shows the cause,
// the fix and the horizon, and runs the workflow again every few seconds
// (and on c). The runs happen behind this screen: it never flips to the
// apply screen and back.
type waitModel struct {
	c      *common
	gen    int
	active bool // false once the operator left (esc)
	req    workflow.Request
	out    *workflow.Outcome
	gate   gateView
	// nextAt is when a waiting gate opens (zero for a blocked one).
	nextAt   time.Time
	rechecks int
	// checking: a run of req is in flight behind the screen.
	checking bool
	// runs counts those runs; sinceRun the re-checks since the last one.
	runs, sinceRun int
	st             *workflow.StatusReport
}

// newWait starts waiting for out's gate; gen tells its re-checks from
// those of an earlier wait.
func newWait(c *common, gen int, req workflow.Request, out *workflow.Outcome) waitModel {
	w := waitModel{c: c, gen: gen, active: true, req: req}
	return w.again(out)
}

// again takes the outcome of a run behind the screen.
func (w waitModel) again(out *workflow.Outcome) waitModel {
	w.out, w.checking, w.sinceRun = out, false, 0
	w.gate = classify(out.Gate)
	w.nextAt = time.Time{}
	if !w.gate.blocked && out.NextAt != nil {
		w.nextAt = *out.NextAt
	}
	return w
}

func (w waitModel) start() tea.Cmd { return tea.Batch(w.tick(), w.second()) }

func (w waitModel) every() time.Duration {
	if w.c.opts.Recheck > 0 {
		return w.c.opts.Recheck
	}
	return 2 * time.Second
}

// blockedEvery is how many re-checks pass between runs for a blocked gate.
const blockedEvery = 5

func (w waitModel) tick() tea.Cmd {
	gen := w.gen
	return tea.Tick(w.every(), func(time.Time) tea.Msg { return recheckMsg{gen: gen} })
}

// second redraws the countdown each second.
func (w waitModel) second() tea.Cmd {
	gen := w.gen
	return tea.Tick(time.Second, func(time.Time) tea.Msg { return waitSecondMsg{gen: gen} })
}

func (w waitModel) recheckNow() tea.Cmd {
	gen := w.gen
	return func() tea.Msg { return recheckMsg{gen: gen, now: true} }
}

// due reports whether the workflow should run again now: a waiting gate's
// time has come on the engine's clock, or a blocked gate's turn is due.
func (w waitModel) due() bool {
	if w.checking {
		return false
	}
	if w.gate.blocked || w.nextAt.IsZero() {
		return w.sinceRun >= blockedEvery
	}
	return !w.c.now().Before(w.nextAt)
}

// timed: the gate opens at nextAt (a window); otherwise nextAt is only
// the next poll of an answer that has not turned yet.
func (w waitModel) timed() bool {
	return !w.nextAt.IsZero() && (w.out.Gate == nil || w.out.Gate.Kind == workflow.GateWindow)
}

func (w waitModel) opens() string {
	return stamp(w.nextAt) + " " + inParens(w.nextAt.Sub(w.c.now()))
}

// leftNote is the status line after esc.
func (w waitModel) leftNote() string {
	if w.gate.blocked || w.nextAt.IsZero() {
		return "stopped waiting: " + string(w.req.Workflow) + " is blocked until the cause is fixed; n on the dashboard runs it again"
	}
	if !w.timed() {
		return "stopped waiting; n on the dashboard runs " + string(w.req.Workflow) + " again"
	}
	return "stopped waiting; the gate opens " + w.opens() + "; n on the dashboard runs " + string(w.req.Workflow) + " again"
}

func (w waitModel) view(rep *checks.Report) string {
	if w.gate.blocked {
		return w.blockedView(rep)
	}
	c := w.c
	var b strings.Builder
	gate := "a gate"
	reason := w.out.Message
	if w.out.Gate != nil {
		gate = "the " + string(w.out.Gate.Kind) + " gate"
		reason = w.out.Gate.Reason
	}
	b.WriteString(c.st.Bold.Render(fmt.Sprintf("Waiting: %s of %s is closed", gate, w.req.Workflow)) + "\n")
	if !w.nextAt.IsZero() {
		reason = dropCountdown(reason) // the opens line below counts down
	}
	b.WriteString(reason + "\n\n")
	if !w.nextAt.IsZero() {
		label := "opens    "
		if !w.timed() {
			label = "recheck  "
		}
		b.WriteString(label + w.opens() + "\n")
		if w.timed() {
			// The demo's clock runs faster than the wall clock.
			fmt.Fprintf(&b, "timer    %s real time\n", textout.In(c.real(w.nextAt.Sub(c.now()))))
		}
	}
	b.WriteString(w.checkedLine() + "\n")
	if h := horizon(w.gate.meanwhile); h != "" {
		b.WriteString(c.st.Warn.Render("meanwhile") + " " + h + "\n")
	}
	b.WriteString("\n" + c.st.Subtle.Render("It opens by itself; then "+string(w.req.Workflow)+" runs again here."))
	b.WriteString("\n" + c.st.Subtle.Render("c re-checks now, esc leaves it waiting.") + "\n")
	if c.opts.Demo != nil {
		b.WriteString(c.st.Subtle.Render("Demo: s moves the sandbox clock to the gate.") + "\n")
	}
	return b.String()
}

func (w waitModel) checkedLine() string {
	times := fmt.Sprintf("%d times", w.rechecks)
	if w.rechecks == 1 {
		times = "once"
	}
	line := "checked  " + times + " while waiting"
	if w.checking {
		line += "; checking now…"
	}
	if w.st != nil {
		line += fmt.Sprintf("; stage %s", w.st.Stage)
		if w.st.Errors > 0 {
			line += ", " + textout.Plural(w.st.Errors, "error")
		}
	}
	return line
}

// blockedView: the cause (address and answer), the fix check gives for
// it, the horizon, and the keys; never a countdown.
func (w waitModel) blockedView(rep *checks.Report) string {
	c := w.c
	var b strings.Builder
	b.WriteString(c.st.Danger.Render(fmt.Sprintf("Blocked: the %s gate of %s will not open by itself", w.gate.kind, w.req.Workflow)) + "\n\n")
	const labelW = 10
	label := func(s string) string { return c.st.Subtle.Render(fmt.Sprintf("%-*s", labelW, s)) }
	// field wraps text under its label, continuation lines hanging.
	field := func(l, text string) {
		for i, line := range textout.Wrap(text, max(c.width-labelW, 20), 0) {
			if i > 0 {
				l = ""
			}
			b.WriteString(label(l) + line + "\n")
		}
	}
	for i, cause := range w.gate.causes {
		l := ""
		if i == 0 {
			l = "cause"
		}
		field(l, cause)
	}
	if f := findingFor(rep, w.gate); f != nil {
		fix := f.Fix
		if fix == "" {
			fix = f.Observed
		}
		first, rest, _ := strings.Cut(fix, "\n")
		field("fix", c.st.OK.Render(first)+c.st.Subtle.Render(" ("+f.ID+")"))
		for _, l := range strings.Split(rest, "\n") {
			if l != "" {
				b.WriteString(label("") + l + "\n")
			}
		}
	} else if w.gate.finding != "" {
		field("fix", c.st.Subtle.Render("reading the live check… ("+w.gate.finding+")"))
	}
	if h := horizon(w.gate.meanwhile); h != "" {
		field("meanwhile", h)
	}
	again := "once the fix is in, " + string(w.req.Workflow) + " finishes here by itself"
	if w.checking {
		again = "checking now…"
	}
	b.WriteString(label("") + c.st.Subtle.Render(again) + "\n\n")
	fmt.Fprintf(&b, "%s re-check now   %s show the finding   %s roll back   %s leave\n",
		c.st.Key.Render("c"), c.st.Key.Render("f"), c.st.Key.Render("!"), c.st.Key.Render("esc"))
	return b.String()
}
