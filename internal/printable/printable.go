// Package printable makes untrusted text safe and short to quote in a
// message. It holds the one copy of each way the tree cuts or cleans such
// text; a caller picks its own limit and marks ("..." or "…", '?' or \xNN),
// so that each message keeps the text it has always had.
//
// It is a leaf: it imports only the standard library.
package printable

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Cut returns where to cut s so that at most n bytes remain without
// splitting a UTF-8 sequence: len(s) when s is no longer than n, else the
// last i <= n at which a rune starts. It is 0 when s[1:n+1] holds no rune
// start: n < 1, or bytes that are not UTF-8 (valid UTF-8 has a rune start
// at least every utf8.UTFMax bytes). A caller that must make progress cuts
// at n then.
func Cut(s string, n int) int {
	if len(s) <= n {
		return len(s)
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return max(n, 0)
}

// Shorten returns s if it has at most n bytes, else s cut at Cut(s, n)
// followed by mark: a multi-byte character is never split. Where there is
// no rune start to cut at because the bytes are not UTF-8, it cuts at n
// bytes, so that the message still shows (escaped, by %q) what was there;
// when only the first character does not fit, nothing of s is kept.
func Shorten(s string, n int, mark string) string {
	if len(s) <= n {
		return s
	}
	i := Cut(s, n)
	if _, size := utf8.DecodeRuneInString(s); i == 0 && n > 0 && size <= n {
		i = n
	}
	return s[:i] + mark
}

// RunePrefix returns the first n runes of s, as they are in s, and whether
// s has more. A byte that is not UTF-8 counts as one rune, as in a range
// loop over s.
func RunePrefix(s string, n int) (prefix string, cut bool) {
	n = max(n, 0)
	if len(s) <= n {
		return s, false
	}
	i := 0
	for j := range s {
		if i == n {
			return s[:j], true
		}
		i++
	}
	return s, false
}

// IsControl reports whether r is an ASCII control character: C0 or DEL.
func IsControl(r rune) bool { return r < 0x20 || r == 0x7f }

// Escape returns s with every rune for which control reports true written
// as a \xNN escape (\uNNNN above 0xff) and every byte that is
// not UTF-8 as U+FFFD: the result is valid UTF-8.
func Escape(s string, control func(rune) bool) string {
	if utf8.ValidString(s) && !strings.ContainsFunc(s, control) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		writeEscaped(&b, r, control)
	}
	return b.String()
}

// writeEscaped writes r, as \xNN if control(r) (\uNNNN above 0xff).
func writeEscaped(b *strings.Builder, r rune, control func(rune) bool) {
	switch {
	case !control(r):
		b.WriteRune(r)
	case r <= 0xff:
		fmt.Fprintf(b, "\\x%02x", r)
	default:
		fmt.Fprintf(b, "\\u%04x", r)
	}
}

// ReplaceUnprintable returns s with every run of bytes that is not UTF-8,
// and every rune that is not unicode.IsPrint (terminal escapes among them)
// or is U+FFFD, replaced by repl.
func ReplaceUnprintable(s string, repl rune) string {
	return strings.Map(func(r rune) rune {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			return repl
		}
		return r
	}, strings.ToValidUTF8(s, string(repl)))
}

// Clip shortens s to at most n bytes of printable text for messages: a
// control character becomes a \xNN escape, and "…" marks a cut. The last
// rune or escape before the mark may take it up to 3 bytes past n.
func Clip(s string, n int) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= n {
			b.WriteString("…")
			break
		}
		writeEscaped(&b, r, IsControl)
	}
	return b.String()
}
