package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/stspilot/stspilot/checks"
	"github.com/stspilot/stspilot/internal/domainname"
	"github.com/stspilot/stspilot/internal/duration"
	"github.com/stspilot/stspilot/workflow"
)

// defaultTimeout bounds the check of one domain (--timeout; README, common flags).
const defaultTimeout = 30 * time.Second

// factory holds what commands need from the outside world. Tests build one
// with fakes; run builds the real one.
type factory struct {
	IO *IOStreams
	// RunCheck checks one normalised domain (checks.Run).
	RunCheck func(ctx context.Context, domain string, opt checks.Options) *checks.Report
	// Normalize validates a domain as typed (domainname.Normalize).
	Normalize func(string) (string, error)
	// Now is the clock for reports cmd makes itself.
	Now func() time.Time
	// NewEngine builds the workflow engine for one domain (newEngine).
	NewEngine func(ctx context.Context, o *WorkflowOptions) (*workflow.Engine, error)
	// LookupTXT asks resolvers (none: the system's) for the TXT records at
	// name, each one's strings joined (lookupTXT); nil: a command that
	// would ask goes without the answer.
	LookupTXT func(ctx context.Context, name string, resolvers []string) ([]string, error)

	// global holds the persistent flags once newRootCmd bound them;
	// prepare reads them.
	global *globalOptions
	// stopDebug closes the --debug log, when one was opened.
	stopDebug func()
}

// globalOptions are the persistent flags every command shares.
type globalOptions struct {
	Resolvers []string // validated and normalised before any command runs (PersistentPreRunE)
	JSON      bool
	Timeout   time.Duration
	// Credentials is the provider credentials file (--credentials); empty
	// means defaultCredentialsPath, which may be absent.
	Credentials string
	// Config is the config file (--config); empty means defaultConfigPath,
	// which may be absent.
	Config string
	// Debug is the debug log file (--debug, else $STSPILOT_DEBUG); empty
	// means no debug log.
	Debug string
}

// interruptSignals end a run with exit 130 ("interrupted").
var interruptSignals = []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP}

// run is the whole program: it parses args, runs the command and returns the
// exit code. SIGINT, SIGTERM and SIGHUP (the terminal or SSH session going
// away) cancel the context every command runs under, so that a run stops
// what it started (an exec publisher) and releases its journal lock only
// after; a second signal kills the process the default way.
func run(args []string, in io.Reader, out, errOut io.Writer) int {
	code := runSignals(&factory{
		IO:        newIOStreams(in, out, errOut, os.Getenv),
		RunCheck:  checks.Run,
		NewEngine: newEngine,
		LookupTXT: lookupTXT,
		Normalize: domainname.Normalize,
		Now:       time.Now,
	}, args)
	// The MX probes' closing EHLO and QUIT run in the background once the
	// observations are in: give them a moment to end politely, then cut
	// them, so that the exit never waits on a slow server.
	ctx, cancel := context.WithTimeout(context.Background(), courtesyAtExit)
	checks.WaitCourtesy(ctx)
	cancel()
	return code
}

// courtesyAtExit bounds how long the process waits at exit for the MX
// probes' closing commands (output is complete by then).
const courtesyAtExit = 100 * time.Millisecond

// runSignals is execute under the interrupt signals (run's, and the tests'
// child process with a sandbox factory).
func runSignals(f *factory, args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), interruptSignals...)
	defer stop()
	go func() {
		<-ctx.Done()
		// A second SIGINT or SIGTERM kills the process the default way;
		// a second SIGHUP never comes from an operator in a hurry but
		// from the terminal going away (the emulator and the kernel each
		// send one): it is ignored, so that the run still cleans up (the
		// demo's temporary directories) as q does. Ignored before stop,
		// so that no instant leaves SIGHUP at its default.
		signal.Ignore(syscall.SIGHUP)
		stop()
	}()
	return execute(ctx, f, args)
}

// execute runs the command tree under ctx and maps the outcome to an exit
// code. An interrupted context wins over whatever the command returned.
func execute(ctx context.Context, f *factory, args []string) int {
	return executeRoot(ctx, f, newRootCmd(f), args)
}

