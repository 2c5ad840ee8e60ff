package workflow

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stspilot/stspilot/checks"
	"github.com/stspilot/stspilot/checks/checktest"
	"github.com/stspilot/stspilot/dnsprovider"
	"github.com/stspilot/stspilot/workflow/journal"
)

// The ledger and its horizon: what senders may hold, whatever is served
// now (issue 13).

// climb rolls out and promotes n rungs (waiting out each soak on the
// fake clock), and returns the policy live at the end.
func (h *harness) climb(n int) *Policy {
	h.t.Helper()
	out, _ := h.apply(Request{Workflow: Rollout, RUA: "mailto:tlsrpt@example.test"}, ApplyOptions{})
	if out.Status != StatusDone {
		h.t.Fatalf("rollout: %+v", out)
	}
	for range n {
		out, _ = h.apply(Request{Workflow: Promote, WithoutReports: true}, ApplyOptions{Wait: 40 * 24 * time.Hour})
		if out.Status != StatusDone {
			h.t.Fatalf("promote: %+v", out)
		}
	}
	return out.Policy
}

// pointPolicyHost makes mta-sts.DOMAIN resolve to ip.
func (h *harness) pointPolicyHost(ip string) {
	h.w.Remove("mta-sts."+tDomain+".", 1)
	h.w.RR("mta-sts." + tDomain + ". 300 IN A " + ip)
}

// breakHost makes the policy host fail as kind says; heal undoes it.
func (h *harness) breakHost(kind string) (heal func()) {
	h.t.Helper()
	switch kind {
	case "404", "redirect":
		h.hostFail.Store(kind)
		return func() { h.hostFail.Store("") }
	case "cert":
		leaf := h.w.Leaf([]string{"www.elsewhere.test"}, checktest.CertOpts{})
		h.w.PolicyHost(pol2IP, leaf, serveDir(h.webroot))
		h.pointPolicyHost(pol2IP)
	case "refused":
		h.pointPolicyHost("127.0.0.12") // nothing listens there
	case "timeout":
		l := h.w.Listen("127.0.0.13", h.w.HTTPSPort)
		go func() {
			var held []net.Conn
			defer func() {
				for _, c := range held {
					c.Close()
				}
			}()
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				held = append(held, c) // accepted, never answered
			}
		}()
		h.t.Cleanup(func() { l.Close() })
		h.shortTimeouts()
		h.pointPolicyHost("127.0.0.13")
	default:
		h.t.Fatalf("unknown failure %q", kind)
	}
	return func() { h.pointPolicyHost(polIP) }
}

