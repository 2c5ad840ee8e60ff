package printable

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestClip(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"example.org", 80, "example.org"},
		{"a\x00b\x7fc", 80, `a\x00b\x7fc`},
		{"abcdef", 3, "abc…"},
		{"", 3, ""},
		{"abc", 3, "abc"},          // exactly n: no mark
		{"a\x1bbc", 2, `a\x1b…`},   // an escape may run past n
		{"a\xffb", 80, "a\uFFFDb"}, // not UTF-8: U+FFFD
		{"\u0085x", 80, "\u0085x"}, // C1 is not Clip's to escape
		{"abc", 0, "…"},            // nothing fits
		{"ééé", 3, "éé…"},          // whole runes, then the mark
		{"line\nnext\ttab", 80, `line\x0anext\x09tab`},
	} {
		if got := Clip(c.in, c.n); got != c.want {
			t.Errorf("Clip(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}

func TestCutAndShorten(t *testing.T) {
	for _, c := range []struct {
		in      string
		n       int
		cut     int
		shorten string // mark "..."
	}{
		{"", 5, 0, ""},
		{"abc", 3, 3, "abc"},
		{"abcdef", 3, 3, "abc..."},
		{"aaaé", 4, 3, "aaa..."}, // é is two bytes: never split
		{"aaaéb", 5, 5, "aaaé..."},
		{"a€b", 2, 1, "a..."},
		{"a€b", 3, 1, "a..."},
		{"😀x", 2, 0, "..."}, // nothing whole fits
		{"abc", 0, 0, "..."},
		{"abc", -1, 0, "..."},
		// Bytes that are not UTF-8: no rune start after the first byte,
		// so Shorten cuts at n bytes and the message shows what was there.
		{"a" + strings.Repeat("\x80", 10), 5, 0, "a\x80\x80\x80\x80..."},
		{"\xff\xfeab", 2, 2, "\xff\xfe..."},
	} {
		if got := Cut(c.in, c.n); got != c.cut {
			t.Errorf("Cut(%q, %d) = %d, want %d", c.in, c.n, got, c.cut)
		}
		if got := Shorten(c.in, c.n, "..."); got != c.shorten {
			t.Errorf("Shorten(%q, %d) = %q, want %q", c.in, c.n, got, c.shorten)
		}
	}
	if got := Shorten("abcdef", 3, "…"); got != "abc…" {
		t.Errorf("mark …: %q", got)
	}
}

func TestRunePrefix(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
		cut  bool
	}{
		{"", 3, "", false},
		{"abc", 3, "abc", false},
		{"ééé", 3, "ééé", false}, // six bytes, three runes
		{"éééé", 3, "ééé", true},
		{"abcd", 0, "", true},
		{"a\xffbc", 2, "a\xff", true}, // a stray byte is one rune, kept as is
	} {
		got, cut := RunePrefix(c.in, c.n)
		if got != c.want || cut != c.cut {
			t.Errorf("RunePrefix(%q, %d) = %q, %t; want %q, %t", c.in, c.n, got, cut, c.want, c.cut)
		}
	}
}

func TestEscape(t *testing.T) {
	c1 := func(r rune) bool { return IsControl(r) || r >= 0x80 && r <= 0x9f }
	for _, c := range []struct {
		in   string
		ctl  func(rune) bool
		want string
	}{
		{"plain text", IsControl, "plain text"},
		{"red \x1b[31m", IsControl, `red \x1b[31m`},
		{"a\x7f\u0085", IsControl, "a\\x7f\u0085"},
		{"a\x7f\u0085", c1, `a\x7f\x85`},
		{"bad \xff\xfe", IsControl, "bad \uFFFD\uFFFD"}, // each stray byte
	} {
		if got := Escape(c.in, c.ctl); got != c.want {
			t.Errorf("Escape(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestReplaceUnprintable(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"mx.example.com ESMTP", "mx.example.com ESMTP"},
		{"red \x1b[31mtext", "red ?[31mtext"},
		{"tab\there\r", "tab?here?"},
		{"bad \xff\xfe utf8", "bad ? utf8"}, // one mark for a run
		{"héllo \uFFFD", "héllo ?"},
		{"bidi \u202e", "bidi ?"},
	} {
		if got := ReplaceUnprintable(c.in, '?'); got != c.want {
			t.Errorf("ReplaceUnprintable(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// FuzzPrintable checks the promises of every primitive for any input:
// bounds on length, prefixes of s, valid UTF-8 out where UTF-8 went in
// (or always, for the sanitizers), and no control character left where
// one is promised gone.
func FuzzPrintable(f *testing.F) {
	for _, s := range []string{"", "example.org", "aaaé", "😀x", "a\x00b\x7f", "\xff\xfe", "a\x80\x80\x80\x80", "red \x1b[31m\u0085\u202e", "éééé"} {
		for _, n := range []int{-1, 0, 1, 2, 3, 4, 5, 40} {
			f.Add(s, n)
		}
	}
	f.Fuzz(func(t *testing.T, s string, n int) {
		n %= 300
		valid := utf8.ValidString(s)

		i := Cut(s, n)
		switch {
		case i < 0 || i > len(s) || i > max(n, 0):
			t.Fatalf("Cut(%q, %d) = %d: out of range", s, n, i)
		case len(s) <= n && i != len(s):
			t.Fatalf("Cut(%q, %d) = %d: s fits", s, n, i)
		case i < len(s) && i > 0 && !utf8.RuneStart(s[i]):
			t.Fatalf("Cut(%q, %d) = %d: not a rune start", s, n, i)
		case valid && !utf8.ValidString(s[:i]):
			t.Fatalf("Cut(%q, %d) = %d: splits a rune", s, n, i)
		case valid && len(s) > n && n >= utf8.UTFMax && i <= n-utf8.UTFMax:
			t.Fatalf("Cut(%q, %d) = %d: backs up over a whole rune", s, n, i)
		}

		if got := Shorten(s, n, "..."); len(s) <= n {
			if got != s {
				t.Fatalf("Shorten(%q, %d) = %q: s fits", s, n, got)
			}
		} else {
			p, ok := strings.CutSuffix(got, "...")
			if !ok || !strings.HasPrefix(s, p) || len(p) > max(n, 0) {
				t.Fatalf("Shorten(%q, %d) = %q: not a prefix of at most n bytes and the mark", s, n, got)
			}
			if valid && !utf8.ValidString(got) {
				t.Fatalf("Shorten(%q, %d) = %q: not UTF-8", s, n, got)
			}
		}

		p, cut := RunePrefix(s, n)
		if !strings.HasPrefix(s, p) || cut != (p != s) || cut != (utf8.RuneCountInString(s) > max(n, 0)) ||
			utf8.RuneCountInString(p) != min(max(n, 0), utf8.RuneCountInString(s)) {
			t.Fatalf("RunePrefix(%q, %d) = %q, %t", s, n, p, cut)
		}

		for name, got := range map[string]string{
			"Escape": Escape(s, IsControl),
			"Clip":   Clip(s, n),
		} {
			if !utf8.ValidString(got) || strings.ContainsFunc(got, IsControl) {
				t.Fatalf("%s(%q) = %q: not UTF-8, or a control character left", name, s, got)
			}
		}
		// Clip: the last rune or escape before the mark may pass n by 3.
		if got := Clip(s, n); len(got) > max(n, 0)+3+len("…") {
			t.Fatalf("Clip(%q, %d) = %q: %d bytes", s, n, got, len(got))
		}

		got := ReplaceUnprintable(s, '?')
		if !utf8.ValidString(got) || strings.ContainsFunc(got, func(r rune) bool { return !unicode.IsPrint(r) || r == utf8.RuneError }) {
			t.Fatalf("ReplaceUnprintable(%q) = %q: not UTF-8, or unprintable left", s, got)
		}
	})
}