func executeRoot(ctx context.Context, f *factory, root *cobra.Command, args []string) int {
	if args == nil {
		// cobra reads os.Args when given nil: no arguments means none.
		args = []string{}
	}
	root.SetArgs(args)
	root.SetIn(f.IO.In)
	root.SetOut(f.IO.Out)
	root.SetErr(f.IO.ErrOut)
	cmd, err := root.ExecuteContextC(ctx)
	if f.stopDebug != nil {
		f.stopDebug()
		f.stopDebug = nil
	}
	if ctx.Err() != nil && !errors.Is(err, context.Canceled) {
		err = context.Canceled
	}
	printError(f.IO.ErrOut, err, cmd)
	return exitCode(err)
}

// newRootCmd builds the command tree. Flags live in structs owned by each
// constructor, never in package variables; the persistent ones in f.global,
// where every command's prepare reads them.
// commandOrder sets cobra.EnableCommandSorting once: it is a package
// global of cobra's, and the script tests build root commands concurrently.
var commandOrder sync.Once

func newRootCmd(f *factory) *cobra.Command {
	g := &globalOptions{}
	f.global = g
	root := &cobra.Command{
		Use:   "stspilot",
		Short: "Diagnose, deploy and safely remove MTA-STS and TLS-RPT for mail domains",
		Long: `stspilot takes a mail domain from "no MTA-STS" to "enforce with a long max_age"
without losing mail, gets it back out again in an emergency, and tears it down
safely: "check" diagnoses, "rollout", "promote", "rollback" and "teardown" change
DNS and the policy file step by step, each step behind a live gate, and
"status" and "plan" say where a domain stands and what would happen next.`,
		Version:       currentVersion(),
		SilenceErrors: true, // execute prints errors, once, with the exit code's context
		SilenceUsage:  true,
		Args:          rootArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.IO.IsStdinTTY() && f.IO.IsStdoutTTY() {
				return rootWizard(cmd, f) // on a terminal, the wizard (README)
			}
			return cmd.Help()
		},
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			// A bad --resolver is a usage error before anything runs,
			// whatever the command.
			rs, err := parseResolvers(g.Resolvers)
			if err != nil {
				return err
			}
			g.Resolvers = rs
			if g.Debug == "" {
				g.Debug = os.Getenv(envDebug)
			}
			if g.Debug != "" {
				stop, err := startDebug(g.Debug, g.Credentials)
				if err != nil {
					return err
				}
				f.stopDebug = stop
				slog.Debug("stspilot start", "version", currentVersion(), "command", cmd.CommandPath())
			}
			if g.JSON {
				f.IO.SetNeverPrompt(true) // style practice 5: --json never prompts
			}
			return nil
		},
	}
	root.SuggestionsMinimumDistance = 2
	root.SetVersionTemplate("stspilot {{.Version}}\n")
	root.SetFlagErrorFunc(flagError)

	pf := root.PersistentFlags()
	pf.StringArrayVar(&g.Resolvers, "resolver", nil, "DNS server to ask, an IP address with an optional port: `IP[:PORT]` (repeatable; IPv6 in brackets with a port; no host names; default: /etc/resolv.conf)")
	pf.BoolVar(&g.JSON, "json", false, "print one JSON object per line on stdout (docs/json.md); implies no prompting")
	pf.Var(duration.NewValue(&g.Timeout, defaultTimeout), "timeout", "bound on checking one domain, a `DURATION` (30s, 2m)")
	pf.StringVar(&g.Config, "config", "", "config `FILE` with defaults for the workflow commands (key = value: ladder, provider, publish, state-dir, zone, ttl, rua, reports, access_log; default $XDG_CONFIG_HOME/stspilot/config)")
	pf.StringVar(&g.Debug, "debug", "", "write a debug log (provider calls, DNS, HTTPS and SMTP probe steps; secrets redacted) to `FILE` (default $"+envDebug+"; none)")
	pf.StringVar(&g.Credentials, "credentials", "", "DNS provider credentials `FILE` (NAME=value lines, mode 0600; default $XDG_CONFIG_HOME/stspilot/credentials); the environment wins over it")

	root.AddGroup(
		&cobra.Group{ID: groupDiagnose, Title: "Diagnose (read-only):"},
		&cobra.Group{ID: groupChange, Title: "Change a domain (plan first; each step behind a gate):"},
		&cobra.Group{ID: groupRun, Title: "Run interactively or as a service:"},
		&cobra.Group{ID: groupOther, Title: "Other:"},
	)
	root.SetHelpCommandGroupID(groupOther)
	root.SetCompletionCommandGroupID(groupOther)
	// The groups under one "Available Commands:" heading, as without
	// groups, in the order they are added (the order of a first session):
	// commandOrder turns off cobra's sorting, a package global, once.
	commandOrder.Do(func() { cobra.EnableCommandSorting = false })
	root.SetUsageTemplate(strings.Replace(root.UsageTemplate(), "{{else}}{{range $group := .Groups}}", "{{else}}\n\nAvailable Commands:{{range $group := .Groups}}", 1))
	root.AddCommand(
		newCheckCmd(f, nil),
		newWatchCmd(f, nil),
		newStatusCmd(f, nil),
		newReportsCmd(f, nil),
		newPlanCmd(f, nil),
		newWorkflowCmd(f, workflow.Rollout, nil),
		newWorkflowCmd(f, workflow.Promote, nil),
		newWorkflowCmd(f, workflow.Rollback, nil),
		newWorkflowCmd(f, workflow.Teardown, nil),
		newWorkflowCmd(f, workflow.MXMigrate, nil),
		newWizardCmd(f, nil),
		newDemoCmd(f, nil),
		newServeCmd(f, nil),
		newProvidersCmd(f, nil),
		newVersionCmd(f),
		newExitCodesTopic(),
	)
	for _, c := range root.Commands() {
		registerCompletions(c)
		switch c.Name() {
		case "plan":
			c.ValidArgsFunction = completePlan
		case "providers":
			c.ValidArgsFunction = completeProvider
		case "status", "wizard", "rollout", "promote", "rollback", "teardown", "mx-migrate":
			c.ValidArgsFunction = completeDomain
		case "check", "watch":
			c.ValidArgsFunction = func(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
				return journalDomains(cmd, toComplete), cobra.ShellCompDirectiveNoFileComp
			}
		}
	}
	completeHelpTopics(root)
	strictTopics(root, f.IO)
	return root
}

