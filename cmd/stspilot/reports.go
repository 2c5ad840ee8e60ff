package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stspilot/stspilot/checks/tlsrpt"
	"github.com/stspilot/stspilot/internal/domainname"
	"github.com/stspilot/stspilot/internal/duration"
	"github.com/stspilot/stspilot/tui/textout"
	"github.com/stspilot/stspilot/workflow/journal"
	"github.com/stspilot/stspilot/workflow/serve"
)

// ReportsSchema names the --json document of stspilot reports (docs/json.md).
const ReportsSchema = "stspilot.reports/v1"

// ReportsOptions is everything `stspilot reports` needs. RunE fills it from
// the command line and validates it; reportsRun does the work.
type ReportsOptions struct {
	CommonOptions // Config: its "reports" path is a default PATH

	// Paths are files, directories and Maildirs, as given.
	Paths  []string
	Domain string // normalised; "" for every domain
	// Since is the start of the period (zero: everything); SinceText is
	// --since as typed.
	Since     time.Time
	SinceText string
	StateDir  string // the journals, for policy ids; "" for the default
}

func newReportsCmd(f *factory, runF func(context.Context, *ReportsOptions) error) *cobra.Command {
	o := &ReportsOptions{CommonOptions: f.newCommon()}
	cmd := &cobra.Command{
		Use:     "reports [PATH...]",
		Short:   "Summarise TLS-RPT reports: files, directories, .json.gz, .eml, Maildir",
		GroupID: groupDiagnose,
		Long: `Reports reads TLS-RPT aggregate reports (RFC 8460) wherever they landed: .json
and .json.gz files, mail messages (.eml, multipart/report with an
application/tlsrpt+gzip or +json part), Maildir folders and plain directories,
recursively. The same report seen twice (same organisation and report-id) is
counted once; when its copies differ, the copy with the most failures counts
and the conflict is listed. It prints sessions and failures per day as a bar chart, failures
by result type, reporting organisation, receiving MX and IP and sending MTA,
the policies the reports saw (with the policy id when the text matches a
policy in the journal), and reporters that have gone silent.

Without PATH it reads the config file's "reports" path and the reports that
stspilot serve received (STATE/reports).

Failures in the reports are data, not an error: the exit status is 0 even
when reports show failures (the evidence gate of promote acts on them). Exit 1
when a path or a file could not be read (everything else is still printed),
2 for usage errors, 130 when interrupted.`,
		Example: `  stspilot reports ~/Maildir/.TLSRPT
  stspilot reports --domain example.com --since 14d reports/ inbox.eml
  stspilot reports --json --since 2026-11-01 reports/ | jq '.summary.by_result_type'`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Paths = args
			return runCommand(cmd, f, needConfig, o, runF, reportsRun)
		},
	}
	cmd.Flags().StringVar(&o.Domain, "domain", "", "only reports about policy domain `D`")
	cmd.Flags().StringVar(&o.SinceText, "since", "", "only reports for days after `DURATION|DATE` (14d, 36h, 2026-11-01, an RFC 3339 time)")
	cmd.Flags().StringVar(&o.StateDir, "state-dir", "", "journal `DIR`ectory, to name the policy ids (default $XDG_STATE_HOME/stspilot)")
	return cmd
}

// validate normalises --domain and --since, and picks the default paths
// when none were given.
func (o *ReportsOptions) validate() error {
	if o.Domain != "" {
		d, err := domainname.Normalize(o.Domain)
		if err != nil {
			return &usageError{fmt.Errorf("--domain: %w", err)}
		}
		o.Domain = d
	}
	if o.SinceText != "" {
		t, err := parseSince(o.SinceText, o.Now())
		if err != nil {
			return usageErrorf("--since %q: %v", o.SinceText, err)
		}
		o.Since = t
	}
	if len(o.Paths) == 0 {
		o.Paths = defaultReportPaths(o.Config["reports"], o.StateDir)
		if len(o.Paths) == 0 {
			return usageErrorf("give at least one PATH (a report file, a directory or a Maildir); no config \"reports\" path and no reports received by stspilot serve were found")
		}
	}
	return nil
}

// parseSince reads DURATION (before now: "14d", "36h", "90m") or DATE
// ("2026-11-01", UTC midnight, or an RFC 3339 time).
func parseSince(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if d, err := duration.Parse(s); err == nil {
		return now.Add(-d), nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, errors.New("want a duration (14d, 36h) or a date (2006-01-02, or RFC 3339)")
}

// defaultReportPaths are the config's path and STATE/reports, those that exist.
func defaultReportPaths(cfgPath, stateDir string) []string {
	var out []string
	if cfgPath != "" {
		out = append(out, cfgPath) // a missing one is reported when read
	}
	if stateDir == "" {
		stateDir, _ = journal.DefaultDir()
	}
	if stateDir != "" {
		p := filepath.Join(stateDir, serve.ReportsDir)
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			out = append(out, p)
		}
	}
	return out
}

