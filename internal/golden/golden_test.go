package golden

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeTB records failures instead of failing the test.
type fakeTB struct {
	testing.TB
	failed bool
	msg    string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Errorf(format string, a ...any) {
	f.failed = true
	f.msg = format
}

func (f *fakeTB) Fatalf(format string, a ...any) { f.Errorf(format, a...) }
func (f *fakeTB) Fatal(a ...any)                 { f.Errorf("fatal") }

// TestCheck: an equal file passes, a stale or missing one fails (the drift
// test), and CRLF line ends do not count as a difference.
func TestCheck(t *testing.T) {
	if Update {
		t.Skip("built with the stspilot_update tag: Check writes instead of failing")
	}
	path := filepath.Join(t.TempDir(), "x.golden")
	if err := os.WriteFile(path, []byte("a\r\nb\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		path, got string
		ok        bool
	}{
		{path, "a\nb\n", true},
		{path, "a\nc\n", false},
		{path, "a\nb\nc\n", false},
		{path + ".missing", "a\nb\n", false},
	} {
		f := &fakeTB{TB: t}
		Check(f, tt.path, []byte(tt.got))
		if f.failed == tt.ok {
			t.Errorf("Check(%q) failed=%v, want ok=%v", tt.got, f.failed, tt.ok)
		}
	}
}

func TestDiff(t *testing.T) {
	d := Diff("a\nb\nc", "a\nx\nc\nd")
	if d != "-   2 b\n-   3 c\n+   2 x\n+   3 c\n+   4 d\n" {
		t.Errorf("diff:\n%s", d)
	}
	// One inserted line shows as that line alone, not as every line after it.
	if d := Diff("a\nb\nc\nd", "a\nnew\nb\nc\nd"); d != "+   2 new\n" {
		t.Errorf("insert:\n%s", d)
	}
	var w, g []string
	for i := range 30 {
		w = append(w, "w")
		g = append(g, strings.Repeat("g", i+1))
	}
	if d := Diff(strings.Join(w, "\n"), strings.Join(g, "\n")); !strings.HasSuffix(d, "+ ... 10 more\n") || strings.Count(d, "\n") != 42 {
		t.Errorf("a long diff is not cut at 20 lines:\n%s", d)
	}
}
