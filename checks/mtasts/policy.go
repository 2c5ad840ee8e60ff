package mtasts

import (
	"bytes"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/stspilot/stspilot/internal/satcount"
	"github.com/stspilot/stspilot/internal/txtrecord"
)

// Mode is the value of a policy's mode field (STS-POL-8).
type Mode string

// The three modes of RFC 8461 §5.
const (
	ModeEnforce Mode = "enforce"
	ModeTesting Mode = "testing"
	ModeNone    Mode = "none"
)

// Valid reports whether m is one of the three modes, in their exact case.
func (m Mode) Valid() bool { return m == ModeEnforce || m == ModeTesting || m == ModeNone }

// Limits of a policy.
const (
	// MaxBodySize is the body size senders are allowed to cap at, 64 KiB
	// (STS-POL-19, STS-FETCH-10).
	MaxBodySize = 64 << 10
	// MaxMaxAge is the largest max_age the RFC allows, 365.25 days (STS-POL-9).
	MaxMaxAge = 31557600
)

// Policy is an MTA-STS policy body.
type Policy struct {
	Version    string   // "STSv1"
	Mode       Mode     // ModeEnforce, ModeTesting or ModeNone
	MaxAge     int64    // seconds
	MX         []string // patterns in order, as written
	Extensions []Field  // unknown keys, in order (first occurrence of each)
}

// maxProblems bounds the list ParsePolicy returns, so that a large body of
// garbage gives a readable answer.
const maxProblems = 100

// ParsePolicy is the strict RFC 8461 §3.2 parser. It never stops at the
// first problem: it reports every problem with its line (up to 100, then a
// count), and still fills Policy with what it could read. For keys other than
// mx the first occurrence wins (STS-POL-14) and mx lines add up. Where the
// intent of a broken line is plain (a key in the wrong case, leading
// whitespace, "Mode: Enforce", "max_age: 1d", a comma-separated mx list), the
// Policy holds the intended value, so that Render can propose the corrected
// text; a correctly written line always takes precedence over such a reading.
//
// A body that is not text (NUL bytes, mostly control bytes or invalid
// UTF-8, gzip, UTF-16) or is an HTML page yields one clear error and an empty Policy.
func ParsePolicy(body []byte) (Policy, []txtrecord.Problem) {
	var pol Policy
	var ps problems
	if len(body) > MaxBodySize {
		ps.err("STS-POL-19", 0, "the body is %d bytes, over the 64 KiB (65536 bytes) that senders read; they ignore the policy", len(body))
	}
	if msg := notText(body); msg != "" {
		ps.err("STS-POL-18", 0, "%s", msg)
		return pol, ps
	}
	if msg := looksLikeHTML(body); msg != "" {
		ps.err("STS-POL-1", 0, "%s", msg)
		return pol, ps
	}
	if rest, ok := bytes.CutPrefix(body, []byte("\xef\xbb\xbf")); ok {
		ps.err("STS-POL-18", 1, "the body starts with a UTF-8 byte order mark (EF BB BF), which spoils the first key; save the file without a BOM")
		body = rest
	}
	lines := splitLines(body)
	if len(lines) == 0 {
		ps.err("STS-POL-1", 0, "the policy body is empty")
	}
	checkTerminators(lines, &ps)

	p := &policyReader{
		ps: &ps, first: map[string]occurrence{}, clean: map[string]occurrence{},
		seen: map[string]int{}, maxAge: map[int]int64{}, extSeen: map[string]bool{},
	}
	for i, l := range lines {
		p.line(i+1, l, i == len(lines)-1)
	}
	p.finish(&pol)

	out := []txtrecord.Problem(ps)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Line < out[j].Line })
	if len(out) > maxProblems {
		sev := txtrecord.SevWarn
		for _, x := range out[maxProblems-1:] {
			if x.Severity == txtrecord.SevError {
				sev = txtrecord.SevError
			}
		}
		more := len(out) - (maxProblems - 1)
		out = append(out[:maxProblems-1:maxProblems-1], txtrecord.Problem{
			Rule: "STS-POL-1", Severity: sev,
			Message: fmt.Sprintf("%d more problems on later lines are not listed", more),
		})
	}
	return pol, out
}

