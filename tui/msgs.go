package tui

import (
	"github.com/stspilot/stspilot/checks"
	"github.com/stspilot/stspilot/workflow"
)

// Every piece of I/O runs in a tea.Cmd and comes back as one of these
// (style practice 17).

// errMsg is an error of a command; it implements error.
type errMsg struct{ err error }

func (e errMsg) Error() string { return e.err.Error() }

// engineMsg: the set-up screen opened the engine.
type engineMsg struct {
	engine *workflow.Engine
	domain string
	rua    string
	err    error
}

// clockMsg: a second has passed; the header clock and the countdowns
// are drawn again (they tick while the operator only looks).
type clockMsg struct{}

// statusMsg: engine.Status finished.
type statusMsg struct {
	st  *workflow.StatusReport
	err error
}

// probeMsg: a probe of the live check started or finished.
type probeMsg struct {
	gen int
	ev  checks.ProbeEvent
}

// checkDoneMsg: the live check finished.
type checkDoneMsg struct {
	gen int
	rep *checks.Report
}

// planMsg: engine.Plan finished for req.
type planMsg struct {
	req  workflow.Request
	plan *workflow.Plan
	err  error
}

// eventMsg: one engine event of the running apply.
type eventMsg struct {
	gen int
	ev  workflow.Event
}

// applyDoneMsg: engine.Apply returned.
type applyDoneMsg struct {
	gen int
	req workflow.Request
	out *workflow.Outcome
	err error
}

// injectMsg: a demo failure was toggled.
type injectMsg struct {
	name string
	on   bool
	err  error
}

// askQuitMsg: the filter turned a quit during an apply into a question.
type askQuitMsg struct{}

// recheckMsg: the wait screen's periodic re-check is due (now: the
// operator asked for it, or the demo moved the clock).
type recheckMsg struct {
	gen int
	now bool
}

// waitSecondMsg redraws the wait screen's countdown.
type waitSecondMsg struct{ gen int }

// reportsMsg carries the dashboard's TLS-RPT summary lines.
type reportsMsg struct{ lines []string }
