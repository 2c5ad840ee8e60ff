package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/stspilot/stspilot/checks"
	"github.com/stspilot/stspilot/checks/mtasts"
	"github.com/stspilot/stspilot/internal/clock"
	"github.com/stspilot/stspilot/workflow/journal"
)

func runWatch(t *testing.T, fc *fakeChecker, stdin string, cycles int, args ...string) (int, string, string) {
	t.Helper()
	f, out, errOut := testFactory(stdin, fc)
	root := rootWith(f, func(f *factory) *cobra.Command {
		return newWatchCmd(f, func(ctx context.Context, o *WatchOptions) error {
			o.Clock, o.cycles = clock.NewFake(fixedNow), cycles
			return watchRun(ctx, o)
		})
	})
	code := executeRoot(context.Background(), f, root, args)
	return code, out.String(), errOut.String()
}

func TestWatchPrintsEventsAsJSONLines(t *testing.T) {
	code, out, errOut := runWatch(t, &fakeChecker{}, "", 3, "watch", "--json", "--state-dir", t.TempDir(), "err.example.com", "warn.example.com", "ok.example.com")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("want one event per finding, once: %q", out)
	}
	var e struct {
		Schema, Change, Domain string
		Alert                  bool
		Finding                struct{ ID, Severity, Subject string }
	}
	if err := json.Unmarshal([]byte(lines[0]), &e); err != nil {
		t.Fatal(err)
	}
	if e.Schema != "stspilot.watch/v1" || e.Change != "appeared" || e.Domain != "err.example.com" || !e.Alert ||
		e.Finding.ID != "mx.uncovered" || e.Finding.Severity != "error" || e.Finding.Subject != "mx2.err.example.com" {
		t.Errorf("event: %s", lines[0])
	}
	if !strings.Contains(lines[1], `"domain":"warn.example.com"`) || !strings.Contains(lines[1], `"alert":false`) {
		t.Errorf("second event: %s", lines[1])
	}
}

func TestWatchHumanLines(t *testing.T) {
	code, out, errOut := runWatch(t, &fakeChecker{}, "fail.example.com\n", 1, "watch", "--state-dir", t.TempDir(), "-f", "-", "err.example.com")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "err.example.com  appeared  error  mx.uncovered  mx2.err.example.com") || !strings.Contains(out, "[alert]") {
		t.Errorf("human line: %q", out)
	}
	if !strings.Contains(errOut, "fail.example.com could not be checked") {
		t.Errorf("stderr: %q", errOut)
	}
}

// With no domain and no -f, watch checks every domain that has a journal.
func TestWatchJournalDomains(t *testing.T) {
	state := t.TempDir()
	st, err := journal.Open(state)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"err.example.com", "warn.example.com"} {
		h, err := st.Lock(d)
		if err != nil {
			t.Fatal(err)
		}
		j, _ := journal.New(d)
		if err := h.Save(j); err != nil {
			t.Fatal(err)
		}
		h.Close()
	}
	code, out, errOut := runWatch(t, &fakeChecker{}, "", 1, "watch", "--json", "--state-dir", state)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{`"domain":"err.example.com"`, `"domain":"warn.example.com"`} {
		if !strings.Contains(out, want) {
			t.Errorf("no event with %s: %q", want, out)
		}
	}
	if !strings.Contains(errOut, "watching 2 domains") {
		t.Errorf("stderr: %q", errOut)
	}
}

func TestWatchUsageErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"watch", "--state-dir", dir}, "the journal knows no domain"},
		// A first run, before any rollout made the state directory.
		{[]string{"watch", "--state-dir", filepath.Join(dir, "none")}, "the journal knows no domain"},
		{[]string{"watch", "--on-alert", "/bin/page", "example.com"}, "--on-alert takes exec:CMD"},
		{[]string{"watch", "--interval", "0s", "example.com"}, "--interval"},
		{[]string{"watch", "--concurrency", "0", "example.com"}, "--concurrency"},
		{[]string{"watch", "not a domain"}, "invalid"},
		{[]string{"watch", "--metrics-listen", "localhost", "example.com"}, "--metrics-listen"},
	} {
		code, _, errOut := runWatch(t, &fakeChecker{}, "", 1, c.args...)
		if code != exitUsage || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", c.args, code, errOut, c.want)
		}
	}
}

