package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/stspilot/stspilot/checks/mtasts"
	"github.com/stspilot/stspilot/internal/txtrecord"
)

// The workflow end-to-end tests drive the built binary through the whole
// ladder on the real world: rfc2136 to BIND (TSIG), webroot: to nginx,
// MX on Postfix. A watcher polls DNS and HTTPS all along and fails the test
// if the id ever goes live before the policy it names is served by every
// policy-host address (invariant 1) or if _mta-sts disappears inside the
// teardown window (invariant 3). mta-sts-query must accept every policy
// published on the way (invariant 7).

// ladderDomain is the world's subdomain reserved for deploy tests: MX and
// policy host (two addresses) exist, no TXT records, an empty webroot.
var ladderDomain = sub("ladder")

// A ladder whose soaks and max_ages are seconds, so the whole climb and
// the teardown window fit in a test.
const testLadder = "testing@4:1s,enforce@5:1s,enforce@6:1s,enforce@7"

type workflowRun struct {
	t     *testing.T
	env   Env
	state string
}

func newWorkflowRun(t *testing.T) *workflowRun {
	env := needWorld(t)
	return &workflowRun{t: t, env: env, state: t.TempDir()}
}

// run runs one workflow command with the world's provider settings and
// returns the outcome event and the exit code.
func (w *workflowRun) run(extraEnv []string, args ...string) (outcome map[string]any, code int, stdout, stderr string) {
	w.t.Helper()
	return runWorkflowBinary(w.t, w.env, w.state, w.bin(), extraEnv, args...)
}

// runWorkflowBinary runs bin with args and --json --yes --state-dir state,
// the world's resolver, CA and rfc2136 settings (TSIG from world.env) and
// extraEnv. It fails tb if the binary cannot run, times out, prints the
// TSIG secret or a line that is not a stspilot.event/v2 object.
func runWorkflowBinary(tb testing.TB, env Env, state, bin string, extraEnv []string, args ...string) (outcome map[string]any, code int, stdout, stderr string) {
	tb.Helper()
	full := append(slices.Clone(args), "--json", "--yes", "--state-dir", state, "--resolver", env["WORLD_DNS"])
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	child := childEnv(append([]string{
		"SSL_CERT_FILE=" + env["WORLD_CA"], "NO_COLOR=1",
		"RFC2136_SERVER=" + env["WORLD_DNS"],
		"RFC2136_KEY_NAME=" + env["WORLD_TSIG_NAME"],
		"RFC2136_KEY_ALG=" + env["WORLD_TSIG_ALG"],
		"RFC2136_KEY=" + env["WORLD_TSIG_SECRET"],
	}, extraEnv...)...)
	stdout, stderr, code, err := run(ctx, child, bin, full...)
	if err != nil {
		tb.Fatalf("stspilot %s: %v\n%s\n%s", strings.Join(full, " "), err, stdout, stderr)
	}
	if strings.Contains(stdout+stderr, env["WORLD_TSIG_SECRET"]) {
		tb.Fatalf("the TSIG secret appeared in the output of %s", strings.Join(args, " "))
	}
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var ev map[string]any
		if json.Unmarshal([]byte(line), &ev) != nil {
			continue
		}
		if ev["schema"] != "stspilot.event/v2" {
			tb.Fatalf("event without the schema: %s", line)
		}
		if ev["event"] == "outcome" {
			outcome, _ = ev["outcome"].(map[string]any)
		}
	}
	return outcome, code, stdout, stderr
}

var crashBin struct {
	once sync.Once
	path string
	err  error
}

// bin is the binary built with -tags crashtest, so STSPILOT_CRASH can kill
// it at a named point (workflow/crash_on.go); without STSPILOT_CRASH it is
// the normal program.
func (w *workflowRun) bin() string {
	w.t.Helper()
	crashBin.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		p := filepath.Join(binDir, "stspilot-crashtest")
		out, errOut, code, err := run(ctx, os.Environ(), "go", "build", "-tags", "crashtest", "-o", p, "./cmd/stspilot")
		if err == nil && code != 0 {
			err = fmt.Errorf("go build -tags crashtest: %s%s", out, errOut)
		}
		crashBin.path, crashBin.err = p, err
	})
	if crashBin.err != nil {
		w.t.Fatal(crashBin.err)
	}
	return crashBin.path
}

