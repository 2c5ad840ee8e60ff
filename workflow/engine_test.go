package workflow

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libdns/libdns"

	"github.com/stspilot/stspilot/checks"
	"github.com/stspilot/stspilot/checks/checktest"
	"github.com/stspilot/stspilot/checks/mtasts/senders"
	"github.com/stspilot/stspilot/dnsprovider"
	"github.com/stspilot/stspilot/dnsprovider/memory"
	"github.com/stspilot/stspilot/internal/clock"
	"github.com/stspilot/stspilot/internal/txtrecord"
	"github.com/stspilot/stspilot/workflow/journal"
)

// The engine tests run the real checks, the real served gate and the real
// libdns adapter against an in-process world (checktest: authoritative DNS,
// HTTPS policy host, STARTTLS MX), with a webroot publisher whose directory
// the policy host serves, and a fake clock so that soaks pass instantly.

const (
	tDomain = "example.test"
	polIP   = "127.0.0.10"
	pol2IP  = "127.0.0.11"
	mx1IP   = "127.0.0.20"
)

// mirror is a libdns provider over memory.Provider that copies every TXT
// change into the checktest DNS server, so the checks see what was written.
type mirror struct {
	*memory.Provider
	w      *checktest.World
	writes int // appends and deletes that changed something
	mu     sync.Mutex
}

func (m *mirror) sync(names map[string]bool) {
	for n := range names {
		abs := n + "." + tDomain + "."
		if n == "@" {
			abs = tDomain + "."
		}
		m.w.Remove(abs, 16)
		for _, rr := range m.Records(tDomain) {
			if rr.Type == "TXT" && rr.Name == n {
				m.w.RR(fmt.Sprintf("%s %d IN TXT %s", abs, int(rr.TTL/time.Second), dnsprovider.QuoteTXT(rr.Data)))
			}
		}
	}
}

func relOf(r libdns.Record) string {
	n := r.RR().Name
	if strings.HasSuffix(n, ".") {
		n = libdns.RelativeName(n, tDomain+".")
	}
	return strings.ToLower(n)
}

func (m *mirror) AppendRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	out, err := m.Provider.AppendRecords(ctx, zone, recs)
	m.wrote(recs, out)
	return out, err
}

func (m *mirror) DeleteRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	out, err := m.Provider.DeleteRecords(ctx, zone, recs)
	m.wrote(recs, out)
	return out, err
}

// wrote counts what changed and copies the names touched into the DNS server.
func (m *mirror) wrote(asked, changed []libdns.Record) {
	m.mu.Lock()
	m.writes += len(changed)
	m.mu.Unlock()
	names := map[string]bool{}
	mx := false
	for _, r := range asked {
		names[relOf(r)] = true
		mx = mx || r.RR().Type == "MX"
	}
	m.sync(names)
	if mx {
		m.syncMX()
	}
}

// providerPublished is the published gate over the provider itself (the
// real one, querying every name server, is tested in dnsprovider and e2e).
type providerPublished struct{ p dnsprovider.Provider }

func (pp providerPublished) Check(ctx context.Context, zone, name string, want func(dnsprovider.TXTSet) bool) GateResult {
	set, err := pp.p.ReadTXT(ctx, zone, name)
	g := GateResult{Kind: GatePublished}
	if err != nil {
		g.Reason = err.Error()
		return g
	}
	g.Open = want(set)
	g.Targets = []TargetStatus{{Name: "ns1." + tDomain, Addr: "127.0.0.53", State: map[bool]string{true: StateOK, false: StatePending}[g.Open], Detail: set.String()}}
	g.Reason = set.String()
	return g
}

// hookJournal wraps a Journal; fail, when set, is called before every
// save with the entry the save records, and an error stops the run there
// as if the process had been killed right after the previous write.
type hookJournal struct {
	Journal
	fail func(e journal.Entry) error
}

func (h *hookJournal) Begin(domain, command string, now time.Time) (Txn, error) {
	t, err := h.Journal.Begin(domain, command, now)
	if err != nil {
		return nil, err
	}
	return &hookTxn{Txn: t, h: h}, nil
}

func (h *hookJournal) must(domain string) *journal.Journal {
	j, err := h.Peek(domain)
	if err != nil {
		panic(err)
	}
	return j
}

type hookTxn struct {
	Txn
	h     *hookJournal
	saved []journal.Entry // the entries of the last save
}

func (t *hookTxn) Load() (*journal.Journal, error) {
	j, err := t.Txn.Load()
	if j != nil {
		t.saved = slices.Clone(j.Entries)
	}
	return j, err
}

