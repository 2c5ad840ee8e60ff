package tui

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/timer"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/stspilot/stspilot/internal/duration"
	"github.com/stspilot/stspilot/workflow"
)

// waitModel counts down to the closed gate and re-checks the status every
// few seconds; when the gate's time has come it runs the workflow again
// (the operator confirmed it already).
type waitModel struct {
	c        *common
	gen      int
	req      workflow.Request
	out      *workflow.Outcome
	nextAt   time.Time
	timer    timer.Model
	rechecks int
	st       *workflow.StatusReport
}

// newWait starts waiting for out's gate; gen tells its re-checks from
// those of an earlier wait.
func newWait(c *common, gen int, req workflow.Request, out *workflow.Outcome) waitModel {
	w := waitModel{c: c, gen: gen, req: req, out: out, nextAt: *out.NextAt}
	w.timer = timer.NewWithInterval((c.real(w.nextAt.Sub(c.now())) + time.Second).Round(time.Second), time.Second)
	return w
}

func (w waitModel) start() tea.Cmd { return tea.Batch(w.timer.Init(), w.tick()) }

func (w waitModel) every() time.Duration {
	if w.c.opts.Recheck > 0 {
		return w.c.opts.Recheck
	}
	return 2 * time.Second
}

func (w waitModel) tick() tea.Cmd {
	gen := w.gen
	return tea.Tick(w.every(), func(time.Time) tea.Msg { return recheckMsg{gen: gen} })
}

func (w waitModel) recheckNow() tea.Cmd {
	gen := w.gen
	return func() tea.Msg { return recheckMsg{gen: gen} }
}

// due reports whether the engine's clock has reached the gate.
func (w waitModel) due() bool { return !w.c.now().Before(w.nextAt) }

func (w waitModel) opens() string {
	return w.nextAt.UTC().Format("2006-01-02 15:04 UTC") + " (in " + human(w.nextAt.Sub(w.c.now())) + ")"
}

func (w waitModel) update(msg tea.Msg) (waitModel, tea.Cmd) {
	switch msg := msg.(type) {
	case timer.TickMsg, timer.StartStopMsg:
		var cmd tea.Cmd
		w.timer, cmd = w.timer.Update(msg)
		return w, cmd
	case timer.TimeoutMsg:
		if msg.ID == w.timer.ID() {
			return w, w.recheckNow()
		}
	}
	return w, nil
}

func (w waitModel) view() string {
	c := w.c
	var b strings.Builder
	gate := "a gate"
	reason := w.out.Message
	if w.out.Gate != nil {
		gate = "the " + string(w.out.Gate.Kind) + " gate"
		reason = w.out.Gate.Reason
	}
	b.WriteString(c.st.Bold.Render(fmt.Sprintf("Waiting: %s of %s is closed", gate, w.req.Workflow)) + "\n")
	b.WriteString(reason + "\n\n")
	fmt.Fprintf(&b, "opens    %s\n", w.opens())
	fmt.Fprintf(&b, "timer    %s real time\n", duration.Format(w.timer.Timeout))
	line := fmt.Sprintf("checked  %d times while waiting", w.rechecks)
	if w.st != nil {
		line += fmt.Sprintf("; stage %s", w.st.Stage)
		if w.st.Errors > 0 {
			line += fmt.Sprintf(", %d errors", w.st.Errors)
		}
	}
	b.WriteString(line + "\n\n")
	b.WriteString(c.st.Subtle.Render("When it opens, "+string(w.req.Workflow)+" runs again by itself. esc stops waiting.") + "\n")
	if c.opts.Demo != nil {
		b.WriteString(c.st.Subtle.Render("Demo: s moves the sandbox clock to the gate.") + "\n")
	}
	return b.String()
}
