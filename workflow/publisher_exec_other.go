//go:build !unix

package workflow

import "os/exec"

// killWithRun: no process groups here; a cancelled context kills the
// shell only (exec.CommandContext's default).
func killWithRun(*exec.Cmd) {}

// killGroup: no process groups here, nothing left to kill.
func killGroup(*exec.Cmd) {}
