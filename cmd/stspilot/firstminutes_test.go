package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/spf13/cobra"

	"github.com/stspilot/stspilot/checks"
	"github.com/stspilot/stspilot/internal/domainname"
	"github.com/stspilot/stspilot/internal/loopback"
	"github.com/stspilot/stspilot/workflow"
	"github.com/stspilot/stspilot/workflow/journal"
	"github.com/stspilot/stspilot/workflow/sandbox"
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

// TestRolloutNamesRUAWithTheRest: a rollout without --rua of a domain that
// has no TLS-RPT record names --rua in the same one message as the other
// missing flags, on the first try. The real lookup asks the sandbox's
// loopback name server (given as --resolver); a domain with a TLS-RPT
// record, one already under MTA-STS, a lookup that fails and a given --rua
// leave it out.
func TestRolloutNamesRUAWithTheRest(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	state := filepath.Join(t.TempDir(), "state")
	t.Setenv("XDG_STATE_HOME", state)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sb, err := sandbox.Start(ctx, sandbox.Options{Day: 1000 * time.Hour, Start: scriptStart, StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	var asked []string
	run := func(lookup func(context.Context, string, []string) ([]string, error), args ...string) (int, string) {
		asked = nil
		f, _, errOut := testFactory("", &fakeChecker{})
		f.Normalize, f.NewEngine = domainname.Normalize, newEngine
		f.LookupTXT = func(ctx context.Context, name string, rs []string) ([]string, error) {
			asked = append(asked, name)
			return lookup(ctx, name, rs)
		}
		return execute(context.Background(), f, args), errOut.String()
	}
	code, errOut := run(lookupTXT, "rollout", sb.Domain, "--resolver", sb.DNSAddr)
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	if code != exitUsage || len(lines) != 2 || !strings.HasPrefix(lines[0], "stspilot: rollout needs 4 flags: --yes (there is no terminal to confirm on), --provider NAME") ||
		!strings.Contains(lines[0], ", --publish SPEC (") ||
		!strings.HasSuffix(lines[0], " and --rua mailto:ADDRESS or https:URL (a TLS-RPT destination: demo.test has no TLS-RPT record, and its reports are how you learn what senders see while testing)") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if !slices.Contains(asked, "_smtp._tls.demo.test") {
		t.Errorf("asked %q", asked)
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("a failed run created the state directory: %v", err)
	}
	// Only --yes and --rua missing: still one message with both.
	code, errOut = run(lookupTXT, "rollout", sb.Domain, "--resolver", sb.DNSAddr, "--provider", "manual", "--publish", "manual")
	if code != exitUsage || !strings.HasPrefix(errOut, "stspilot: rollout needs 2 flags: --yes (there is no terminal to confirm on) and --rua mailto:ADDRESS") {
		t.Errorf("--yes and --rua missing: exit %d, %q", code, errOut)
	}

	records := func(rpt, sts string) func(context.Context, string, []string) ([]string, error) {
		return func(_ context.Context, name string, _ []string) ([]string, error) {
			switch {
			case strings.HasPrefix(name, "_smtp._tls.") && rpt != "":
				return []string{"v=spf1 -all", rpt}, nil
			case strings.HasPrefix(name, "_mta-sts.") && sts != "":
				return []string{sts}, nil
			}
			return nil, nil
		}
	}
	failing := func(context.Context, string, []string) ([]string, error) {
		return nil, context.DeadlineExceeded
	}
	for _, tt := range []struct {
		name   string
		lookup func(context.Context, string, []string) ([]string, error)
		args   []string
	}{
		{"a TLS-RPT record", records("v=TLSRPTv1; rua=mailto:rpt@example.com", ""), nil},
		{"an MTA-STS record", records("", "v=STSv1; id=1;"), nil},
		{"the lookup failed", failing, nil},
		{"--rua given", records("", ""), []string{"--rua", "mailto:rpt@example.com"}},
	} {
		code, errOut := run(tt.lookup, append([]string{"rollout", "example.com"}, tt.args...)...)
		if code != exitUsage || !strings.Contains(errOut, "rollout needs 3 flags: --yes") || strings.Contains(errOut, "--rua") || strings.Contains(errOut, "TLS-RPT") {
			t.Errorf("%s: exit %d, %q", tt.name, code, errOut)
		}
		if tt.args != nil && len(asked) != 0 {
			t.Errorf("%s: asked %q", tt.name, asked)
		}
	}
	// A domain with nothing: the fake's answer is enough too.
	code, errOut = run(records("", ""), "rollout", "example.com", "--yes")
	if code != exitUsage || !strings.Contains(errOut, "rollout needs 3 flags: --provider NAME") || !strings.Contains(errOut, "and --rua mailto:ADDRESS or https:URL (a TLS-RPT destination: example.com has no TLS-RPT record") {
		t.Errorf("with --yes: exit %d, %q", code, errOut)
	}
	// Other workflows never ask.
	if code, _ := run(records("", ""), "rollback", "example.com"); code != exitUsage || len(asked) != 0 {
		t.Errorf("rollback: exit %d, asked %q", code, asked)
	}
}

// TestMXMigrateNamesToWithTheRest: an mx-migrate run without its target
// MX set names --to in the one message with the other missing flags;
// alone, it is the sentence it always was; plan mx-migrate needs it
// before anything. No state directory is created on the way.
func TestMXMigrateNamesToWithTheRest(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	state := filepath.Join(t.TempDir(), "state")
	t.Setenv("XDG_STATE_HOME", state)
	run := func(args ...string) (int, string) {
		f, _, errOut := testFactory("", &fakeChecker{})
		f.Normalize, f.NewEngine = domainname.Normalize, newEngine
		return execute(context.Background(), f, args), errOut.String()
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"mx-migrate", "example.com"}, "stspilot: mx-migrate needs 4 flags: --to HOST[:PREF][,HOST[:PREF]...] (the whole target MX set), --yes (there is no terminal to confirm on), --provider NAME"},
		{[]string{"mx-migrate", "example.com", "--yes"}, "stspilot: mx-migrate needs 3 flags: --to HOST[:PREF][,HOST[:PREF]...] (the whole target MX set), --provider NAME"},
		{[]string{"mx-migrate", "example.com", "--yes", "--provider", "manual", "--publish", "manual"}, "stspilot: mx-migrate needs the target MX set: --to HOST[:PREF][,HOST[:PREF]...]\n"},
		{[]string{"mx-migrate", "example.com", "--provider", "manual", "--publish", "manual"}, "stspilot: mx-migrate needs 2 flags: --to HOST[:PREF][,HOST[:PREF]...] (the whole target MX set) and --yes"},
		{[]string{"plan", "mx-migrate", "example.com"}, "stspilot: mx-migrate needs the target MX set: --to HOST[:PREF][,HOST[:PREF]...]\n"},
		{[]string{"mx-migrate", "example.com", "--to", "a b"}, `stspilot: --to "a b": invalid domain name`},
	} {
		if code, errOut := run(tt.args...); code != exitUsage || !strings.HasPrefix(errOut, tt.want) {
			t.Errorf("%q: exit %d, stderr %q; want exit 2 and %q", tt.args, code, errOut, tt.want)
		}
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("a run missing --to created the state directory: %v", err)
	}
}

