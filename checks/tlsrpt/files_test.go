package tlsrpt

import (
	"context"
	"errors"
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
