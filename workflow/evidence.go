package workflow

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/stspilot/stspilot/checks/mtasts"
	"github.com/stspilot/stspilot/checks/tlsrpt"
	"github.com/stspilot/stspilot/internal/domainname"
	"github.com/stspilot/stspilot/internal/printable"
	"github.com/stspilot/stspilot/internal/satcount"
	"github.com/stspilot/stspilot/internal/txtrecord"
)

// ReportsEvidence is the evidence gate over TLS-RPT reports stored under
// paths (files, directories, Maildirs; see tlsrpt.Walk), for promote and
// plan --reports (docs/design.md, the evidence gate).
//
// It reads every report for the domain whose date range ends after since
// (the soak window: since is when the current policy went live) and keeps
// the policies[] entries that are the current policy: type sts whose
// policy-string and mx-host state no mode, max_age or mx patterns other
// than p.Text's. What the reporter left out (no policy-string at all, no
// max_age line, ...) is taken as the current policy's, so that a failure
// is never explained away. Entries of older policies (senders still
// holding a cached one) do not count.
//
//   - found is false (the engine then refuses and names --without-reports)
//     when no report has an entry for the current policy in the window;
//   - the gate is closed, without NextAt (a refusal, exit 5), when those
//     entries report failed sessions, or when any entry for the domain
//     reports a policy-host failure (sts-policy-fetch-error,
//     sts-policy-invalid, sts-webpki-invalid: the host fails some senders
//     whatever policy they hold). Failures come grouped by result type,
//     MX and reason, each with its likely cause: an MX that no mx pattern
//     of p covers (mtasts.Covering) is named as such (STS-SEND-20);
//   - otherwise the gate is open and says how many sessions and reporters
//     back it.
//
// A report counts once (RPT-DEL-5: one per organisation and report-id).
// When its stored copies differ (a receiver keeps every body it was
// sent), the copy with the most failures for this gate counts (Rank)
// and the reason names the conflict: a forged copy can close the gate,
// never open it.
//
// Files that cannot be read are named in the reason and never stop the
// rest; a path that does not exist at all is an error (a mistyped
// --reports must not read as "no reports").
func ReportsEvidence(paths []string, opt tlsrpt.Options) EvidenceFunc {
	paths = slices.Clone(paths)
	return func(ctx context.Context, domain string, p *Policy, since time.Time) (GateResult, bool, error) {
		for _, path := range paths {
			if _, err := os.Stat(path); err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return GateResult{}, false, fmt.Errorf("the reports path %s: no such file or directory", path)
				}
				return GateResult{}, false, fmt.Errorf("the reports path %s: %w", path, err)
			}
		}
		ev := EvaluateReports(domain, p, since)
		wopt := opt
		wopt.Rank, wopt.Conflict = ev.Rank, ev.Conflict
		_, errs := tlsrpt.Walk(ctx, paths, wopt, ev.Add)
		if err := ctx.Err(); err != nil {
			return GateResult{}, false, err
		}
		for _, e := range errs {
			ev.FileError(e)
		}
		g, found := ev.Gate()
		return g, found, nil
	}
}

// Evidence is the evidence gate's reading of reports, one report at a
// time (it keeps counters, never the reports). ReportsEvidence drives it
// over files; the wizard or a receiver can feed it reports it already has.
type Evidence struct {
	domain string
	policy *Policy
	since  time.Time
	// Reports and Sessions counted for the current policy.
	reports    int
	successful int64
	failed     int64
	orgs       map[string]bool
	groups     map[evKey]*evGroup
	order      []evKey
	older      int // entries of other policies in the window
	badFiles   []string
	nBadFiles  int
	// conflict is the one told for the next report; conflicts those
	// of reports that counted (at most 3 kept), nConflicts their number.
	conflict   *tlsrpt.Conflict
	conflicts  []string
	nConflicts int
}

type evKey struct{ resultType, mx, reason string }

type evGroup struct {
	sessions int64
	ips      []string
	orgs     []string
	first    time.Time
	last     time.Time
}

