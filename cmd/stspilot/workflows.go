package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/stspilot/stspilot/checks"
	"github.com/stspilot/stspilot/checks/dnsprobe"
	"github.com/stspilot/stspilot/checks/tlsrpt"
	"github.com/stspilot/stspilot/dnsprovider"
	"github.com/stspilot/stspilot/internal/dnsclient"
	"github.com/stspilot/stspilot/internal/domainname"
	"github.com/stspilot/stspilot/internal/duration"
	"github.com/stspilot/stspilot/internal/txtrecord"
	"github.com/stspilot/stspilot/tui/textout"
	"github.com/stspilot/stspilot/workflow"
	"github.com/stspilot/stspilot/workflow/journal"
	"github.com/stspilot/stspilot/workflow/serve"
)

// waitForever is what a bare --wait means: until the gates open.
const waitForever = 400 * 24 * time.Hour

// WorkflowOptions are the flags of rollout, promote, rollback, teardown,
// plan and status.
type WorkflowOptions struct {
	// CommonOptions: Resolvers validated; Config holds the config file's
	// provider, publish and ladder, used when neither a flag nor the
	// journal gives them (its other keys were applied to the flags).
	CommonOptions

	Workflow workflow.Workflow
	PlanOnly bool
	Domain   string
	Provider string
	Publish  string
	StateDir string
	Zone     string
	Ladder   string
	Yes      bool
	Wait     time.Duration
	TTL      time.Duration
	To       string
	MX       []string
	// MXTo are the --to values of mx-migrate (HOST[:PREF][,...] each),
	// Switch its --switch.
	MXTo   []string
	Switch string
	// Reports are the TLS-RPT report paths of the evidence gate (--reports,
	// config key reports); none: the gate has no reports configured.
	Reports []string
	// AccessLog is serve's access log for status (--access-log, else
	// the config key access_log).
	AccessLog string
	Req       workflow.Request
	// Source, when set, holds provider settings typed into the wizard; it
	// comes before the environment and the credentials file.
	Source dnsprovider.Source
	// NewEngine builds the engine (tests replace it).
	NewEngine func(ctx context.Context, o *WorkflowOptions) (*workflow.Engine, error)
	// LookupTXT is the factory's (nil: rua's need is not looked up).
	LookupTXT func(ctx context.Context, name string, resolvers []string) ([]string, error)

	// needMXTo: an mx-migrate run without its target MX set (--to),
	// named with the other missing flags (validate).
	needMXTo bool
	// needYes: the run would change something, and neither --yes nor a
	// terminal to confirm on was given (validate).
	needYes bool
}

// newWorkflowOptions are the options a workflow command starts from.
func (f *factory) newWorkflowOptions(wf workflow.Workflow) *WorkflowOptions {
	return &WorkflowOptions{CommonOptions: f.newCommon(), Workflow: wf, NewEngine: f.NewEngine, LookupTXT: f.LookupTXT}
}

func newWorkflowCmd(f *factory, wf workflow.Workflow, runF func(context.Context, *WorkflowOptions) error) *cobra.Command {
	o := f.newWorkflowOptions(wf)
	use, short, long, example := workflowHelp(wf)
	var dryRun bool
	cmd := &cobra.Command{
		Use:     use,
		Short:   short,
		Long:    long,
		Example: example,
		GroupID: groupChange,
		Args: func(cmd *cobra.Command, args []string) error {
			return domainArg(cmd, waitArg(cmd, o, args))
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Domain = waitArg(cmd, o, args)[0]
			o.PlanOnly = dryRun // stspilot plan WORKFLOW DOMAIN, with the same flags
			return f.runWorkflowCmd(cmd, o, runF)
		},
	}
	addWorkflowFlags(cmd, o)
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "show the plan and change nothing, as stspilot plan "+string(wf)+" DOMAIN does (exit 3 when a gate is closed, 5 when it would be refused)")
	switch wf {
	case workflow.Rollout:
		cmd.Flags().StringVar(&o.Req.RUA, "rua", "", "TLS-RPT report destination, `mailto:ADDRESS` or https:URL (required unless the domain has a TLS-RPT record)")
		cmd.Flags().StringSliceVar(&o.MX, "mx", nil, "mx `PATTERN`s of the policy (repeatable; default: derived from the live MX records)")
	case workflow.Promote:
		cmd.Flags().BoolVar(&o.Req.WithoutReports, "without-reports", false, "promote on the live checks alone, without TLS-RPT evidence")
		cmd.Flags().StringArrayVar(&o.Reports, "reports", nil, "TLS-RPT reports for the evidence gate: a `PATH` to a file, directory or Maildir (repeatable)")
	case workflow.Rollback:
		cmd.Flags().StringVar(&o.To, "to", "testing", "where to go back to, a `STAGE`: testing or none")
	case workflow.Teardown:
		cmd.Flags().BoolVar(&o.Req.KeepTLSRPT, "keep-tlsrpt", false, "leave the _smtp._tls record in place")
		cmd.Flags().Var(&duration.Value{D: &o.Req.LastMaxAge, Seconds: true}, "last-max-age", "largest max_age ever published, when the journal does not know it (`DURATION`: 30d, 86400)")
	case workflow.MXMigrate:
		addMXMigrateFlags(cmd, o, "")
	}
	return cmd
}

