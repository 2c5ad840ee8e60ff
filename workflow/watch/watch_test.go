package watch

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stspilot/stspilot/checks"
	"github.com/stspilot/stspilot/checks/mtasts"
	"github.com/stspilot/stspilot/internal/clock"
	"github.com/stspilot/stspilot/workflow"
)

var t0 = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

func fnd(id, subject string, sev checks.Severity) checks.Finding {
	return checks.Finding{ID: id, Subject: subject, Severity: sev}
}

func TestDiffKeysByIDAndSubject(t *testing.T) {
	first := []checks.Finding{
		fnd("mx.uncovered", "mx2.example.test", checks.SevError),
		fnd("mx.cert-expiring", "mx1.example.test (127.0.0.1)", checks.SevWarn),
		fnd("tlsrpt.missing", "_smtp._tls.example.test", checks.SevWarn),
	}
	ev, set := Diff("example.test", t0, nil, first)
	if len(ev) != 3 || len(set) != 3 {
		t.Fatalf("first check: %d events, %d kept", len(ev), len(set))
	}
	for i, e := range ev {
		if e.Change != Appeared || e.Schema != Schema || e.Domain != "example.test" || e.Finding.ID != first[i].ID {
			t.Errorf("event %d: %+v", i, e)
		}
	}
	if !ev[0].Alert || ev[1].Alert || ev[2].Alert {
		t.Errorf("alerts: %v %v %v", ev[0].Alert, ev[1].Alert, ev[2].Alert)
	}

	second := []checks.Finding{
		fnd("mx.cert-expiring", "mx1.example.test (127.0.0.1)", checks.SevError), // severity up
		fnd("tlsrpt.missing", "_smtp._tls.example.test", checks.SevWarn),         // unchanged
		fnd("mx.uncovered", "mx3.example.test", checks.SevError),                 // same id, other subject
	}
	ev, set = Diff("example.test", t0.Add(time.Hour), set, second)
	want := []struct {
		c       Change
		id, sub string
	}{{Changed, "mx.cert-expiring", "mx1.example.test (127.0.0.1)"}, {Appeared, "mx.uncovered", "mx3.example.test"}, {Cleared, "mx.uncovered", "mx2.example.test"}}
	if len(ev) != len(want) {
		t.Fatalf("second check: %+v", ev)
	}
	for i, w := range want {
		if ev[i].Change != w.c || ev[i].Finding.ID != w.id || ev[i].Finding.Subject != w.sub {
			t.Errorf("event %d: %s %s %s, want %+v", i, ev[i].Change, ev[i].Finding.ID, ev[i].Finding.Subject, w)
		}
	}
	if ev[0].Previous != checks.SevWarn || !ev[0].Alert {
		t.Errorf("changed event: %+v", ev[0])
	}
	if len(set) != 3 {
		t.Errorf("kept %d findings", len(set))
	}
	if ev, _ := Diff("example.test", t0, set, second); len(ev) != 0 {
		t.Errorf("nothing changed, yet: %+v", ev)
	}
}

func TestJitterBounds(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, d := range []time.Duration{time.Hour, 90 * time.Second, time.Minute, 5 * time.Nanosecond} {
		lo, hi := d-d/10, d+d/10
		seen := map[time.Duration]bool{}
		for range 2000 {
			j := Jitter(rng, d)
			if j < lo || j > hi {
				t.Fatalf("Jitter(%s) = %s, outside [%s, %s]", d, j, lo, hi)
			}
			seen[j] = true
		}
		if d >= time.Minute && len(seen) < 100 {
			t.Errorf("Jitter(%s) spread over only %d values", d, len(seen))
		}
	}
	// seeded: the same seed, the same schedule
	a, b := rand.New(rand.NewPCG(7, 7)), rand.New(rand.NewPCG(7, 7))
	for range 10 {
		if Jitter(a, time.Hour) != Jitter(b, time.Hour) {
			t.Fatal("the same seed gave different jitter")
		}
	}
}

// STS-SEND-5: the policy host is seen at least as often as the strictest
// sender refetches.
func TestPolicyRefetch_STS_SEND_5(t *testing.T) {
	for _, c := range []struct{ maxAge, want time.Duration }{
		{0, 12 * time.Hour},
		{604800 * time.Second, 12 * time.Hour},
		{86400 * time.Second, 12 * time.Hour},
		{10 * time.Hour, 5 * time.Hour},
		{time.Hour, 30 * time.Minute},
		{time.Second, time.Minute},
	} {
		if got := PolicyRefetch(c.maxAge); got != c.want {
			t.Errorf("PolicyRefetch(%s) = %s, want %s", c.maxAge, got, c.want)
		}
	}
}

// script is a fake check: per domain, the findings of each successive check.
type script struct {
	mu    sync.Mutex
	steps map[string][][]checks.Finding
	calls map[string]int
	clk   clock.Clock
}

