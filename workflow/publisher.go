package workflow

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/stspilot/stspilot/internal/atomicfile"
	"github.com/stspilot/stspilot/internal/txtrecord"
	"github.com/stspilot/stspilot/workflow/journal"
)

// Publisher puts the policy file where the policy host serves it. The served
// gate, not the publisher, decides whether it worked: a publisher that
// returns nil has only handed the bytes over.
//
// Contract: Publish and Remove are idempotent, honour ctx, and never print;
// what the operator must know comes back in Published.
type Publisher interface {
	// Spec is what the journal keeps of this publisher: the --publish
	// value that rebuilds it ("webroot:/srv/sts", "serve", "manual"), but
	// for an exec publisher only "exec" (journal.KeptPublish): a command is
	// never written into a journal nor read from one.
	Spec() string
	// Publish hands over the exact policy bytes for domain.
	Publish(ctx context.Context, domain string, policy []byte) (Published, error)
	// Remove stops serving the policy for domain (teardown, after the window).
	Remove(ctx context.Context, domain string) (Published, error)
}

// Published is what a publisher did.
type Published struct {
	// Where says where the bytes went ("/srv/sts/.well-known/mta-sts.txt").
	Where string `json:"where"`
	// Manual is set when nothing was written: the operator must put
	// Instructions in place and the served gate waits for it.
	Manual       bool     `json:"manual,omitempty"`
	Instructions string   `json:"instructions,omitempty"`
	Warnings     []string `json:"warnings,omitempty"`
	// Changed is false when the destination already held these bytes.
	Changed bool `json:"changed"`
}

// ErrBadPublish is a malformed --publish value (a usage error).
var ErrBadPublish = errors.New("invalid publisher")

// ErrNoExecCommand is an exec publisher named without its command: what a
// journal says of one (journal.PublishExec). The command must come from
// the operator (the command line, a trusted config file) on every run;
// the caller says where.
var ErrNoExecCommand = errors.New("the exec publisher's command is not kept in the journal; stspilot never runs a command read from a journal")

// ParsePublisher parses a --publish value: webroot:DIR, exec:CMD, serve or
// manual; a bare "exec" (a journal's) is ErrNoExecCommand. scrubEnv names environment variables that exec commands must not
// inherit (provider secrets). serve uses the default state directory; use
// ParsePublisherIn when the state directory is another.
func ParsePublisher(spec string, scrubEnv []string) (Publisher, error) {
	return ParsePublisherIn(spec, scrubEnv, "")
}

// ParsePublisherIn is ParsePublisher with the state directory the serve
// publisher writes into ("" = journal.DefaultDir).
func ParsePublisherIn(spec string, scrubEnv []string, stateDir string) (Publisher, error) {
	kind, arg, colon := strings.Cut(strings.TrimSpace(spec), ":")
	switch kind {
	case "serve":
		if arg != "" {
			return nil, fmt.Errorf("%w %q: serve takes no argument (it writes into the state directory)", ErrBadPublish, spec)
		}
		abs, err := journal.AbsDir(stateDir)
		if err != nil {
			return nil, fmt.Errorf("%w %q: %v", ErrBadPublish, spec, err)
		}
		return &Serve{StateDir: abs}, nil
	case "webroot":
		if arg == "" {
			return nil, fmt.Errorf("%w %q: webroot needs a directory, e.g. webroot:/var/www/mta-sts", ErrBadPublish, spec)
		}
		abs, err := filepath.Abs(arg)
		if err != nil {
			return nil, fmt.Errorf("%w %q: %v", ErrBadPublish, spec, err)
		}
		return &Webroot{Dir: abs}, nil
	case journal.PublishExec:
		if !colon {
			return nil, ErrNoExecCommand
		}
		if strings.TrimSpace(arg) == "" {
			return nil, fmt.Errorf("%w %q: exec needs a command, e.g. exec:'aws s3 cp - s3://bucket/.well-known/mta-sts.txt'", ErrBadPublish, spec)
		}
		return &Exec{Command: arg, ScrubEnv: scrubEnv}, nil
	case "manual":
		if arg != "" {
			return nil, fmt.Errorf("%w %q: manual takes no argument", ErrBadPublish, spec)
		}
		return Manual{}, nil
	case "":
		return nil, fmt.Errorf("%w: empty (want webroot:DIR, exec:CMD, serve or manual)", ErrBadPublish)
	default:
		return nil, fmt.Errorf("%w %q: unknown kind %q (want webroot:DIR, exec:CMD, serve or manual)", ErrBadPublish, spec, kind)
	}
}