// addMXMigrateFlags adds the flags of mx-migrate (prefix: "mx-migrate: "
// in plan's help).
func addMXMigrateFlags(cmd *cobra.Command, o *WorkflowOptions, prefix string) {
	if cmd.Flags().Lookup("to") == nil {
		cmd.Flags().StringArrayVar(&o.MXTo, "to", nil, prefix+"the whole target MX set, `HOST[:PREF][,HOST[:PREF]...]` (repeatable; preferences 10, 20, ... in the order given when left out)")
	}
	cmd.Flags().StringVar(&o.Switch, "switch", "", prefix+"how the MX records change, a `MODE`: provider (the DNS provider writes them; the default when it can) or manual (you change them; the published gate waits for every name server)")
	cmd.Flags().BoolVar(&o.Req.KeepOld, "keep-old", false, prefix+"keep the old MX hosts' patterns in the final policy")
}

// errNoMXTo: mx-migrate was given no target MX set.
var errNoMXTo = errors.New("mx-migrate needs the target MX set: --to HOST[:PREF][,HOST[:PREF]...]")

// parseMXTo reads the --to values of mx-migrate (workflow.ParseMXSet,
// which the wizard uses too), its errors naming the flag.
func parseMXTo(vals []string) ([]dnsprovider.MX, error) {
	out, err := workflow.ParseMXSet(vals)
	switch {
	case errors.Is(err, workflow.ErrNoMXSet):
		return nil, errNoMXTo
	case err != nil:
		return nil, fmt.Errorf("--to %w", err)
	}
	return out, nil
}

func addWorkflowFlags(cmd *cobra.Command, o *WorkflowOptions) {
	fl := cmd.Flags()
	fl.StringVar(&o.Provider, "provider", "", "DNS provider `NAME` (see stspilot providers; default: the one the journal remembers)")
	fl.StringVar(&o.Publish, "publish", "", "where the policy file goes, a `SPEC`: webroot:DIR (written to DIR/.well-known/mta-sts.txt), serve (for stspilot serve), exec:CMD (the policy on CMD's stdin) or manual (shown, you put it in place) (default: the journal's; it keeps no exec command)")
	fl.StringVar(&o.StateDir, "state-dir", "", "journal `DIR`ectory (default $XDG_STATE_HOME/stspilot)")
	fl.StringVar(&o.Zone, "zone", "", "DNS `ZONE` that holds the records (default: found with an SOA walk)")
	fl.StringVar(&o.Ladder, "ladder", "", "the ladder, `MODE@MAX_AGE:SOAK,...` (default: the journal's, else testing@86400:14d,enforce@86400:7d,enforce@604800:30d,enforce@2592000)")
	fl.BoolVar(&o.Yes, "yes", false, "apply without asking (required when not on a terminal)")
	fl.Var(&waitValue{*duration.NewValue(&o.Wait, 0)}, "wait", "keep re-checking closed gates for up to `DURATION` (2d, 12h; bare --wait, or forever: until they open)")
	fl.Lookup("wait").NoOptDefVal = waitForeverWord
	fl.Var(duration.NewValue(&o.TTL, 0), "ttl", "TTL of the records written, a `DURATION` (5m, 1h, 1d; default: keep the old one, or 5m)")
	fl.BoolVar(&o.Req.AdoptLive, "adopt-live", false, "accept a served policy that differs from what stspilot last published")
}

// waitForeverWord is what --wait takes, and --help shows, for
// waitForever.
const waitForeverWord = "forever"

// waitValue is --wait: a DURATION, or "forever" (what a bare --wait
// means), so that --help says [=forever], not a number of days.
type waitValue struct{ duration.Value }

func (v *waitValue) Set(s string) error {
	if strings.TrimSpace(s) == waitForeverWord {
		*v.D = waitForever
		return nil
	}
	return v.Value.Set(s)
}

func (v *waitValue) String() string {
	if v.D != nil && *v.D == waitForever {
		return waitForeverWord
	}
	return v.Value.String()
}

