package dnsprobe

import (
	"cmp"
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/miekg/dns"

	"github.com/stspilot/stspilot/internal/domainname"
)

// TXTResult is a TXT lookup: the Answer, and the character-strings of each
// TXT RR in answer order, not joined (joining is STS-TXT-3's business).
// Records hold the octets as sent, not the escaped presentation form of
// miekg/dns: a quote is `"`, not `\"`, and non-ASCII octets are kept raw, so
// a parser can apply STS-TXT-8 (US-ASCII only) itself.
type TXTResult struct {
	Answer
	Records [][]string
}

// TXT looks up the TXT records at name, following CNAMEs (STS-TXT-13).
func (r *Resolver) TXT(ctx context.Context, name string) (TXTResult, error) {
	a, err := r.Query(ctx, name, dns.TypeTXT)
	res := TXTResult{Answer: a}
	for _, rr := range a.RRs {
		t, ok := rr.(*dns.TXT)
		if !ok {
			continue
		}
		strs := make([]string, len(t.Txt))
		for i, s := range t.Txt {
			strs[i] = unescapeTXT(s)
		}
		res.Records = append(res.Records, strs)
	}
	return res, err
}

// unescapeTXT undoes the presentation escaping miekg/dns applies when it
// unpacks a character-string: \" and \\ for those two octets, \DDD for
// octets outside printable ASCII. Any other backslash sequence stands for
// the octet after the backslash.
func unescapeTXT(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b = append(b, c)
			continue
		}
		if i+3 < len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) {
			if v := int(s[i+1]-'0')*100 + int(s[i+2]-'0')*10 + int(s[i+3]-'0'); v <= 0xff {
				b = append(b, byte(v))
				i += 3
				continue
			}
		}
		b = append(b, s[i+1])
		i++
	}
	return string(b)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// MX is one MX record.
type MX struct {
	Host       string // lower case, without trailing dot; "" for the null MX "." (RFC 7505)
	Preference uint16
}

// MXResult is an MX lookup: the Answer, and its MX records sorted by
// preference, then host.
type MXResult struct {
	Answer
	MX []MX
}

// MX looks up the MX records of domain.
func (r *Resolver) MX(ctx context.Context, domain string) (MXResult, error) {
	a, err := r.Query(ctx, domain, dns.TypeMX)
	res := MXResult{Answer: a}
	for _, rr := range a.RRs {
		if mx, ok := rr.(*dns.MX); ok {
			res.MX = append(res.MX, MX{Host: domainname.Fold(mx.Mx), Preference: mx.Preference})
		}
	}
	slices.SortFunc(res.MX, func(a, b MX) int {
		return cmp.Or(cmp.Compare(a.Preference, b.Preference), strings.Compare(a.Host, b.Host))
	})
	return res, err
}

// AddrResult is the A and AAAA lookup of one host.
type AddrResult struct {
	Name      string       // the host asked (lower case, without trailing dot)
	Chain     []string     // CNAME targets followed (those of the A lookup when it succeeded)
	Addrs     []netip.Addr // IPv4 addresses first, then IPv6, each in answer order
	NXDomain  bool         // a lookup said NXDOMAIN and no address was found
	Truncated bool         // one of the lookups had more than MaxRRs records
	ErrA      error        // the A lookup's error, or nil
	ErrAAAA   error        // the AAAA lookup's error, or nil
}

// Addrs looks up A and AAAA for host concurrently (both questions are in
// flight together, so the lookup takes one round trip, not two) and merges
// them, A first, following CNAMEs. A failure of one family leaves the other's
// addresses in Addrs.
func (r *Resolver) Addrs(ctx context.Context, host string) AddrResult {
	var (
		wg       sync.WaitGroup
		a4, a6   Answer
		err4, e6 error
	)
	wg.Go(func() { a4, err4 = r.Query(ctx, host, dns.TypeA) })
	wg.Go(func() { a6, e6 = r.Query(ctx, host, dns.TypeAAAA) })
	wg.Wait()

	res := AddrResult{Name: a4.Name, Chain: a4.Chain, ErrA: err4, ErrAAAA: e6}
	if err4 != nil && e6 == nil {
		res.Chain = a6.Chain
	}
	for _, rr := range a4.RRs {
		if a, ok := rr.(*dns.A); ok {
			if addr, ok := netip.AddrFromSlice(a.A); ok {
				res.Addrs = append(res.Addrs, addr.Unmap())
			}
		}
	}
	for _, rr := range a6.RRs {
		if a, ok := rr.(*dns.AAAA); ok {
			if addr, ok := netip.AddrFromSlice(a.AAAA); ok {
				res.Addrs = append(res.Addrs, addr)
			}
		}
	}
	res.NXDomain = len(res.Addrs) == 0 && (a4.NXDomain || a6.NXDomain)
	res.Truncated = a4.Truncated || a6.Truncated
	return res
}

// AliasOf reports whether the host looked up owns a CNAME, as the address
// lookup saw it (the answers start with the CNAME when there is one), and
// returns its target. Together with Resolver.CNAME it answers what
// CNAMETarget does without asking the A question a second time.
func (a AddrResult) AliasOf() (target string, ok bool) {
	if len(a.Chain) == 0 {
		return "", false
	}
	return a.Chain[0], true
}

// CNAME asks whether name itself owns a CNAME (one question of type CNAME,
// nothing followed) and returns its target (lower case, without trailing
// dot). NXDOMAIN and NODATA are ok false with a nil error.
func (r *Resolver) CNAME(ctx context.Context, name string) (target string, ok bool, err error) {
	ans, err := r.Query(ctx, name, dns.TypeCNAME)
	if err != nil {
		return "", false, err
	}
	for _, rr := range ans.RRs {
		if c, isC := rr.(*dns.CNAME); isC {
			return domainname.Fold(c.Target), true, nil
		}
	}
	return "", false, nil
}

// CNAMETarget reports whether name itself owns a CNAME and returns its
// target (lower case, without trailing dot). It is used to flag MX targets
// that are aliases, which RFC 2181 §10.3 forbids (OPS-2).
//
// It asks two questions concurrently, without following anything: type
// CNAME, and type A (whose answer starts with the CNAME when there is one),
// since some resolvers answer CNAME questions poorly. A clean answer from
// either without a CNAME at name means "not an alias" (ok false, err nil);
// an error is returned only when both questions failed.
func (r *Resolver) CNAMETarget(ctx context.Context, name string) (target string, ok bool, err error) {
	n, err := checkName(name)
	if err != nil {
		return "", false, err
	}
	servers, err := r.servers(n, dns.TypeCNAME)
	if err != nil {
		return "", false, err
	}
	type result struct {
		target string
		found  bool
		err    error
	}
	var wg sync.WaitGroup
	results := make([]result, 2)
	for i, qtype := range []uint16{dns.TypeCNAME, dns.TypeA} {
		wg.Go(func() {
			msg, _, err := r.exchange(ctx, servers, n, qtype)
			if err != nil {
				results[i].err = err
				return
			}
			for _, rr := range msg.Answer {
				if c, ok := rr.(*dns.CNAME); ok && c.Hdr.Class == dns.ClassINET && domainname.Fold(c.Hdr.Name) == n {
					results[i].target, results[i].found = domainname.Fold(c.Target), true
					return
				}
			}
		})
	}
	wg.Wait()
	for _, res := range results {
		if res.found {
			return res.target, true, nil
		}
	}
	if results[0].err != nil && results[1].err != nil {
		return "", false, errors.Join(results[0].err, results[1].err)
	}
	return "", false, nil
}
