package senders

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// pmsrFetch: one 4 s default timeout, 64 KiB, text/plain required, 200 only
// (STS-FETCH-5/9/10, OPS-8).
var pmsrFetch = fetchProfile{timeout: 4 * time.Second, timeoutText: "4 s (its default)", bodyCap: maxBody, checkType: true, status: only200}

// emulatePMSR models postfix-mta-sts-resolver (Python).
//
// Modelled from docs/rules.md: TXT records are kept when they start with
// "v=STSv1", even without ";" (STS-TXT-4); fields are split on ";" and "=",
// any non-empty id is accepted and the last kept (STS-TXT-9, -12); the body
// is decoded with the declared charset, ASCII when none is given, so
// non-ASCII bytes without a charset fail (STS-FETCH-9); lines come from
// Python's str.splitlines, which also splits on a lone CR and on Unicode
// line separators (STS-POL-2); each line is split at its first ":", the key
// is not trimmed (so "mode : enforce" is an unknown key, STS-POL-4) and
// blank or malformed lines are ignored (STS-POL-3, -13); repeated keys keep
// the last value (STS-POL-14); max_age above 31557600 is rejected
// (STS-POL-9); testing policies are answered NOTFOUND, since strict_testing
// is off by default (STS-SEND-14).
// Assumed: values are stripped of Python whitespace; the version must be
// exactly STSv1 and max_age 1-10 digits, as in the RFC; mx patterns are
// passed to Postfix unchecked; charsets other than ASCII, UTF-8 and Latin-1
// decode ASCII bodies and fail on non-ASCII ones.
func emulatePMSR(in Input) Verdict {
	b := newBuilder(ImplPMSR)
	rec, ok := selectOne(b, in.TXT, func(t string) bool { return strings.HasPrefix(t, "v=STSv1") }, `"v=STSv1"`)
	if !ok {
		return b.v
	}
	fields := map[string]string{}
	for f := range strings.SplitSeq(rec, ";") {
		if f = strings.TrimFunc(f, pyIsSpace); f != "" {
			k, v, _ := strings.Cut(f, "=")
			fields[k] = v
		}
	}
	if fields["v"] != "STSv1" {
		b.fail(NoPolicy, fmt.Sprintf("TXT record %q has no v=STSv1 field", clip(rec)), "STS-TXT-4", "STS-TXT-8")
		return b.v
	}
	if fields["id"] == "" {
		b.fail(NoPolicy, "TXT record has no id", "STS-TXT-9")
		return b.v
	}
	if !strings.HasPrefix(rec, "v=STSv1;") {
		b.note("keeps a record that does not start with exactly \"v=STSv1;\"", "STS-TXT-4", "STS-TXT-14")
	}
	noteLaxID(b, fields["id"])
	if !pmsrFetch.check(in, b) {
		return b.v
	}
	text, ok := pmsrDecode(b, in.Body, charsetParam(in.ContentType))
	if !ok {
		return b.v
	}
	pmsrPolicy(b, text)
	return b.v
}

// pmsrDecode decodes the body as pmsr does: with the declared charset, or
// ASCII. The result is UTF-8 Go text of the decoded code points.
func pmsrDecode(b *builder, body []byte, charset string) (string, bool) {
	name := strings.NewReplacer("-", "_", " ", "_").Replace(charset)
	switch name {
	case "", "ascii", "us_ascii", "646", "us":
		if i := nonASCII(body); i >= 0 {
			what := "no charset is declared, so it decodes as ASCII"
			if charset != "" {
				what = "charset " + charset + " is ASCII"
			}
			return "", b.fail(Invalid, fmt.Sprintf("byte %d is not ASCII and %s", i, what), "STS-FETCH-9")
		}
		return string(body), true
	case "utf_8", "utf8", "u8", "utf":
		if !utf8.Valid(body) {
			return "", b.fail(Invalid, "the body is not valid UTF-8", "STS-FETCH-9")
		}
		return string(body), true
	case "latin_1", "latin1", "iso_8859_1", "iso8859_1", "8859", "cp819", "l1", "latin":
		r := make([]rune, len(body))
		for i, c := range body {
			r[i] = rune(c)
		}
		return string(r), true
	default:
		if i := nonASCII(body); i >= 0 {
			return "", b.fail(Invalid, fmt.Sprintf("byte %d is not ASCII and charset %q is assumed not to decode it", i, clip(charset)), "STS-FETCH-9")
		}
		return string(body), true
	}
}

func nonASCII(b []byte) int {
	for i, c := range b {
		if c >= 0x80 {
			return i
		}
	}
	return -1
}

