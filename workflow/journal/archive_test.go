package journal

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// limits lowers the cap, the rotation size and the archive size for the
// rest of the test.
func limits(t *testing.T, maxBytes, rotateBytes, archiveBytes int64) {
	t.Helper()
	t.Cleanup(SetLimitsForTest(maxBytes, rotateBytes, archiveBytes))
}

// noChange is a change-less re-run's entry of run r at time at.
func noChange(r string, at time.Time) Entry {
	return Entry{
		Run: r, Workflow: "rollout", Step: "1-publish-policy", Kind: KindPolicyWrite, Name: "https://mta-sts.example.com/.well-known/mta-sts.txt",
		After: policyText, PolicyText: policyText, PolicyID: "20261129050000abcdefgh", MaxAge: 86400,
	}
}

// TestFoldRepeatedRuns: a run that repeats the previous entry exactly is
// folded into it, through Save (the entry was saved pending first), with
// its count and its last run and time; a change, another error or another
// step is not folded.
func TestFoldRepeatedRuns(t *testing.T) {
	s := openStore(t)
	h := lock(t, s, "example.com")
	j, _ := New("example.com")
	for i := range 5 {
		at := t0.Add(time.Duration(i) * time.Minute)
		run := fmt.Sprintf("run-%d", i)
		id := j.Append(noChange(run, at), at)
		if err := h.Save(j); err != nil {
			t.Fatal(err)
		}
		if err := j.Finish(id, Done, at.Add(time.Second), ""); err != nil {
			t.Fatal(err)
		}
		if folded := j.Fold(); folded != (i > 0) {
			t.Fatalf("run %d: Fold %v", i, folded)
		}
		if err := h.Save(j); err != nil {
			t.Fatalf("run %d: Save of the fold: %v", i, err)
		}
	}
	j, err := h.Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(j.Entries) != 1 {
		t.Fatalf("%d entries, want 1", len(j.Entries))
	}
	e := j.Entries[0]
	if e.Count != 5 || e.Runs() != 5 || e.Run != "run-0" || e.LastRun != "run-4" || !e.Started.Equal(t0) || !e.LastAt.Equal(t0.Add(4*time.Minute+time.Second)) {
		t.Fatalf("folded entry %+v", e)
	}
	b, _ := os.ReadFile(h.Path())
	if !bytes.Contains(b, []byte(`"count": 5,`)) || !bytes.Contains(b, []byte(`"last_run": "run-4"`)) {
		t.Fatalf("the file does not show the count:\n%s", b)
	}

	// Not folded: a change, a failure after a success, another step.
	for _, e := range []Entry{
		func() Entry { e := noChange("x", t0); e.Changed = true; return e }(),
		func() Entry { e := noChange("x", t0); e.Step = "2-other"; return e }(),
	} {
		a := j.Entries[len(j.Entries)-1]
		e.ID, e.Status, e.Started, e.Finished = a.ID+1, Done, t0.Add(time.Hour), t0.Add(time.Hour)
		if Repeats(a, e) {
			t.Errorf("%+v repeats %+v", e, a)
		}
	}
	id := j.Append(noChange("x", t0), t0.Add(time.Hour))
	j.Finish(id, Failed, t0.Add(time.Hour), "timeout")
	if j.Fold() {
		t.Fatal("a failure was folded into a success")
	}
	if err := h.Save(j); err != nil {
		t.Fatal(err)
	}
	id = j.Append(noChange("y", t0), t0.Add(2*time.Hour))
	j.Finish(id, Failed, t0.Add(2*time.Hour), "timeout")
	if !j.Fold() || j.Entries[len(j.Entries)-1].Count != 2 {
		t.Fatalf("the same failure was not folded: %+v", j.Entries)
	}
	if err := h.Save(j); err != nil {
		t.Fatal(err)
	}
	// Save still refuses to drop a completed entry or to lower a count.
	j2 := *j
	j2.Entries = slices.Clone(j.Entries[:len(j.Entries)-1])
	if err := h.Save(&j2); err == nil {
		t.Fatal("Save dropped a completed entry")
	}
	j2.Entries = slices.Clone(j.Entries)
	j2.Entries[0].Count = 2
	if err := h.Save(&j2); err == nil {
		t.Fatal("Save lowered a count")
	}
	j2.Entries = slices.Clone(j.Entries)
	j2.Entries[0].Count, j2.Entries[0].Error = 9, "rewritten"
	if err := h.Save(&j2); err == nil {
		t.Fatal("Save rewrote a folded entry")
	}
}

