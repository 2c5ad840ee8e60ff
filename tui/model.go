package tui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/stspilot/stspilot/dnsprovider"
	"github.com/stspilot/stspilot/tui/textout"
	"github.com/stspilot/stspilot/workflow"
)

// state is the screen shown (style practice 16: root = state enum +
// child models + shared common).
type state int

const (
	stSetup state = iota
	stDashboard
	stPlan
	stConfirm
	stApply
	stWait
	stFindings
	stBreaks
	stMX
)

// overlay is a question shown over any screen.
type overlay int

const (
	ovNone overlay = iota
	ovRollback
	ovQuit
)

// common is what every child shares.
type common struct {
	ctx    context.Context
	opts   Options
	engine *workflow.Engine
	domain string
	rua    string
	width  int
	height int
	st     Styles
	keys   keyMap
	// running counts applies whose Apply has not returned; exited is
	// closed once the program stops reading messages.
	running sync.WaitGroup
	exited  chan struct{}
}

func (c *common) now() time.Time {
	if c.engine != nil {
		return c.engine.Now()
	}
	return time.Now()
}

func (c *common) real(d time.Duration) time.Duration {
	if c.opts.RealDuration != nil {
		return c.opts.RealDuration(d)
	}
	return d
}

// Model is the wizard's root model.
type Model struct {
	c       *common
	state   state
	back    state // where esc goes from findings and breaks
	overlay overlay
	help    help.Model

	setup    setupModel
	dash     dashModel
	plan     planModel
	confirm  confirmModel
	apply    applyModel
	wait     waitModel
	findings findingsModel
	breaks   breaksModel
	mx       mxModel

	// err is shown on the status line until the next action.
	err error
	// note is a one-line message (what a key did).
	note string

	applyGen    int
	cancelApply context.CancelFunc
	// behind: the running apply is the wait screen's re-run, shown there
	// rather than on the apply screen.
	behind         bool
	quitting       bool // quit once the running apply has returned
	interrupted    bool // the quit is ctrl+c's: Run returns tea.ErrInterrupted
	rollbackQueued bool // roll back once the running apply has returned
}

// NewModel builds the root model.
func NewModel(ctx context.Context, o Options) *Model {
	c := &common{ctx: ctx, opts: o, engine: o.Engine, domain: o.Domain, rua: o.RUA, width: 80, height: 24, st: newStyles(), keys: newKeyMap(), exited: make(chan struct{})}
	m := &Model{c: c, help: help.New()}
	m.setup = newSetup(c)
	m.dash = newDash(c)
	m.plan = planModel{c: c}
	m.confirm = newConfirm(c)
	m.apply = applyModel{c: c}
	m.wait = waitModel{c: c}
	m.findings = findingsModel{c: c}
	m.breaks = breaksModel{c: c}
	m.mx = newMX(c)
	if o.Demo != nil {
		m.breaks.items = append([]Failure(nil), o.Demo.Failures...)
	}
	if c.engine != nil && c.domain != "" {
		m.state = stDashboard
	}
	return m
}

// Init implements tea.Model.
func (m *Model) Init() tea.Cmd {
	if m.state == stDashboard {
		return tea.Batch(m.refresh(), clockTick())
	}
	return tea.Batch(m.setup.init(), clockTick())
}

// clockTick redraws every second: the header's sandbox clock and every
// "(in …)" count down while the operator only looks.
func clockTick() tea.Cmd {
	return tea.Tick(time.Second, func(time.Time) tea.Msg { return clockMsg{} })
}

// State names the screen shown (tests and the e2e test read it).
func (m *Model) State() string {
	return m.screen().name
}

func (m *Model) applying() bool { return m.cancelApply != nil }

// readStatus reads the status (and the access log's fetchers) in a command.
func (m *Model) readStatus() tea.Cmd {
	return statusCmd(m.c.ctx, m.c.engine, m.c.domain, m.c.opts.AccessLog)
}

// refresh re-reads the status and re-runs the live check.
func (m *Model) refresh() tea.Cmd {
	cmds := []tea.Cmd{m.readStatus(), m.dash.startCheck()}
	if len(m.c.opts.Reports) > 0 {
		cmds = append(cmds, reportsCmd(m.c.ctx, m.c.opts.Reports, m.c.domain, m.c.now(), max(m.c.width-9, 20)))
	}
	return tea.Batch(cmds...)
}

// rerun runs the waited-for workflow again behind the wait screen.
func (m *Model) rerun() tea.Cmd {
	back := m.state
	cmd := m.startApply(m.wait.req, nil)
	m.state, m.behind = back, true
	m.wait.active, m.wait.checking, m.wait.runs = true, true, m.wait.runs+1
	return cmd
}

