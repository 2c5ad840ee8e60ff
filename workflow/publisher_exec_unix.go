//go:build unix

package workflow

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
)

// killWithRun makes cmd the leader of a new process group, so that a
// cancelled context kills what the command started too (an upload tool
// under sh), not only the shell, and asks the kernel to kill it should
// this process die first (parentDeathSignal).
func killWithRun(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	parentDeathSignal(cmd.SysProcAttr)
	cmd.Cancel = func() error {
		err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		if errors.Is(err, syscall.ESRCH) {
			return os.ErrProcessDone
		}
		return err
	}
}

// killGroup kills what is left of cmd's process group once cmd.Run has
// returned: the processes the shell started and left running. The group
// outlives its leader while any of them runs, so its id is not reused
// until then; with none left the kill finds no group.
func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