// TestArgumentCountIsUsage: a missing or extra argument is a usage error
// (exit 2) with a sentence saying what the command takes, not cobra's
// "accepts 1 arg(s), received 0" (exit 1).
func TestArgumentCountIsUsage(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"status"}, "stspilot: status needs the mail DOMAIN to work on: stspilot status DOMAIN\n"},
		{[]string{"rollout"}, "stspilot: rollout needs the mail DOMAIN to work on: stspilot rollout DOMAIN\n"},
		{[]string{"promote"}, "stspilot: promote needs the mail DOMAIN"},
		{[]string{"rollback"}, "stspilot: rollback needs the mail DOMAIN"},
		{[]string{"teardown"}, "stspilot: teardown needs the mail DOMAIN"},
		{[]string{"rollback", "a.example", "b.example"}, `rollback takes one DOMAIN, not 2 arguments ("a.example" "b.example"); run it once per domain`},
		{[]string{"plan"}, "plan needs a WORKFLOW (rollout, promote, rollback, teardown or mx-migrate) and a DOMAIN: stspilot plan WORKFLOW DOMAIN"},
		{[]string{"plan", "example.com"}, `plan needs a WORKFLOW (rollout, promote, rollback, teardown or mx-migrate) before the domain: stspilot plan WORKFLOW example.com`},
		{[]string{"plan", "rollout"}, "plan needs a DOMAIN after the workflow: stspilot plan rollout DOMAIN"},
		{[]string{"plan", "rollout", "a.example", "b.example"}, "plan takes a WORKFLOW and one DOMAIN, not 3 arguments"},
		{[]string{"demo", "now"}, `demo takes no arguments, got "now"`},
		{[]string{"version", "x"}, `version takes no arguments`},
	} {
		code, out, errOut := runCmd(t, &fakeChecker{}, "", tt.args...)
		if code != exitUsage || out != "" || !strings.Contains(errOut, tt.want) || !strings.Contains(errOut, "--help' for usage.") || strings.Contains(errOut, "arg(s)") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 and %q", tt.args, code, out, errOut, tt.want)
		}
	}
}