// startApply runs req (confirmed: the plan the operator saw, or nil).
func (m *Model) startApply(req workflow.Request, confirmed *workflow.Plan) tea.Cmd {
	// A run in front ends any wait: its own outcome may start a new one.
	m.behind, m.wait.active = false, false
	m.applyGen++
	ctx, cancel := context.WithCancel(m.c.ctx)
	m.cancelApply = cancel
	m.apply = newApply(m.c, req)
	m.state = stApply
	m.err, m.note = nil, ""
	ch := make(chan tea.Msg, 512)
	m.apply.ch = ch
	m.c.running.Add(1)
	return tea.Batch(applyCmd(ctx, m.c.engine, req, confirmed, m.applyGen, ch, &m.c.running, m.c.exited), m.apply.spin.Tick)
}

func (m *Model) rollbackReq() workflow.Request {
	return workflow.Request{Workflow: workflow.Rollback, Domain: m.c.domain}
}

// Update implements tea.Model.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.c.width, m.c.height = msg.Width, msg.Height
		m.help.Width = msg.Width
		return m, nil
	case askQuitMsg:
		m.overlay = ovQuit
		return m, nil
	case tea.KeyMsg:
		if msg.Type == tea.KeyRunes && len(msg.Runes) > 1 && !msg.Paste && !m.typing() {
			// Keys typed faster than the terminal is read arrive as one
			// message ("xa"): each is a key of its own here.
			var cmds []tea.Cmd
			for _, r := range msg.Runes {
				_, cmd := m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}, Alt: msg.Alt})
				cmds = append(cmds, cmd)
			}
			return m, tea.Batch(cmds...)
		}
		m.syncKeys() // the keys of the screen shown now, whatever was rendered last
		if cmd, done := m.globalKey(msg); done {
			return m, cmd
		}
	case errMsg:
		m.err = msg.err
		return m, nil
	case engineMsg:
		if msg.err != nil {
			m.err = msg.err
			return m, nil
		}
		m.c.engine, m.c.domain, m.c.rua = msg.engine, msg.domain, msg.rua
		m.state = stDashboard
		return m, m.refresh()
	case reportsMsg:
		m.dash.reports = msg.lines
		return m, nil
	case clockMsg:
		// Once the gate the dashboard counts down to has opened, its
		// status is read again: the next step may have changed.
		if st := m.dash.st; m.state == stDashboard && st != nil && st.NextAt != nil && !m.c.now().Before(*st.NextAt) && !m.dash.reread.Equal(*st.NextAt) {
			m.dash.reread = *st.NextAt
			return m, tea.Batch(clockTick(), m.readStatus())
		}
		return m, clockTick()
	case statusMsg:
		m.dash.st, m.dash.stErr = msg.st, msg.err
		m.findings.st = msg.st
		if m.wait.active {
			m.wait.rechecks++
			m.wait.st = msg.st
		}
		return m, nil
	case probeMsg, checkDoneMsg:
		var cmd tea.Cmd
		m.dash, cmd = m.dash.update(msg)
		if d, ok := msg.(checkDoneMsg); ok && d.gen == m.dash.gen {
			m.findings.rep = d.rep
		}
		return m, cmd
	case planMsg:
		if msg.err != nil {
			m.err = msg.err
			m.state = stDashboard
			if msg.req.Workflow == workflow.MXMigrate {
				m.state = stMX // the target typed stays, to be corrected
				m.note = ""
			}
			return m, nil
		}
		m.note = ""
		m.plan = newPlan(m.c, msg.req, msg.plan, m.dash.rep)
		m.state = stPlan
		return m, nil
	case eventMsg, applyDoneMsg:
		return m.updateRun(msg)
	case injectMsg:
		if msg.err != nil {
			m.err = fmt.Errorf("%s: %w", msg.name, msg.err)
			return m, nil
		}
		m.breaks.set(msg.name, msg.on)
		if msg.on {
			m.note = "injected " + msg.name
		} else {
			m.note = "healed " + msg.name
		}
		return m, m.refresh()
	case recheckMsg:
		if !m.wait.active || msg.gen != m.wait.gen {
			return m, nil
		}
		next := m.wait.tick()
		if msg.now {
			next = nil // the periodic tick goes on by itself
		}
		m.wait.sinceRun++
		if (msg.now && !m.wait.checking) || m.wait.due() {
			if m.applying() {
				return m, next
			}
			return m, tea.Batch(m.rerun(), next)
		}
		return m, tea.Batch(m.readStatus(), next)
	case waitSecondMsg:
		if !m.wait.active || msg.gen != m.wait.gen {
			return m, nil
		}
		return m, m.wait.second() // the view counts down from the engine's clock
	}
	return m.updateChild(msg)
}

