package redact

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

func TestString(t *testing.T) {
	for _, tt := range []struct {
		in      string
		secrets []string
		want    string
	}{
		{"token abcd1234 refused", []string{"abcd1234"}, "token [redacted] refused"},
		{"abc and abc", []string{"abc"}, "abc and abc"}, // too short to be a secret
		{"key=longsecret", []string{"long", "longsecret"}, "key=[redacted]"},
		{"nothing here", nil, "nothing here"},
		{"", []string{"abcd"}, ""},
	} {
		if got := String(tt.in, tt.secrets); got != tt.want {
			t.Errorf("String(%q, %q) = %q, want %q", tt.in, tt.secrets, got, tt.want)
		}
	}
}

type stringer string

func (s stringer) String() string { return string(s) }

// TestReplaceAttr: a secret reaches the log through no attribute shape:
// message, string, error, Stringer, struct, group, With, and a secret
// added after the logger was built.
func TestReplaceAttr(t *testing.T) {
	const secret, late = "s3cr3t-token-value", "added-later-secret"
	set := &Set{}
	set.Add(secret, "ab") // "ab" is too short and ignored
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: set.ReplaceAttr}))
	log = log.With("ctx", "with "+secret)
	log.Debug("auth with "+secret+" failed",
		"str", secret,
		"err", fmt.Errorf("provider: %w", errors.New("bad token "+secret)),
		"stringer", stringer("x"+secret),
		"struct", struct{ Token string }{secret},
		slog.Group("g", "inner", secret, "n", 42),
		"short", "ab",
	)
	set.Add(late)
	log.Info("second", "late", late)
	out := buf.String()
	if strings.Contains(out, secret) || strings.Contains(out, late) {
		t.Fatalf("a secret reached the log:\n%s", out)
	}
	if n := strings.Count(out, Mark); n != 9 { // ctx is written twice
		t.Errorf("%d marks, want 9:\n%s", n, out)
	}
	if !strings.Contains(out, "g.n=42") || !strings.Contains(out, "short=ab") {
		t.Errorf("ordinary values changed:\n%s", out)
	}
}

func TestSetConcurrent(t *testing.T) {
	set := &Set{}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			set.Add(fmt.Sprintf("secret-%d", i))
			_ = set.String("secret-1 secret-2")
		})
	}
	wg.Wait()
	if got := set.String("secret-1 secret-7"); got != Mark+" "+Mark {
		t.Errorf("got %q", got)
	}
}
