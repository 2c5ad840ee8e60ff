//go:build linux

package workflow

import "syscall"

// parentDeathSignal: the kernel sends SIGKILL to the command when the
// thread that started it exits, which for Go is when this process does
// (SIGKILL, a second signal, a crash). It reaches the shell; with the
// shell gone, a script cannot run its next line.
func parentDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
