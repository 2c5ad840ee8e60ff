package serve

import (
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stspilot/stspilot/workflow"
)

// auditFiles records every path Policies touches.
type auditFiles struct {
	mu    sync.Mutex
	paths []string
}

func (a *auditFiles) note(p string) {
	a.mu.Lock()
	a.paths = append(a.paths, p)
	a.mu.Unlock()
}

func (a *auditFiles) Open(p string) (*os.File, error) { a.note(p); return os.Open(p) }
func (a *auditFiles) Stat(p string) (fs.FileInfo, error) {
	a.note(p)
	return os.Stat(p)
}

func (a *auditFiles) ReadDir(p string) ([]fs.DirEntry, error) {
	a.note(p)
	return os.ReadDir(p)
}

func (a *auditFiles) Watch(w *dirWatch, p *Policies, dir, domain string, root bool) (ok, missing bool) {
	a.note(dir)
	return osFiles{}.Watch(w, p, dir, domain, root)
}

// Serve may run as a user that cannot read the journals (docs/serve.md):
// every file it touches to serve policies is under STATE/publish (or the
// earlier layout's STATE/serve), never a journal, a lock file or the state
// directory itself, and the id it logs comes from the id file.
func TestServeTouchesOnlyThePublishDir(t *testing.T) {
	state := t.TempDir()
	publishID(t, state, "a.test", []byte(policyA), "20261206120000abcdefgh")
	setJournalPolicy(t, state, "a.test", policyA, "20261206110000zzzzzzzz")
	setJournalPolicy(t, state, "c.test", policyB, "20261206110000yyyyyyyy")
	os.MkdirAll(filepath.Join(state, "serve", "b.test"), 0o755) // the earlier layout
	os.WriteFile(filepath.Join(state, "serve", "b.test", "mta-sts.txt"), []byte(policyB), 0o644)
	// The journals as the operator leaves them: 0600 in a 0700 directory
	// owned by another user (when the test may chown).
	if os.Geteuid() == 0 {
		ents, _ := os.ReadDir(state)
		for _, e := range ents {
			if !e.IsDir() {
				os.Chown(filepath.Join(state, e.Name()), 65534, 65534)
				os.Chmod(filepath.Join(state, e.Name()), 0o600)
			}
		}
	}
	audit := &auditFiles{}
	pol := NewPolicies(state)
	pol.fsys = audit
	var warnings []string
	pol.Warn = func(m string) { warnings = append(warnings, m) }
	logBuf := &syncBuffer{}
	r := start(t, Config{StateDir: state, Policies: pol, Log: NewAccessLog(logBuf)}, []string{"mta-sts.a.test", "mta-sts.b.test", "mta-sts.c.test"})
	c := r.client(false)
	for _, d := range []string{"a.test", "b.test", "c.test", "a.test", "b.test"} {
		get(t, c, "GET", "https://mta-sts."+d+"/.well-known/mta-sts.txt", nil)
	}
	if ds, err := pol.Domains(); err != nil || strings.Join(ds, ",") != "a.test,b.test" {
		t.Errorf("Domains = %v %v", ds, err)
	}
	allowed := []string{filepath.Join(state, "publish"), filepath.Join(state, "serve")}
	for _, p := range audit.paths {
		ok := false
		for _, a := range allowed {
			ok = ok || p == a || strings.HasPrefix(p, a+string(filepath.Separator))
		}
		if !ok || strings.HasSuffix(p, ".json") && filepath.Base(p) != workflow.ServeMetaFile {
			t.Errorf("serve touched %s, outside %v", p, allowed)
		}
	}
	if len(audit.paths) == 0 {
		t.Fatal("the audit saw no file access")
	}
	if ids := policyIDs(t, logBuf.String(), "a.test"); strings.Join(ids, ",") != "20261206120000abcdefgh,20261206120000abcdefgh" {
		t.Errorf("a.test ids %q, want the id file's", ids)
	}
	if ids := policyIDs(t, logBuf.String(), "b.test"); strings.Join(ids, ",") != "," {
		t.Errorf("b.test (earlier layout) ids %q, want none", ids)
	}
	if ids := policyIDs(t, logBuf.String(), "c.test"); len(ids) != 0 {
		t.Errorf("c.test has only a journal, yet was served: %q", ids)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "b.test") || !strings.Contains(warnings[0], filepath.Join(state, "serve", "b.test")) {
		t.Errorf("warnings %q, want one about b.test in the earlier layout", warnings)
	}
}

// The serve package's own code never opens a journal: it does not import
// the journal package at all.
func TestServeImportsNoJournal(t *testing.T) {
	ents, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		n := e.Name()
		if !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), n, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range f.Imports {
			if p, _ := strconv.Unquote(im.Path.Value); strings.HasSuffix(p, "/workflow/journal") {
				t.Errorf("%s imports %s: serve must not read journals", n, p)
			}
		}
	}
}

