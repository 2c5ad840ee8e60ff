package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/stspilot/stspilot/checks/mtasts"
	"github.com/stspilot/stspilot/dnsprovider"
	"github.com/stspilot/stspilot/internal/txtrecord"
)

// The mx-migrate end-to-end tests move the ladder domain, in enforce with
// max_age 5s, from mx1 to mx5 (both healthy, each with its own name and
// certificate) through rfc2136 to BIND, with an MX TTL of 2s. A watcher
// polls _mta-sts, the MX RRset and the policy every 100 ms and judges
// invariant 1 (the TXT watcher of workflow_test.go) and invariant 8: no
// MX host a sender may use (an MX answer still within its TTL) is left
// uncovered by an enforce policy a sender may still hold (last seen served
// plus its max_age).

const mxLadder = "testing@4:1s,enforce@5"

// mxWatcher is the TXT watcher plus the MX RRset and invariant 8.
type mxWatcher struct {
	*watcher
	mu   sync.Mutex
	errs []string
	// held: enforce policy text -> until when a sender may hold it.
	held map[string]heldPolicy
	// usable: MX host -> until when a resolver may hand it out.
	usable map[string]time.Time
	mxSeen map[string]bool
}

type heldPolicy struct {
	mx    []string
	until time.Time
}

func startMXWatcher(t *testing.T, env Env) *mxWatcher {
	w := &mxWatcher{
		watcher: &watcher{t: t, env: env, seen: map[string]bool{}, stop: make(chan struct{}), done: make(chan struct{})},
		held:    map[string]heldPolicy{}, usable: map[string]time.Time{}, mxSeen: map[string]bool{},
	}
	go func() {
		defer close(w.done)
		tk := time.NewTicker(100 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-tk.C:
			}
			w.watcher.sample()
			w.sampleMX()
		}
	}()
	return w
}

func (w *mxWatcher) Stop() {
	w.watcher.Stop()
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, e := range w.errs {
		w.t.Error("mx watcher: " + e)
	}
}

// queryMX asks the authoritative server for the MX RRset of name.
func queryMX(server, name string) ([]string, time.Duration, bool) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeMX)
	m.RecursionDesired = false
	c := &dns.Client{Timeout: 2 * time.Second}
	r, _, err := c.Exchange(m, server)
	if err != nil || r.Rcode != dns.RcodeSuccess {
		return nil, 0, false
	}
	var hosts []string
	var ttl time.Duration
	for _, rr := range r.Answer {
		if mx, ok := rr.(*dns.MX); ok {
			hosts = append(hosts, strings.TrimSuffix(strings.ToLower(mx.Mx), "."))
			ttl = max(ttl, time.Duration(mx.Hdr.Ttl)*time.Second)
		}
	}
	return hosts, ttl, true
}

func (w *mxWatcher) sampleMX() {
	hosts, ttl, ok := queryMX(w.env["WORLD_DNS"], ladderDomain)
	if !ok {
		return
	}
	bodies := fetchAll(w.t, ladderDomain, ladderAddrs)
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, b := range bodies {
		if p, probs := mtasts.ParsePolicy([]byte(b)); b != "" && len(txtrecord.Errors(probs)) == 0 && p.Mode == mtasts.ModeEnforce {
			w.held[b] = heldPolicy{mx: p.MX, until: now.Add(time.Duration(p.MaxAge) * time.Second)}
		}
	}
	for _, h := range hosts {
		w.usable[h] = now.Add(ttl)
		w.mxSeen[h] = true
	}
	// Sampling blurs "last seen" by a tick: judge with that much slack,
	// in the invariant's favour.
	const slack = 250 * time.Millisecond
	for _, hp := range w.held {
		if !hp.until.After(now.Add(slack)) {
			continue
		}
		for h, until := range w.usable {
			if !until.After(now.Add(slack)) {
				continue
			}
			if _, ok := mtasts.Covering(hp.mx, h); !ok {
				w.errs = append(w.errs, fmt.Sprintf("invariant 8 at %s: %s may be used until %s while senders may hold the enforce policy mx %v until %s",
					now.Format(time.StampMilli), h, until.Format(time.StampMilli), hp.mx, hp.until.Format(time.StampMilli)))
			}
		}
	}
}

