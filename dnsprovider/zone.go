package dnsprovider

import (
	"context"
	"errors"
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
// time. It never returns "." (no provider manages the root). Its errors
// do not repeat what the caller was doing ("finding the zone of ...").
func FindZone(ctx context.Context, q *Resolver, name string) (string, error) {
	name = Fqdn(name)
	if _, ok := dns.IsDomainName(name); !ok || name == "." || len(name) > 254 {
		return "", fmt.Errorf("%q is not a domain name", name)
	}
	for cur := name; cur != "."; {
		in, err := q.query(ctx, cur, dns.TypeSOA)
		if err != nil {
			return "", err // it names the query and the server
		}
		apex, err := soaApex(in, cur)
		if err != nil {
			return "", err
		}
		if apex != "" && apex != "." {
			return apex, nil
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
	return "", fmt.Errorf("%w for %s or any parent name (do the resolvers answer for it?)", ErrNoZone, name)
}

// soaApex reads in, the reply to an SOA query for name: the apex of the
// zone that holds name, or "" when the reply shows none. An SOA in the
// answer owned by name makes name the apex; an SOA in the authority
// section (NXDOMAIN, or no data) whose owner is name or a parent of it
// names the zone. That owner may be "." (the root's SOA, for a name under
// no zone the server knows): callers that want no root skip it. An rcode
// other than NOERROR and NXDOMAIN is an error.
func soaApex(in *dns.Msg, name string) (string, error) {
	if in.Rcode != dns.RcodeSuccess && in.Rcode != dns.RcodeNameError {
		return "", fmt.Errorf("SOA query for %s answered %s", name, dns.RcodeToString[in.Rcode])
	}
	for _, rr := range in.Answer {
		if soa, ok := rr.(*dns.SOA); ok && Fqdn(soa.Hdr.Name) == name {
			return name, nil
		}
	}
	for _, rr := range in.Ns {
		if soa, ok := rr.(*dns.SOA); ok && dns.IsSubDomain(Fqdn(soa.Hdr.Name), name) {
			return Fqdn(soa.Hdr.Name), nil
		}
	}
	return "", nil
}

// ErrNoZone is FindZone's error when no name from the domain up has an
// SOA record: the resolvers do not know the zone (a typo, a zone not
// delegated yet, or resolvers that cannot see it).
var ErrNoZone = errors.New("no SOA record found")