// TestUnknownTopicIsUsage: `help` and `completion` with a name they do
// not know are usage errors (exit 2) that say so, not their help text
// with exit 0; the names they know still work.
func TestUnknownTopicIsUsage(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"help", "rolout"}, `stspilot: no command or help topic "rolout": stspilot help lists them`},
		{[]string{"help", "exit-code"}, `no command or help topic "exit-code"`},
		{[]string{"completion", "tcsh"}, `stspilot: completion: no shell "tcsh" (want bash, zsh, fish, powershell)`},
	} {
		code, out, errOut := runCmd(t, &fakeChecker{}, "", tt.args...)
		if code != exitUsage || out != "" || !strings.Contains(errOut, tt.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 and %q", tt.args, code, out, errOut, tt.want)
		}
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"help", "rollout"}, "Rollout publishes a testing policy"},
		{[]string{"help", "exit-codes"}, "2  usage error"},
		{[]string{"help"}, "Diagnose (read-only):"},
		{[]string{"completion"}, "Generate the autocompletion script"},
		{[]string{"help", "completion", "zsh"}, "zsh"},
	} {
		code, out, errOut := runCmd(t, &fakeChecker{}, "", tt.args...)
		if code != exitOK || !strings.Contains(out, tt.want) {
			t.Errorf("%q: exit %d, stderr %q, stdout lacks %q", tt.args, code, errOut, tt.want)
		}
	}
}

// TestVersionCommand: `stspilot version` prints what --version does, with
// the Go version and platform.
func TestVersionCommand(t *testing.T) {
	code, out, _ := runCmd(t, &fakeChecker{}, "", "version")
	_, flag, _ := runCmd(t, &fakeChecker{}, "", "--version")
	if code != exitOK || !strings.HasPrefix(out, strings.TrimSpace(flag)+" (go") || !strings.Contains(out, "/") {
		t.Errorf("version: exit %d %q; --version %q", code, out, flag)
	}
}