// The id is believed only for bytes with the id file's hash: a mismatched,
// malformed or oversized id file serves the bytes without an id, and
// between the publisher's two renames (new id file, old policy) the old
// bytes keep the id verified for them.
func TestIDFileMustMatchTheBytes(t *testing.T) {
	state := t.TempDir()
	p := NewPolicies(state)
	publishID(t, state, "a.test", []byte(policyA), "20261206120000abcdefgh")
	lookup := func(wantID string) {
		t.Helper()
		pol, err := p.Lookup("a.test")
		if err != nil || pol.ID != wantID || pol.Legacy {
			t.Errorf("Lookup: id %q legacy %v err %v, want id %q", pol.ID, pol.Legacy, err, wantID)
		}
	}
	lookup("20261206120000abcdefgh")
	meta := filepath.Join(state, "publish", "a.test", "policy.json")
	// The publisher's first rename of the next version: its id file beside
	// the old bytes.
	writeMeta(t, meta, `{"id":"20261206130000bcdefghi","sha256":"`+workflow.PolicySHA256([]byte(policyB))+`"}`)
	lookup("20261206120000abcdefgh")
	// A fresh reader does not know the old bytes' id: none rather than a
	// wrong one.
	if pol, _ := NewPolicies(state).Lookup("a.test"); pol.ID != "" {
		t.Errorf("fresh reader with a mismatched id file: id %q, want none", pol.ID)
	}
	// The second rename: the new bytes, whose id file is already there.
	os.WriteFile(filepath.Join(state, "publish", "a.test", ".tmp"), []byte(policyB), 0o640)
	os.Rename(filepath.Join(state, "publish", "a.test", ".tmp"), filepath.Join(state, "publish", "a.test", "mta-sts.txt"))
	lookup("20261206130000bcdefghi")
	for _, bad := range []string{
		"garbage", `{"id":"bad id","sha256":"` + workflow.PolicySHA256([]byte(policyB)) + `"}`,
		`{"id":"x","sha256":"` + workflow.PolicySHA256([]byte(policyB)) + `"}` + strings.Repeat(" ", workflow.MaxServeMetaSize),
	} {
		writeMeta(t, meta, bad)
		if pol, err := NewPolicies(state).Lookup("a.test"); err != nil || pol.ID != "" || string(pol.Data) != policyB {
			t.Errorf("id file %.40q: %q %v, want the policy served without an id", bad, pol.ID, err)
		}
	}
	os.Remove(meta)
	if pol, err := NewPolicies(state).Lookup("a.test"); err != nil || pol.ID != "" || string(pol.Data) != policyB {
		t.Errorf("no id file: %q %v", pol.ID, err)
	}
}

func writeMeta(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// Migration: a state directory of the earlier layout is served from
// STATE/serve (read-only, without ids) until a workflow publishes the
// domain again; from then on STATE/publish wins.
func TestEarlierLayoutIsServedUntilRepublished(t *testing.T) {
	state := t.TempDir()
	old := filepath.Join(state, "serve", "a.test", "mta-sts.txt")
	os.MkdirAll(filepath.Dir(old), 0o755)
	os.WriteFile(old, []byte(policyA), 0o644)
	os.Chmod(old, 0o444)
	p := NewPolicies(state)
	var warned int
	p.Warn = func(string) { warned++ }
	for range 3 {
		if pol, err := p.Lookup("a.test"); err != nil || string(pol.Data) != policyA || pol.ID != "" || !pol.Legacy {
			t.Fatalf("earlier layout: %+v %v", pol, err)
		}
	}
	if warned != 1 {
		t.Errorf("warned %d times, want once", warned)
	}
	if ds, _ := p.Domains(); strings.Join(ds, ",") != "a.test" {
		t.Errorf("Domains = %v", ds)
	}
	publishID(t, state, "a.test", []byte(policyB), "20261206120000abcdefgh")
	if pol, err := p.Lookup("a.test"); err != nil || string(pol.Data) != policyB || pol.ID != "20261206120000abcdefgh" || pol.Legacy {
		t.Errorf("after a publish: %+v %v", pol, err)
	}
	// Serve only read the earlier layout: its file is as it was, apart from
	// the publisher's copy.
	if b, _ := os.ReadFile(old); string(b) != policyB {
		t.Errorf("the publisher did not keep the earlier layout's copy current: %q", b)
	}
}

// Reports go to ReportsDir, readable by the group (the operator's
// `stspilot reports`), and nothing is written under the state directory.
func TestReportsDir(t *testing.T) {
	state := t.TempDir()
	reports := filepath.Join(t.TempDir(), "rpt")
	if err := os.Mkdir(reports, 0o750); err != nil {
		t.Fatal(err)
	}
	rc := &Receiver{StateDir: state, Dir: reports, Validate: func(io.Reader, int64) (ReportMeta, error) {
		return ReportMeta{Org: "Org", ReportID: "r1"}, nil
	}}
	rel, created, err := storeBytes(rc, ReportMeta{Org: "Org", ReportID: "r1"}, "a.test", []byte("{}"))
	if err != nil || !created || rel != filepath.Join("rpt", "a.test", "Org", "r1.json.gz") {
		t.Fatalf("store: %q %v %v", rel, created, err)
	}
	fi, err := os.Stat(filepath.Join(reports, "a.test", "Org", "r1.json.gz"))
	if err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("stored report: %v %v, want mode 0640", fi, err)
	}
	if ents, _ := os.ReadDir(state); len(ents) != 0 {
		t.Errorf("the state directory got %d entries", len(ents))
	}
}
