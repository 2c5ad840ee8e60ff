package senders

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stspilot/stspilot/internal/printable"
	"github.com/stspilot/stspilot/internal/txtrecord"
)

var (
	// reStrictRecord is the whole-record grammar of STS-TXT-8.
	reStrictRecord = regexp.MustCompile(`^v=STSv1(?:[ \t]*;[ \t]*[A-Za-z0-9][A-Za-z0-9_.-]{0,31}=[\x21-\x3A\x3C\x3E-\x7E]+)+(?:[ \t]*;[ \t]*)?$`)
	// reID is the id value grammar (STS-TXT-9).
	reID = regexp.MustCompile(`^[A-Za-z0-9]{1,32}$`)
	// reMX is the mx pattern grammar (STS-POL-10, STS-POL-16).
	reMX = regexp.MustCompile(`^(?:\*\.)?[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$`)
	// reMaxAge is the max_age grammar (STS-POL-9).
	reMaxAge = regexp.MustCompile(`^[0-9]{1,10}$`)
	// reWSPSemicolon selects records as mox and tlspol do: "v=STSv1", optional
	// spaces or tabs, then ";" (STS-TXT-4).
	reWSPSemicolon = regexp.MustCompile(`^v=STSv1[ \t]*;`)
)

// rfcFetch is the RFC's fetch: 200 only, no redirects, text/plain, and the
// suggested 60 s / 64 KiB limits (STS-FETCH-5/6/9/10).
var rfcFetch = fetchProfile{timeout: time.Minute, timeoutText: "60 s", bodyCap: maxBody, checkType: true, status: only200}

// emulateRFC reads the input as a strict RFC 8461 sender does.
func emulateRFC(in Input) Verdict {
	b := newBuilder(ImplRFC)
	rec, ok := selectOne(b, in.TXT, func(t string) bool { return strings.HasPrefix(t, "v=STSv1;") }, `"v=STSv1;"`)
	if !ok {
		return b.v
	}
	if _, ok := strictRecord(b, rec); !ok {
		return b.v
	}
	if !rfcFetch.check(in, b) {
		return b.v
	}
	strictPolicy(b, in.Body, false)
	return b.v
}

// wspRecord selects the one record that starts with "v=STSv1" and a ';'
// with spaces or tabs allowed before it, notes when there are some (RFC
// selection drops such a record), and checks it against the full grammar
// (strictRecord). Used by the readers that select that way: mox and tlspol.
func wspRecord(b *builder, txt []string) bool {
	rec, ok := selectOne(b, txt, reWSPSemicolon.MatchString, `"v=STSv1" and ";"`)
	if !ok {
		return false
	}
	if !strings.HasPrefix(rec, "v=STSv1;") {
		b.note("takes a record with spaces or tabs before the first ';', which RFC selection drops", "STS-TXT-4", "STS-TXT-14")
	}
	_, ok = strictRecord(b, rec)
	return ok
}

// strictRecord checks one selected record against the full grammar
// (STS-TXT-8, -9, -11) and returns its first id. Used by the strict readers:
// rfc8461, mox and tlspol.
func strictRecord(b *builder, rec string) (string, bool) {
	if !reStrictRecord.MatchString(rec) {
		return "", b.fail(NoPolicy, fmt.Sprintf("TXT record %q does not follow the grammar", clip(rec)), "STS-TXT-6", "STS-TXT-8")
	}
	var id string
	for f := range strings.SplitSeq(strings.TrimPrefix(rec, "v=STSv1"), ";") {
		k, v, _ := strings.Cut(strings.Trim(f, " \t"), "=")
		if k != "id" {
			continue
		}
		if !reID.MatchString(v) {
			return "", b.fail(NoPolicy, fmt.Sprintf("TXT id %q is not 1-32 letters or digits", clip(v)), "STS-TXT-9")
		}
		if id == "" {
			id = v
		}
	}
	if id == "" {
		return "", b.fail(NoPolicy, "TXT record has no id field", "STS-TXT-9")
	}
	return id, true
}

