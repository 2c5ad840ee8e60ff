// Package dnsprobe makes live DNS lookups against explicit servers for
// `stspilot check`: the `_mta-sts` and `_smtp._tls` TXT records (following
// CNAME chains, STS-TXT-13), MX records, host addresses, and whether an MX
// target is an alias (RFC 2181 §10.3, OPS-2).
//
// It returns observations only. NXDOMAIN and NODATA are answers, not errors:
// an Answer with NXDomain set, or with no RRs. Errors are kept for lookups
// that produced no usable answer (timeout, SERVFAIL, REFUSED, a reply that
// does not match the question, a CNAME loop, an invalid name); the engine
// classifies them with errors.Is against the sentinels below, or errors.As
// with *ServerError and *QueryError.
//
// Every exchange is bounded by the caller's context and by
// Resolver.PerQuery. Replies are at most 64 KiB by construction (a UDP
// datagram read into a dnsclient.EDNSSize buffer, or a TCP message with a
// 16-bit length), and at most Resolver.MaxRRs records are kept per answer.
// The transport (EDNS0, the TCP retry of a truncated reply, the checks a
// reply must pass) is internal/dnsclient's, shared with dnsprovider.
package dnsprobe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/stspilot/stspilot/internal/dnsclient"
	"github.com/stspilot/stspilot/internal/domainname"
)

// Defaults for the zero fields of a Resolver.
const (
	DefaultPerQuery = 3 * time.Second
	DefaultMaxRRs   = 1000
)

// MaxCNAMEHops is the longest CNAME chain Query follows. A longer chain is
// reported as ErrCNAMELoop.
const MaxCNAMEHops = 8

// Sentinel errors. A lookup error wraps exactly one of them per server tried
// (plus the underlying cause, when there is one), so errors.Is answers
// "did any server time out?" and so on.
var (
	// ErrTimeout: a server did not answer within PerQuery or the context's
	// deadline.
	ErrTimeout = errors.New("timeout")
	// ErrServFail: a server answered SERVFAIL.
	ErrServFail = errors.New("SERVFAIL")
	// ErrRefused: a server answered REFUSED.
	ErrRefused = errors.New("REFUSED")
	// ErrRCode: a server answered with another error rcode (FORMERR, NOTIMP, ...).
	ErrRCode = errors.New("unexpected rcode")
	// ErrBadReply: the reply was malformed or did not match the question
	// (ID, name, type or class).
	ErrBadReply = errors.New("reply does not match the question")
	// ErrNetwork: the exchange failed for another network reason
	// (connection refused, no route, ...).
	ErrNetwork = errors.New("network error")
	// ErrCNAMELoop: the CNAME chain loops or is longer than MaxCNAMEHops.
	ErrCNAMELoop = errors.New("CNAME loop or chain too long")
	// ErrNoServers: the Resolver has no servers, or a resolv.conf names
	// none (the same error as dnsclient.ErrNoServers).
	ErrNoServers = dnsclient.ErrNoServers
	// ErrBadServer: a server address is not an IP literal with an
	// optional port (the same error as dnsclient.ErrBadServer).
	ErrBadServer = dnsclient.ErrBadServer
	// ErrBadName: the name to look up is not a valid domain name. Such
	// names are rejected before any network traffic.
	ErrBadName = errors.New("invalid domain name")
)

// RCode is a DNS response code (dns.RcodeSuccess, dns.RcodeNameError, ...).
type RCode int

// String returns the mnemonic, e.g. "SERVFAIL", or "RCODE23" when unknown.
func (c RCode) String() string {
	if s, ok := dns.RcodeToString[int(c)]; ok {
		return s
	}
	return fmt.Sprintf("RCODE%d", int(c))
}

// Resolver queries Servers (IP literals, with or without a port) in order,
// falling back to the next one on timeout, SERVFAIL, REFUSED, other error
// rcodes, a mismatched reply or a network error. NXDOMAIN and NOERROR
// replies are final. Once the context is done, no further server is tried. Queries set RD, so Servers may be recursive resolvers or the
// authoritative servers of the zones asked about. A UDP reply with TC set is
// retried over TCP to the same server, within the same PerQuery budget.
//
// A Resolver is safe for concurrent use as long as its fields are not
// changed meanwhile. It has no cache.
type Resolver struct {
	Servers  []string      // tried in order: IP literals, port 53 by default, as dnsclient.ParseServer accepts them
	PerQuery time.Duration // bound on one exchange with one server (UDP and its TCP retry); 0 = DefaultPerQuery
	MaxRRs   int           // records kept per answer, the rest dropped and Answer.Truncated set; 0 = DefaultMaxRRs
	Tries    int           // UDP sends of a query a server does not answer, within PerQuery; 0 = dnsclient.Tries (see SystemResolver)
}