func TestWatchServesMetrics(t *testing.T) {
	f, _, errOut := testFactory("", &fakeChecker{})
	stop, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr := make(chan string, 1)
	root := rootWith(f, func(f *factory) *cobra.Command {
		return newWatchCmd(f, func(ctx context.Context, o *WatchOptions) error {
			o.MetricsListen = "127.0.0.1:0"
			o.Clock = clock.NewFake(fixedNow)
			o.cycles = 1
			// the fake check runs before the metrics are read: serve
			// them from the run, then stop
			o.afterCycles = func(a string) {
				addr <- a
				<-stop.Done()
			}
			return watchRun(ctx, o)
		})
	})
	done := make(chan int, 1)
	go func() {
		done <- executeRoot(context.Background(), f, root, []string{"watch", "--state-dir", t.TempDir(), "err.example.com"})
	}()
	a := <-addr
	body := httpGet(t, "http://"+a+"/metrics")
	for _, want := range []string{`stspilot_check_up{domain="err.example.com"} 1`, `stspilot_check_findings{domain="err.example.com",severity="error"} 1`, "go_goroutines"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s:\n%s", want, body)
		}
	}
	if got := httpGet(t, "http://"+a+"/healthz"); got != "ok\n" {
		t.Errorf("/healthz: %q", got)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit %d: %s", code, errOut)
	}
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return string(b)
}

// A live policy the ledger does not know (put back by hand after a
// teardown the ledger recorded) may be held by senders for its max_age
// from now, like any served policy: the ledger's horizon, all of it
// passed, hid it, and with it the certificate alerts of that enforce.
func TestWatchHorizonCountsLivePolicyBesideLedger(t *testing.T) {
	state := t.TempDir()
	st, err := journal.Open(state)
	if err != nil {
		t.Fatal(err)
	}
	h, err := st.Lock("example.com")
	if err != nil {
		t.Fatal(err)
	}
	j, _ := journal.New("example.com")
	j.Ledger = []journal.LedgerPolicy{{
		Hash: journal.PolicyHash("old"), ID: "old1", PolicyTerms: journal.PolicyTerms{Mode: "enforce", MaxAge: 86400, MX: []string{"mx.example.com"}},
		PublishedAt: journal.Stamp(fixedNow.Add(-60 * 24 * time.Hour)), ReplacedAt: journal.Stamp(fixedNow.Add(-30 * 24 * time.Hour)),
	}}
	if err := h.Save(j); err != nil {
		t.Fatal(err)
	}
	h.Close()
	rep := &checks.Report{Domain: "example.com", CheckedAt: fixedNow, Live: &checks.Live{
		Policy: &mtasts.Policy{Mode: mtasts.ModeEnforce, MaxAge: 604800, MX: []string{"mx.example.com"}},
	}}
	got := journalHorizon(st)("example.com", rep, fixedNow)
	if want := fixedNow.Add(7 * 24 * time.Hour); !got["enforce"].Equal(want) {
		t.Errorf("enforce horizon %v, want the live policy's max_age from now, %v", got["enforce"], want)
	}
	// The ledger's horizon stands when it is the later one.
	rep.Live.Policy.MaxAge = 60
	if got := journalHorizon(st)("example.com", rep, fixedNow.Add(-30*24*time.Hour)); !got["enforce"].Equal(fixedNow.Add(-29 * 24 * time.Hour)) {
		t.Errorf("enforce horizon %v, want the ledger's", got["enforce"])
	}
}
