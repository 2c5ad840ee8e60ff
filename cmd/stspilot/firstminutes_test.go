package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stspilot/stspilot/internal/domainname"
)

// The tests of issue 15's command-line part ("the first ten minutes"):
// what a newcomer types first, and what it says back.

// realNormalize runs args through the command tree with the real
// domain-name validation (domainname.Normalize) and a fake checker.
func realNormalize(t *testing.T, fc *fakeChecker, stdin string, args ...string) (int, string, string) {
	t.Helper()
	f, out, errOut := testFactory(stdin, fc)
	f.Normalize = domainname.Normalize
	code := execute(context.Background(), f, args)
	return code, out.String(), errOut.String()
}

// TestDomainIsIPAddress: an IP address typed as the domain is a usage
// error (exit 2) before anything is checked; on a line of -f FILE it is an
// error object for that line while the other lines are checked.
func TestDomainIsIPAddress(t *testing.T) {
	for _, ip := range []string{"192.0.2.1", "2001:db8::1", "[2001:db8::1]"} {
		fc := &fakeChecker{}
		code, out, errOut := realNormalize(t, fc, "", "check", ip)
		if code != exitUsage || !strings.Contains(errOut, "an IP address, not a domain name") || out != "" || len(fc.Calls()) != 0 {
			t.Errorf("check %s: exit %d, stdout %q, stderr %q, checked %q", ip, code, out, errOut, fc.Calls())
		}
	}
	for _, args := range [][]string{{"status", "192.0.2.1"}, {"rollout", "192.0.2.1", "--yes"}, {"plan", "rollout", "192.0.2.1"}} {
		code, _, errOut := realNormalize(t, &fakeChecker{}, "", args...)
		if code != exitUsage || !strings.Contains(errOut, "an IP address") {
			t.Errorf("%q: exit %d, %q", args, code, errOut)
		}
	}
	fc := &fakeChecker{}
	code, out, errOut := realNormalize(t, fc, "one.example\n192.0.2.1\ntwo.example\n", "check", "--json", "-f", "-")
	if code != exitFailure {
		t.Fatalf("-f with an IP line: exit %d, want 1; %s", code, errOut)
	}
	if got := fc.Calls(); len(got) != 2 {
		t.Errorf("checked %q, want the two domains", got)
	}
	reps := decodeLines(t, out)
	if len(reps) != 3 || reps[1].Domain != "192.0.2.1" || !strings.Contains(reps[1].Error, "stdin:2") || !strings.Contains(reps[1].Error, "an IP address") {
		t.Errorf("reports %+v", reps)
	}
}

// TestWorkflowNamesEveryMissingFlag: a rollback with no journal and no
// terminal names --yes, --provider and --publish in one message (exit 2),
// instead of one per try, and creates no state directory on the way.
func TestWorkflowNamesEveryMissingFlag(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	state := filepath.Join(t.TempDir(), "state")
	t.Setenv("XDG_STATE_HOME", state)
	run := func(args ...string) (int, string, string) {
		f, out, errOut := testFactory("", &fakeChecker{})
		f.Normalize, f.NewEngine = domainname.Normalize, newEngine
		code := execute(context.Background(), f, args)
		return code, out.String(), errOut.String()
	}
	code, out, errOut := run("rollback", "example.com")
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	if code != exitUsage || out != "" || len(lines) != 2 || !strings.HasPrefix(lines[0], "stspilot: rollback needs 3 flags: --yes") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	for _, want := range []string{"--yes (there is no terminal to confirm on)", "--provider NAME (no journal of example.com remembers one; known: ", "manual", "--publish SPEC (where the policy file goes: webroot:DIR, serve, exec:CMD or manual"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("lacks %q: %s", want, lines[0])
		}
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("a failed run created the state directory: %v", err)
	}
	code, _, errOut = run("rollback", "example.com", "--yes")
	if code != exitUsage || !strings.Contains(errOut, "rollback needs 2 flags: --provider NAME") || !strings.Contains(errOut, "and --publish SPEC") || strings.Contains(errOut, "--yes") {
		t.Errorf("with --yes: exit %d, %q", code, errOut)
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("a run missing --provider created the state directory: %v", err)
	}
	code, _, errOut = run("rollback", "example.com", "--publish", "manual")
	if code != exitUsage || !strings.Contains(errOut, "rollback needs 2 flags: --yes (there is no terminal to confirm on) and --provider NAME") || strings.Contains(errOut, "--publish") {
		t.Errorf("with --publish: exit %d, %q", code, errOut)
	}
	code, _, errOut = run("rollback", "example.com", "--publish", "manual", "--provider", "manual")
	if code != exitUsage || !strings.Contains(errOut, "stspilot: rollback changes DNS records and the policy file: pass --yes to apply without a terminal to confirm on\n") {
		t.Errorf("only --yes missing: exit %d, %q", code, errOut)
	}
}