// EvaluateReports starts the evidence for policy p of domain since since.
func EvaluateReports(domain string, p *Policy, since time.Time) *Evidence {
	return &Evidence{
		domain: domainname.Fold(domain), policy: p, since: since,
		orgs: map[string]bool{}, groups: map[evKey]*evGroup{},
	}
}

// FileError notes a report file that could not be read.
func (ev *Evidence) FileError(e *tlsrpt.FileError) {
	ev.nBadFiles++
	if len(ev.badFiles) < 3 {
		ev.badFiles = append(ev.badFiles, clipText(e.Error(), 160))
	}
}

// current: an entry of the policy under evaluation: type sts, and no
// field its policy-string (or mx-host) states differs from the policy's
// text (otherPolicy). An entry that leaves out which policy it was,
// wholly or in part, is taken as the current one.
func (ev *Evidence) current(p tlsrpt.Policy) bool {
	return p.Type == tlsrpt.PolicySTS && !otherPolicy(p, ev.policy.Text)
}

// otherPolicy: p states a mode (in any case), a max_age or mx patterns
// (policy-string mx lines, else mx-host; compared as a set, folded) that
// differ from those of the policy text. A field left out, or written so
// that it cannot be read (max_age: 1d), is no difference: a failure is
// never explained away by what the reporter did not say.
func otherPolicy(p tlsrpt.Policy, text string) bool {
	cur := tlsrpt.Policy{Type: tlsrpt.PolicySTS, String: strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")}
	if m := p.Mode(); m != "" && !strings.EqualFold(m, cur.Mode()) {
		return true
	}
	if a := p.MaxAge(); a >= 0 && a != cur.MaxAge() {
		return true
	}
	norm := func(ps []string) []string {
		out := make([]string, 0, len(ps))
		for _, s := range ps {
			out = append(out, domainname.Fold(strings.TrimSpace(s)))
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	pats := p.Patterns()
	return len(pats) > 0 && !slices.Equal(norm(pats), norm(cur.Patterns()))
}

// Rank is the failed sessions of r that Add would count against the
// gate: those of entries for the current policy in the window, and the
// policy-host failures of the domain's other entries. tlsrpt.Walk takes
// it as Options.Rank, so that of differing copies of one report the one
// that closes the gate counts. A report whose failures Add would list
// without a count (details without failed-session-count) ranks 1, not
// 0: it closes the gate, so it must outrank a clean copy, never tie
// with it.
func (ev *Evidence) Rank(r *tlsrpt.Report) int64 {
	if !r.DateRange.EndExclusive().After(ev.since) {
		return 0
	}
	var n int64
	closes := false
	for _, res := range r.Policies {
		if res.Policy.Domain != ev.domain {
			continue
		}
		if ev.current(res.Policy) {
			n = satcount.Add(n, res.Failures())
			closes = closes || len(res.FailureDetails) > 0
			continue
		}
		for _, d := range res.FailureDetails {
			if tlsrpt.PolicyHostProblem(d.ResultType) {
				n = satcount.Add(n, d.FailedSessionCount)
				closes = true
			}
		}
	}
	if closes {
		n = max(n, 1)
	}
	return n
}

// Conflict notes that the next report added was read in copies that
// differ (tlsrpt.Walk's Options.Conflict); the gate names it when that
// report counts.
func (ev *Evidence) Conflict(c tlsrpt.Conflict) { ev.conflict = &c }

// Add counts one report (the path is unused; it fits tlsrpt.Walk).
func (ev *Evidence) Add(_ string, r *tlsrpt.Report) {
	c := ev.conflict
	ev.conflict = nil
	if !r.DateRange.EndExclusive().After(ev.since) {
		return
	}
	if c != nil && c.Organization == r.OrganizationName && c.ReportID == r.ReportID && ev.touches(r) {
		ev.nConflicts++
		if len(ev.conflicts) < 3 {
			ev.conflicts = append(ev.conflicts, clipText(fmt.Sprintf("%s %s: %d copies, %d..%d failed sessions", r.OrganizationName, r.ReportID, c.Copies, c.LowestRank, c.Rank), 160))
		}
	}
	counted := false
	for _, res := range r.Policies {
		if res.Policy.Domain != ev.domain {
			continue
		}
		current := ev.current(res.Policy)
		if !current {
			ev.older++
		} else {
			counted = true
			ev.successful = satcount.Add(ev.successful, res.Summary.Successful)
			ev.failed = satcount.Add(ev.failed, res.Summary.Failure)
			if res.Summary.Failure > 0 && len(res.FailureDetails) == 0 {
				// Failures counted but not detailed: still failures.
				ev.addFailure(r, tlsrpt.FailureDetail{ResultType: "(not detailed)", FailedSessionCount: res.Summary.Failure})
			}
		}
		for _, d := range res.FailureDetails {
			if !current && !tlsrpt.PolicyHostProblem(d.ResultType) {
				continue
			}
			ev.addFailure(r, d)
		}
	}
	if counted {
		ev.reports++
		ev.orgs[r.OrganizationName] = true
	}
}

// touches: r has an entry for the domain.
func (ev *Evidence) touches(r *tlsrpt.Report) bool {
	for _, res := range r.Policies {
		if res.Policy.Domain == ev.domain {
			return true
		}
	}
	return false
}

func (ev *Evidence) addFailure(r *tlsrpt.Report, d tlsrpt.FailureDetail) {
	k := evKey{resultType: d.ResultType, mx: d.ReceivingMXHostname, reason: clipText(d.FailureReasonCode, 120)}
	g := ev.groups[k]
	if g == nil {
		if len(ev.groups) >= 50 {
			k = evKey{resultType: d.ResultType, mx: tlsrpt.OtherKey}
			g = ev.groups[k]
		}
		if g == nil {
			g = &evGroup{first: r.DateRange.Day(), last: r.DateRange.Day()}
			ev.groups[k] = g
			ev.order = append(ev.order, k)
		}
	}
	g.sessions = satcount.Add(g.sessions, d.FailedSessionCount)
	if d.ReceivingIP != "" && len(g.ips) < 5 && !slices.Contains(g.ips, d.ReceivingIP) {
		g.ips = append(g.ips, d.ReceivingIP)
	}
	if len(g.orgs) < 5 && !slices.Contains(g.orgs, r.OrganizationName) {
		g.orgs = append(g.orgs, r.OrganizationName)
	}
	if day := r.DateRange.Day(); day.Before(g.first) {
		g.first = day
	} else if day.After(g.last) {
		g.last = day
	}
}

// Cause is the likely cause of failures of resultType at MX mx under a
// policy with patterns, in words.
func Cause(resultType, mx, reason string, patterns []string) string {
	var c string
	uncovered := false
	if mx != "" && mx != tlsrpt.OtherKey {
		_, covered := mtasts.Covering(patterns, mx)
		uncovered = !covered
	}
	switch {
	case tlsrpt.PolicyHostProblem(resultType):
		c = tlsrpt.Describe(resultType) + ": check the domain and fix the policy host"
	case resultType == tlsrpt.ResultValidationFailure && uncovered:
		c = fmt.Sprintf("MX %s is not covered by any mx pattern (%s): under enforce senders refuse it; add a pattern that covers it (STS-SEND-20)", mx, strings.Join(patterns, ", "))
	default:
		c = tlsrpt.Describe(resultType)
		if mx != "" {
			c += " at " + mx
		}
		if uncovered {
			c += fmt.Sprintf("; %s is also not covered by any mx pattern", mx)
		}
	}
	if reason != "" {
		c += " (" + reason + ")"
	}
	return c
}

// Gate is the evidence gate (see ReportsEvidence); found is false when no
// report for the current policy was seen in the window.
func (ev *Evidence) Gate() (GateResult, bool) {
	g := GateResult{Kind: GateEvidence}
	id := ev.policy.ID
	if id == "" {
		id = fmt.Sprintf("%s@%d", ev.policy.Mode, ev.policy.MaxAge)
	}
	sinceS := ev.since.UTC().Format(time.RFC3339)
	var notes []string
	if ev.older > 0 {
		notes = append(notes, fmt.Sprintf("%d report entries of other policies left out", ev.older))
	}
	if ev.nConflicts > 0 {
		notes = append(notes, fmt.Sprintf("%d reports were stored in copies that differ, the copy with the most failures counted: %s", ev.nConflicts, strings.Join(ev.conflicts, "; ")))
	}
	if ev.nBadFiles > 0 {
		notes = append(notes, fmt.Sprintf("%d report files could not be read: %s", ev.nBadFiles, strings.Join(ev.badFiles, "; ")))
	}
	note := ""
	if len(notes) > 0 {
		note = " (" + strings.Join(notes, "; ") + ")"
	}
	var failed int64
	keys := slices.Clone(ev.order)
	slices.SortStableFunc(keys, func(a, b evKey) int {
		return cmp.Compare(ev.groups[b].sessions, ev.groups[a].sessions)
	})
	for _, k := range keys {
		gr := ev.groups[k]
		failed = satcount.Add(failed, gr.sessions)
		name := k.mx
		if name == "" {
			name = "(MX not given)"
		}
		if tlsrpt.PolicyHostProblem(k.resultType) {
			name = txtrecord.PolicyHost(ev.domain)
		}
		days := gr.first.Format("2006-01-02")
		if !gr.last.Equal(gr.first) {
			days += ".." + gr.last.Format("2006-01-02")
		}
		g.Targets = append(g.Targets, TargetStatus{
			Name:   name,
			Addr:   strings.Join(gr.ips, " "),
			State:  StateFailed,
			Detail: fmt.Sprintf("%s failed sessions, %s, reported by %s on %s: %s", satcount.String(gr.sessions), k.resultType, strings.Join(gr.orgs, ", "), days, Cause(k.resultType, k.mx, k.reason, ev.policy.MX)),
		})
	}
	switch {
	case len(keys) > 0:
		g.Reason = fmt.Sprintf("TLS-RPT reports since %s show %s failed sessions under policy %s (%d reports, %s successful sessions): fix the causes below and roll back or wait for clean reports; once a cause is fixed, going on without reports promotes over the old failures%s",
			sinceS, satcount.String(failed), id, ev.reports, satcount.String(ev.successful), note)
		return g, true
	case ev.reports == 0:
		return GateResult{Kind: GateEvidence, Reason: fmt.Sprintf("no TLS-RPT reports since %s for the current policy %s%s; wait for reports, or go on without reports", sinceS, id, note)}, false
	}
	orgs := slices.Sorted(maps.Keys(ev.orgs))
	if len(orgs) > 5 {
		orgs = append(orgs[:5], fmt.Sprintf("%d more", len(ev.orgs)-5))
	}
	g.Open = true
	g.Reason = fmt.Sprintf("TLS-RPT reports since %s: %d reports from %s, %s sessions, no failures under policy %s%s",
		sinceS, ev.reports, strings.Join(orgs, ", "), satcount.String(satcount.Add(ev.successful, ev.failed)), id, note)
	return g, true
}

// clipText keeps n runes of s and marks a cut with "..."; in a cut prefix
// bytes that are not UTF-8 become U+FFFD, as they always have.
func clipText(s string, n int) string {
	if p, cut := printable.RunePrefix(s, n); cut {
		return string([]rune(p)) + "..."
	}
	return s
}

// ReportsSummary reads the reports under paths into a digest for domain
// ("" for all) since since (zero for all), with now as the reference for
// silent reporters: what a reports view shows (the wizard's stage screen,
// stspilot reports). Bad files are returned, never fatal; only a done
// ctx stops it early.
func ReportsSummary(ctx context.Context, paths []string, domain string, since, now time.Time) (tlsrpt.DigestResult, tlsrpt.WalkStats, []*tlsrpt.FileError) {
	dg := tlsrpt.NewDigest(tlsrpt.Filter{Domain: domain, Since: since, Now: now})
	st, errs := tlsrpt.Walk(ctx, paths, tlsrpt.Options{Rank: dg.Rank, Conflict: dg.Conflict}, func(_ string, r *tlsrpt.Report) { dg.Add(r) })
	return dg.Result(), st, errs
}
