package senders

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stspilot/stspilot/internal/txtrecord"
)

// moxFetch: 60 s, 64 KiB, Content-Type never looked at, 200 only (404 is
// kept apart for reporting but is still a failure) (STS-FETCH-5/9/10).
var moxFetch = fetchProfile{timeout: time.Minute, timeoutText: "60 s", bodyCap: maxBody, checkType: false, status: only200}

// emulateMox models mox (mjl-/mox mtasts/), a strict ABNF parser.
//
// Modelled from docs/rules.md: a record is an MTA-STS record once "v=STSv1"
// plus a delimiter (spaces or tabs allowed before ";") has been read, and the
// rest must follow the grammar, id charset included (STS-TXT-4, -9, -14); a
// repeated TXT id keeps the first (STS-TXT-12); the policy is parsed by a
// recursive-descent parser that accepts only LF or CRLF (STS-POL-2), rejects
// blank lines and malformed extension lines (STS-POL-3, -13), keeps the first
// of a repeated key (STS-POL-14), reads max_age into 32 bits with no upper
// bound (STS-POL-9), and rejects mx patterns with a trailing dot or non-ASCII
// (STS-POL-10). Assumed: every occurrence of a repeated key is parsed and
// must be valid, even the ones it ignores.
func emulateMox(in Input) Verdict {
	b := newBuilder(ImplMox)
	if !wspRecord(b, in.TXT) {
		return b.v
	}
	if !moxFetch.check(in, b) {
		if in.Fetched && in.Status == 404 && !in.Redirect && b.v.Outcome == FetchError {
			b.v.Reason += " (mox records this as \"no policy served\")"
		}
		return b.v
	}
	moxPolicy(b, string(in.Body))
	return b.v
}

// moxParser walks a policy body the way mox's parser does.
type moxParser struct {
	s string
	o int
}

func (p *moxParser) empty() bool { return p.o >= len(p.s) }

func (p *moxParser) take(s string) bool {
	if strings.HasPrefix(p.s[p.o:], s) {
		p.o += len(s)
		return true
	}
	return false
}

func (p *moxParser) wsp() {
	for !p.empty() && (p.s[p.o] == ' ' || p.s[p.o] == '\t') {
		p.o++
	}
}

func (p *moxParser) eol() bool { return p.take("\r\n") || p.take("\n") }

// key reads a policy key: a letter or digit, then up to 31 key characters.
func (p *moxParser) key() (string, bool) {
	start := p.o
	for !p.empty() && isKeyChar(p.s[p.o]) {
		p.o++
	}
	k := p.s[start:p.o]
	return k, k != "" && txtrecord.IsAlnum(k[0]) && len(k) <= 32
}

// until reads up to the next space, tab, CR or LF.
func (p *moxParser) until() string {
	start := p.o
	for !p.empty() && !strings.ContainsRune(" \t\r\n", rune(p.s[p.o])) {
		p.o++
	}
	return p.s[start:p.o]
}

// value reads an extension value: visible ASCII or UTF-8, with inner spaces
// or tabs but not trailing ones.
func (p *moxParser) value() string {
	start, end := p.o, p.o
	for !p.empty() {
		c := p.s[p.o]
		if c == ' ' || c == '\t' {
			p.o++
			continue
		}
		r, n := utf8.DecodeRuneInString(p.s[p.o:])
		if r < 0x21 || r == 0x7f || r == utf8.RuneError && n == 1 {
			break
		}
		p.o += n
		end = p.o
	}
	p.o = end
	return p.s[start:end]
}

func moxPolicy(b *builder, body string) bool {
	p := &moxParser{s: body}
	var (
		mode   string
		maxAge int64
		mx     []string
	)
	seen := map[string]bool{}
	for line := 1; ; line++ {
		k, ok := p.key()
		if !ok {
			return b.fail(Invalid, fmt.Sprintf("line %d: expected a key", line), "STS-POL-1", "STS-POL-3", "STS-POL-4")
		}
		dup := seen[k]
		seen[k] = true
		if !p.take(":") {
			return b.fail(Invalid, fmt.Sprintf("line %d: expected ':' right after %q", line, clip(k)), "STS-POL-4")
		}
		p.wsp()
		switch k {
		case "version":
			if !p.take("STSv1") {
				return b.fail(Invalid, fmt.Sprintf("line %d: version is not STSv1", line), "STS-POL-7")
			}
		case "mode":
			m := p.until()
			if m != "enforce" && m != "testing" && m != "none" {
				return b.fail(Invalid, fmt.Sprintf("line %d: mode %q is not enforce, testing or none", line, clip(m)), "STS-POL-5", "STS-POL-8")
			}
			if !dup {
				mode = m
			}
		case "max_age":
			v := p.until()
			if !reMaxAge.MatchString(v) {
				return b.fail(Invalid, fmt.Sprintf("line %d: max_age %q is not 1-10 digits", line, clip(v)), "STS-POL-9")
			}
			n, err := strconv.ParseInt(v, 10, 32)
			if err != nil {
				return b.fail(Invalid, fmt.Sprintf("line %d: max_age %s does not fit in 32 bits", line, v), "STS-POL-9")
			}
			if !dup {
				maxAge = n
			}
		case "mx":
			v := p.until()
			if !reMX.MatchString(v) {
				return b.fail(Invalid, fmt.Sprintf("line %d: mx %q is not a valid pattern", line, clip(v)), "STS-POL-10", "STS-POL-16")
			}
			mx = append(mx, v)
		default:
			if p.value() == "" {
				return b.fail(Invalid, fmt.Sprintf("line %d: %q has no valid value", line, clip(k)), "STS-POL-13")
			}
		}
		p.wsp()
		if !p.eol() {
			if !p.empty() {
				if p.s[p.o] == '\r' {
					return b.fail(Invalid, fmt.Sprintf("line %d ends in a lone CR", line), "STS-POL-2")
				}
				return b.fail(Invalid, fmt.Sprintf("line %d: unexpected characters after the value", line), "STS-POL-13")
			}
			break
		}
		if p.empty() {
			break
		}
	}
	switch {
	case !seen["version"]:
		return b.fail(Invalid, "policy has no version field", "STS-POL-6")
	case !seen["mode"]:
		return b.fail(Invalid, "policy has no mode field", "STS-POL-6", "STS-POL-8")
	case !seen["max_age"]:
		return b.fail(Invalid, "policy has no max_age field", "STS-POL-6")
	case len(mx) == 0 && mode != "none":
		return b.fail(Invalid, "policy has no mx field and mode is not none", "STS-POL-6")
	}
	return b.acceptUnbounded(mode, maxAge, mx)
}