// TestV2JournalWithoutV3Fields: a v2 journal is read (and written as v3);
// one holding what only v3 has is refused.
func TestV2JournalWithoutV3Fields(t *testing.T) {
	j := full(t)
	b, err := Encode(j)
	if err != nil {
		t.Fatal(err)
	}
	v2 := bytes.Replace(b, []byte(Schema), []byte(SchemaV2), 1)
	got, err := Decode(v2)
	if err != nil || got.Schema != Schema || len(got.Ledger) != len(j.Ledger) {
		t.Fatalf("v2: %v %+v", err, got)
	}
	bad := bytes.Replace(v2, []byte(`"finished": "2026-11-29T05:00:01Z"`), []byte(`"finished": "2026-11-29T05:00:01Z", "count": 3`), 1)
	if bytes.Equal(bad, v2) {
		t.Fatal("test input unchanged")
	}
	if _, err := Decode(bad); err == nil || !strings.Contains(err.Error(), "count") {
		t.Fatalf("v2 with a count: %v", err)
	}
}

// fill appends n completed entries of about 600 bytes each.
func fill(j *Journal, n int, at time.Time) {
	for i := range n {
		id := j.Append(Entry{
			Run: fmt.Sprintf("old-%d", i), Workflow: "rollout", Step: "1-publish-policy", Kind: KindPolicyWrite,
			Name: "https://mta-sts.example.com/.well-known/mta-sts.txt", After: policyText, PolicyText: policyText, PolicyID: "20261129050000abcdefgh", MaxAge: 86400, Changed: i%2 == 0,
		}, at)
		j.Finish(id, Done, at, "")
	}
}

// TestSaveRotatesNearTheCap: a journal (written by an older stspilot)
// just under its cap is saved with one more entry: its oldest entries go
// to the archive, the ledger, intent and pending entry stay, the journal
// ends far under the cap, and every entry is in the archive or the
// journal, once. The cap is never passed, even with rotation impossible.
func TestSaveRotatesNearTheCap(t *testing.T) {
	limits(t, 64<<10, 16<<10, 48<<10)
	s := openStore(t)
	h := lock(t, s, "example.com")
	j := full(t)
	j.Entries = j.Entries[:2] // completed ones only
	for Size(j) < 63<<10 {
		fill(j, 1, t0.Add(time.Hour))
	}
	data, err := encode(j)
	if err != nil || int64(len(data)) > maxSize {
		t.Fatal(err, len(data))
	}
	// As an older stspilot left it: written without rotation.
	if err := os.WriteFile(h.Path(), data, 0o600); err != nil {
		t.Fatal(err)
	}
	j, err = h.Load()
	if err != nil {
		t.Fatal(err)
	}
	all := slices.Clone(j.Entries)
	ledger := slices.Clone(j.Ledger)
	for len(data) <= int(maxSize) { // one more entry would pass the cap
		fill(j, 1, t0.Add(2*time.Hour))
		data, _ = encode(j)
	}
	all = append(all, j.Entries[len(all):]...)
	id := j.Append(Entry{Run: "rollback", Workflow: "rollback", Step: "1-publish-policy", Kind: KindPolicyWrite, Name: "https://mta-sts.example.com/.well-known/mta-sts.txt"}, t0.Add(3*time.Hour))
	all = append(all, *j.Entry(id))
	if err := h.Save(j); err != nil {
		t.Fatalf("Save of a journal past its cap: %v", err)
	}
	fi, _ := os.Stat(h.Path())
	if fi.Size() > rotateSize/4 {
		t.Errorf("journal %d bytes after rotation, want at most %d", fi.Size(), rotateSize/4)
	}
	back, err := h.Load()
	if err != nil {
		t.Fatal(err)
	}
	if back.Intent == nil || !slices.EqualFunc(back.Ledger, ledger, func(a, b LedgerPolicy) bool { return slices.Equal(a.MX, b.MX) && a.Hash == b.Hash && a.ID == b.ID }) {
		t.Fatalf("the intent or the ledger changed: %+v %+v", back.Intent, back.Ledger)
	}
	if p := back.Pending(); len(p) != 1 || p[0].ID != id {
		t.Fatalf("pending entries %+v", p)
	}
	if back.Archive == nil || back.Archive.Entries != len(all)-len(back.Entries) || back.Archive.LastID != back.Entries[0].ID-1 {
		t.Fatalf("archive %+v, %d entries left of %d", back.Archive, len(back.Entries), len(all))
	}
	arch, err := s.Archived("example.com")
	if err != nil {
		t.Fatal(err)
	}
	if got := append(arch, back.Entries...); !slices.Equal(got, all) {
		t.Fatalf("archive+journal hold %d entries, want the %d saved, in order", len(got), len(all))
	}
	for _, p := range []string{h.Path(), s.archivePath("example.com", 0)} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v", p, fi.Mode(), err)
		}
	}
	// The next entry goes on from the ids moved.
	if next := back.Append(Entry{Kind: KindTXTSet, Name: "x"}, t0); next != id+1 {
		t.Errorf("next id %d, want %d", next, id+1)
	}

	// A journal that cannot be rotated (one pending entry holds all of
	// it) is refused past the cap, never written.
	h2 := lock(t, s, "example.org")
	k, _ := New("example.org")
	k.Append(Entry{Kind: KindPolicyWrite, Name: "https://mta-sts.example.org/", PolicyText: strings.Repeat("x", int(maxSize))}, t0)
	if err := h2.Save(k); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("Save past the cap: %v", err)
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), "example.org.json")); err == nil {
		t.Fatal("a journal over the cap was written")
	}
}

