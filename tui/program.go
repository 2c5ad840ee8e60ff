// Package tui is the Bubble Tea wizard: domain and provider set-up, the
// live check dashboard, the stage and the ladder with the next gate, the
// plan, confirmation, apply progress per step and per address, the wait
// screen, the findings, and an emergency rollback from every screen. It
// holds no workflow logic: it calls workflow.Engine's Plan, Apply and
// Status and renders the engine's events.
package tui

import (
	"context"
	"io"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/stspilot/stspilot/checks"
	"github.com/stspilot/stspilot/dnsprovider"
	"github.com/stspilot/stspilot/workflow"
)

// CheckFunc runs the live checks of domain, calling progress as probes
// start and end (checks.Options.Progress).
type CheckFunc func(ctx context.Context, domain string, progress func(checks.ProbeEvent)) *checks.Report

// OpenFunc builds the engine for what the set-up screen collected.
type OpenFunc func(ctx context.Context, s Setup) (*workflow.Engine, error)

// Setup is what the set-up screen collected. Values stay in memory: the
// provider settings reach the provider only through Source.
type Setup struct {
	Domain   string
	Provider string
	Publish  string
	RUA      string
	Source   dnsprovider.Source
}

// Demo wires the sandbox's failure switches and clock into the wizard.
type Demo struct {
	// Failures lists what can be injected, in order.
	Failures []Failure
	// Toggle injects or heals a failure; it returns whether it is injected.
	Toggle func(name string) (bool, error)
	// SkipTo moves the sandbox clock forward to t.
	SkipTo func(t time.Time)
}

// Failure is one switch of the demo.
type Failure struct {
	Name, Title, Expect string
	Number              int
	On                  bool
}

// Options configure the wizard.
type Options struct {
	// Domain is the domain to work on ("" asks).
	Domain string
	// Engine, when set, skips the set-up screen (the demo, or settings
	// from flags); Open builds one from the set-up screen otherwise.
	Engine *workflow.Engine
	Open   OpenFunc
	// Check runs the dashboard's live check; nil uses Engine.Check
	// without per-probe progress.
	Check CheckFunc
	// RUA is the TLS-RPT destination rollout uses.
	RUA string
	// Providers are offered by the set-up screen (default
	// dnsprovider.Providers(false)).
	Providers []dnsprovider.Info
	// Demo is set by `stspilot demo`.
	Demo *Demo
	// RealDuration converts engine time to real time for countdowns
	// (the sandbox's accelerated clock); nil: the identity.
	RealDuration func(time.Duration) time.Duration
	// Recheck is how often, in real time, the wait screen re-checks
	// (default 2s).
	Recheck time.Duration
	// Reports are TLS-RPT report paths (--reports): the dashboard shows
	// their daily failures and top causes for the domain.
	Reports []string
	// AccessLog is serve's access log (the config key access_log; "" or
	// "-": none to read): the dashboard shows which senders fetched the
	// live id since it went live.
	AccessLog string
}

// Run runs the wizard on a terminal until the operator quits or ctx ends.
// Quitting while an apply runs asks first (tea.WithFilter); however the
// program ends, Run cancels a running apply and waits for engine.Apply to
// return, so the journal is never left mid-write.
func Run(ctx context.Context, o Options, in io.Reader, out io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	m := NewModel(ctx, o)
	p := tea.NewProgram(m, tea.WithContext(ctx), tea.WithInput(in), tea.WithOutput(out), tea.WithAltScreen(), tea.WithFilter(Filter))
	_, err := p.Run()
	close(m.c.exited)
	cancel()
	m.c.running.Wait()
	return err
}

// Filter turns a quit while an apply runs into a question (bubbletea
// examples/prevent-quit).
func Filter(m tea.Model, msg tea.Msg) tea.Msg {
	switch msg.(type) {
	case tea.QuitMsg, tea.InterruptMsg:
		if w, ok := m.(*Model); ok && w.applying() && !w.quitting {
			return askQuitMsg{}
		}
	}
	return msg
}

// NoColor makes every style plain (NO_COLOR, or output that is not a
// colour terminal).
func NoColor() { lipgloss.SetColorProfile(termenv.Ascii) }