// waitArg lets --wait take its DURATION after a space. The flag may be
// given bare (wait until the gates open), so the parser leaves "2d" in
// "--wait 2d" as an argument; when --wait was given bare and one of two
// arguments is a duration (or "forever"), that is the wait, and the other
// is returned.
func waitArg(cmd *cobra.Command, o *WorkflowOptions, args []string) []string {
	fl := cmd.Flags().Lookup("wait")
	if fl == nil || !fl.Changed || o.Wait != waitForever || len(args) != 2 {
		return args
	}
	for i, a := range args {
		if a == waitForeverWord {
			return slices.Delete(slices.Clone(args), i, i+1)
		}
		if d, err := duration.Parse(a); err == nil && strings.IndexFunc(a, unicode.IsLetter) > 0 {
			o.Wait = d
			return slices.Delete(slices.Clone(args), i, i+1)
		}
	}
	return args
}

func workflowHelp(wf workflow.Workflow) (use, short, long, example string) {
	switch wf {
	case workflow.Rollout:
		return "rollout DOMAIN", "Deploy MTA-STS in testing mode (max_age 86400) and a TLS-RPT record",
			`Rollout publishes a testing policy covering the live MX hosts, waits until every
address of mta-sts.DOMAIN serves it, sets the TLS-RPT record and then the
_mta-sts id, and waits until every authoritative name server answers it.`,
			`  stspilot rollout example.com --provider rfc2136 --publish webroot:/var/www/mta-sts --rua mailto:tlsrpt@example.com
  stspilot rollout example.com --provider cloudflare --publish serve --rua https://mta-sts.example.com/tlsrpt --yes --wait
  stspilot rollout example.com --provider manual --publish manual --rua mailto:tlsrpt@example.com --dry-run`
	case workflow.Promote:
		return "promote DOMAIN", "Climb one rung of the ladder when its gates are open",
			`Promote moves to the next rung (testing -> enforce -> longer max_age) once the
current rung's soak has passed, TLS-RPT reports show no failures (or
--without-reports), and, for enforce, every MX is covered and passes TLS.
A closed gate exits 3 with the time to come back; a step that would break mail
exits 5.`,
			`  stspilot promote example.com --reports ~/Maildir/.TLSRPT
  stspilot promote example.com --without-reports --yes --wait 2d
  stspilot promote example.com --yes --json --without-reports | jq -r 'select(.event=="outcome") | .outcome.next_at // empty'`
	case workflow.Rollback:
		return "rollback DOMAIN", "Emergency: back to testing (or --to none) now, no soak gates",
			`Rollback publishes a testing policy (or mode none) with a new id at once. It
never skips the served-then-published order, and it prints the remaining risk
window: resolvers may hold the old TXT record for its TTL, and senders that
ignore ids may keep the old policy until its max_age runs out.`,
			`  stspilot rollback example.com --yes
  stspilot rollback example.com --yes --to none
  stspilot rollback example.com --provider rfc2136 --publish webroot:/var/www/mta-sts --yes   # no journal on this machine`
	case workflow.Teardown:
		return "teardown DOMAIN", "Remove MTA-STS safely: mode none, wait out caches, delete",
			`Teardown publishes mode none with a new id, waits until the max_age of the last
testing/enforce policy has passed since none went live, and only then deletes
the _mta-sts record, the TLS-RPT record (unless --keep-tlsrpt) and the policy.`,
			`  stspilot teardown example.com --yes               # mode none now; exit 3 and the date to come back
  stspilot teardown example.com --yes               # again after that date: deletes the records and the policy
  stspilot teardown example.com --yes --keep-tlsrpt --last-max-age 30d`
	case workflow.MXMigrate:
		return "mx-migrate DOMAIN --to HOST[:PREF][,...]", "Change the MX hosts under a live policy without losing mail",
			`mx-migrate moves the domain to a new MX set (--to is the whole set) while a
testing or enforce policy is live, so that no sender ever meets an MX host that
a policy it may still hold does not cover (invariant 8). It checks every
target (STARTTLS with a valid certificate for its name; in enforce a failing
target is refused, exit 5), widens the policy to the old and the new hosts,
waits until no sender may still hold a policy without the new ones, switches
the MX records (through the provider, or --switch manual: shown, and the
published gate waits), waits out the old MX records' TTL, then narrows the
policy to the new hosts (unless --keep-old) and checks the result. A closed
window exits 3 with the time to come back; run the same command again then.`,
			`  stspilot mx-migrate example.com --to mx1.new.example.net,mx2.new.example.net --yes
  stspilot mx-migrate example.com --to mx.new.example.net:5 --switch manual --yes --wait
  stspilot plan mx-migrate example.com --to mx.new.example.net`
	}
	return "", "", "", ""
}

