// Package txtrecord is the one model of the two TXT records stspilot owns:
// the MTA-STS record at _mta-sts.DOMAIN (RFC 8461 §3.1, rules STS-TXT-*)
// and the TLS-RPT record at _smtp._tls.DOMAIN (RFC 8460 §3, rules
// RPT-REC-*). It holds
//
//   - the record values ([STSRecord], [TLSRPTRecord]) and their canonical
//     text (String), which is what stspilot writes;
//   - the one ownership rule ([Kind.Classify]): which TXT strings at those
//     names are such a record, which are near misses of one, and which are
//     someone else's. The checks report by it and the DNS providers replace
//     and delete by it, so the two never disagree;
//   - the grammar both record parsers share (version prefix, fields,
//     extension names and values) and the [Problem] they report;
//   - the names where the records and the policy live.
//
// It imports nothing of stspilot: every layer may use it.
package txtrecord

import "strings"

// Names of the records and of the policy host.
const (
	// STSPrefix is prepended to a domain to name its MTA-STS record (STS-TXT-1).
	STSPrefix = "_mta-sts."
	// TLSRPTPrefix is prepended to a domain to name its TLS-RPT record (RPT-REC-1).
	TLSRPTPrefix = "_smtp._tls."
	// PolicyHostPrefix is prepended to a domain to name its policy host (STS-FETCH-1).
	PolicyHostPrefix = "mta-sts."
	// WellKnownPath is the policy's path on the policy host (RFC 8461 §3.2,
	// STS-FETCH-1).
	WellKnownPath = "/.well-known/mta-sts.txt"
)

// STSName returns "_mta-sts.<domain>". A trailing dot on domain is dropped.
func STSName(domain string) string { return STSPrefix + strings.TrimSuffix(domain, ".") }

// TLSRPTName returns "_smtp._tls.<domain>" (RPT-REC-1). A trailing dot on
// domain is dropped.
func TLSRPTName(domain string) string { return TLSRPTPrefix + strings.TrimSuffix(domain, ".") }

// PolicyHost returns "mta-sts.<domain>". A trailing dot on domain is dropped.
func PolicyHost(domain string) string {
	return PolicyHostPrefix + strings.TrimSuffix(domain, ".")
}

// PolicyURL returns "https://mta-sts.<domain>/.well-known/mta-sts.txt",
// where senders fetch the policy of domain.
func PolicyURL(domain string) string { return "https://" + PolicyHost(domain) + WellKnownPath }