// shortTimeouts rebuilds the engine with fetch timeouts under a second,
// so that a host that never answers costs little.
func (h *harness) shortTimeouts() {
	h.t.Helper()
	c := h.e.Config()
	w := h.w
	c.Check = func(ctx context.Context, d string) *checks.Report {
		return checks.Run(ctx, d, checks.Options{Resolvers: []string{w.DNSAddr}, Roots: w.Roots, HTTPSPort: w.HTTPSPort, SMTPPort: w.SMTPPort, Timeout: time.Second})
	}
	sc, err := NewServedChecker([]string{w.DNSAddr}, w.Roots, w.HTTPSPort, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	sc.Fetcher.Timeout = 500 * time.Millisecond
	c.Served = sc
	if h.e, err = New(c); err != nil {
		h.t.Fatal(err)
	}
}

// TestRollbackBlockedByBrokenHost: from enforce, a policy host that
// answers an error blocks the rollback's served gate: pending (exit 3),
// gate state blocked naming the address, the answer and the finding,
// no time it opens (next_at is the next re-check), what senders do
// meanwhile (the enforce policy until max_age from now), and the id
// untouched. Healed, the rollback goes through and its risk window is
// the enforce policy's, not the testing policy's it half-published.
func TestRollbackBlockedByBrokenHost(t *testing.T) {
	for _, tc := range []struct{ kind, finding, answer string }{
		{"404", "policy.http-status", "HTTP 404"},
		{"redirect", "policy.redirect", "redirect 301"},
		{"cert", "policy.cert", "certificate"},
		{"refused", "policy.unreachable", "refused"},
		{"timeout", "policy.unreachable", ""},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			h := newHarness(t, hopts{})
			enf := h.climb(1)
			if enf.Mode != "enforce" {
				t.Fatalf("climbed to %+v", enf)
			}
			sts := h.txt("_mta-sts")
			heal := h.breakHost(tc.kind)

			// Broken with enforce cached: promote advises the fix or a
			// rollback, never a rollout.
			pp, err := h.e.Plan(context.Background(), Request{Workflow: Promote, Domain: tDomain, WithoutReports: true})
			if err != nil {
				t.Fatal(err)
			}
			if r := pp.Refusal; r == nil || r.Code != CodeFixOrRollback || r.Workflow != Rollback || r.Finding == "" || strings.Contains(r.Reason, "roll out") {
				t.Errorf("promote on a broken host with enforce cached: %+v", pp.Refusal)
			}

			out, _ := h.apply(Request{Workflow: Rollback}, ApplyOptions{})
			now := h.clock.Now()
			g := out.Gate
			if out.Status != StatusPending || g == nil || g.Kind != GateServed || g.State != GateBlocked {
				t.Fatalf("rollback on a broken host: %+v gate %+v", out, g)
			}
			if len(g.Blockers) == 0 || g.Blockers[0].Addr == "" || g.Blockers[0].Finding != tc.finding || !strings.Contains(g.Blockers[0].Answer, tc.answer) {
				t.Errorf("blockers %+v, want %s (%q)", g.Blockers, tc.finding, tc.answer)
			}
			if !strings.Contains(out.Message, g.Blockers[0].Addr) || !strings.Contains(out.Message, tc.finding) || !strings.Contains(out.Message, "enforce") {
				t.Errorf("message %q names no address, fix or enforce", out.Message)
			}
			if m := g.Meanwhile; m == nil || m.Mode != "enforce" || m.MaxAge != enf.MaxAge || !m.Served || !m.Until.Equal(now.Add(time.Duration(enf.MaxAge)*time.Second)) {
				t.Errorf("meanwhile %+v, want enforce until %s", g.Meanwhile, now.Add(time.Duration(enf.MaxAge)*time.Second))
			}
			if out.NextAt == nil || out.NextAt.After(now.Add(h.e.cfg.Poll)) {
				t.Errorf("next_at %v, want the next re-check (%s)", out.NextAt, now.Add(h.e.cfg.Poll))
			}
			if got := h.txt("_mta-sts"); !slicesEqual(got, sts) {
				t.Errorf("the id changed behind a blocked served gate: %q, was %q", got, sts)
			}
			j := h.j.must(tDomain)
			if lp := j.LedgerFind(journal.PolicyHash(enf.Text)); lp == nil || lp.Replaced() {
				t.Errorf("ledger entry of the enforce policy %+v: replaced while nothing replaced it", lp)
			}
			// --wait keeps re-checking on the poll interval.
			out, rec := h.apply(Request{Workflow: Rollback}, ApplyOptions{Wait: 3 * time.Second})
			if out.Status != StatusPending || out.Gate.State != GateBlocked {
				t.Fatalf("rollback --wait on a broken host: %+v", out)
			}
			waits := 0
			for _, ev := range rec.Events {
				if ev.Kind == EventWait {
					waits++
				}
			}
			if waits < 2 {
				t.Errorf("--wait re-checked %d times in 3 s with a 1 s poll", waits)
			}

			heal()
			healedAt := h.clock.Now()
			out, _ = h.apply(Request{Workflow: Rollback}, ApplyOptions{})
			if out.Status != StatusDone || out.Stage != StageTesting {
				t.Fatalf("rollback once healed: %+v", out)
			}
			if r := out.Risk; r == nil || r.OldMode != "enforce" || r.OldMaxAge != enf.MaxAge || r.PolicyUntil.Before(healedAt.Add(time.Duration(enf.MaxAge)*time.Second)) {
				t.Errorf("risk %+v, want enforce with max_age %d until %s", out.Risk, enf.MaxAge, healedAt.Add(time.Duration(enf.MaxAge)*time.Second))
			}
		})
	}
}