// Save calls the hook with the last entry that is new or changed since
// the previous save: the one this save records.
func (t *hookTxn) Save(j *journal.Journal) error {
	if t.h.fail != nil {
		for i := len(j.Entries) - 1; i >= 0; i-- {
			if i >= len(t.saved) || j.Entries[i] != t.saved[i] {
				if err := t.h.fail(j.Entries[i]); err != nil {
					return err
				}
				break
			}
		}
	}
	if err := t.Txn.Save(j); err != nil {
		return err
	}
	t.saved = slices.Clone(j.Entries)
	return nil
}

// memJournal keeps each journal in memory, in its file encoding, with the
// same locking contract as the file journal.
type memJournal struct {
	mu     sync.Mutex
	docs   map[string][]byte
	locked map[string]bool
}

func newMemJournal() *memJournal {
	return &memJournal{docs: map[string][]byte{}, locked: map[string]bool{}}
}

func (j *memJournal) Peek(domain string) (*journal.Journal, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	b, ok := j.docs[domain]
	if !ok {
		return nil, nil
	}
	return journal.Decode(b)
}

func (j *memJournal) Begin(domain, command string, now time.Time) (Txn, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.locked[domain] {
		return nil, fmt.Errorf("%s is locked by another run", domain)
	}
	j.locked[domain] = true
	return &memTxn{j: j, domain: domain, run: now.UTC().Format("20060102T150405Z") + "-1"}, nil
}

type memTxn struct {
	j      *memJournal
	domain string
	run    string
}

func (t *memTxn) Run() string                     { return t.run }
func (t *memTxn) Load() (*journal.Journal, error) { return t.j.Peek(t.domain) }
func (t *memTxn) Save(j *journal.Journal) error {
	b, err := journal.Encode(j)
	if err != nil {
		return err
	}
	t.j.mu.Lock()
	defer t.j.mu.Unlock()
	t.j.docs[t.domain] = b
	return nil
}

func (t *memTxn) Close() error {
	t.j.mu.Lock()
	defer t.j.mu.Unlock()
	delete(t.j.locked, t.domain)
	return nil
}

type harness struct {
	t       *testing.T
	w       *checktest.World
	dns     *mirror
	webroot string
	clock   *clock.Fake // advances only when the engine waits
	j       *hookJournal
	e       *Engine
	// publishes counts policy writes that changed the file.
	publishes int
	// hostFail, when set, is what the policy host answers instead of the
	// policy: "404" or "redirect" (see breakable).
	hostFail atomic.Value
}

// breakable answers as hostFail says, else as next does.
func (h *harness) breakable(next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		switch f, _ := h.hostFail.Load().(string); f {
		case "404":
			http.NotFound(rw, r)
		case "redirect":
			http.Redirect(rw, r, "https://www.example.test/mta-sts.txt", http.StatusMovedPermanently)
		default:
			next.ServeHTTP(rw, r)
		}
	})
}

// countingPublisher wraps a publisher and counts real changes.
type countingPublisher struct {
	Publisher
	h *harness
}

func (c countingPublisher) Publish(ctx context.Context, d string, b []byte) (Published, error) {
	res, err := c.Publisher.Publish(ctx, d, b)
	if res.Changed {
		c.h.publishes++
	}
	return res, err
}

type hopts struct {
	file    bool     // the file journal instead of the in-memory one
	mxNames []string // names on mx1's certificate (nil: mx1 itself)
}

