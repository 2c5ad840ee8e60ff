// Package golden compares what a test produced with a committed file (a
// golden file, or a generated document such as docs/providers.md) and, in
// a build with the stspilot_update tag, rewrites the file first.
//
// The tag is how `go generate` refreshes the files: a package whose tests
// check golden files carries a line such as
//
//	//go:generate go test -tags stspilot_update -run ^TestHumanGolden$ .
//
// so the test that checks a file is also the one that writes it, and what
// is written is byte for byte what the test compares. Without the tag the
// test fails when the file is stale. (The tag is not plain "generate":
// dependencies such as rivo/uniseg keep generator mains under that tag.)
package golden

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Check fails tb unless the file at path (relative to the test's package
// directory) holds got. With Update set it writes got there first.
func Check(tb testing.TB, path string, got []byte) {
	tb.Helper()
	got = bytes.ReplaceAll(got, []byte("\r\n"), []byte("\n"))
	if Update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("%v (a new golden file is written by go generate)", err)
	}
	want = bytes.ReplaceAll(want, []byte("\r\n"), []byte("\n"))
	if !bytes.Equal(got, want) {
		tb.Errorf("%s is out of date; if the change is deliberate, run `go generate` in this package (or make generate) and review the diff:\n%s",
			path, Diff(string(want), string(got)))
	}
}

// Diff shows where want and got differ: the lines between their common
// head and common tail, "-" from the file and "+" from this run, each
// with its line number, at most 20 of each.
func Diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	head := 0
	for head < len(w) && head < len(g) && w[head] == g[head] {
		head++
	}
	tail := 0
	for tail < len(w)-head && tail < len(g)-head && w[len(w)-1-tail] == g[len(g)-1-tail] {
		tail++
	}
	var b strings.Builder
	side := func(mark byte, lines []string) {
		for i, l := range lines {
			if i == 20 {
				fmt.Fprintf(&b, "%c ... %d more\n", mark, len(lines)-i)
				break
			}
			fmt.Fprintf(&b, "%c%4d %s\n", mark, head+i+1, l)
		}
	}
	side('-', w[head:len(w)-tail])
	side('+', g[head:len(g)-tail])
	return b.String()
}