func newStatusCmd(f *factory, runF func(context.Context, *WorkflowOptions) error) *cobra.Command {
	o := f.newWorkflowOptions("")
	cmd := &cobra.Command{
		Use:   "status DOMAIN",
		Short: "Stage, history, next step and when its gate opens",
		Long: `Status reads the domain's live state and its journal and says where it stands:
the stage and live policy, the rung of the ladder, a change a killed run left
unfinished, the teardown window, the next workflow and when its gate opens,
the live findings and the journal's last entries. It changes nothing.
Exit 4 when the live checks find errors, else 0.`,
		Example: `  stspilot status example.com
  stspilot status example.com --reports ~/Maildir/.TLSRPT
  stspilot status example.com --json | jq -r '.next_at // empty'`,
		GroupID: groupDiagnose,
		Args:    domainArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Domain = args[0]
			if err := f.prepareDomain(cmd, o); err != nil {
				return err
			}
			return runOr(cmd.Context(), o, runF, statusRun)
		},
	}
	cmd.Flags().StringVar(&o.StateDir, "state-dir", "", "journal `DIR`ectory (default $XDG_STATE_HOME/stspilot)")
	cmd.Flags().StringVar(&o.Zone, "zone", "", "DNS `ZONE` that holds the records (default: found with an SOA walk)")
	cmd.Flags().StringVar(&o.Ladder, "ladder", "", "the ladder, `MODE@MAX_AGE:SOAK,...` (default: the journal's, else the default ladder)")
	cmd.Flags().StringArrayVar(&o.Reports, "reports", nil, "TLS-RPT report `PATH` for the evidence gate of the next promote (repeatable; config key reports)")
	cmd.Flags().StringVar(&o.AccessLog, "access-log", "", "serve's access log `FILE`: which senders fetched the live id (config key access_log)")
	return cmd
}

// statusRun prints where the domain stands. With --json a failure is
// also a document on stdout ({schema, domain, error}), as check's is.
func statusRun(ctx context.Context, o *WorkflowOptions) (err error) {
	if o.JSON {
		defer func() {
			var ee *exitError
			if err == nil || errors.As(err, &ee) && ee.err == nil || errors.Is(err, context.Canceled) {
				return
			}
			_ = o.IO.WriteJSON(statusError{Schema: workflow.StatusSchema, Domain: o.Domain, Error: err.Error()})
		}()
	}
	eng, err := o.NewEngine(ctx, o)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout+30*time.Second)
	defer cancel()
	st, err := eng.Status(ctx, o.Domain)
	if err != nil {
		return engineErr(err)
	}
	st.Fetchers = serve.LiveFetchers(st, cmp.Or(o.AccessLog, o.Config["access_log"]))
	if o.JSON {
		if st.Fetchers != nil && st.Fetchers.Log == "" {
			st.Fetchers = nil // documented: absent when no log is configured
		}
		if err := o.IO.WriteJSON(st); err != nil {
			return err
		}
	} else {
		_, ev := o.observer(eng)
		ev.Status(st)
	}
	if st.Errors > 0 {
		return &exitError{code: exitFindings}
	}
	return nil
}

func newPlanCmd(f *factory, runF func(context.Context, *WorkflowOptions) error) *cobra.Command {
	o := f.newWorkflowOptions("")
	o.PlanOnly = true
	cmd := &cobra.Command{
		Use:   "plan WORKFLOW DOMAIN",
		Short: "Show what a workflow would do now; changes nothing",
		Long: `Plan computes, from live state and the journal, the steps a workflow would run
now and the gate of each, and prints them. It changes nothing and takes no lock.
Exit 0 when the plan can run, 3 when a gate is closed, 5 when it would be refused.
"stspilot WORKFLOW DOMAIN --dry-run" does the same.`,
		Example: `  stspilot plan rollout example.com --rua mailto:tlsrpt@example.com
  stspilot plan promote example.com --without-reports
  stspilot plan rollback example.com --to none --json | jq 'select(.event=="plan") | .plan.steps'`,
		GroupID: groupChange,
		Args:    planArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			wf, err := workflow.ParseWorkflow(args[0])
			if err != nil {
				return &usageError{err}
			}
			o.Workflow, o.Domain = wf, args[1]
			if wf != workflow.MXMigrate {
				// --to is rollback's STAGE here.
				o.To = string(workflow.StageTesting)
				if n := len(o.MXTo); n > 0 {
					o.To = o.MXTo[n-1]
				}
				o.MXTo = nil
			}
			return f.runWorkflowCmd(cmd, o, runF)
		},
	}
	addWorkflowFlags(cmd, o)
	cmd.Flags().StringVar(&o.Req.RUA, "rua", "", "rollout: TLS-RPT destination, `mailto:ADDRESS` or https:URL")
	cmd.Flags().StringSliceVar(&o.MX, "mx", nil, "rollout: mx `PATTERN`s of the policy (repeatable)")
	cmd.Flags().BoolVar(&o.Req.WithoutReports, "without-reports", false, "promote: without TLS-RPT evidence")
	cmd.Flags().StringArrayVar(&o.Reports, "reports", nil, "promote: TLS-RPT report `PATH` for the evidence gate (repeatable)")
	cmd.Flags().StringArrayVar(&o.MXTo, "to", nil, "rollback: a `STAGE`, testing (default) or none; mx-migrate: the whole target MX set, HOST[:PREF][,...] (repeatable)")
	cmd.Flags().BoolVar(&o.Req.KeepTLSRPT, "keep-tlsrpt", false, "teardown: keep the TLS-RPT record")
	cmd.Flags().Var(&duration.Value{D: &o.Req.LastMaxAge, Seconds: true}, "last-max-age", "teardown: largest max_age ever published, a `DURATION` (30d, or seconds)")
	addMXMigrateFlags(cmd, o, "mx-migrate: ")
	return cmd
}

