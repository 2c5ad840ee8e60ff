//go:build unix

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stspilot/stspilot/internal/domainname"
	"github.com/stspilot/stspilot/workflow/journal"
)

// plantedJournal writes the journal of example.com as a hand edit or a
// merged pull request could leave it: provider manual, publish
// exec:COMMAND. It returns the file.
func plantedJournal(t *testing.T, state, command string) string {
	t.Helper()
	j, err := journal.New("example.com")
	if err != nil {
		t.Fatal(err)
	}
	j.Provider, j.Publish = "manual", journal.PublishExec
	b, err := journal.Encode(j)
	if err != nil {
		t.Fatal(err)
	}
	q, _ := json.Marshal("exec:" + command)
	b = bytes.Replace(b, []byte(`"publish": "exec"`), append([]byte(`"publish": `), q...), 1)
	if err := os.MkdirAll(state, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(state, "example.com.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Issue 14, item 5: `rollback --yes` without --publish ran the command a
// journal's publish field held, with the user's environment (provider
// secrets included). No command of the CLI runs it now: the workflows
// without --publish stop with a usage error that says where the command
// must come from, and those that go on (plan, status, a workflow given
// another --publish) never run it either.
func TestJournalExecCommandNeverRuns(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir()) // no config file
	state := filepath.Join(t.TempDir(), "state")
	marker := filepath.Join(t.TempDir(), "pwned")
	plantedJournal(t, state, "touch "+marker+"; cat >"+marker)
	run := func(args ...string) (int, string) {
		f, _, errOut := testFactory("", &fakeChecker{})
		f.Normalize, f.NewEngine = domainname.Normalize, newEngine
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// Nothing answers DNS on port 1: a run that goes on fails fast.
		common := []string{"--state-dir", state, "--resolver", "127.0.0.1:1", "--timeout", "2s"}
		code := execute(ctx, f, append(args, common...))
		return code, errOut.String()
	}

	code, errOut := run("rollback", "example.com", "--yes")
	if code != exitUsage || !strings.Contains(errOut, "rollback needs --publish exec:CMD (the journal of example.com says the policy goes through an exec publisher, but stspilot never runs a command read from a journal") {
		t.Errorf("rollback --yes: exit %d, stderr %q; want exit 2 naming --publish exec:CMD", code, errOut)
	}
	if strings.Contains(errOut, marker) {
		t.Errorf("the error shows the journal's command: %q", errOut)
	}
	for _, args := range [][]string{
		{"rollout", "example.com", "--yes", "--rua", "mailto:r@example.com"},
		{"promote", "example.com", "--yes", "--without-reports"},
		{"rollback", "example.com", "--yes", "--to", "none"},
		{"teardown", "example.com", "--yes"},
		{"plan", "rollback", "example.com"},
		{"status", "example.com"},
		{"rollback", "example.com", "--yes", "--publish", "manual"},
		{"rollback", "example.com", "--yes", "--provider", "manual"},
	} {
		code, errOut := run(args...)
		t.Logf("%s: exit %d, %s", strings.Join(args, " "), code, strings.TrimSpace(errOut))
		if _, err := os.Stat(marker); err == nil {
			t.Fatalf("%s ran the command of the journal", strings.Join(args, " "))
		}
	}
}

// publishSpec never takes a command from the journal: the flag's, else the
// (trusted) config file's, else none.
func TestPublishSpecCommandSources(t *testing.T) {
	state := t.TempDir()
	for _, tc := range []struct {
		flag, journal, config string
		want                  string
		noCommand             bool
	}{
		{"", "exec", "", "", true},
		{"", "exec", "webroot:/srv/www", "", true},
		{"", "exec", "exec:upload", "exec:upload", false},
		{"exec:mine", "exec", "exec:upload", "exec:mine", false},
		{"manual", "exec", "", "manual", false},
		{"", "webroot:/srv/www", "exec:upload", "webroot:/srv/www", false},
		{"", "", "exec:upload", "exec:upload", false},
		{"", "serve", "", "serve", false},
		{"", "", "", "", false},
	} {
		got, noCommand := publishSpec(tc.flag, tc.journal, tc.config, state)
		if got != tc.want || noCommand != tc.noCommand {
			t.Errorf("publishSpec(%q, %q, %q) = %q, %v; want %q, %v", tc.flag, tc.journal, tc.config, got, noCommand, tc.want, tc.noCommand)
		}
	}
}

// A config file is trusted with publish = exec:CMD only when it is a
// regular file of the running user or root that group and others cannot
// write; without an exec publisher it is read as before.
func TestConfigExecNeedsATrustedFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const execLine = "publish = exec:aws s3 cp - s3://bucket/.well-known/mta-sts.txt\n"
	for _, mode := range []os.FileMode{0o600, 0o644, 0o400, 0o755} {
		p := write("ok"+mode.String(), execLine, mode)
		if cfg, err := loadConfig(p, true); err != nil || cfg["publish"] != "exec:aws s3 cp - s3://bucket/.well-known/mta-sts.txt" {
			t.Errorf("mode %04o: %v, %v", mode, cfg, err)
		}
	}
	for _, mode := range []os.FileMode{0o620, 0o602, 0o666, 0o660} {
		p := write("w"+mode.String(), execLine, mode)
		_, err := loadConfig(p, true)
		if exitCode(err) != exitUsage || err == nil || !strings.Contains(err.Error(), "chmod go-w "+p) || !strings.Contains(err.Error(), "a command stspilot runs") {
			t.Errorf("mode %04o: %v; want a usage error naming chmod go-w", mode, err)
		}
		if err != nil && strings.Contains(err.Error(), "aws s3") {
			t.Errorf("mode %04o: the command is in the error: %v", mode, err)
		}
		// Without an exec publisher, the mode is not the config's business.
		if _, err := loadConfig(write("n"+mode.String(), "publish = webroot:/srv/www\n", mode), true); err != nil {
			t.Errorf("mode %04o, webroot: %v", mode, err)
		}
	}
	// A symbolic link to a trusted file is fine, as for any config file.
	link := filepath.Join(dir, "link")
	if err := os.Symlink(write("target", execLine, 0o600), link); err != nil {
		t.Fatal(err)
	}
	if _, err := loadConfig(link, true); err != nil {
		t.Errorf("symlink to a trusted file: %v", err)
	}

	if os.Getuid() != 0 {
		t.Skip("needs root to give a file to another user")
	}
	const other = 54321
	theirs := write("theirs", execLine, 0o644)
	plain := write("theirs-plain", "publish = webroot:/srv/www\n", 0o644)
	for _, p := range []string{theirs, plain} {
		if err := os.Chown(p, other, other); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := loadConfig(theirs, true); exitCode(err) != exitUsage || !strings.Contains(err.Error(), "owned by uid 54321") {
		t.Errorf("another user's config with exec: %v; want a usage error naming the owner", err)
	}
	if _, err := loadConfig(plain, true); err != nil {
		t.Errorf("another user's config without exec: %v", err)
	}
}
