//go:build unix

package envfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	os.WriteFile(file, []byte("A=1\n"), 0o600)
	link := filepath.Join(dir, "link")
	os.Symlink(file, link)
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big")
	os.WriteFile(big, make([]byte, 101), 0o600)

	tests := []struct {
		name string
		path string
		o    ReadOptions
		want error // nil: reads "A=1\n"
	}{
		{"file", file, ReadOptions{Max: 100}, nil},
		{"exactly the cap", file, ReadOptions{Max: 4}, nil},
		{"symlink followed", link, ReadOptions{Max: 100}, nil},
		{"symlink refused", link, ReadOptions{Max: 100, NoSymlink: true}, ErrSymlink},
		{"fifo", fifo, ReadOptions{Max: 100, Devices: true}, ErrNotRegular},
		{"directory", dir, ReadOptions{Max: 100}, ErrNotRegular},
		{"device refused", os.DevNull, ReadOptions{Max: 100}, ErrNotRegular},
		{"too large", big, ReadOptions{Max: 100}, ErrTooLarge},
		{"missing", filepath.Join(dir, "missing"), ReadOptions{Max: 100}, fs.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done := make(chan struct{})
			var data []byte
			var err error
			go func() { data, err = ReadFile(tt.path, tt.o); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("ReadFile blocked")
			}
			if tt.want == nil {
				if err != nil || string(data) != "A=1\n" {
					t.Fatalf("ReadFile = %q, %v", data, err)
				}
				return
			}
			if !errors.Is(err, tt.want) || data != nil {
				t.Fatalf("ReadFile = %q, %v; want %v", data, err, tt.want)
			}
		})
	}
	if data, err := ReadFile(os.DevNull, ReadOptions{Max: 100, Devices: true}); err != nil || len(data) != 0 {
		t.Errorf("/dev/null with Devices: %q, %v", data, err)
	}
}

// Check sees the opened file before a byte is read, and its error is
// returned as it is.
func TestReadFileCheck(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, []byte("A=1\n"), 0o644)
	bad := errors.New("mode 0644")
	var seen fs.FileMode
	data, err := ReadFile(file, ReadOptions{Max: 100, Check: func(fi fs.FileInfo) error {
		seen = fi.Mode().Perm()
		return bad
	}})
	if err != bad || data != nil || seen != 0o644 {
		t.Fatalf("ReadFile = %q, %v (Check saw %v)", data, err, seen)
	}
}
