package dnsprovider

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// ServerState is what one address of one authoritative name server says
// about the record, as the published gate sees it.
type ServerState string

const (
	// ServerPending means: not asked yet.
	ServerPending ServerState = "pending"
	// ServerOK means: answers authoritatively an RRset that want accepts.
	ServerOK ServerState = "ok"
	// ServerMismatch means: answers authoritatively, but not (yet) what is wanted.
	ServerMismatch ServerState = "mismatch"
	// ServerLame means: answers, but not as an authoritative server of the zone
	// (REFUSED, SERVFAIL, NOTAUTH, or no AA bit).
	ServerLame ServerState = "lame"
	// ServerUnreachable means: no answer (timeout, connection refused), or the
	// name server has no address.
	ServerUnreachable ServerState = "unreachable"
)

// ServerStatus is one address of one name server of the zone.
type ServerStatus struct {
	// NS is the name server's name (absolute, lower case).
	NS string `json:"ns"`
	// Addr is the address asked; invalid when the NS has none.
	Addr  netip.Addr  `json:"addr"`
	State ServerState `json:"state"`
	// Answer is what it answered (State ok or mismatch), TTL included.
	Answer TXTSet `json:"answer"`
	// Rcode is the response code of the last answer ("NOERROR", "NXDOMAIN", ...).
	Rcode string `json:"rcode,omitempty"`
	// Error says why it is lame or unreachable.
	Error string `json:"error,omitempty"`
}

// Key identifies the server in a Result.
func (s ServerStatus) Key() string { return s.NS + " " + s.Addr.String() }

// String renders the status for humans: "ns1.example.test. (127.0.0.53) ok: ...".
func (s ServerStatus) String() string {
	addr := "no address"
	if s.Addr.IsValid() {
		addr = s.Addr.String()
	}
	out := fmt.Sprintf("%s (%s) %s", s.NS, addr, s.State)
	switch s.State {
	case ServerOK, ServerMismatch:
		if len(s.Answer.Values) == 0 {
			out += ": no TXT record (" + s.Rcode + ")"
		} else {
			out += ": " + s.Answer.String()
		}
	case ServerLame, ServerUnreachable:
		out += ": " + s.Error
	}
	return out
}

// Result is what the authoritative servers of a zone said about one name.
type Result struct {
	Zone string `json:"zone"`
	Name string `json:"name"`
	// Servers has one entry per address of each name server, sorted by NS
	// name then address.
	Servers []ServerStatus `json:"servers"`
	// OldTTL is the largest TTL seen of an RRset that want did not accept
	// (the record before the change): resolvers may serve it that long
	// after the last server switched. 0 when none was seen.
	OldTTL time.Duration `json:"old_ttl"`
	// Polls is how many rounds of queries were made.
	Polls int `json:"polls"`
}

// Done reports whether there is at least one server and every one is ok.
func (r Result) Done() bool {
	if len(r.Servers) == 0 {
		return false
	}
	for _, s := range r.Servers {
		if s.State != ServerOK {
			return false
		}
	}
	return true
}

// NotDone returns the servers that are not ok.
func (r Result) NotDone() []ServerStatus {
	var out []ServerStatus
	for _, s := range r.Servers {
		if s.State != ServerOK {
			out = append(out, s)
		}
	}
	return out
}

// Answer returns the RRset that most authoritative servers answered (ties:
// the first in server order), and false when none answered
// authoritatively. It is what the zone holds, as far as DNS shows it.
func (r Result) Answer() (TXTSet, bool) {
	var best TXTSet
	bestN := 0
	for i, s := range r.Servers {
		if s.State != ServerOK && s.State != ServerMismatch {
			continue
		}
		n := 0
		for _, o := range r.Servers[i:] {
			if (o.State == ServerOK || o.State == ServerMismatch) && o.Answer.Equal(s.Answer) {
				n++
			}
		}
		if n > bestN {
			best, bestN = s.Answer, n
		}
	}
	return best, bestN > 0
}

