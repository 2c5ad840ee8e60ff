package tlsrpt

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

func corpusPath(p ...string) string {
	return filepath.Join(append([]string{"testdata", "reports"}, p...)...)
}

// RPT-DEL-3, RPT-DEL-12: a multipart/report with an application/tlsrpt+gzip
// part in base64, folded headers and CRLF line ends (Google's shape).
func TestReadFileEML(t *testing.T) {
	rs, err := ReadFile(corpusPath("google-report.eml"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].OrganizationName != "Google Inc." || rs[0].Policies[0].FailureDetails[0].FailedSessionCount != 7 {
		t.Fatalf("reports %+v", rs)
	}
}

// An .eml with both part types, quoted-printable JSON and base64 gzip,
// below a multipart/alternative human part.
func TestReadFileEMLBothParts(t *testing.T) {
	rs, err := ReadFile(corpusPath("both-parts.eml"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var orgs []string
	for _, r := range rs {
		orgs = append(orgs, r.OrganizationName)
	}
	if strings.Join(orgs, ",") != "Microsoft Corporation,Every Type Mail" {
		t.Errorf("orgs %q", orgs)
	}
}

func TestReadFileKinds(t *testing.T) {
	for _, tc := range []struct {
		file, want string
		is         error
	}{
		{"google-style.json.gz", "", nil},
		{"google-style.json", "", nil},
		{"hostile/truncated.json.gz", "gzip: truncated", nil},
		{"hostile/deep.json", "", ErrTooDeep},
		{"hostile/garbage.json", "truncated", ErrNotReport},
		{"hostile/bad-part.eml", "application/tlsrpt+gzip part", nil},
		{"maildir/cur/1795740400.M5P104.mail!2,S", "", ErrNoReport},
	} {
		t.Run(tc.file, func(t *testing.T) {
			rs, err := ReadFile(corpusPath(tc.file), Options{})
			if tc.want == "" && tc.is == nil {
				if err != nil || len(rs) != 1 {
					t.Fatalf("%d reports, %v", len(rs), err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("err = %v, want %q / %v", err, tc.want, tc.is)
			}
		})
	}
}

func TestReadFileCap(t *testing.T) {
	_, err := ReadFile(corpusPath("rfc8460-example.json"), Options{MaxFile: 100})
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("err = %v, want ErrTooLarge", err)
	}
	_, err = ReadFile(corpusPath("google-report.eml"), Options{MaxReport: 100})
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("decompressed part over MaxReport: %v, want ErrTooLarge", err)
	}
}

// Maildir: cur/ and new/ read, tmp/ left alone, other mail skipped, the
// report delivered twice counted once (RPT-DEL-5).
func TestWalkMaildir(t *testing.T) {
	var got []string
	st, errs := Walk(context.Background(), []string{corpusPath("maildir")}, Options{}, func(path string, r *Report) {
		got = append(got, filepath.Base(path)+" "+r.OrganizationName)
	})
	if len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	sort.Strings(got)
	want := []string{
		"1795740000.M1P100.mail!2,S Google Inc.",
		"1795740100.M2P101.mail Every Type Mail",
		"1795740100.M2P101.mail Microsoft Corporation",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("reports\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if st != (WalkStats{Files: 3, Reports: 3, Duplicates: 1, Skipped: 1}) {
		t.Errorf("stats %+v", st)
	}
}

// A bad file never stops the rest; every error names its path; a
// missing path is an error too.
func TestWalkCollectsErrors(t *testing.T) {
	n := 0
	st, errs := Walk(context.Background(), []string{corpusPath(), corpusPath("does-not-exist")}, Options{}, func(string, *Report) { n++ })
	var paths []string
	for _, e := range errs {
		paths = append(paths, filepath.ToSlash(e.Path))
	}
	sort.Strings(paths)
	want := []string{
		"testdata/reports/does-not-exist",
		"testdata/reports/hostile/bad-part.eml",
		"testdata/reports/hostile/deep.json",
		"testdata/reports/hostile/garbage.json",
		"testdata/reports/hostile/truncated.json.gz",
	}
	if strings.Join(paths, "\n") != strings.Join(want, "\n") {
		t.Errorf("error paths\n%s\nwant\n%s", strings.Join(paths, "\n"), strings.Join(want, "\n"))
	}
	// rfc8460, google (json, json.gz, two emls: one report), microsoft,
	// every-type, invalid-utf8 (own org name).
	if n != 5 || st.Reports != 5 {
		t.Errorf("%d reports, stats %+v", n, st)
	}
	// 13 read: 9 at the top, 4 in the Maildir.
	if st.Duplicates != 8 {
		t.Errorf("duplicates %d", st.Duplicates)
	}
}

// An explicitly named file that is not a report is an error, not a skip.
func TestWalkExplicitNonReport(t *testing.T) {
	p := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(p, []byte("hello\n"), 0o600)
	st, errs := Walk(context.Background(), []string{p}, Options{}, func(string, *Report) {})
	if len(errs) != 1 || !errors.Is(errs[0], ErrNoReport) || st.Skipped != 0 {
		t.Errorf("errs %v stats %+v", errs, st)
	}
	_, errs = Walk(context.Background(), []string{filepath.Dir(p)}, Options{}, func(string, *Report) {})
	if len(errs) != 0 {
		t.Errorf("in a directory it is skipped: %v", errs)
	}
}

// A FIFO named on the command line is refused, not opened (which would
// block); inside a directory it is skipped.
func TestWalkFIFO(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "pipe.json")
	if err := mkfifo(p); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	st, errs := Walk(context.Background(), []string{p, dir}, Options{}, func(string, *Report) {})
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "not a regular file") || st.Skipped != 1 {
		t.Errorf("errs %v stats %+v", errs, st)
	}
}

// A symbolic link to a Maildir named as the root is followed; a link to a
// directory found inside is not (no loops).
func TestWalkSymlinkRoot(t *testing.T) {
	abs, _ := filepath.Abs(corpusPath("maildir"))
	dir := t.TempDir()
	link := filepath.Join(dir, "mail")
	if err := os.Symlink(abs, link); err != nil {
		t.Skip("no symlinks here:", err)
	}
	os.Symlink(dir, filepath.Join(dir, "loop"))
	st, errs := Walk(context.Background(), []string{link}, Options{}, func(string, *Report) {})
	if len(errs) != 0 || st.Reports != 3 {
		t.Errorf("through the link: stats %+v errors %v", st, errs)
	}
	st, errs = Walk(context.Background(), []string{dir}, Options{}, func(string, *Report) {})
	if len(errs) != 0 || st.Reports != 0 || st.Skipped != 2 {
		t.Errorf("links inside: stats %+v errors %v", st, errs)
	}
}

// TestReadFileNotGzip: a .json.gz that is not gzip says "not gzip", not
// what parsing its bytes as JSON would say.
func TestReadFileNotGzip(t *testing.T) {
	p := filepath.Join(t.TempDir(), "garbage.json.gz")
	if err := os.WriteFile(p, []byte("abc\x00\x01garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := ReadFile(p, Options{})
	if !errors.Is(err, ErrNotReport) || !strings.Contains(err.Error(), "not gzip") || strings.Contains(err.Error(), "JSON") {
		t.Fatalf("err %v", err)
	}
}

// copyReport is one copy of Google Inc.'s report R for a.test, with
// failed sessions.
func copyReport(failed int) string {
	det := ""
	if failed > 0 {
		det = fmt.Sprintf(`,"failure-details":[{"result-type":"certificate-expired","receiving-mx-hostname":"mx1.a.test","failed-session-count":%d}]`, failed)
	}
	return fmt.Sprintf(`{"organization-name":"Google Inc.","report-id":"R","date-range":{"start-datetime":"2026-11-28T00:00:00Z","end-datetime":"2026-11-28T23:59:59Z"},
"policies":[{"policy":{"policy-type":"sts","policy-domain":"a.test"},"summary":{"total-successful-session-count":100,"total-failure-session-count":%d}%s}]}`, failed, det)
}

// RPT-DEL-5 with differing copies (issue 14.1): of the copies of one
// report, Walk hands on the one with the most failures whatever the
// names and order of the files, and tells the conflict.
func TestWalkConflictChoiceIndependentOfOrder(t *testing.T) {
	for _, names := range [][3]string{{"a.json", "b.json", "c.json"}, {"c.json", "b.json", "a.json"}, {"b.json", "c.json", "a.json"}} {
		dir := t.TempDir()
		for i, failed := range []int{37, 0, 5} {
			if err := os.WriteFile(filepath.Join(dir, names[i]), []byte(copyReport(failed)), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		// The failing copy again, identical: a duplicate, not a conflict.
		os.WriteFile(filepath.Join(dir, "d.json"), []byte(copyReport(37)), 0o600)
		for _, paths := range [][]string{{dir}, {filepath.Join(dir, "d.json"), filepath.Join(dir, names[1]), dir}} {
			var got []string
			var cs []Conflict
			st, errs := Walk(context.Background(), paths, Options{Conflict: func(c Conflict) { cs = append(cs, c) }}, func(path string, r *Report) {
				got = append(got, fmt.Sprint(r.Failures()))
			})
			if len(errs) != 0 || strings.Join(got, ",") != "37" || st.Reports != 1 || st.Conflicts != 1 {
				t.Errorf("%v %v: handed on %v, stats %+v, errors %v", names, paths, got, st, errs)
			}
			if len(cs) != 1 || cs[0].Copies != 3 || cs[0].Rank != 37 || cs[0].LowestRank != 0 || cs[0].Organization != "Google Inc." || cs[0].ReportID != "R" {
				t.Errorf("%v: conflicts %+v", names, cs)
			}
		}
		// A caller's rank decides (here: the fewest failures).
		var got []int64
		Walk(context.Background(), []string{dir}, Options{Rank: func(r *Report) int64 { return -r.Failures() }}, func(_ string, r *Report) {
			got = append(got, r.Failures())
		})
		if len(got) != 1 || got[0] != 0 {
			t.Errorf("%v: with a rank of the fewest failures: %v", names, got)
		}
	}
	// Equal ranks: the same copy whatever the order.
	var first string
	for _, names := range [][2]string{{"a.json", "b.json"}, {"b.json", "a.json"}} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, names[0]), []byte(copyReport(0)), 0o600)
		os.WriteFile(filepath.Join(dir, names[1]), []byte(strings.Replace(copyReport(0), "100", "200", 1)), 0o600)
		var ok int64
		Walk(context.Background(), []string{dir}, Options{}, func(_ string, r *Report) { ok, _ = r.Sessions() })
		if first == "" {
			first = fmt.Sprint(ok)
		} else if fmt.Sprint(ok) != first {
			t.Errorf("equal ranks: %d after %s", ok, first)
		}
	}
}

// countOpens counts the opens of each report file for the rest of the test.
func countOpens(t *testing.T) map[string]int {
	t.Helper()
	opens := map[string]int{}
	t.Cleanup(func() { openReport = openReportFile })
	openReport = func(path string) (*os.File, fs.FileInfo, error) {
		opens[path]++
		return openReportFile(path)
	}
	return opens
}

// Walk reads each file once: the copies it hands on are held from the
// first reading, not read again; past the hold (walkHold, lowered here to
// nothing) the files holding them are read a second time, and Walk hands
// on the same reports, with the same stats and conflicts.
func TestWalkReadsEachFileOnce(t *testing.T) {
	dir := t.TempDir()
	for name, failed := range map[string]int{"a.json": 37, "b.json": 0, "c.json": 5, "d.json": 37} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(copyReport(failed)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"both-parts.eml", "google-style.json.gz", "microsoft-style.json"} {
		b, err := os.ReadFile(corpusPath(name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	walk := func() (string, map[string]int) {
		opens := countOpens(t)
		var got []string
		st, errs := Walk(context.Background(), []string{dir}, Options{Conflict: func(c Conflict) {
			got = append(got, fmt.Sprintf("conflict %s %d", filepath.Base(c.Path), c.Copies))
		}}, func(path string, r *Report) {
			got = append(got, fmt.Sprintf("%s %s %s %d", filepath.Base(path), r.OrganizationName, r.ReportID, r.Failures()))
		})
		if len(errs) != 0 {
			t.Fatalf("errors: %v", errs)
		}
		return fmt.Sprintf("%+v\n%s", st, strings.Join(got, "\n")), opens
	}
	once, opens := walk()
	if len(opens) != 7 {
		t.Fatalf("%d files opened, want 7: %v", len(opens), opens)
	}
	for p, n := range opens {
		if n != 1 {
			t.Errorf("%s opened %d times, want once", filepath.Base(p), n)
		}
	}
	defer func(h int) { walkHold = h }(walkHold)
	walkHold = 0
	twice, opens := walk()
	if once != twice {
		t.Errorf("held:\n%s\nread again:\n%s", once, twice)
	}
	if n := opens[filepath.Join(dir, "a.json")]; n != 2 {
		t.Errorf("past the hold, the chosen copy's file was opened %d times, want twice", n)
	}
	if !strings.Contains(once, "Conflicts:1") || !strings.Contains(once, "conflict a.json 3") {
		t.Errorf("the walk:\n%s", once)
	}
}