// setLadderMX sets the MX RRset of the ladder domain behind stspilot's
// back (the test's own set-up), through the same provider.
func setLadderMX(t *testing.T, env Env, recs []dnsprovider.MX, ttl time.Duration) {
	t.Helper()
	mp, ok := dnsprovider.MXOf(openRFC2136(t, env, nil))
	if !ok {
		t.Fatal("rfc2136 cannot write MX records")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := mp.SetMX(ctx, env["WORLD_ZONE"], ladderDomain, recs, ttl); err != nil {
		t.Fatal(err)
	}
}

// enforceLadder rolls the ladder domain out and promotes it to
// enforce@5, with the MX RRset (10 mx1) at TTL 2s; the cleanup restores
// the MX set and tears the domain down.
func enforceLadder(t *testing.T) (*workflowRun, []string) {
	w := newWorkflowRun(t)
	common := []string{"--provider", "rfc2136", "--publish", w.publish(), "--ladder", mxLadder}
	hosts, ttl, ok := queryMX(w.env["WORLD_DNS"], ladderDomain)
	if !ok || !slices.Equal(hosts, []string{mx1.Host}) {
		t.Fatalf("the ladder domain's MX set is %q, want mx1", hosts)
	}
	t.Cleanup(func() {
		setLadderMX(t, w.env, []dnsprovider.MX{{Pref: 10, Host: mx1.Host}}, ttl)
		w.run(nil, append([]string{"teardown", ladderDomain, "--wait", "--last-max-age", "10s", "--adopt-live"}, common...)...)
	})
	setLadderMX(t, w.env, []dnsprovider.MX{{Pref: 10, Host: mx1.Host}}, 2*time.Second)
	w.must(0, append([]string{"rollout", ladderDomain, "--rua", "mailto:tlsrpt@" + ladderDomain}, common...)...)
	out := w.must(0, "promote", ladderDomain, "--without-reports", "--wait")
	if field(out, "policy", "mode") != "enforce" {
		t.Fatalf("promote: %v", out)
	}
	return w, common
}

// TestMXMigrateEnforce: mx1 -> mx5 under enforce, without a moment of
// lost mail, judged by the watcher; the result passes mta-sts-query and
// posttls-finger.
func TestMXMigrateEnforce(t *testing.T) {
	w, _ := enforceLadder(t)
	watch := startMXWatcher(t, w.env)
	defer watch.Stop()

	// Plan: every step, nothing changed; the window is closed (exit 3).
	w.must(3, "plan", "mx-migrate", ladderDomain, "--to", mx5.Host)
	// Without --wait: the window is closed (exit 3, waiting, next_at).
	out := w.must(3, "mx-migrate", ladderDomain, "--to", mx5.Host)
	if field(out, "status") != "pending" || field(out, "gate", "kind") != "window" || field(out, "gate", "state") != "waiting" || field(out, "next_at") == nil {
		t.Fatalf("first run: %v", out)
	}
	if hosts, _, _ := queryMX(w.env["WORLD_DNS"], ladderDomain); !slices.Equal(hosts, []string{mx1.Host}) {
		t.Fatalf("MX changed inside the window: %q", hosts)
	}
	w.oracleAccepts("enforce")
	// The same command again, waiting: switch, drain, narrow, final check.
	out = w.must(0, "mx-migrate", ladderDomain, "--to", mx5.Host, "--wait")
	if field(out, "status") != "done" || field(out, "policy", "mode") != "enforce" {
		t.Fatalf("migration: %v", out)
	}
	if hosts, _, _ := queryMX(w.env["WORLD_DNS"], ladderDomain); !slices.Equal(hosts, []string{mx5.Host}) {
		t.Fatalf("MX after the migration: %q", hosts)
	}
	body := fetchAll(t, ladderDomain, ladderAddrs)
	for _, b := range body {
		if !strings.Contains(b, "mx: "+mx5.Host) || strings.Contains(b, mx1.Host) {
			t.Errorf("final policy: %q", b)
		}
	}
	v, qout := stsQuery(t, ladderDomain)
	if v != STSValid || !strings.Contains(qout, mx5.Host) || strings.Contains(qout, mx1.Host) {
		t.Errorf("mta-sts-query: %s %s", v, qout)
	}
	if tv, tout := tlsCheck(t, mx5.Host, ""); tv != TLSVerified {
		t.Errorf("posttls-finger on %s: %s %s", mx5.Host, tv, tout)
	}
	// Again: nothing to do.
	if out := w.must(0, "mx-migrate", ladderDomain, "--to", mx5.Host); field(out, "status") != "nothing" {
		t.Errorf("re-run: %v", out)
	}
	watch.mu.Lock()
	seen := watch.mxSeen[mx1.Host] && watch.mxSeen[mx5.Host]
	watch.mu.Unlock()
	if !seen {
		t.Errorf("the watcher did not see both MX sets")
	}
}

// TestMXMigrateRefusesWrongName: a target whose certificate names another
// host (mx2) is refused in enforce, exit 5, with nothing changed.
func TestMXMigrateRefusesWrongName(t *testing.T) {
	w, _ := enforceLadder(t)
	ids, _ := queryTXT(w.env["WORLD_DNS"], "_mta-sts."+ladderDomain)
	before := fetchAll(t, ladderDomain, ladderAddrs)
	out := w.must(5, "mx-migrate", ladderDomain, "--to", mx2.Host)
	if field(out, "status") != "refused" || field(out, "refusal", "code") != "mx-target-fails" {
		t.Fatalf("refusal: %v", out)
	}
	if now, _ := queryTXT(w.env["WORLD_DNS"], "_mta-sts."+ladderDomain); !slices.Equal(now, ids) {
		t.Errorf("the id changed: %q -> %q", ids, now)
	}
	if now := fetchAll(t, ladderDomain, ladderAddrs); !slices.Equal(now, before) {
		t.Errorf("the policy changed: %q -> %q", before, now)
	}
	if hosts, _, _ := queryMX(w.env["WORLD_DNS"], ladderDomain); !slices.Equal(hosts, []string{mx1.Host}) {
		t.Errorf("MX changed: %q", hosts)
	}
}

// TestMXMigrateKilled: the binary is killed with SIGKILL right after each
// external change of the migration (the widened policy written, the MX
// RRset written, before its journal entry is done, after the MX set was
// answered everywhere); the same command again converges, and the watcher
// sees invariant 8 hold across the kill.
func TestMXMigrateKilled(t *testing.T) {
	for _, point := range []string{"publish-policy-written", "set-mx-written", "journal:set-mx:pending", "journal:mx-published:done"} {
		t.Run(point, func(t *testing.T) {
			w, _ := enforceLadder(t)
			watch := startMXWatcher(t, w.env)
			defer watch.Stop()
			args := []string{"mx-migrate", ladderDomain, "--to", mx5.Host, "--wait"}
			_, code, stdout, stderr := w.run([]string{"STSPILOT_CRASH=" + point}, args...)
			if code != -1 && code != 137 {
				t.Fatalf("the crash point %s was not reached: exit %d\n%s\n%s", point, code, stdout, stderr)
			}
			out, code, stdout, _ := w.run(nil, args...)
			if code != 0 || field(out, "status") != "done" {
				t.Fatalf("rerun: exit %d %v\n%s", code, out, stdout)
			}
			if hosts, _, _ := queryMX(w.env["WORLD_DNS"], ladderDomain); !slices.Equal(hosts, []string{mx5.Host}) {
				t.Errorf("MX after the rerun: %q", hosts)
			}
			for _, b := range fetchAll(t, ladderDomain, ladderAddrs) {
				if strings.Contains(b, mx1.Host) || !strings.Contains(b, mx5.Host) {
					t.Errorf("policy after the rerun: %q", b)
				}
			}
		})
	}
}
