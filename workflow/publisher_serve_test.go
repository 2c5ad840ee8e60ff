package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

func TestParsePublisherServe(t *testing.T) {
	state := t.TempDir()
	p, err := ParsePublisherIn("serve", nil, state)
	if err != nil || p.Spec() != "serve" {
		t.Fatalf("serve: %v %v", p, err)
	}
	if s, ok := p.(*Serve); !ok || s.StateDir != state {
		t.Fatalf("serve publisher = %#v, want StateDir %s", p, state)
	}
	// The spec round-trips through the journal: "serve" alone rebuilds it.
	if p2, err := ParsePublisherIn(p.Spec(), nil, state); err != nil || p2.(*Serve).StateDir != state {
		t.Fatalf("re-parse: %v %v", p2, err)
	}
	if _, err := ParsePublisherIn("serve:/x", nil, state); !errors.Is(err, ErrBadPublish) {
		t.Errorf("serve:/x: err = %v, want ErrBadPublish", err)
	}
	t.Setenv("XDG_STATE_HOME", state)
	p, err = ParsePublisher("serve", nil)
	if err != nil || p.(*Serve).StateDir != filepath.Join(state, "stspilot") {
		t.Errorf("serve without a state dir: %#v %v, want the default state directory", p, err)
	}
}

func TestServePublishAtomicIdempotentRemove(t *testing.T) {
	state := t.TempDir()
	s := &Serve{StateDir: state}
	ctx := context.Background()
	policy := []byte("version: STSv1\r\nmode: testing\r\nmx: mx1.example.test\r\nmax_age: 86400\r\n")
	got, err := s.Publish(ctx, "Example.TEST.", policy)
	if err != nil || !got.Changed {
		t.Fatalf("publish: %+v %v", got, err)
	}
	path := filepath.Join(state, "publish", "example.test", "mta-sts.txt")
	if got.Where != path {
		t.Errorf("Where = %q, want %q", got.Where, path)
	}
	b, err := os.ReadFile(path)
	if err != nil || string(b) != string(policy) {
		t.Fatalf("file = %q %v, want the exact bytes", b, err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", st.Mode().Perm())
	}
	if got, err := s.Publish(ctx, "example.test", policy); err != nil || got.Changed {
		t.Errorf("same bytes again: %+v %v, want unchanged", got, err)
	}
	next := []byte("version: STSv1\nmode: enforce\nmx: mx1.example.test\nmax_age: 604800\n")
	if got, err := s.Publish(ctx, "example.test", next); err != nil || !got.Changed {
		t.Fatalf("new bytes: %+v %v", got, err)
	}
	if b, _ := os.ReadFile(path); string(b) != string(next) {
		t.Fatalf("after update: %q", b)
	}
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 1 {
		t.Errorf("directory holds %d entries, want only the policy (no temp files left)", len(ents))
	}
	// Another domain is untouched by this one's removal.
	if _, err := s.Publish(ctx, "other.test", policy); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Remove(ctx, "example.test"); err != nil || !got.Changed {
		t.Fatalf("remove: %+v %v", got, err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("policy still there after Remove: %v", err)
	}
	if _, err := os.Stat(filepath.Dir(path)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("domain directory still there after Remove: %v", err)
	}
	if got, err := s.Remove(ctx, "example.test"); err != nil || got.Changed {
		t.Errorf("second remove: %+v %v, want no change, no error", got, err)
	}
	if b, err := os.ReadFile(filepath.Join(state, "publish", "other.test", "mta-sts.txt")); err != nil || string(b) != string(policy) {
		t.Errorf("other.test after removing example.test: %q %v", b, err)
	}
}

func TestServePublishRefusesUnsafeDomains(t *testing.T) {
	s := &Serve{StateDir: t.TempDir()}
	for _, d := range []string{"../etc", "a/b.test", "", "..", "x..y"} {
		if _, err := s.Publish(context.Background(), d, []byte("x")); err == nil {
			t.Errorf("Publish(%q) succeeded, want a refusal", d)
		}
		if _, err := s.Remove(context.Background(), d); err == nil {
			t.Errorf("Remove(%q) succeeded, want a refusal", d)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Publish(ctx, "example.test", []byte("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled ctx: %v", err)
	}
}

// The id file: written before the policy, 0640 in directories 0750 that
// keep a set-group-ID parent's group, rewritten when only the id changes,
// removed by a publish without an id and by Remove.
func TestServePublishIDFile(t *testing.T) {
	state := t.TempDir()
	if err := os.MkdirAll(filepath.Join(state, "publish"), 0o750); err != nil {
		t.Fatal(err)
	}
	// The operator's one-time set-up: the publish directory's group is
	// inherited (set-group-ID).
	if err := os.Chmod(filepath.Join(state, "publish"), 0o750|fs.ModeSetgid); err != nil {
		t.Fatal(err)
	}
	s := &Serve{StateDir: state}
	ctx := context.Background()
	policy := []byte("version: STSv1\nmode: testing\nmx: mx1.example.test\nmax_age: 86400\n")
	var order []string
	got, err := s.PublishID(ctx, "example.test", policy, "20261206120000abcdefgh")
	if err != nil || !got.Changed {
		t.Fatalf("PublishID: %+v %v", got, err)
	}
	dir := filepath.Join(state, "publish", "example.test")
	meta := readMeta(t, filepath.Join(dir, "policy.json"))
	if meta.ID != "20261206120000abcdefgh" || meta.SHA256 != PolicySHA256(policy) {
		t.Errorf("id file %+v", meta)
	}
	for _, p := range []string{filepath.Join(dir, "policy.json"), filepath.Join(dir, "mta-sts.txt")} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != 0o640 {
			t.Errorf("%s: %v %v, want mode 0640", p, fi.Mode(), err)
		}
		// Written after the directory got its group: it carries it.
		if fi.Sys().(*syscall.Stat_t).Gid != mustStat(t, filepath.Join(state, "publish")).Sys().(*syscall.Stat_t).Gid {
			t.Errorf("%s: group not inherited from the publish directory", p)
		}
		order = append(order, p)
	}
	if fi := mustStat(t, dir); fi.Mode().Perm() != 0o750 || fi.Mode()&fs.ModeSetgid == 0 {
		t.Errorf("domain directory mode %v, want 0750 with the parent's set-group-ID bit", fi.Mode())
	}
	// The id file is not older than... written first: its mtime is not
	// after the policy's.
	if m, p := mustStat(t, order[0]), mustStat(t, order[1]); m.ModTime().After(p.ModTime()) {
		t.Errorf("id file written after the policy (%v > %v)", m.ModTime(), p.ModTime())
	}
	if got, err := s.PublishID(ctx, "example.test", policy, "20261206120000abcdefgh"); err != nil || got.Changed {
		t.Errorf("same bytes, same id: %+v %v, want unchanged", got, err)
	}
	// The same bytes under another id: only the id file changes.
	if got, err := s.PublishID(ctx, "example.test", policy, "20261206130000bcdefghi"); err != nil || got.Changed {
		t.Errorf("same bytes, new id: %+v %v, want unchanged bytes", got, err)
	}
	if meta := readMeta(t, filepath.Join(dir, "policy.json")); meta.ID != "20261206130000bcdefghi" {
		t.Errorf("id file after a new id: %+v", meta)
	}
	// A publish without an id leaves no id file that would name these
	// bytes wrongly.
	next := []byte("version: STSv1\nmode: enforce\nmx: mx1.example.test\nmax_age: 86400\n")
	if _, err := s.Publish(ctx, "example.test", next); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "policy.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("id file left by a publish without id: %v", err)
	}
	for _, bad := range []string{"has space", strings.Repeat("a", 33), "x\n"} {
		if _, err := s.PublishID(ctx, "example.test", next, bad); err == nil {
			t.Errorf("PublishID with id %q succeeded", bad)
		}
	}
	if _, err := s.PublishID(ctx, "example.test", next, "20261206140000cdefghij"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Remove(ctx, "example.test"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("domain directory after Remove: %v", err)
	}
	// Nothing of the earlier layout is created in a new state directory.
	if _, err := os.Stat(filepath.Join(state, "serve")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("STATE/serve created: %v", err)
	}
}

// A state directory of the earlier layout (STATE/serve) keeps its copy up
// to date for one release, for a serve of that release still running;
// Remove removes both.
func TestServePublishKeepsTheEarlierLayout(t *testing.T) {
	state := t.TempDir()
	legacy := filepath.Join(state, "serve", "example.test", "mta-sts.txt")
	os.MkdirAll(filepath.Dir(legacy), 0o755)
	os.WriteFile(legacy, []byte("old"), 0o644)
	s := &Serve{StateDir: state}
	policy := []byte("version: STSv1\nmode: testing\nmx: mx1.example.test\nmax_age: 86400\n")
	for _, d := range []string{"example.test", "new.test"} {
		if got, err := s.PublishID(context.Background(), d, policy, "20261206120000abcdefgh"); err != nil || !got.Changed || len(got.Warnings) != 0 {
			t.Fatalf("PublishID %s: %+v %v", d, got, err)
		}
		b, err := os.ReadFile(filepath.Join(state, "serve", d, "mta-sts.txt"))
		if err != nil || string(b) != string(policy) {
			t.Errorf("%s: copy in the earlier layout %q %v", d, b, err)
		}
		if fi := mustStat(t, filepath.Join(state, "serve", d, "mta-sts.txt")); fi.Mode().Perm() != 0o644 {
			t.Errorf("%s: the earlier layout's copy has mode %v, want its 0644", d, fi.Mode())
		}
	}
	if got, err := s.Remove(context.Background(), "example.test"); err != nil || !got.Changed {
		t.Fatalf("Remove: %+v %v", got, err)
	}
	for _, p := range []string{legacy, filepath.Join(state, "publish", "example.test")} {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s after Remove: %v", p, err)
		}
	}
	// A domain only in the earlier layout is removed too.
	os.MkdirAll(filepath.Dir(legacy), 0o755)
	os.WriteFile(legacy, []byte("old"), 0o644)
	if got, err := s.Remove(context.Background(), "example.test"); err != nil || !got.Changed {
		t.Errorf("Remove of a policy only in the earlier layout: %+v %v", got, err)
	}
	if _, err := os.Stat(legacy); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("earlier layout's copy after Remove: %v", err)
	}
}

// Concurrent publishes of one domain never leave an id file whose hash is
// not the policy's once they are done, and each pair on disk is a whole one.
func TestServePublishIDConcurrent(t *testing.T) {
	state := t.TempDir()
	s := &Serve{StateDir: state}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			p := []byte(strings.Repeat("x", i+1))
			if _, err := s.PublishID(context.Background(), "example.test", p, "id"+strings.Repeat("a", i+1)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	dir := filepath.Join(state, "publish", "example.test")
	b, err := os.ReadFile(filepath.Join(dir, "mta-sts.txt"))
	if err != nil {
		t.Fatal(err)
	}
	// The last writer of each file may differ; serve checks the hash, so
	// what matters is that each file is whole and parses.
	if m := readMeta(t, filepath.Join(dir, "policy.json")); m.ID != "id"+strings.Repeat("a", strings.Count(m.ID, "a")) || len(b) == 0 {
		t.Errorf("id file %+v, policy %q", m, b)
	}
}

func readMeta(t *testing.T, path string) ServeMeta {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m ServeMeta
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseServeMeta(b); err != nil {
		t.Errorf("id file %s: %v", path, err)
	}
	return m
}

func mustStat(t *testing.T, p string) fs.FileInfo {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi
}

func TestParseServeMeta(t *testing.T) {
	good := `{"id":"abc123","sha256":"` + PolicySHA256([]byte("x")) + `"}`
	if m, err := ParseServeMeta([]byte(good)); err != nil || m.ID != "abc123" {
		t.Errorf("good: %+v %v", m, err)
	}
	for _, bad := range []string{
		"", "{}", "null", `{"id":"a b","sha256":"` + PolicySHA256(nil) + `"}`,
		`{"id":"abc","sha256":"00"}`, `{"id":"abc","sha256":"` + strings.ToUpper(PolicySHA256(nil)) + `"}`,
		good + good, `{"id":"abc","sha256":"` + PolicySHA256(nil) + `","x":1}`,
	} {
		if _, err := ParseServeMeta([]byte(bad)); err == nil {
			t.Errorf("ParseServeMeta(%q) accepted", bad)
		}
	}
}
