package main

import (
	"cmp"
	"context"

	"github.com/spf13/cobra"

	"github.com/stspilot/stspilot/checks"
	"github.com/stspilot/stspilot/internal/domainname"
	"github.com/stspilot/stspilot/tui"
	"github.com/stspilot/stspilot/workflow"
)

// WizardOptions are the flags of `stspilot wizard`.
type WizardOptions struct {
	WorkflowOptions
	RUA string
}

func newWizardOptions(f *factory) *WizardOptions {
	return &WizardOptions{WorkflowOptions: *f.newWorkflowOptions("")}
}

func newWizardCmd(f *factory, runF func(context.Context, *WizardOptions) error) *cobra.Command {
	o := newWizardOptions(f)
	cmd := &cobra.Command{
		Use:     "wizard [DOMAIN]",
		Short:   "The interactive wizard for one domain: check, roll out, promote, roll back, tear down",
		GroupID: groupRun,
		Long: `The wizard shows a domain's stage, the ladder and the next gate, the live
checks as they run, and each workflow's plan before it asks to apply it.
With serve's access log (--access-log, or the config key access_log) the
dashboard shows which senders fetched the live id since it went live. The
emergency rollback is one key (!) and one confirmation away on every
screen. Without --provider and a journal for the domain, it asks for the
DNS provider and its settings first; those stay in memory.`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageErrorf("wizard takes at most one DOMAIN, got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				d, err := domainname.Normalize(args[0])
				if err != nil {
					return &usageError{err}
				}
				o.Domain = d
			}
			return runWizardCmd(cmd, f, o, runF)
		},
	}
	addWorkflowFlags(cmd, &o.WorkflowOptions)
	cmd.Flags().StringVar(&o.RUA, "rua", "", "TLS-RPT report destination for rollout, `mailto:ADDRESS` or https:URL")
	cmd.Flags().StringArrayVar(&o.Reports, "reports", nil, "TLS-RPT reports to summarise on the dashboard and use as promote's evidence: a `PATH` to a file, directory or Maildir (repeatable)")
	cmd.Flags().StringVar(&o.AccessLog, "access-log", "", "serve's access log `FILE`: the dashboard shows which senders fetched the live id (config key access_log)")
	return cmd
}

// runWizardCmd is the RunE of `stspilot wizard` and of `stspilot` alone on
// a terminal.
func runWizardCmd(cmd *cobra.Command, f *factory, o *WizardOptions, runF func(context.Context, *WizardOptions) error) error {
	return runCommand(cmd, f, needConfig|needResolvers, o, runF, wizardRun)
}

// validate insists on a terminal.
func (o *WizardOptions) validate() error {
	if !o.IO.IsStdinTTY() || !o.IO.IsStdoutTTY() {
		return usageErrorf("the wizard needs a terminal; use the scripted commands (stspilot help) without one")
	}
	return nil
}

func wizardRun(ctx context.Context, o *WizardOptions) error {
	opts := tui.Options{
		Domain:    o.Domain,
		RUA:       o.RUA,
		Reports:   o.Reports,
		AccessLog: cmp.Or(o.AccessLog, o.Config["access_log"]),
		Check: func(ctx context.Context, d string, progress func(checks.ProbeEvent)) *checks.Report {
			return checks.Run(ctx, d, checks.Options{Resolvers: o.Resolvers, Timeout: o.Timeout, Progress: progress})
		},
		Open: func(ctx context.Context, s tui.Setup) (*workflow.Engine, error) {
			return wizardEngine(ctx, o, s)
		},
	}
	// With a domain and a provider (flag, config or journal), skip the
	// set-up screen.
	if o.Domain != "" && (o.Provider != "" || o.Config["provider"] != "") {
		e, err := wizardEngine(ctx, o, tui.Setup{Domain: o.Domain})
		if err != nil {
			return err
		}
		opts.Engine = e
	}
	return runProgram(ctx, o.IO, opts)
}

// wizardEngine builds the engine as the scripted commands do (journal,
// publisher, ladder, checks, gates), then opens the DNS provider with the
// settings typed into the set-up screen ahead of the environment and the
// credentials file. The typed values live only in s.Source.
func wizardEngine(ctx context.Context, o *WizardOptions, s tui.Setup) (*workflow.Engine, error) {
	wo := o.WorkflowOptions
	wo.Domain = s.Domain
	wo.Workflow = "wizard"
	if s.Publish != "" {
		wo.Publish = s.Publish
	}
	if s.Provider != "" {
		wo.Provider = s.Provider
	}
	// The typed settings come first, then the environment and the
	// credentials file (newEngine adds those).
	wo.Source = s.Source
	return wo.NewEngine(ctx, &wo)
}

// rootWizard is `stspilot` with no arguments on a terminal.
func rootWizard(cmd *cobra.Command, f *factory) error {
	return runWizardCmd(cmd, f, newWizardOptions(f), nil)
}