// Webroot writes DIR/.well-known/mta-sts.txt, for a web server (nginx,
// Apache, Caddy, a static site) whose document root for mta-sts.DOMAIN is DIR.
type Webroot struct{ Dir string }

func (w *Webroot) Spec() string { return "webroot:" + w.Dir }

func (w *Webroot) path() string {
	return filepath.Join(w.Dir, filepath.FromSlash(txtrecord.WellKnownPath))
}

// Publish writes the file atomically: a temporary file in the same
// directory, fsync, rename over the old file, fsync of the directory. A
// reader (the web server) sees the old bytes or the new ones, never a mix.
// The file is world-readable (0644): the web server must serve it.
func (w *Webroot) Publish(ctx context.Context, domain string, policy []byte) (Published, error) {
	out := Published{Where: w.path(), Warnings: w.warnings()}
	if err := ctx.Err(); err != nil {
		return out, err
	}
	st, err := os.Stat(w.Dir)
	if err != nil {
		return out, fmt.Errorf("webroot %s: %w", w.Dir, err)
	}
	if !st.IsDir() {
		return out, fmt.Errorf("webroot %s is not a directory", w.Dir)
	}
	if old, err := readSmall(out.Where, int64(len(policy))+1); err == nil && bytes.Equal(old, policy) {
		return out, nil
	}
	dir := filepath.Dir(out.Where)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return out, fmt.Errorf("webroot: %w", err)
	}
	if err := atomicfile.Write(out.Where, policy, 0o644); err != nil {
		return out, fmt.Errorf("webroot: %w", err)
	}
	out.Changed = true
	return out, nil
}

// Remove deletes the file; a missing file is not an error.
func (w *Webroot) Remove(ctx context.Context, domain string) (Published, error) {
	out := Published{Where: w.path()}
	if err := ctx.Err(); err != nil {
		return out, err
	}
	err := os.Remove(out.Where)
	switch {
	case err == nil:
		out.Changed = true
		return out, atomicfile.SyncDir(filepath.Dir(out.Where))
	case errors.Is(err, os.ErrNotExist):
		return out, nil
	default:
		return out, fmt.Errorf("webroot: %w", err)
	}
}

// warnings spots a GitHub Pages repository without .nojekyll: Jekyll hides
// every directory starting with a dot, .well-known included, so the policy
// would 404 (field failure 1).
func (w *Webroot) warnings() []string {
	if _, err := os.Stat(filepath.Join(w.Dir, ".nojekyll")); err == nil {
		return nil
	}
	pages := false
	for _, marker := range []string{"CNAME", "_config.yml", ".github/workflows/pages.yml", ".github/workflows/jekyll-gh-pages.yml"} {
		if _, err := os.Stat(filepath.Join(w.Dir, marker)); err == nil {
			pages = true
		}
	}
	if cfg, err := readSmall(filepath.Join(w.Dir, ".git", "config"), 64<<10); err == nil && bytes.Contains(cfg, []byte("github.com")) {
		pages = true
	}
	if !pages {
		return nil
	}
	return []string{fmt.Sprintf("%s looks like a GitHub Pages site without .nojekyll: Jekyll does not publish .well-known, so senders would get 404; create it: touch %s", w.Dir, filepath.Join(w.Dir, ".nojekyll"))}
}

// Exec runs a command with the policy on stdin (object storage, CDN
// uploads, configuration management). The command runs under `sh -c` with
// STSPILOT_DOMAIN, STSPILOT_ACTION (publish or remove) and
// STSPILOT_POLICY_HOST set; remove gets an empty stdin. A non-zero exit is a
// failure that shows the command's stderr (the last 4 KiB). The command
// itself is never shown, logged or journaled (Spec is "exec"): it may hold
// a secret.
type Exec struct {
	Command string
	// ScrubEnv are variables removed from the command's environment: the
	// DNS providers' secrets are ours, not the upload script's.
	ScrubEnv []string
	// Timeout bounds one run (default 2 minutes), within ctx.
	Timeout time.Duration
}