// TestArchiveFileRotation: past its own size, the archive starts a new
// file, the older ones shifting to .1, .2, .3, and the oldest beyond
// ArchiveKeep goes; each file is whole.
func TestArchiveFileRotation(t *testing.T) {
	limits(t, 64<<10, 8<<10, 6<<10)
	s := openStore(t)
	h := lock(t, s, "example.com")
	j, _ := New("example.com")
	for i := range 200 {
		fill(j, 1, t0.Add(time.Duration(i)*time.Minute))
		if err := h.Save(j); err != nil {
			t.Fatalf("save %d: %v", i, err)
		}
	}
	for n := 0; n <= ArchiveKeep; n++ {
		p := s.archivePath("example.com", n)
		b, err := readArchive(p, "example.com")
		if err != nil || b == nil {
			t.Fatalf("%s: %v", p, err)
		}
		if int64(len(b)) > archiveSize {
			t.Errorf("%s: %d bytes, above %d", p, len(b), archiveSize)
		}
	}
	if _, err := os.Stat(s.archivePath("example.com", ArchiveKeep+1)); err == nil {
		t.Fatal("more archives than ArchiveKeep")
	}
	arch, err := s.Archived("example.com")
	if err != nil {
		t.Fatal(err)
	}
	all := append(arch, j.Entries...)
	for i := 1; i < len(all); i++ {
		if all[i].ID != all[i-1].ID+1 {
			t.Fatalf("ids not consecutive at %d: %d after %d", i, all[i].ID, all[i-1].ID)
		}
	}
	if last := all[len(all)-1].ID; last != 200 || all[0].ID == 1 {
		t.Fatalf("ids %d..%d: want the oldest dropped and the newest 200", all[0].ID, last)
	}
	// A file that is not this domain's archive is left untouched and the
	// journal, under its cap, is still written.
	os.WriteFile(s.archivePath("example.com", 0), []byte("not an archive\n"), 0o600)
	for i := range 30 {
		fill(j, 1, t0.Add(time.Duration(300+i)*time.Minute))
		if err := h.Save(j); err != nil {
			t.Fatalf("save with a foreign archive: %v", err)
		}
	}
	if b, _ := os.ReadFile(s.archivePath("example.com", 0)); string(b) != "not an archive\n" {
		t.Fatal("a foreign archive file was overwritten")
	}
}

