package main

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestRootCommands(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		stdout   string // substring
		stderr   string // substring
	}{
		{"version", []string{"--version"}, 0, "stspilot ", ""},
		{"help", []string{"--help"}, 0, "check", ""},
		{"no arguments prints help", nil, 0, "Available Commands", ""},
		{"help lists the exit-codes topic", []string{"help"}, 0, "exit-codes", ""},
		{"bash completion", []string{"completion", "bash"}, 0, "bash completion", ""},
		{"zsh completion", []string{"completion", "zsh"}, 0, "compdef", ""},
		{"fish completion", []string{"completion", "fish"}, 0, "complete -c stspilot", ""},
		{"powershell completion", []string{"completion", "powershell"}, 0, "Register-ArgumentCompleter", ""},
		{"unknown command", []string{"chekc", "example.com"}, 2, "", `unknown command "chekc"`},
		{"unknown command suggests", []string{"chek"}, 2, "", `did you mean "check"?`},
		{"unknown root flag", []string{"--frobnicate"}, 2, "", "unknown flag: --frobnicate"},
		{"flag value error", []string{"--timeout", "soon", "check", "example.com"}, 2, "", "invalid argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, &fakeChecker{}, "", tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.wantCode, errOut)
			}
			if !strings.Contains(out, tt.stdout) {
				t.Errorf("stdout lacks %q:\n%s", tt.stdout, out)
			}
			if !strings.Contains(errOut, tt.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tt.stderr, errOut)
			}
		})
	}
}

// A value that a bool or integer flag refuses is said in a sentence
// naming the flag and the value, a usage error (exit 2), never in
// strconv's words.
func TestFlagValueSentences(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"rollout", "--yes=maybe", "example.com"}, `stspilot: --yes takes true or false, not "maybe"` + "\nRun 'stspilot rollout --help' for usage.\n"},
		{[]string{"--json=2", "check", "example.com"}, `stspilot: --json takes true or false, not "2"` + "\n"},
		{[]string{"check", "--concurrency", "many", "example.com"}, `stspilot: --concurrency takes a whole number, not "many"` + "\n"},
		{[]string{"check", "--concurrency", "99999999999999999999", "example.com"}, "stspilot: --concurrency: 99999999999999999999 is out of range\n"},
		{[]string{"serve", "--reports-quota=1.5"}, `stspilot: --reports-quota takes a whole number, not "1.5"` + "\n"},
	} {
		code, out, errOut := runCmd(t, &fakeChecker{}, "", c.args...)
		if code != 2 || out != "" || !strings.HasPrefix(errOut, c.want) || strings.Contains(errOut, "strconv") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 and %q", c.args, code, out, errOut, c.want)
		}
	}
}

func TestBuildVersion(t *testing.T) {
	info := func(v string, settings ...string) *debug.BuildInfo {
		bi := &debug.BuildInfo{Main: debug.Module{Path: "github.com/stspilot/stspilot", Version: v}}
		for i := 0; i+1 < len(settings); i += 2 {
			bi.Settings = append(bi.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
		}
		return bi
	}
	const rev = "0123456789abcdef0123456789abcdef01234567"
	tests := []struct {
		name   string
		linked string
		info   *debug.BuildInfo
		ok     bool
		want   string
	}{
		{"ldflags win", "v1.2.3", info("v0.9.0"), true, "v1.2.3"},
		{"module version from go install", "", info("v0.9.0"), true, "v0.9.0"},
		{"vcs revision", "", info("(devel)", "vcs.revision", rev, "vcs.modified", "false"), true, "devel+0123456789ab"},
		{"dirty tree", "", info("(devel)", "vcs.revision", rev, "vcs.modified", "true"), true, "devel+0123456789ab-dirty"},
		{"no vcs", "", info("(devel)"), true, "devel"},
		{"no build info", "", nil, false, "devel"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := buildVersion(tt.linked, tt.info, tt.ok); got != tt.want {
				t.Errorf("buildVersion = %q, want %q", got, tt.want)
			}
		})
	}
}