// TestHelpGroupsExamplesPlaceholders: --help groups the commands, the
// changing commands, plan and status show examples, and flags say what
// they take.
func TestHelpGroupsExamplesPlaceholders(t *testing.T) {
	_, out, _ := runCmd(t, &fakeChecker{}, "", "--help")
	order := []string{"Available Commands:", "Diagnose (read-only):", "  check ", "  status ", "Change a domain", "  plan ", "  rollout ", "  promote ", "  rollback ", "  teardown ", "Run interactively", "  demo ", "Other:", "  version "}
	at := 0
	for _, w := range order {
		i := strings.Index(out[at:], w)
		if i < 0 {
			t.Fatalf("--help lacks %q after position %d:\n%s", w, at, out)
		}
		at += i
	}
	for _, c := range []string{"rollout", "promote", "rollback", "teardown", "plan", "status"} {
		_, out, _ := runCmd(t, &fakeChecker{}, "", c, "--help")
		if !strings.Contains(out, "Examples:\n  stspilot "+c+" ") {
			t.Errorf("%s --help has no example:\n%s", c, out)
		}
	}
	_, out, _ = runCmd(t, &fakeChecker{}, "", "rollout", "--help")
	for _, w := range []string{"--publish SPEC", "webroot:DIR", "serve", "exec:CMD", "manual", "--provider NAME", "--wait DURATION", "--ttl DURATION", "--state-dir DIR", "--zone ZONE", "--dry-run", "--timeout DURATION"} {
		if !strings.Contains(out, w) {
			t.Errorf("rollout --help lacks %q", w)
		}
	}
	if strings.Contains(out, "--publish DIR") || goDurationRE.MatchString(out) {
		t.Errorf("rollout --help:\n%s", out)
	}
}

// goDurationRE matches durations as Go writes them (720h0m0s, 5m0s).
var goDurationRE = regexp.MustCompile(`[0-9]+h[0-9]+m[0-9]+s|\b[0-9]+m[0-9]+s\b`)

// TestDurationFlagsTakeDays: every duration flag reads days ("1d"), and a
// bad one is a usage error saying what it wants.
func TestDurationFlagsTakeDays(t *testing.T) {
	var got *WorkflowOptions
	f, _, errOut := testFactory("", &fakeChecker{})
	root := rootWith(f, func(f *factory) *cobra.Command {
		return newWorkflowCmd(f, workflow.Teardown, func(_ context.Context, o *WorkflowOptions) error { got = o; return nil })
	})
	if code := executeRoot(context.Background(), f, root, []string{"teardown", "example.com", "--yes", "--timeout", "1d", "--ttl", "1d", "--wait", "2d", "--last-max-age", "30d"}); code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if got.Timeout != 24*time.Hour || got.TTL != 24*time.Hour || got.Wait != 48*time.Hour || got.Req.LastMaxAge != 720*time.Hour {
		t.Errorf("timeout %v ttl %v wait %v last-max-age %v", got.Timeout, got.TTL, got.Wait, got.Req.LastMaxAge)
	}
	// A bare --wait, and --wait forever, wait until the gates open; help
	// says so in a word, not as 400 days.
	for _, args := range [][]string{{"--wait"}, {"--wait=forever"}, {"--wait", "forever"}, {"--wait", "2d"}} {
		got = nil
		if code := executeRoot(context.Background(), f, root, append([]string{"teardown", "example.com", "--yes"}, args...)); code != exitOK || got.Domain != "example.com" {
			t.Fatalf("%q: exit %d: %s", args, code, errOut)
		}
		if want := map[bool]time.Duration{true: 48 * time.Hour, false: waitForever}[args[len(args)-1] == "2d"]; got.Wait != want {
			t.Errorf("%q: wait %v, want %v", args, got.Wait, want)
		}
	}
	_, help, _ := runCmd(t, &fakeChecker{}, "", "promote", "--help")
	if !strings.Contains(help, "--wait DURATION[=forever]") || strings.Contains(help, "[=400d]") {
		t.Errorf("--wait in help:\n%s", help)
	}
	code, _, errOut2 := runCmd(t, &fakeChecker{}, "", "check", "--timeout", "soon", "example.com")
	if code != exitUsage || !strings.Contains(errOut2, `"soon" is not a duration`) {
		t.Errorf("--timeout soon: exit %d %q", code, errOut2)
	}
}

