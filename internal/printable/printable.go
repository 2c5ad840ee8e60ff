// Package printable makes untrusted text safe to quote in a message.
package printable

import (
	"fmt"
	"strings"
)

// Clip shortens s to at most n bytes of printable text for messages: a
// control character becomes a \xNN escape, and "…" marks a cut.
func Clip(s string, n int) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= n {
			b.WriteString("…")
			break
		}
		if r < 0x20 || r == 0x7f {
			fmt.Fprintf(&b, "\\x%02x", r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