// quit ends the program: ctrl+c as an interrupt (Run returns
// tea.ErrInterrupted, which the command reports as exit 130), q as a quit.
func (m *Model) quit() tea.Cmd {
	if m.interrupted {
		return tea.Interrupt
	}
	return tea.Quit
}

// typing: the screen shown takes letters as text (the set-up form, the
// domain typed to confirm a deletion, the MX screen's target).
func (m *Model) typing() bool {
	return m.overlay == ovNone && m.typesText()
}

// typesText: the screen shown takes letters as text, whatever is asked
// over it.
func (m *Model) typesText() bool {
	t := m.screen().typing
	return t != nil && t(m)
}

// globalKey handles the overlays and the keys of every screen: quit,
// help, and the emergency rollback.
func (m *Model) globalKey(msg tea.KeyMsg) (tea.Cmd, bool) {
	k := m.c.keys
	if asked := m.overlay; asked != ovNone {
		switch {
		case key.Matches(msg, k.Yes):
			m.overlay = ovNone
			if m.applying() {
				// The run stops at its next safe point; once it has
				// returned, updateRun quits or rolls back.
				if asked == ovQuit {
					m.quitting = true
					m.note = "stopping the run at the next safe point…"
				} else {
					m.rollbackQueued = true
					m.note = "stopping the run, then rolling back…"
				}
				m.cancelApply()
				return nil, true
			}
			if asked == ovQuit {
				return m.quit(), true
			}
			return m.startApply(m.rollbackReq(), nil), true
		case key.Matches(msg, k.No):
			m.overlay = ovNone
			if asked == ovQuit {
				m.interrupted = false
			}
		}
		return nil, true
	}
	typing := m.typing()
	switch {
	case msg.String() == "ctrl+c" || (!typing && key.Matches(msg, k.Quit)):
		// ctrl+c is an interrupt (exit 130 through the cmd layer), q a quit.
		m.interrupted = msg.String() == "ctrl+c"
		if m.applying() {
			m.overlay = ovQuit
			return nil, true
		}
		return m.quit(), true
	case !typing && key.Matches(msg, k.Help):
		m.help.ShowAll = !m.help.ShowAll
		return nil, true
	case key.Matches(msg, k.Rollback) && (msg.String() == "ctrl+r" || m.state != stSetup):
		// A domain typed to confirm, a max_age and an MX target have no
		// "!": it rolls back there too. Only the set-up form takes it as
		// text (a token may hold one).
		if m.c.engine == nil {
			m.err = errors.New("set up the domain first: there is nothing to roll back yet")
			return nil, true
		}
		m.overlay = ovRollback
		return nil, true
	}
	return nil, false
}

// updateRun follows the running apply.
func (m *Model) updateRun(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case eventMsg:
		if msg.gen != m.applyGen {
			return m, nil
		}
		m.apply.event(msg.ev)
		return m, listen(m.apply.ch)
	case applyDoneMsg:
		if msg.gen != m.applyGen {
			return m, nil
		}
		m.cancelApply = nil
		m.apply.finish(msg.out, msg.err)
		refresh := m.refresh()
		behind := m.behind
		m.behind = false
		pending := msg.err == nil && msg.out != nil && msg.out.Status == workflow.StatusPending && (msg.out.NextAt != nil || msg.out.Gate != nil)
		switch {
		case m.quitting:
			return m, m.quit()
		case m.rollbackQueued:
			m.rollbackQueued = false
			m.wait.active = false
			return m, m.startApply(m.rollbackReq(), nil)
		case behind && !m.wait.active:
			// The operator left the wait screen while its run went on.
			return m, refresh
		case behind && pending:
			m.wait = m.wait.again(msg.out)
			return m, refresh
		case behind:
			// It finished (or failed): show how, on the apply screen.
			m.wait.active = false
			m.state = stApply
			return m, refresh
		case pending:
			m.wait = newWait(m.c, m.applyGen, msg.req, msg.out)
			m.state = stWait
			return m, tea.Batch(refresh, m.wait.start())
		}
		return m, refresh
	}
	return m, nil
}

// updateChild gives the message to the active screen only.
func (m *Model) updateChild(msg tea.Msg) (tea.Model, tea.Cmd) {
	if km, ok := msg.(tea.KeyMsg); ok && m.screen().over && key.Matches(km, m.c.keys.Back) {
		// The screens shown over another go back to it.
		m.state = m.back
		return m, nil
	}
	return m, m.screen().update(m, msg)
}

