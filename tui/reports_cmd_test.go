package tui

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The dashboard's reports view names a file it could not read, and why,
// in a line no wider than the screen; it tells the user to run no command.
func TestReportsViewNamesUnreadableFiles(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "broken.json")
	if err := os.WriteFile(bad, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	line := func(width int) string {
		msg := reportsCmd(ctx, []string{bad}, "example.test", time.Now(), width)()
		rm, ok := msg.(reportsMsg)
		if !ok {
			t.Fatalf("reportsCmd gave %T", msg)
		}
		for _, l := range rm.lines {
			if strings.Contains(l, "could not be read") {
				return l
			}
		}
		t.Fatalf("no line says a file could not be read: %q", rm.lines)
		return ""
	}
	wide := line(1000)
	if !strings.Contains(wide, "1 report files") || !strings.Contains(wide, bad+":") {
		t.Errorf("line %q does not count and name the unreadable file", wide)
	}
	if strings.Contains(wide, "stspilot ") || strings.Contains(wide, "--") {
		t.Errorf("line %q tells the user to run a command", wide)
	}
	if narrow := line(40); len([]rune(narrow)) > 41 {
		t.Errorf("line %q is wider than a 40-column screen", narrow)
	}
}
