package workflow

import (
	"context"
	"fmt"
	"os"
	"time"
)

// RunHook runs command under `sh -c` with stdin, the way the exec
// publisher runs its command: the variables in scrubEnv removed from its
// environment (provider secrets) and env added; in a process group of its
// own that a cancelled ctx or the timeout (default 1 minute) kills whole,
// and on Linux the kernel kills should this process die first. It returns
// once the shell is gone; a failure carries the last 4 KiB of its stderr.
// The command itself is never part of an error: it may hold a secret.
func RunHook(ctx context.Context, command string, scrubEnv, env []string, stdin []byte, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = time.Minute
	}
	stderr, stopped, err := runShell(ctx, command, append(scrub(os.Environ(), scrubEnv), env...), stdin, timeout)
	switch {
	case stopped != nil:
		return fmt.Errorf("hook: stopped after %s: %w", timeout, stopped)
	case err != nil:
		return fmt.Errorf("hook failed (%v): %s", err, stderr)
	}
	return nil
}