// strictTopics makes `stspilot help NAME` and `stspilot completion SHELL`
// usage errors (exit 2) for a NAME or SHELL that does not exist, where
// cobra prints the help and exits 0, so that a typo in a script fails.
func strictTopics(root *cobra.Command, io *IOStreams) {
	root.InitDefaultHelpCmd()
	if io != nil {
		// The completion scripts go where the root's output went when
		// the command was made: the streams, as executeRoot sets them.
		root.SetOut(io.Out)
		root.SetErr(io.ErrOut)
	}
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		switch c.Name() {
		case "help":
			show := c.Run
			if show == nil {
				continue
			}
			c.Run = nil
			c.RunE = func(cmd *cobra.Command, args []string) error {
				if t, _, err := root.Find(args); len(args) > 0 && (err != nil || t == root) {
					return usageErrorf("no command or help topic %q: stspilot help lists them", strings.Join(args, " "))
				}
				show(cmd, args)
				return nil
			}
		case "completion":
			var shells []string
			for _, sh := range c.Commands() {
				shells = append(shells, sh.Name())
			}
			c.Args = cobra.ArbitraryArgs
			c.RunE = func(cmd *cobra.Command, args []string) error {
				if len(args) == 0 {
					return cmd.Help()
				}
				return usageErrorf("completion: no shell %q (want %s)", args[0], strings.Join(shells, ", "))
			}
		}
	}
}

// The groups of `stspilot --help`.
const (
	groupDiagnose = "diagnose"
	groupChange   = "change"
	groupRun      = "run"
	groupOther    = "other"
)

// rootArgs turns an unknown subcommand into a usage error (exit 2), with
// cobra's suggestion when there is one.
func rootArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf("; did you mean %q?", s[0])
	}
	return usageErrorf("%s", msg)
}
