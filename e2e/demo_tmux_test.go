package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tmuxDemo builds stspilot into a temporary directory and returns the
// directory, the binary and a runner of tmux commands on a private server
// there; without tmux it fails in CI and skips elsewhere.
func tmuxDemo(t *testing.T) (dir, bin string, tm func(args ...string) string) {
	t.Helper()
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		if inCI() {
			t.Fatal("tmux is not installed (.ci/run installs it): the wizard's terminal test did not run")
		}
		t.Skip("tmux is not installed")
	}
	dir = t.TempDir()
	bin = filepath.Join(dir, "stspilot")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, errOut, code, err := run(ctx, os.Environ(), "go", "build", "-o", bin, "./cmd/stspilot")
	if err != nil || code != 0 {
		t.Fatalf("go build ./cmd/stspilot: %v (exit %d): %s%s", err, code, out, errOut)
	}
	sock := filepath.Join(dir, "tmux.sock")
	tm = func(args ...string) string {
		t.Helper()
		c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		out, err := exec.CommandContext(c, tmux, append([]string{"-S", sock, "-f", "/dev/null"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	// The server the test starts goes with it (the sessions run sleep 600).
	t.Cleanup(func() { exec.Command(tmux, "-S", sock, "kill-server").Run() })
	return dir, bin, tm
}

// TestDemoInTmux runs the built `stspilot demo` in a real terminal (tmux,
// 80x24) and drives it with keys as an operator would: rollout -> promote
// to enforce (waiting out the soak) -> an injected MX certificate failure
// (seen by the check, refused by promote) -> emergency rollback -> enforce
// again, a policy host answering 404, the rollback blocked and finished ->
// teardown (domain typed, cache window waited out) -> quit. It asserts
// what the screen shows at each stage. The demo is its own world, so this
// test needs no e2e world; it fails rather than skips in CI without tmux.
func TestDemoInTmux(t *testing.T) {
	_, bin, tm := tmuxDemo(t)
	// A day of sandbox time passes in two seconds; the pane stays after
	// the program exits so that its exit status can be read.
	tm("new-session", "-d", "-s", "demo", "-x", "80", "-y", "24",
		fmt.Sprintf("env LANG=C.UTF-8 TERM=xterm-256color %s demo --day 2s; echo EXIT=$?; sleep 600", bin))

	screen := func() string { return tm("capture-pane", "-p", "-t", "demo") }
	var last string
	expect := func(stage string, want ...string) {
		t.Helper()
		deadline := time.Now().Add(45 * time.Second)
		for {
			last = screen()
			ok := true
			for _, w := range want {
				if !strings.Contains(last, w) {
					ok = false
				}
			}
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the screen never showed %q; it shows:\n%s", stage, want, last)
			}
			time.Sleep(150 * time.Millisecond)
		}
	}
	keys := func(k ...string) { tm(append([]string{"send-keys", "-t", "demo"}, k...)...) }
	typed := func(s string) { tm("send-keys", "-t", "demo", "-l", s) }

	// The dashboard: nothing deployed, the live check done.
	expect("start", "demo.test", "Stage  absent", "stage seen: absent", "Next   rollout", "! ROLLBACK")

	// Rollout: the plan shows the records and the policy; y applies.
	keys("n")
	expect("rollout plan", "Plan: rollout demo.test", "no policy → testing, max_age 86400", "+ mode: testing", `+ _smtp._tls.demo.test "v=TLSRPTv1; rua=mailto:tlsrpt@demo.test"`)
	keys("Enter")
	expect("rollout confirm", "Apply rollout to demo.test?")
	keys("y")
	expect("rollout applied", "✓ done: demo.test is live: mode testing", "✓ ns1.demo.test 127.0.0.1 ok", "✓ mta-sts.demo.test 127.0.0.1 ok")
	keys("Enter")
	// The sandbox's policy host keeps an access log: the dashboard reads
	// which senders fetched the live id from it (not "not known").
	expect("testing", "Stage  testing", "[testing@86400]", "Next   promote", "stage seen: testing", "Findings: 0 errors", "since it went live")

	// Promote inside the soak: pending, the wait screen counts down; s
	// moves the sandbox clock to the gate and promote runs again by itself.
	keys("p")
	expect("promote plan", "Plan: promote demo.test", "testing, max_age 86400 → enforce, max_age 86400", "gate window   ⏸ closed")
	keys("Enter")
	keys("y")
	expect("waiting for the soak", "Waiting: the window gate of promote is closed", "opens    ", "timer    ")
	keys("s")
	expect("promoted", "✓ done: demo.test is live: mode enforce, max_age 86400")
	keys("Enter")
	expect("enforce", "Stage  enforce", "[enforce@86400]")

	// Inject failure 3: mx1's certificate names another host. The check
	// sees it; promote to the next rung is refused.
	keys("x")
	expect("switchboard", "Inject a field failure", "f [ ] 3 mx-cert-name")
	keys("f")
	expect("injected", "f [x] 3 mx-cert-name", "injected mx-cert-name")
	keys("Escape")
	expect("failure seen", "✗ mx.cert-name", "Findings: 1 error,")
	keys("p")
	expect("refused", "Refused: enforce would make senders refuse mail", "mx1.demo.test")

	// Emergency rollback from the refusal screen: one question, then done.
	keys("!")
	expect("rollback question", "Emergency rollback of demo.test", "y roll back")
	keys("y")
	expect("rolled back", "rollback demo.test", "risk window:", "✓ done: demo.test is live: mode testing")
	keys("Enter")
	expect("testing again", "Stage  testing")

	// Heal the failure, then tear down: the domain must be typed; the
	// cache window is waited out (s), then the records go.
	keys("x")
	keys("f")
	expect("healed", "f [ ] 3 mx-cert-name", "healed mx-cert-name")
	keys("Escape")

	// Issue 13: back to enforce, then the policy host answers 404 and the
	// emergency rollback cannot finish by itself. Its wait screen says
	// why, what to fix and what senders hold meanwhile, with no countdown,
	// and stays put while it re-checks; esc leaves the rollback halted,
	// the dashboard offers n to finish it, and once the host is healed
	// the plan says that it lowers the mode. (Each Escape is followed by
	// an expect: Escape and a letter sent at once read as alt+letter.)
	expect("dashboard after healing", "Stage  testing", "Findings:")
	keys("p")
	expect("promote again", "Plan: promote demo.test")
	keys("Enter")
	keys("y")
	expect("waiting for the soak again", "Waiting: the window gate of promote is closed")
	keys("s")
	expect("enforce again", "✓ done: demo.test is live: mode enforce")
	keys("Enter")
	expect("dashboard in enforce", "Stage  enforce")
	keys("x")
	expect("switchboard again", "Inject a field failure")
	keys("a")
	expect("host broken", "a [x] 1 policy-404", "injected policy-404")
	keys("Escape")
	expect("dashboard, host broken", "Stage  ")
	keys("!")
	expect("rollback question again", "Emergency rollback of demo.test")
	keys("y")
	expect("blocked", "Blocked: the served gate of rollback will not open by itself", "answers HTTP 404",
		"(policy.http-status)", "meanwhile", "senders keep the cached enforce policy")
	for range 8 { // it re-runs behind the one screen, never flipping to the apply screen
		time.Sleep(500 * time.Millisecond)
		if s := screen(); !strings.Contains(s, "Blocked:") || strings.Contains(s, "opens ") {
			t.Fatalf("the blocked wait screen flipped or counts down:\n%s", s)
		}
	}
	keys("Escape")
	expect("halted", "did not finish", "n finishes it", "stopped waiting")
	keys("x")
	expect("switchboard to heal", "Inject a field failure")
	keys("a")
	expect("host healed", "a [ ] 1 policy-404", "healed policy-404")
	keys("Escape")
	expect("dashboard, host healed", "n finishes it")
	keys("n")
	expect("finish the rollback", "Plan: rollback demo.test lowers enforce to testing")
	keys("Enter")
	keys("y")
	expect("rollback finished", "✓ done: demo.test is live: mode testing")
	keys("Enter")
	expect("testing once more", "Stage  testing")

	keys("t")
	expect("teardown plan", "Plan: teardown demo.test", "delete the _mta-sts record (no undo)")
	keys("Enter")
	expect("teardown confirm", "There is no undo", "Type the domain name to confirm")
	typed("demo.test")
	keys("Enter")
	expect("teardown waiting", "Waiting: the window gate of teardown is closed")
	keys("s")
	expect("torn down", "✓ done: MTA-STS is removed from demo.test")
	keys("Enter")
	expect("absent again", "Stage  absent", "Next   rollout")

	keys("q")
	expect("quit", "EXIT=0")
}

// TestDemoHangupCleansUp: closing the terminal (SIGHUP, sent twice as the
// emulator and the kernel each do) ends the demo the way q does: its
// temporary directories are removed and it exits 130.
func TestDemoHangupCleansUp(t *testing.T) {
	dir, bin, tm := tmuxDemo(t)
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	status := filepath.Join(dir, "status")
	// exec: the pane's process is the demo itself, whose pid tmux reports.
	tm("new-session", "-d", "-s", "demo", "-x", "80", "-y", "24",
		fmt.Sprintf("env LANG=C.UTF-8 TERM=xterm-256color TMPDIR=%s sh -c '%s demo --day 2s; echo $? >%s'", tmp, bin, status))
	temps := func() []string {
		m, _ := filepath.Glob(filepath.Join(tmp, "stspilot-demo-*"))
		return m
	}
	deadline := time.Now().Add(45 * time.Second)
	for !strings.Contains(tm("capture-pane", "-p", "-t", "demo"), "Findings:") || len(temps()) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the demo never came up (temporary directories %q):\n%s", temps(), tm("capture-pane", "-p", "-t", "demo"))
		}
		time.Sleep(150 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, _, _, err := run(ctx, os.Environ(), "pgrep", "-f", "-x", bin+" demo --day 2s")
	pid := strings.TrimSpace(out)
	if err != nil || pid == "" || strings.Contains(pid, "\n") {
		t.Fatalf("pgrep found %q: %v", pid, err)
	}
	for range 2 {
		if _, _, _, err := run(ctx, os.Environ(), "kill", "-HUP", pid); err != nil {
			t.Fatal(err)
		}
	}
	deadline = time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(status)
		if s := strings.TrimSpace(string(b)); s != "" {
			if s != "130" {
				t.Errorf("exit %s after SIGHUP, want 130", s)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the demo did not end on SIGHUP")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if left := temps(); len(left) > 0 {
		t.Fatalf("SIGHUP left the demo's temporary directories: %q", left)
	}
}
