package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stspilot/stspilot/workflow/journal"
	"github.com/stspilot/stspilot/workflow/serve"
)

func TestExitCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, 0},
		{"plain error", errors.New("boom"), 1},
		{"usage", usageErrorf("bad"), 2},
		{"wrapped usage", fmt.Errorf("while parsing: %w", usageErrorf("bad")), 2},
		{"flag error", flagError(nil, errors.New("unknown flag: --x")), 2},
		{"exit 3", &exitError{code: exitPending}, 3},
		{"exit 4 silent", &exitError{code: exitFindings}, 4},
		{"exit 5 with message", &exitError{exitRefused, errors.New("would break mail")}, 5},
		{"canceled", context.Canceled, 130},
		{"wrapped canceled", fmt.Errorf("check: %w", context.Canceled), 130},
		{"canceled inside an exit error", &exitError{exitFailure, context.Canceled}, 130},
		{"deadline is an error, not an interrupt", context.DeadlineExceeded, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := exitCode(tt.err); got != tt.want {
				t.Errorf("exitCode(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}

func TestPrintError(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		want string
	}{
		{"silent exit", &exitError{code: exitFindings}, ""},
		{"nil", nil, ""},
		{"message", &exitError{exitFailure, errors.New("2 of 3 domains could not be checked")}, "stspilot: 2 of 3 domains could not be checked\n"},
		{"interrupt", context.Canceled, "stspilot: interrupted\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			printError(&b, tt.err, nil)
			if b.String() != tt.want {
				t.Errorf("got %q, want %q", b.String(), tt.want)
			}
		})
	}
}

// The help topic and docs/exit-codes.md list the same codes with the same
// meanings, and both state the precedence.
func TestExitCodesDocMatchesHelp(t *testing.T) {
	doc, err := os.ReadFile("../../docs/exit-codes.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile(`(?m)^\|\s*(\d+)\s*\|\s*(.*?)\s*\|\s*$`)
	var got []string
	for _, m := range row.FindAllStringSubmatch(string(doc), -1) {
		got = append(got, m[1]+" "+m[2])
	}
	var want []string
	for _, r := range exitCodeTable {
		want = append(want, strconv.Itoa(r.Code)+" "+r.Meaning)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("docs/exit-codes.md table:\n%s\n\nexitCodeTable:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	norm := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	if !strings.Contains(norm(string(doc)), norm(exitCodePrecedence)) {
		t.Errorf("docs/exit-codes.md does not state the precedence:\n%s", exitCodePrecedence)
	}

	code, out, _ := runCmd(t, &fakeChecker{}, "", "help", "exit-codes")
	if code != 0 {
		t.Fatalf("help exit-codes: exit %d", code)
	}
	for _, r := range exitCodeTable {
		line := fmt.Sprintf("%3d  %s", r.Code, strings.ReplaceAll(r.Meaning, "`", ""))
		if !strings.Contains(out, line) {
			t.Errorf("help exit-codes lacks %q", line)
		}
	}
	if !strings.Contains(norm(out), norm(exitCodePrecedence)) {
		t.Error("help exit-codes does not state the precedence")
	}
}

// The engine's errors name no flag; printError adds the flag that answers
// them (the front end renders flags).
func TestPrintErrorAddsFlagHint(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("status: %w", journal.ErrNoStateDir), "or pass --state-dir DIR"},
		{fmt.Errorf("serve: %w (got 2 certificates and 1 keys)", serve.ErrCertKeyCount), "give as many --tls-key as --tls-cert"},
		{fmt.Errorf("acme: %w: x holds no PEM certificate", serve.ErrCARoots), "(--acme-ca-root)"},
	} {
		var b strings.Builder
		printError(&b, tc.err, nil)
		if !strings.Contains(b.String(), tc.want) {
			t.Errorf("printError(%v) = %q, want it to contain %q", tc.err, b.String(), tc.want)
		}
		if strings.Contains(tc.err.Error(), "--") {
			t.Errorf("the engine's error %q names a flag", tc.err)
		}
	}
}
