//go:build crashtest

package workflow

import (
	"os"
	"syscall"
)

// crashPoint kills the process with SIGKILL, as kill -9 would, when
// $STSPILOT_CRASH names this point (e.g. "policy-written", "txt-written",
// "journal:set-sts:done"). Only in binaries built with -tags crashtest.
func crashPoint(name string) {
	if os.Getenv("STSPILOT_CRASH") == name {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
}
