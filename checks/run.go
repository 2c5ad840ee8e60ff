package checks

import (
	"context"
	"errors"
)

// ErrBadDomain wraps every domain-name validation failure (a usage error).
var ErrBadDomain = errors.New("invalid domain name")

// NormalizeDomain turns user input into the A-label, lower-case, dot-less
// form checked everywhere, or returns an error wrapping ErrBadDomain.
func NormalizeDomain(in string) (string, error) {
	return "", errors.New("not implemented yet")
}

// Run checks one domain live. It never returns nil; a domain that could not
// be checked at all has Report.Error set.
func Run(ctx context.Context, domain string, opt Options) *Report {
	return &Report{Schema: SchemaVersion, Domain: domain, Error: "not implemented yet", Findings: []Finding{}}
}