// Answer is the outcome of one question after following CNAMEs.
type Answer struct {
	Name      string   // the name asked (FQDN without trailing dot, lower case)
	Chain     []string // CNAME targets followed, in order (without trailing dot, lower case)
	RCode     int      // final rcode: dns.RcodeSuccess, or dns.RcodeNameError for NXDOMAIN
	NXDomain  bool     // the last name of the chain does not exist
	RRs       []dns.RR // records of the asked type at the end of the chain; empty for NODATA and NXDOMAIN
	TTL       uint32   // minimum TTL of RRs (0 when RRs is empty)
	Server    string   // the server that gave the last reply
	Truncated bool     // more than MaxRRs records were returned; RRs holds the first MaxRRs
}

// ServerError is the failure of one question at one server.
type ServerError struct {
	Server string // host:port
	Name   string // the name asked at this server (the current link of a CNAME chain)
	Type   uint16 // the query type
	Kind   error  // ErrTimeout, ErrServFail, ErrRefused, ErrRCode, ErrBadReply, ErrNetwork or context.Canceled
	RCode  RCode  // the rcode received, for ErrServFail, ErrRefused and ErrRCode
	Err    error  // the underlying cause, or nil
}

func (e *ServerError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "dnsprobe: %s %s @%s: ", dns.TypeToString[e.Type], e.Name, e.Server)
	e.writeCause(&b)
	return b.String()
}

// writeCause writes what went wrong at the server, as ServerError and
// QueryError both say it: the kind, with the rcode for ErrRCode, then the
// underlying error when it is not the kind itself.
func (e *ServerError) writeCause(b *strings.Builder) {
	switch {
	case errors.Is(e.Kind, ErrRCode):
		fmt.Fprintf(b, "%v %v", e.Kind, e.RCode)
	case e.Kind != nil:
		b.WriteString(e.Kind.Error())
	}
	if e.Err != nil && e.Err != e.Kind {
		fmt.Fprintf(b, ": %v", e.Err)
	}
}

// Unwrap returns Kind and Err, so errors.Is matches both the sentinel and
// the cause (for example context.DeadlineExceeded).
func (e *ServerError) Unwrap() []error {
	var errs []error
	for _, err := range []error{e.Kind, e.Err} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// QueryError is the failure of one question at every server tried, in the
// order tried. A question tried at a single server fails with that
// *ServerError alone.
type QueryError struct {
	Name   string
	Type   uint16
	Errors []*ServerError
}

func (e *QueryError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "dnsprobe: %s %s: all %d servers failed", dns.TypeToString[e.Type], e.Name, len(e.Errors))
	for _, se := range e.Errors {
		fmt.Fprintf(&b, "; @%s: ", se.Server)
		se.writeCause(&b)
	}
	return b.String()
}

// Unwrap returns the per-server errors.
func (e *QueryError) Unwrap() []error {
	errs := make([]error, len(e.Errors))
	for i, se := range e.Errors {
		errs[i] = se
	}
	return errs
}

func (r *Resolver) perQuery() time.Duration {
	if r.PerQuery > 0 {
		return r.PerQuery
	}
	return DefaultPerQuery
}

func (r *Resolver) maxRRs() int {
	if r.MaxRRs > 0 {
		return r.MaxRRs
	}
	return DefaultMaxRRs
}

// Query asks the question (name, qtype) and follows CNAMEs, at most
// MaxCNAMEHops of them, re-asking at the target when a reply stops at a
// CNAME (as an authoritative server does for an out-of-zone target). A
// qtype of dns.TypeCNAME is not followed. name may end with a dot or not.
//
// NXDOMAIN and NODATA are not errors: the Answer has NXDomain set, or no
// RRs. On error the Answer still holds Name and the Chain followed so far.
func (r *Resolver) Query(ctx context.Context, name string, qtype uint16) (Answer, error) {
	n, err := checkName(name)
	if err != nil {
		return Answer{Name: name}, err
	}
	ans := Answer{Name: n}
	servers, err := r.servers(n, qtype)
	if err != nil {
		return ans, err
	}
	cur := n
	for {
		msg, server, err := r.exchange(ctx, servers, cur, qtype)
		if err != nil {
			return ans, err
		}
		ans.Server = server
		ans.RCode = msg.Rcode
		rrs, end, chain, err := follow(msg.Answer, n, qtype, ans.Chain)
		ans.Chain = chain
		if err != nil {
			return ans, err
		}
		if len(rrs) == 0 && msg.Rcode == dns.RcodeSuccess && end != cur {
			// The reply stopped at a CNAME: ask again at its target.
			cur = end
			continue
		}
		ans.NXDomain = len(rrs) == 0 && msg.Rcode == dns.RcodeNameError
		if len(rrs) > r.maxRRs() {
			rrs = rrs[:r.maxRRs()]
			ans.Truncated = true
		}
		ans.RRs = rrs
		for i, rr := range rrs {
			if ttl := rr.Header().Ttl; i == 0 || ttl < ans.TTL {
				ans.TTL = ttl
			}
		}
		return ans, nil
	}
}