// Summary says in one line how far the name has propagated.
func (r Result) Summary() string {
	if len(r.Servers) == 0 {
		return fmt.Sprintf("no name server of %s known", r.Zone)
	}
	bad := r.NotDone()
	if len(bad) == 0 {
		return fmt.Sprintf("all %d name server addresses of %s answer for %s", len(r.Servers), r.Zone, r.Name)
	}
	parts := make([]string, len(bad))
	for i, s := range bad {
		parts[i] = s.String()
	}
	return fmt.Sprintf("%d of %d name server addresses of %s do not answer the expected TXT for %s: %s",
		len(bad), len(r.Servers), r.Zone, r.Name, strings.Join(parts, "; "))
}

// nsAddr is one address of one name server to ask.
type nsAddr struct {
	ns   string
	addr netip.Addr
	err  string // why there is no address
}

// nameServers finds the NS set of zone through the recursive resolvers, and
// every A and AAAA address of each NS: from the additional section (glue)
// when given, else by asking the resolvers.
func (r *Resolver) nameServers(ctx context.Context, zone string) ([]nsAddr, error) {
	zone = Fqdn(zone)
	in, err := r.query(ctx, zone, dns.TypeNS)
	if err != nil {
		return nil, fmt.Errorf("the name servers of %s: %w", zone, err)
	}
	var names []string
	for _, rr := range in.Answer {
		if ns, ok := rr.(*dns.NS); ok && Fqdn(ns.Hdr.Name) == zone {
			if n := Fqdn(ns.Ns); !slices.Contains(names, n) && len(names) < maxNameServers {
				names = append(names, n)
			}
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("the name servers of %s: no NS records (%s); is %s the zone apex?", zone, dns.RcodeToString[in.Rcode], zone)
	}
	slices.Sort(names)
	glue := map[string][]netip.Addr{}
	for _, rr := range in.Extra {
		a := rrAddr(rr)
		n := Fqdn(rr.Header().Name)
		if a.IsValid() && slices.Contains(names, n) && !slices.Contains(glue[n], a) {
			glue[n] = append(glue[n], a)
		}
	}
	out := make([][]nsAddr, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		if addrs := glue[n]; len(addrs) > 0 {
			for _, a := range addrs[:min(len(addrs), maxAddrsPerNS)] {
				out[i] = append(out[i], nsAddr{ns: n, addr: a})
			}
			continue
		}
		wg.Go(func() { out[i] = r.resolveNS(ctx, n) })
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var flat []nsAddr
	for _, o := range out {
		slices.SortFunc(o, func(a, b nsAddr) int { return a.addr.Compare(b.addr) })
		flat = append(flat, o...)
	}
	return flat, nil
}

// rrAddr is the address of an A or AAAA record; for any other record, or
// one without a valid address, the zero Addr.
func rrAddr(rr dns.RR) netip.Addr {
	var a netip.Addr
	switch v := rr.(type) {
	case *dns.A:
		a, _ = netip.AddrFromSlice(v.A.To4())
	case *dns.AAAA:
		a, _ = netip.AddrFromSlice(v.AAAA.To16())
	}
	return a
}

// resolveNS looks up the A and AAAA addresses of one name server.
func (r *Resolver) resolveNS(ctx context.Context, n string) []nsAddr {
	var out []nsAddr
	var errs []string
	for _, t := range []uint16{dns.TypeA, dns.TypeAAAA} {
		in, err := r.query(ctx, n, t)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		for _, rr := range in.Answer {
			if a := rrAddr(rr); a.IsValid() && len(out) < maxAddrsPerNS && !slices.ContainsFunc(out, func(o nsAddr) bool { return o.addr == a }) {
				out = append(out, nsAddr{ns: n, addr: a})
			}
		}
	}
	if len(out) == 0 {
		why := "no A or AAAA record"
		if len(errs) > 0 {
			why += " (" + strings.Join(errs, "; ") + ")"
		}
		return []nsAddr{{ns: n, err: why}}
	}
	return out
}

// authReply is what one address of one name server answered for an
// RRset of type S (TXTSet, MXSet), classified: the part ServerStatus and
// MXServerStatus share.
type authReply[S any] struct {
	state ServerState
	set   S
	rcode string
	err   string
}

// rrsetOf reads the RRset at name of an answer section (txtSetFrom,
// mxSetFrom); given none, it is the empty set.
type rrsetOf[S any] func(name string, rrs []dns.RR) S

// askAuth queries the RRset at name (of type qtype, read by set) from one
// server address, without recursion, and classifies the answer: with no
// address or no answer, unreachable and the empty set.
func askAuth[S any](ctx context.Context, r *Resolver, s nsAddr, name string, qtype uint16, set rrsetOf[S], want func(S) bool) authReply[S] {
	if !s.addr.IsValid() {
		return authReply[S]{state: ServerUnreachable, set: set(name, nil), err: s.err}
	}
	in, err := r.queryAuth(ctx, s.addr, name, qtype)
	if err != nil {
		return authReply[S]{state: ServerUnreachable, set: set(name, nil), err: err.Error()}
	}
	return classify(in, name, set, want)
}

// classify reads an answer about the RRset at name: lame unless it is an
// authoritative NOERROR or NXDOMAIN; then ok or mismatch by want (nil:
// any).
func classify[S any](in *dns.Msg, name string, set rrsetOf[S], want func(S) bool) authReply[S] {
	a := authReply[S]{set: set(name, nil), rcode: dns.RcodeToString[in.Rcode]}
	if a.rcode == "" {
		a.rcode = fmt.Sprintf("RCODE%d", in.Rcode)
	}
	switch {
	case in.Rcode != dns.RcodeSuccess && in.Rcode != dns.RcodeNameError:
		a.state, a.err = ServerLame, "answered "+a.rcode
	case !in.Authoritative:
		a.state, a.err = ServerLame, "answered without the AA bit: it is not authoritative for the zone"
	default:
		a.set = set(name, in.Answer)
		a.state = ServerOK
		if want != nil && !want(a.set) {
			a.state = ServerMismatch
		}
	}
	return a
}

// askOne asks one server address for the TXT RRset at name.
func (r *Resolver) askOne(ctx context.Context, s nsAddr, name string, want func(TXTSet) bool) ServerStatus {
	a := askAuth(ctx, r, s, name, dns.TypeTXT, txtSetFrom, want)
	return ServerStatus{NS: s.ns, Addr: s.addr, State: a.state, Answer: a.set, Rcode: a.rcode, Error: a.err}
}

// askEach runs ask for every server, in parallel, and returns what each
// gave, in servers' order.
func askEach[T any](servers []nsAddr, ask func(i int, s nsAddr) T) []T {
	out := make([]T, len(servers))
	var wg sync.WaitGroup
	for i, s := range servers {
		wg.Go(func() { out[i] = ask(i, s) })
	}
	wg.Wait()
	return out
}

// ReadAuthoritative asks every address of every name server of zone, once
// and in parallel, for the TXT RRset at name, without recursion. A nil want
// accepts any authoritative answer. The error is for what stops the
// question being asked at all (no NS set, ctx done); per-server problems are
// in the Result.
func ReadAuthoritative(ctx context.Context, q *Resolver, zone, name string, want func(TXTSet) bool) (Result, error) {
	res := Result{Zone: Fqdn(zone), Name: Fqdn(name)}
	if _, err := relativeName(zone, name); err != nil {
		return res, err
	}
	servers, err := q.nameServers(ctx, zone)
	if err != nil {
		return res, err
	}
	res.Servers = q.poll(ctx, servers, nil, name, want)
	res.Polls = 1
	res.OldTTL = oldTTL(res.Servers, 0)
	return res, ctx.Err()
}

// MXServerStatus is what one address of one authoritative name server
// answers for an MX RRset.
type MXServerStatus struct {
	NS     string      `json:"ns"`
	Addr   netip.Addr  `json:"addr"`
	State  ServerState `json:"state"`
	Answer MXSet       `json:"answer"`
	Rcode  string      `json:"rcode,omitempty"`
	Error  string      `json:"error,omitempty"`
}

// ReadAuthoritativeMX asks every address of every name server of zone, in
// parallel and without recursion, for the MX RRset at name; want (nil:
// any) decides ok or mismatch, as ReadAuthoritative does for TXT.
func ReadAuthoritativeMX(ctx context.Context, q *Resolver, zone, name string, want func(MXSet) bool) ([]MXServerStatus, error) {
	if _, err := relativeName(zone, name); err != nil {
		return nil, err
	}
	servers, err := q.nameServers(ctx, zone)
	if err != nil {
		return nil, err
	}
	out := askEach(servers, func(_ int, s nsAddr) MXServerStatus {
		a := askAuth(ctx, q, s, name, dns.TypeMX, mxSetFrom, want)
		return MXServerStatus{NS: s.ns, Addr: s.addr, State: a.state, Answer: a.set, Rcode: a.rcode, Error: a.err}
	})
	return out, ctx.Err()
}

// poll asks the servers whose previous status (prev, same order; nil for
// the first round) is not ok.
func (r *Resolver) poll(ctx context.Context, servers []nsAddr, prev []ServerStatus, name string, want func(TXTSet) bool) []ServerStatus {
	return askEach(servers, func(i int, s nsAddr) ServerStatus {
		if prev != nil && prev[i].State == ServerOK {
			return prev[i]
		}
		return r.askOne(ctx, s, name, want)
	})
}

func oldTTL(ss []ServerStatus, cur time.Duration) time.Duration {
	for _, s := range ss {
		if s.State == ServerMismatch {
			cur = max(cur, s.Answer.TTL)
		}
	}
	return cur
}

// DefaultPollInterval is how often WaitPropagated asks again.
const DefaultPollInterval = 2 * time.Second

// PropagationOptions tunes [WaitPropagated].
type PropagationOptions struct {
	// Resolver finds the NS set and asks the servers; nil is the system's.
	Resolver *Resolver
	// Interval between rounds; DefaultPollInterval when 0.
	Interval time.Duration
	// After waits between rounds, like time.After; nil is the real clock.
	// Tests and the workflow engine pass their clock's.
	After func(time.Duration) <-chan time.Time
	// Progress, when set, is called from WaitPropagated's goroutine with
	// each server's status when it is first known and whenever its state
	// or answer changes.
	Progress func(ServerStatus)
}

// ErrNotPropagated is wrapped by WaitPropagated's error when the deadline
// passed before every server answered what was wanted.
var ErrNotPropagated = errors.New("not yet served by every authoritative name server")

// WaitPropagated asks every address of every authoritative name server of
// zone (the NS set at the apex, each NS's A and AAAA addresses) for the TXT
// RRset at name, directly and without recursion, every Interval, until each
// answers authoritatively an RRset that want accepts, or ctx is done. A
// server that has answered what is wanted is not asked again. It prints
// nothing. On ctx's end the error wraps ErrNotPropagated and ctx's
// error, and names every server that is lame, unreachable or not yet
// serving the record; the Result holds the last status of each.
func WaitPropagated(ctx context.Context, opts PropagationOptions, zone, name string, want func(TXTSet) bool) (Result, error) {
	q := opts.Resolver
	if q == nil {
		q = &Resolver{}
	}
	interval := opts.Interval
	if interval <= 0 {
		interval = DefaultPollInterval
	}
	after := opts.After
	if after == nil {
		after = time.After
	}
	res := Result{Zone: Fqdn(zone), Name: Fqdn(name)}
	if _, err := relativeName(zone, name); err != nil {
		return res, err
	}
	var servers []nsAddr
	var lastErr error
	for {
		if servers == nil {
			s, err := q.nameServers(ctx, zone)
			if err != nil {
				lastErr = err
			} else {
				servers, lastErr = s, nil
			}
		}
		if servers != nil {
			var prev []ServerStatus
			if len(res.Servers) == len(servers) {
				prev = res.Servers
			}
			cur := q.poll(ctx, servers, prev, name, want)
			if ctx.Err() == nil || prev == nil {
				res.Polls++
				if opts.Progress != nil {
					for i, s := range cur {
						if prev == nil || prev[i].State != s.State || !prev[i].Answer.Equal(s.Answer) || prev[i].Answer.TTL != s.Answer.TTL {
							opts.Progress(s)
						}
					}
				}
				res.Servers = cur
				res.OldTTL = oldTTL(cur, res.OldTTL)
			}
			if res.Done() {
				return res, nil
			}
		}
		select {
		case <-ctx.Done():
			if servers == nil {
				return res, fmt.Errorf("published gate for %s: %w: %w (%v)", res.Name, ErrNotPropagated, ctx.Err(), lastErr)
			}
			return res, fmt.Errorf("published gate: %w: %s: %w", ErrNotPropagated, res.Summary(), ctx.Err())
		case <-after(interval):
		}
	}
}
