package tui

import (
	"context"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/charmbracelet/x/ansi"

	"github.com/stspilot/stspilot/checks"
	"github.com/stspilot/stspilot/internal/clock"
	"github.com/stspilot/stspilot/workflow"
	"github.com/stspilot/stspilot/workflow/sandbox"
)

var t0 = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// world is a sandbox with the engine's clock frozen at t0, so that ids and
// times on the screen are the same on every run.
type world struct {
	sb    *sandbox.Sandbox
	e     *workflow.Engine
	clock *clock.Fake // stands still unless a test advances it; engine waits pass at once
	opts  Options
}

func newWorld(t testing.TB, breaks ...sandbox.Break) *world {
	t.Helper()
	sb, err := sandbox.Start(context.Background(), sandbox.Options{Start: t0, Breaks: breaks})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Close)
	w := &world{sb: sb, clock: clock.NewFake(t0)}
	cfg, err := sb.Config()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Clock = w.clock
	e, err := workflow.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	w.e = e
	d := &Demo{
		Toggle: func(name string) (bool, error) { return sb.Toggle(sandbox.Break(name)) },
		SkipTo: func(to time.Time) {
			if d := to.Sub(w.clock.Now()); d > 0 {
				w.clock.Advance(d)
			}
		},
	}
	for _, b := range sandbox.Breaks {
		d.Failures = append(d.Failures, Failure{Name: string(b.Name), Title: b.Title, Expect: b.Expect, Number: b.Failure})
	}
	w.opts = Options{
		Domain: sb.Domain, Engine: e, RUA: sandbox.DefaultRUA, Demo: d,
		Check: func(ctx context.Context, dom string, progress func(checks.ProbeEvent)) *checks.Report {
			o := sb.CheckOptions(progress)
			o.Now = w.clock.Now
			return checks.Run(ctx, dom, o)
		},
		Recheck: 50 * time.Millisecond,
	}
	return w
}

// reconfigure replaces the world's engine with one whose configuration
// change altered (a wrapped publisher).
func (w *world) reconfigure(t testing.TB, change func(*workflow.Config)) {
	t.Helper()
	cfg := w.e.Config()
	change(&cfg)
	e, err := workflow.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	w.e, w.opts.Engine = e, e
}

// driver is a small Bubble Tea runtime for model tests: it calls Update
// with each message, runs the commands it returns on goroutines, and feeds
// their messages back, one at a time, as tea.Program does.
type driver struct {
	t    *testing.T
	m    *Model
	msgs chan tea.Msg
	quit bool
	// interrupted: the program ended with tea.InterruptMsg (ctrl+c: Run
	// returns tea.ErrInterrupted, exit 130).
	interrupted bool
	views       []string // every View rendered, to search for leaks
}

func drive(t *testing.T, m *Model) *driver {
	d := &driver{t: t, m: m, msgs: make(chan tea.Msg, 4096)}
	// Every screen any model test renders offers keys, never a flag or a
	// command line (the engine's codes are rendered as keys here).
	t.Cleanup(func() { assertNoCommands(t, d) })
	d.m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	d.run(m.Init())
	return d
}

func (d *driver) run(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	go func() {
		if msg := cmd(); msg != nil {
			d.msgs <- msg
		}
	}()
}

func (d *driver) send(msg tea.Msg) {
	msg = Filter(d.m, msg) // as tea.WithFilter does
	switch msg := msg.(type) {
	case tea.BatchMsg:
		for _, c := range msg {
			d.run(c)
		}
		return
	case tea.QuitMsg:
		d.quit = true
		return
	case tea.InterruptMsg:
		d.quit, d.interrupted = true, true
		return
	}
	_, cmd := d.m.Update(msg)
	d.views = append(d.views, d.m.View())
	d.run(cmd)
}

func (d *driver) key(s string) {
	d.t.Helper()
	var k tea.KeyMsg
	switch s {
	case "enter":
		k = tea.KeyMsg{Type: tea.KeyEnter}
	case "esc":
		k = tea.KeyMsg{Type: tea.KeyEsc}
	case "tab":
		k = tea.KeyMsg{Type: tea.KeyTab}
	case "ctrl+c":
		k = tea.KeyMsg{Type: tea.KeyCtrlC}
	default:
		k = tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)}
	}
	d.send(k)
}

func (d *driver) typeText(s string) {
	for _, r := range s {
		d.send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}})
	}
}

// until feeds messages until cond holds.
func (d *driver) until(what string, cond func() bool) {
	d.t.Helper()
	deadline := time.After(30 * time.Second)
	for !cond() {
		select {
		case msg := <-d.msgs:
			d.send(msg)
		case <-deadline:
			d.t.Fatalf("waiting for %s: screen %s:\n%s", what, d.m.State(), d.m.View())
		}
	}
}

func (d *driver) screen(what string, want ...string) {
	d.t.Helper()
	d.until(what, func() bool {
		v := d.m.View()
		for _, w := range want {
			if !strings.Contains(v, w) {
				return false
			}
		}
		return true
	})
}

func (d *driver) ready() {
	d.t.Helper()
	d.until("status and check", func() bool { return d.m.dash.st != nil && d.m.dash.rep != nil && !d.m.dash.running })
}

func (d *driver) applied() *workflow.Outcome {
	d.t.Helper()
	d.until("the apply to end", func() bool { return d.m.state == stApply && d.m.apply.finished || d.m.state == stWait })
	return d.m.apply.out
}

func lipglossWidth(s string) int { return ansiWidth(s) }
func ansiWidth(s string) int     { return ansi.StringWidth(s) }