func newHarness(t *testing.T, o hopts) *harness {
	t.Helper()
	w := checktest.New(t)
	h := &harness{t: t, w: w, webroot: t.TempDir(), clock: clock.NewFake(time.Now().UTC().Truncate(time.Second))}
	if o.file {
		fj, err := OpenFileJournal(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		fj.Ladder = "testing@86400:14d,enforce@86400:7d,enforce@604800:30d,enforce@2592000"
		h.j = &hookJournal{Journal: fj}
	} else {
		h.j = &hookJournal{Journal: newMemJournal()}
	}
	m := &memory.Provider{}
	m.AddZone(tDomain)
	h.dns = &mirror{Provider: m, w: w}
	w.RR(tDomain+". 300 IN MX 10 mx1."+tDomain+".", "mx1."+tDomain+". 300 IN A "+mx1IP, "mta-sts."+tDomain+". 300 IN A "+polIP)
	names := o.mxNames
	if names == nil {
		names = []string{"mx1." + tDomain}
	}
	w.MX(mx1IP, "mx1."+tDomain, checktest.MXOpts{Cert: w.Leaf(names, checktest.CertOpts{})})
	leaf := w.Leaf([]string{"mta-sts." + tDomain}, checktest.CertOpts{})
	w.PolicyHost(polIP, leaf, h.breakable(serveDir(h.webroot)))
	served, err := NewServedChecker([]string{w.DNSAddr}, w.Roots, w.HTTPSPort, nil)
	if err != nil {
		t.Fatal(err)
	}
	prov := dnsprovider.FromLibdns("memory", h.dns, dnsprovider.LibdnsOptions{})
	lad, err := ParseLadder("testing@86400:14d,enforce@86400:7d,enforce@604800:30d,enforce@2592000")
	if err != nil {
		t.Fatal(err)
	}
	h.e, err = New(Config{
		Provider:  prov,
		Publisher: countingPublisher{&Webroot{Dir: h.webroot}, h},
		Journal:   h.j,
		Clock:     h.clock,
		Ladder:    lad,
		Zone:      tDomain,
		Check: func(ctx context.Context, d string) *checks.Report {
			return checks.Run(ctx, d, checks.Options{Resolvers: []string{w.DNSAddr}, Roots: w.Roots, HTTPSPort: w.HTTPSPort, SMTPPort: w.SMTPPort, Timeout: 10 * time.Second})
		},
		Served:    served,
		Published: providerPublished{prov},
		Poll:      time.Second,
		Command:   "test",
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// serveDir serves DIR/.well-known/mta-sts.txt as text/plain, 404 otherwise.
func serveDir(dir string) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path != txtrecord.WellKnownPath {
			http.NotFound(rw, r)
			return
		}
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(txtrecord.WellKnownPath)))
		if err != nil {
			http.NotFound(rw, r)
			return
		}
		rw.Header().Set("Content-Type", "text/plain")
		rw.Write(b)
	})
}

func (h *harness) apply(req Request, opt ApplyOptions) (*Outcome, *Recorder) {
	h.t.Helper()
	req.Domain = tDomain
	rec := &Recorder{}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := h.e.Apply(ctx, req, nil, rec, opt)
	if err != nil {
		h.t.Fatalf("%s: %v", req.Workflow, err)
	}
	return out, rec
}

func (h *harness) txt(name string) []string {
	set, err := h.e.cfg.Provider.ReadTXT(context.Background(), tDomain, name+"."+tDomain)
	if err != nil {
		h.t.Fatal(err)
	}
	return set.Values
}

func (h *harness) servedFile() string {
	b, _ := os.ReadFile(filepath.Join(h.webroot, filepath.FromSlash(txtrecord.WellKnownPath)))
	return string(b)
}

var idRE = regexp.MustCompile(`^[A-Za-z0-9]{1,32}$`)

// TestWholeLadder: rollout -> promote to the top -> rollback -> promote ->
// teardown, checking the records, the served file and the ids at each stop
// (invariants 1, 3, 4, 5).
func TestWholeLadder(t *testing.T) {
	for _, file := range []bool{false, true} {
		t.Run(map[bool]string{false: "memjournal", true: "filejournal"}[file], func(t *testing.T) { wholeLadder(t, file) })
	}
}

