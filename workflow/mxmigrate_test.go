package workflow

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/libdns/libdns"

	"github.com/stspilot/stspilot/checks"
	"github.com/stspilot/stspilot/checks/checktest"
	"github.com/stspilot/stspilot/checks/mtasts"
	"github.com/stspilot/stspilot/dnsprovider"
	"github.com/stspilot/stspilot/internal/txtrecord"
	"github.com/stspilot/stspilot/workflow/journal"
)

const (
	mx2IP   = "127.0.0.21"
	mxBadIP = "127.0.0.22"
)

// CheckMX makes the test's published gate check MX sets too (over the
// provider, as for TXT).
func (pp providerPublished) CheckMX(ctx context.Context, zone, name string, want func(dnsprovider.MXSet) bool) GateResult {
	g := GateResult{Kind: GatePublished}
	mp, ok := dnsprovider.MXOf(pp.p)
	if !ok {
		g.Reason = "no MX reader"
		return g
	}
	set, err := mp.ReadMX(ctx, zone, name)
	if err != nil {
		g.Reason = err.Error()
		return g
	}
	g.Open = want(set)
	g.Targets = []TargetStatus{{Name: "ns1." + tDomain, Addr: "127.0.0.53", State: map[bool]string{true: StateOK, false: StatePending}[g.Open], Detail: set.String()}}
	g.Reason = set.String()
	return g
}

// mxHarness is the engine harness with the domain's MX RRset held by the
// provider (and mirrored into the world's DNS), mx1 in use, mx2 a healthy
// target and mxbad a target whose certificate names another host.
type mxHarness struct {
	*harness
	oracle *inv8
}

