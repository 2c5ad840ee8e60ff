package senders

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// goMTASTSFetch: 60 s, no body cap (only bufio's 64 KiB per line, checked
// while parsing), text/plain required, 200 only (STS-FETCH-5/9/10).
var goMTASTSFetch = fetchProfile{timeout: time.Minute, timeoutText: "60 s", checkType: true, status: only200}

// scanLineMax is the longest line bufio.Scanner accepts by default: its
// buffer is 64 KiB and must hold the line and its LF.
const scanLineMax = 64<<10 - 1

// emulateGoMTASTS models foxcpp/go-mtasts, the library maddy uses.
//
// Modelled from docs/rules.md: it does not filter TXT records and needs exactly
// one TXT RR of any kind, so a foreign record beside the STSv1 one means no
// policy (STS-TXT-4, OPS-12); any non-empty id is accepted, the last one
// kept (STS-TXT-9, -12); the body is read with bufio.Scanner (split on LF,
// one trailing CR dropped, 64 KiB per line, STS-POL-2, STS-FETCH-10); each
// line must split on ":" into exactly two parts (STS-POL-4), so blank lines
// and values containing ":" break the policy; the key is compared as is and
// the value trimmed (strings.TrimSpace); unknown keys are ignored unchecked
// (STS-POL-13); repeated keys keep the last value (STS-POL-14); max_age is
// read with strconv.Atoi (a sign is accepted, no upper bound, STS-POL-9); a
// trailing dot on an mx pattern is stripped (STS-POL-10).
// Assumed: the record must start with "v=STSv1;" (docs/rules.md lists no
// selection leniency for it); its other fields are not checked; mx patterns
// are not checked beyond that.
func emulateGoMTASTS(in Input) Verdict {
	b := newBuilder(ImplGoMTASTS)
	switch len(in.TXT) {
	case 0:
		b.fail(NoPolicy, "no TXT record at _mta-sts", "STS-TXT-5")
		return b.v
	case 1:
	default:
		b.fail(NoPolicy, fmt.Sprintf("%d TXT records at _mta-sts: go-mtasts needs exactly one and does not skip foreign ones", len(in.TXT)),
			"STS-TXT-4", "OPS-12")
		return b.v
	}
	rec := in.TXT[0]
	if !strings.HasPrefix(rec, "v=STSv1;") {
		b.fail(NoPolicy, "the TXT record at _mta-sts does not start with \"v=STSv1;\"", "STS-TXT-4", "STS-TXT-5")
		return b.v
	}
	var id string
	for f := range strings.SplitSeq(rec, ";") {
		if k, v, _ := strings.Cut(strings.TrimSpace(f), "="); k == "id" {
			id = v
		}
	}
	if id == "" {
		b.fail(NoPolicy, "TXT record has no id", "STS-TXT-9")
		return b.v
	}
	noteLaxID(b, id)
	if !goMTASTSFetch.check(in, b) {
		return b.v
	}
	goMTASTSPolicy(b, string(in.Body))
	return b.v
}

func goMTASTSPolicy(b *builder, body string) bool {
	var (
		mode, version, maxAgeText string
		maxAge                    int64
		mx                        []string
	)
	first := map[string]string{}
	for i, line := range splitLF(body) {
		n := i + 1
		if len(line) > scanLineMax {
			return b.fail(Invalid, fmt.Sprintf("line %d is longer than bufio.Scanner's 64 KiB limit", n), "STS-FETCH-10")
		}
		parts := strings.Split(line, ":")
		if len(parts) != 2 {
			if line == "" {
				return b.fail(Invalid, fmt.Sprintf("line %d is empty", n), "STS-POL-3")
			}
			return b.fail(Invalid, fmt.Sprintf("line %d has %d ':' where go-mtasts needs exactly one", n, len(parts)-1), "STS-POL-4")
		}
		key, value := parts[0], strings.TrimSpace(parts[1])
		if _, ok := first[key]; !ok {
			first[key] = value
		}
		switch key {
		case "version":
			if value != "STSv1" {
				return b.fail(Invalid, fmt.Sprintf("line %d: version %q is not STSv1", n, clip(value)), "STS-POL-7")
			}
			version = value
		case "mode":
			if value != "enforce" && value != "testing" && value != "none" {
				return b.fail(Invalid, fmt.Sprintf("line %d: mode %q is not enforce, testing or none", n, clip(value)), "STS-POL-5", "STS-POL-8")
			}
			mode = value
		case "max_age":
			v, err := strconv.Atoi(value)
			if err != nil {
				return b.fail(Invalid, fmt.Sprintf("line %d: max_age %q is not an integer", n, clip(value)), "STS-POL-9")
			}
			maxAge, maxAgeText = int64(v), value
		case "mx":
			if p, ok := strings.CutSuffix(value, "."); ok {
				b.note("strips the trailing dot of mx patterns", "STS-POL-10")
				value = p
			}
			mx = append(mx, value)
		}
	}
	switch {
	case version == "":
		return b.fail(Invalid, "policy has no version field", "STS-POL-6")
	case mode == "":
		return b.fail(Invalid, "policy has no mode field", "STS-POL-6", "STS-POL-8")
	case !hasKey(first, "max_age"):
		return b.fail(Invalid, "policy has no max_age field", "STS-POL-6")
	case len(mx) == 0 && mode != "none":
		return b.fail(Invalid, "policy has no mx field and mode is not none", "STS-POL-6")
	}
	noteLastWins(b, first, map[string]string{"mode": mode, "max_age": maxAgeText})
	if !reMaxAge.MatchString(maxAgeText) {
		b.note(fmt.Sprintf("reads max_age %q with strconv.Atoi", clip(maxAgeText)), "STS-POL-9")
	}
	return b.acceptUnbounded(mode, maxAge, mx)
}

func hasKey(m map[string]string, k string) bool { _, ok := m[k]; return ok }

// noteLastWins notes each single-valued key whose kept (last) value differs
// from its first, which RFC 8461 would have kept (STS-POL-14).
func noteLastWins(b *builder, first, last map[string]string) {
	for _, k := range []string{"version", "mode", "max_age"} {
		f, ok1 := first[k]
		l, ok2 := last[k]
		if ok1 && ok2 && f != l {
			b.note(fmt.Sprintf("keeps the last %s (%q), not the first (%q)", k, clip(l), clip(f)), "STS-POL-14")
		}
	}
}