func (w *workflowRun) must(wantCode int, args ...string) map[string]any {
	w.t.Helper()
	out, code, stdout, stderr := w.run(nil, args...)
	if code != wantCode {
		w.t.Fatalf("stspilot %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, wantCode, stdout, stderr)
	}
	return out
}

func (w *workflowRun) webroot() string {
	return filepath.Join(w.env["WORLD_DIR"], "www", ladderDomain)
}

func (w *workflowRun) publish() string { return "webroot:" + w.webroot() }

// ---- the watcher

// watcher samples the _mta-sts TXT record at the authoritative server and
// the policy at every policy-host address.
type watcher struct {
	t      *testing.T
	env    Env
	mu     sync.Mutex
	errs   []string
	seen   map[string]bool // policy texts seen served
	lastID string
	// noneLiveAt is when the id of a mode none policy was first seen;
	// cachedUntil the latest time a sender may still hold a testing or
	// enforce policy: the last time each was seen served plus its max_age
	// (STS-SEND-16).
	noneLiveAt  time.Time
	cachedUntil time.Time
	samples     int
	stop        chan struct{}
	done        chan struct{}
}

func startWatcher(t *testing.T, env Env) *watcher {
	w := &watcher{t: t, env: env, seen: map[string]bool{}, stop: make(chan struct{}), done: make(chan struct{})}
	go w.loop()
	return w
}

// Stop ends the watch and reports what it saw.
func (w *watcher) Stop() {
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, e := range w.errs {
		w.t.Error("watcher: " + e)
	}
	if w.samples < 10 {
		w.t.Errorf("watcher: only %d samples: it did not watch", w.samples)
	}
}

func (w *watcher) loop() {
	defer close(w.done)
	tk := time.NewTicker(100 * time.Millisecond)
	defer tk.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-tk.C:
		}
		w.sample()
	}
}

func (w *watcher) sample() {
	ids, ok := queryTXT(w.env["WORLD_DNS"], "_mta-sts."+ladderDomain)
	if !ok {
		return
	}
	bodies := fetchAll(w.t, ladderDomain, ladderAddrs)
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.samples++
	for _, b := range bodies {
		if b == "" {
			continue
		}
		if p, probs := mtasts.ParsePolicy([]byte(b)); len(txtrecord.Errors(probs)) == 0 && p.Mode != mtasts.ModeNone {
			if until := now.Add(time.Duration(p.MaxAge) * time.Second); until.After(w.cachedUntil) {
				w.cachedUntil = until
			}
		}
	}
	id := ""
	if len(ids) == 1 {
		id = ids[0]
	}
	if len(ids) > 1 {
		w.errs = append(w.errs, fmt.Sprintf("two STSv1 records at once: %q", ids))
	}
	if id == "" && w.lastID != "" {
		// The sample interval blurs "last seen served" by up to one tick.
		if now.Before(w.cachedUntil.Add(-200 * time.Millisecond)) {
			w.errs = append(w.errs, fmt.Sprintf("_mta-sts deleted at %s, inside the teardown window: senders may hold a testing/enforce policy until %s", now.Format(time.StampMilli), w.cachedUntil.Format(time.StampMilli)))
		}
		if w.noneLiveAt.IsZero() {
			w.errs = append(w.errs, "_mta-sts deleted without a mode none policy going live first")
		}
	}
	if id != "" && id != w.lastID {
		// A new id went live: every address must serve the bytes it names
		// (our ids carry the policy's hash), or bytes newer than it.
		for i, b := range bodies {
			rec, match := mtasts.VerifyID(id, []byte(b))
			if !rec {
				w.errs = append(w.errs, fmt.Sprintf("id %s is not of stspilot's scheme", id))
				continue
			}
			if !match && w.seen[b] {
				w.errs = append(w.errs, fmt.Sprintf("id %s went live while %s still served an older policy: %q", id, ladderAddrs[i], b))
			}
			if match && strings.Contains(b, "mode: none") && w.noneLiveAt.IsZero() {
				w.noneLiveAt = now
			}
		}
	}
	for _, b := range bodies {
		if b != "" {
			w.seen[b] = true
		}
	}
	w.lastID = id
}

// ladderAddrs are the policy host's addresses (e2e/world).
var ladderAddrs = []string{"127.0.0.56", "127.0.0.57"}

