package mtasts

import (
	"fmt"
	"slices"
	"strings"

	"golang.org/x/net/idna"
)

// PatternError is what ValidatePattern returns: the rule a pattern breaks
// and a user-facing sentence that names it.
type PatternError struct {
	Pattern string
	Rule    string // STS-POL-10, -11, -16 or -17
	Message string
}

func (e *PatternError) Error() string { return e.Rule + ": " + e.Message }

func patternErr(p, rule, format string, args ...any) error {
	return &PatternError{Pattern: p, Rule: rule, Message: fmt.Sprintf(format, args...)}
}

// ValidatePattern returns nil if p is a valid mx pattern, or a *PatternError
// saying what is wrong: the STS-POL-10 syntax (an optional "*." then an
// RFC 5321 domain: letter-digit-hyphen labels that start and end with a
// letter or digit, joined by single dots), '*' anywhere but as the whole
// left-most label (STS-POL-16), a leading dot (STS-POL-17), a trailing dot
// (mox rejects it), underscores, U-labels (with the A-label to use instead),
// and labels or names too long for DNS.
func ValidatePattern(p string) error {
	switch {
	case p == "":
		return patternErr(p, "STS-POL-10", "the mx pattern is empty")
	case !isASCII(p):
		hint := ""
		if a, err := toALabels(p); err == nil && a != p {
			hint = ": write " + q(a)
		}
		return patternErr(p, "STS-POL-10", "the mx pattern %s is not ASCII; internationalised names must be written as A-labels (punycode)%s", q(p), hint)
	case strings.ContainsAny(p, ", \t"):
		return patternErr(p, "STS-POL-11", "the mx pattern %s contains spaces or commas; write one \"mx:\" line per pattern", q(p))
	case strings.Trim(p, ".") == "":
		return patternErr(p, "STS-POL-10", "the mx pattern %s is not a host name", q(p))
	case strings.HasPrefix(p, "."):
		return patternErr(p, "STS-POL-17", "the mx pattern %s starts with a dot, a form from early drafts that RFC 8461 does not allow and strict senders reject; write %s (which matches exactly one more label)", q(p), q("*"+p))
	}
	base, wild := strings.CutPrefix(p, "*.")
	if strings.Contains(base, "*") || base == "" && wild || p == "*" {
		return patternErr(p, "STS-POL-16", "the mx pattern %s uses '*' other than as the whole left-most label; only patterns like \"*.example.com\" are allowed", q(p))
	}
	if strings.HasSuffix(p, ".") {
		return patternErr(p, "STS-POL-10", "the mx pattern %s ends with a dot, which mox rejects; write %s", q(p), q(strings.TrimSuffix(p, ".")))
	}
	if strings.Contains(base, "_") {
		return patternErr(p, "STS-POL-10", "the mx pattern %s contains '_', which host names may not", q(p))
	}
	if len(base) > 253 {
		return patternErr(p, "STS-POL-10", "the mx pattern %s is longer than the 253 characters of a DNS name", q(p))
	}
	for _, label := range strings.Split(base, ".") {
		switch {
		case label == "":
			return patternErr(p, "STS-POL-10", "the mx pattern %s has an empty label (two dots in a row)", q(p))
		case len(label) > 63:
			return patternErr(p, "STS-POL-10", "the mx pattern %s has a label longer than 63 characters", q(p))
		case label[0] == '-' || label[len(label)-1] == '-':
			return patternErr(p, "STS-POL-10", "the label %s of the mx pattern %s starts or ends with '-'", q(label), q(p))
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !isAlnum(c) && c != '-' {
				return patternErr(p, "STS-POL-10", "the mx pattern %s contains %q; host names hold only letters, digits, '-' and dots", q(p), c)
			}
		}
	}
	return nil
}

// toALabels converts a name with U-labels to A-labels, keeping a "*." prefix.
func toALabels(p string) (string, error) {
	base, wild := strings.CutPrefix(p, "*.")
	a, err := idna.Lookup.ToASCII(base)
	if wild {
		a = "*." + a
	}
	return a, err
}

// asciiLower lower-cases ASCII letters only (RFC 6125 matching is on
// A-labels; Unicode case folding would let "K" (U+212A) pass for "k").
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// normName lower-cases a name and drops one trailing root dot (STS-SEND-9).
func normName(s string) string { return asciiLower(strings.TrimSuffix(s, ".")) }

// Match reports whether host (an MX target as written in DNS: any case,
// optional trailing dot) matches pattern under RFC 8461 §4.1 (STS-SEND-9,
// STS-POL-15): case-insensitive, the trailing dot dropped from both,
// "*.example.com" matching exactly one more label (a.example.com, not
// example.com, not a.b.example.com). Any other pattern matches only the
// identical name; an invalid pattern (".example.com", "mail*.example.com")
// therefore matches nothing a strict sender would let it match.
func Match(pattern, host string) bool {
	pattern, host = normName(pattern), normName(host)
	if host == "" || pattern == "" {
		return false
	}
	if suffix, ok := strings.CutPrefix(pattern, "*."); ok {
		label, rest, found := strings.Cut(host, ".")
		return found && label != "" && rest == suffix
	}
	return pattern == host
}

// Covering returns the first pattern in patterns that matches host, and
// whether any did.
func Covering(patterns []string, host string) (string, bool) {
	for _, p := range patterns {
		if Match(p, host) {
			return p, true
		}
	}
	return "", false
}

// providerWildcards are parent names under which a provider numbers or
// names its MX hosts one label deep, with the pattern it documents (or that
// covers them under STS-POL-15).
var providerWildcards = []string{
	"mail.protection.outlook.com", // Microsoft 365 tenants (OPS-5)
	"aspmx.l.google.com",          // Google Workspace alt1..alt4 (OPS-7)
	"googlemail.com",              // Google Workspace aspmx2..aspmx5 (OPS-7)
}

// SuggestPatterns proposes mx patterns covering a set of live MX hosts:
//   - Microsoft 365 hosts get "*.mail.protection.outlook.com" (OPS-5);
//   - Google Workspace hosts get only what they need of "smtp.google.com",
//     "aspmx.l.google.com", "*.aspmx.l.google.com" and "*.googlemail.com"
//     (OPS-7; "*.aspmx.l.google.com" does not cover aspmx.l.google.com);
//   - Microsoft's DANE hosts two labels below mx.microsoft get
//     "*.<label>.mx.microsoft" (OPS-6; inferred, see docs/rules.md);
//   - every other host is listed exactly.
//
// Hosts are lower-cased and lose a trailing dot. Names that no valid pattern
// can cover (empty, '_', U-labels, ...) are left out. The result is sorted
// and de-duplicated, and every other input host is covered by it.
func SuggestPatterns(hosts []string) []string {
	var out []string
	for _, h := range hosts {
		h = normName(h)
		if h == "" || strings.Contains(h, "*") || ValidatePattern(h) != nil {
			continue
		}
		out = append(out, suggest(h))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func suggest(h string) string {
	label, rest, _ := strings.Cut(h, ".")
	if label != "" && slices.Contains(providerWildcards, rest) {
		return "*." + rest
	}
	// <tenant>.<label>.mx.microsoft
	if parent, ok := strings.CutSuffix(rest, ".mx.microsoft"); ok && parent != "" && !strings.Contains(parent, ".") {
		return "*." + rest
	}
	return h
}