func slicesEqual(a, b []string) bool {
	return strings.Join(a, "\x00") == strings.Join(b, "\x00")
}

// TestInterruptedRollbackHealed: the bug of issue 13 on enforce@604800.
// The first rollback publishes the testing file and stops at the blocked
// served gate; the host is healed; the second rollback's risk window is
// enforce with max_age 604800 (the ledger), not the testing policy that
// the host now serves, and the ledger records when it was replaced.
func TestInterruptedRollbackHealed(t *testing.T) {
	h := newHarness(t, hopts{})
	enf := h.climb(2)
	if enf.Mode != "enforce" || enf.MaxAge != 604800 {
		t.Fatalf("climbed to %+v", enf)
	}
	heal := h.breakHost("404")
	if out, _ := h.apply(Request{Workflow: Rollback}, ApplyOptions{}); out.Status != StatusPending || out.Gate.State != GateBlocked {
		t.Fatalf("rollback on a 404: %+v", out)
	}
	if !strings.Contains(h.servedFile(), "mode: testing") {
		t.Fatalf("the first rollback wrote %q", h.servedFile())
	}
	// Status meanwhile: the horizon is the enforce policy, still served.
	st, err := h.e.Status(context.Background(), tDomain)
	if err != nil {
		t.Fatal(err)
	}
	if st.Horizon == nil || st.Horizon.Worst == nil || st.Horizon.Worst.Mode != "enforce" || st.Horizon.Worst.MaxAge != 604800 || !st.Horizon.Worst.Served {
		t.Errorf("status horizon %+v", st.Horizon)
	}
	if st.Next == Rollout {
		t.Errorf("status on a broken host with enforce cached advises a rollout: %+v", st)
	}
	h.clock.Advance(time.Hour)
	heal()
	healedAt := h.clock.Now()
	p, err := h.e.Plan(context.Background(), Request{Workflow: Rollback, Domain: tDomain})
	if err != nil {
		t.Fatal(err)
	}
	if p.Nothing || p.Risk == nil || p.Risk.OldMode != "enforce" || p.Risk.OldMaxAge != 604800 || !p.Downgrade {
		t.Fatalf("plan once healed: nothing %v risk %+v downgrade %v", p.Nothing, p.Risk, p.Downgrade)
	}
	out, _ := h.apply(Request{Workflow: Rollback}, ApplyOptions{})
	if out.Status != StatusDone || out.Risk == nil || out.Risk.OldMode != "enforce" || out.Risk.OldMaxAge != 604800 {
		t.Fatalf("rollback once healed: %+v risk %+v", out, out.Risk)
	}
	if want := healedAt.Add(604800 * time.Second); !out.Risk.PolicyUntil.Equal(want) {
		t.Errorf("risk until %s, want %s", out.Risk.PolicyUntil, want)
	}
	j := h.j.must(tDomain)
	lp := j.LedgerFind(journal.PolicyHash(enf.Text))
	if lp == nil || lp.ReplacedAt.Before(healedAt) || lp.ReplacedAt.After(healedAt.Add(time.Second)) || lp.ID != enf.ID || lp.PublishedAt.IsZero() {
		t.Errorf("ledger entry of enforce@604800: %+v, want replaced at %s", lp, healedAt)
	}
	if lp != nil && lp.TXTTTL != int64(dnsprovider.DefaultTTL/time.Second) {
		t.Errorf("the enforce policy's record was replaced with TTL %d, the ledger says %d", int64(dnsprovider.DefaultTTL/time.Second), lp.TXTTTL)
	}
	hz := Horizon(j, h.clock.Now())
	if hz.Worst == nil || hz.Worst.Mode != "enforce" || hz.Worst.Served || !hz.Worst.Until.Equal(lp.ReplacedAt.Add(604800*time.Second)) {
		t.Errorf("horizon after the rollback: %+v", hz.Worst)
	}
	// Each policy is in the ledger once, and only the one served now is
	// unreplaced.
	served := 0
	seen := map[string]bool{}
	for _, e := range j.Ledger {
		if seen[e.Hash+e.ID] {
			t.Errorf("ledger holds %s %s twice", e.Mode, e.ID)
		}
		seen[e.Hash+e.ID] = true
		if !e.Replaced() {
			served++
		}
	}
	if served != 1 {
		t.Errorf("%d unreplaced ledger policies, want the testing one: %+v", served, j.Ledger)
	}

	// Teardown: once the records and the file are gone, nothing is served
	// and no testing or enforce policy may be cached any more.
	if out, _ := h.apply(Request{Workflow: Teardown}, ApplyOptions{Wait: 10 * 24 * time.Hour}); out.Status != StatusDone {
		t.Fatalf("teardown: %+v", out)
	}
	j = h.j.must(tDomain)
	for _, e := range j.Ledger {
		if !e.Replaced() {
			t.Errorf("after teardown %s %s is not replaced", e.Mode, e.ID)
		}
	}
	if hz := Horizon(j, h.clock.Now()); hz.Worst != nil || !hz.Until().IsZero() {
		t.Errorf("horizon after teardown: %+v", hz)
	}
	if h.clock.Now().Before(lp.ReplacedAt.Add(604800 * time.Second)) {
		t.Errorf("teardown finished at %s, inside the horizon of enforce@604800 (%s)", h.clock.Now(), lp.ReplacedAt.Add(604800*time.Second))
	}
}