func wholeLadder(t *testing.T, file bool) {
	h := newHarness(t, hopts{file: file})
	ctx := context.Background()
	// A foreign record in our RRset must survive everything (invariant 5).
	h.dns.AppendRecords(ctx, tDomain, []libdns.Record{libdns.TXT{Name: "_mta-sts", TTL: time.Hour, Text: "site-verification=keepme"}})

	out, _ := h.apply(Request{Workflow: Rollout, RUA: "mailto:tlsrpt@example.test"}, ApplyOptions{})
	if out.Status != StatusDone || out.Stage != StageTesting {
		t.Fatalf("rollout: %+v", out)
	}
	if !strings.Contains(h.servedFile(), "mode: testing") || !strings.Contains(h.servedFile(), "mx: mx1.example.test") {
		t.Fatalf("served file: %q", h.servedFile())
	}
	if got := h.txt("_smtp._tls"); !slices.Equal(got, []string{"v=TLSRPTv1; rua=mailto:tlsrpt@example.test"}) {
		t.Errorf("TLS-RPT: %q", got)
	}
	ids := []string{out.Policy.ID}

	// Promote too early: the soak (14d) is closed, exit 3 with next_at.
	out, _ = h.apply(Request{Workflow: Promote, WithoutReports: true}, ApplyOptions{})
	if out.Status != StatusPending || out.NextAt == nil || out.Gate.Kind != GateWindow {
		t.Fatalf("early promote: %+v", out)
	}
	if want := h.clock.Now().Add(14 * 24 * time.Hour); out.NextAt.Sub(want).Abs() > time.Minute {
		t.Errorf("next_at %s, want about %s", out.NextAt, want)
	}
	// Without --without-reports and no reports configured: refused.
	h.clock.Advance(15 * 24 * time.Hour)
	out, _ = h.apply(Request{Workflow: Promote}, ApplyOptions{})
	if out.Status != StatusRefused || out.Refusal.Override != CodeWithoutReports {
		t.Fatalf("promote without evidence: %+v", out)
	}
	// Up the ladder, waiting out each soak with --wait on the fake clock.
	for _, want := range []string{"enforce@86400", "enforce@604800", "enforce@2592000"} {
		out, _ = h.apply(Request{Workflow: Promote, WithoutReports: true}, ApplyOptions{Wait: 40 * 24 * time.Hour})
		if out.Status != StatusDone || fmt.Sprintf("%s@%d", out.Policy.Mode, out.Policy.MaxAge) != want {
			t.Fatalf("promote to %s: %+v", want, out)
		}
		ids = append(ids, out.Policy.ID)
	}
	out, _ = h.apply(Request{Workflow: Promote, WithoutReports: true}, ApplyOptions{Wait: 40 * 24 * time.Hour})
	if out.Status != StatusNothing {
		t.Fatalf("promote at the top: %+v", out)
	}

	// Rollback: immediate, with the risk window of the enforce policy.
	out, rec := h.apply(Request{Workflow: Rollback}, ApplyOptions{})
	if out.Status != StatusDone || out.Stage != StageTesting || out.Risk == nil || out.Risk.OldMaxAge != 2592000 || out.Risk.OldTXTTTL != int64(dnsprovider.DefaultTTL/time.Second) {
		t.Fatalf("rollback: %+v risk %+v", out, out.Risk)
	}
	if !slices.Contains(rec.Kinds(), EventRisk) {
		t.Errorf("rollback reported no risk window: %v", rec.Kinds())
	}
	ids = append(ids, out.Policy.ID)

	// Teardown: none goes live, then the cache window. The enforce policy
	// with max_age 30 days was replaced by the rollback moments ago, so
	// senders may hold it for 30 days from then (STS-SEND-16), although
	// the policy none replaced (testing) has a max_age of one day.
	out, _ = h.apply(Request{Workflow: Teardown}, ApplyOptions{})
	if out.Status != StatusPending || out.Gate.Kind != GateWindow || !strings.Contains(h.servedFile(), "mode: none") {
		t.Fatalf("teardown part 1: %+v, served %q", out, h.servedFile())
	}
	if want := h.clock.Now().Add(2592000 * time.Second); out.NextAt == nil || out.NextAt.Sub(want).Abs() > time.Minute {
		t.Errorf("teardown window ends %v, want about %s (30 days after the enforce policy was replaced)", out.NextAt, want)
	}
	if len(h.txt("_mta-sts")) != 2 {
		t.Fatalf("_mta-sts deleted inside the window: %q", h.txt("_mta-sts"))
	}
	h.clock.Advance(25 * time.Hour)
	out, _ = h.apply(Request{Workflow: Teardown}, ApplyOptions{})
	if out.Status != StatusPending || len(h.txt("_mta-sts")) != 2 || h.servedFile() == "" {
		t.Fatalf("teardown inside the window deleted something: %+v", out)
	}
	h.clock.Advance(29 * 24 * time.Hour)
	out, _ = h.apply(Request{Workflow: Teardown}, ApplyOptions{})
	if out.Status != StatusDone || out.Stage != StageAbsent {
		t.Fatalf("teardown: %+v", out)
	}
	if got := h.txt("_mta-sts"); !slices.Equal(got, []string{"site-verification=keepme"}) {
		t.Errorf("after teardown _mta-sts holds %q, want only the foreign record", got)
	}
	if len(h.txt("_smtp._tls")) != 0 || h.servedFile() != "" {
		t.Errorf("teardown left TLS-RPT %q or the policy file %q", h.txt("_smtp._tls"), h.servedFile())
	}
	// Invariant 4: every content change had a new, valid id.
	for i, id := range ids {
		if !idRE.MatchString(id) {
			t.Errorf("id %q is not valid", id)
		}
		if slices.Index(ids, id) != i {
			t.Errorf("id %q reused: %q", id, ids)
		}
	}
	// Running teardown again changes nothing.
	out, _ = h.apply(Request{Workflow: Teardown}, ApplyOptions{})
	if out.Status != StatusNothing {
		t.Errorf("second teardown: %+v", out)
	}
}