// queryTXT asks the authoritative server for the STSv1 ids at name.
func queryTXT(server, name string) ([]string, bool) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeTXT)
	m.RecursionDesired = false
	c := &dns.Client{Timeout: 2 * time.Second}
	r, _, err := c.Exchange(m, server)
	if err != nil || (r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError) {
		return nil, false
	}
	var ids []string
	for _, rr := range r.Answer {
		if t, ok := rr.(*dns.TXT); ok {
			v := strings.Join(t.Txt, "")
			if strings.HasPrefix(v, "v=STSv1") {
				rec, _ := mtasts.ParseRecord(v)
				ids = append(ids, rec.ID)
			}
		}
	}
	return ids, true
}

// fetchAll fetches the policy from each address of mta-sts.domain at once
// ("" where the answer is not a 200).
func fetchAll(t testing.TB, domain string, addrs []string) []string {
	out := make([]string, len(addrs))
	var wg sync.WaitGroup
	for i, a := range addrs {
		wg.Go(func() {
			if f := fetchPolicy(t, "mta-sts."+domain, a, "stspilot-e2e-watcher"); f.err == nil && f.status == 200 {
				out[i] = string(f.body)
			}
		})
	}
	wg.Wait()
	return out
}

func field(m map[string]any, path ...string) any {
	var cur any = m
	for _, p := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[p]
	}
	return cur
}

// TestWorkflowWholeLadder: rollout -> promote to the top rung -> rollback
// -> promote -> teardown -> records gone, on the real servers.
func TestWorkflowWholeLadder(t *testing.T) {
	w := newWorkflowRun(t)
	watch := startWatcher(t, w.env)
	defer watch.Stop()
	common := []string{"--provider", "rfc2136", "--publish", w.publish(), "--ladder", testLadder}
	t.Cleanup(func() {
		// After a failure half-way, leave the ladder domain empty for the
		// next test (the normal run ends with a teardown already).
		if ids, _ := queryTXT(w.env["WORLD_DNS"], "_mta-sts."+ladderDomain); len(ids) > 0 || fetchAll(w.t, ladderDomain, ladderAddrs)[0] != "" {
			w.run(nil, append([]string{"teardown", ladderDomain, "--wait", "--last-max-age", "10s", "--adopt-live"}, common...)...)
		}
	})

	out := w.must(0, append([]string{"rollout", ladderDomain, "--rua", "mailto:tlsrpt@" + ladderDomain}, common...)...)
	if field(out, "status") != "done" || field(out, "policy", "mode") != "testing" {
		t.Fatalf("rollout: %v", out)
	}
	w.oracleAccepts("testing")

	// Without evidence and without --without-reports: refused (exit 5).
	w.must(5, "promote", ladderDomain, "--wait")
	for _, want := range []float64{5, 6, 7} {
		out = w.must(0, "promote", ladderDomain, "--without-reports", "--wait")
		if field(out, "policy", "mode") != "enforce" || field(out, "policy", "max_age") != want {
			t.Fatalf("promote to enforce@%v: %v", want, out)
		}
		w.oracleAccepts("enforce")
	}
	out = w.must(0, "promote", ladderDomain, "--without-reports", "--wait")
	if field(out, "status") != "nothing" {
		t.Fatalf("promote at the top: %v", out)
	}

	out = w.must(0, "rollback", ladderDomain)
	if field(out, "policy", "mode") != "testing" || field(out, "risk", "old_mode") != "enforce" {
		t.Fatalf("rollback: %v", out)
	}
	w.oracleAccepts("testing")
	out = w.must(0, "promote", ladderDomain, "--without-reports", "--wait")
	if field(out, "policy", "mode") != "enforce" {
		t.Fatalf("promote after rollback: %v", out)
	}
	w.oracleAccepts("enforce")

	// Teardown: none goes live; without --wait it stops at the window (exit 3).
	out = w.must(3, "teardown", ladderDomain)
	if field(out, "status") != "pending" || field(out, "next_at") == nil {
		t.Fatalf("teardown: %v", out)
	}
	if ids, _ := queryTXT(w.env["WORLD_DNS"], "_mta-sts."+ladderDomain); len(ids) != 1 {
		t.Fatalf("_mta-sts changed inside the window: %q", ids)
	}
	w.oracleAccepts("none")
	out = w.must(0, "teardown", ladderDomain, "--wait")
	if field(out, "status") != "done" || field(out, "stage") != "absent" {
		t.Fatalf("teardown --wait: %v", out)
	}
	if ids, _ := queryTXT(w.env["WORLD_DNS"], "_mta-sts."+ladderDomain); len(ids) != 0 {
		t.Errorf("_mta-sts still there after teardown: %q", ids)
	}
	if b := fetchAll(w.t, ladderDomain, ladderAddrs); b[0] != "" || b[1] != "" {
		t.Errorf("the policy is still served after teardown: %q", b)
	}
	if v, _ := stsQuery(t, ladderDomain); v != STSNone {
		t.Errorf("mta-sts-query after teardown: %s, want NONE", v)
	}
}