// TestWorstCaseWins: after two promotes and a rollback, a rollback --to
// none's risk is the replaced enforce@604800 (cached a week from the
// first rollback), not the testing policy live now.
func TestWorstCaseWins(t *testing.T) {
	h := newHarness(t, hopts{})
	enf := h.climb(2)
	out, _ := h.apply(Request{Workflow: Rollback}, ApplyOptions{})
	if out.Status != StatusDone || out.Risk.OldMaxAge != 604800 || out.Risk.OldMode != "enforce" {
		t.Fatalf("rollback: %+v risk %+v", out, out.Risk)
	}
	replaced := h.clock.Now()
	h.clock.Advance(2 * time.Hour)
	p, err := h.e.Plan(context.Background(), Request{Workflow: Rollback, Domain: tDomain, To: StageNone})
	if err != nil {
		t.Fatal(err)
	}
	if p.Risk == nil || p.Risk.OldMode != "enforce" || p.Risk.OldMaxAge != enf.MaxAge || p.Risk.PolicyUntil.Before(replaced.Add(604800*time.Second)) || p.Risk.PolicyUntil.After(replaced.Add(604801*time.Second)) {
		t.Fatalf("risk of rollback --to none: %+v", p.Risk)
	}
	if !p.Downgrade {
		t.Error("testing -> none with enforce cached is not a downgrade")
	}
	hz := Horizon(h.j.must(tDomain), h.clock.Now())
	modes := map[string]bool{}
	for _, c := range hz.Policies {
		modes[c.Mode] = true
	}
	if !modes["enforce"] || !modes["testing"] {
		t.Errorf("horizon policies %+v, want the testing policy live and the enforce one cached", hz.Policies)
	}
}

