package serve

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
	if _, err := ReadFetchers(filepath.Join(dir, "none"), "a.test", "new", pub); err == nil {
		t.Error("a missing log read without error")
	}
}
