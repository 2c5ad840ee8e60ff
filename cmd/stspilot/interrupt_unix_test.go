//go:build unix

package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// execScript is a slow exec publisher, as in the field report: it writes
// its pid (atomically), sleeps, then writes the policy it was given to
// marker. With background set, a second shell in its process group does
// the same with pid2 and marker2, as an upload tool started by the script
// would.
func execScript(dir string, background bool) string {
	q := func(name string) string { return strconv.Quote(filepath.Join(dir, name)) }
	s := "echo $$ >" + q("pid.tmp") + " && mv " + q("pid.tmp") + " " + q("pid") + "; "
	if background {
		s += "sh -c 'echo $$ >" + q("pid2.tmp") + " && mv " + q("pid2.tmp") + " " + q("pid2") + "; sleep 3; echo late >" + q("marker2") + "' & "
	}
	return s + "sleep 3; cat >" + q("marker")
}

// stspilotChild starts this test binary as the CLI (childMain) running
// rollout on its sandbox with the exec publisher command.
func stspilotChild(t *testing.T, stateDir, command string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "rollout", "demo.test", "--yes", "--rua", "mailto:tlsrpt@demo.test")
	// Away from the user's config and journals, like TestScripts.
	cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+t.TempDir(), "XDG_STATE_HOME="+t.TempDir(),
		childEnv+"="+stateDir, childExecEnv+"="+command)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &bytes.Buffer{}, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd, &stderr
}

// waitPid waits for the script to write the pid file name, and makes sure
// the process group it leads dies with the test.
func waitPid(t *testing.T, dir, name string, child *exec.Cmd) int {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err == nil {
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil || pid <= 1 {
				t.Fatalf("%s: %q", name, b)
			}
			t.Cleanup(func() { syscall.Kill(-pid, syscall.SIGKILL) })
			return pid
		}
		if child.ProcessState != nil || time.Now().After(deadline) {
			t.Fatalf("the exec publisher never wrote %s", name)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// gone says whether pid has exited: no such process, or (Linux) a zombie
// waiting for a parent to reap it, which runs nothing either.
func gone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return errors.Is(err, os.ErrNotExist) && runtime.GOOS == "linux"
	}
	// pid (comm) STATE ...; comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(stat, ')')
	return i >= 0 && len(stat) > i+2 && (stat[i+2] == 'Z' || stat[i+2] == 'X')
}

// waitGone polls until every pid has exited, failing after d.
func waitGone(t *testing.T, d time.Duration, what string, pids ...int) {
	t.Helper()
	deadline := time.Now().Add(d)
	for _, pid := range pids {
		for !gone(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: pid %d is still running", what, pid)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// tryLock takes and at once releases the journal lock of demo.test (the
// flock every run takes); false while another run holds it.
func tryLock(t *testing.T, stateDir string) bool {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(stateDir, "demo.test.lock"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	switch {
	case err == nil:
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		return true
	case errors.Is(err, syscall.EWOULDBLOCK):
		return false
	default:
		t.Fatal(err)
		return false
	}
}

// Issue 14, item 4: SIGHUP (the SSH session closing) during a slow exec
// publisher killed stspilot at once, the publisher's process group ran on
// and, after the journal lock was free and another run had rolled back,
// served the enforce policy. Now SIGHUP is an interrupt like SIGTERM: the
// run exits 130 and, before its lock is free, the publisher's whole
// process group is dead, so nothing it would have written ever appears.
func TestSIGHUPKillsTheExecPublisherBeforeTheLockIsFree(t *testing.T) {
	if testing.Short() {
		t.Skip("runs stspilot as a process on a sandbox world")
	}
	dir, state := t.TempDir(), t.TempDir()
	child, stderr := stspilotChild(t, state, execScript(dir, true))
	sh := waitPid(t, dir, "pid", child)
	sh2 := waitPid(t, dir, "pid2", child)
	if tryLock(t, state) {
		t.Fatal("the journal lock is free while the exec publisher runs")
	}
	if err := child.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	// The first moment the lock is free, the publisher's shells are gone.
	deadline := time.Now().Add(30 * time.Second)
	for !tryLock(t, state) {
		if time.Now().After(deadline) {
			t.Fatal("the journal lock is still held 30 s after SIGHUP")
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, pid := range []int{sh, sh2} {
		if !gone(pid) {
			t.Errorf("the journal lock is free while the exec publisher (pid %d) still runs", pid)
		}
	}
	err := child.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitInterrupted {
		t.Errorf("stspilot after SIGHUP: %v, want exit %d; stderr:\n%s", err, exitInterrupted, stderr)
	}
	if !strings.Contains(stderr.String(), "stspilot: interrupted") {
		t.Errorf("stderr lacks %q:\n%s", "stspilot: interrupted", stderr)
	}
	waitGone(t, 10*time.Second, "after stspilot exited", sh, sh2)
	for _, m := range []string{"marker", "marker2"} {
		if _, err := os.Stat(filepath.Join(dir, m)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the exec publisher wrote %s after the run was interrupted (%v)", m, err)
		}
	}
}

// When stspilot is killed outright (SIGKILL, a second signal), the kernel
// kills the publisher's shell with it (Linux's parent-death signal): the
// script never reaches its next line.
func TestKilledRunTakesTheExecPublisherWithIt(t *testing.T) {
	if testing.Short() {
		t.Skip("runs stspilot as a process on a sandbox world")
	}
	if runtime.GOOS != "linux" {
		t.Skip("the parent-death signal is Linux's")
	}
	dir, state := t.TempDir(), t.TempDir()
	child, _ := stspilotChild(t, state, execScript(dir, false))
	sh := waitPid(t, dir, "pid", child)
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	child.Wait()
	// Without the signal the shell would run on for 3 s and then write
	// marker; with it, it is gone long before.
	waitGone(t, 2*time.Second, "after stspilot was killed", sh)
	if _, err := os.Stat(filepath.Join(dir, "marker")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the exec publisher wrote its marker after stspilot was killed (%v)", err)
	}
}