// TestEnforceRefusedForBadMX: invariant 2. An MX whose certificate does not
// name it blocks promotion to enforce, and nothing is written.
func TestEnforceRefusedForBadMX(t *testing.T) {
	h := newHarness(t, hopts{mxNames: []string{"other.example.test"}})
	out, _ := h.apply(Request{Workflow: Rollout, RUA: "mailto:r@example.test"}, ApplyOptions{})
	if out.Status != StatusDone {
		t.Fatalf("rollout: %+v", out)
	}
	h.clock.Advance(15 * 24 * time.Hour)
	before, writes, pubs := h.servedFile(), h.dns.writes, h.publishes
	out, _ = h.apply(Request{Workflow: Promote, WithoutReports: true}, ApplyOptions{})
	if out.Status != StatusRefused || !strings.Contains(out.Refusal.Reason, "mx1.example.test") || out.Refusal.Override != "" {
		t.Fatalf("promote with a bad MX certificate: %+v", out)
	}
	if h.servedFile() != before || h.dns.writes != writes || h.publishes != pubs {
		t.Error("a refused promote changed something")
	}
}

// TestPolicyBeforeID: invariant 1. While one policy-host address still
// serves the old bytes, the id is not touched.
func TestPolicyBeforeID(t *testing.T) {
	h := newHarness(t, hopts{})
	stale := t.TempDir()
	h.w.RR("mta-sts." + tDomain + ". 300 IN A " + pol2IP)
	h.w.PolicyHost(pol2IP, h.w.Leaf([]string{"mta-sts." + tDomain}, checktest.CertOpts{}), serveDir(stale))
	out, _ := h.apply(Request{Workflow: Rollout, RUA: "mailto:r@example.test"}, ApplyOptions{})
	if out.Status != StatusPending || out.Gate.Kind != GateServed || !strings.Contains(out.Gate.Reason, pol2IP) {
		t.Fatalf("rollout with a stale address: %+v", out)
	}
	if len(h.txt("_mta-sts")) != 0 {
		t.Fatalf("the id was published before every address served the policy: %q", h.txt("_mta-sts"))
	}
	// The second address catches up; the rerun finishes without rewriting the policy.
	os.MkdirAll(filepath.Join(stale, ".well-known"), 0o755)
	os.WriteFile(filepath.Join(stale, filepath.FromSlash(txtrecord.WellKnownPath)), []byte(h.servedFile()), 0o644)
	pubs := h.publishes
	out, _ = h.apply(Request{Workflow: Rollout, RUA: "mailto:r@example.test"}, ApplyOptions{})
	if out.Status != StatusDone || h.publishes != pubs {
		t.Fatalf("rerun: %+v (publishes %d -> %d)", out, pubs, h.publishes)
	}
}

// TestKilledRunsConverge: invariant 6. The run is cut right after each
// external change (the journal write after it fails, as when the process
// dies); the rerun finishes with the same id and repeats no change.
func TestKilledRunsConverge(t *testing.T) {
	for _, cut := range []StepKind{StepPublishPolicy, StepSetTLSRPT, StepSetSTS} {
		t.Run(string(cut), func(t *testing.T) {
			h := newHarness(t, hopts{file: true})
			killed := false
			h.j.fail = func(e journal.Entry) error {
				if e.Kind == cut.Journal() && e.Status == journal.Done && !killed {
					killed = true
					return errors.New("killed")
				}
				return nil
			}
			out, _ := h.apply(Request{Workflow: Rollout, RUA: "mailto:r@example.test"}, ApplyOptions{})
			if out.Status != StatusFailed || !killed {
				t.Fatalf("cut run: %+v", out)
			}
			writes, pubs := h.dns.writes, h.publishes
			intent := h.j.must(tDomain).Intent
			if intent == nil {
				t.Fatal("no intent journaled before the first change")
			}
			out, _ = h.apply(Request{Workflow: Rollout, RUA: "mailto:r@example.test"}, ApplyOptions{})
			if out.Status != StatusDone || out.Policy.ID != intent.Target.ID {
				t.Fatalf("rerun: %+v (intent id %s)", out, intent.Target.ID)
			}
			// The entry the cut run left pending is closed as interrupted,
			// claiming nothing about what the rerun then did.
			closed := false
			for _, e := range h.j.must(tDomain).Entries {
				if e.Kind == cut.Journal() && e.Status == journal.Failed {
					closed = true
					if e.Error != interruptedReason || strings.Contains(e.Error, "redid") {
						t.Errorf("the interrupted entry says %q", e.Error)
					}
				}
			}
			if !closed {
				t.Errorf("no failed %s entry for the cut run", cut.Journal())
			}
			// Everything done before the cut is not done again.
			redone := (h.dns.writes - writes)
			switch cut {
			case StepPublishPolicy:
				if h.publishes != pubs || redone != 2 { // TLS-RPT and STS still to do
					t.Errorf("after a cut at %s: %d publishes, %d DNS writes redone", cut, h.publishes-pubs, redone)
				}
			case StepSetTLSRPT:
				if h.publishes != pubs || redone != 1 {
					t.Errorf("after a cut at %s: %d publishes, %d DNS writes", cut, h.publishes-pubs, redone)
				}
			case StepSetSTS:
				if h.publishes != pubs || redone != 0 {
					t.Errorf("after a cut at %s: %d publishes, %d DNS writes", cut, h.publishes-pubs, redone)
				}
			}
		})
	}
}