// TestRotationCrashKeepsHistory: the archive is written before the
// journal drops the entries; a failure of the journal's write in between
// leaves the old journal whole and the entries in both, and the next Save
// archives nothing twice.
func TestRotationCrashKeepsHistory(t *testing.T) {
	limits(t, 64<<10, 16<<10, 48<<10)
	for _, stage := range []string{"write", "sync", "rename"} {
		t.Run(stage, func(t *testing.T) {
			s, h, j := nearRotation(t)
			before, _ := os.ReadFile(h.Path())
			fill(j, 3, t0.Add(time.Hour))
			all := slices.Clone(j.Entries)
			var stages []string
			boom := errors.New("killed")
			s.hook = func(st string) error {
				stages = append(stages, st)
				if st == stage { // the journal's write: the second one
					return boom
				}
				return nil
			}
			if err := h.Save(j); !errors.Is(err, boom) {
				t.Fatalf("Save: %v", err)
			}
			if stages[0] != "archive-write" || !slices.Contains(stages, "archive-rename") {
				t.Fatalf("stages %q: the archive is not written first", stages)
			}
			if after, _ := os.ReadFile(h.Path()); !bytes.Equal(before, after) {
				t.Fatal("the journal changed")
			}
			if !slices.Equal(j.Entries, all) || j.Archive != nil {
				t.Fatal("the failed Save dropped entries from the caller's journal")
			}
			arch, err := s.Archived("example.com")
			if err != nil || len(arch) == 0 {
				t.Fatalf("archive: %v, %d entries", err, len(arch))
			}
			s.hook = nil
			if err := h.Save(j); err != nil {
				t.Fatalf("Save after the failure: %v", err)
			}
			arch2, _ := s.Archived("example.com")
			back, _ := h.Load()
			if got := append(arch2, back.Entries...); !slices.Equal(got, all) {
				t.Fatalf("archive+journal: %d entries, want %d, each once", len(got), len(all))
			}
			raw, _ := os.ReadFile(s.archivePath("example.com", 0))
			if n := bytes.Count(raw, []byte("\n")); n != len(arch2)+1 {
				t.Errorf("archive has %d lines for %d entries: duplicated", n, len(arch2))
			}
		})
	}
}

// TestFoldOverARunOfSteps: a re-run whose steps all repeat the previous
// run's (A B C, then A B C again) folds each into its earlier one; a
// change or an intent in between stops the fold.
func TestFoldOverARunOfSteps(t *testing.T) {
	s := openStore(t)
	h := lock(t, s, "example.com")
	j, _ := New("example.com")
	step := func(run, name string, at time.Time) bool {
		e := noChange(run, at)
		e.Step = name
		id := j.Append(e, at)
		if err := h.Save(j); err != nil {
			t.Fatal(err)
		}
		j.Finish(id, Done, at, "")
		folded := j.Fold()
		if err := h.Save(j); err != nil {
			t.Fatalf("%s %s: %v", run, name, err)
		}
		return folded
	}
	for r := range 3 {
		at := t0.Add(time.Duration(r) * time.Hour)
		for _, name := range []string{"a", "b", "c"} {
			if got := step(fmt.Sprint("run-", r), name, at); got != (r > 0) {
				t.Fatalf("run %d step %s: folded %v", r, name, got)
			}
		}
	}
	if len(j.Entries) != 3 || j.Entries[0].Count != 3 || j.Entries[2].Count != 3 || j.Entries[1].LastRun != "run-2" {
		t.Fatalf("entries %+v", j.Entries)
	}
	// A change, then the same steps again: not folded across the change.
	id := j.Append(Entry{Kind: KindTXTSet, Name: "_mta-sts.example.com", Changed: true}, t0.Add(5*time.Hour))
	j.Finish(id, Done, t0.Add(5*time.Hour), "")
	j.Entry(id).Changed = true
	if err := h.Save(j); err != nil {
		t.Fatal(err)
	}
	if step("run-5", "a", t0.Add(5*time.Hour)) {
		t.Fatal("folded across a change")
	}
	id = j.Append(Entry{Kind: KindIntent, Name: "https://mta-sts.example.com/.well-known/mta-sts.txt"}, t0.Add(6*time.Hour))
	j.Finish(id, Done, t0.Add(6*time.Hour), "")
	h.Save(j)
	if step("run-6", "a", t0.Add(6*time.Hour)) {
		t.Fatal("folded across an intent")
	}
}

