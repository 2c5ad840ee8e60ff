// Package domainname turns a mail domain as an operator types it into the
// one form stspilot checks, journals and publishes under.
package domainname

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"

	"github.com/stspilot/stspilot/internal/printable"
	"github.com/stspilot/stspilot/internal/txtrecord"
)

// ErrInvalid wraps every domain-name validation failure (a usage error).
var ErrInvalid = errors.New("invalid domain name")

// maxDomainLen leaves room for the longest name we query, "_mta-sts." + domain,
// inside the 253-octet limit of a DNS name.
const maxDomainLen = 253 - len(txtrecord.STSPrefix)

var idnaProfile = idna.New(idna.MapForLookup(), idna.Transitional(false), idna.StrictDomainName(false), idna.BidiRule())

// Fold is the form in which stspilot compares a DNS name it did not
// Normalize (a name from a DNS answer, a report, a certificate check or a
// TLS ClientHello): lower case, without the trailing root dot.
func Fold(name string) string { return strings.ToLower(strings.TrimSuffix(name, ".")) }

// FoldIDN is Fold for a name that may come as a U-label where the
// A-label belongs (a report's policy-domain, RPT-JSON-6): a name with
// non-ASCII characters is mapped to its A-label (as Normalize does, so
// that both compare equal), and kept folded as it is when it has none.
func FoldIDN(name string) string {
	for i := 0; i < len(name); i++ {
		if name[i] >= utf8.RuneSelf {
			if a, err := idnaProfile.ToASCII(strings.TrimSuffix(name, ".")); err == nil {
				return Fold(a)
			}
			break
		}
	}
	return Fold(name)
}

// Normalize turns user input into the A-label, lower-case form without a
// trailing dot that is checked everywhere, or returns an error wrapping
// ErrInvalid that says what is wrong in words an operator can act on.
//
// A name it returns is also a safe file name (journals are filed under
// it): only letters, digits, hyphens and inner dots, at least two labels,
// so "../x", "a/b", NUL bytes and the like are refused rather than mapped
// to a path.
func Normalize(in string) (string, error) {
	s := strings.TrimSpace(in)
	bad := func(format string, a ...any) (string, error) {
		return "", fmt.Errorf("%w %q: %s", ErrInvalid, printable.Clip(in, 80), fmt.Sprintf(format, a...))
	}
	switch {
	case s == "":
		return bad("empty")
	case len(s) > 1024:
		return bad("%d characters long; a domain name has at most %d", len(s), maxDomainLen)
	case strings.Contains(s, "://"):
		return bad("give the mail domain, not a URL")
	case strings.Contains(s, "@"):
		return bad("give the mail domain (the part after @), not an address")
	case !utf8.ValidString(s):
		return bad("not valid UTF-8")
	case isIP(s):
		return bad("an IP address, not a domain name; give the mail domain (the part after @ in its addresses)")
	case strings.ContainsAny(s, " \t/\\:"):
		return bad("contains a space, slash or colon")
	}
	s = strings.TrimSuffix(s, ".")
	ascii, err := idnaProfile.ToASCII(s)
	if err != nil {
		return bad("not a valid (internationalised) domain name: %v", err)
	}
	ascii = strings.ToLower(ascii)
	if again, err := idnaProfile.ToASCII(ascii); err != nil || again != ascii {
		return bad("the A-label form %q is not itself valid", printable.Clip(ascii, 80))
	}
	if strings.HasPrefix(ascii, "mta-sts.") || strings.HasPrefix(ascii, "_mta-sts.") {
		return bad("give the mail domain itself; stspilot adds the mta-sts. and _mta-sts. names")
	}
	if len(ascii) > maxDomainLen {
		return bad("%d octets long; with the _mta-sts. prefix it would exceed the 253-octet DNS limit", len(ascii))
	}
	labels := strings.Split(ascii, ".")
	if len(labels) < 2 {
		return bad("a mail domain needs at least two labels (example.com)")
	}
	for _, l := range labels {
		if err := checkLabel(l); err != nil {
			return bad("%v", err)
		}
	}
	if strings.Trim(labels[len(labels)-1], "0123456789") == "" {
		// RFC 3696 §2: no top-level domain is all digits.
		return bad("the last label %q is all digits; no top-level domain is", labels[len(labels)-1])
	}
	return ascii, nil
}

// isIP: s is an IPv4 or IPv6 address, possibly in brackets or with a
// zone, or the in-addr form of IPv4 with a trailing dot.
func isIP(s string) bool {
	s = strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"), ".")
	_, err := netip.ParseAddr(s)
	return err == nil
}

func checkLabel(l string) error {
	switch {
	case l == "":
		return errors.New("empty label (two dots in a row)")
	case len(l) > 63:
		return fmt.Errorf("label %q is longer than 63 octets", printable.Clip(l, 20))
	case l[0] == '-' || l[len(l)-1] == '-':
		return fmt.Errorf("label %q starts or ends with a hyphen", l)
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("label %q contains %q; only letters, digits and hyphens are allowed", l, string(c))
		}
	}
	return nil
}
