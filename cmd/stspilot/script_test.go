package main

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/stspilot/stspilot/checks"
	"github.com/stspilot/stspilot/internal/domainname"
	"github.com/stspilot/stspilot/workflow"
	"github.com/stspilot/stspilot/workflow/sandbox"
)

// scriptStart is the sandbox time every script starts at, so that the
// times the CLI prints (next_at) are the same run to run.
var scriptStart = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

// scriptWorld is one script's sandbox and the exit code of its last
// stspilot command.
type scriptWorld struct {
	sb   *sandbox.Sandbox
	exit int
	ran  bool
}

type scriptWorldKey struct{}

// TestScripts runs testdata/script/*.txtar: the CLI contract (texts, --json
// documents, exit codes) pinned as the user sees it. Each script gets its
// own sandbox world, the one `stspilot demo` runs on (loopback DNS, policy
// host and MX servers, a throwaway CA, the in-memory provider and
// publisher), and its `stspilot` command runs the CLI's entry point in
// this process with a factory wired to that world, the way demoRun wires
// the wizard: nothing about the world goes through the command line.
//
// The sandbox clock starts at scriptStart and is not accelerated (a day
// of 1000 hours is taken as real time): it moves by the few seconds a
// script takes, and by days when a script says `sandbox skip`, which is how
// the scripts cross the ladder's windows.
//
// Commands the scripts have besides testscript's own:
//
//	stspilot ARGS...     run the CLI; ! expects a non-zero exit
//	exitcode N           the last stspilot exited with N
//	sandbox break NAME   inject a failure (see stspilot demo --help)
//	sandbox heal NAME    undo it
//	sandbox skip DUR     move sandbox time forward (Go durations, or Nd days)
func TestScripts(t *testing.T) {
	// The CLI runs in this process and reads this process's environment:
	// keep it away from the user's config, credentials and journals.
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("testdata", "script"),
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		Setup: func(env *testscript.Env) error {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			sb, err := sandbox.Start(ctx, sandbox.Options{
				Day:      1000 * time.Hour,
				Start:    scriptStart,
				StateDir: filepath.Join(env.WorkDir, "state"),
			})
			if err != nil {
				return err
			}
			env.Defer(sb.Close)
			env.Values[scriptWorldKey{}] = &scriptWorld{sb: sb}
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"stspilot": scriptStspilot,
			"exitcode": scriptExitCode,
			"sandbox":  scriptSandbox,
		},
	})
}

func scriptWorldOf(ts *testscript.TestScript) *scriptWorld {
	return ts.Value(scriptWorldKey{}).(*scriptWorld)
}

// sandboxFactory is the factory of the real CLI with the outside world
// replaced by the sandbox: the checks go to its resolver, ports and CA on
// its clock, and the workflow commands get its engine (the in-memory
// provider and publisher, its journal and clock), exactly as the demo's
// wizard gets them.
func sandboxFactory(sb *sandbox.Sandbox, io *IOStreams) *factory {
	return &factory{
		IO: io,
		RunCheck: func(ctx context.Context, d string, o checks.Options) *checks.Report {
			so := sb.CheckOptions(nil)
			if o.Timeout > 0 {
				so.Timeout = o.Timeout
			}
			return checks.Run(ctx, d, so)
		},
		Normalize: domainname.Normalize,
		Now:       sb.Clock.Now,
		NewEngine: func(context.Context, *WorkflowOptions) (*workflow.Engine, error) {
			return sb.Engine()
		},
		LookupTXT: func(ctx context.Context, name string, _ []string) ([]string, error) {
			return lookupTXT(ctx, name, []string{sb.DNSAddr})
		},
	}
}

func scriptStspilot(ts *testscript.TestScript, neg bool, args []string) {
	w := scriptWorldOf(ts)
	var out, errOut bytes.Buffer
	io := newIOStreams(strings.NewReader(""), &out, &errOut, ts.Getenv)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	w.exit, w.ran = execute(ctx, sandboxFactory(w.sb, io), args), true
	_, _ = ts.Stdout().Write(out.Bytes())
	_, _ = ts.Stderr().Write(errOut.Bytes())
	// Every script checks this too: no duration printed the way Go
	// writes them (720h0m0s), on either stream.
	for _, b := range [][]byte{out.Bytes(), errOut.Bytes()} {
		if m := goDurationRE.Find(b); m != nil {
			ts.Fatalf("stspilot %s printed the Go duration %q", strings.Join(args, " "), m)
		}
	}
	switch {
	case neg && w.exit == 0:
		ts.Fatalf("stspilot %s: exit 0, want a failure", strings.Join(args, " "))
	case !neg && w.exit != 0:
		ts.Fatalf("stspilot %s: exit %d", strings.Join(args, " "), w.exit)
	}
}

func scriptExitCode(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: exitcode N")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	w := scriptWorldOf(ts)
	if !w.ran {
		ts.Fatalf("exitcode before any stspilot command")
	}
	if (w.exit == want) == neg {
		ts.Fatalf("stspilot exited %d; want %s%d", w.exit, map[bool]string{true: "not ", false: ""}[neg], want)
	}
}

func scriptSandbox(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! sandbox")
	}
	if len(args) != 2 {
		ts.Fatalf("usage: sandbox break|heal NAME, sandbox skip DURATION")
	}
	sb := scriptWorldOf(ts).sb
	switch args[0] {
	case "break", "heal":
		b, err := sandbox.ParseBreak(args[1])
		ts.Check(err)
		if args[0] == "break" {
			ts.Check(sb.Inject(b))
		} else {
			ts.Check(sb.Heal(b))
		}
	case "skip":
		d, err := scriptDuration(args[1])
		ts.Check(err)
		sb.Clock.Skip(d)
		ts.Logf("sandbox time is now %s", sb.Clock.Now().Format(time.RFC3339))
	default:
		ts.Fatalf("unknown sandbox command %q", args[0])
	}
}

// scriptDuration is a Go duration or a whole number of days ("15d").
func scriptDuration(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 {
			return 0, fmt.Errorf("bad days %q", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}