// TestDryRunIsPlan: --dry-run on a workflow command does what stspilot
// plan WORKFLOW DOMAIN does with the same flags: the same output and exit
// code, nothing changed, no --yes needed.
func TestDryRunIsPlan(t *testing.T) {
	w := &cannedWorld{mx: []string{"mx1.example.test"}}
	f, out, errOut := cannedFactory(t, w)
	run := func(args ...string) (int, string) {
		out.Reset()
		errOut.Reset()
		c := execute(context.Background(), f, args)
		return c, out.String()
	}
	c1, plan := run("plan", "rollout", "example.test", "--rua", "mailto:r@example.test")
	c2, dry := run("rollout", "example.test", "--rua", "mailto:r@example.test", "--dry-run")
	if c1 != exitOK || c1 != c2 || plan != dry || !strings.Contains(dry, "mode: testing") || w.served != "" {
		t.Fatalf("plan: exit %d\n%s\ndry run: exit %d\n%s%s (served %q)", c1, plan, c2, dry, errOut, w.served)
	}
	if c, _ := run("rollout", "example.test", "--yes", "--rua", "mailto:r@example.test"); c != exitOK {
		t.Fatalf("rollout: exit %d %s", c, errOut)
	}
	c1, _ = run("plan", "promote", "example.test", "--without-reports")
	c2, _ = run("promote", "example.test", "--without-reports", "--dry-run")
	if c1 != exitPending || c2 != exitPending {
		t.Errorf("promote inside the soak: plan %d, --dry-run %d; want 3", c1, c2)
	}
}