// notText returns a message when body is binary rather than text: it starts
// like gzip or UTF-16, holds a NUL byte, or more than a tenth of it is control
// bytes or invalid UTF-8.
func notText(body []byte) string {
	if bytes.HasPrefix(body, []byte{0x1f, 0x8b}) {
		return "the body is gzip-compressed binary data (it starts with 1f 8b), not a text policy; serve the plain file, uncompressed"
	}
	if bytes.HasPrefix(body, []byte{0xff, 0xfe}) || bytes.HasPrefix(body, []byte{0xfe, 0xff}) {
		return "the body is UTF-16 text (it starts with a UTF-16 byte order mark); save the policy as plain ASCII (or UTF-8 without a BOM)"
	}
	bad, first, nul := 0, -1, false
	for i := 0; i < len(body); {
		r, size := utf8.DecodeRune(body[i:])
		if r == utf8.RuneError && size == 1 || isControl(r) {
			bad++
			if first < 0 {
				first = i
			}
			nul = nul || r == 0
		}
		i += size
	}
	if nul || bad > 0 && bad*10 > len(body) {
		what := "control bytes or bytes that are not UTF-8"
		if nul {
			what = "NUL bytes, as binary files and UTF-16 text do"
		}
		return fmt.Sprintf("the body is not a text policy: it contains %s (first at byte %d); serve the policy as plain ASCII text", what, first)
	}
	return ""
}

// looksLikeHTML returns a message when the body is a web page (a 200 error
// page, a CDN challenge).
func looksLikeHTML(body []byte) string {
	t := bytes.TrimLeft(body, " \t\r\n\xef\xbb\xbf")
	if len(t) == 0 || t[0] != '<' {
		return ""
	}
	first, _, _ := bytes.Cut(t, []byte("\n"))
	return fmt.Sprintf("the body is an HTML or XML page (it starts with %s), not a policy of key: value lines; the server answered with a page instead of the policy file", q(string(first)))
}

// isControl reports control characters that may not appear in a policy:
// C0 controls other than tab, DEL, C1 controls, and the Unicode line and
// paragraph separators.
func isControl(r rune) bool {
	return r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0x7f || r >= 0x80 && r <= 0x9f ||
		r == '\u2028' || r == '\u2029'
}

// pline is one line of a policy body without its terminator.
type pline struct {
	text string
	term string // "\n", "\r\n", "\r" (a lone CR), or "" for a last line without one
}

// splitLines splits on LF, CRLF and lone CR. A terminator at the very end
// does not start another line.
func splitLines(body []byte) []pline {
	var out []pline
	s := string(body)
	for s != "" {
		i := strings.IndexAny(s, "\r\n")
		if i < 0 {
			out = append(out, pline{text: s})
			break
		}
		term := s[i : i+1]
		if s[i] == '\r' && i+1 < len(s) && s[i+1] == '\n' {
			term = "\r\n"
		}
		out = append(out, pline{text: s[:i], term: term})
		s = s[i+len(term):]
	}
	return out
}

// checkTerminators reports lone CRs (error) and a mix of LF and CRLF (warn)
// (STS-POL-2).
func checkTerminators(lines []pline, ps *problems) {
	lone, firstLone := 0, 0
	firstTerm, firstTermLine := "", 0
	mixed := 0
	for i, l := range lines {
		switch l.term {
		case "\r":
			lone++
			if firstLone == 0 {
				firstLone = i + 1
			}
		case "\n", "\r\n":
			if firstTerm == "" {
				firstTerm, firstTermLine = l.term, i+1
			} else if l.term != firstTerm && mixed == 0 {
				mixed = i + 1
			}
		}
	}
	if lone > 0 {
		more := ""
		if lone > 1 {
			more = fmt.Sprintf(" (%d lines do)", lone)
		}
		ps.err("STS-POL-2", firstLone, "the line ends with a lone CR (carriage return without line feed)%s; strict senders see one long line: end lines with LF or CRLF", more)
	}
	if mixed > 0 {
		name := map[string]string{"\n": "LF", "\r\n": "CRLF"}
		other := "\n"
		if firstTerm == "\n" {
			other = "\r\n"
		}
		ps.warn("STS-POL-2", mixed, "the line ends with %s while line %d ends with %s; use one line ending throughout", name[other], firstTermLine, name[firstTerm])
	}
}

