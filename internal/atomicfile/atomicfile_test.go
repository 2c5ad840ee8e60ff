//go:build unix

package atomicfile

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func names(t *testing.T, dir string) string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var n []string
	for _, e := range ents {
		n = append(n, e.Name())
	}
	return strings.Join(n, " ")
}

// The mode is the caller's, exactly: not widened or narrowed by the umask,
// and an existing file's mode does not survive the replacement.
func TestWriteModeAndContent(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	dir := t.TempDir()
	p := filepath.Join(dir, "policy.txt")
	for _, perm := range []fs.FileMode{0o644, 0o600} {
		data := []byte("version: STSv1 " + perm.String())
		if err := Write(p, data, perm); err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(p)
		if !bytes.Equal(got, data) {
			t.Fatalf("content %q, want %q", got, data)
		}
		fi, _ := os.Stat(p)
		if fi.Mode().Perm() != perm {
			t.Fatalf("mode %v, want %v", fi.Mode().Perm(), perm)
		}
	}
	if n := names(t, dir); n != "policy.txt" {
		t.Fatalf("directory holds %s", n)
	}
}

// A symbolic link at the path is replaced by the file; its target is
// never written.
func TestWriteDoesNotWriteThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	os.WriteFile(target, []byte("keep"), 0o600)
	link := filepath.Join(dir, "link")
	if err := os.Symlink(target, link); err != nil {
		t.Skip(err)
	}
	if err := Write(link, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(target); string(b) != "keep" {
		t.Fatalf("the link's target was written: %q", b)
	}
	fi, err := os.Lstat(link)
	if err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("the link was not replaced by a regular file: %v, %v", fi, err)
	}
}

// A Write that fails at any stage before the rename leaves the old file
// byte-identical and no temporary file behind, and says which file.
func TestInterruptedWriteKeepsOldFile(t *testing.T) {
	for _, stage := range []Stage{StageWrite, StageSync, StageRename} {
		t.Run(string(stage), func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "j.json")
			if err := Write(p, []byte("old"), 0o600); err != nil {
				t.Fatal(err)
			}
			boom := errors.New("power cut")
			err := WriteHook(p, []byte("new"), 0o600, func(s Stage) error {
				if s == stage {
					return boom
				}
				return nil
			})
			if !errors.Is(err, boom) || !strings.Contains(err.Error(), p) {
				t.Fatalf("WriteHook: %v, want the hook's error naming %s", err, p)
			}
			if b, _ := os.ReadFile(p); string(b) != "old" {
				t.Fatalf("the file changed: %q", b)
			}
			if n := names(t, dir); n != "j.json" {
				t.Fatalf("temporary file left: %s", n)
			}
		})
	}
}

func TestWriteMissingDirectory(t *testing.T) {
	p := filepath.Join(t.TempDir(), "nope", "f")
	err := Write(p, []byte("x"), 0o600)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), p) {
		t.Fatalf("Write into a missing directory: %v", err)
	}
}

func TestTempPatternMatchesLeftovers(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "example.com.json")
	f, err := os.CreateTemp(dir, TempPattern(p))
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	m, _ := filepath.Glob(filepath.Join(dir, TempPattern(p)))
	if len(m) != 1 || m[0] != f.Name() {
		t.Fatalf("glob %v, want %s", m, f.Name())
	}
}

func TestSyncDir(t *testing.T) {
	if err := SyncDir(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	if err := SyncDir(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("SyncDir of a missing directory succeeded")
	}
}