// prepareDomain is prepare for the commands about one domain: the config
// file, the global flags and the resolvers, then the domain normalised.
func (f *factory) prepareDomain(cmd *cobra.Command, o *WorkflowOptions) error {
	if err := f.prepare(cmd, &o.CommonOptions, needConfig|needResolvers); err != nil {
		return err
	}
	d, err := domainname.Normalize(o.Domain)
	if err != nil {
		return &usageError{err}
	}
	o.Domain = d
	return nil
}

// runWorkflowCmd runs a workflow or plan command once its arguments are in
// o: prepared for the domain, its flags validated.
func (f *factory) runWorkflowCmd(cmd *cobra.Command, o *WorkflowOptions, runF func(context.Context, *WorkflowOptions) error) error {
	if err := f.prepareDomain(cmd, o); err != nil {
		return err
	}
	if err := o.validate(); err != nil {
		return err
	}
	return runOr(cmd.Context(), o, runF, runWorkflow)
}

// validate checks a workflow's (or plan's) own flags and fills the request.
func (o *WorkflowOptions) validate() error {
	o.Req.Domain, o.Req.Workflow, o.Req.MX = o.Domain, o.Workflow, o.MX
	if o.Workflow == workflow.Rollback || o.PlanOnly && o.To != "" {
		o.Req.To = workflow.Stage(o.To)
		if o.Workflow == workflow.Rollback && o.Req.To != workflow.StageTesting && o.Req.To != workflow.StageNone {
			return usageErrorf("--to must be testing or none, not %q", o.To)
		}
	}
	if o.Wait < 0 {
		return usageErrorf("--wait must not be negative")
	}
	if o.Workflow == workflow.MXMigrate {
		to, err := parseMXTo(o.MXTo)
		if err != nil && (o.PlanOnly || !errors.Is(err, errNoMXTo)) {
			return &usageError{err}
		}
		// A run without --to says so with whatever else it lacks.
		o.needMXTo = err != nil
		switch o.Switch {
		case "", workflow.MXSwitchProvider, workflow.MXSwitchManual:
		default:
			return usageErrorf("--switch must be provider or manual, not %q", o.Switch)
		}
		o.Req.MXTo, o.Req.MXSwitch, o.Req.MXTTL = to, o.Switch, o.TTL
	}
	// Without --yes and a terminal the run cannot go on, but the engine
	// is still built first (runWorkflow), so that one message names
	// every flag missing, not one per try.
	o.needYes = !o.PlanOnly && !o.Yes && !o.IO.CanPrompt()
	return nil
}

// runWorkflow builds the engine and runs the workflow (or its plan).
func runWorkflow(ctx context.Context, o *WorkflowOptions) error {
	eng, err := o.NewEngine(ctx, o)
	var m *missingError
	if missing := errors.As(err, &m); o.needYes || o.needMXTo || missing {
		if m == nil {
			m = &missingError{workflow: o.Workflow, domain: o.Domain}
		}
		if o.needYes {
			m.needs = append([]requirement{reqYes}, m.needs...)
		}
		if o.needMXTo {
			m.needs = append([]requirement{reqMXTo}, m.needs...)
		}
		// Only the plan knows for sure that a rollout needs --rua; ask
		// DNS now, so that this one message names it too.
		if o.needsRUA(ctx) {
			m.needs = append(m.needs, reqRUA)
		}
		return &usageError{m}
	}
	if err != nil {
		return err
	}
	return workflowRun(ctx, o, eng)
}

// needsRUA says whether a rollout without --rua will need one: the domain
// has no TLS-RPT record to keep, and no MTA-STS record (a domain already in
// testing or enforce needs no rollout). It is asked only when the run
// fails for want of other flags, and for at most ruaLookupTimeout (and
// --timeout): a usage error must not wait on slow resolvers. Unknown (no
// lookup, or one that failed) is no: the plan says it then.
func (o *WorkflowOptions) needsRUA(ctx context.Context) bool {
	if o.Workflow != workflow.Rollout || o.Req.RUA != "" || o.LookupTXT == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, min(cmp.Or(o.Timeout, defaultTimeout), ruaLookupTimeout))
	defer cancel()
	for _, k := range []dnsprovider.Kind{dnsprovider.KindTLSRPT, dnsprovider.KindSTS} {
		name := txtrecord.TLSRPTName(o.Domain)
		if k == dnsprovider.KindSTS {
			name = txtrecord.STSName(o.Domain)
		}
		recs, err := o.LookupTXT(ctx, name, o.Resolvers)
		if err != nil || len(dnsprovider.TXTSet{Values: recs}.Ours(k)) > 0 {
			return false
		}
	}
	return true
}

