package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stspilot/stspilot/checks"
)

// leakyCheck is a RunCheck that logs a secret every way a careless probe
// could: in the message, as a string, inside an error, in a group.
func leakyCheck(fc *fakeChecker, secrets ...string) func(context.Context, string, checks.Options) *checks.Report {
	return func(ctx context.Context, d string, opt checks.Options) *checks.Report {
		for _, s := range secrets {
			slog.DebugContext(ctx, "probe with "+s, "token", s, "err", fmt.Errorf("401: token %s refused", s),
				slog.Group("req", "header", "Bearer "+s))
		}
		return fc.run(ctx, d, opt)
	}
}

func readDebugLog(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDebugLogNeverHoldsSecrets: with STSPILOT_DEBUG set, the debug log is
// written, and a provider secret set in the environment never reaches it,
// whatever logs it; once the command returns, logging stops.
func TestDebugLogNeverHoldsSecrets(t *testing.T) {
	const secret = "cf-token-9f8e7d6c5b4a"
	dir := t.TempDir()
	path := filepath.Join(dir, "debug.log")
	t.Setenv("XDG_CONFIG_HOME", dir) // no credentials file of the machine's
	t.Setenv("CLOUDFLARE_API_TOKEN", secret)
	t.Setenv(envDebug, path)
	f, _, errOut := testFactory("", &fakeChecker{})
	f.RunCheck = leakyCheck(&fakeChecker{}, secret)
	if code := execute(context.Background(), f, []string{"check", "example.com"}); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	got := readDebugLog(t, path)
	if strings.Contains(got, secret) {
		t.Fatalf("the secret reached the debug log:\n%s", got)
	}
	for _, want := range []string{"msg=\"stspilot start\"", "command=\"stspilot check\"", `msg="probe with [redacted]"`, "token=[redacted]", "[redacted] refused", `req.header="Bearer [redacted]"`} {
		if !strings.Contains(got, want) {
			t.Errorf("the debug log lacks %q:\n%s", want, got)
		}
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("debug log mode: %v %v, want 0600", fi.Mode(), err)
	}
	slog.Debug("after the command " + secret)
	if slog.Default().Enabled(context.Background(), slog.LevelDebug) || readDebugLog(t, path) != got {
		t.Error("the debug logger outlived the command")
	}
}

// TestDebugFlag: --debug FILE wins over STSPILOT_DEBUG, and the secrets of
// the credentials file are redacted too.
func TestDebugFlag(t *testing.T) {
	const secret = "tsig-key-c2VjcmV0LXZhbHVl"
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	creds := filepath.Join(dir, "credentials")
	if err := os.WriteFile(creds, []byte("RFC2136_KEY="+secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	envPath, flagPath := filepath.Join(dir, "env.log"), filepath.Join(dir, "flag.log")
	t.Setenv(envDebug, envPath)
	f, _, errOut := testFactory("", &fakeChecker{})
	f.RunCheck = leakyCheck(&fakeChecker{}, secret)
	if code := execute(context.Background(), f, []string{"--credentials", creds, "--debug", flagPath, "check", "example.com"}); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if _, err := os.Stat(envPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("STSPILOT_DEBUG's file was written although --debug was given: %v", err)
	}
	got := readDebugLog(t, flagPath)
	if strings.Contains(got, secret) || !strings.Contains(got, "token=[redacted]") {
		t.Errorf("debug log:\n%s", got)
	}
}

// TestDebugOff: without --debug and STSPILOT_DEBUG nothing logs at debug
// level; a debug file that cannot be opened fails the command before it
// runs.
func TestDebugOff(t *testing.T) {
	t.Setenv(envDebug, "")
	fc := &fakeChecker{}
	f, _, _ := testFactory("", fc)
	f.RunCheck = func(ctx context.Context, d string, opt checks.Options) *checks.Report {
		if slog.Default().Enabled(ctx, slog.LevelDebug) {
			t.Error("debug logging is on without --debug")
		}
		return fc.run(ctx, d, opt)
	}
	if code := execute(context.Background(), f, []string{"check", "example.com"}); code != 0 {
		t.Fatalf("exit %d", code)
	}

	code, _, errOut := runCmd(t, fc, "", "--debug", filepath.Join(t.TempDir(), "no", "such", "dir", "debug.log"), "check", "example.com")
	if code != 1 || !strings.Contains(errOut, "debug log") {
		t.Errorf("unopenable debug file: exit %d, stderr %q", code, errOut)
	}
	if len(fc.Calls()) != 1 {
		t.Errorf("the check ran although the debug log could not be opened: %v", fc.Calls())
	}
}

// TestDebugLogNeverHoldsAliasedSecrets: secrets given under lego's names
// or in a NAME_FILE (and a secret put in a NAME_FILE by mistake) are
// redacted from the debug log like those under stspilot's own names.
func TestDebugLogNeverHoldsAliasedSecrets(t *testing.T) {
	const alias, inFile, misplaced = "cf-alias-4e5f6a7b8c9d", "tsig-file-1a2b3c4d5e6f", "zone-misplaced-7a8b9c0d"
	dir := t.TempDir()
	path := filepath.Join(dir, "debug.log")
	t.Setenv("XDG_CONFIG_HOME", dir)
	secretPath := filepath.Join(dir, "tsig")
	if err := os.WriteFile(secretPath, []byte(inFile+"\n"), 0o400); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CF_DNS_API_TOKEN", alias)
	t.Setenv("RFC2136_TSIG_SECRET_FILE", secretPath)
	t.Setenv("CF_ZONE_API_TOKEN_FILE", misplaced)
	t.Setenv(envDebug, path)
	f, _, errOut := testFactory("", &fakeChecker{})
	f.RunCheck = leakyCheck(&fakeChecker{}, alias, inFile, misplaced)
	if code := execute(context.Background(), f, []string{"check", "example.com"}); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	got := readDebugLog(t, path)
	for _, s := range []string{alias, inFile, misplaced} {
		if strings.Contains(got, s) {
			t.Errorf("%s reached the debug log:\n%s", s, got)
		}
	}
	if !strings.Contains(got, "token=[redacted]") {
		t.Errorf("nothing was redacted:\n%s", got)
	}
}