// TestWorkflowRollbackOnBrokenHost: the bug of issue 13 on the real
// world. Enforce is live; nginx answers 404 (the ladder domain's root is
// moved aside, so nginx really finds no file); rollback publishes the
// testing file into the moved root and stops at the served gate, blocked
// (exit 3, gate.state "blocked", the 404 named, the id untouched). The
// root is put back (healed: nginx now serves the half-published testing
// file) and rollback again goes through (exit 0) with the risk of what
// senders may hold: enforce and its max_age, not the testing file served.
func TestWorkflowRollbackOnBrokenHost(t *testing.T) {
	w := newWorkflowRun(t)
	const ladder = "testing@4:1s,enforce@15"
	common := []string{"--provider", "rfc2136", "--publish", w.publish(), "--ladder", ladder}
	root, aside := w.webroot(), w.webroot()+".aside"
	t.Cleanup(func() {
		if _, err := os.Stat(aside); err == nil {
			os.RemoveAll(root)
			os.Rename(aside, root)
		}
		if ids, _ := queryTXT(w.env["WORLD_DNS"], "_mta-sts."+ladderDomain); len(ids) > 0 || fetchAll(w.t, ladderDomain, ladderAddrs)[0] != "" {
			w.run(nil, append([]string{"teardown", ladderDomain, "--wait", "--last-max-age", "20s", "--adopt-live"}, common...)...)
		}
	})
	w.must(0, append([]string{"rollout", ladderDomain, "--rua", "mailto:tlsrpt@" + ladderDomain}, common...)...)
	out := w.must(0, "promote", ladderDomain, "--without-reports", "--wait")
	if field(out, "policy", "mode") != "enforce" || field(out, "policy", "max_age") != 15.0 {
		t.Fatalf("promote: %v", out)
	}
	ids, _ := queryTXT(w.env["WORLD_DNS"], "_mta-sts."+ladderDomain)

	// nginx answers 404: its root for the domain is gone.
	if err := os.Rename(root, aside); err != nil {
		t.Fatal(err)
	}
	for _, a := range ladderAddrs {
		if f := fetchPolicy(t, "mta-sts."+ladderDomain, a, "stspilot-e2e"); f.status != 404 {
			t.Fatalf("nginx at %s answers %d (%v), want 404", a, f.status, f.err)
		}
	}
	out, code, stdout, _ := w.run(nil, "rollback", ladderDomain, "--publish", "webroot:"+aside)
	if code != 3 || field(out, "status") != "pending" || field(out, "gate", "state") != "blocked" || field(out, "gate", "kind") != "served" {
		t.Fatalf("rollback on a 404: exit %d %v\n%s", code, out, stdout)
	}
	blockers, _ := field(out, "gate", "blockers").([]any)
	if len(blockers) != len(ladderAddrs) {
		t.Fatalf("blockers %v, want one per address", blockers)
	}
	for _, b := range blockers {
		bm, _ := b.(map[string]any)
		if !strings.Contains(fmt.Sprint(bm["answer"]), "404") || bm["finding"] != "policy.http-status" || !slices.Contains(ladderAddrs, fmt.Sprint(bm["addr"])) {
			t.Errorf("blocker %v", bm)
		}
	}
	if field(out, "gate", "meanwhile", "mode") != "enforce" {
		t.Errorf("meanwhile %v, want the cached enforce policy", field(out, "gate", "meanwhile"))
	}
	if msg := fmt.Sprint(field(out, "message")); !strings.Contains(msg, "404") || !strings.Contains(msg, "policy.http-status") {
		t.Errorf("message %q names no 404 or fix", msg)
	}
	if now, _ := queryTXT(w.env["WORLD_DNS"], "_mta-sts."+ladderDomain); !slices.Equal(now, ids) {
		t.Fatalf("the id changed behind a blocked served gate: %q, was %q", now, ids)
	}

	// Healed: nginx serves the testing file the first rollback wrote.
	if err := os.Rename(aside, root); err != nil {
		t.Fatal(err)
	}
	// (The journal remembers the last --publish: give the root again.)
	out = w.must(0, "rollback", ladderDomain, "--publish", w.publish())
	if field(out, "status") != "done" || field(out, "policy", "mode") != "testing" || field(out, "risk", "old_mode") != "enforce" || field(out, "risk", "old_max_age") != 15.0 {
		t.Fatalf("rollback once healed: %v", out)
	}
	if now, _ := queryTXT(w.env["WORLD_DNS"], "_mta-sts."+ladderDomain); len(now) != 1 || slices.Equal(now, ids) {
		t.Errorf("after the rollback the id is %q (was %q)", now, ids)
	}
}