// ruaLookupTimeout bounds needsRUA's two lookups together.
const ruaLookupTimeout = 5 * time.Second

// lookupTXT is factory.LookupTXT: the TXT records at name, as the checks
// ask for them (no resolvers: the system's).
func lookupTXT(ctx context.Context, name string, resolvers []string) ([]string, error) {
	r := &dnsprobe.Resolver{Servers: resolvers}
	if len(resolvers) == 0 {
		var err error
		if r, err = dnsprobe.SystemResolver(dnsclient.DefaultResolvConf); err != nil {
			return nil, err
		}
	}
	res, err := r.TXT(ctx, name)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(res.Records))
	for i, strs := range res.Records {
		out[i] = strings.Join(strs, "")
	}
	return out, nil
}

// requirement is something a workflow run needs that a flag gives.
type requirement uint8

const (
	reqYes requirement = iota
	reqProvider
	reqPublish
	// needExecCommand: the journal says exec, never which command.
	needExecCommand
	// reqRUA: a rollout of a domain without a TLS-RPT record.
	reqRUA
	// reqMXTo: mx-migrate's target MX set.
	reqMXTo
)

// missingError names every flag a workflow run needs and was not given,
// in one message (exit 2): in an emergency, one try tells all.
type missingError struct {
	workflow workflow.Workflow
	domain   string
	needs    []requirement
}

func (e *missingError) Error() string {
	if len(e.needs) == 1 && e.needs[0] == reqYes {
		return fmt.Sprintf("%s changes DNS records and the policy file: pass --yes to apply without a terminal to confirm on", e.workflow)
	}
	if len(e.needs) == 1 && e.needs[0] == reqMXTo {
		return errNoMXTo.Error()
	}
	var parts []string
	for _, n := range e.needs {
		switch n {
		case reqYes:
			parts = append(parts, "--yes (there is no terminal to confirm on)")
		case reqProvider:
			parts = append(parts, fmt.Sprintf("--provider NAME (no journal of %s remembers one; known: %s; see stspilot providers)", e.domain, strings.Join(dnsprovider.Names(), ", ")))
		case reqPublish:
			parts = append(parts, fmt.Sprintf("--publish SPEC (where the policy file goes: webroot:DIR, serve, exec:CMD or manual; no journal of %s remembers one)", e.domain))
		case needExecCommand:
			parts = append(parts, fmt.Sprintf("--publish exec:CMD (the journal of %s says the policy goes through an exec publisher, but stspilot never runs a command read from a journal: give the command with --publish, or as publish = exec:CMD in your config file)", e.domain))
		case reqMXTo:
			parts = append(parts, "--to HOST[:PREF][,HOST[:PREF]...] (the whole target MX set)")
		case reqRUA:
			parts = append(parts, fmt.Sprintf("--rua mailto:ADDRESS or https:URL (a TLS-RPT destination: %s has no TLS-RPT record, and its reports are how you learn what senders see while testing)", e.domain))
		}
	}
	if len(parts) == 1 {
		return fmt.Sprintf("%s needs %s", e.workflow, parts[0])
	}
	return fmt.Sprintf("%s needs %d flags: %s and %s", e.workflow, len(parts), strings.Join(parts[:len(parts)-1], ", "), parts[len(parts)-1])
}

// observer picks the renderer: JSON lines, or text for people.
// Times are printed against eng's clock (the sandbox's in the demo).
func (o *WorkflowOptions) observer(eng *workflow.Engine) (workflow.Observer, *textout.Events) {
	if o.JSON {
		return textout.NewEventJSON(o.IO.Out), nil
	}
	ev := textout.NewEvents(o.IO.Out, textout.Options{Color: o.IO.ColorEnabled(), Icons: o.IO.IsStdoutTTY(), Width: o.IO.Width(), Now: eng.Now})
	return ev, ev
}

