//go:build unix

package envfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// openBounded runs Open under a generous bound: a FIFO must be refused,
// never blocked on.
func openBounded(t *testing.T, path string, o OpenOptions) (*os.File, error) {
	t.Helper()
	type result struct {
		f   *os.File
		err error
	}
	done := make(chan result, 1)
	go func() {
		f, _, err := Open(path, o)
		done <- result{f, err}
	}()
	select {
	case r := <-done:
		if r.f != nil {
			t.Cleanup(func() { r.f.Close() })
		}
		return r.f, r.err
	case <-time.After(10 * time.Second):
		t.Fatal("Open blocked")
		return nil, nil
	}
}

// A FIFO at the path is refused without blocking; a regular file is
// returned open, with its information.
func TestOpen(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if f, err := openBounded(t, fifo, OpenOptions{Devices: true}); !errors.Is(err, ErrNotRegular) || f != nil {
		t.Errorf("FIFO: %v, %v", f, err)
	}
	file := filepath.Join(dir, "f")
	os.WriteFile(file, []byte("A=1\n"), 0o600)
	f, fi, err := Open(file, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if data, _ := io.ReadAll(f); string(data) != "A=1\n" || fi.Size() != 4 || !fi.Mode().IsRegular() {
		t.Errorf("Open = %q, %v", data, fi.Mode())
	}
}

// A file swapped under the path between the look and the open is refused:
// a FIFO without blocking on it, another regular file because it is not
// the one looked at.
func TestOpenSwapped(t *testing.T) {
	for _, c := range []struct {
		name string
		swap func(file, other string) error
	}{
		{"fifo", func(file, _ string) error { os.Remove(file); return syscall.Mkfifo(file, 0o600) }},
		{"regular", func(file, other string) error { return os.Rename(other, file) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			// Fresh files for each case: a FIFO left at the path by
			// another case would block the write below.
			dir := t.TempDir()
			file, other := filepath.Join(dir, "f"), filepath.Join(dir, "other")
			if err := os.WriteFile(file, []byte("A=1\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(other, []byte("B=2\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			var swapErr error
			testHookBeforeOpen = func(string) { swapErr = c.swap(file, other) }
			defer func() { testHookBeforeOpen = nil }()
			f, err := openBounded(t, file, OpenOptions{})
			if swapErr != nil {
				t.Fatal(swapErr)
			}
			if !errors.Is(err, ErrNotRegular) || f != nil {
				t.Errorf("swapped for a %s: %v, %v", c.name, f, err)
			}
		})
	}
}