// screen is what the root does for one state: screens has one entry a
// state, so that a new screen is its child model and one entry there.
type screen struct {
	name string // what State says
	// update takes a message the root left to the screen shown.
	update func(*Model, tea.Msg) tea.Cmd
	// keys enables the screen's keys (syncKeys has disabled them all).
	keys func(*Model, *keyMap)
	// view is the screen's body.
	view func(*Model) string
	// page, when set, lays the screen out in room lines of w columns
	// itself, when no question is asked over it; else fit does.
	page func(m *Model, w, room int) []string
	// typing, when set, says whether the screen takes letters as text.
	typing func(*Model) bool
	// over: the screen is shown over another, and back returns to it.
	over bool
}

var screens = [...]screen{
	stSetup: {
		name: "setup", update: (*Model).setupUpdate, keys: (*Model).setupKeys,
		view:   func(m *Model) string { return m.setup.view() },
		typing: func(*Model) bool { return true },
	},
	stDashboard: {
		name: "dashboard", update: (*Model).dashUpdate, keys: (*Model).dashKeys,
		view: func(m *Model) string { return m.dash.view() },
		page: func(m *Model, w, room int) []string {
			m.dash.room = room
			return fit(stamps(m.dash.view()), w, room)
		},
	},
	stPlan: {
		name: "plan", update: (*Model).planUpdate, keys: (*Model).planKeys,
		view: func(m *Model) string { return m.plan.view() },
		page: func(m *Model, w, room int) []string {
			return m.paged(&m.plan.pager, m.plan.view(), w, room, "the plan")
		},
		typing: func(m *Model) bool { return m.plan.asking },
	},
	stConfirm: {
		name: "confirm", update: (*Model).confirmUpdate, keys: (*Model).confirmKeys,
		view:   func(m *Model) string { return m.confirm.view() },
		typing: func(m *Model) bool { return m.confirm.destructive },
	},
	stApply: {
		name: "apply", update: (*Model).applyUpdate, keys: (*Model).applyKeys,
		view: func(m *Model) string { return m.apply.view() },
	},
	stWait: {
		name: "wait", update: (*Model).waitUpdate, keys: (*Model).waitKeys,
		view: func(m *Model) string { return m.wait.view(m.dash.rep) },
	},
	stFindings: {
		name: "findings", update: (*Model).findingsUpdate, keys: (*Model).findingsKeys,
		view: func(m *Model) string { return m.findings.view() },
		page: func(m *Model, w, room int) []string {
			return m.paged(&m.findings.pager, m.findings.view(), w, room, "the findings")
		},
		over: true,
	},
	stBreaks: {
		name: "breaks", update: (*Model).breaksUpdate, keys: (*Model).breaksKeys,
		view: func(m *Model) string { return m.breaks.view() },
		over: true,
	},
	stMX: {
		name: "mx", update: (*Model).mxUpdate, keys: (*Model).mxKeys,
		view:   func(m *Model) string { return m.mx.view(m.dash.rep) },
		typing: func(*Model) bool { return true },
	},
}

// screen is the screen shown.
func (m *Model) screen() screen { return screens[m.state] }

// paged is body's lines, wrapped to w, in the room lines p's window has.
func (m *Model) paged(p *pager, body string, w, room int, what string) []string {
	return fit(strings.Join(p.window(m.c, wrapLines(stamps(body), w), room, what), "\n"), w, room)
}

// The screens' update and keys functions, in the order of the states.

func (m *Model) setupUpdate(msg tea.Msg) tea.Cmd {
	var cmd tea.Cmd
	var s Setup
	var ok bool
	m.setup, cmd, s, ok = m.setup.update(msg)
	if ok {
		return tea.Batch(cmd, openCmd(m.c.ctx, m.c.opts.Open, s))
	}
	return cmd
}

func (m *Model) setupKeys(k *keyMap) {
	k.Enter.SetEnabled(true)
}