func (e *Exec) Spec() string { return journal.PublishExec }

const execOutputCap = 4 << 10

func (e *Exec) run(ctx context.Context, domain, action string, stdin []byte) (Published, error) {
	out := Published{Where: "the exec publisher's command", Changed: true}
	timeout := e.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	env := append(scrub(os.Environ(), e.ScrubEnv),
		"STSPILOT_DOMAIN="+domain, "STSPILOT_ACTION="+action, "STSPILOT_POLICY_HOST="+txtrecord.PolicyHost(domain))
	stderr, stopped, err := runShell(ctx, e.Command, env, stdin, timeout)
	switch {
	case stopped != nil:
		return out, fmt.Errorf("exec publisher: %s after %s: %w", action, timeout, stopped)
	case err != nil:
		return out, fmt.Errorf("exec publisher failed (%v): %s", err, stderr)
	}
	return out, nil
}

// runShell runs command under `sh -c` with stdin and env, for at most
// timeout within ctx: the exec publisher's command and RunHook's. On
// failure stopped is the context's error when the timeout or ctx ended it;
// otherwise err is the run's, and stderr the last execOutputCap bytes of
// its stderr, trimmed ("(no output on stderr)" when there were none).
//
// The command must not outlive the run: a publish that lands after the
// run ended (and its journal lock was released) could serve a policy no
// journal knows about. So it runs in its own process group, which a
// cancelled ctx (timeout, SIGINT, SIGTERM, SIGHUP) kills whole, and
// runShell returns only once the shell is gone: the caller holds the
// journal lock until then. What the shell left running in its group
// (a command started with &) is killed once the shell has exited, so
// nothing of the command outlives runShell. Should stspilot itself be
// killed outright, the kernel kills the shell too where it can (Linux:
// parent-death signal).
func runShell(ctx context.Context, command string, env []string, stdin []byte, timeout time.Duration) (stderr string, stopped, err error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command)
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.Env = env
	var tail tailBuffer
	cmd.Stdout = io.Discard
	cmd.Stderr = &tail
	killWithRun(cmd)
	cmd.WaitDelay = 5 * time.Second
	err = cmd.Run()
	killGroup(cmd)
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err(), err
		}
		msg := strings.TrimSpace(tail.String())
		if msg == "" {
			msg = "(no output on stderr)"
		}
		return msg, nil, err
	}
	return "", nil, nil
}

func (e *Exec) Publish(ctx context.Context, domain string, policy []byte) (Published, error) {
	return e.run(ctx, domain, "publish", policy)
}

func (e *Exec) Remove(ctx context.Context, domain string) (Published, error) {
	return e.run(ctx, domain, "remove", nil)
}

func scrub(env, drop []string) []string {
	if len(drop) == 0 {
		return env
	}
	out := env[:0:0]
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); !slices.Contains(drop, k) {
			out = append(out, kv)
		}
	}
	return out
}

// tailBuffer keeps the last execOutputCap bytes written to it.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > execOutputCap {
		t.b = append(t.b[:0:0], t.b[len(t.b)-execOutputCap:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return strings.ToValidUTF8(string(t.b), "\uFFFD") }

// Manual publishes nothing: it returns the file to put in place and the
// served gate waits until every address of the policy host serves it.
type Manual struct{}

func (Manual) Spec() string { return "manual" }

func (Manual) Publish(ctx context.Context, domain string, policy []byte) (Published, error) {
	return Published{
		Where:        txtrecord.PolicyURL(domain),
		Manual:       true,
		Changed:      true,
		Instructions: fmt.Sprintf("Serve exactly these %d bytes at %s with status 200 and Content-Type text/plain, no redirect:\n%s", len(policy), txtrecord.PolicyURL(domain), policy),
	}, nil
}

func (Manual) Remove(ctx context.Context, domain string) (Published, error) {
	return Published{
		Where:        txtrecord.PolicyURL(domain),
		Manual:       true,
		Changed:      true,
		Instructions: fmt.Sprintf("Stop serving %s (and remove the %s host if nothing else uses it).", txtrecord.PolicyURL(domain), txtrecord.PolicyHost(domain)),
	}, nil
}