// occurrence is one reading of a known key.
type occurrence struct {
	line  int
	value string
}

// policyReader holds the state of one ParsePolicy run.
type policyReader struct {
	ps *problems
	// first and clean hold the first occurrence of each non-mx key, and the
	// first correctly written one; clean wins when both exist.
	first, clean map[string]occurrence
	seen         map[string]int // line of the first occurrence of each key, for STS-POL-14
	maxAge       map[int]int64  // line -> value read from that line
	mx           []string
	ext          []Field
	extSeen      map[string]bool
}

var knownKeys = map[string]bool{"version": true, "mode": true, "max_age": true, "mx": true}

func (p *policyReader) line(n int, l pline, last bool) {
	ps := p.ps
	text := l.text
	if text == "" {
		if last && l.term != "" && n > 1 {
			ps.err("STS-POL-3", n, "the body ends with a blank line (two line breaks in a row); mox, go-mtasts and tlspol reject the whole policy: end the file after the last line's line break")
		} else {
			ps.err("STS-POL-3", n, "empty line; blank lines are not allowed anywhere, and mox, go-mtasts and tlspol reject the whole policy")
		}
		return
	}
	if strings.Trim(text, " \t") == "" {
		ps.err("STS-POL-3", n, "the line holds only whitespace (%s); blank lines are not allowed anywhere", q(text))
		return
	}
	checkChars(n, text, ps)

	clean := true
	if text[0] == ' ' || text[0] == '\t' {
		ps.err("STS-POL-4", n, "leading whitespace in %s; keys start in column 1", q(text))
		text = strings.TrimLeft(text, " \t")
		clean = false
	}
	if text[0] == '#' {
		ps.err("STS-POL-1", n, "comment line %s; policies have no comments and strict senders reject the whole policy", q(text))
		return
	}
	key, value, found := strings.Cut(text, ":")
	if !found {
		ps.err("STS-POL-1", n, "%s is not a \"key: value\" line (no ':')", q(text))
		return
	}
	if k := strings.TrimRight(key, " \t"); k != key {
		ps.err("STS-POL-4", n, "whitespace before ':' in %s; write %s (pmsr reads %s as an unknown key)", q(text), q(k+":"+value), q(key))
		key, clean = k, false
	}
	if key == "" {
		ps.err("STS-POL-1", n, "the line %s has no key before ':'", q(text))
		return
	}
	value = strings.Trim(value, " \t")
	if !isASCII(key) {
		ps.err("STS-POL-18", n, "the key %s contains non-ASCII characters; keys are ASCII", q(key))
		return
	}
	canon := key
	if !knownKeys[key] && knownKeys[strings.ToLower(key)] {
		canon = strings.ToLower(key)
		ps.err("STS-POL-5", n, "the key %s is case-sensitive and must be written %s; strict senders read it as an unknown key", q(key), q(canon))
		clean = false
	}
	if !knownKeys[canon] {
		p.extension(n, key, value)
		return
	}

	if canon != "mx" {
		if first, ok := p.seen[canon]; ok {
			ps.warn("STS-POL-14", n, "%s repeats the key %q of line %d: the RFC, mox and tlspol keep the first, go-mtasts, pmsr and mailauth the last; keep one", q(text), canon, first)
		} else {
			p.seen[canon] = n
		}
	}
	if i := strings.Index(value, "#"); i > 0 && (value[i-1] == ' ' || value[i-1] == '\t') {
		ps.err("STS-POL-1", n, "the comment %s at the end of the line is not allowed: strict senders read it as part of the value", q(value[i:]))
		value = strings.TrimRight(value[:i], " \t")
	}
	if canon != "mx" && !isASCII(value) {
		ps.err("STS-POL-18", n, "the value %s of %s contains non-ASCII characters; only extension values may", q(value), canon)
	}
	switch canon {
	case "version":
		value = p.version(n, value)
	case "mode":
		value = p.modeValue(n, value)
	case "max_age":
		p.maxAge[n] = p.maxAgeValue(n, value)
	case "mx":
		p.mxValue(n, value)
		return
	}
	occ := occurrence{line: n, value: value}
	if _, ok := p.first[canon]; !ok {
		p.first[canon] = occ
	}
	if _, ok := p.clean[canon]; !ok && clean {
		p.clean[canon] = occ
	}
}

