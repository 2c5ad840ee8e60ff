package workflow

import (
	"context"
	"errors"
	"os"
	"path/filepath"
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
	path := filepath.Join(state, "serve", "example.test", "mta-sts.txt")
	if got.Where != path {
		t.Errorf("Where = %q, want %q", got.Where, path)
	}
	b, err := os.ReadFile(path)
	if err != nil || string(b) != string(policy) {
		t.Fatalf("file = %q %v, want the exact bytes", b, err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", st.Mode().Perm())
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
	if got, err := s.Remove(ctx, "example.test"); err != nil || got.Changed {
		t.Errorf("second remove: %+v %v, want no change, no error", got, err)
	}
	if b, err := os.ReadFile(filepath.Join(state, "serve", "other.test", "mta-sts.txt")); err != nil || string(b) != string(policy) {
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
