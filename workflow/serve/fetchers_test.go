package serve

import (
	"bytes"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stspilot/stspilot/workflow"
)

// The access log serve writes is what status reads: the fetches of the
// live id since it was published, by sender class.
func TestReadFetchersFromAccessLog(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	var buf bytes.Buffer
	l := NewAccessLog(&buf)
	pub := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return pub.Add(d) }
	for _, e := range []AccessEntry{
		{Time: at(time.Minute), Status: 200, UserAgent: "Google-SMTP-STS", Domain: "a.test", PolicyID: "new"},
		{Time: at(2 * time.Minute), Status: 200, UserAgent: "Google-SMTP-STS", Domain: "a.test", PolicyID: "new"},
		{Time: at(3 * time.Minute), Status: 200, UserAgent: "", Domain: "a.test", PolicyID: "new"},
		{Time: at(-time.Minute), Status: 200, UserAgent: "Go-http-client/1.1", Domain: "a.test", PolicyID: "new"}, // before publication
		{Time: at(time.Minute), Status: 200, UserAgent: "Go-http-client/1.1", Domain: "a.test", PolicyID: "old"},  // another id
		{Time: at(time.Minute), Status: 200, UserAgent: "Go-http-client/1.1", Domain: "b.test", PolicyID: "new"},  // another domain
		{Time: at(time.Minute), Status: 404, UserAgent: "postfix-tlspol/1.0", Host: "mta-sts.a.test"},
		{Time: at(4 * time.Minute), Status: 200, UserAgent: "postfix-mta-sts-resolver", Domain: "a.test", PolicyID: "new"},
	} {
		l.Log(e)
	}
	buf.WriteString("not json\n" + strings.Repeat("x", 100<<10) + "\n")
	l.Log(AccessEntry{Time: at(5 * time.Minute), Status: 200, UserAgent: "Mozilla/5.0", Domain: "a.test", PolicyID: "new"})
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFetchers(path, "a.test", "new", pub)
	if err != nil {
		t.Fatal(err)
	}
	want := map[SenderClass]int{SenderGoogle: 2, SenderMicrosoft: 1, SenderPMSR: 1, SenderBrowser: 1}
	for _, c := range SenderClasses() {
		if got.Counts[c] != want[c] {
			t.Errorf("%s: %d fetches, want %d", c, got.Counts[c], want[c])
		}
	}
	if got.Truncated {
		t.Error("a small log read as truncated")
	}
	if _, err := ReadFetchers(filepath.Join(dir, "none"), "a.test", "new", pub); err == nil || !strings.HasPrefix(err.Error(), "open "+filepath.Join(dir, "none")+": ") {
		t.Errorf("a missing log: %v", err)
	}
}

// LiveFetchers is what status and the wizard show: the senders that
// fetched the live id since it went live, from the access log; a
// StatusReport without a live id has none; without a configured log (or
// with stderr, "-") Log is empty; a log that cannot be read says why.
func TestLiveFetchers(t *testing.T) {
	since := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	st := &workflow.StatusReport{Domain: "a.test", Policy: &workflow.Policy{ID: "id1"}, LiveSince: &since}
	for _, path := range []string{"", "-"} {
		if lf := LiveFetchers(st, path); lf == nil || lf.Log != "" || lf.ID != "id1" || lf.Senders != nil || lf.Error != "" {
			t.Errorf("log %q: %+v", path, lf)
		}
	}
	path := filepath.Join(t.TempDir(), "access.log")
	var buf bytes.Buffer
	l := NewAccessLog(&buf)
	for _, e := range []AccessEntry{
		{Time: since.Add(time.Minute), Status: 200, UserAgent: "Google-SMTP-STS", Domain: "a.test", PolicyID: "id1"},
		{Time: since.Add(time.Hour), Status: 200, UserAgent: "Google-SMTP-STS", Domain: "a.test", PolicyID: "id1"},
		{Time: since.Add(time.Hour), Status: 200, UserAgent: "Go-http-client/2.0", Domain: "a.test", PolicyID: "id1"},
		{Time: since.Add(-time.Minute), Status: 200, UserAgent: "", Domain: "a.test", PolicyID: "id1"}, // before it went live
		{Time: since.Add(time.Minute), Status: 200, UserAgent: "", Domain: "a.test", PolicyID: "id0"},  // the id before
	} {
		l.Log(e)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	lf := LiveFetchers(st, path)
	if want := map[string]int{"google": 2, "go": 1}; lf == nil || lf.Log != path || lf.Error != "" || !maps.Equal(lf.Senders, want) {
		t.Errorf("with a log: %+v, want senders %v", lf, want)
	}
	if lf := LiveFetchers(&workflow.StatusReport{Domain: "a.test"}, path); lf != nil {
		t.Errorf("no live id: %+v", lf)
	}
	missing := filepath.Join(t.TempDir(), "none.log")
	if lf := LiveFetchers(st, missing); lf == nil || lf.Log != missing || lf.Error == "" || lf.Senders != nil {
		t.Errorf("a missing log: %+v", lf)
	}
}
