package workflow

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stspilot/stspilot/checks/tlsrpt"
)

// evReport writes a TLS-RPT report (RFC 8460 shape) to dir: org's report
// for the UTC day of day, under the policy text (nil lines: no
// policy-string), with ok sessions and failures ("result-type@mx=count").
func evReport(t *testing.T, dir, org, domain string, day time.Time, policyText string, ok int, failures ...string) {
	t.Helper()
	day = day.UTC().Truncate(24 * time.Hour)
	var lines []string
	var mx []string
	for _, l := range strings.Split(strings.ReplaceAll(policyText, "\r\n", "\n"), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
			if v, ok := strings.CutPrefix(l, "mx: "); ok {
				mx = append(mx, v)
			}
		}
	}
	var det []map[string]any
	total := 0
	for i, f := range failures {
		rt, rest, _ := strings.Cut(f, "@")
		host, n, _ := strings.Cut(rest, "=")
		var c int
		fmt.Sscan(n, &c)
		total += c
		det = append(det, map[string]any{
			"result-type": rt, "sending-mta-ip": fmt.Sprintf("198.51.100.%d", i+1),
			"receiving-mx-hostname": host, "receiving-ip": "192.0.2.25", "failed-session-count": c,
		})
	}
	pol := map[string]any{"policy-type": "sts", "policy-domain": domain, "mx-host": mx}
	if policyText != "" {
		pol["policy-string"] = lines
	}
	r := map[string]any{
		"organization-name": org,
		"date-range":        map[string]string{"start-datetime": day.Format(time.RFC3339), "end-datetime": day.Add(24*time.Hour - time.Second).Format(time.RFC3339)},
		"contact-info":      "tlsrpt@" + strings.ToLower(strings.ReplaceAll(org, " ", "")) + ".example",
		"report-id":         org + day.Format("2006-01-02"),
		"policies": []any{map[string]any{
			"policy":          pol,
			"summary":         map[string]int{"total-successful-session-count": ok, "total-failure-session-count": total},
			"failure-details": det,
		}},
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(dir, fmt.Sprintf("%s!%s!%d.json", strings.ReplaceAll(org, " ", "_"), domain, day.Unix()))
	if err := os.WriteFile(name, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

const evPolicy = "version: STSv1\r\nmode: testing\r\nmx: mx1.example.test\r\nmax_age: 86400\r\n"

func evaluate(t *testing.T, dir string, since time.Time) (GateResult, bool) {
	t.Helper()
	p := &Policy{PolicyTerms: PolicyTerms{Mode: "testing", MaxAge: 86400, MX: []string{"mx1.example.test"}}, Text: evPolicy, ID: "20261101000000abcdefgh"}
	g, found, err := ReportsEvidence([]string{dir}, tlsrpt.Options{})(context.Background(), tDomain, p, since)
	if err != nil {
		t.Fatal(err)
	}
	return g, found
}

func TestEvidenceClean(t *testing.T) {
	dir := t.TempDir()
	since := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	for i := range 5 {
		evReport(t, dir, "Google Inc.", tDomain, since.AddDate(0, 0, i), evPolicy, 100)
	}
	// Reordered lines are the same policy.
	evReport(t, dir, "Microsoft Corporation", tDomain, since.AddDate(0, 0, 2), "mode: testing\nmax_age: 86400\nmx: MX1.example.test\nversion: STSv1", 20)
	// Before the window: not counted (a day that ended before since).
	evReport(t, dir, "Old Reporter", tDomain, since.AddDate(0, 0, -1), evPolicy, 0, "certificate-expired@mx1.example.test=9")
	// Another domain's failures do not count.
	evReport(t, dir, "Google Inc.", "other.test", since, evPolicy, 0, "starttls-not-supported@mx1.other.test=50")
	g, found := evaluate(t, dir, since)
	if !found || !g.Open {
		t.Fatalf("found %v gate %+v", found, g)
	}
	for _, want := range []string{"6 reports", "Google Inc., Microsoft Corporation", "520 sessions", "no failures"} {
		if !strings.Contains(g.Reason, want) {
			t.Errorf("reason %q lacks %q", g.Reason, want)
		}
	}
}

// The refusal names each cause: an MX no pattern covers (STS-SEND-20), a
// certificate problem at a covered MX, failures without details.
func TestEvidenceFailuresGrouped(t *testing.T) {
	dir := t.TempDir()
	since := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	evReport(t, dir, "Google Inc.", tDomain, since, evPolicy, 100, "validation-failure@mx2.example.test=7")
	evReport(t, dir, "Google Inc.", tDomain, since.AddDate(0, 0, 1), evPolicy, 100, "validation-failure@mx2.example.test=3", "certificate-host-mismatch@mx1.example.test=2")
	evReport(t, dir, "Microsoft Corporation", tDomain, since.AddDate(0, 0, 1), evPolicy, 10, "validation-failure@mx2.example.test=1")
	g, found := evaluate(t, dir, since)
	if !found || g.Open || g.NextAt != nil {
		t.Fatalf("found %v gate %+v", found, g)
	}
	if !strings.Contains(g.Reason, "13 failed sessions under policy 20261101000000abcdefgh") {
		t.Errorf("reason %q", g.Reason)
	}
	if len(g.Targets) != 2 {
		t.Fatalf("targets %+v", g.Targets)
	}
	t0, t1 := g.Targets[0], g.Targets[1]
	if t0.Name != "mx2.example.test" || t0.State != StateFailed ||
		!strings.Contains(t0.Detail, "11 failed sessions, validation-failure, reported by Google Inc., Microsoft Corporation on 2026-11-01..2026-11-02") ||
		!strings.Contains(t0.Detail, "MX mx2.example.test is not covered by any mx pattern (mx1.example.test)") {
		t.Errorf("first group %+v", t0)
	}
	if t1.Name != "mx1.example.test" || !strings.Contains(t1.Detail, "certificate does not carry the MX host name at mx1.example.test") ||
		strings.Contains(t1.Detail, "not covered") {
		t.Errorf("second group %+v", t1)
	}
}

// Entries of an older policy (senders that cached it) do not count, except
// policy-host failures, which fail senders whatever they hold.
func TestEvidenceOlderPolicy(t *testing.T) {
	dir := t.TempDir()
	since := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	old := strings.Replace(evPolicy, "max_age: 86400", "max_age: 3600", 1)
	evReport(t, dir, "Google Inc.", tDomain, since, old, 5, "certificate-expired@mx1.example.test=4")
	g, found := evaluate(t, dir, since)
	if found || g.Open {
		t.Fatalf("only an older policy: found %v gate %+v", found, g)
	}
	evReport(t, dir, "Yahoo", tDomain, since, old, 0, "sts-webpki-invalid@=6")
	g, found = evaluate(t, dir, since)
	if !found || g.Open || len(g.Targets) != 1 || g.Targets[0].Name != "mta-sts."+tDomain || !strings.Contains(g.Targets[0].Detail, "certificate of mta-sts.DOMAIN") {
		t.Fatalf("policy-host failure under an older policy: found %v gate %+v", found, g)
	}
}

// A report without policy-string could be the current policy: its
// failures count, never explained away. Failures counted in the summary
// without details still close the gate.
func TestEvidenceUnstatedPolicyAndUndetailed(t *testing.T) {
	dir := t.TempDir()
	since := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	evReport(t, dir, "Terse Mail", tDomain, since, "", 5, "starttls-not-supported@mx1.example.test=1")
	g, found := evaluate(t, dir, since)
	if !found || g.Open || !strings.Contains(g.Targets[0].Detail, "did not offer STARTTLS") {
		t.Fatalf("found %v gate %+v", found, g)
	}
	dir = t.TempDir()
	os.WriteFile(filepath.Join(dir, "r.json"), []byte(`{"organization-name":"o","report-id":"r","date-range":{"start-datetime":"2026-11-02T00:00:00Z","end-datetime":"2026-11-03T00:00:00Z"},
	"policies":[{"policy":{"policy-type":"sts","policy-domain":"example.test"},"summary":{"total-successful-session-count":1,"total-failure-session-count":4}}]}`), 0o600)
	g, found = evaluate(t, dir, since)
	if !found || g.Open || len(g.Targets) != 1 || !strings.Contains(g.Targets[0].Detail, "4 failed sessions, (not detailed)") {
		t.Fatalf("undetailed: found %v gate %+v", found, g)
	}
}

// A bad file is named, never fatal; a missing --reports path is an error.
func TestEvidenceFiles(t *testing.T) {
	dir := t.TempDir()
	since := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	evReport(t, dir, "Google Inc.", tDomain, since, evPolicy, 100)
	os.WriteFile(filepath.Join(dir, "broken.json.gz"), []byte{0x1f, 0x8b, 8, 0, 0}, 0o600)
	g, found := evaluate(t, dir, since)
	if !found || !g.Open || !strings.Contains(g.Reason, "1 report files could not be read") || !strings.Contains(g.Reason, "broken.json.gz") {
		t.Errorf("found %v gate %+v", found, g)
	}
	p := &Policy{PolicyTerms: PolicyTerms{Mode: "testing"}, Text: evPolicy}
	_, _, err := ReportsEvidence([]string{filepath.Join(dir, "nope")}, tlsrpt.Options{})(context.Background(), tDomain, p, since)
	if err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing path: %v", err)
	}
}

// Through the engine with the in-process world: reports with a failure at
// an uncovered MX refuse promote (exit 5, no override); clean reports let
// it climb; no reports in the window refuse with --without-reports.
func TestPromoteEvidenceGate(t *testing.T) {
	h := newHarness(t, hopts{})
	out, _ := h.apply(Request{Workflow: Rollout, RUA: "mailto:tlsrpt@example.test"}, ApplyOptions{})
	if out.Status != StatusDone {
		t.Fatalf("rollout: %+v", out)
	}
	live := h.servedFile()
	start := h.clock.Now()
	dir := t.TempDir()
	h.e.cfg.Evidence = ReportsEvidence([]string{dir}, tlsrpt.Options{})
	h.clock.Advance(15 * 24 * time.Hour)

	// No reports yet.
	out, _ = h.apply(Request{Workflow: Promote}, ApplyOptions{})
	if out.Status != StatusRefused || out.Refusal.Override != CodeWithoutReports || !strings.Contains(out.Refusal.Reason, "no TLS-RPT reports") {
		t.Fatalf("no reports: %+v", out.Refusal)
	}

	before, writes := h.servedFile(), h.dns.writes
	for i := 1; i <= 14; i++ {
		evReport(t, dir, "Google Inc.", tDomain, start.AddDate(0, 0, i), live, 200)
	}
	evReport(t, dir, "Microsoft Corporation", tDomain, start.AddDate(0, 0, 3), live, 50, "validation-failure@mx9.example.test=12")
	out, _ = h.apply(Request{Workflow: Promote}, ApplyOptions{})
	if out.Status != StatusRefused || out.Refusal.Override != "" || len(out.Refusal.Details) != 1 ||
		!strings.Contains(out.Refusal.Details[0], "mx9.example.test is not covered by any mx pattern") {
		t.Fatalf("failures: %+v", out.Refusal)
	}
	if h.servedFile() != before || h.dns.writes != writes {
		t.Fatal("a refused promote changed something")
	}

	// The failing report gone (the operator moved it away after fixing
	// the MX): clean evidence, promote climbs to enforce.
	matches, _ := filepath.Glob(filepath.Join(dir, "Microsoft_Corporation*"))
	for _, m := range matches {
		os.Remove(m)
	}
	out, _ = h.apply(Request{Workflow: Promote}, ApplyOptions{})
	if out.Status != StatusDone || out.Policy.Mode != "enforce" {
		t.Fatalf("clean evidence: %+v", out)
	}
}

func TestReportsSummary(t *testing.T) {
	dir := t.TempDir()
	since := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	evReport(t, dir, "Google Inc.", tDomain, since, evPolicy, 100, "certificate-expired@mx1.example.test=3")
	evReport(t, dir, "Google Inc.", tDomain, since.AddDate(0, 0, -3), evPolicy, 100)
	os.WriteFile(filepath.Join(dir, "bad.json"), []byte("{"), 0o600)
	s, st, errs := ReportsSummary(context.Background(), []string{dir}, tDomain, since, since.AddDate(0, 0, 2))
	if s.Reports != 1 || s.Ignored != 1 || s.Failed != 3 || st.Files != 3 || len(errs) != 1 || len(s.Silent) != 0 {
		t.Errorf("summary %+v stats %+v errors %v", s, st, errs)
	}
}

// Issue 14.1: copies of one report (same organisation and report-id) that
// differ count once, by the copy with the most failures for this gate; a
// copy with more failures elsewhere (another domain) or a clean one
// cannot hide them, and the reason names the conflict.
func TestEvidenceDifferingCopies(t *testing.T) {
	dir := t.TempDir()
	since := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	day := since.AddDate(0, 0, 1)
	evReport(t, dir, "Google Inc.", tDomain, day, evPolicy, 100, "certificate-expired@mx1.example.test=37")
	// The same report-id, failing elsewhere only (a larger total).
	evReport(t, dir, "Google Inc.", "other.test", day, evPolicy, 100, "validation-failure@mx1.other.test=1000")
	// And clean for the domain, in a file that sorts first.
	evReport(t, dir, "Google Inc.", tDomain, day, evPolicy, 137)
	os.Rename(filepath.Join(dir, fmt.Sprintf("Google_Inc.!%s!%d.json", tDomain, day.UTC().Truncate(24*time.Hour).Unix())), filepath.Join(dir, "0-clean.json"))
	evReport(t, dir, "Google Inc.", tDomain, day, evPolicy, 100, "certificate-expired@mx1.example.test=37")
	g, found := evaluate(t, dir, since)
	if !found || g.Open || !strings.Contains(g.Reason, "37 failed sessions") || !strings.Contains(g.Reason, "1 reports were stored in copies that differ") ||
		!strings.Contains(g.Reason, "3 copies, 0..37 failed sessions") || !strings.Contains(g.Reason, "(1 reports") {
		t.Fatalf("found %v gate %+v", found, g)
	}
}

// Issue 14.8: session counts of 2^63-1 in two reports saturate instead of
// wrapping to a negative number; the reason says "more than".
func TestEvidenceSaturatedCounts(t *testing.T) {
	dir := t.TempDir()
	since := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	huge := fmt.Sprint(int64(math.MaxInt64))
	for _, org := range []string{"A", "B"} {
		evReport(t, dir, org, tDomain, since.AddDate(0, 0, 1), evPolicy, math.MaxInt64)
	}
	g, found := evaluate(t, dir, since)
	if !found || !g.Open || !strings.Contains(g.Reason, "more than 9223372036854775806 sessions") {
		t.Errorf("clean: found %v gate %+v", found, g)
	}
	evReport(t, dir, "C", tDomain, since.AddDate(0, 0, 2), evPolicy, 1, "certificate-expired@mx1.example.test="+huge)
	evReport(t, dir, "D", tDomain, since.AddDate(0, 0, 2), evPolicy, 1, "certificate-expired@mx1.example.test="+huge)
	g, _ = evaluate(t, dir, since)
	if g.Open || !strings.Contains(g.Reason, "show more than 9223372036854775806 failed sessions") || regexp.MustCompile(`\s-\d`).MatchString(g.Reason) ||
		len(g.Targets) != 1 || !strings.HasPrefix(g.Targets[0].Detail, "more than 9223372036854775806 failed sessions") {
		t.Errorf("failures: gate %+v", g)
	}
}