// TestDriftRefused: the policy file changed behind stspilot's back: every
// workflow but rollback refuses until --adopt-live.
func TestDriftRefused(t *testing.T) {
	h := newHarness(t, hopts{})
	if out, _ := h.apply(Request{Workflow: Rollout, RUA: "mailto:r@example.test"}, ApplyOptions{}); out.Status != StatusDone {
		t.Fatal(out)
	}
	h.clock.Advance(15 * 24 * time.Hour)
	edited := strings.Replace(h.servedFile(), "mx: mx1.example.test", "mx: mx9.example.test", 1)
	os.WriteFile(filepath.Join(h.webroot, filepath.FromSlash(txtrecord.WellKnownPath)), []byte(edited), 0o644)
	out, _ := h.apply(Request{Workflow: Promote, WithoutReports: true}, ApplyOptions{})
	if out.Status != StatusRefused || out.Refusal.Override != CodeAdoptLive {
		t.Fatalf("promote over a drifted policy: %+v", out)
	}
	out, rec := h.apply(Request{Workflow: Rollback}, ApplyOptions{})
	if out.Status != StatusNothing && out.Status != StatusDone {
		t.Fatalf("rollback must not be blocked by drift: %+v", out)
	}
	if !slices.ContainsFunc(rec.Events, func(e Event) bool { return e.Kind == EventWarning && strings.Contains(e.Message, "outside stspilot") }) {
		t.Error("the rollback did not say that the served policy had drifted")
	}
}