// pySplitLines is Python's str.splitlines() without keepends.
func pySplitLines(s string) []string {
	var lines []string
	start := 0
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch r {
		case '\n', '\r', '\v', '\f', 0x1c, 0x1d, 0x1e, 0x85, 0x2028, 0x2029:
			lines = append(lines, s[start:i])
			if r == '\r' && strings.HasPrefix(s[i+1:], "\n") {
				n++
			}
			start = i + n
		}
		i += n
	}
	if start < len(s) {
		lines = append(lines, s[start:])
	}
	return lines
}

// pyIsSpace is Python's str.isspace() for one code point.
func pyIsSpace(r rune) bool {
	return unicode.IsSpace(r) || r >= 0x1c && r <= 0x1f || unicode.Is(unicode.Zs, r)
}

// otherBreak reports whether s holds a line break other than LF or CRLF.
func otherBreak(s string) bool {
	for i, r := range s {
		switch r {
		case '\r':
			if !strings.HasPrefix(s[i+1:], "\n") {
				return true
			}
		case '\v', '\f', 0x1c, 0x1d, 0x1e, 0x85, 0x2028, 0x2029:
			return true
		}
	}
	return false
}

func pmsrPolicy(b *builder, text string) bool {
	if otherBreak(text) {
		b.note("splits lines on a lone CR or a Unicode line separator (Python splitlines)", "STS-POL-2")
	}
	res, first := map[string]string{}, map[string]string{}
	var mx []string
	for _, line := range pySplitLines(text) {
		if line == "" {
			b.note("ignores blank lines", "STS-POL-3")
		}
		key, value, _ := strings.Cut(line, ":")
		value = strings.TrimFunc(value, pyIsSpace)
		if key == "mx" {
			mx = append(mx, value)
			continue
		}
		if _, ok := res[key]; !ok && isPolicyKey(key) {
			first[key] = value
		}
		res[key] = value
	}
	noteLastWins(b, first, res)
	for _, k := range []string{"version", "mode", "max_age"} {
		if _, ok := res[k]; !ok {
			msg := fmt.Sprintf("policy has no %s field", k)
			for got := range res {
				if strings.TrimFunc(got, pyIsSpace) == k {
					msg += fmt.Sprintf(" (it does not trim the key %q)", clip(got))
					return b.fail(Invalid, msg, "STS-POL-4", "STS-POL-6")
				}
			}
			return b.fail(Invalid, msg, "STS-POL-6")
		}
	}
	mode, maxAge := res["mode"], res["max_age"]
	switch {
	case res["version"] != "STSv1":
		return b.fail(Invalid, fmt.Sprintf("version %q is not STSv1", clip(res["version"])), "STS-POL-7")
	case mode != "enforce" && mode != "testing" && mode != "none":
		return b.fail(Invalid, fmt.Sprintf("mode %q is not enforce, testing or none", clip(mode)), "STS-POL-5", "STS-POL-8")
	case !reMaxAge.MatchString(maxAge):
		return b.fail(Invalid, fmt.Sprintf("max_age %q is not 1-10 digits", clip(maxAge)), "STS-POL-9")
	}
	n, ok := mxAndMaxAge(b, mode, maxAge, mx)
	if !ok {
		return false
	}
	if mode == "testing" {
		return b.fail(NoPolicy, "answers NOTFOUND for a testing policy (strict_testing is off by default), so nothing is enforced or reported", "STS-SEND-14", "OPS-10")
	}
	b.accept(mode, n, mx)
	return true
}

// isPolicyKey reports whether k is one of the single-valued policy keys.
func isPolicyKey(k string) bool { return k == "version" || k == "mode" || k == "max_age" }

// mxAndMaxAge ends the field checks of the readers that take max_age as
// 1-10 digits (mailauth, pmsr): mx is needed unless mode is none, and
// max_age may not exceed the RFC's 31557600. It returns max_age.
func mxAndMaxAge(b *builder, mode, maxAge string, mx []string) (int64, bool) {
	if len(mx) == 0 && mode != "none" {
		return 0, b.fail(Invalid, "policy has no mx field and mode is not none", "STS-POL-6")
	}
	n := parseDigits(maxAge)
	if n > rfcMaxAge {
		return 0, b.fail(Invalid, fmt.Sprintf("max_age %d is over 31557600", n), "STS-POL-9")
	}
	return n, true
}

// parseDigits reads a string of 1-10 ASCII digits.
func parseDigits(s string) int64 {
	var n int64
	for i := 0; i < len(s); i++ {
		n = n*10 + int64(s[i]-'0')
	}
	return n
}