func (m *Model) dashUpdate(msg tea.Msg) tea.Cmd {
	k := m.c.keys
	km, isKey := msg.(tea.KeyMsg)
	if !isKey {
		var cmd tea.Cmd
		m.dash, cmd = m.dash.update(msg)
		return cmd
	}
	m.err, m.note = nil, ""
	plan := func(wf workflow.Workflow) tea.Cmd {
		req := m.request(wf)
		if wf == workflow.MXMigrate {
			// The engine plans a migration from its target: the one
			// under way, else the one the operator types.
			st := m.dash.st
			if st == nil || st.MXMigration == nil {
				m.state = stMX
				return m.mx.focus()
			}
			req.MXTo = mxTarget(st.MXMigration.To)
			req.KeepOld = st.MXMigration.KeepOld
			if st.MXMigration.Manual {
				req.MXSwitch = workflow.MXSwitchManual
			}
		}
		return m.planning(req)
	}
	switch {
	case key.Matches(km, k.Next):
		st := m.dash.st
		switch {
		case st != nil && st.Pending != nil:
			return plan(workflow.Workflow(st.Pending.Workflow))
		case st == nil || st.Next == "":
			m.note = "nothing to do next"
			return nil
		}
		return plan(st.Next)
	case key.Matches(km, k.Rollout):
		return plan(workflow.Rollout)
	case key.Matches(km, k.Promote):
		return plan(workflow.Promote)
	case key.Matches(km, k.Teardown):
		return plan(workflow.Teardown)
	case key.Matches(km, k.Recheck):
		return m.refresh()
	case key.Matches(km, k.Findings):
		m.back, m.state = stDashboard, stFindings
		m.findings.off = 0
	case key.Matches(km, k.MX):
		m.state = stMX
		if st := m.dash.st; st != nil && st.MXMigration != nil && m.mx.in.Value() == "" {
			m.mx.in.SetValue(mxTargetText(st.MXMigration.To))
		}
		return m.mx.focus()
	case key.Matches(km, k.Breaks) && m.c.opts.Demo != nil:
		m.back, m.state = stDashboard, stBreaks
	case key.Matches(km, k.Skip) && m.c.opts.Demo != nil:
		return m.skip()
	}
	return nil
}

func (m *Model) dashKeys(k *keyMap) {
	demo := m.c.opts.Demo != nil
	st := m.dash.st
	k.Next.SetHelp("n", "next step")
	k.Next.SetEnabled(st != nil && (st.Pending != nil || st.Next != ""))
	if st != nil && st.Pending != nil {
		k.Next.SetHelp("n", "finish "+st.Pending.Workflow)
	}
	k.Rollout.SetEnabled(true)
	k.Promote.SetEnabled(true)
	k.Teardown.SetEnabled(true)
	k.Recheck.SetEnabled(true)
	k.Findings.SetEnabled(true)
	k.MX.SetEnabled(true)
	k.Breaks.SetEnabled(demo)
	k.Skip.SetEnabled(demo)
}

func (m *Model) planUpdate(msg tea.Msg) tea.Cmd {
	var cmd tea.Cmd
	k := m.c.keys
	if m.plan.asking {
		var d time.Duration
		var ok bool
		m.plan, cmd, d, ok = m.plan.updateAsk(msg, k)
		if ok {
			req := m.plan.req
			req.LastMaxAge = d
			m.err = nil
			return m.planning(req)
		}
		return cmd
	}
	km, isKey := msg.(tea.KeyMsg)
	if !isKey {
		return nil
	}
	p := m.plan.plan
	switch {
	case key.Matches(km, k.Override) && p.Refusal == nil:
		keep, ok := keepAction(m.plan.req, p)
		if !ok {
			return nil
		}
		req := m.plan.req
		req.KeepTLSRPT = keep
		return planCmd(m.c.ctx, m.c.engine, req)
	case key.Matches(km, k.Back):
		m.state = stDashboard
		if m.plan.req.Workflow == workflow.MXMigrate {
			m.state = stMX // its target, to change it
		}
	case key.Matches(km, k.Override):
		override, first, ok := refusalAction(p.Refusal)
		if !ok {
			return nil
		}
		req := m.plan.req
		switch override {
		case workflow.CodeLastMaxAge:
			m.plan, cmd = m.plan.askMaxAge()
			return cmd
		case workflow.CodeWithoutReports:
			req.WithoutReports = true
		case workflow.CodeAdoptLive:
			req.AdoptLive = true
		}
		if first != "" {
			req = m.request(first)
		}
		return planCmd(m.c.ctx, m.c.engine, req)
	case key.Matches(km, k.Enter) && p.Refusal == nil && !p.Nothing:
		m.confirm = newConfirmFor(m.c, m.plan.req, p)
		m.state = stConfirm
		return m.confirm.focus()
	case scrollKey(k, km):
		m.plan.pager = m.plan.scroll(k, km)
	}
	return nil
}

func (m *Model) planKeys(k *keyMap) {
	p := m.plan.plan
	k.Enter.SetEnabled(p != nil && p.Refusal == nil && !p.Nothing)
	act := false
	if p != nil {
		_, _, act = refusalAction(p.Refusal)
		if _, keep := keepAction(m.plan.req, p); keep {
			act = true
		}
	}
	k.Override.SetEnabled(act && !m.plan.asking)
	if m.plan.asking {
		k.Enter.SetEnabled(true)
		k.Enter.SetHelp("enter", "plan again with this max_age")
	}
	k.Back.SetEnabled(true)
	k.enableScroll()
}

