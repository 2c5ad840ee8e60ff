//go:build unix && !linux

package workflow

import "syscall"

// parentDeathSignal: no parent-death signal here; a command outlives a
// stspilot that was killed outright (a cancelled run still kills it).
func parentDeathSignal(*syscall.SysProcAttr) {}
