package workflow

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParsePublisher(t *testing.T) {
	for _, tc := range []struct {
		in, spec string
		bad      bool
	}{
		{in: "webroot:/srv/sts", spec: "webroot:/srv/sts"},
		// The journal keeps no command (journal.KeptPublish).
		{in: "exec:cat >/dev/null", spec: "exec"},
		{in: "manual", spec: "manual"},
		{in: "webroot:", bad: true},
		{in: "exec:  ", bad: true},
		{in: "manual:x", bad: true},
		{in: "", bad: true},
		{in: "ftp:x", bad: true},
		{in: "exec", bad: true},
	} {
		p, err := ParsePublisher(tc.in, nil)
		if tc.in == "exec" {
			// What a journal says: never an error about a flag.
			if !errors.Is(err, ErrNoExecCommand) || errors.Is(err, ErrBadPublish) || p != nil {
				t.Errorf("%q: %v, %v; want ErrNoExecCommand", tc.in, p, err)
			}
			continue
		}
		if tc.bad {
			if !errors.Is(err, ErrBadPublish) {
				t.Errorf("%q: err = %v, want ErrBadPublish", tc.in, err)
			}
			continue
		}
		if err != nil || p.Spec() != tc.spec {
			t.Errorf("%q: %v %v", tc.in, p, err)
		}
	}
}

func TestWebrootPublishAtomicIdempotentRemove(t *testing.T) {
	dir := t.TempDir()
	w := &Webroot{Dir: dir}
	ctx := context.Background()
	policy := []byte("version: STSv1\nmode: testing\nmx: mx1.example.test\nmax_age: 86400\n")
	got, err := w.Publish(ctx, "example.test", policy)
	if err != nil || !got.Changed {
		t.Fatalf("publish: %+v %v", got, err)
	}
	path := filepath.Join(dir, ".well-known", "mta-sts.txt")
	b, err := os.ReadFile(path)
	if err != nil || string(b) != string(policy) {
		t.Fatalf("file = %q %v", b, err)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644 (the web server must read it)", st.Mode().Perm())
	}
	got, err = w.Publish(ctx, "example.test", policy)
	if err != nil || got.Changed {
		t.Errorf("second publish of the same bytes: %+v %v", got, err)
	}
	ents, _ := os.ReadDir(filepath.Dir(path))
	if len(ents) != 1 {
		t.Errorf("leftover temporary files: %v", ents)
	}
	if got, err := w.Remove(ctx, "example.test"); err != nil || !got.Changed {
		t.Errorf("remove: %+v %v", got, err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("file still there: %v", err)
	}
	if got, err := w.Remove(ctx, "example.test"); err != nil || got.Changed {
		t.Errorf("second remove: %+v %v", got, err)
	}
}

func TestWebrootMissingDir(t *testing.T) {
	w := &Webroot{Dir: filepath.Join(t.TempDir(), "nope")}
	if _, err := w.Publish(context.Background(), "example.test", []byte("x")); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("err = %v", err)
	}
}

func TestWebrootGitHubPagesWarning(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "CNAME"), []byte("mta-sts.example.test\n"), 0o644)
	w := &Webroot{Dir: dir}
	got, err := w.Publish(context.Background(), "example.test", []byte("version: STSv1\n"))
	if err != nil || len(got.Warnings) != 1 || !strings.Contains(got.Warnings[0], ".nojekyll") {
		t.Fatalf("%+v %v", got, err)
	}
	os.WriteFile(filepath.Join(dir, ".nojekyll"), nil, 0o644)
	got, _ = w.Publish(context.Background(), "example.test", []byte("version: STSv1\n"))
	if len(got.Warnings) != 0 {
		t.Errorf("warning with .nojekyll present: %v", got.Warnings)
	}
}

func TestExecPublisher(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "got")
	t.Setenv("CLOUDFLARE_API_TOKEN", "sentinel-secret-value")
	e := &Exec{Command: `cat > "` + out + `"; echo "$STSPILOT_ACTION $STSPILOT_DOMAIN ${CLOUDFLARE_API_TOKEN:-scrubbed}" > "` + out + `.env"`, ScrubEnv: []string{"CLOUDFLARE_API_TOKEN"}}
	policy := []byte("version: STSv1\nmode: none\nmax_age: 86400\n")
	if _, err := e.Publish(context.Background(), "example.test", policy); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(out)
	env, _ := os.ReadFile(out + ".env")
	if string(b) != string(policy) || strings.TrimSpace(string(env)) != "publish example.test scrubbed" {
		t.Errorf("stdin %q env %q", b, env)
	}

	fail := &Exec{Command: `echo "upload refused: bucket missing" >&2; exit 3`}
	_, err := fail.Publish(context.Background(), "example.test", policy)
	if err == nil || !strings.Contains(err.Error(), "upload refused: bucket missing") || !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("err = %v", err)
	}

	slow := &Exec{Command: `sleep 30`, Timeout: 100 * time.Millisecond}
	_, err = slow.Publish(context.Background(), "example.test", policy)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("slow command: err = %v", err)
	}

	noisy := &Exec{Command: `head -c 1000000 /dev/zero | tr '\0' x >&2; exit 1`}
	_, err = noisy.Publish(context.Background(), "example.test", policy)
	if err == nil || len(err.Error()) > execOutputCap+300 {
		t.Errorf("stderr not capped: %d bytes", len(err.Error()))
	}
}

func TestManualPublisher(t *testing.T) {
	got, err := Manual{}.Publish(context.Background(), "example.test", []byte("version: STSv1\nmode: testing\n"))
	if err != nil || !got.Manual || !strings.Contains(got.Instructions, "mode: testing") || !strings.Contains(got.Instructions, "https://mta-sts.example.test/.well-known/mta-sts.txt") {
		t.Errorf("%+v %v", got, err)
	}
}

// The exec publisher's command may hold a secret (a token on the command
// line): it is never in what the publisher reports, its errors, or its
// Spec (what the journal keeps).
func TestExecNeverShowsItsCommand(t *testing.T) {
	const secret = "tok-3f9a1c"
	policy := []byte("version: STSv1\nmode: none\nmax_age: 86400\n")
	for _, e := range []*Exec{
		{Command: "TOKEN=" + secret + "; cat >/dev/null"},
		{Command: "TOKEN=" + secret + "; echo refused >&2; exit 3"},
		{Command: "TOKEN=" + secret + "; sleep 30", Timeout: 50 * time.Millisecond},
	} {
		got, err := e.Publish(context.Background(), "example.test", policy)
		rm, rerr := e.Remove(context.Background(), "example.test")
		for _, s := range []string{got.Where, got.Instructions, strings.Join(got.Warnings, " "), rm.Where, e.Spec(), fmt.Sprint(err), fmt.Sprint(rerr)} {
			if strings.Contains(s, secret) {
				t.Errorf("%q shows the command: %q", e.Command, s)
			}
		}
	}
}