func (m *Model) confirmUpdate(msg tea.Msg) tea.Cmd {
	var cmd tea.Cmd
	var yes, no bool
	m.confirm, cmd, yes, no = m.confirm.update(msg)
	switch {
	case yes:
		return m.startApply(m.confirm.req, m.confirm.plan)
	case no:
		m.state = stPlan
	}
	return cmd
}

func (m *Model) confirmKeys(k *keyMap) {
	if m.confirm.destructive {
		k.Enter.SetEnabled(true)
	} else {
		k.Yes.SetEnabled(true)
		k.No.SetEnabled(true)
	}
	k.Back.SetEnabled(true)
}

func (m *Model) applyUpdate(msg tea.Msg) tea.Cmd {
	var cmd tea.Cmd
	k := m.c.keys
	if km, ok := msg.(tea.KeyMsg); ok {
		if !m.applying() && (key.Matches(km, k.Enter) || key.Matches(km, k.Back)) {
			m.state = stDashboard
		}
		return nil
	}
	m.apply, cmd = m.apply.update(msg)
	return cmd
}

func (m *Model) applyKeys(k *keyMap) {
	k.Enter.SetEnabled(!m.applying())
}

func (m *Model) waitUpdate(msg tea.Msg) tea.Cmd {
	k := m.c.keys
	km, ok := msg.(tea.KeyMsg)
	if !ok {
		return nil
	}
	switch {
	case key.Matches(km, k.Back):
		m.wait.active = false // stops the re-checks
		if m.behind && m.applying() {
			m.cancelApply() // its re-run stops at the next safe point
		}
		m.state = stDashboard
		m.note = m.wait.leftNote()
	case key.Matches(km, k.Recheck):
		return m.wait.recheckNow()
	case key.Matches(km, k.Findings):
		m.back, m.state = stWait, stFindings
		m.findings.off = 0
	case key.Matches(km, k.Skip) && m.c.opts.Demo != nil && !m.wait.nextAt.IsZero():
		m.c.opts.Demo.SkipTo(m.wait.nextAt)
		return m.wait.recheckNow()
	}
	return nil
}

func (m *Model) waitKeys(k *keyMap) {
	demo := m.c.opts.Demo != nil
	k.Back.SetEnabled(true)
	k.Recheck.SetEnabled(true)
	k.Findings.SetEnabled(true)
	k.Skip.SetEnabled(demo && !m.wait.nextAt.IsZero())
}

func (m *Model) findingsUpdate(msg tea.Msg) tea.Cmd {
	k := m.c.keys
	if km, ok := msg.(tea.KeyMsg); ok {
		if wf, ok := m.findings.actionKey(km); ok {
			m.wait.active = false
			return m.planning(m.request(workflow.Workflow(wf)))
		}
		if scrollKey(k, km) {
			m.findings.pager = m.findings.scroll(k, km)
		}
	}
	return nil
}

func (m *Model) findingsKeys(k *keyMap) {
	for _, wf := range m.findings.actions() {
		if b := k.workflowBinding(wf); b != nil {
			b.SetEnabled(true)
		}
	}
	k.enableScroll()
	k.Back.SetEnabled(true)
}

func (m *Model) breaksUpdate(msg tea.Msg) tea.Cmd {
	if km, ok := msg.(tea.KeyMsg); ok {
		if name, ok := m.breaks.pick(km); ok {
			return injectCmd(m.c.opts.Demo, name)
		}
	}
	return nil
}

func (m *Model) breaksKeys(k *keyMap) {
	k.Back.SetEnabled(true)
}

func (m *Model) mxUpdate(msg tea.Msg) tea.Cmd {
	var cmd tea.Cmd
	k := m.c.keys
	if km, ok := msg.(tea.KeyMsg); ok && key.Matches(km, k.Back) {
		m.state = stDashboard
		return nil
	}
	var to []dnsprovider.MX
	m.mx, cmd, to = m.mx.update(msg)
	if to != nil {
		m.err = nil
		req := m.request(workflow.MXMigrate)
		req.MXTo = to
		return m.planning(req)
	}
	return cmd
}

func (m *Model) mxKeys(k *keyMap) {
	k.Enter.SetEnabled(true)
	k.Enter.SetHelp("enter", "plan the migration")
	k.Back.SetEnabled(true)
}

// request is a request for wf on the domain, with the TLS-RPT
// destination a rollout needs.
func (m *Model) request(wf workflow.Workflow) workflow.Request {
	req := workflow.Request{Workflow: wf, Domain: m.c.domain}
	if wf == workflow.Rollout {
		req.RUA = m.c.rua
	}
	return req
}