// TestSecondRunLocked: two runs on one domain: the second is refused.
func TestSecondRunLocked(t *testing.T) {
	h := newHarness(t, hopts{})
	txn, err := h.j.Begin(tDomain, "other", h.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	defer txn.Close()
	_, err = h.e.Apply(context.Background(), Request{Workflow: Rollout, Domain: tDomain, RUA: "mailto:r@example.test"}, nil, nil, ApplyOptions{})
	if err == nil || !strings.Contains(err.Error(), "locked") {
		t.Fatalf("err = %v", err)
	}
}

// TestStatus: stage, next workflow and when its gate opens, history.
func TestStatus(t *testing.T) {
	h := newHarness(t, hopts{})
	ctx := context.Background()
	st, err := h.e.Status(ctx, tDomain)
	if err != nil || st.Stage != StageAbsent || st.Next != Rollout {
		t.Fatalf("before rollout: %+v %v", st, err)
	}
	h.apply(Request{Workflow: Rollout, RUA: "mailto:r@example.test"}, ApplyOptions{})
	h.clock.Advance(time.Hour)
	st, err = h.e.Status(ctx, tDomain)
	if err != nil {
		t.Fatal(err)
	}
	if st.Stage != StageTesting || st.Rung != 0 || st.Next != Promote || st.NextAt == nil || len(st.History) == 0 {
		t.Fatalf("after rollout: %+v", st)
	}
	if want := h.clock.Now().Add(14*24*time.Hour - time.Hour); st.NextAt.Sub(want).Abs() > time.Minute {
		t.Errorf("next_at %s, want about %s", st.NextAt, want)
	}
	if st.LiveSince == nil || h.clock.Now().Sub(*st.LiveSince) != time.Hour {
		t.Errorf("live since %v", st.LiveSince)
	}
}

// TestGeneratedPoliciesPassEverySender: invariant 7. Every policy the
// engine publishes on the way up the ladder, back and out is read exactly
// as RFC 8461 reads it by every emulated sender implementation.
func TestGeneratedPoliciesPassEverySender(t *testing.T) {
	h := newHarness(t, hopts{})
	var texts []string
	note := func(out *Outcome) {
		t.Helper()
		if out.Status != StatusDone {
			t.Fatalf("%+v", out)
		}
		texts = append(texts, h.servedFile())
	}
	out, _ := h.apply(Request{Workflow: Rollout, RUA: "mailto:r@example.test"}, ApplyOptions{})
	note(out)
	for range 3 {
		out, _ = h.apply(Request{Workflow: Promote, WithoutReports: true}, ApplyOptions{Wait: 40 * 24 * time.Hour})
		note(out)
	}
	out, _ = h.apply(Request{Workflow: Rollback, To: StageNone}, ApplyOptions{})
	note(out)
	for _, text := range texts {
		in := senders.Input{TXT: []string{"v=STSv1; id=x;"}, Fetched: true, Status: 200, ContentType: "text/plain", Body: []byte(text)}
		if rfc := senders.RFCReading(in); rfc.Outcome != senders.Policy {
			t.Errorf("RFC 8461 reading of %q: %s %s", text, rfc.Outcome, rfc.Reason)
		}
		isTesting := strings.Contains(text, "mode: testing")
		for _, v := range senders.Emulate(in) {
			switch {
			case v.Outcome == senders.Policy && v.Reason == "":
			case isTesting && v.Outcome == senders.NoPolicy && (v.Impl == senders.ImplPMSR || v.Impl == senders.ImplTLSPol):
				// pmsr and tlspol ignore testing policies by design
				// (STS-SEND-14): not a parse failure.
			default:
				t.Errorf("%s reads %q as %s: %s", v.Impl, text, v.Outcome, v.Reason)
			}
		}
	}
	if len(texts) != 5 || !strings.Contains(texts[4], "mode: none") {
		t.Fatalf("policies: %q", texts)
	}
}

// TestJournalTakesTheEngineClock: every time the engine's run writes into
// the journal (entries, intent, windows, the run id) is the engine's
// clock's, here years from the real time; the intent keeps its run.
func TestJournalTakesTheEngineClock(t *testing.T) {
	h := newHarness(t, hopts{file: true})
	t0 := time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)
	h.clock.Set(t0)
	killed := false
	h.j.fail = func(e journal.Entry) error {
		if e.Kind == journal.KindTXTSet && e.Status == journal.Pending && !killed {
			killed = true
			return errors.New("killed")
		}
		return nil
	}
	if out, _ := h.apply(Request{Workflow: Rollout, RUA: "mailto:r@example.test"}, ApplyOptions{}); out.Status != StatusFailed {
		t.Fatalf("cut run: %+v", out)
	}
	j := h.j.must(tDomain)
	if j.Intent == nil || j.Intent.Run == "" || !strings.HasPrefix(j.Intent.Run, "20310304T0506") {
		t.Fatalf("intent %+v: want the run, on the engine's clock", j.Intent)
	}
	inRange := func(what string, at time.Time) {
		t.Helper()
		if at.Before(t0) || at.After(h.clock.Now()) {
			t.Errorf("%s at %s, outside the engine's clock (%s to %s)", what, at, t0, h.clock.Now())
		}
	}
	inRange("intent", j.Intent.StartedAt)
	for _, e := range j.Entries {
		if e.Run != j.Intent.Run {
			t.Errorf("entry %d of run %q, the intent's is %q", e.ID, e.Run, j.Intent.Run)
		}
		inRange(fmt.Sprintf("entry %d started", e.ID), e.Started)
		if !e.Finished.IsZero() {
			inRange(fmt.Sprintf("entry %d finished", e.ID), e.Finished)
		}
	}
	if j.TLSRPT == nil {
		t.Fatal("no TLS-RPT record journaled")
	}
	inRange("tlsrpt", j.TLSRPT.SetAt)
	// The rerun closes nothing pending here (the cut save never happened)
	// and finishes; the windows it opens start on the engine's clock too.
	h.clock.Advance(time.Hour)
	if out, _ := h.apply(Request{Workflow: Rollout, RUA: "mailto:r@example.test"}, ApplyOptions{}); out.Status != StatusDone {
		t.Fatalf("rerun: %+v", out)
	}
	j = h.j.must(tDomain)
	if j.Intent != nil || j.Policy == nil {
		t.Fatalf("after the rerun: intent %+v policy %+v", j.Intent, j.Policy)
	}
	inRange("published", j.Policy.PublishedAt)
	for _, w := range j.Windows {
		inRange("window "+w.Kind, w.Start)
	}
}

