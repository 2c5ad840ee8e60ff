package workflow

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
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
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command)
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.Env = append(scrub(os.Environ(), scrubEnv), env...)
	var stderr tailBuffer
	cmd.Stdout = io.Discard
	cmd.Stderr = &stderr
	killWithRun(cmd)
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("hook: stopped after %s: %w", timeout, ctx.Err())
		}
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = "(no output on stderr)"
		}
		return fmt.Errorf("hook failed (%v): %s", err, msg)
	}
	return nil
}