// checkChars reports invalid UTF-8 and control characters in a line.
func checkChars(n int, text string, ps *problems) {
	if !utf8.ValidString(text) {
		ps.err("STS-POL-18", n, "the line %s contains bytes that are not valid UTF-8", q(text))
		return
	}
	for _, r := range text {
		if !isControl(r) {
			continue
		}
		switch r {
		case '\v', '\f', 0x1c, 0x1d, 0x1e, 0x85, '\u2028', '\u2029':
			ps.err("STS-POL-2", n, "the line %s contains %U, which Python-based senders (pmsr) treat as a line break and others do not; remove it", q(text), r)
		default:
			ps.err("STS-POL-18", n, "the line %s contains the control character %U; remove it", q(text), r)
		}
		return
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func (p *policyReader) version(n int, v string) string {
	switch {
	case v == "STSv1":
	case strings.EqualFold(v, "STSv1"):
		p.ps.err("STS-POL-7", n, "version %s must be written exactly \"STSv1\" (case-sensitive)", q(v))
		return "STSv1"
	case isASCII(v):
		p.ps.err("STS-POL-7", n, "version %s must be exactly \"STSv1\"", q(v))
	}
	if n != 1 && p.seen["version"] == n {
		p.ps.warn("STS-POL-7", n, "the version line is line %d; Google's help requires it on the first line: put \"version: STSv1\" first", n)
	}
	return v
}

func (p *policyReader) modeValue(n int, v string) string {
	switch m := Mode(strings.ToLower(v)); {
	case Mode(v).Valid():
	case m.Valid():
		p.ps.err("STS-POL-8", n, "mode %s is case-sensitive: write %s; strict senders reject the policy", q(v), q(string(m)))
		return string(m)
	case isASCII(v):
		p.ps.err("STS-POL-8", n, "mode %s is not one of \"enforce\", \"testing\" or \"none\"", q(v))
	}
	return v
}

// maxAgeUnits are the suffixes people write after max_age values.
var maxAgeUnits = map[string]int64{"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}

// maxAgeValue checks a max_age value (STS-POL-9) and returns the number of
// seconds it most plausibly means (0 when it means nothing).
func (p *policyReader) maxAgeValue(n int, v string) int64 {
	ps := p.ps
	digits := strings.TrimLeft(v, "0123456789")
	num := v[:len(v)-len(digits)]
	switch {
	case v == "":
		ps.err("STS-POL-9", n, "max_age has no value; write a number of seconds, such as 86400")
		return 0
	case num == "" && (v[0] == '+' || v[0] == '-') && len(v) > 1 && strings.Trim(v[1:], "0123456789") == "":
		ps.err("STS-POL-9", n, "max_age %s has a sign; write the digits only (go-mtasts accepts it, strict senders reject the policy)", q(v))
		if v[0] == '+' {
			return parseSeconds(v[1:])
		}
		return 0
	case num == "":
		if isASCII(v) {
			ps.err("STS-POL-9", n, "max_age %s is not a number of seconds", q(v))
		}
		return 0
	case digits == "":
		// all digits
	case maxAgeUnits[strings.ToLower(digits)] > 0:
		secs := satcount.Mul(parseSeconds(num), maxAgeUnits[strings.ToLower(digits)])
		ps.err("STS-POL-9", n, "max_age %s has a unit; it is a plain number of seconds: write \"max_age: %d\"", q(v), secs)
		return secs
	case digits[0] == '.' && strings.Trim(digits[1:], "0123456789") == "":
		ps.err("STS-POL-9", n, "max_age %s is not a whole number of seconds; write digits only", q(v))
		return parseSeconds(num)
	default:
		if isASCII(v) {
			ps.err("STS-POL-9", n, "max_age %s is not a number of seconds", q(v))
		}
		return 0
	}
	secs := parseSeconds(v)
	switch {
	case len(v) > 10:
		ps.err("STS-POL-9", n, "max_age %s has more than 10 digits", q(v))
	case secs > MaxMaxAge:
		ps.err("STS-POL-9", n, "max_age %d is above %d (365.25 days), the RFC's maximum; pmsr, mailauth and chasquid reject the policy, tlspol caps it", secs, MaxMaxAge)
	case secs == 0:
		ps.warn("STS-POL-9", n, "max_age 0 lets senders cache the policy for no time at all, so it protects nothing (chasquid rejects it)")
	}
	return secs
}

// parseSeconds parses a string of digits, saturating at MaxInt64.
func parseSeconds(s string) int64 {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return math.MaxInt64
	}
	return v
}

func (p *policyReader) mxValue(n int, v string) {
	ps := p.ps
	if v == "" {
		ps.err("STS-POL-10", n, "mx has no value; write one pattern, such as \"mx: mail.example.com\"")
		return
	}
	pats := []string{v}
	if strings.ContainsAny(v, ", \t") {
		pats = strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
		ps.err("STS-POL-11", n, "mx %s lists several patterns on one line; write one \"mx:\" line per pattern", q(v))
	}
	for _, pat := range pats {
		if err := ValidatePattern(pat); err != nil {
			pe := err.(*PatternError)
			ps.err(pe.Rule, n, "%s", pe.Message)
		}
		p.mx = append(p.mx, pat)
	}
}

func (p *policyReader) extension(n int, key, value string) {
	ps := p.ps
	switch {
	case !validExtName(key):
		ps.warn("STS-POL-13", n, "the key %s is neither a policy key nor a well-formed extension key (a letter or digit, then up to 31 letters, digits, '_', '-' or '.'); mox and tlspol reject the policy", q(key))
	case value == "":
		ps.warn("STS-POL-13", n, "the extension %s has an empty value; mox and tlspol reject the policy", q(key))
	case strings.ContainsRune(value, '\t'):
		ps.warn("STS-POL-13", n, "the value of the extension %s contains a tab; mox and tlspol reject the policy", q(key))
	case strings.ContainsRune(value, ':'):
		ps.warn("STS-POL-4", n, "the value of the extension %s contains ':' (%s); go-mtasts needs exactly one ':' per line and rejects the policy", q(key), q(value))
	}
	if p.extSeen[key] {
		ps.warn("STS-POL-14", n, "the key %s repeats; the first occurrence counts for the RFC, mox and tlspol, the last for go-mtasts, pmsr and mailauth", q(key))
		return
	}
	p.extSeen[key] = true
	p.ext = append(p.ext, Field{Name: key, Value: value})
}

// pick returns the reading of a non-mx key: the first correctly written
// line, else the first line at all.
func (p *policyReader) pick(key string) (occurrence, bool) {
	if o, ok := p.clean[key]; ok {
		return o, true
	}
	o, ok := p.first[key]
	return o, ok
}

func (p *policyReader) finish(pol *Policy) {
	ps := p.ps
	if o, ok := p.pick("version"); ok {
		pol.Version = o.value
	} else {
		ps.err("STS-POL-7", 0, "the policy has no version line; the first line must be \"version: STSv1\"")
	}
	if o, ok := p.pick("mode"); ok {
		pol.Mode = Mode(o.value)
	} else {
		ps.err("STS-POL-8", 0, "the policy has no mode line; add \"mode: testing\" (or enforce, or none)")
	}
	if o, ok := p.pick("max_age"); ok {
		pol.MaxAge = p.maxAge[o.line]
	} else {
		ps.err("STS-POL-9", 0, "the policy has no max_age line; add one, such as \"max_age: 86400\"")
	}
	pol.MX = p.mx
	pol.Extensions = p.ext
	if len(pol.MX) == 0 && pol.Mode != ModeNone {
		m := "enforce or testing"
		if pol.Mode.Valid() {
			m = string(pol.Mode)
		}
		ps.err("STS-POL-6", 0, "the policy has no mx line; mode %s needs at least one \"mx:\" pattern covering every MX host", m)
	}
}
