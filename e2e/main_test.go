package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Set by TestMain.
var (
	world      Env    // nil when the package skips
	skipReason string // why every test skips, when world is nil
	repoRoot   string // the module root (where go.mod is)
	binDir     string // where the stspilot binary is built, lazily
)

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	root, err := filepath.Abs("..")
	if err == nil {
		_, err = os.Stat(filepath.Join(root, "go.mod"))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: cannot find the module root:", err)
		return 1
	}
	repoRoot = root

	path := os.Getenv("STSPILOT_WORLD_ENV")
	if path == "" {
		if inCI() {
			fmt.Fprintln(os.Stderr, "e2e: FAIL: CI is set but STSPILOT_WORLD_ENV is not: the real-server tests did not run. Run them with `bash e2e/test` (as root).")
			return 1
		}
		skipReason = "STSPILOT_WORLD_ENV is not set: skipping the real-server tests (run `bash e2e/test` as root to start the world and run them)"
		fmt.Fprintln(os.Stderr, "e2e:", skipReason)
		return m.Run()
	}
	env, err := LoadEnv(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: STSPILOT_WORLD_ENV:", err)
		return 1
	}
	world = env

	dir, err := os.MkdirTemp("", "stspilot-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	binDir = dir
	return m.Run()
}

// inCI reports whether CI is set the way CI systems set it ("true", "1", ...).
func inCI() bool {
	switch os.Getenv("CI") {
	case "", "0", "false", "FALSE", "False", "no":
		return false
	}
	return true
}