func newMXHarness(t *testing.T, o hopts) *mxHarness {
	h := newHarness(t, o)
	w := h.w
	w.RR("mx2."+tDomain+". 300 IN A "+mx2IP, "mxbad."+tDomain+". 300 IN A "+mxBadIP)
	w.MX(mx2IP, "mx2."+tDomain, checktest.MXOpts{Cert: w.Leaf([]string{"mx2." + tDomain}, checktest.CertOpts{})})
	w.MX(mxBadIP, "mxbad."+tDomain, checktest.MXOpts{Cert: w.Leaf([]string{"other.example.net"}, checktest.CertOpts{})})
	// The MX RRset lives in the provider from now on.
	w.Remove(tDomain+".", 15)
	h.setMXByHand(t, []dnsprovider.MX{{Pref: 10, Host: "mx1." + tDomain}}, 300*time.Second)
	cfg := h.e.Config()
	cfg.ProbeMX = func(ctx context.Context, host string) checks.LiveMX {
		return checks.ProbeMXHost(ctx, host, checks.Options{Resolvers: []string{w.DNSAddr}, Roots: w.Roots, SMTPPort: w.SMTPPort, Timeout: 10 * time.Second})
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.e = e
	mh := &mxHarness{harness: h, oracle: &inv8{t: t, held: map[string]heldPolicy{}}}
	prev := h.j.fail
	h.j.fail = func(en journal.Entry) error {
		mh.observe()
		if prev != nil {
			return prev(en)
		}
		return nil
	}
	return mh
}

// setMXByHand replaces the MX RRset in the provider and the world's DNS,
// as an operator (or another tool) would.
func (h *harness) setMXByHand(t *testing.T, recs []dnsprovider.MX, ttl time.Duration) {
	t.Helper()
	ctx := context.Background()
	var del []libdns.Record
	for _, rr := range h.dns.Records(tDomain) {
		if rr.Type == "MX" {
			del = append(del, rr)
		}
	}
	if _, err := h.dns.Provider.DeleteRecords(ctx, tDomain+".", del); err != nil {
		t.Fatal(err)
	}
	var add []libdns.Record
	for _, r := range recs {
		add = append(add, libdns.MX{Name: "@", TTL: ttl, Preference: r.Pref, Target: dnsprovider.Fqdn(r.Host)})
	}
	if _, err := h.dns.Provider.AppendRecords(ctx, tDomain+".", add); err != nil {
		t.Fatal(err)
	}
	h.dns.syncMX()
}

// syncMX copies the provider's MX RRset of the domain into the world's DNS.
func (m *mirror) syncMX() {
	m.w.Remove(tDomain+".", 15)
	for _, rr := range m.Records(tDomain) {
		if rr.Type == "MX" && rr.Name == "@" {
			m.w.RR(fmt.Sprintf("%s. %d IN MX %s", tDomain, int(rr.TTL/time.Second), rr.Data))
		}
	}
}

func (h *mxHarness) mx() []string {
	mp, _ := dnsprovider.MXOf(h.e.cfg.Provider)
	set, err := mp.ReadMX(context.Background(), tDomain, tDomain)
	if err != nil {
		h.t.Fatal(err)
	}
	return set.Hosts()
}

// inv8 is an oracle for invariant 8 that trusts nothing of the engine:
// at every journal write (before and after each external change) it
// reads the served policy and the MX RRset; a sender may hold an enforce
// policy until max_age after it was last seen served, and use an MX host
// until the TTL of the RRset that listed it after it was last seen.
type inv8 struct {
	t *testing.T
	// broken, when set, gets each violation instead of failing t.
	broken func(string)
	held   map[string]heldPolicy
	// used: MX host -> until when a resolver may hand it out.
	used   map[string]time.Time
	checks int
}

type heldPolicy struct {
	pol   *mtasts.Policy
	until time.Time
}

func (h *mxHarness) observe() {
	o := h.oracle
	now := h.clock.Now()
	if o.used == nil {
		o.used = map[string]time.Time{}
	}
	if txt := h.servedFile(); txt != "" {
		if pol, probs := mtasts.ParsePolicy([]byte(txt)); len(txtrecord.Errors(probs)) == 0 {
			o.held[txt] = heldPolicy{pol: &pol, until: now.Add(time.Duration(pol.MaxAge) * time.Second)}
		}
	}
	mp, _ := dnsprovider.MXOf(h.e.cfg.Provider)
	set, err := mp.ReadMX(context.Background(), tDomain, tDomain)
	if err != nil {
		o.t.Errorf("oracle: %v", err)
		return
	}
	for _, host := range set.Hosts() {
		o.used[host] = now.Add(set.TTL)
	}
	o.checks++
	for _, hp := range o.held {
		if hp.pol.Mode != mtasts.ModeEnforce || !hp.until.After(now) {
			continue
		}
		for host, until := range o.used {
			if !until.After(now) {
				continue
			}
			if _, ok := mtasts.Covering(hp.pol.MX, host); !ok {
				msg := fmt.Sprintf("invariant 8 broken at %s: senders may use %s (until %s) while they may hold the enforce policy mx %v (until %s)",
					now.Format(time.RFC3339), host, until.Format(time.RFC3339), hp.pol.MX, hp.until.Format(time.RFC3339))
				if o.broken != nil {
					o.broken(msg)
					continue
				}
				o.t.Error(msg)
			}
		}
	}
}

// toEnforce rolls the domain out and promotes it to enforce@86400.
func (h *mxHarness) toEnforce() {
	h.t.Helper()
	if out, _ := h.apply(Request{Workflow: Rollout, RUA: "mailto:tlsrpt@example.test"}, ApplyOptions{}); out.Status != StatusDone {
		h.t.Fatalf("rollout: %+v", out)
	}
	h.clock.Advance(15 * 24 * time.Hour)
	if out, _ := h.apply(Request{Workflow: Promote, WithoutReports: true}, ApplyOptions{}); out.Status != StatusDone || out.Policy.Mode != "enforce" {
		h.t.Fatalf("promote: %+v", out)
	}
	h.observe()
}

var toMX2 = []dnsprovider.MX{{Pref: 10, Host: "mx2." + tDomain}}

// TestMXMigrateEnforce walks the whole migration in enforce, one run per
// closed gate, with the invariant 8 oracle watching every journal write.
func TestMXMigrateEnforce(t *testing.T) {
	h := newMXHarness(t, hopts{file: true})
	h.toEnforce()
	req := Request{Workflow: MXMigrate, MXTo: toMX2}

	// Plan shows every step, in order.
	p, err := h.e.Plan(context.Background(), Request{Workflow: MXMigrate, Domain: tDomain, MXTo: toMX2})
	if err != nil || p.Refusal != nil {
		t.Fatalf("plan: %v %+v", err, p)
	}
	var kinds []string
	for _, s := range p.Steps {
		kinds = append(kinds, s.ID)
	}
	want := []string{"1-preflight", "2-publish-policy", "3-served", "4-set-sts", "5-published", "6-window", "7-set-mx", "8-published", "9-drain", "10-publish-policy", "11-served", "12-set-sts", "13-published", "14-final"}
	if !slices.Equal(kinds, want) {
		t.Errorf("plan steps %q, want %q", kinds, want)
	}

	// Run 1: widen, then the window (the enforce policy without mx2 may be
	// held for its max_age from now).
	out, _ := h.apply(req, ApplyOptions{})
	if out.Status != StatusPending || out.Gate == nil || out.Gate.Kind != GateWindow || out.NextAt == nil {
		t.Fatalf("run 1: %+v", out)
	}
	if d := out.NextAt.Sub(h.clock.Now().Add(86400 * time.Second)); d.Abs() > time.Minute {
		t.Errorf("window ends %s, want max_age from now", out.NextAt)
	}
	if f := h.servedFile(); !strings.Contains(f, "mx: mx1.example.test") || !strings.Contains(f, "mx: mx2.example.test") || !strings.Contains(f, "mode: enforce") {
		t.Errorf("widened policy: %q", f)
	}
	if got := h.mx(); !slices.Equal(got, []string{"mx1." + tDomain}) {
		t.Fatalf("MX changed inside the window: %q", got)
	}
	// Try to break invariant 8: run again just before the window ends.
	h.clock.Advance(86400*time.Second - time.Minute)
	entries := len(h.j.must(tDomain).Entries)
	if out, _ := h.apply(req, ApplyOptions{}); out.Status != StatusPending || out.Gate.Kind != GateWindow {
		t.Fatalf("run inside the window: %+v", out)
	}
	if n := len(h.j.must(tDomain).Entries); n != entries {
		t.Errorf("a re-run inside the window journaled %d entries: the widening is live already", n-entries)
	}
	if got := h.mx(); !slices.Equal(got, []string{"mx1." + tDomain}) {
		t.Fatalf("MX changed inside the window: %q", got)
	}
	// Run 2: switch, published, then the drain (the old RRset's TTL).
	h.clock.Advance(2 * time.Minute)
	out, _ = h.apply(req, ApplyOptions{})
	if out.Status != StatusPending || out.Gate == nil || out.Gate.Kind != GateDrain {
		t.Fatalf("run 2: %+v", out)
	}
	if got := h.mx(); !slices.Equal(got, []string{"mx2." + tDomain}) {
		t.Fatalf("MX after the switch: %q", got)
	}
	h.dns.syncMX()
	if d := out.NextAt.Sub(h.clock.Now().Add(300 * time.Second)); d.Abs() > 2*time.Second {
		t.Errorf("drain ends %s, want the old TTL (300s) from now", out.NextAt)
	}
	// Inside the drain: no narrowing.
	h.clock.Advance(200 * time.Second)
	if out, _ := h.apply(req, ApplyOptions{}); out.Status != StatusPending || out.Gate.Kind != GateDrain {
		t.Fatalf("run inside the drain: %+v", out)
	}
	if f := h.servedFile(); !strings.Contains(f, "mx: mx1.example.test") {
		t.Fatalf("narrowed inside the drain: %q", f)
	}
	// Run 3: narrow and the final check.
	h.clock.Advance(101 * time.Second)
	out, _ = h.apply(req, ApplyOptions{})
	if out.Status != StatusDone {
		t.Fatalf("run 3: %+v", out)
	}
	if f := h.servedFile(); strings.Contains(f, "mx1") || !strings.Contains(f, "mx: mx2.example.test") || !strings.Contains(f, "mode: enforce") || !strings.Contains(f, "max_age: 86400") {
		t.Errorf("final policy: %q", f)
	}
	j := h.j.must(tDomain)
	if j.MXMigration == nil || j.MXMigration.DoneAt.IsZero() || j.MXMigration.SwitchedAt.IsZero() || j.MXMigration.FromTTL != 300 {
		t.Errorf("journal: %+v", j.MXMigration)
	}
	// Again: nothing to do.
	if out, _ := h.apply(req, ApplyOptions{}); out.Status != StatusNothing {
		t.Errorf("re-run: %+v", out)
	}
	if h.oracle.checks < 10 {
		t.Errorf("the oracle looked only %d times", h.oracle.checks)
	}
}

// TestMXMigrateRefusesBadTarget: in enforce, a target whose certificate
// names another host is refused (exit 5) with nothing changed; in
// testing it is a warning.
func TestMXMigrateRefusesBadTarget(t *testing.T) {
	h := newMXHarness(t, hopts{})
	h.toEnforce()
	file, pubs, writes := h.servedFile(), h.publishes, h.dns.writes
	out, _ := h.apply(Request{Workflow: MXMigrate, MXTo: []dnsprovider.MX{{Pref: 10, Host: "mxbad." + tDomain}}}, ApplyOptions{})
	if out.Status != StatusRefused || out.Refusal == nil || out.Refusal.Code != CodeMXTargetFails {
		t.Fatalf("bad target in enforce: %+v", out)
	}
	if h.servedFile() != file || h.publishes != pubs || h.dns.writes != writes || !slices.Equal(h.mx(), []string{"mx1." + tDomain}) {
		t.Errorf("a refused migration changed something")
	}
	if j := h.j.must(tDomain); j.MXMigration != nil {
		t.Errorf("a refused migration was journaled: %+v", j.MXMigration)
	}

	// In testing: a warning, and the migration goes on (no window: no
	// enforce policy to wait out... but the one just replaced by the
	// rollback, which covers only mx1, may still be held).
	if out, _ := h.apply(Request{Workflow: Rollback}, ApplyOptions{}); out.Status != StatusDone {
		t.Fatalf("rollback: %+v", out)
	}
	out, rec := h.apply(Request{Workflow: MXMigrate, MXTo: []dnsprovider.MX{{Pref: 10, Host: "mxbad." + tDomain}}}, ApplyOptions{})
	if out.Status == StatusRefused {
		t.Fatalf("bad target in testing refused: %+v", out)
	}
	if !slices.Contains(rec.Kinds(), EventWarning) {
		t.Errorf("no warning for the bad target in testing")
	}
}

// TestMXMigrateProviderFailsHalfway: the provider adds the new MX record
// and fails to delete the old one; the run fails with what the zone holds,
// both hosts are covered meanwhile, and the next run converges.
func TestMXMigrateProviderFailsHalfway(t *testing.T) {
	h := newMXHarness(t, hopts{file: true})
	h.toEnforce()
	req := Request{Workflow: MXMigrate, MXTo: toMX2}
	if out, _ := h.apply(req, ApplyOptions{}); out.Status != StatusPending {
		t.Fatalf("run 1: %+v", out)
	}
	h.clock.Advance(86401 * time.Second)
	h.dns.Fail = func(op string) error {
		if op == "delete" {
			return errors.New("HTTP 400: delete refused")
		}
		return nil
	}
	out, _ := h.apply(req, ApplyOptions{})
	if out.Status != StatusFailed || !strings.Contains(out.Error, "half-way") {
		t.Fatalf("half-way run: %+v", out)
	}
	if got := h.mx(); !slices.Equal(got, []string{"mx1." + tDomain, "mx2." + tDomain}) {
		t.Fatalf("zone after the half-way write: %q", got)
	}
	h.observe()
	h.dns.Fail = nil
	out, _ = h.apply(req, ApplyOptions{})
	if out.Status != StatusPending || out.Gate.Kind != GateDrain {
		t.Fatalf("re-run: %+v", out)
	}
	if got := h.mx(); !slices.Equal(got, []string{"mx2." + tDomain}) {
		t.Fatalf("zone after the re-run: %q", got)
	}
	h.dns.syncMX()
	h.clock.Advance(301 * time.Second)
	if out, _ := h.apply(req, ApplyOptions{}); out.Status != StatusDone {
		t.Fatalf("last run: %+v", out)
	}
}

// TestMXMigrateKilled: killed right after each external change (before
// its done entry), the next runs converge without doing it twice.
func TestMXMigrateKilled(t *testing.T) {
	for _, cut := range []journal.Kind{journal.KindPolicyWrite, journal.KindTXTSet, journalMXSet, journalMXPublished} {
		t.Run(string(cut), func(t *testing.T) {
			h := newMXHarness(t, hopts{file: true})
			h.toEnforce()
			req := Request{Workflow: MXMigrate, MXTo: toMX2}
			killed := false
			inner := h.j.fail
			h.j.fail = func(e journal.Entry) error {
				if err := inner(e); err != nil {
					return err
				}
				if e.Kind == cut && e.Status == journal.Done && !killed {
					killed = true
					return errors.New("killed")
				}
				return nil
			}
			for i := 0; i < 12; i++ {
				out, _ := h.apply(req, ApplyOptions{Wait: 2 * 24 * time.Hour})
				h.dns.syncMX()
				if out.Status == StatusDone {
					break
				}
				if out.Status == StatusPending && out.NextAt != nil {
					h.clock.Set(*out.NextAt)
				}
			}
			if !killed {
				t.Fatalf("never cut at %s", cut)
			}
			if f := h.servedFile(); strings.Contains(f, "mx1") || !strings.Contains(f, "mx2") {
				t.Errorf("did not converge: served %q", f)
			}
			if got := h.mx(); !slices.Equal(got, []string{"mx2." + tDomain}) {
				t.Errorf("MX: %q", got)
			}
			j := h.j.must(tDomain)
			if j.MXMigration == nil || j.MXMigration.DoneAt.IsZero() {
				t.Errorf("journal: %+v", j.MXMigration)
			}
		})
	}
}

// TestMXMigrateManual: the operator changes the MX records by hand; the
// published gate waits for the target set at every name server.
func TestMXMigrateManual(t *testing.T) {
	h := newMXHarness(t, hopts{})
	h.toEnforce()
	req := Request{Workflow: MXMigrate, MXTo: toMX2, MXSwitch: MXSwitchManual}
	h.apply(req, ApplyOptions{})
	h.clock.Advance(86401 * time.Second)
	out, rec := h.apply(req, ApplyOptions{})
	if out.Status != StatusPending || out.Gate == nil || out.Gate.Kind != GatePublished {
		t.Fatalf("manual switch: %+v", out)
	}
	shown := ""
	for _, e := range rec.Events {
		if e.Kind == EventManual {
			shown = e.Message
		}
	}
	if !strings.Contains(shown, "example.test. 300 IN MX 10 mx2.example.test.") {
		t.Errorf("manual instructions: %q", shown)
	}
	if got := h.mx(); !slices.Equal(got, []string{"mx1." + tDomain}) {
		t.Fatalf("the manual mode wrote MX records: %q", got)
	}
	h.setMXByHand(t, toMX2, 300*time.Second)
	h.observe()
	out, _ = h.apply(req, ApplyOptions{})
	if out.Status != StatusPending || out.Gate.Kind != GateDrain {
		t.Fatalf("after the hand change: %+v", out)
	}
	h.clock.Advance(301 * time.Second)
	if out, _ := h.apply(req, ApplyOptions{}); out.Status != StatusDone {
		t.Fatalf("last run: %+v", out)
	}
}

// TestMXMigrateRollbackKeepsProgress: a rollback mid-migration goes to
// testing; the journal keeps the migration and the next run continues.
func TestMXMigrateRollbackKeepsProgress(t *testing.T) {
	h := newMXHarness(t, hopts{})
	h.toEnforce()
	req := Request{Workflow: MXMigrate, MXTo: toMX2}
	h.apply(req, ApplyOptions{})
	if out, _ := h.apply(Request{Workflow: Rollback}, ApplyOptions{}); out.Status != StatusDone || out.Stage != StageTesting {
		t.Fatalf("rollback: %+v", out)
	}
	if f := h.servedFile(); !strings.Contains(f, "mx1") || !strings.Contains(f, "mx2") {
		t.Errorf("rollback dropped a pattern: %q", f)
	}
	if j := h.j.must(tDomain); j.MXMigration == nil {
		t.Fatal("the rollback dropped the migration")
	}
	// The enforce policies (mx1 only) may be held for a day after they
	// were replaced: still the window.
	out, _ := h.apply(req, ApplyOptions{})
	if out.Status != StatusPending || out.Gate.Kind != GateWindow {
		t.Fatalf("continue: %+v", out)
	}
	h.clock.Advance(86401 * time.Second)
	if out, _ = h.apply(req, ApplyOptions{}); out.Status != StatusPending || out.Gate.Kind != GateDrain {
		t.Fatalf("switch: %+v", out)
	}
	h.clock.Advance(301 * time.Second)
	if out, _ = h.apply(req, ApplyOptions{}); out.Status != StatusDone {
		t.Fatalf("last run: %+v", out)
	}
	if f := h.servedFile(); !strings.Contains(f, "mode: testing") || strings.Contains(f, "mx1") {
		t.Errorf("final: %q", f)
	}
}

// TestMXMigrateOracleSeesABreak: the invariant 8 oracle is not blind: an
// MX change made by hand right after the widening (inside the window)
// breaks the invariant and the oracle says so; the engine then refuses
// nothing it cannot undo, but the next run's narrowing still waits for
// the window and the drain.
func TestMXMigrateOracleSeesABreak(t *testing.T) {
	h := newMXHarness(t, hopts{})
	h.toEnforce()
	h.apply(Request{Workflow: MXMigrate, MXTo: toMX2}, ApplyOptions{})
	var seen []string
	h.oracle.broken = func(m string) { seen = append(seen, m) }
	h.setMXByHand(t, toMX2, 300*time.Second)
	h.observe()
	if len(seen) == 0 {
		t.Fatal("the oracle did not see senders holding mx1-only enforce while mx2 is the MX")
	}
	if !strings.Contains(seen[0], "mx2.example.test") {
		t.Errorf("oracle: %q", seen[0])
	}
}

// TestMXMigrateSwitchRechecksWindow: the switch checks invariant 8 again
// at the moment of writing, whatever the plan said.
func TestMXMigrateSwitchRechecksWindow(t *testing.T) {
	h := newMXHarness(t, hopts{})
	h.toEnforce()
	req := Request{Workflow: MXMigrate, MXTo: toMX2, Domain: tDomain}
	h.apply(req, ApplyOptions{})
	h.clock.Advance(86401 * time.Second)
	p, err := h.e.Plan(context.Background(), req)
	if err != nil || p.Refusal != nil {
		t.Fatalf("plan: %v %+v", err, p)
	}
	// Behind the plan's back, a sender fetches a new enforce policy
	// without mx2 (the ledger learns of it): the switch must refuse.
	j := h.j.must(tDomain)
	j.LedgerAdd(journal.LedgerPolicy{Hash: "x", ID: "other", PolicyTerms: journal.PolicyTerms{Mode: "enforce", MaxAge: 86400, MX: []string{"mx1.example.test"}}, PublishedAt: h.clock.Now().Truncate(time.Second)})
	r := &run{e: h.e, p: p, j: j, pending: map[string]int{}}
	var s *Step
	for i := range p.Steps {
		if p.Steps[i].Kind == StepSetMX {
			s = &p.Steps[i]
		}
	}
	r.j.MXMigration = p.mx.mig
	_, err = r.setMX(context.Background(), s, &journal.Entry{})
	var ref *Refusal
	if !errors.As(err, &ref) || ref.Code != CodeMXUncovered {
		t.Fatalf("switch inside a window the plan did not see: %v", err)
	}
	if got := h.mx(); !slices.Equal(got, []string{"mx1." + tDomain}) {
		t.Errorf("MX changed: %q", got)
	}
}

// TestMXMigrateConfirmedPlan: applied with the plan the operator confirmed
// (as the command line does), each run sets only ids that name the policy
// served at that moment (invariant 1): the id of one change of the plan is
// never written by the set step of another.
func TestMXMigrateConfirmedPlan(t *testing.T) {
	h := newMXHarness(t, hopts{})
	h.toEnforce()
	req := Request{Workflow: MXMigrate, MXTo: toMX2, Domain: tDomain}
	var last *Outcome
	for i := 0; i < 4; i++ {
		ctx := context.Background()
		p, err := h.e.Plan(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		out, err := h.e.Apply(ctx, req, p, nil, ApplyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		last = out
		ids := h.txt("_mta-sts")
		if len(ids) != 1 {
			t.Fatalf("run %d: _mta-sts %q", i, ids)
		}
		id := strings.TrimSuffix(strings.TrimPrefix(ids[0], "v=STSv1; id="), ";")
		if rec, match := mtasts.VerifyID(id, []byte(h.servedFile())); !rec || !match {
			t.Fatalf("run %d (%s): the id %s does not name the served policy %q", i, out.Status, id, h.servedFile())
		}
		if out.Status == StatusDone {
			break
		}
		if out.NextAt != nil {
			h.clock.Set(*out.NextAt)
		}
	}
	if last.Status != StatusDone {
		t.Fatalf("last: %+v", last)
	}
}

// TestMXMigrateStatus: status names a migration under way as the next
// step, planned with its own target, until it is done.
func TestMXMigrateStatus(t *testing.T) {
	h := newMXHarness(t, hopts{})
	h.toEnforce()
	h.apply(Request{Workflow: MXMigrate, MXTo: toMX2}, ApplyOptions{})
	st, err := h.e.Status(context.Background(), tDomain)
	if err != nil {
		t.Fatal(err)
	}
	if st.Next != MXMigrate || st.MXMigration == nil || st.NextAt == nil || !strings.Contains(st.NextStep, "window") {
		t.Fatalf("status mid-migration: next %q step %q at %v mig %+v", st.Next, st.NextStep, st.NextAt, st.MXMigration)
	}
	h.clock.Advance(86401 * time.Second)
	h.apply(Request{Workflow: MXMigrate, MXTo: toMX2}, ApplyOptions{})
	h.clock.Advance(301 * time.Second)
	if out, _ := h.apply(Request{Workflow: MXMigrate, MXTo: toMX2}, ApplyOptions{}); out.Status != StatusDone {
		t.Fatalf("migration: %+v", out)
	}
	if st, err = h.e.Status(context.Background(), tDomain); err != nil || st.Next == MXMigrate || st.MXMigration != nil {
		t.Fatalf("status after the migration: %v next %q mig %+v", err, st.Next, st.MXMigration)
	}
}

// keepsMX1Until runs req at each next_at until it ends, failing when the
// served policy leaves out mx1 before until (resolvers may hand it out).
func (h *mxHarness) keepsMX1Until(req Request, until time.Time) *Outcome {
	h.t.Helper()
	var out *Outcome
	for i := 0; i < 12; i++ {
		out, _ = h.apply(req, ApplyOptions{})
		h.dns.syncMX()
		h.observe()
		if f := h.servedFile(); !strings.Contains(f, "mx1") && h.clock.Now().Before(until) {
			h.t.Fatalf("narrowed at %s, while resolvers may hand out mx1 until %s: %q", h.clock.Now(), until, f)
		}
		if out.Status != StatusPending || out.NextAt == nil {
			break
		}
		h.clock.Set(*out.NextAt)
	}
	return out
}

// TestMXMigrateSecondTargetKeepsDrain: a second mx-migrate to another
// target while the first drains a long-lived MX set (mx1, TTL 3 days)
// plans from live state (mx2) but still drains mx1: its narrowing to mx3
// only waits until no resolver may hand out mx1 (invariant 8, watched by
// the oracle).
func TestMXMigrateSecondTargetKeepsDrain(t *testing.T) {
	h := newMXHarness(t, hopts{})
	w := h.w
	ip := "127.0.0.24"
	w.RR("mx3." + tDomain + ". 300 IN A " + ip)
	w.MX(ip, "mx3."+tDomain, checktest.MXOpts{Cert: w.Leaf([]string{"mx3." + tDomain}, checktest.CertOpts{})})
	h.setMXByHand(t, []dnsprovider.MX{{Pref: 10, Host: "mx1." + tDomain}}, 3*24*time.Hour)
	h.toEnforce()
	req := Request{Workflow: MXMigrate, MXTo: toMX2, MXTTL: time.Minute}
	h.apply(req, ApplyOptions{})
	h.clock.Advance(86401 * time.Second)
	out, _ := h.apply(req, ApplyOptions{})
	if out.Status != StatusPending || out.Gate.Kind != GateDrain {
		t.Fatalf("first migration: %+v", out)
	}
	h.dns.syncMX()
	h.observe()
	mx1Until := h.clock.Now().Add(3 * 24 * time.Hour)
	out = h.keepsMX1Until(Request{Workflow: MXMigrate, MXTo: []dnsprovider.MX{{Pref: 10, Host: "mx3." + tDomain}}, MXTTL: time.Minute}, mx1Until)
	if out.Status != StatusDone {
		t.Fatalf("second migration: %+v", out)
	}
	if f := h.servedFile(); strings.Contains(f, "mx1") || strings.Contains(f, "mx2") || !strings.Contains(f, "mx: mx3.example.test") {
		t.Errorf("final policy: %q", f)
	}
}

// TestMXMigrateSwitchUndoneByHand: after the switch and its drain, the
// operator puts mx1 back by hand (TTL 300s) before the narrowing; the
// next run switches again and drains mx1 from then, so the narrowing to
// mx2 only never goes out while resolvers may still hand out mx1
// (invariant 8, watched by the oracle).
func TestMXMigrateSwitchUndoneByHand(t *testing.T) {
	h := newMXHarness(t, hopts{})
	h.toEnforce()
	req := Request{Workflow: MXMigrate, MXTo: toMX2}
	h.apply(req, ApplyOptions{})
	h.clock.Advance(86401 * time.Second)
	if out, _ := h.apply(req, ApplyOptions{}); out.Status != StatusPending || out.Gate.Kind != GateDrain {
		t.Fatalf("switch: %+v", out)
	}
	h.dns.syncMX()
	h.observe()
	h.clock.Advance(400 * time.Second)
	h.setMXByHand(t, []dnsprovider.MX{{Pref: 10, Host: "mx1." + tDomain}, {Pref: 20, Host: "mx2." + tDomain}}, 300*time.Second)
	h.observe()
	mx1Until := h.clock.Now().Add(300 * time.Second)
	if out := h.keepsMX1Until(req, mx1Until); out.Status != StatusDone || !slices.Equal(h.mx(), []string{"mx2." + tDomain}) {
		t.Fatalf("after the hand change: %+v, MX %q", out, h.mx())
	}
}