// splitLF splits a body into lines as bufio.ScanLines does: on LF, with one
// trailing CR dropped from each line, and no empty line after a final LF
// (STS-POL-2).
func splitLF(body string) []string {
	if body == "" {
		return nil
	}
	lines := strings.Split(strings.TrimSuffix(body, "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}
	return lines
}

// isKeyChar reports whether c may appear in a policy key after its first
// character (STS-POL-13).
func isKeyChar(c byte) bool { return txtrecord.IsAlnum(c) || c == '_' || c == '-' || c == '.' }

// strictLine splits one line as the policy grammar requires: a key in column
// 1, ":" right after it, optional spaces or tabs, the value, optional spaces
// or tabs (STS-POL-1, -3, -4, -18). The value is checked only as an extension
// value (STS-POL-13); known keys are checked by the caller.
func strictLine(b *builder, n int, line string) (key, value string, ok bool) {
	if line == "" {
		return "", "", b.fail(Invalid, fmt.Sprintf("line %d is empty", n), "STS-POL-3")
	}
	i := 0
	for i < len(line) && isKeyChar(line[i]) {
		i++
	}
	switch {
	case strings.HasPrefix(line, "\uFEFF"):
		return "", "", b.fail(Invalid, "the body starts with a UTF-8 BOM", "STS-POL-18")
	case i == 0 || !txtrecord.IsAlnum(line[0]):
		return "", "", b.fail(Invalid, fmt.Sprintf("line %d does not start with a key: %q", n, clip(line)), "STS-POL-1", "STS-POL-4")
	case i > 32:
		return "", "", b.fail(Invalid, fmt.Sprintf("line %d: key is longer than 32 characters", n), "STS-POL-13")
	case i == len(line) || line[i] != ':':
		if rest := strings.TrimLeft(line[i:], " \t"); strings.HasPrefix(rest, ":") {
			return "", "", b.fail(Invalid, fmt.Sprintf("line %d: whitespace before ':'", n), "STS-POL-4")
		}
		return "", "", b.fail(Invalid, fmt.Sprintf("line %d is not key: value: %q", n, clip(line)), "STS-POL-1", "STS-POL-4")
	}
	key, value = line[:i], strings.Trim(line[i+1:], " \t")
	if !extValueOK(value) {
		if strings.Contains(value, "\r") {
			return "", "", b.fail(Invalid, fmt.Sprintf("line %d contains a lone CR", n), "STS-POL-2")
		}
		return "", "", b.fail(Invalid, fmt.Sprintf("line %d: value of %q is empty, not UTF-8, or has control characters", n, key), "STS-POL-13")
	}
	return key, value, true
}

// extValueOK reports whether v is a well-formed policy value: non-empty,
// UTF-8, no control characters other than inner tabs (STS-POL-13).
func extValueOK(v string) bool {
	if v == "" || !utf8.ValidString(v) {
		return false
	}
	for _, r := range v {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return false
		}
	}
	return true
}

// strictPolicy parses a body with the RFC's grammar and first-wins rule
// (STS-POL-1..18). With capMaxAge, a max_age above 31557600 is capped, as
// tlspol does, instead of rejected.
func strictPolicy(b *builder, body []byte, capMaxAge bool) bool {
	var (
		version, mode string
		maxAge        int64 = -1
		mx            []string
	)
	seen := map[string]bool{}
	for i, line := range splitLF(string(body)) {
		key, value, ok := strictLine(b, i+1, line)
		if !ok {
			return false
		}
		first := !seen[key]
		seen[key] = true
		switch key {
		case "version":
			if first {
				version = value
			}
		case "mode":
			if first {
				mode = value
			}
		case "max_age":
			if !first {
				continue
			}
			if !reMaxAge.MatchString(value) {
				return b.fail(Invalid, fmt.Sprintf("max_age %q is not 1-10 digits", clip(value)), "STS-POL-9")
			}
			n, _ := strconv.ParseInt(value, 10, 64) // 1-10 digits always fit
			if n > rfcMaxAge {
				if !capMaxAge {
					return b.fail(Invalid, fmt.Sprintf("max_age %d is over 31557600", n), "STS-POL-9")
				}
				b.note(fmt.Sprintf("caps max_age %d at 31557600 instead of rejecting the policy", n), "STS-POL-9")
				n = rfcMaxAge
			}
			maxAge = n
		case "mx":
			if !reMX.MatchString(value) {
				return b.fail(Invalid, fmt.Sprintf("mx %q is not a valid pattern", clip(value)), "STS-POL-10", "STS-POL-11", "STS-POL-16")
			}
			mx = append(mx, value)
		}
	}
	switch {
	case !seen["version"]:
		return b.fail(Invalid, "policy has no version field", "STS-POL-6")
	case version != "STSv1":
		return b.fail(Invalid, fmt.Sprintf("version %q is not STSv1", clip(version)), "STS-POL-7")
	case !seen["mode"]:
		return b.fail(Invalid, "policy has no mode field", "STS-POL-6", "STS-POL-8")
	case mode != "enforce" && mode != "testing" && mode != "none":
		return b.fail(Invalid, fmt.Sprintf("mode %q is not enforce, testing or none", clip(mode)), "STS-POL-5", "STS-POL-8")
	case maxAge < 0:
		return b.fail(Invalid, "policy has no max_age field", "STS-POL-6")
	case len(mx) == 0 && mode != "none":
		return b.fail(Invalid, "policy has no mx field and mode is not none", "STS-POL-6")
	}
	b.accept(mode, maxAge, mx)
	return true
}

// clip shortens s for use in a reason: 60 bytes, cut on a rune boundary
// (printable.Shorten: bytes that are not UTF-8 are cut at 60, so the
// reason still shows, %q-escaped, what was there).
func clip(s string) string { return printable.Shorten(s, 60, "...") }
