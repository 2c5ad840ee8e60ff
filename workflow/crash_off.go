//go:build !crashtest

package workflow

// crashPoint is a no-op in normal builds. Built with -tags crashtest (the
// end-to-end kill tests), it kills the process with SIGKILL at the point
// named by $STSPILOT_CRASH, to prove that a rerun converges (invariant 6).
func crashPoint(string) {}
