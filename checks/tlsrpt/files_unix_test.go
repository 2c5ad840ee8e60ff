//go:build unix

package tlsrpt

import (
	"path/filepath"
	"testing"
	"time"
)

// A FIFO at a report's path is refused, never opened in a way that
// blocks.
func TestReadFileFIFO(t *testing.T) {
	path := filepath.Join(t.TempDir(), "report.json")
	if err := mkfifo(path); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := ReadFile(path, Options{})
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || err.Error() != "not a regular file" {
			t.Errorf("ReadFile of a FIFO: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ReadFile blocked on a FIFO")
	}
}