func workflowRun(ctx context.Context, o *WorkflowOptions, eng *workflow.Engine) error {
	obs, _ := o.observer(eng)
	pctx, cancel := context.WithTimeout(ctx, o.Timeout+30*time.Second)
	plan, err := eng.Plan(pctx, o.Req)
	cancel()
	if err != nil {
		return engineErr(err)
	}
	if o.PlanOnly || !o.Yes {
		obs.Event(workflow.Event{Time: eng.Now(), Kind: workflow.EventPlan, Domain: plan.Domain, Plan: plan})
		for _, w := range plan.Warnings {
			obs.Event(workflow.Event{Time: eng.Now(), Kind: workflow.EventWarning, Domain: plan.Domain, Message: w})
		}
	}
	if o.PlanOnly {
		switch {
		case plan.Refusal != nil:
			obs.Event(workflow.Event{Time: eng.Now(), Kind: workflow.EventRefused, Domain: plan.Domain, Refusal: plan.Refusal})
			return &exitError{code: exitRefused}
		case firstClosed(plan) != nil:
			return &exitError{code: exitPending}
		}
		return nil
	}
	if plan.Refusal == nil && !plan.Nothing && plan.Changes() && !o.Yes {
		var ok bool
		ok, err = confirm(o.IO, plan)
		if err != nil {
			return err
		}
		if !ok {
			fmt.Fprintln(o.IO.ErrOut, "stspilot: nothing changed")
			return &exitError{code: exitRefused}
		}
	}
	// The plan was shown: the engine's own plan event is not repeated.
	shown := obs
	if !o.Yes {
		shown = skipPlan{obs}
	}
	out, err := eng.Apply(ctx, o.Req, plan, shown, workflow.ApplyOptions{Wait: o.Wait})
	if err != nil {
		return engineErr(err)
	}
	switch out.Status {
	case workflow.StatusDone, workflow.StatusNothing:
		return nil
	case workflow.StatusPending:
		return &exitError{code: exitPending}
	case workflow.StatusRefused:
		return &exitError{code: exitRefused}
	default:
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &exitError{code: exitFailure}
	}
}

type skipPlan struct{ o workflow.Observer }

func (s skipPlan) Event(e workflow.Event) {
	if e.Kind == workflow.EventPlan || e.Kind == workflow.EventWarning {
		return
	}
	s.o.Event(e)
}

func firstClosed(p *workflow.Plan) *workflow.GateResult {
	for i := range p.Gates {
		if !p.Gates[i].Open && p.Gates[i].NextAt != nil {
			return &p.Gates[i]
		}
	}
	return nil
}

// statusError is status --json's document when status fails.
type statusError struct {
	Schema string `json:"schema"`
	Domain string `json:"domain"`
	Error  string `json:"error"`
}

// engineErr maps engine errors to exit codes: usage errors to 2. A zone
// the resolvers do not know gets the flag that names it.
func engineErr(err error) error {
	if errors.Is(err, dnsprovider.ErrNoZone) {
		return fmt.Errorf("%w; if the records live in a zone these resolvers cannot see, name it with --zone ZONE (or ask other resolvers with --resolver)", err)
	}
	var in *workflow.InputError
	if errors.As(err, &in) {
		// The engine names the input by code; the command line by its flag.
		if f := textout.Flag(in.Code); f != "" {
			err = fmt.Errorf("%w (%s)", err, f)
		}
	}
	if errors.Is(err, workflow.ErrUsage) {
		return &usageError{err}
	}
	if errors.Is(err, workflow.ErrPlanChanged) {
		return &exitError{code: exitPending, err: err}
	}
	return err
}

// confirm asks on the terminal; destructive plans need the word "yes".
func confirm(s *IOStreams, p *workflow.Plan) (bool, error) {
	q := "Apply these changes? [y/N] "
	if p.Destructive() {
		q = "This deletes records and there is no undo. Type yes to go on: "
	}
	fmt.Fprint(s.ErrOut, q)
	line, err := bufio.NewReader(io.LimitReader(s.In, 1024)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return false, err
	}
	a := strings.ToLower(strings.TrimSpace(line))
	if p.Destructive() {
		return a == "yes", nil
	}
	return a == "y" || a == "yes", nil
}

