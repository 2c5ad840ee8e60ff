package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// WriteNew creates, never replaces: a second write to the name fails with
// fs.ErrExist and leaves the first bytes; no temporary file is left.
func TestWriteNewNeverReplaces(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "r.json")
	if err := WriteNew(p, []byte("first, longer"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteNew(p, []byte("second"), 0o600); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second write: %v, want fs.ErrExist", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "first, longer" {
		t.Errorf("content %q", b)
	}
	// Concurrent writers of one name: exactly one wins, whole.
	q := filepath.Join(dir, "q.json")
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := WriteNew(q, []byte(strings.Repeat(string(rune('a'+i)), 4096)), 0o600); err == nil {
				mu.Lock()
				won++
				mu.Unlock()
			} else if !errors.Is(err, fs.ErrExist) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	b, _ := os.ReadFile(q)
	if won != 1 || len(b) != 4096 || strings.Count(string(b), string(b[:1])) != 4096 {
		t.Errorf("%d writers won, content %d bytes", won, len(b))
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Errorf("files left: %v", ents)
	}
}
