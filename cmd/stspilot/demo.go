package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/spf13/cobra"

	"github.com/stspilot/stspilot/checks"
	"github.com/stspilot/stspilot/internal/duration"
	"github.com/stspilot/stspilot/tui"
	"github.com/stspilot/stspilot/workflow/sandbox"
)

// DemoOptions are the flags of `stspilot demo`.
type DemoOptions struct {
	CommonOptions
	Breaks []string
	Day    time.Duration
}

func newDemoCmd(f *factory, runF func(context.Context, *DemoOptions) error) *cobra.Command {
	o := &DemoOptions{CommonOptions: f.newCommon()}
	var names []string
	for _, b := range sandbox.Breaks {
		names = append(names, string(b.Name))
	}
	cmd := &cobra.Command{
		Use:     "demo",
		Short:   "The wizard against a sandbox world built into stspilot: rehearse every step",
		GroupID: groupRun,
		Long: `Demo starts a sandbox world inside stspilot, on loopback only: an authoritative
DNS server fed by an in-memory DNS provider, an HTTPS policy host with a
throwaway CA, two STARTTLS MX servers and a clock on which a day passes in a
few seconds. Then it runs the wizard on ` + sandbox.DefaultDomain + `: the whole ladder, a
rollback and a teardown in minutes. It touches no real domain and needs no
network or privileges.

The seven ways MTA-STS fails in the field (docs/design.md) can be injected
from the start with --break, or live with the x key in the wizard: ` + strings.Join(names, ", ") + `.
Those that change what stspilot published (policy-drift, tlsrpt-missing,
orphan-policy) need a rollout first, and mx-uncovered shows only once a
policy exists that predates it: inject them live.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runCommand(cmd, f, 0, o, runF, demoRun)
		},
	}
	cmd.Flags().StringSliceVar(&o.Breaks, "break", nil, "inject a failure from the start (repeatable): `NAME`, one of "+strings.Join(names, ", "))
	cmd.Flags().Var(duration.NewValue(&o.Day, sandbox.DefaultDay), "day", "how long a sandbox day lasts in real time, a `DURATION`")
	return cmd
}

func (o *DemoOptions) validate() error {
	for _, b := range o.Breaks {
		if _, err := sandbox.ParseBreak(b); err != nil {
			return &usageError{fmt.Errorf("--break: %w", err)}
		}
	}
	if o.Day <= 0 {
		return usageErrorf("--day must be positive")
	}
	if !o.IO.IsStdinTTY() || !o.IO.IsStdoutTTY() {
		return usageErrorf("the demo is an interactive wizard: run it on a terminal")
	}
	return nil
}

func demoRun(ctx context.Context, o *DemoOptions) error {
	var breaks []sandbox.Break
	for _, b := range o.Breaks {
		breaks = append(breaks, sandbox.Break(b))
	}
	sb, err := sandbox.Start(ctx, sandbox.Options{Day: o.Day, Breaks: breaks})
	if errors.Is(err, sandbox.ErrNotApplicable) {
		return usageErrorf("--break %v; inject it with x in the wizard once there is something to break", err)
	}
	if err != nil {
		return err
	}
	defer sb.Close()
	eng, err := sb.Engine()
	if err != nil {
		return err
	}
	opts := tui.Options{
		Domain: sb.Domain,
		Engine: eng,
		RUA:    sandbox.DefaultRUA,
		Check: func(ctx context.Context, d string, progress func(checks.ProbeEvent)) *checks.Report {
			return checks.Run(ctx, d, sb.CheckOptions(progress))
		},
		Demo:         demoHooks(sb),
		RealDuration: sb.Clock.RealDuration,
		// The sandbox's policy host logs as serve does: the dashboard
		// shows which senders (here: stspilot's own checks) fetched the
		// live id.
		AccessLog: sb.AccessLog,
	}
	return runProgram(ctx, o.IO, opts)
}

// demoHooks exposes the sandbox's switches and clock to the wizard.
func demoHooks(sb *sandbox.Sandbox) *tui.Demo {
	d := &tui.Demo{
		Toggle: func(name string) (bool, error) {
			b, err := sandbox.ParseBreak(name)
			if err != nil {
				return false, err
			}
			return sb.Toggle(b)
		},
		SkipTo: sb.Clock.SkipTo,
	}
	for _, b := range sandbox.Breaks {
		d.Failures = append(d.Failures, tui.Failure{Name: string(b.Name), Title: b.Title, Expect: b.Expect, Number: b.Failure, On: sb.Broken(b.Name)})
	}
	return d
}

// runProgram runs the wizard on the terminal; an interrupted context or
// ctrl+c in the wizard is reported as such (exit 130).
func runProgram(ctx context.Context, s *IOStreams, opts tui.Options) error {
	if !s.ColorEnabled() {
		tui.NoColor()
	}
	err := tui.Run(ctx, opts, s.In, s.Out)
	if errors.Is(err, tea.ErrProgramKilled) || errors.Is(err, tea.ErrInterrupted) || ctx.Err() != nil {
		return context.Canceled
	}
	return err
}