func (s *script) check(_ context.Context, d string) *checks.Report {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.calls[d]
	s.calls[d]++
	steps := s.steps[d]
	rep := &checks.Report{Schema: checks.SchemaVersion, Domain: d, CheckedAt: s.clk.Now(), Findings: []checks.Finding{}}
	if n >= len(steps) {
		n = len(steps) - 1
	}
	if steps[n] == nil {
		rep.Error = "no DNS answer"
		return rep
	}
	rep.Findings = steps[n]
	return rep
}

func TestRunCyclesEmitsChanges(t *testing.T) {
	clk := clock.NewFake(t0)
	uncovered := fnd("mx.uncovered", "mx2.a.test", checks.SevError)
	s := &script{clk: clk, calls: map[string]int{}, steps: map[string][][]checks.Finding{
		"a.test": {{}, {uncovered}, nil, {}}, // breaks, cannot be checked, heals
		"b.test": {{fnd("tlsrpt.missing", "_smtp._tls.b.test", checks.SevWarn)}},
	}}
	var events []Event
	var checked []Checked
	err := Run(context.Background(), Config{
		Domains: []string{"a.test", "b.test"}, Interval: time.Hour, Concurrency: 2, Clock: clk, Seed: 1,
		Check: s.check, Cycles: 4,
		Checked: func(c Checked) { checked = append(checked, c) },
		Event:   func(e Event) { events = append(events, e) },
	})
	if err != nil {
		t.Fatal(err)
	}
	// Both domains have the same interval and seeded jitter: each wake-up
	// checks one or both; four wake-ups see at least four checks.
	if s.calls["a.test"] < 2 || len(checked) < 4 {
		t.Fatalf("checks: %v, %d reported", s.calls, len(checked))
	}
	var got []string
	for _, e := range events {
		got = append(got, e.Domain+" "+string(e.Change)+" "+e.Finding.ID)
	}
	want := []string{"b.test appeared tlsrpt.missing", "a.test appeared mx.uncovered"}
	if s.calls["a.test"] >= 4 {
		want = append(want, "a.test cleared mx.uncovered")
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, c := range checked {
		if c.Next.Sub(c.Report.CheckedAt) < 54*time.Minute || c.Next.Sub(c.Report.CheckedAt) > 66*time.Minute {
			t.Errorf("%s: next check %s after this one", c.Domain, c.Next.Sub(c.Report.CheckedAt))
		}
	}
}

// STS-SEND-4: the watch adds the horizon's findings: an MX certificate
// that expires before the enforce policy senders may hold runs out.
func TestRunAddsHorizonFindings_STS_SEND_4(t *testing.T) {
	clk := clock.NewFake(t0)
	check := func(_ context.Context, d string) *checks.Report {
		return &checks.Report{
			Schema: checks.SchemaVersion, Domain: d, CheckedAt: clk.Now(), Findings: []checks.Finding{},
			Policy: &checks.PolicyInfo{Host: "mta-sts." + d, Mode: "enforce", MaxAge: 604800},
			MX:     []checks.MXInfo{{Host: "mx1." + d, Addrs: []checks.MXAddrInfo{{Addr: "127.0.0.1", CertExpiry: t0.Add(72 * time.Hour).Format(time.RFC3339)}}}},
			// The observations the fields above show, which the watch reads.
			Live: &checks.Live{
				Policy: &mtasts.Policy{Version: "STSv1", Mode: mtasts.ModeEnforce, MaxAge: 604800},
				MX:     []checks.LiveMX{{Host: "mx1." + d, Addrs: []checks.LiveMXAddr{{Addr: "127.0.0.1", TLS: checks.TLSOK, CertNotAfter: t0.Add(72 * time.Hour)}}}},
			},
		}
	}
	var events []Event
	err := Run(context.Background(), Config{
		Domains: []string{"a.test"}, Clock: clk, Check: check, Cycles: 1,
		Event: func(e Event) { events = append(events, e) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].Finding.ID != "mx.cert-expires-in-horizon" || !events[0].Alert || events[0].Finding.Subject != "mx1.a.test" {
		t.Fatalf("events: %+v", events)
	}
}

func TestRunStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	check := func(context.Context, string) *checks.Report {
		calls++
		if calls == 3 {
			cancel()
		}
		return &checks.Report{Findings: []checks.Finding{}}
	}
	if err := Run(ctx, Config{Domains: []string{"a.test"}, Clock: clock.NewFake(t0), Check: check}); err != nil {
		t.Fatal(err)
	}
	if calls < 3 {
		t.Fatalf("%d checks", calls)
	}
}

// A failing hook command is logged and retried with backoff, never
// stopping anything; the event reaches its stdin.
func TestHookRetriesFailingCommand(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no /bin/sh")
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "stdin")
	count := filepath.Join(dir, "count")
	// fails twice, then keeps its stdin
	cmd := `n=$(cat ` + count + ` 2>/dev/null || echo 0); n=$((n+1)); echo $n > ` + count + `; if [ $n -lt 3 ]; then echo "try $n broken" >&2; exit 3; fi; echo "$STSPILOT_DOMAIN $STSPILOT_CHANGE $STSPILOT_FINDING $STSPILOT_SEVERITY" > ` + out + `.env; cat > ` + out
	var mu sync.Mutex
	var logs []string
	var waits []time.Duration
	h := StartHook(context.Background(), HookConfig{
		Run: func(ctx context.Context, e Event, stdin []byte) error {
			return workflow.RunHook(ctx, cmd, nil, Env(e), stdin, 10*time.Second)
		},
		Log:     func(m string) { mu.Lock(); logs = append(logs, m); mu.Unlock() },
		Backoff: time.Second, MaxBackoff: 90 * time.Second,
		Sleep: func(_ context.Context, d time.Duration) bool { waits = append(waits, d); return true },
	})
	e := Event{Schema: Schema, At: t0, Change: Appeared, Domain: "a.test", Alert: true, Finding: fnd("mx.uncovered", "mx2.a.test", checks.SevError)}
	h.Send(e)
	h.Close()
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("the hook never succeeded: %v; logs %q", err, logs)
	}
	if !strings.Contains(string(got), `"schema":"stspilot.watch/v1"`) || !strings.Contains(string(got), `"change":"appeared"`) ||
		!strings.Contains(string(got), `"id":"mx.uncovered"`) || !strings.HasSuffix(string(got), "\n") {
		t.Errorf("hook stdin: %s", got)
	}
	if env, _ := os.ReadFile(out + ".env"); string(env) != "a.test appeared mx.uncovered error\n" {
		t.Errorf("hook environment: %q", env)
	}
	if len(logs) != 2 || !strings.Contains(logs[0], "try 1 of 5 failed") || !strings.Contains(logs[0], "try 1 broken") {
		t.Errorf("logs: %q", logs)
	}
	if len(waits) != 2 || waits[0] != time.Second || waits[1] != 2*time.Second {
		t.Errorf("backoff: %v", waits)
	}
}

