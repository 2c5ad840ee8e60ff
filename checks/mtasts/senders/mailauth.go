package senders

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// mailauthFetch: 15 s, no body cap, Content-Type never looked at, any 2xx
// accepted (STS-FETCH-5/9/10).
var mailauthFetch = fetchProfile{timeout: 15 * time.Second, timeoutText: "15 s", checkType: false, status: any2xx}

// reMailauthRecord selects records as mailauth does: "v=STSv1" as a whole
// word, in any case (STS-TXT-4).
var reMailauthRecord = regexp.MustCompile(`(?i)^v=stsv1\b`)

// emulateMailauth models postalsys/mailauth (Node).
//
// Modelled from docs/rules.md: "v=STSv1" is matched case-insensitively as a
// whole word (STS-TXT-4); two or more such records are an error,
// multi_sts_records, which still ends in no policy (STS-TXT-5); any
// non-empty id is accepted (STS-TXT-9); the body is split on an optional CR
// followed by LF (STS-POL-2); keys are trimmed and lower-cased, and so are
// mode values (STS-POL-4, -5); blank lines and malformed lines are ignored
// (STS-POL-3, -13); repeated keys keep the last value (STS-POL-14); a missing
// mode defaults to none (STS-POL-8); max_age above 31557600 is rejected
// (STS-POL-9); testing is only a flag for the caller.
// Assumed: the body is decoded as UTF-8, which drops a leading BOM, and
// trimmed with JavaScript's String.trim; lines without ":" are skipped; id is
// looked up case-insensitively and the last one kept; the version must be
// present and exactly STSv1, max_age present and 1-10 digits, and mx
// patterns valid, as in the RFC.
func emulateMailauth(in Input) Verdict {
	b := newBuilder(ImplMailauth)
	var sel []string
	for _, t := range in.TXT {
		if reMailauthRecord.MatchString(t) {
			sel = append(sel, t)
		}
	}
	switch {
	case len(sel) == 0:
		b.fail(NoPolicy, `no TXT record at _mta-sts starts with the word "v=STSv1"`, "STS-TXT-4", "STS-TXT-5")
		return b.v
	case len(sel) > 1:
		b.fail(NoPolicy, fmt.Sprintf("%d TXT records at _mta-sts start with v=STSv1: mailauth reports the error multi_sts_records", len(sel)), "STS-TXT-5")
		return b.v
	}
	rec := sel[0]
	var id string
	for f := range strings.SplitSeq(rec, ";") {
		if k, v, _ := strings.Cut(strings.TrimFunc(f, jsIsSpace), "="); strings.EqualFold(jsTrim(k), "id") {
			id = jsTrim(v)
		}
	}
	if id == "" {
		b.fail(NoPolicy, "TXT record has no id", "STS-TXT-9")
		return b.v
	}
	if !strings.HasPrefix(rec, "v=STSv1;") {
		b.note(fmt.Sprintf("takes TXT record %q, which does not start with exactly \"v=STSv1;\"", clip(rec)), "STS-TXT-4", "STS-TXT-8")
	}
	noteLaxID(b, id)
	if !mailauthFetch.check(in, b) {
		return b.v
	}
	mailauthPolicy(b, string(in.Body))
	return b.v
}

// jsIsSpace is what JavaScript's String.prototype.trim removes: white space
// and line terminators, U+FEFF included.
func jsIsSpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', ' ', 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000, 0xfeff:
		return true
	}
	return r >= 0x2000 && r <= 0x200a
}

func jsTrim(s string) string { return strings.TrimFunc(s, jsIsSpace) }

// jsSplitCRLF is JavaScript's s.split(/\r?\n/): a CR is part of the break
// only right before an LF (STS-POL-2).
func jsSplitCRLF(s string) []string {
	lines := strings.Split(s, "\n")
	for i := range len(lines) - 1 {
		lines[i] = strings.TrimSuffix(lines[i], "\r")
	}
	return lines
}

func mailauthPolicy(b *builder, body string) bool {
	body = strings.ToValidUTF8(body, "\uFFFD")
	if t, ok := strings.CutPrefix(body, "\uFEFF"); ok {
		b.note("drops the UTF-8 BOM in front of the body", "STS-POL-18")
		body = t
	}
	var (
		version, mode, maxAge string
		mx                    []string
	)
	seen, first := map[string]string{}, map[string]string{}
	var keyNoted bool
	lines := jsSplitCRLF(body)
	for i, line := range lines {
		raw, value, ok := strings.Cut(line, ":")
		if !ok {
			if line == "" {
				if i < len(lines)-1 { // the last "" only follows a final line break
					b.note("ignores blank lines", "STS-POL-3")
				}
			} else {
				b.note("ignores lines without ':'", "STS-POL-1")
			}
			continue
		}
		key := strings.ToLower(jsTrim(raw))
		value = jsTrim(value)
		if isPolicyKey(key) || key == "mx" {
			if key != raw && !keyNoted {
				b.note(fmt.Sprintf("trims and lower-cases keys (reads %q as %q)", clip(raw), key), "STS-POL-4", "STS-POL-5")
				keyNoted = true
			}
			if _, ok := seen[key]; !ok {
				first[key] = value
			}
			seen[key] = value
		}
		switch key {
		case "version":
			version = value
		case "mode":
			mode = value
		case "max_age":
			maxAge = value
		case "mx":
			if !reMX.MatchString(value) {
				return b.fail(Invalid, fmt.Sprintf("mx %q is not a valid pattern", clip(value)), "STS-POL-10", "STS-POL-16")
			}
			mx = append(mx, value)
		}
	}
	noteLastWins(b, first, seen)
	if m := strings.ToLower(mode); m != mode {
		b.note(fmt.Sprintf("reads mode %q as %q", clip(mode), m), "STS-POL-5")
		mode = m
	}
	if _, ok := seen["mode"]; !ok {
		b.note("defaults the missing mode to none", "STS-POL-8")
		mode = "none"
	}
	switch {
	case version != "STSv1":
		if _, ok := seen["version"]; !ok {
			return b.fail(Invalid, "policy has no version field", "STS-POL-6")
		}
		return b.fail(Invalid, fmt.Sprintf("version %q is not STSv1", clip(version)), "STS-POL-7")
	case mode != "enforce" && mode != "testing" && mode != "none":
		return b.fail(Invalid, fmt.Sprintf("mode %q is not enforce, testing or none", clip(mode)), "STS-POL-8")
	case !reMaxAge.MatchString(maxAge):
		if _, ok := seen["max_age"]; !ok {
			return b.fail(Invalid, "policy has no max_age field", "STS-POL-6")
		}
		return b.fail(Invalid, fmt.Sprintf("max_age %q is not 1-10 digits", clip(maxAge)), "STS-POL-9")
	}
	n, ok := mxAndMaxAge(b, mode, maxAge, mx)
	if !ok {
		return false
	}
	b.accept(mode, n, mx)
	return true
}
