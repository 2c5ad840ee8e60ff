//go:build unix

package serve

import (
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// A FIFO at the access log's path is refused, as any file that is not
// regular, instead of blocking status forever on its open.
func TestReadFetchersFIFO(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := ReadFetchers(path, "a.test", "id1", time.Time{})
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || err.Error() != path+" is not a regular file" {
			t.Errorf("ReadFetchers of a FIFO: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ReadFetchers blocked on a FIFO")
	}
}
