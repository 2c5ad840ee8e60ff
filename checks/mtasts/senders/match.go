package senders

import "strings"

// MatchMX reports whether impl would accept host for the mx pattern
// (STS-POL-15, STS-SEND-9). Names compare case-insensitively.
//
//   - rfc8461, mox, go-mtasts, chasquid: "*." covers exactly one more
//     label; the host's trailing root dot is dropped first; go-mtasts drops
//     the pattern's too.
//   - pmsr, tlspol: the pattern becomes Postfix's ".domain" form, which
//     covers any depth; Postfix is assumed to drop a trailing root dot from
//     both names (pmsr passes patterns on unchecked).
//   - mailauth: "*." becomes a suffix comparison at any depth, and the
//     trailing dot is not stripped.
//
// An unknown impl matches nothing.
func MatchMX(impl, pattern, host string) bool {
	pattern, host = strings.ToLower(pattern), strings.ToLower(host)
	switch impl {
	case ImplRFC, ImplMox, ImplChasquid:
		return matchOneLabel(pattern, strings.TrimSuffix(host, "."))
	case ImplGoMTASTS:
		return matchOneLabel(strings.TrimSuffix(pattern, "."), strings.TrimSuffix(host, "."))
	case ImplPMSR, ImplTLSPol:
		return matchAnyDepth(strings.TrimSuffix(pattern, "."), strings.TrimSuffix(host, "."))
	case ImplMailauth:
		return matchAnyDepth(pattern, host)
	}
	return false
}

// matchOneLabel is RFC 8461 §4.1 matching: "*.suffix" covers label.suffix
// for exactly one non-empty label.
func matchOneLabel(pattern, host string) bool { return matchWildcard(pattern, host, false) }

// matchAnyDepth treats "*.suffix" as "any name ending in .suffix".
func matchAnyDepth(pattern, host string) bool { return matchWildcard(pattern, host, true) }

// matchWildcard matches host against pattern: a pattern without "*." only
// itself, and "*.suffix" a non-empty label before .suffix, which may hold
// dots only when anyDepth.
func matchWildcard(pattern, host string, anyDepth bool) bool {
	if host == "" {
		return false
	}
	suffix, wild := strings.CutPrefix(pattern, "*.")
	if !wild {
		return pattern == host
	}
	label, ok := strings.CutSuffix(host, "."+suffix)
	return ok && suffix != "" && label != "" && (anyDepth || !strings.Contains(label, "."))
}
