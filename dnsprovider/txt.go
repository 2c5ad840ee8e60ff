package dnsprovider

import (
	"strings"

	"github.com/stspilot/stspilot/internal/printable"
)

// MaxStringLen is the longest character-string of a TXT record (RFC 1035 §3.3.14).
const MaxStringLen = 255

// SplitTXT cuts value into character-strings of at most 255 bytes, as the
// wire format needs. It never returns an empty slice: the empty value is
// one empty string. A multi-byte UTF-8 character is not cut in two.
func SplitTXT(value string) []string {
	if value == "" {
		return []string{""}
	}
	var out []string
	for len(value) > MaxStringLen {
		cut := printable.Cut(value, MaxStringLen)
		if cut == 0 { // no UTF-8 to keep whole: cut the bytes
			cut = MaxStringLen
		}
		out = append(out, value[:cut])
		value = value[cut:]
	}
	return append(out, value)
}

// QuoteTXT renders value in zone-file presentation form: each 255-byte
// string in double quotes, with '"' and '\' escaped and bytes outside
// printable ASCII as \DDD.
func QuoteTXT(value string) string {
	parts := SplitTXT(value)
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteByte('"')
		for j := 0; j < len(p); j++ {
			c := p[j]
			switch {
			case c == '"' || c == '\\':
				b.WriteByte('\\')
				b.WriteByte(c)
			case c < 0x20 || c > 0x7e:
				b.WriteByte('\\')
				b.WriteByte('0' + c/100)
				b.WriteByte('0' + c/10%10)
				b.WriteByte('0' + c%10)
			default:
				b.WriteByte(c)
			}
		}
		b.WriteByte('"')
	}
	return b.String()
}

// NormalizeTXT turns a TXT value as a provider returns it into the value
// itself. Providers differ: some return the text as is, some wrap it in
// quotes (Cloudflare), some return several quoted strings ("a" "b"), and
// some return the escaped presentation form (libdns/rfc2136 passes
// miekg/dns's `a \"b\"`). A value made only of quoted strings is unquoted
// and joined; escaped says the unquoted form carries escapes too.
func NormalizeTXT(raw string, escaped bool) string {
	if strs, ok := parseQuoted(raw); ok {
		return strings.Join(strs, "")
	}
	if escaped {
		return unescape(raw)
	}
	return raw
}

// parseQuoted parses `"a" "b"` (white space between strings). ok is false
// when s is anything else.
func parseQuoted(s string) (strs []string, ok bool) {
	s = strings.TrimSpace(s)
	if len(s) < 2 || s[0] != '"' {
		return nil, false
	}
	for len(s) > 0 {
		if s[0] != '"' {
			return nil, false
		}
		text, n, closed := unescapeTo(s[1:], true)
		if !closed {
			return nil, false
		}
		strs = append(strs, text)
		s = strings.TrimLeft(s[1+n:], " \t")
	}
	return strs, true
}

// unescape removes presentation escapes (\X and \DDD) from s.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	text, _, _ := unescapeTo(s, false)
	return text
}

// unescapeTo returns s with its presentation escapes removed, up to the
// first unescaped '"' when toQuote is set: n is the number of bytes read
// (that quote included), closed whether the quote was found.
func unescapeTo(s string, toQuote bool) (text string, n int, closed bool) {
	var b strings.Builder
	i := 0
	for i < len(s) {
		switch c := s[i]; {
		case c == '\\':
			e, w := unescapeAt(s[i:])
			b.WriteString(e)
			i += w
		case c == '"' && toQuote:
			return b.String(), i + 1, true
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), i, false
}

// unescapeAt decodes the escape at the start of s (s[0] == '\\') and
// returns it with the number of bytes consumed. A lone trailing backslash
// stands for itself.
func unescapeAt(s string) (string, int) {
	if len(s) < 2 {
		return `\`, 1
	}
	if len(s) >= 4 && isDigit(s[1]) && isDigit(s[2]) && isDigit(s[3]) {
		n := int(s[1]-'0')*100 + int(s[2]-'0')*10 + int(s[3]-'0')
		if n <= 255 {
			return string([]byte{byte(n)}), 4
		}
	}
	return s[1:2], 2
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
