package textout

import (
	"regexp"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/stspilot/stspilot/internal/printable"
)

// wrap breaks text into lines of at most width cells, at spaces only:
// host names with hyphens, URLs and addresses are never split, and a space
// inside double quotes does not break either, so a quoted TXT record stays on
// one line where it can be copied. A word wider than width gets a line of its
// own rather than being cut. Runs of spaces are kept where the line does not
// break (aligned columns survive). Newlines in text start new lines.
// Escape sequences count as zero width, so styled words may be wrapped.
func wrap(text string, width int) []string { return wrapText(text, width, 0, -1, false) }

// Wrap is wrap for screens: the continuation lines of a paragraph are
// indented indent cells more than the paragraph's own indentation (at most
// half the width), so that they read as part of the line above. URLs, host
// names, addresses and timestamps ("2030-01-17 00:00 UTC" breaks only at
// its spaces) are never split at a hyphen or a slash.
func Wrap(text string, width, indent int) []string { return wrapText(text, width, indent, -1, true) }

// WrapHanging is Wrap for a labelled line ("why:  text"): its continuation
// lines start at column hang, the width of the label, so that they align
// under the text after the label (a hanging indent), at most half the
// width in; a word that would not fit there starts further left.
func WrapHanging(text string, width, hang int) []string {
	return wrapText(text, width, 0, max(hang, 0), true)
}

// wrapText is wrap, with continuation lines indented (indent cells more
// than the paragraph, or at column hang when hang >= 0), and timestamps
// glued when glue is set.
func wrapText(text string, width, indent, hang int, glue bool) []string {
	if width < 1 {
		width = 1
	}
	text = strings.ToValidUTF8(text, "\uFFFD")
	glued := false
	if glue {
		// A timestamp with a time of day stays on one line: its spaces
		// are glued (no-break spaces) while wrapping.
		g := stampSpaces.ReplaceAllStringFunc(text, func(s string) string { return strings.ReplaceAll(s, " ", "\u00a0") })
		glued = g != text
		text = g
	}
	var out []string
	defer func() {
		if glued {
			for i := range out {
				out[i] = strings.ReplaceAll(out[i], "\u00a0", " ")
			}
		}
	}()
	for _, para := range strings.Split(text, "\n") {
		var line strings.Builder
		cont := ""
		switch {
		case hang >= 0:
			cont = strings.Repeat(" ", min(hang, width/2))
		case indent > 0:
			s := ansi.Strip(para)
			lead := len(s) - len(strings.TrimLeft(s, " \t"))
			cont = strings.Repeat(" ", max(min(lead+indent, width/2), 0))
		}
		for i, t := range tokens(para) {
			// Measure the candidate line whole: widths of graphemes do not
			// always add up across a join.
			if i == 0 || ansi.StringWidth(line.String()+t.gap+t.word) <= width {
				line.WriteString(t.gap) // on the first word: the text's own indentation
				line.WriteString(t.word)
				continue
			}
			out = append(out, line.String())
			line.Reset()
			c := cont
			if over := ansi.StringWidth(cont+t.word) - width; hang >= 0 && over > 0 {
				// A word that fits the width but not after the label
				// (a URL, a host name) is moved left rather than cut.
				c = cont[:max(len(cont)-over, 0)]
			}
			line.WriteString(c)
			line.WriteString(t.word)
		}
		out = append(out, line.String())
	}
	return out
}

// stampSpaces matches a date with its time of day ("2030-01-17 00:00
// UTC"), whose spaces Wrap does not break at.
var stampSpaces = regexp.MustCompile(`\d{4}-\d{2}-\d{2} \d{2}:\d{2}(:\d{2})?( UTC)?`)

// token is a word and the spaces before it.
type token struct{ gap, word string }

// tokens splits s at runs of spaces outside double quotes; tabs count as
// spaces. When a quote is left open at the end,
// the text after it is split at its spaces after all, so one stray quote
// cannot make a paragraph unbreakable.
func tokens(s string) []token {
	var out []token
	var gap, cur strings.Builder
	inQuote, quoteTok := false, -1
	flush := func() {
		if cur.Len() > 0 {
			out = append(out, token{gap: gap.String(), word: cur.String()})
			gap.Reset()
			cur.Reset()
		}
	}
	for i := 0; i < len(s); i++ { // bytes: invalid UTF-8 passes through untouched
		switch c := s[i]; {
		case (c == ' ' || c == '\t') && !inQuote:
			flush()
			gap.WriteByte(' ')
		default:
			if c == '"' {
				inQuote = !inQuote
				if inQuote {
					quoteTok = len(out)
				}
			}
			cur.WriteByte(c)
		}
	}
	flush()
	if inQuote && quoteTok >= 0 && quoteTok < len(out) {
		last := out[quoteTok]
		out = out[:quoteTok]
		for i, f := range strings.Fields(last.word) {
			g := " "
			if i == 0 {
				g = last.gap
			}
			out = append(out, token{gap: g, word: f})
		}
	}
	return out
}

// widthOf is the display width of s in cells.
func widthOf(s string) int { return ansi.StringWidth(s) }

// clean makes text from the network or from reports safe to print, the
// one way every renderer here does: invalid UTF-8 becomes U+FFFD, a tab or
// a no-break space (the renderer's own glue) a space, and the runes that
// could restyle, rewrite or reorder the terminal (isControl) are shown as
// \xNN or \uNNNN escapes.
func clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\u00a0", " ")
	s = strings.ReplaceAll(s, "\t", " ")
	return printable.Escape(s, isControl)
}

// cleanLine is clean for text that must stay on one line (a reporter's
// name, a key of a count): a newline is escaped too.
func cleanLine(s string) string { return strings.ReplaceAll(clean(s), "\n", `\x0a`) }

// isControl reports the runes clean escapes: C0 controls but newline
// (ESC above all), DEL, C1 controls, the line and paragraph separators,
// and the bidirectional embeddings, overrides and isolates, which would
// show a hostile string reordered (U+202A-U+202E, U+2066-U+2069).
func isControl(r rune) bool {
	return r != '\n' && (printable.IsControl(r) || r >= 0x80 && r <= 0x9f ||
		r == 0x2028 || r == 0x2029 || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069)
}