// TestStatusFailure: status on a domain whose zone no resolver knows says
// so once (not "finding the zone of ... finding the zone of"), points at
// --zone, prints an error object under --json, and creates no state
// directory: it changes nothing.
func TestStatusFailure(t *testing.T) {
	srv, err := loopback.StartDNS(loopback.DNSConfig{Records: func(string) ([]dns.RR, bool) { return nil, false }})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	state := filepath.Join(t.TempDir(), "state")
	t.Setenv("XDG_STATE_HOME", state)
	run := func(args ...string) (int, string, string) {
		f, out, errOut := testFactory("", &fakeChecker{})
		f.Normalize, f.NewEngine = domainname.Normalize, newEngine
		code := execute(context.Background(), f, append([]string{"--resolver", srv.Addr, "--timeout", "5s"}, args...))
		return code, out.String(), errOut.String()
	}
	code, out, errOut := run("status", "example.com")
	if code != exitFailure || out != "" || strings.Count(errOut, "zone of") != 1 || !strings.Contains(errOut, "no SOA record found for example.com") || !strings.Contains(errOut, "--zone ZONE") {
		t.Errorf("status: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, _ = run("status", "example.com", "--json")
	var doc struct{ Schema, Domain, Error string }
	if err := json.Unmarshal([]byte(out), &doc); err != nil || code != exitFailure || doc.Schema != workflow.StatusSchema || doc.Domain != "example.com" || !strings.Contains(doc.Error, "no SOA record") {
		t.Errorf("status --json: exit %d, %v, %q", code, err, out)
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("status created the state directory: %v", err)
	}
}

// TestCheckMissingFileNamesFlag: a -f FILE that cannot be opened names -f.
func TestCheckMissingFileNamesFlag(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	code, out, errOut := runCmd(t, &fakeChecker{}, "", "check", "-f", missing)
	if code != exitFailure || out != "" || !strings.HasPrefix(errOut, "stspilot: -f: open "+missing+": no such file or directory") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// TestCompletion: the shell's completions, through cobra's __complete as
// the shells call it: plan's WORKFLOW, --provider, --publish, rollback's
// --to, demo's --break, the domains the journal knows (read from the
// state directory, which completion never creates) and the exit-codes
// help topic.
func TestCompletion(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	home := filepath.Join(t.TempDir(), "state")
	t.Setenv("XDG_STATE_HOME", home)
	state := filepath.Join(home, "stspilot")
	complete := func(args ...string) []string {
		t.Helper()
		code, out, errOut := runCmd(t, &fakeChecker{}, "", append([]string{"__complete"}, args...)...)
		if code != exitOK {
			t.Fatalf("__complete %q: exit %d %s", args, code, errOut)
		}
		var names []string
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			if !strings.HasPrefix(l, ":") {
				name, _, _ := strings.Cut(l, "\t")
				names = append(names, name)
			}
		}
		return names
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"plan", ""}, "rollout promote rollback teardown mx-migrate"},
		{[]string{"plan", "m"}, "mx-migrate"},
		{[]string{"plan", "ro"}, "rollout rollback"},
		{[]string{"rollout", "example.com", "--provider", "rfc"}, "rfc2136"},
		{[]string{"rollout", "example.com", "--publish", ""}, "webroot: serve exec: manual"},
		{[]string{"rollback", "example.com", "--to", ""}, "testing none"},
		{[]string{"plan", "rollback", "example.com", "--to", "n"}, "none"},
		// mx-migrate's --to is the new MX hosts, not a stage.
		{[]string{"mx-migrate", "example.com", "--to", ""}, ""},
		{[]string{"plan", "mx-migrate", "example.com", "--to", ""}, ""},
		{[]string{"mx-migrate", "example.com", "--switch", ""}, "provider manual"},
		{[]string{"plan", "mx-migrate", "example.com", "--switch", "m"}, "manual"},
		{[]string{"demo", "--break", "mx-"}, "mx-uncovered mx-cert-name"},
		{[]string{"help", "exit"}, "exit-codes"},
		{[]string{"providers", "cloud"}, "cloudflare cloudns"},
		{[]string{"status", ""}, ""},
	} {
		if got := strings.Join(complete(tt.args...), " "); got != tt.want {
			t.Errorf("__complete %q = %q, want %q", tt.args, got, tt.want)
		}
	}
	if got := complete("rollout", "example.com", "--provider", ""); len(got) < 3 || !slices.Contains(got, "manual") {
		t.Errorf("--provider completes %q", got)
	}
	if _, err := os.Stat(home); !os.IsNotExist(err) {
		t.Fatalf("completion created the state directory: %v", err)
	}
	os.MkdirAll(state, 0o700)
	for _, d := range []string{"example.com", "example.org", "other.net"} {
		j, err := journal.New(d)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := journal.Encode(j)
		os.WriteFile(filepath.Join(state, d+".json"), data, 0o600)
	}
	os.WriteFile(filepath.Join(state, "not a journal.txt"), nil, 0o600)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"status", ""}, "example.com example.org other.net"},
		{[]string{"rollback", "ex"}, "example.com example.org"},
		{[]string{"plan", "promote", "o"}, "other.net"},
		{[]string{"mx-migrate", "example.o"}, "example.org"},
		{[]string{"rollback", "example.com", ""}, ""},
		{[]string{"status", "--state-dir", t.TempDir(), ""}, ""},
	} {
		if got := strings.Join(complete(tt.args...), " "); got != tt.want {
			t.Errorf("__complete %q = %q, want %q", tt.args, got, tt.want)
		}
	}
}

// TestCheckNXDOMAIN: a domain the resolver says does not exist is the
// error finding domain.nxdomain, exit 4, not "stage: absent" with
// warnings and exit 0.
func TestCheckNXDOMAIN(t *testing.T) {
	srv, err := loopback.StartDNS(loopback.DNSConfig{Records: func(string) ([]dns.RR, bool) { return nil, false }})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	f, out, errOut := testFactory("", &fakeChecker{})
	f.Normalize, f.RunCheck = domainname.Normalize, checks.Run
	code := execute(context.Background(), f, []string{"check", "--resolver", srv.Addr, "--timeout", "10s", "--json", "foo.invalid"})
	reps := decodeLines(t, out.String())
	if code != exitFindings || len(reps) != 1 || len(reps[0].Findings) != 1 || reps[0].Findings[0].ID != "domain.nxdomain" || reps[0].Findings[0].Severity != checks.SevError {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	out.Reset()
	if code := execute(context.Background(), f, []string{"check", "--resolver", srv.Addr, "--timeout", "10s", "foo.invalid"}); code != exitFindings || !strings.Contains(out.String(), "domain.nxdomain") || !strings.Contains(out.String(), "does not exist") {
		t.Errorf("human: exit %d\n%s", code, out)
	}
}
