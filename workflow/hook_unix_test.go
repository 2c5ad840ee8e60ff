//go:build unix

package workflow

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A hook that leaves a process running in its group when its shell exits
// (a pager started with &, its output sent elsewhere) does not leave it
// behind: the group is killed once the hook is done. Before, each such
// alert left one more process for as long as it liked, never killed, not
// even when watch stopped.
func TestRunHookKillsWhatItLeftRunning(t *testing.T) {
	pidfile := filepath.Join(t.TempDir(), "pid")
	cmd := "sleep 300 </dev/null >/dev/null 2>&1 & echo $! > " + pidfile
	if err := RunHook(context.Background(), cmd, nil, nil, nil, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(pidfile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	deadline := time.Now().Add(5 * time.Second)
	for running(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("the hook's background process %d still runs after the hook returned", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// running says whether pid is a process that has not exited (a zombie
// waiting for whoever adopted it has).
func running(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		_, noProc := os.Stat("/proc/self")
		return noProc != nil || !os.IsNotExist(err)
	}
	_, after, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(after, "Z")
}