// TestReadsJournalOfToday: a journal as stspilot.journal/v1 has been
// written (markers, cache and teardown windows) plans and reports the
// same: mode none live, deletion waits for the window's end, and the
// history names the steps as before.
func TestReadsJournalOfToday(t *testing.T) {
	h := newHarness(t, hopts{})
	b, err := os.ReadFile(filepath.Join("testdata", "journal-v1-teardown.json"))
	if err != nil {
		t.Fatal(err)
	}
	mj := h.j.Journal.(*memJournal)
	mj.docs[tDomain] = b
	h.clock.Set(time.Date(2030, 2, 2, 0, 0, 0, 0, time.UTC))
	end := time.Date(2030, 3, 3, 0, 0, 0, 0, time.UTC)

	p, err := h.e.Plan(context.Background(), Request{Workflow: Teardown, Domain: tDomain})
	if err != nil {
		t.Fatal(err)
	}
	if p.Stage != StageNone || len(p.Gates) != 1 || p.Gates[0].Kind != GateWindow || p.Gates[0].Open || p.Gates[0].NextAt == nil || !p.Gates[0].NextAt.Equal(end) {
		t.Fatalf("teardown plan: stage %s gates %+v", p.Stage, p.Gates)
	}
	st, err := h.e.Status(context.Background(), tDomain)
	if err != nil {
		t.Fatal(err)
	}
	if st.Teardown == nil || !st.Teardown.NoneSince.Equal(time.Date(2030, 2, 1, 0, 0, 0, 0, time.UTC)) || st.Teardown.LastMaxAge != 30*24*3600 {
		t.Errorf("status teardown %+v", st.Teardown)
	}
	var kinds []StepKind
	for _, e := range st.History {
		kinds = append(kinds, e.Kind)
	}
	if want := []StepKind{"intent", StepPublishPolicy, StepSetSTS, "published"}; !slices.Equal(kinds, want) {
		t.Errorf("history kinds %q, want %q", kinds, want)
	}
	if e := st.History[2]; e.TTL != 300 || !e.At.Equal(time.Date(2030, 1, 31, 23, 59, 56, 0, time.UTC)) {
		t.Errorf("history entry %+v", e)
	}
	// A run inside the window deletes nothing and keeps every entry.
	out, _ := h.apply(Request{Workflow: Teardown}, ApplyOptions{})
	if out.Status != StatusPending || out.NextAt == nil || !out.NextAt.Equal(end) {
		t.Fatalf("teardown inside the window: %+v", out)
	}
	if j := h.j.must(tDomain); len(j.Entries) != 4 || j.Window(journal.WindowTeardown) == nil {
		t.Errorf("the journal after the run: %d entries, windows %+v", len(j.Entries), j.Windows)
	}
}

// TestNewRefusesAMissingPart: an engine without a part the workflows use
// is an error from New, naming the part, never a nil-pointer panic later.
func TestNewRefusesAMissingPart(t *testing.T) {
	h := newHarness(t, hopts{})
	full := h.e.Config()
	if _, err := New(full); err != nil {
		t.Fatalf("a complete configuration: %v", err)
	}
	for name, change := range map[string]func(*Config){
		"DNS provider":   func(c *Config) { c.Provider = nil },
		"publisher":      func(c *Config) { c.Publisher = nil },
		"journal":        func(c *Config) { c.Journal = nil },
		"live checks":    func(c *Config) { c.Check = nil },
		"served gate":    func(c *Config) { c.Served = nil },
		"published gate": func(c *Config) { c.Published = nil },
		"zone":           func(c *Config) { c.Zone, c.FindZone = "", nil },
		"ladder":         func(c *Config) { c.Ladder = nil },
		"negative":       func(c *Config) { c.TTL = -time.Second },
	} {
		c := h.e.Config()
		change(&c)
		e, err := New(c)
		if err == nil || e != nil || !strings.Contains(err.Error(), name) {
			t.Errorf("without the %s: %v, %v", name, e, err)
		}
	}
	// Clock and Poll have defaults.
	c := h.e.Config()
	c.Clock, c.Poll = nil, 0
	e, err := New(c)
	if err != nil || e.Config().Poll != DefaultPoll || e.Config().Clock == nil {
		t.Fatalf("defaults: %v %+v", err, e)
	}
}

// TestCheckWithoutObservationsIsAnError: a check that returns nothing, or
// a report without its typed observations, stops the plan with an error
// instead of a panic or a plan made from nothing.
func TestCheckWithoutObservationsIsAnError(t *testing.T) {
	h := newHarness(t, hopts{})
	for name, rep := range map[string]*checks.Report{"nil": nil, "no observations": {Schema: checks.SchemaVersion, Domain: tDomain, Stage: checks.StageAbsent}} {
		c := h.e.Config()
		c.Check = func(context.Context, string) *checks.Report { return rep }
		e, err := New(c)
		if err != nil {
			t.Fatal(err)
		}
		if p, err := e.Plan(context.Background(), Request{Workflow: Rollout, Domain: tDomain, RUA: "mailto:r@example.test"}); err == nil || !strings.Contains(err.Error(), "live state") {
			t.Errorf("%s: plan %+v, err %v", name, p, err)
		}
	}
}
