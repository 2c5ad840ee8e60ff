package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/stspilot/stspilot/workflow"
)

// capture runs args through the command tree with the command built by
// build (given a runF that records the options it gets) in place of the
// real one, and returns the exit code and stderr.
func capture(t *testing.T, f *factory, build func(*factory) *cobra.Command, args ...string) (int, string) {
	t.Helper()
	code := executeRoot(context.Background(), f, rootWith(f, build), args)
	return code, f.IO.ErrOut.(*strings.Builder).String()
}

// Every command takes the one path: the global flags and, where the
// command reads them, the resolvers and the config file reach its options
// through prepare, and runF gets the options instead of the work.
func TestRunFGetsPreparedOptions(t *testing.T) {
	cfgDir := t.TempDir()
	cfg := filepath.Join(cfgDir, "config")
	state := filepath.Join(cfgDir, "state")
	if err := os.WriteFile(cfg, []byte("state-dir = "+state+"\nprovider = memory\nladder = testing@86400:1d\nreports = "+cfgDir+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	globals := []string{"--config", cfg, "--resolver", "127.0.0.53", "--timeout", "9s", "--json", "--credentials", "/x/creds"}
	common := func(t *testing.T, c *CommonOptions, resolvers, config bool) {
		t.Helper()
		if !c.JSON || c.Timeout != 9*time.Second || c.Credentials != "/x/creds" || c.IO == nil || c.Now == nil {
			t.Errorf("global flags: json=%v timeout=%s credentials=%q", c.JSON, c.Timeout, c.Credentials)
		}
		if want := []string{"127.0.0.53:53"}; resolvers != slices.Equal(c.Resolvers, want) {
			t.Errorf("Resolvers = %q (read: %v)", c.Resolvers, resolvers)
		}
		if config != (c.Config["provider"] == "memory") {
			t.Errorf("Config = %v (read: %v)", c.Config, config)
		}
	}

	t.Run("rollout", func(t *testing.T) {
		f, _, _ := testFactory("", &fakeChecker{})
		var got *WorkflowOptions
		code, stderr := capture(t, f, func(f *factory) *cobra.Command {
			return newWorkflowCmd(f, workflow.Rollout, func(_ context.Context, o *WorkflowOptions) error { got = o; return nil })
		}, append(globals, "rollout", "Example.COM", "--yes", "--rua", "mailto:r@example.com", "--mx", "mx1.example.com")...)
		if code != 0 || got == nil {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		common(t, &got.CommonOptions, true, true)
		if got.Domain != "example.com" || got.Req.Domain != "example.com" || got.Req.Workflow != workflow.Rollout || got.Req.RUA != "mailto:r@example.com" ||
			!slices.Equal(got.Req.MX, []string{"mx1.example.com"}) || got.StateDir != state || got.Ladder != "" {
			t.Errorf("options %+v", got)
		}
	})
	t.Run("plan", func(t *testing.T) {
		f, _, _ := testFactory("", &fakeChecker{})
		var got *WorkflowOptions
		code, stderr := capture(t, f, func(f *factory) *cobra.Command {
			return newPlanCmd(f, func(_ context.Context, o *WorkflowOptions) error { got = o; return nil })
		}, append(globals, "plan", "rollback", "example.com", "--to", "none")...)
		if code != 0 || got == nil {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		common(t, &got.CommonOptions, true, true)
		if !got.PlanOnly || got.Workflow != workflow.Rollback || got.Req.To != "none" {
			t.Errorf("options %+v", got)
		}
	})
	t.Run("status", func(t *testing.T) {
		f, _, _ := testFactory("", &fakeChecker{})
		var got *WorkflowOptions
		code, stderr := capture(t, f, func(f *factory) *cobra.Command {
			return newStatusCmd(f, func(_ context.Context, o *WorkflowOptions) error { got = o; return nil })
		}, append(globals, "status", "example.com.")...)
		if code != 0 || got == nil {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		common(t, &got.CommonOptions, true, true)
		if got.Domain != "example.com" || got.Workflow != "" || got.StateDir != state || !slices.Equal(got.Reports, []string{cfgDir}) {
			t.Errorf("options %+v", got)
		}
	})
	t.Run("reports", func(t *testing.T) {
		f, _, _ := testFactory("", &fakeChecker{})
		var got *ReportsOptions
		code, stderr := capture(t, f, func(f *factory) *cobra.Command {
			return newReportsCmd(f, func(_ context.Context, o *ReportsOptions) error { got = o; return nil })
		}, append(globals, "reports", "--since", "2d", "--domain", "Example.com")...)
		if code != 0 || got == nil {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		common(t, &got.CommonOptions, false, true)
		if got.Domain != "example.com" || !got.Since.Equal(fixedNow.Add(-48*time.Hour)) || got.StateDir != state || !slices.Equal(got.Paths, []string{cfgDir}) {
			t.Errorf("options %+v", got)
		}
	})
	t.Run("serve", func(t *testing.T) {
		f, _, _ := testFactory("", &fakeChecker{})
		var got *ServeOptions
		code, stderr := capture(t, f, func(f *factory) *cobra.Command {
			return newServeCmd(f, func(_ context.Context, o *ServeOptions) error { got = o; return nil })
		}, append(globals, "serve", "--acme")...)
		if code != 0 || got == nil {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		common(t, &got.CommonOptions, false, true)
		if got.StateDir != state || !got.ACME {
			t.Errorf("options %+v", got)
		}
	})
	t.Run("providers", func(t *testing.T) {
		f, _, _ := testFactory("", &fakeChecker{})
		var got *ProvidersOptions
		code, stderr := capture(t, f, func(f *factory) *cobra.Command {
			return newProvidersCmd(f, func(_ context.Context, o *ProvidersOptions) error { got = o; return nil })
		}, append(globals, "providers", "cloudflare")...)
		if code != 0 || got == nil {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		common(t, &got.CommonOptions, false, false)
	})
	t.Run("check", func(t *testing.T) {
		f, _, _ := testFactory("", &fakeChecker{})
		var got *CheckOptions
		code, stderr := capture(t, f, func(f *factory) *cobra.Command {
			return newCheckCmd(f, func(_ context.Context, o *CheckOptions) error { got = o; return nil })
		}, append(globals, "check", "example.com")...)
		if code != 0 || got == nil {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		common(t, &got.CommonOptions, true, false)
	})
	for _, name := range []string{"wizard", "demo"} {
		t.Run(name, func(t *testing.T) {
			f, _, _ := testFactory("", &fakeChecker{})
			f.IO.SetStdinTTY(true)
			f.IO.SetStdoutTTY(true)
			var ran bool
			var c *CommonOptions
			build := func(f *factory) *cobra.Command {
				if name == "demo" {
					return newDemoCmd(f, func(_ context.Context, o *DemoOptions) error { ran, c = true, &o.CommonOptions; return nil })
				}
				return newWizardCmd(f, func(_ context.Context, o *WizardOptions) error {
					ran, c = true, &o.CommonOptions
					if o.Domain != "example.com" || o.StateDir != state || o.RUA != "mailto:r@example.com" {
						t.Errorf("options %+v", o)
					}
					return nil
				})
			}
			args := append(globals, name)
			if name == "wizard" {
				args = append(args, "EXAMPLE.com", "--rua", "mailto:r@example.com")
			}
			code, stderr := capture(t, f, build, args...)
			if code != 0 || !ran {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			common(t, c, name == "wizard", name == "wizard")
		})
	}
}
