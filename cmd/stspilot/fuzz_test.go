package main

import (
	"strings"
	"testing"
)

// FuzzReadDomains: no panic; every emitted line is trimmed, non-empty,
// free of '#' and newlines, and at most maxLineLen bytes.
func FuzzReadDomains(f *testing.F) {
	for _, s := range []string{"a.example\n# c\n\nb.example # x\r\n", "\ufeffa.example", "#\n#\n", strings.Repeat("x", maxLineLen+10) + "\nb.example", "a\x00b\nc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := 0
		err := readDomains(strings.NewReader(s), "f", func(input, where string) bool {
			n++
			if input == "" || input != strings.TrimSpace(input) || strings.ContainsAny(input, "#\n") || len(input) > maxLineLen {
				t.Fatalf("bad line %q at %s", input, where)
			}
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		if n > strings.Count(s, "\n")+1 {
			t.Fatalf("%d lines from %d newlines", n, strings.Count(s, "\n"))
		}
	})
}