func (w *workflowRun) oracleAccepts(mode string) {
	w.t.Helper()
	v, out := stsQuery(w.t, ladderDomain)
	if v != STSValid || !strings.Contains(out, "'mode': '"+mode+"'") {
		w.t.Errorf("mta-sts-query does not accept the %s policy: %s %s", mode, v, out)
	}
}

// TestWorkflowKilledRunsConverge: the binary is killed with SIGKILL right
// after each external change (policy written, TLS-RPT and TXT written) and
// right after a journal write; the rerun converges and repeats no change.
func TestWorkflowKilledRunsConverge(t *testing.T) {
	for _, point := range []string{"publish-policy-written", "set-tlsrpt-written", "set-sts-written", "journal:set-sts:pending", "journal:publish-policy:done"} {
		t.Run(point, func(t *testing.T) {
			w := newWorkflowRun(t)
			common := []string{"--provider", "rfc2136", "--publish", w.publish(), "--ladder", testLadder}
			t.Cleanup(func() {
				w.must(0, append([]string{"teardown", ladderDomain, "--wait", "--last-max-age", "10s"}, common...)...)
			})
			args := append([]string{"rollout", ladderDomain, "--rua", "mailto:tlsrpt@" + ladderDomain}, common...)
			_, code, stdout, stderr := w.run([]string{"STSPILOT_CRASH=" + point}, args...)
			if code != -1 && code != 137 {
				t.Fatalf("the crash point %s was not reached: exit %d\n%s\n%s", point, code, stdout, stderr)
			}
			out, code, stdout, _ := w.run(nil, args...)
			if code != 0 || field(out, "status") != "done" {
				t.Fatalf("rerun: exit %d %v\n%s", code, out, stdout)
			}
			// No change twice: every change step of the rerun that the killed
			// run had completed reports changed=false.
			changed := 0
			for _, line := range strings.Split(stdout, "\n") {
				if strings.Contains(line, `"event":"step-done"`) {
					changed++
				}
			}
			left := map[string]int{"publish-policy-written": 2, "journal:publish-policy:done": 2, "set-tlsrpt-written": 1, "set-sts-written": 0, "journal:set-sts:pending": 1}[point]
			if changed > left {
				t.Errorf("the rerun after %s changed %d things, at most %d were left to do:\n%s", point, changed, left, stdout)
			}
		})
	}
}

// BenchmarkRollback measures `stspilot rollback --yes` on the real world,
// from the start of the process to the new id answered by every name
// server (the command returns only then: its published gate). Each
// iteration promotes to enforce first, untimed. Run it with
//
//	bash e2e/test -run '^$' -bench Rollback -benchtime 5x ./e2e
func BenchmarkRollback(b *testing.B) {
	env := needWorld(b)
	w := &workflowRun{env: env, state: b.TempDir()}
	wb := benchRun{b: b, w: w}
	common := []string{"--provider", "rfc2136", "--publish", w.publish(), "--ladder", "testing@4:0s,enforce@5"}
	wb.must(0, append([]string{"rollout", ladderDomain, "--rua", "mailto:tlsrpt@" + ladderDomain}, common...)...)
	defer wb.must(0, "teardown", ladderDomain, "--wait")
	for b.Loop() {
		b.StopTimer()
		wb.must(0, "promote", ladderDomain, "--without-reports", "--wait")
		b.StartTimer()
		out := wb.must(0, "rollback", ladderDomain)
		if field(out, "status") != "done" {
			b.Fatalf("rollback: %v", out)
		}
	}
}

type benchRun struct {
	b *testing.B
	w *workflowRun
}

func (r benchRun) must(code int, args ...string) map[string]any {
	r.b.Helper()
	out, got, stdout, stderr := runWorkflowBinary(r.b, r.w.env, r.w.state, stspilotBin(r.b), nil, args...)
	if got != code {
		r.b.Fatalf("stspilot %s: exit %d, want %d\n%s\n%s", strings.Join(args, " "), got, code, stdout, stderr)
	}
	return out
}