// follow walks answer from the last name of chain (or from name when chain
// is empty) through CNAMEs, and returns the records of qtype found at the
// end, the name it ended at, and the extended chain. Records owned by other
// names, or not of class IN, are ignored.
func follow(answer []dns.RR, name string, qtype uint16, chain []string) (rrs []dns.RR, end string, _ []string, err error) {
	end = name
	if len(chain) > 0 {
		end = chain[len(chain)-1]
	}
	for {
		var cname *dns.CNAME
		for _, rr := range answer {
			h := rr.Header()
			if h.Class != dns.ClassINET || domainname.Fold(h.Name) != end {
				continue
			}
			if h.Rrtype == qtype {
				rrs = append(rrs, rr)
			} else if c, ok := rr.(*dns.CNAME); ok && cname == nil {
				cname = c
			}
		}
		if len(rrs) > 0 || cname == nil || qtype == dns.TypeCNAME {
			return rrs, end, chain, nil
		}
		target := domainname.Fold(cname.Target)
		if target == name || slices.Contains(chain, target) {
			chain = append(chain, target)
			return nil, end, chain, fmt.Errorf("dnsprobe: %s %s: %w: %s", dns.TypeToString[qtype], name, ErrCNAMELoop, chainString(name, chain))
		}
		if len(chain) == MaxCNAMEHops {
			return nil, end, chain, fmt.Errorf("dnsprobe: %s %s: %w: more than %d CNAMEs: %s -> %s, and on", dns.TypeToString[qtype], name, ErrCNAMELoop, MaxCNAMEHops, chainString(name, chain), target)
		}
		chain = append(chain, target)
		end = target
	}
}

func chainString(name string, chain []string) string {
	return strings.Join(append([]string{name}, chain...), " -> ")
}

// servers returns r.Servers normalised (see dnsclient.ParseServer), or an error
// naming the question when there are none or one is not an IP literal.
func (r *Resolver) servers(name string, qtype uint16) ([]string, error) {
	if len(r.Servers) == 0 {
		return nil, fmt.Errorf("dnsprobe: %s %s: %w", dns.TypeToString[qtype], name, ErrNoServers)
	}
	servers := make([]string, len(r.Servers))
	for i, s := range r.Servers {
		n, err := dnsclient.ParseServer(s)
		if err != nil {
			return nil, fmt.Errorf("dnsprobe: %s %s: %w", dns.TypeToString[qtype], name, err)
		}
		servers[i] = n
	}
	return servers, nil
}

// exchange asks one question, without following CNAMEs, trying each of
// servers in turn until one gives a usable reply (NOERROR or NXDOMAIN that
// matches the question).
func (r *Resolver) exchange(ctx context.Context, servers []string, name string, qtype uint16) (*dns.Msg, string, error) {
	var errs []*ServerError
	for _, server := range servers {
		if ctx.Err() != nil && len(errs) > 0 {
			break // the caller gave up: don't start on the next server
		}
		msg, err := r.exchangeOne(ctx, server, name, qtype)
		if err == nil {
			return msg, server, nil
		}
		errs = append(errs, err)
	}
	if len(errs) == 1 {
		return nil, "", errs[0]
	}
	return nil, "", &QueryError{Name: name, Type: qtype, Errors: errs}
}

// exchangeOne asks one server, over UDP and then over TCP if the UDP reply
// was truncated (dnsclient.Exchange), and classifies the outcome.
func (r *Resolver) exchangeOne(ctx context.Context, server, name string, qtype uint16) (*dns.Msg, *ServerError) {
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), qtype)
	q.RecursionDesired = true

	fail := func(kind error, rcode int, err error) *ServerError {
		return &ServerError{Server: server, Name: name, Type: qtype, Kind: kind, RCode: RCode(rcode), Err: err}
	}
	reply, err := dnsclient.ExchangeTries(ctx, q, server, r.perQuery(), r.Tries)
	if err != nil {
		return nil, fail(classify(err), 0, err)
	}
	switch reply.Rcode {
	case dns.RcodeSuccess, dns.RcodeNameError:
		return reply, nil
	case dns.RcodeServerFailure:
		return nil, fail(ErrServFail, reply.Rcode, nil)
	case dns.RcodeRefused:
		return nil, fail(ErrRefused, reply.Rcode, nil)
	default:
		return nil, fail(ErrRCode, reply.Rcode, nil)
	}
}

// classify maps the cause of a failed exchange to its kind.
func classify(err error) error {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return ErrTimeout
	case errors.Is(err, context.Canceled):
		return context.Canceled
	case errors.Is(err, dnsclient.ErrBadReply):
		return ErrBadReply // malformed reply, ID or question mismatch
	}
	return ErrNetwork
}