// newEngine wires the real engine: provider from the registry, publisher,
// journal, ladder, live checks, served and published gates. Settings the
// journal remembers (provider, publisher, ladder) fill the flags not given.
func newEngine(ctx context.Context, o *WorkflowOptions) (*workflow.Engine, error) {
	// The settings are read without creating the state directory: plan
	// and status change nothing, and neither does a run that fails for
	// want of a flag. Only a run that can go on opens it for writing.
	st, err := journal.OpenExisting(o.StateDir)
	if err != nil {
		return nil, err
	}
	fj := &workflow.FileJournal{Store: st}
	jProv, jPub, jLadder, err := fj.Settings(o.Domain)
	if err != nil {
		return nil, err
	}
	cfg := o.Config
	provName := cmp.Or(o.Provider, jProv, cfg["provider"])
	publish, execNoCommand := publishSpec(o.Publish, jPub, cfg["publish"], st.Dir())
	ladderSpec := cmp.Or(o.Ladder, jLadder, cfg["ladder"])
	readOnly := o.PlanOnly || o.Workflow == ""
	if readOnly && provName == "" {
		// plan and status write nothing: the manual provider and publisher
		// stand in until the domain has a journal.
		provName = "manual"
	}
	if readOnly && publish == "" {
		publish = "manual"
	}
	if provName == "" || publish == "" {
		m := &missingError{workflow: o.Workflow, domain: o.Domain}
		if provName == "" {
			m.needs = append(m.needs, reqProvider)
		}
		switch {
		case execNoCommand:
			m.needs = append(m.needs, needExecCommand)
		case publish == "":
			m.needs = append(m.needs, reqPublish)
		}
		return nil, &usageError{m}
	}
	if !readOnly && !o.needYes && !o.needMXTo {
		if fj, err = workflow.OpenFileJournal(o.StateDir); err != nil {
			return nil, err
		}
	}
	lad := workflow.DefaultLadder.Clone()
	if ladderSpec != "" {
		if lad, err = workflow.ParseLadder(ladderSpec); err != nil {
			return nil, &usageError{fmt.Errorf("--ladder: %w", err)}
		}
	}
	src, err := credentialSource(o.Credentials)
	if err != nil {
		return nil, err
	}
	if o.Source != nil {
		src = dnsprovider.Chain(o.Source, src)
	}
	env := dnsprovider.Env{Resolvers: o.Resolvers}
	prov, err := dnsprovider.Open(provName, src, env)
	if err != nil {
		if errors.Is(err, dnsprovider.ErrConfig) {
			return nil, &usageError{err}
		}
		return nil, err
	}
	scrub := dnsprovider.SecretVars() // lego's names and NAME_FILE too
	pub, err := workflow.ParsePublisherIn(publish, scrub, fj.Store.Dir())
	if errors.Is(err, workflow.ErrNoExecCommand) {
		return nil, usageErrorf("--publish %q: exec needs a command, e.g. exec:'aws s3 cp - s3://bucket/.well-known/mta-sts.txt'", publish)
	}
	if err != nil {
		return nil, &usageError{fmt.Errorf("--publish: %w", err)}
	}
	served, err := workflow.NewServedChecker(o.Resolvers, nil, 0, nil)
	if err != nil {
		return nil, err
	}
	fj.Provider, fj.Publish, fj.Ladder = provName, pub.Spec(), lad.String()
	var evidence workflow.EvidenceFunc
	if len(o.Reports) > 0 {
		evidence = workflow.ReportsEvidence(o.Reports, tlsrpt.Options{})
	}
	res := dnsprovider.NewResolver(env)
	timeout := o.Timeout
	return workflow.New(workflow.Config{
		Provider:  prov,
		Publisher: pub,
		Journal:   fj,
		Clock:     workflow.SystemClock{},
		Ladder:    lad,
		Zone:      o.Zone,
		FindZone: func(ctx context.Context, d string) (string, error) {
			return dnsprovider.FindZone(ctx, res, d)
		},
		Check: func(ctx context.Context, d string) *checks.Report {
			return checks.Run(ctx, d, checks.Options{Resolvers: o.Resolvers, Timeout: timeout})
		},
		Served:    served,
		Published: workflow.AuthPublished{Resolver: res},
		Evidence:  evidence,
		TTL:       o.TTL,
		Command:   "stspilot " + string(o.Workflow),
		ProbeMX: func(ctx context.Context, host string) checks.LiveMX {
			return checks.ProbeMXHost(ctx, host, checks.Options{Resolvers: o.Resolvers, Timeout: timeout})
		},
	})
}

// publishSpec picks the publisher: the flag, else the journal's, else the
// config file's. A journal names an exec publisher without its command
// (workflow.ErrNoExecCommand): the command then comes from the config
// file (loadConfig made sure it is trusted), never from the journal, and
// execNoCommand says there is none there either.
func publishSpec(flag, fromJournal, fromConfig, stateDir string) (spec string, execNoCommand bool) {
	spec = cmp.Or(flag, fromJournal, fromConfig)
	if flag != "" || fromJournal == "" {
		return spec, false
	}
	if _, err := workflow.ParsePublisherIn(fromJournal, nil, stateDir); !errors.Is(err, workflow.ErrNoExecCommand) {
		return spec, false
	}
	if journal.KeptPublish(fromConfig) == journal.PublishExec {
		return fromConfig, false
	}
	return "", true
}

// credentialSource is the environment, then the credentials file (the
// one given, else the default one when it exists: settingsSources).
func credentialSource(path string) (dnsprovider.Source, error) {
	env := dnsprovider.EnvSource(os.LookupEnv)
	f, _, err := settingsSources(path, os.LookupEnv)
	if err != nil {
		return nil, err
	}
	if f == nil {
		return env, nil
	}
	return dnsprovider.Chain(env, f), nil
}