// TestAdoptedDomainEnteredConservatively: a domain met for the first
// time with an enforce policy live (no journal) is entered in the ledger
// as live since at least max_age ago and not replaced; status shows it
// as the horizon and a rollback's risk is that enforce policy.
func TestAdoptedDomainEnteredConservatively(t *testing.T) {
	h := newHarness(t, hopts{})
	ctx := context.Background()
	h.adopt("version: STSv1\r\nmode: enforce\r\nmx: mx1.example.test\r\nmax_age: 1209600\r\n", "adopted1")
	now := h.clock.Now()
	st, err := h.e.Status(ctx, tDomain)
	if err != nil {
		t.Fatal(err)
	}
	w := st.Horizon.Worst
	if st.Stage != StageEnforce || w == nil || w.Mode != "enforce" || w.MaxAge != 1209600 || !w.Assumed || !w.Served || !w.Until.Equal(now.Add(1209600*time.Second)) {
		t.Fatalf("status of an adopted domain: stage %s horizon %+v", st.Stage, st.Horizon)
	}
	out, _ := h.apply(Request{Workflow: Rollback}, ApplyOptions{})
	if out.Status != StatusDone || out.Risk == nil || out.Risk.OldMode != "enforce" || out.Risk.OldMaxAge != 1209600 {
		t.Fatalf("rollback of an adopted domain: %+v risk %+v", out, out.Risk)
	}
	j := h.j.must(tDomain)
	if len(j.Ledger) < 2 {
		t.Fatalf("ledger %+v", j.Ledger)
	}
	lp := j.Ledger[0]
	if !lp.Assumed || lp.Mode != "enforce" || lp.ID != "adopted1" || lp.PublishedAt.After(now.Add(-1209600*time.Second)) || !lp.Replaced() {
		t.Errorf("the adopted policy's ledger entry %+v", lp)
	}
}

// TestLedgerFromV1Journal: a journal of stspilot.journal/v1 (no ledger)
// is migrated on read: its ledger holds the policies its published
// entries and its policy name, and the horizon follows from it.
func TestLedgerFromV1Journal(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "journal-v1-teardown.json"))
	if err != nil {
		t.Fatal(err)
	}
	j, err := journal.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if j.Schema != journal.Schema || len(j.Ledger) == 0 {
		t.Fatalf("migrated journal: schema %s ledger %+v", j.Schema, j.Ledger)
	}
	last := j.Ledger[len(j.Ledger)-1]
	if last.ID != j.Policy.ID || last.Mode != "none" || last.MaxAge != 86400 || !last.PublishedAt.Equal(j.Policy.PublishedAt) || last.Replaced() || last.Hash != journal.PolicyHash(j.Policy.Text) {
		t.Errorf("ledger entry of the live policy %+v (policy %+v)", last, j.Policy)
	}
	// It round-trips as the current schema (v2 added the ledger).
	out, err := journal.Encode(j)
	if err != nil || !strings.Contains(string(out), `"schema": "`+journal.Schema+`"`) || !strings.Contains(string(out), `"ledger"`) {
		t.Fatalf("encoded: %v\n%s", err, out)
	}
	hz := Horizon(j, time.Date(2030, 2, 2, 0, 0, 0, 0, time.UTC))
	if len(hz.Policies) != 1 || hz.Policies[0].Mode != "none" || hz.Worst != nil {
		t.Errorf("horizon of the migrated journal %+v", hz)
	}
}

// TestTeardownPlanShowsTheIDLiveAtTheDeletion: the teardown plan from a
// live testing policy deletes the _mta-sts record after mode none's id
// went live, so the deletion's diff shows that id, not today's.
func TestTeardownPlanShowsTheIDLiveAtTheDeletion(t *testing.T) {
	h := newHarness(t, hopts{})
	live := h.climb(0)
	p, err := h.e.Plan(context.Background(), Request{Workflow: Teardown, Domain: tDomain})
	if err != nil {
		t.Fatal(err)
	}
	if p.Target == nil || p.Target.Mode != "none" || !p.Downgrade {
		t.Fatalf("teardown plan: target %+v downgrade %v", p.Target, p.Downgrade)
	}
	for _, s := range p.Steps {
		if s.Kind == StepDeleteSTS && (!strings.Contains(s.Before, p.Target.ID) || strings.Contains(s.Before, live.ID)) {
			t.Errorf("delete-sts before %q, want the none policy's id %s", s.Before, p.Target.ID)
		}
		if s.Kind == StepDeleteTLSRPT && s.Skip != CodeKeepTLSRPT {
			t.Errorf("delete-tlsrpt names no option to keep it: %+v", s)
		}
	}
}