func TestHookGivesUpAndGoesOn(t *testing.T) {
	var mu sync.Mutex
	var logs []string
	tries := map[string]int{}
	h := StartHook(context.Background(), HookConfig{
		Run: func(_ context.Context, _ Event, stdin []byte) error {
			tries[string(stdin)]++
			return context.DeadlineExceeded
		},
		Log:   func(m string) { mu.Lock(); logs = append(logs, m); mu.Unlock() },
		Tries: 3, Backoff: time.Minute, MaxBackoff: 90 * time.Second,
		Sleep: func(context.Context, time.Duration) bool { return true },
	})
	for i := range 2 {
		h.Send(Event{Domain: "d" + strconv.Itoa(i) + ".test", Finding: fnd("policy.id-drift", "x", checks.SevError)})
	}
	h.Close()
	if len(tries) != 2 {
		t.Fatalf("events tried: %v", tries)
	}
	for k, n := range tries {
		if n != 3 {
			t.Errorf("%s tried %d times", k, n)
		}
	}
	if len(logs) != 6 || !strings.Contains(logs[2], "gave up") {
		t.Errorf("logs: %q", logs)
	}
}

// BenchmarkWatchMemory watches 1,000 domains for 100 cycles (each domain
// checked 100 times) with a fake check whose findings flip about every
// cycle, and reads the live heap while the watch runs: after the 10th
// cycle and after the 100th, per domain, and their ratio. Flat memory is
// a ratio near 1: only each domain's last finding set is kept. (Read after
// Run returns, the heap would hold nothing of the watch.)
func BenchmarkWatchMemory(b *testing.B) {
	domains := make([]string, 1000)
	for i := range domains {
		domains[i] = "d" + strconv.Itoa(i) + ".example.test"
	}
	per := int64(len(domains))
	liveHeap := func() uint64 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	for b.Loop() {
		clk := clock.NewFake(t0)
		var calls atomic.Int64
		var heap10, heap100 atomic.Uint64
		ctx, cancel := context.WithCancel(context.Background())
		check := func(_ context.Context, d string) *checks.Report {
			fs := []checks.Finding{fnd("tlsrpt.missing", "_smtp._tls."+d, checks.SevWarn)}
			n := calls.Add(1)
			switch n {
			case 10 * per:
				heap10.Store(liveHeap())
			case 100 * per: // 100 checks of each domain
				heap100.Store(liveHeap())
				cancel()
			}
			if (n/1000)%2 == 0 { // flips about every cycle
				fs = append(fs, fnd("mx.uncovered", "mx2."+d, checks.SevError))
			}
			return &checks.Report{Domain: d, CheckedAt: clk.Now(), Findings: fs}
		}
		events := 0
		err := Run(ctx, Config{
			Domains: domains, Interval: time.Hour, Concurrency: 8, Clock: clk, Check: check,
			Checked: func(Checked) {},
			Event: func(Event) {
				events++
			},
		})
		if err != nil {
			b.Fatal(err)
		}
		h10, h100 := float64(heap10.Load()), float64(heap100.Load())
		if h10 == 0 || h100 == 0 {
			b.Fatalf("the heap was not read at cycles 10 and 100 (%d checks)", calls.Load())
		}
		b.ReportMetric(h10/float64(per), "heap-B/domain@10")
		b.ReportMetric(h100/float64(per), "heap-B/domain@100")
		b.ReportMetric(h100/h10, "heap@100/heap@10")
		b.ReportMetric(float64(events), "events")
	}
}