// reportsLookFor says what reports reads, for when it found nothing.
const reportsLookFor = "stspilot reads .json and .json.gz files, mail messages (.eml, Maildir) with an application/tlsrpt+gzip or +json part, and the directories that hold them, recursively"

// reportsDoc is the stspilot.reports/v1 document.
type reportsDoc struct {
	Schema  string              `json:"schema"`
	Paths   []string            `json:"paths"`
	Stats   tlsrpt.WalkStats    `json:"stats"`
	Errors  []reportsFileError  `json:"errors"`
	Summary tlsrpt.DigestResult `json:"summary"`
}

type reportsFileError struct {
	Path  string `json:"path"`
	Error string `json:"error"`
}

func reportsRun(ctx context.Context, o *ReportsOptions) error {
	dg := tlsrpt.NewDigest(tlsrpt.Filter{Domain: o.Domain, Since: o.Since, Now: o.Now()})
	stats, errs := tlsrpt.Walk(ctx, o.Paths, tlsrpt.Options{Rank: dg.Rank, Conflict: dg.Conflict}, func(_ string, r *tlsrpt.Report) { dg.Add(r) })
	if err := ctx.Err(); err != nil {
		return err
	}
	sum := dg.Result()
	nameIDs(&sum, o.StateDir)
	doc := reportsDoc{Schema: ReportsSchema, Paths: o.Paths, Stats: stats, Errors: []reportsFileError{}, Summary: sum}
	var lines []string
	for _, e := range errs {
		doc.Errors = append(doc.Errors, reportsFileError{Path: e.Path, Error: e.Err.Error()})
		lines = append(lines, e.Error())
	}
	if o.JSON {
		if err := o.IO.WriteJSON(doc); err != nil {
			return err
		}
	} else {
		opt := textout.Options{Color: o.IO.ColorEnabled(), Icons: o.IO.IsStdoutTTY(), Width: o.IO.Width()}
		if err := textout.WriteReports(o.IO.Out, textout.ReportsView{Summary: sum, Stats: stats, Errors: lines}, opt); err != nil {
			return err
		}
	}
	if stats.Reports == 0 && len(errs) == 0 {
		skipped := ""
		if stats.Skipped > 0 {
			skipped = " (" + textout.Plural(stats.Skipped, "other file") + " skipped)"
		}
		fmt.Fprintf(o.IO.ErrOut, "stspilot: found no TLS-RPT reports in %s%s; %s\n", strings.Join(o.Paths, ", "), skipped, reportsLookFor)
	}
	if len(errs) > 0 {
		return &exitError{code: exitFailure, err: fmt.Errorf("%d of the paths and files could not be read", len(errs))}
	}
	return nil
}

// nameIDs fills PolicySeen.ID from the journals in stateDir: the id of
// the latest policy stspilot wrote whose text means the same policy
// (tlsrpt.SamePolicy). A missing or unreadable journal names nothing;
// the state directory is never created.
func nameIDs(sum *tlsrpt.DigestResult, stateDir string) {
	if stateDir == "" {
		d, err := journal.DefaultDir()
		if err != nil {
			return
		}
		stateDir = d
	}
	if fi, err := os.Stat(stateDir); err != nil || !fi.IsDir() {
		return
	}
	st, err := journal.Open(stateDir)
	if err != nil {
		return
	}
	cache := map[string]*journal.Journal{}
	for i := range sum.Policies {
		p := &sum.Policies[i]
		if p.Type != tlsrpt.PolicySTS || len(p.Lines) == 0 || p.Domain == "" {
			continue
		}
		j, seen := cache[p.Domain]
		if !seen {
			j, err = st.Peek(p.Domain)
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				j = nil
			}
			cache[p.Domain] = j
		}
		if j == nil {
			continue
		}
		p.ID = journalPolicyID(j, p.Lines)
	}
}

func journalPolicyID(j *journal.Journal, lines []string) string {
	for i := len(j.Entries) - 1; i >= 0; i-- {
		e := j.Entries[i]
		if e.Kind == journal.KindPolicyWrite && e.PolicyText != "" && e.PolicyID != "" && tlsrpt.SamePolicy(lines, e.PolicyText) {
			return e.PolicyID
		}
	}
	if j.Policy != nil && j.Policy.ID != "" && tlsrpt.SamePolicy(lines, j.Policy.Text) {
		return j.Policy.ID
	}
	// The ledger keeps every policy that was live, whatever history moved
	// to the archive: its mode, max_age and mx are what SamePolicy compares.
	for i := len(j.Ledger) - 1; i >= 0; i-- {
		lp := j.Ledger[i]
		if lp.ID == "" {
			continue
		}
		var b strings.Builder
		fmt.Fprintf(&b, "version: STSv1\nmode: %s\n", lp.Mode)
		for _, mx := range lp.MX {
			fmt.Fprintf(&b, "mx: %s\n", mx)
		}
		fmt.Fprintf(&b, "max_age: %d\n", lp.MaxAge)
		if tlsrpt.SamePolicy(lines, b.String()) {
			return lp.ID
		}
	}
	return ""
}
