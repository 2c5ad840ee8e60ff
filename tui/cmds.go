package tui

import (
	"context"
	"fmt"
	"sync"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/stspilot/stspilot/checks"
	"github.com/stspilot/stspilot/internal/printable"
	"github.com/stspilot/stspilot/tui/textout"
	"github.com/stspilot/stspilot/workflow"
	"github.com/stspilot/stspilot/workflow/serve"
)

// listen reads one message of a stream and re-arms itself through the
// model, which calls listen again after each message (style practice 17,
// bubbletea examples/realtime).
func listen(ch <-chan tea.Msg) tea.Cmd {
	return func() tea.Msg {
		m, ok := <-ch
		if !ok {
			return nil
		}
		return m
	}
}

// statusCmd reads the domain's status and, as status does, which senders
// fetched its live id from serve's access log (accessLog; "" for none).
func statusCmd(ctx context.Context, e *workflow.Engine, domain, accessLog string) tea.Cmd {
	return func() tea.Msg {
		st, err := e.Status(ctx, domain)
		if err == nil {
			st.Fetchers = serve.LiveFetchers(st, accessLog)
		}
		return statusMsg{st: st, err: err}
	}
}

// reportsSpan is how far back the dashboard's reports view looks: the
// default first soak, two weeks.
const reportsSpan = 14 * 24 * time.Hour

// reportsCmd summarises the TLS-RPT reports at paths for domain, as the
// few lines of textout.ReportsBrief.
func reportsCmd(ctx context.Context, paths []string, domain string, now time.Time, width int) tea.Cmd {
	return func() tea.Msg {
		sum, _, errs := workflow.ReportsSummary(ctx, paths, domain, now.Add(-reportsSpan), now)
		lines := textout.ReportsBrief(sum, width)
		if len(errs) > 0 {
			// Name the first file and why, not a command to run: no
			// screen tells the user to run a command or pass a flag.
			lines = append(lines, printable.Clip(fmt.Sprintf("%d report files could not be read, the first: %v", len(errs), errs[0]), max(width, 20)))
		}
		return reportsMsg{lines: lines}
	}
}

func planCmd(ctx context.Context, e *workflow.Engine, req workflow.Request) tea.Cmd {
	return func() tea.Msg {
		p, err := e.Plan(ctx, req)
		return planMsg{req: req, plan: p, err: err}
	}
}

// checkCmd starts the live check; its probe events and its end come back
// through ch.
func checkCmd(ctx context.Context, run CheckFunc, domain string, gen int, ch chan tea.Msg, exited <-chan struct{}) tea.Cmd {
	return func() tea.Msg {
		go func() {
			defer close(ch)
			rep := run(ctx, domain, func(ev checks.ProbeEvent) {
				select {
				case ch <- probeMsg{gen: gen, ev: ev}:
				case <-ctx.Done():
				case <-exited:
				}
			})
			select {
			case ch <- checkDoneMsg{gen: gen, rep: rep}:
			case <-exited:
			}
		}()
		return listen(ch)()
	}
}

// applyCmd runs engine.Apply; every event, then the outcome, comes back
// through ch. Cancelling ctx stops the run at its next step boundary or
// wait; the engine journals before and after each change, so the journal
// stays consistent.
//
// running is done when Apply has returned; exited is closed when the
// program has stopped reading, so that the run never blocks on a screen
// that is gone (Run waits for running before it returns).
func applyCmd(ctx context.Context, e *workflow.Engine, req workflow.Request, confirmed *workflow.Plan, gen int, ch chan tea.Msg, running *sync.WaitGroup, exited <-chan struct{}) tea.Cmd {
	return func() tea.Msg {
		go func() {
			defer running.Done()
			defer close(ch)
			send := func(m tea.Msg) {
				// The buffer is large and the model drains it: while the
				// program runs, no event is dropped.
				select {
				case ch <- m:
				case <-exited:
				}
			}
			obs := workflow.ObserverFunc(func(ev workflow.Event) { send(eventMsg{gen: gen, ev: ev}) })
			out, err := e.Apply(ctx, req, confirmed, obs, workflow.ApplyOptions{})
			send(applyDoneMsg{gen: gen, req: req, out: out, err: err})
		}()
		return listen(ch)()
	}
}

func openCmd(ctx context.Context, open OpenFunc, s Setup) tea.Cmd {
	return func() tea.Msg {
		e, err := open(ctx, s)
		return engineMsg{engine: e, domain: s.Domain, rua: s.RUA, err: err}
	}
}

func injectCmd(d *Demo, name string) tea.Cmd {
	return func() tea.Msg {
		on, err := d.Toggle(name)
		return injectMsg{name: name, on: on, err: err}
	}
}
