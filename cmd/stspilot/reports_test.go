package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stspilot/stspilot/workflow"
	"github.com/stspilot/stspilot/workflow/journal"
)

// The report corpus of checks/tlsrpt, written for the project.
var reportCorpus = filepath.Join("..", "..", "checks", "tlsrpt", "testdata", "reports")

// reportsEnv points the config and state directories at empty temporary
// ones, so that a developer's own files never leak into a test.
func reportsEnv(t *testing.T) string {
	t.Helper()
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	state := t.TempDir()
	t.Setenv("XDG_STATE_HOME", state)
	return state
}

func TestReportsJSON(t *testing.T) {
	state := reportsEnv(t)
	// A journal whose policy-write entry is Google's reported policy in
	// another line order: its id names the policy (SamePolicy).
	j, err := journal.New("example.net")
	if err != nil {
		t.Fatal(err)
	}
	j.Append(journal.Entry{
		Kind: journal.KindPolicyWrite, Status: journal.Done, Name: "https://mta-sts.example.net/.well-known/mta-sts.txt",
		PolicyText: "version: STSv1\r\nmode: testing\r\nmax_age: 86400\r\nmx: *.mx.microsoft\r\nmx: mx1.example.net\r\n", PolicyID: "20261119000000abcdefgh",
	}, fixedNow)
	data, err := journal.Encode(j)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(state, "example.net.json"), data, 0o600)

	code, out, errOut := runCmd(t, &fakeChecker{}, "", "reports", "--json", "--domain", "Example.NET", "--state-dir", state, filepath.Join(reportCorpus, "maildir"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var doc struct {
		Schema  string
		Stats   struct{ Files, Reports, Duplicates, Skipped int }
		Errors  []struct{ Path, Error string }
		Summary struct {
			Domain       string
			Reports      int
			Failed       int64 `json:"failed_sessions"`
			ByResultType []struct {
				Key      string
				Sessions int64
			} `json:"by_result_type"`
			Policies []struct {
				Type, Mode, ID string
				MX             []string
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if doc.Schema != ReportsSchema || doc.Stats.Files != 3 || doc.Stats.Duplicates != 1 || doc.Stats.Skipped != 1 || len(doc.Errors) != 0 {
		t.Errorf("doc %+v", doc)
	}
	s := doc.Summary
	if s.Domain != "example.net" || s.Reports != 2 || s.Failed != 7 || len(s.ByResultType) != 1 || s.ByResultType[0].Key != "validation-failure" {
		t.Errorf("summary %+v", s)
	}
	ids := map[string]string{}
	for _, p := range s.Policies {
		ids[p.Type] = p.ID
	}
	if ids["sts"] != "20261119000000abcdefgh" || ids["no-policy-found"] != "" {
		t.Errorf("policies %+v", s.Policies)
	}
}

// Unreadable files: exit 1, and everything else still printed.
func TestReportsText(t *testing.T) {
	reportsEnv(t)
	code, out, errOut := runCmd(t, &fakeChecker{}, "", "reports", "--domain", "example.net", reportCorpus, filepath.Join(reportCorpus, "missing"))
	if code != exitFailure {
		t.Errorf("exit %d, want 1", code)
	}
	for _, want := range []string{
		"TLS-RPT reports for example.net, 2026-11-20 .. 2026-11-20 (1 day)",
		"Sessions per day (# successful, x failed)",
		"validation-failure (validation failed: often an MX that no mx pattern covers)",
		"example-net.h-v1.mx.microsoft",
		"Reporters gone silent",
		"hostile/truncated.json.gz: gzip: truncated stream",
		"missing: no such file or directory",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b") {
		t.Error("escape sequences off a terminal")
	}
	if !strings.Contains(errOut, "could not be read") {
		t.Errorf("stderr %q", errOut)
	}
}

// Report content never reaches the terminal raw (RPT-JSON-13).
func TestReportsHostileText(t *testing.T) {
	reportsEnv(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "r.json"), []byte(`{"organization-name":"Evil\u001b[2J\u001b]0;pwned\u0007","report-id":"1","date-range":{"start-datetime":"2026-11-20T00:00:00Z","end-datetime":"2026-11-20T23:59:59Z"},"policies":[{"policy":{"policy-type":"sts","policy-domain":"example.net"},"summary":{"total-successful-session-count":1,"total-failure-session-count":1},"failure-details":[{"result-type":"x\u001b[31m","receiving-mx-hostname":"mx\r\n.example.net","failed-session-count":1}]}]}`), 0o600)
	code, out, _ := runCmd(t, &fakeChecker{}, "", "reports", dir)
	if code != 0 || strings.ContainsAny(out, "\x1b\x07\r") || !strings.Contains(out, `Evil\x1b[2J`) || !strings.Contains(out, `mx\x0d\x0a.example.net`) {
		t.Errorf("exit %d, output %q", code, out)
	}
}

func TestReportsUsage(t *testing.T) {
	reportsEnv(t)
	for _, args := range [][]string{
		{"reports"},
		{"reports", "--since", "yesterday", "x"},
		{"reports", "--domain", "not a domain", "x"},
	} {
		if code, _, _ := runCmd(t, &fakeChecker{}, "", args...); code != exitUsage {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
}

// Without PATH: the config's reports path and STATE/reports (stspilot serve).
func TestReportsDefaultPaths(t *testing.T) {
	state := reportsEnv(t)
	got := defaultReportPaths("/cfg/reports", state)
	if len(got) != 1 || got[0] != "/cfg/reports" {
		t.Errorf("%q", got)
	}
	os.MkdirAll(filepath.Join(state, "reports", "Google_Inc."), 0o700)
	got = defaultReportPaths("", state)
	if len(got) != 1 || got[0] != filepath.Join(state, "reports") {
		t.Errorf("%q", got)
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"14d":                  now.AddDate(0, 0, -14),
		"36h":                  now.Add(-36 * time.Hour),
		"2026-11-01":           time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
		"2026-11-01T10:00:00Z": time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC),
	} {
		got, err := parseSince(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	for _, in := range []string{"", "-3d", "soon", "1.5d"} {
		if _, err := parseSince(in, now); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

// --reports and the config key reports reach the engine of promote and
// plan; without them the engine has no evidence configured.
func TestReportsFlagReachesEngine(t *testing.T) {
	w := &cannedWorld{mx: []string{"mx1.example.test"}}
	f, _, _ := cannedFactory(t, w)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config")
	os.WriteFile(cfg, []byte("reports = /var/tlsrpt\n"), 0o644)
	var got [][]string
	inner := f.NewEngine
	f.NewEngine = func(ctx context.Context, o *WorkflowOptions) (*workflow.Engine, error) {
		got = append(got, o.Reports)
		return inner(ctx, o)
	}
	execute(context.Background(), f, []string{"plan", "promote", "example.test", "--reports", "/a", "--reports", "/b"})
	execute(context.Background(), f, []string{"promote", "example.test", "--config", cfg, "--yes"})
	execute(context.Background(), f, []string{"promote", "example.test", "--config", cfg, "--reports", "/c", "--yes"})
	if len(got) != 3 || strings.Join(got[0], ",") != "/a,/b" || strings.Join(got[1], ",") != "/var/tlsrpt" || strings.Join(got[2], ",") != "/c" {
		t.Errorf("reports seen by the engine: %q", got)
	}
}

// TestReportsNewestDays: the chart of the corpus, whose oldest report is
// ten years before the others, ends with the newest days (it used to stop
// ten years after the oldest, leaving them out).
func TestReportsNewestDays(t *testing.T) {
	reportsEnv(t)
	_, out, _ := runCmd(t, &fakeChecker{}, "", "reports", reportCorpus)
	for _, want := range []string{"  2016-04-01  ", "  2016-04-02  ... 3884 days without a report, to 2026-11-19", "  2026-11-20  ", "  2026-11-21  "} {
		if !strings.Contains(out, want) {
			t.Errorf("lacks %q:\n%s", want, out)
		}
	}
	_, out, _ = runCmd(t, &fakeChecker{}, "", "reports", "--since", "400d", reportCorpus)
	if !strings.Contains(out, "  2026-11-20  ") || !strings.Contains(out, "  2026-11-21  ") || strings.Contains(out, "2016-04-01") {
		t.Errorf("--since 400d:\n%s", out)
	}
}

// TestReportsNothingFound: an empty directory exits 0 and says that no
// report was found and what stspilot looks for; a .json.gz that is not
// gzip says so.
func TestReportsNothingFound(t *testing.T) {
	reportsEnv(t)
	dir := t.TempDir()
	code, _, errOut := runCmd(t, &fakeChecker{}, "", "reports", dir)
	if code != exitOK || !strings.Contains(errOut, "found no TLS-RPT reports in "+dir) || !strings.Contains(errOut, ".json.gz") || !strings.Contains(errOut, "Maildir") {
		t.Errorf("empty directory: exit %d, %q", code, errOut)
	}
	bad := filepath.Join(dir, "garbage.json.gz")
	os.WriteFile(bad, []byte("this is no gzip"), 0o600)
	code, out, errOut := runCmd(t, &fakeChecker{}, "", "reports", bad)
	if code != exitFailure || !strings.Contains(out, "not gzip") || strings.Contains(errOut, "found no") {
		t.Errorf("garbage .json.gz: exit %d\n%s%s", code, out, errOut)
	}
}

// Issue 14.1: copies of one report that differ count once, by the copy
// with the most failures, and the conflict is in the text and the JSON
// (stats.conflicts, summary.conflicts).
func TestReportsConflictingCopies(t *testing.T) {
	reportsEnv(t)
	dir := t.TempDir()
	copyOf := func(failed int) string {
		det := ""
		if failed > 0 {
			det = `,"failure-details":[{"result-type":"certificate-expired","receiving-mx-hostname":"mx1.example.net","failed-session-count":` + itoa(failed) + `}]`
		}
		return `{"organization-name":"Google Inc.","report-id":"R","date-range":{"start-datetime":"2026-11-28T00:00:00Z","end-datetime":"2026-11-28T23:59:59Z"},` +
			`"policies":[{"policy":{"policy-type":"sts","policy-domain":"example.net"},"summary":{"total-successful-session-count":1763,"total-failure-session-count":` + itoa(failed) + `}` + det + `}]}`
	}
	os.WriteFile(filepath.Join(dir, "R.json"), []byte(copyOf(37)), 0o600)
	os.WriteFile(filepath.Join(dir, "0-forged.json"), []byte(copyOf(0)), 0o600)
	code, out, errOut := runCmd(t, &fakeChecker{}, "", "reports", "--json", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var doc struct {
		Stats   struct{ Reports, Duplicates, Conflicts int }
		Summary struct {
			Failed    int64 `json:"failed_sessions"`
			Conflicts []struct {
				Organization string
				ReportID     string `json:"report_id"`
				Copies       int
				Path         string
				Rank         int64
				LowestRank   int64 `json:"lowest_rank"`
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	c := doc.Summary.Conflicts
	if doc.Stats.Reports != 1 || doc.Stats.Conflicts != 1 || doc.Summary.Failed != 37 || len(c) != 1 ||
		c[0].Organization != "Google Inc." || c[0].ReportID != "R" || c[0].Copies != 2 || filepath.Base(c[0].Path) != "R.json" || c[0].Rank != 37 || c[0].LowestRank != 0 {
		t.Errorf("doc %+v", doc)
	}
	_, out, _ = runCmd(t, &fakeChecker{}, "", "reports", dir)
	for _, want := range []string{"1 report in copies that differ, the one with the most failures counted", "Reports stored in copies that differ", "2 copies, 0 to 37 failed sessions"} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
