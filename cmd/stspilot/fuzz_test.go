package main

import (
	"strings"
	"testing"
)

// FuzzParseResolver: no panic; an accepted value is host:port with a port
// from 1 to 65535, and parsing it again gives it back unchanged.
func FuzzParseResolver(f *testing.F) {
	for _, s := range []string{"127.0.0.1", "127.0.0.1:53", "[::1]", "[::1]:5353", "::1", "ns.example:53", "[fe80::1%eth0]:53", "1.2.3.4:0", "[::1", "a:b:c", ":", "", "[]:53", "x.example.:053"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := parseResolver(s)
		if err != nil {
			return
		}
		i := strings.LastIndex(r, ":")
		if i <= 0 || i == len(r)-1 {
			t.Fatalf("%q -> %q: not host:port", s, r)
		}
		again, err := parseResolver(r)
		if err != nil || again != r {
			t.Fatalf("%q -> %q -> %q, %v", s, r, again, err)
		}
	})
}

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
