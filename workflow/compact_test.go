package workflow

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stspilot/stspilot/checks"
	"github.com/stspilot/stspilot/dnsprovider"
	"github.com/stspilot/stspilot/workflow/journal"
)

// sameServed answers the served gate as it answered the first time.
type sameServed struct {
	ServedGate
	first *GateResult
}

func (s *sameServed) Check(ctx context.Context, domain string, want []byte) GateResult {
	if s.first == nil {
		g := s.ServedGate.Check(ctx, domain, want)
		s.first = &g
	}
	g := *s.first
	g.Targets = slices.Clone(g.Targets)
	return g
}

// sameWorld makes the live checks and the served gate answer as they did
// the first time, until restore: a loop of re-runs against a world that
// stays as it is costs the engine's work only, not a thousand TLS
// handshakes.
func (h *harness) sameWorld() (restore func()) {
	check, served := h.e.cfg.Check, h.e.cfg.Served
	var first *checks.Report
	h.e.cfg.Check = func(ctx context.Context, d string) *checks.Report {
		if first == nil {
			first = check(ctx, d)
		}
		return first
	}
	h.e.cfg.Served = &sameServed{ServedGate: h.e.cfg.Served}
	return func() { h.e.cfg.Check, h.e.cfg.Served = check, served }
}

// fileStore is the harness's journal store (hopts{file: true}).
func (h *harness) fileStore() *journal.Store {
	h.t.Helper()
	fj, ok := h.j.Journal.(*FileJournal)
	if !ok {
		h.t.Fatal("not a file journal")
	}
	return fj.Store
}

// TestRetryLoopKeepsTheJournalSmall: a rollout re-run once a minute while
// the policy host answers 404 (a cron job, a retry loop) records its
// change-less re-run once: 1,000 re-runs leave one entry with count 1000,
// the first and the last run, and a journal of a few kilobytes. The file
// journal (whose Save checks that entries stay append-only) takes a few
// re-runs: each one waits for fsyncs.
func TestRetryLoopKeepsTheJournalSmall(t *testing.T) {
	t.Run("memjournal", func(t *testing.T) { retryLoop(t, false, 1000) })
	t.Run("filejournal", func(t *testing.T) { retryLoop(t, true, 5) })
}

func retryLoop(t *testing.T, file bool, reruns int) {
	h := newHarness(t, hopts{file: file})
	h.hostFail.Store("404")
	out, _ := h.apply(Request{Workflow: Rollout, RUA: "mailto:r@example.test"}, ApplyOptions{})
	if out.Status != StatusPending {
		t.Fatalf("rollout against a 404: %+v", out)
	}
	first := h.j.must(tDomain)
	restore := h.sameWorld()
	var lastRun string
	for i := range reruns {
		h.clock.Advance(time.Minute)
		out, _ = h.apply(Request{Workflow: Rollout, RUA: "mailto:r@example.test"}, ApplyOptions{})
		if out.Status != StatusPending {
			t.Fatalf("re-run %d: %+v", i, out)
		}
		if i == reruns-1 {
			lastRun = h.j.must(tDomain).Entries[len(first.Entries)].LastRun
		}
	}
	j := h.j.must(tDomain)
	size := journal.Size(j)
	if size > 4<<10 {
		t.Errorf("journal %d bytes after %d re-runs, want a few kilobytes", size, reruns)
	}
	if len(j.Entries) != len(first.Entries)+1 {
		t.Fatalf("%d entries after %d re-runs, want %d: %+v", len(j.Entries), reruns, len(first.Entries)+1, j.Entries)
	}
	if !slices.Equal(j.Entries[:len(first.Entries)], first.Entries) {
		t.Error("the first run's entries changed")
	}
	e := j.Entries[len(j.Entries)-1]
	if e.Count != reruns || e.Kind != journal.KindPolicyWrite || e.Changed || e.Status != journal.Done {
		t.Fatalf("collapsed entry %+v, want count %d", e, reruns)
	}
	if want := h.clock.Now().UTC().Truncate(time.Second); !e.LastAt.Equal(want) || e.LastRun == "" || e.LastRun == e.Run || e.LastRun != lastRun {
		t.Errorf("collapsed entry runs %s..%s at %s..%s, want the last at %s", e.Run, e.LastRun, e.Started, e.LastAt, want)
	}
	if d, want := e.LastAt.Sub(e.Started), time.Duration(reruns-1)*time.Minute; d != want {
		t.Errorf("first to last %s, want %s", d, want)
	}
	// status shows it once, with its count.
	st, err := h.e.Status(context.Background(), tDomain)
	if err != nil {
		t.Fatal(err)
	}
	hist := st.History[len(st.History)-1]
	if hist.Count != reruns || !hist.FirstAt.Equal(e.Finished) || !hist.At.Equal(e.LastAt) {
		t.Errorf("status history %+v", hist)
	}
	if st.Journal == nil || st.Journal.Bytes != size || st.Journal.Warning != "" {
		t.Errorf("status journal %+v, want %d bytes and no warning", st.Journal, size)
	}
	// Once the host serves again, the rollout goes on from there.
	h.hostFail.Store("")
	restore()
	if out, _ = h.apply(Request{Workflow: Rollout, RUA: "mailto:r@example.test"}, ApplyOptions{}); out.Status != StatusDone {
		t.Fatalf("rollout after the host healed: %+v", out)
	}
}

