package serve

import (
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A fetch of an unchanged policy is answered from memory: while the
// publish directory is watched (Linux) and reports no change, requests do
// not look at the files. A publish, a removal and a publish after it are
// each served on the next request on the same kept-alive connection, with
// the clock standing still (so only the watch can have told); and once
// MaxUnlooked has passed since the last look, the next request looks.
func TestUnchangedPolicyIsServedFromMemory(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the directories are watched on Linux only; elsewhere every request looks at the files")
	}
	var clock atomic.Int64
	clock.Store(time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC).UnixNano())
	old := now
	now = func() time.Time { return time.Unix(0, clock.Load()) }
	t.Cleanup(func() { now = old })

	state := t.TempDir()
	publishID(t, state, "a.test", []byte(policyA), "20261206120000abcdefgh")
	audit := &auditFiles{}
	pol := NewPolicies(state)
	pol.fsys = audit
	logBuf := &syncBuffer{}
	r := start(t, Config{StateDir: state, Policies: pol, Log: NewAccessLog(logBuf)}, []string{"mta-sts.a.test"})
	c := r.client(false)
	url := "https://mta-sts.a.test/.well-known/mta-sts.txt"
	looks := func() int {
		audit.mu.Lock()
		defer audit.mu.Unlock()
		return len(audit.paths)
	}
	fetch := func(what, want string, status int) {
		t.Helper()
		resp, body := get(t, c, "GET", url, nil)
		if resp.StatusCode != status || status == 200 && body != want {
			t.Fatalf("%s: %d %q, want %d %q", what, resp.StatusCode, body, status, want)
		}
	}
	fetch("first fetch", policyA, 200)
	n := looks()
	for range 20 {
		fetch("unchanged", policyA, 200)
	}
	if d := looks() - n; d != 0 {
		t.Errorf("20 fetches of an unchanged policy looked at the files %d times, want 0", d)
	}
	next := strings.Replace(policyA, "testing", "enforce", 1)
	publishID(t, state, "a.test", []byte(next), "20261206130000bcdefghi")
	fetch("after a publish", next, 200)
	if _, err := (&serveRemover{state}).remove("a.test"); err != nil {
		t.Fatal(err)
	}
	fetch("after a removal", "", 404)
	publishID(t, state, "a.test", []byte(policyA), "20261206140000cdefghij")
	fetch("after a publish after the removal", policyA, 200)
	fetch("unchanged", policyA, 200)
	n = looks()
	fetch("unchanged", policyA, 200)
	if d := looks() - n; d != 0 {
		t.Errorf("a fetch of the republished policy looked at the files %d times, want 0", d)
	}
	clock.Add(int64(MaxUnlooked))
	fetch("MaxUnlooked later", policyA, 200)
	if looks() == n {
		t.Errorf("a fetch MaxUnlooked after the last look did not look at the files")
	}
	want := []string{"20261206120000abcdefgh", "20261206130000bcdefghi", "20261206140000cdefghij"}
	ids := policyIDs(t, logBuf.String(), "a.test")
	if len(ids) != 26 || ids[0] != want[0] || ids[21] != want[1] || ids[22] != want[2] || ids[25] != want[2] {
		t.Errorf("policy ids in the log %q, want 21 of %s, then %s, then 4 of %s", ids, want[0], want[1], want[2])
	}
}