// TestReadsJournalV2: a journal as stspilot.journal/v2 was written
// (testing -> enforce@86400 -> enforce@604800, a rollback stopped by a 404,
// healed an hour later) reads back byte for byte (written as
// stspilot.journal/v3, which only added fields), and its horizon is the
// enforce@604800 policy until a week after the healed rollback replaced
// it. Keep it when the format changes: it is the old journal then.
func TestReadsJournalV2(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "journal-v2-rollback.json"))
	if err != nil {
		t.Fatal(err)
	}
	j, err := journal.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	v3 := strings.Replace(string(b), `"schema": "stspilot.journal/v2"`, `"schema": "stspilot.journal/v3"`, 1)
	if out, err := journal.Encode(j); err != nil || string(out) != v3 {
		t.Errorf("journal-v2-rollback.json does not round-trip (%v)", err)
	}
	hz := Horizon(j, time.Date(2030, 1, 23, 0, 0, 0, 0, time.UTC))
	w := hz.Worst
	if w == nil || w.Mode != "enforce" || w.MaxAge != 604800 || w.Served || !w.Until.Equal(time.Date(2030, 1, 29, 1, 0, 0, 0, time.UTC)) {
		t.Errorf("worst case %+v", w)
	}
	if len(hz.Policies) != 2 || !hz.Policies[1].Served || hz.Policies[1].Mode != "testing" {
		t.Errorf("cached policies %+v, want the enforce@604800 replaced and the testing one served", hz.Policies)
	}
	if c := cachedUntil(j, hz.At); !c.Equal(w.Until) {
		t.Errorf("cache window %s, want the horizon %s", c, w.Until)
	}
}

// TestAdoptedPolicyWithHugeMaxAge: a policy found live with a max_age
// above the RFC's maximum (STS-POL-9) is still entered in the ledger:
// mox and go-mtasts accept it with no upper bound, so senders may hold it
// that long. Its horizon is far in the future, never in the past (the
// seconds do not wrap when turned into a duration), the journal saves,
// and a rollback plans with that risk.
func TestAdoptedPolicyWithHugeMaxAge(t *testing.T) {
	for _, maxAge := range []string{"99999999999", "9999999999999999999999"} {
		t.Run(maxAge, func(t *testing.T) {
			h := newHarness(t, hopts{})
			ctx := context.Background()
			h.adopt("version: STSv1\r\nmode: enforce\r\nmx: mx1.example.test\r\nmax_age: "+maxAge+"\r\n", "adopted1")
			now := h.clock.Now()
			st, err := h.e.Status(ctx, tDomain)
			if err != nil {
				t.Fatal(err)
			}
			w := st.Horizon.Worst
			if w == nil || w.Mode != "enforce" || !w.Until.After(now.AddDate(100, 0, 0)) {
				t.Fatalf("status of a domain with max_age %s: horizon %+v", maxAge, st.Horizon)
			}
			out, _ := h.apply(Request{Workflow: Rollback}, ApplyOptions{})
			if out.Status != StatusDone || out.Risk == nil || out.Risk.OldMode != "enforce" || !out.Risk.PolicyUntil.After(now.AddDate(100, 0, 0)) {
				t.Fatalf("rollback: %+v risk %+v", out, out.Risk)
			}
			if _, err := h.j.Peek(tDomain); err != nil {
				t.Fatalf("the journal does not load back: %v", err)
			}
		})
	}
}
