package dnsprovider

import (
	"context"
	"fmt"
	"strings"

	"github.com/miekg/dns"
)

// FindZone returns the apex of the zone that holds name (absolute, lower
// case, with the trailing dot), as seen through q's resolvers: the zone a
// provider must be given to write name. For _mta-sts.fresh.example.test in
// the zone example.test it is "example.test."; for a name in a delegated
// child zone it is the child's apex.
//
// It asks SOA at name: an SOA in the answer owned by name means name is an
// apex; an SOA in the authority section (NXDOMAIN, or no data) names the
// zone that holds name. A referral (NS records in the authority section of
// a non-authoritative answer, as a non-recursive server gives for a child
// zone) names the child's apex. Without either it walks up one label at a
// time. It never returns "." (no provider manages the root).
func FindZone(ctx context.Context, q *Resolver, name string) (string, error) {
	name = Fqdn(name)
	if _, ok := dns.IsDomainName(name); !ok || name == "." || len(name) > 254 {
		return "", fmt.Errorf("finding the zone of %q: not a domain name", name)
	}
	for cur := name; cur != "."; {
		in, err := q.query(ctx, cur, dns.TypeSOA)
		if err != nil {
			return "", fmt.Errorf("finding the zone of %s: %w", name, err)
		}
		if in.Rcode != dns.RcodeSuccess && in.Rcode != dns.RcodeNameError {
			return "", fmt.Errorf("finding the zone of %s: SOA %s answered %s", name, cur, dns.RcodeToString[in.Rcode])
		}
		for _, rr := range in.Answer {
			if soa, ok := rr.(*dns.SOA); ok && Fqdn(soa.Hdr.Name) == cur {
				return cur, nil
			}
		}
		for _, rr := range in.Ns {
			if soa, ok := rr.(*dns.SOA); ok {
				if owner := Fqdn(soa.Hdr.Name); owner != "." && dns.IsSubDomain(owner, cur) {
					return owner, nil
				}
			}
		}
		if !in.Authoritative {
			// A referral: the NS owner is the apex of the child zone.
			for _, rr := range in.Ns {
				if ns, ok := rr.(*dns.NS); ok {
					if owner := Fqdn(ns.Hdr.Name); owner != "." && dns.IsSubDomain(owner, cur) {
						return owner, nil
					}
				}
			}
		}
		_, next, _ := strings.Cut(cur, ".")
		if next == "" {
			next = "."
		}
		cur = next
	}
	return "", fmt.Errorf("finding the zone of %s: no SOA record found for it or any parent name (do the resolvers answer for it?)", name)
}