// archiveLines counts the entry lines of every archive file of domain.
func archiveLines(t *testing.T, s *Store, domain string) int {
	t.Helper()
	n := 0
	for k := 0; k <= ArchiveKeep; k++ {
		raw, err := os.ReadFile(s.archivePath(domain, k))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		n += bytes.Count(raw, []byte("\n")) - 1 // the header
	}
	return n
}

// nearRotation saves a journal of example.com just under the rotation
// size (16 KiB).
func nearRotation(t *testing.T) (*Store, *Handle, *Journal) {
	t.Helper()
	s := openStore(t)
	h := lock(t, s, "example.com")
	j, _ := New("example.com")
	for Size(j) < 15<<10 {
		fill(j, 1, t0)
	}
	if err := h.Save(j); err != nil {
		t.Fatal(err)
	}
	return s, h, j
}

// killedRotation saves a journal near the rotation size, then one more
// Save whose rotation writes the archive and is killed before the
// journal's own write: the state a process killed between the two leaves.
func killedRotation(t *testing.T, archiveBytes int64) (*Store, *Handle, *Journal) {
	t.Helper()
	limits(t, 64<<10, 16<<10, archiveBytes)
	s, h, j := nearRotation(t)
	fill(j, 3, t0.Add(time.Hour))
	boom := errors.New("killed")
	s.hook = func(st string) error {
		if st == "write" { // the journal's, after the archive's
			return boom
		}
		return nil
	}
	if err := h.Save(j); !errors.Is(err, boom) {
		t.Fatalf("Save: %v", err)
	}
	s.hook = nil
	return s, h, j
}

// saveArchivesOnce saves j and checks that the archive and the journal
// hold the entries all, each once, in every archive file too.
func saveArchivesOnce(t *testing.T, s *Store, h *Handle, j *Journal, all []Entry) {
	t.Helper()
	if err := h.Save(j); err != nil {
		t.Fatalf("Save after the kill: %v", err)
	}
	arch, err := s.Archived("example.com")
	if err != nil {
		t.Fatal(err)
	}
	back, _ := h.Load()
	if got := append(arch, back.Entries...); !slices.Equal(got, all) {
		t.Fatalf("archive+journal: %d entries, want the %d saved, each once as last saved", len(got), len(all))
	}
	if n := archiveLines(t, s, "example.com"); n != len(arch) {
		t.Errorf("the archive files hold %d lines for %d entries: archived twice", n, len(arch))
	}
}

// TestRotationCrashAcrossArchiveFiles: a rotation killed after it wrote
// the archive, having started a new archive file on the way (the older
// entries it moved are in DOMAIN.archive.1.jsonl), is done again by the
// next Save without archiving those entries a second time.
func TestRotationCrashAcrossArchiveFiles(t *testing.T) {
	s, h, j := killedRotation(t, 10<<10)
	if _, err := os.Stat(s.archivePath("example.com", 1)); err != nil {
		t.Fatalf("the killed rotation started no second archive file: %v", err)
	}
	saveArchivesOnce(t, s, h, j, slices.Clone(j.Entries))
}

// TestRotationCrashThenFold: an entry a killed rotation archived that a
// later run is folded into before the next Save (its count grew) is
// archived once, as the journal last held it.
func TestRotationCrashThenFold(t *testing.T) {
	s, h, j := killedRotation(t, 48<<10)
	// The second entry (one that changed nothing) is in the archive, and
	// the journal's copy of it has had a repetition folded in since.
	e := &j.Entries[1]
	e.Count, e.LastRun, e.LastAt = 2, "again", t0.Add(2*time.Hour)
	saveArchivesOnce(t, s, h, j, slices.Clone(j.Entries))
}