// planning asks the engine for req's plan, and says so.
func (m *Model) planning(req workflow.Request) tea.Cmd {
	m.note = "planning " + string(req.Workflow) + "…"
	return planCmd(m.c.ctx, m.c.engine, req)
}

// skip moves the demo clock to when the next gate opens (or a day on).
func (m *Model) skip() tea.Cmd {
	to := m.c.now().Add(24 * time.Hour)
	if st := m.dash.st; st != nil && st.NextAt != nil && st.NextAt.After(m.c.now()) {
		to = *st.NextAt
	}
	m.c.opts.Demo.SkipTo(to)
	m.note = "sandbox clock moved to " + to.UTC().Format("2006-01-02 15:04 UTC")
	return m.readStatus()
}

// syncKeys enables the keys that apply to the screen shown.
func (m *Model) syncKeys() {
	k := &m.c.keys
	for _, b := range k.all() {
		b.SetEnabled(false)
	}
	k.Help.SetEnabled(true)
	k.Quit.SetEnabled(true)
	k.Quit.SetHelp("q", "quit")
	k.Enter.SetHelp("enter", "continue")
	if m.typesText() {
		k.Quit.SetHelp("ctrl+c", "quit") // q is a letter to type here
	}
	k.Rollback.SetEnabled(m.c.engine != nil)
	if m.overlay != ovNone {
		k.Yes.SetEnabled(true)
		k.No.SetEnabled(true)
		k.Rollback.SetEnabled(false)
		return
	}
	m.screen().keys(m, k)
}

// View implements tea.Model.
func (m *Model) View() string {
	m.syncKeys()
	c := m.c
	w, h := max(c.width, 20), max(c.height, 6)
	head := c.st.Title.Render("stspilot")
	if c.domain != "" {
		head += " · " + c.st.Bold.Render(c.domain)
	}
	if c.opts.Demo != nil {
		head += c.st.Subtle.Render(" · demo sandbox, " + c.now().Format("2006-01-02 15:04") + " UTC")
		if n := m.breaks.on(); n > 0 {
			head += c.st.Danger.Render(" · " + textout.Plural(n, "failure") + " injected")
		}
	}
	foot := ""
	switch {
	case m.err != nil:
		foot = c.st.Err.Render("✗ " + m.err.Error())
	case m.note != "":
		foot = c.st.Subtle.Render(m.note)
	}
	// help.Model does not always keep to its Width once the ellipsis no
	// longer fits (bubbles v1.0.0), so cut each line here too.
	var helpView string
	if m.help.ShowAll {
		helpView = m.help.View(c.keys)
		hl := strings.Split(helpView, "\n")
		for i := range hl {
			hl[i] = ansi.Truncate(hl[i], w, "…")
		}
		helpView = strings.Join(hl, "\n")
	} else {
		helpView = m.shortHelp(w)
	}
	footLines := 0
	if foot != "" {
		foot = ansi.Wrap(foot, w, "")
		footLines = strings.Count(foot, "\n") + 1
	}
	helpLines := strings.Count(helpView, "\n") + 1
	room := h - 2 - footLines - helpLines
	out := []string{ansi.Truncate(head, w, "…"), ""}
	scr := m.screen()
	switch {
	case m.overlay != ovNone:
		// The question stands over the screen, which keeps its layout.
		box := m.rollbackBox
		if m.overlay == ovQuit {
			box = m.quitBox
		}
		out = append(out, fit(box()+"\n"+stamps(scr.view(m)), w, room)...)
	case scr.page != nil:
		out = append(out, scr.page(m, w, room)...)
	default:
		out = append(out, fit(stamps(scr.view(m)), w, room)...)
	}
	if foot != "" {
		out = append(out, foot)
	}
	out = append(out, helpView)
	return strings.Join(out, "\n")
}

