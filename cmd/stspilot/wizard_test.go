package main

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stspilot/stspilot/dnsprovider"
	"github.com/stspilot/stspilot/tui"
	"github.com/stspilot/stspilot/workflow"
)

// TestWizardAndDemoNeedATerminal: both are interactive; without a
// terminal they say so with a usage error, and bad flags are usage errors.
func TestWizardAndDemoNeedATerminal(t *testing.T) {
	for _, tt := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"demo"}, "run it on a terminal"},
		{[]string{"wizard", "example.com"}, "the wizard needs a terminal"},
		{[]string{"wizard", "not a domain!"}, ""},
		{[]string{"demo", "--break", "mx-everything"}, `unknown failure "mx-everything"`},
		{[]string{"demo", "--day", "0s"}, "--day must be positive"},
		{[]string{"wizard", "a.example", "b.example"}, "at most one DOMAIN"},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, _, errOut := runCmd(t, &fakeChecker{}, "", tt.args...)
			if code != 2 || !strings.Contains(errOut, tt.stderr) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, errOut, tt.stderr)
			}
		})
	}
}

// TestWizardEngineTakesTheTypedSettings: the set-up screen's settings
// reach the provider through the Source, ahead of the environment; the
// journal remembers the provider's name and never a value; a missing
// setting is a usage error that names the variable and no secret.
func TestWizardEngineTakesTheTypedSettings(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	const secret = "cf-typed-7a6b5c4d"
	o := &WizardOptions{WorkflowOptions: WorkflowOptions{NewEngine: newEngine, StateDir: t.TempDir()}}
	src := dnsprovider.EnvSource(func(k string) (string, bool) {
		if k == "CLOUDFLARE_API_TOKEN" {
			return secret, true
		}
		return "", false
	})
	e, err := wizardEngine(context.Background(), o, tui.Setup{Domain: "example.com", Provider: "cloudflare", Publish: "manual", Source: src})
	if err != nil {
		t.Fatal(err)
	}
	cfg := e.Config()
	if cfg.Provider.Name() != "cloudflare" {
		t.Errorf("provider %q, want cloudflare", cfg.Provider.Name())
	}
	fj, ok := cfg.Journal.(*workflow.FileJournal)
	if !ok || fj.Provider != "cloudflare" || fj.Publish != "manual" {
		t.Errorf("journal settings: %+v", cfg.Journal)
	}
	if cfg.Command != "stspilot wizard" {
		t.Errorf("command %q", cfg.Command)
	}

	none := dnsprovider.EnvSource(func(string) (string, bool) { return "", false })
	t.Setenv("CLOUDFLARE_API_TOKEN", "")
	_, err = wizardEngine(context.Background(), o, tui.Setup{Domain: "example.com", Provider: "cloudflare", Publish: "manual", Source: none})
	var ue *usageError
	if err == nil || !errors.As(err, &ue) || !strings.Contains(err.Error(), "CLOUDFLARE_API_TOKEN") {
		t.Fatalf("missing token: %v", err)
	}
	if strings.Contains(err.Error(), secret) {
		t.Fatal("the error shows a secret")
	}
}

// TestDemoBreakNeedsSomethingToBreak: a failure that changes published
// records cannot be injected before the rollout; the demo says so (exit 2)
// instead of starting a sandbox without it.
func TestDemoBreakNeedsSomethingToBreak(t *testing.T) {
	f, _, errOut := testFactory("", &fakeChecker{})
	f.IO.SetStdinTTY(true)
	f.IO.SetStdoutTTY(true)
	code := execute(context.Background(), f, []string{"demo", "--break", "policy-drift"})
	if code != 2 || !strings.Contains(errOut.String(), "no policy is published yet") || !strings.Contains(errOut.String(), "inject it with x") {
		t.Errorf("exit %d, stderr %q", code, errOut.String())
	}
}

// TestWizardCtrlCExits130: ctrl+c leaves the wizard as an interrupt (exit
// 130, as on every other command), even on the set-up screen where letters
// are text; q quits with 0 (the tui's TestQuitKeys).
func TestWizardCtrlCExits130(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int
	}{{"\x03", exitInterrupted}, {"ab\x03", exitInterrupted}} {
		pr, pw := io.Pipe()
		t.Cleanup(func() { pw.Close() })
		s := &IOStreams{In: pr, Out: io.Discard, ErrOut: io.Discard}
		// Written at once, no sleep: the pipe holds the bytes until the
		// wizard reads them, and its model handles keys in order only
		// after its first screen (the set-up screen) is set up.
		go pw.Write([]byte(tt.in))
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err := runProgram(ctx, s, tui.Options{Providers: dnsprovider.Providers(false)})
		timedOut := ctx.Err() != nil
		cancel()
		if timedOut {
			t.Fatalf("%q: the wizard did not end", tt.in)
		}
		if got := exitCode(err); got != tt.want {
			t.Errorf("%q: exit %d (%v), want %d", tt.in, got, err, tt.want)
		}
	}
}
