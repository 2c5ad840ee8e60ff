// Package txtgrammar holds the pieces of grammar that the MTA-STS TXT record
// (RFC 8461 §3.1) and the TLS-RPT TXT record (RFC 8460 §3) share, and the
// quoting of offending text in messages, so that both parsers agree.
package txtgrammar

import (
	"strconv"
	"unicode/utf8"
)

// MaxQuoted is how many characters of offending text a message shows.
const MaxQuoted = 60

// Quote quotes offending text for a message: Go-quoted (so control bytes,
// invalid UTF-8 and odd spaces are escaped), cut to about MaxQuoted characters.
func Quote(s string) string {
	if utf8.RuneCountInString(s) <= MaxQuoted {
		return strconv.Quote(s)
	}
	n := 0
	for i := range s {
		if n == MaxQuoted {
			return strconv.Quote(s[:i]) + "…"
		}
		n++
	}
	return strconv.Quote(s)
}

// IsAlnum reports whether c is an ASCII letter or digit.
func IsAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// ValidExtName: a letter or digit, then up to 31 letters, digits, '_', '-'
// or '.' (STS-TXT-11, STS-POL-13, RPT-REC-6).
func ValidExtName(s string) bool {
	if len(s) < 1 || len(s) > 32 || !IsAlnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !IsAlnum(c) && c != '_' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// ValidExtValue: one or more of %x21-3A / %x3C / %x3E-7E, that is printable
// ASCII other than space, ';' and '=' (STS-TXT-11, RPT-REC-6).
func ValidExtValue(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == ';' || c == '=' {
			return false
		}
	}
	return true
}