// shortHelp is the footer: the keys of the screen shown on at most two
// lines of w columns, "q quit" and "? help" always last and always shown;
// keys that do not fit are left to the ? overlay.
func (m *Model) shortHelp(w int) string {
	st := m.help.Styles
	sep := st.ShortSeparator.Render(" • ")
	item := func(b key.Binding) string {
		return st.ShortKey.Render(b.Help().Key) + " " + st.ShortDesc.Render(b.Help().Desc)
	}
	var items []string
	for _, b := range m.c.keys.ShortHelp() {
		if b.Help() != m.c.keys.Quit.Help() && b.Help() != m.c.keys.Help.Help() {
			items = append(items, item(b))
		}
	}
	tail := item(m.c.keys.Quit) + sep + item(m.c.keys.Help)
	width := func(parts []string) int { return ansi.StringWidth(strings.Join(parts, sep)) }
	// Greedy: fill the first line, then the second, which ends with tail.
	var first, second []string
	i := 0
	for ; i < len(items) && width(append(first[:len(first):len(first)], items[i])) <= w; i++ {
		first = append(first, items[i])
	}
	if i == len(items) && width(append(first[:len(first):len(first)], tail)) <= w {
		return strings.Join(append(first, tail), sep)
	}
	for ; i < len(items) && width(append(second[:len(second):len(second)], items[i], tail)) <= w; i++ {
		second = append(second, items[i])
	}
	if i < len(items) && len(second) > 0 {
		second[len(second)-1] = st.Ellipsis.Render("…") // more under ?
		if width(append(second[:len(second):len(second)], tail)) > w {
			second = second[:len(second)-1]
		}
	}
	out := strings.Join(append(second, tail), sep)
	if len(first) > 0 {
		out = strings.Join(first, sep) + "\n" + out
	}
	lines := strings.Split(out, "\n")
	for j := range lines {
		lines[j] = ansi.Truncate(lines[j], w, "…")
	}
	return strings.Join(lines, "\n")
}

// fit wraps body to w columns and keeps at most h lines, saying how many
// were cut; it pads to h lines so that the help bar stays at the bottom.
// Lines break at spaces only, never inside a URL, a host name or a
// timestamp, and their continuation lines are indented; only a word wider
// than the screen is cut into pieces.
func fit(body string, w, h int) []string {
	if h < 1 {
		return nil
	}
	lines := wrapLines(body, w)
	if len(lines) > h {
		cut := len(lines) - h + 1
		lines = append(lines[:h-1], "… "+textout.Plural(cut, "more line")+" (make the window taller)")
	}
	for len(lines) < h {
		lines = append(lines, "")
	}
	return lines
}

// hangMark ends the label of a labelled line ("  why:  ", "Next   "):
// a view writes labelled(label) + text, and wrapLines aligns the line's
// continuation lines under the text after the label (a hanging indent)
// and removes the mark, which is never shown. Unlabelled lines continue
// 2 columns in.
const hangMark = "\x00"

// labelled is label marked as a label for wrapLines.
func labelled(label string) string { return label + hangMark }

// wrapLines wraps body to w columns (see fit).
func wrapLines(body string, w int) []string {
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(body, "\n"), "\n") {
		label, text, isLabelled := strings.Cut(l, hangMark)
		if isLabelled {
			text = strings.ReplaceAll(text, hangMark, "")
			l = label + text
		}
		if ansi.StringWidth(l) <= w {
			lines = append(lines, l)
			continue
		}
		wrapped := textout.Wrap(l, w, 2)
		if isLabelled {
			wrapped = textout.WrapHanging(l, w, ansi.StringWidth(label))
		}
		for _, p := range wrapped {
			if ansi.StringWidth(p) > w {
				lines = append(lines, strings.Split(ansi.Hardwrap(p, w, true), "\n")...)
				continue
			}
			lines = append(lines, p)
		}
	}
	return lines
}

// boxText is the widest a question box's text may be: the box (border and
// padding add 4) fits 60 columns, and the screen when it is narrower.
func (m *Model) boxText() int { return max(min(m.c.width, 60)-4, 16) }

// boxed wraps each paragraph of a question box to boxText.
func (m *Model) boxed(paras ...string) string {
	var lines []string
	for _, p := range paras {
		lines = append(lines, textout.Wrap(p, m.boxText(), 0)...)
	}
	return m.c.st.Box.Render(strings.Join(lines, "\n"))
}

func (m *Model) rollbackBox() string {
	c := m.c
	paras := []string{
		c.st.Danger.Render("Emergency rollback of " + c.domain),
		"Back to mode testing now: no soak or evidence gates; the policy is still served before its id changes. " +
			"Senders may keep the old policy for its max_age (the run shows the risk window).",
	}
	if st := m.dash.st; st != nil && st.Horizon != nil && st.Horizon.Worst != nil {
		paras = append(paras, c.st.Warn.Render("Whatever you do, "+worstLine(st.Horizon.Worst)+"."))
	}
	if m.applying() {
		paras = append(paras, "The running "+string(m.apply.req.Workflow)+" is stopped first.")
	}
	paras = append(paras, c.st.Key.Render("y")+" roll back   "+c.st.Key.Render("n")+" cancel")
	return m.boxed(paras...)
}

func (m *Model) quitBox() string {
	c := m.c
	return m.boxed(c.st.Warn.Render("A "+string(m.apply.req.Workflow)+" is running."),
		"Quit anyway? The run stops at the next safe point; the journal records what was done, and the next run finishes the change.",
		c.st.Key.Render("y")+" quit   "+c.st.Key.Render("n")+" keep going")
}