// oldHistory appends n completed entries to j as the history an older
// stspilot kept (every change, no folding).
func oldHistory(j *journal.Journal, n int, at time.Time) {
	text := "version: STSv1\r\nmode: testing\r\nmx: mx1.example.test\r\nmax_age: 86400\r\n"
	for i := range n {
		id := j.Append(journal.Entry{
			Run: fmt.Sprintf("20200101T000000Z-%d", i), Workflow: "rollout", Step: "1-publish-policy", Kind: journal.KindPolicyWrite,
			Name: "https://mta-sts.example.test/.well-known/mta-sts.txt", After: text, PolicyText: text, PolicyID: "20200101000000abcdefgh", MaxAge: 86400, Changed: true,
		}, at)
		j.Finish(id, journal.Done, at, "")
	}
}

// TestRollbackWithAJournalNearItsCap: a rollback is never refused for
// the journal's size. A journal within a few hundred bytes of its cap
// (the caps lowered so that it is 64 KiB) moves its oldest history to the
// archive and the rollback goes through; the ledger is kept whole and the
// journal ends far under the cap.
func TestRollbackWithAJournalNearItsCap(t *testing.T) {
	t.Cleanup(journal.SetLimitsForTest(64<<10, 16<<10, 48<<10))
	h := newHarness(t, hopts{file: true})
	h.climb(1) // enforce
	path, _ := h.fileStore().Path(tDomain)
	j := h.j.must(tDomain)
	ledger := slices.Clone(j.Ledger)
	// As an older stspilot left it: all history, just under the cap.
	var data []byte
	for {
		k := *j
		k.Entries = slices.Clone(j.Entries)
		oldHistory(&k, 1, h.clock.Now().Add(-time.Hour))
		b, err := journal.Encode(&k)
		if err != nil {
			break // one more entry would pass the cap
		}
		*j, data = k, b
	}
	if len(data) < 63<<10 {
		t.Fatalf("journal %d bytes, want just under 64 KiB", len(data))
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	before := slices.Clone(j.Entries)

	st, err := h.e.Status(context.Background(), tDomain)
	if err != nil {
		t.Fatal(err)
	}
	if st.Journal == nil || st.Journal.Bytes != int64(len(data)) || st.Journal.Limit != 16<<10 || st.Journal.Warning == "" {
		t.Fatalf("status of a journal near its cap: %+v", st.Journal)
	}

	out, _ := h.apply(Request{Workflow: Rollback}, ApplyOptions{})
	if out.Status != StatusDone || out.Stage != StageTesting {
		t.Fatalf("rollback with a journal near its cap: %+v", out)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Size() > 16<<10 {
		t.Fatalf("journal after the rollback: %v bytes (%v), want under the rotation size", fi.Size(), err)
	}
	after := h.j.must(tDomain)
	// The ledger: every policy kept, in order, and the rollback's added.
	if len(after.Ledger) < len(ledger) {
		t.Fatalf("ledger shrank: %d, was %d", len(after.Ledger), len(ledger))
	}
	for i, p := range ledger {
		q := after.Ledger[i]
		if q.Hash != p.Hash || q.ID != p.ID || q.MaxAge != p.MaxAge || q.Mode != p.Mode || !q.PublishedAt.Equal(p.PublishedAt) {
			t.Errorf("ledger %d: %+v, was %+v", i, q, p)
		}
	}
	if after.Intent != nil || after.Policy == nil || after.Policy.Mode != "testing" {
		t.Errorf("after the rollback: intent %+v policy %+v", after.Intent, after.Policy)
	}
	arch, err := h.fileStore().Archived(tDomain)
	if err != nil || len(arch) == 0 || after.Archive == nil || after.Archive.Entries != len(arch) {
		t.Fatalf("archive: %v, %d entries, journal says %+v", err, len(arch), after.Archive)
	}
	all := append(arch, after.Entries...)
	if !slices.Equal(all[:len(before)], before) {
		t.Error("history lost or changed on the way to the archive")
	}
	if !slices.ContainsFunc(after.Entries, func(e journal.Entry) bool { return e.Workflow == "rollback" && e.Kind == journal.KindPublished }) {
		t.Error("the journal does not hold the rollback")
	}
	st, err = h.e.Status(context.Background(), tDomain)
	if err != nil || st.Journal == nil || st.Journal.Archived != len(arch) || st.Journal.Warning != "" {
		t.Fatalf("status after the rollback: %+v %v", st.Journal, err)
	}
}

// TestStatusWarnsBeforeRotation: status says how large the journal is,
// in text and JSON, and warns once it passes half the rotation size.
func TestStatusWarnsBeforeRotation(t *testing.T) {
	t.Cleanup(journal.SetLimitsForTest(0, 8<<10, 0))
	h := newHarness(t, hopts{file: true})
	h.climb(0)
	st, err := h.e.Status(context.Background(), tDomain)
	if err != nil {
		t.Fatal(err)
	}
	if st.Journal == nil || st.Journal.Bytes == 0 || st.Journal.Limit != 8<<10 || st.Journal.Warning != "" {
		t.Fatalf("status journal %+v", st.Journal)
	}
	// Past half the rotation size, without reaching it.
	path, _ := h.fileStore().Path(tDomain)
	j := h.j.must(tDomain)
	for journal.Size(j) <= 4<<10 {
		oldHistory(j, 1, h.clock.Now())
	}
	b, err := journal.Encode(j)
	if err != nil || int64(len(b)) > 8<<10 {
		t.Fatal(err, len(b))
	}
	os.WriteFile(path, b, 0o600)
	st, err = h.e.Status(context.Background(), tDomain)
	if err != nil {
		t.Fatal(err)
	}
	js := st.Journal
	if js == nil || js.Bytes != int64(len(b)) || !strings.Contains(js.Warning, fmt.Sprint(js.Bytes)) || !strings.Contains(js.Warning, tDomain+".archive.jsonl") {
		t.Fatalf("status journal %+v, want a warning", js)
	}
	raw, _ := json.Marshal(st)
	var doc struct {
		Journal map[string]any `json:"journal"`
	}
	json.Unmarshal(raw, &doc)
	for _, k := range []string{"bytes", "limit", "archived", "warning"} {
		if _, ok := doc.Journal[k]; !ok {
			t.Errorf("status JSON journal has no %q: %s", k, raw)
		}
	}
}

// closedPublished is a published gate that stays closed: a name server
// still answers the old record.
type closedPublished struct{}

func (closedPublished) Check(ctx context.Context, zone, name string, want func(dnsprovider.TXTSet) bool) GateResult {
	return GateResult{Kind: GatePublished, Reason: "ns2 still answers the old record"}
}

// TestStuckRunsDoNotGrowTheJournal: re-runs that repeat several steps
// each (a rollout whose published gate stays closed: the policy, the
// TLS-RPT and the _mta-sts records all already in place) and an emergency
// rollback re-run while the policy host answers 404 (one intent, one id)
// leave the journal as long as their second run did.
func TestStuckRunsDoNotGrowTheJournal(t *testing.T) {
	t.Run("published gate", func(t *testing.T) {
		h := newHarness(t, hopts{})
		published := h.e.cfg.Published
		h.e.cfg.Published = closedPublished{}
		out, _ := h.apply(Request{Workflow: Rollout, RUA: "mailto:r@example.test"}, ApplyOptions{})
		if out.Status != StatusPending || out.Gate.Kind != GatePublished {
			t.Fatalf("rollout: %+v", out)
		}
		restore := h.sameWorld()
		h.clock.Advance(time.Minute)
		h.apply(Request{Workflow: Rollout, RUA: "mailto:r@example.test"}, ApplyOptions{})
		second := h.j.must(tDomain)
		for range 50 {
			h.clock.Advance(time.Minute)
			if out, _ = h.apply(Request{Workflow: Rollout, RUA: "mailto:r@example.test"}, ApplyOptions{}); out.Status != StatusPending {
				t.Fatalf("re-run: %+v", out)
			}
		}
		j := h.j.must(tDomain)
		if len(j.Entries) != len(second.Entries) {
			t.Fatalf("%d entries after 50 re-runs, %d after the second run", len(j.Entries), len(second.Entries))
		}
		folded := 0
		for _, e := range j.Entries {
			if e.Count == 51 {
				folded++
			}
		}
		if folded < 2 {
			t.Errorf("%d entries stand for the 51 re-runs, want each of their steps: %+v", folded, j.Entries)
		}
		restore()
		h.e.cfg.Published = published
		if out, _ = h.apply(Request{Workflow: Rollout, RUA: "mailto:r@example.test"}, ApplyOptions{}); out.Status != StatusDone || out.Policy.ID != j.Intent.Target.ID {
			t.Fatalf("rollout once published: %+v", out)
		}
	})
	t.Run("rollback", func(t *testing.T) {
		h := newHarness(t, hopts{})
		h.climb(1)
		h.breakHost("404")
		out, _ := h.apply(Request{Workflow: Rollback}, ApplyOptions{})
		if out.Status != StatusPending {
			t.Fatalf("rollback against a 404: %+v", out)
		}
		id := h.j.must(tDomain).Intent.Target.ID
		restore := h.sameWorld()
		h.clock.Advance(time.Minute)
		h.apply(Request{Workflow: Rollback}, ApplyOptions{})
		second := h.j.must(tDomain)
		for range 50 {
			h.clock.Advance(time.Minute)
			if out, _ = h.apply(Request{Workflow: Rollback}, ApplyOptions{}); out.Status != StatusPending {
				t.Fatalf("re-run: %+v", out)
			}
		}
		j := h.j.must(tDomain)
		if len(j.Entries) != len(second.Entries) || j.Intent.Target.ID != id {
			t.Fatalf("%d entries after 50 re-runs, %d after the second run; intent id %s, was %s", len(j.Entries), len(second.Entries), j.Intent.Target.ID, id)
		}
		if e := j.Entries[len(j.Entries)-1]; e.Count != 51 || e.Kind != journal.KindPolicyWrite {
			t.Errorf("last entry %+v, want the policy write with count 51", e)
		}
		restore()
		h.hostFail.Store("")
		if out, _ = h.apply(Request{Workflow: Rollback}, ApplyOptions{}); out.Status != StatusDone || out.Policy.ID != id {
			t.Fatalf("rollback once the host serves: %+v (intent id %s)", out, id)
		}
	})
}

// TestReadsJournalV3: a journal as stspilot.journal/v3 is written today
// (testing -> enforce@86400 with its oldest history moved to the archive,
// then a rollback run four times against a 404, its change-less re-runs
// folded into one entry, healed) reads back byte for byte, and its
// horizon is the enforce policy until a day after the healed rollback
// replaced it. Keep it when the format changes: it is the old journal
// then.
func TestReadsJournalV3(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "journal-v3-folded.json"))
	if err != nil {
		t.Fatal(err)
	}
	j, err := journal.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := journal.Encode(j); err != nil || string(out) != string(b) {
		t.Errorf("journal-v3-folded.json does not round-trip (%v)", err)
	}
	if a := j.Archive; a == nil || a.Entries != 6 || a.LastID != 6 || j.Entries[0].ID != 7 {
		t.Errorf("archive %+v, first entry %d", a, j.Entries[0].ID)
	}
	if e := j.Entry(12); e == nil || e.Count != 3 || e.Runs() != 3 || e.LastAt.IsZero() || e.LastRun == "" || e.Changed {
		t.Errorf("folded entry %+v", e)
	}
	if next := j.Append(journal.Entry{Kind: journal.KindTXTSet, Name: "_mta-sts.example.test"}, time.Now()); next != 16 {
		t.Errorf("next id %d, want 16", next)
	}
	hz := Horizon(j, time.Date(2026, 12, 21, 0, 0, 0, 0, time.UTC))
	w := hz.Worst
	if w == nil || w.Mode != "enforce" || w.MaxAge != 86400 || w.Served || !w.Until.Equal(time.Date(2026, 12, 21, 19, 32, 7, 0, time.UTC)) {
		t.Errorf("worst case %+v", w)
	}
}
