package journal

import (
	"fmt"
	"strings"

	"github.com/stspilot/stspilot/checks"
)

// NormalizeDomain returns the form a journal is filed under: lower case,
// A-label, no trailing dot (checks.NormalizeDomain), which is also a safe
// file name: only letters, digits, hyphens and inner dots, so "../x",
// "a/b", NUL bytes and the like are refused rather than mapped to a path.
// Errors wrap checks.ErrBadDomain.
func NormalizeDomain(domain string) (string, error) {
	d, err := checks.NormalizeDomain(domain)
	if err != nil {
		return "", err
	}
	// checks.NormalizeDomain already admits only these; this guard keeps the
	// file name safe even if that function ever grows more lenient.
	for i := 0; i < len(d); i++ {
		c := d[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return "", fmt.Errorf("%w %q: %q cannot be part of a journal file name", checks.ErrBadDomain, d, string(c))
		}
	}
	if d == "" || d[0] == '.' || strings.Contains(d, "..") || len(d) > 253 {
		return "", fmt.Errorf("%w %q: not a safe journal file name", checks.ErrBadDomain, d)
	}
	return d, nil
}
