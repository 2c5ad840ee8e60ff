package main

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stspilot/stspilot/workflow"
	"github.com/stspilot/stspilot/workflow/sandbox"
)

// Tests that need stspilot as a process of its own (signals, what outlives
// it) run this test binary again with childEnv set: it is then the CLI,
// the way main runs it (runSignals), on a sandbox world of its own.
const (
	// childEnv, when set, makes the test binary the CLI; its value is the
	// state directory of the sandbox.
	childEnv = "STSPILOT_TEST_CHILD"
	// childExecEnv, when set, is the command of an exec publisher that
	// replaces the sandbox's in-memory one.
	childExecEnv = "STSPILOT_TEST_CHILD_EXEC"
	// mainEnv, when set, makes the test binary the CLI as main runs it,
	// with no sandbox (serve as another user).
	mainEnv = "STSPILOT_TEST_MAIN"
)

func TestMain(m *testing.M) {
	if os.Getenv(mainEnv) != "" {
		os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	if dir := os.Getenv(childEnv); dir != "" {
		os.Exit(childMain(dir, os.Args[1:]))
	}
	os.Exit(m.Run())
}

// childMain runs the CLI with args on a sandbox whose journal is in dir.
func childMain(dir string, args []string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	sb, err := sandbox.Start(ctx, sandbox.Options{Day: 1000 * time.Hour, Start: scriptStart, StateDir: dir})
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "test child: sandbox:", err)
		return 99
	}
	defer sb.Close()
	f := sandboxFactory(sb, newIOStreams(os.Stdin, os.Stdout, os.Stderr, os.Getenv))
	if command := os.Getenv(childExecEnv); command != "" {
		f.NewEngine = func(context.Context, *WorkflowOptions) (*workflow.Engine, error) {
			c, err := sb.Config()
			if err != nil {
				return nil, err
			}
			c.Publisher = &workflow.Exec{Command: command, Timeout: time.Minute}
			return workflow.New(c)
		}
	}
	return runSignals(f, args)
}
