package workflow

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"mime"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/stspilot/stspilot/checks/dnsprobe"
	"github.com/stspilot/stspilot/checks/httpsprobe"
	"github.com/stspilot/stspilot/internal/duration"
	"github.com/stspilot/stspilot/internal/txtrecord"
)

// GateKind names a gate of docs/design.md.
type GateKind string

// The gates, in the order a recipe meets them.
const (
	GateLive      GateKind = "live"      // the checks for the target mode pass
	GateServed    GateKind = "served"    // every policy-host address serves the exact new bytes
	GatePublished GateKind = "published" // every authoritative name server answers the new record
	GateWindow    GateKind = "window"    // time has passed (soak, cache window)
	GateEvidence  GateKind = "evidence"  // TLS-RPT reports show no failures for this policy
)

// GateState says how a closed gate opens.
type GateState string

const (
	// GateWaiting means the gate opens by itself (a window ends at NextAt; a
	// change propagates and the next poll may see it).
	GateWaiting GateState = "waiting"
	// GateBlocked means the gate opens only once something is fixed (an
	// address of the policy host answers an error); NextAt is only the
	// next re-check, never a time it opens.
	GateBlocked GateState = "blocked"
)

// GateResult is one evaluation of a gate.
type GateResult struct {
	Kind GateKind `json:"kind"`
	Open bool     `json:"open"`
	// State says how a closed gate opens ("" when open).
	State GateState `json:"state,omitempty"`
	// Reason says why it is closed (or what opened it), in words.
	Reason string `json:"reason"`
	// NextAt is when to look again: the end of a window (waiting), or the
	// next re-check (a poll; for a blocked gate the only time it has).
	NextAt *time.Time `json:"next_at,omitempty"`
	// Targets are the per-address (served) or per-name-server (published) results.
	Targets []TargetStatus `json:"targets,omitempty"`
	// Blockers are what blocks a blocked gate: each address that answers
	// an error, what it answered, and the fix.
	Blockers []Blocker `json:"blockers,omitempty"`
	// Meanwhile is what senders do while the gate is blocked: the worst
	// case of the horizon (senders keep this cached policy until its Until
	// whatever the operator does); nil when nothing may be cached.
	Meanwhile *CachedPolicy `json:"meanwhile,omitempty"`

	// window is what a window gate waits out ("the 336h0m0s soak of ..."),
	// so that the gate is evaluated again at another time without reading
	// its Reason back.
	window string
}

// TargetStatus is the state of one address of the policy host or one
// address of one authoritative name server.
type TargetStatus struct {
	// Name is the host (mta-sts.DOMAIN) or the name server's name.
	Name string `json:"name"`
	// Addr is the IP address asked.
	Addr string `json:"addr"`
	// State: ok, pending (answers, but not yet the new value), failed
	// (answers wrongly: status, type, certificate), lame, unreachable.
	State  string `json:"state"`
	Detail string `json:"detail,omitempty"`
	// Finding is the id of checks' finding for a failed answer
	// ("policy.http-status"): its fix text is the fix ("" when none).
	Finding string `json:"finding,omitempty"`
}

// Blocker is one address that blocks a gate.
type Blocker struct {
	// Name is the host asked (mta-sts.DOMAIN) and Addr its address ("" when
	// the host has none).
	Name string `json:"name"`
	Addr string `json:"addr,omitempty"`
	// Answer is what it answered ("HTTP 404", "connection refused").
	Answer string `json:"answer"`
	// Finding is the id of checks' finding whose fix applies.
	Finding string `json:"finding,omitempty"`
}

// Target states.
const (
	StateOK          = "ok"
	StatePending     = "pending"
	StateFailed      = "failed"
	StateLame        = "lame"
	StateUnreachable = "unreachable"
)

// ServedChecker evaluates the served gate: the exact policy bytes come back
// from every A and AAAA address of mta-sts.DOMAIN with status 200,
// text/plain, no redirect and a valid certificate for that name
// (docs/design.md step 2; STS-FETCH-1..10).
type ServedChecker struct {
	Resolver *dnsprobe.Resolver
	Fetcher  *httpsprobe.Fetcher
}

// NewServedChecker builds a checker over resolvers (host:port; empty: the
// system's), trusting roots (nil: the system pool, SSL_CERT_FILE honoured).
func NewServedChecker(resolvers []string, roots *x509.CertPool, httpsPort int, now func() time.Time) (*ServedChecker, error) {
	res := &dnsprobe.Resolver{Servers: resolvers}
	if len(resolvers) == 0 {
		var err error
		// The system's resolvers, asked as resolv.conf's options say.
		res, err = dnsprobe.SystemResolver(dnsprobe.DefaultResolvConf)
		if err != nil {
			return nil, err
		}
	}
	return &ServedChecker{
		Resolver: res,
		Fetcher:  &httpsprobe.Fetcher{Roots: roots, Port: httpsPort, Now: now},
	}, nil
}

// Check fetches the policy from every address in parallel. want nil means
// "anything valid": used to see what is served now.
func (c *ServedChecker) Check(ctx context.Context, domain string, want []byte) GateResult {
	host := txtrecord.PolicyHost(domain)
	g := GateResult{Kind: GateServed}
	ar := c.Resolver.Addrs(ctx, host)
	if len(ar.Addrs) == 0 {
		why := "no A or AAAA record"
		if ar.NXDomain {
			why = "the name does not exist"
		} else if ar.ErrA != nil {
			why = ar.ErrA.Error()
		}
		g.Reason = fmt.Sprintf("%s has no address (%s): add A/AAAA records for the policy host", host, why)
		g.Targets = []TargetStatus{{Name: host, State: StateUnreachable, Detail: why, Finding: "policy.unreachable"}}
		g.State = GateBlocked
		g.Blockers = []Blocker{{Name: host, Answer: why, Finding: "policy.unreachable"}}
		return g
	}
	g.Targets = make([]TargetStatus, len(ar.Addrs))
	var wg sync.WaitGroup
	for i, a := range ar.Addrs {
		wg.Go(func() {
			g.Targets[i] = c.fetchOne(ctx, host, a, want)
		})
	}
	wg.Wait()
	return blockers(summarize(g, host, "serve the new policy"))
}

// blockers marks a closed served gate blocked when an address answers an
// error (a status, a redirect, a certificate, a refused or timed-out
// connection): it opens only once that is fixed. An address that serves
// other bytes is a change still on its way: waiting.
func blockers(g GateResult) GateResult {
	if g.Open {
		return g
	}
	g.State = GateWaiting
	for _, t := range g.Targets {
		if t.State == StateFailed || t.State == StateUnreachable {
			g.State = GateBlocked
			g.Blockers = append(g.Blockers, Blocker{Name: t.Name, Addr: t.Addr, Answer: t.Detail, Finding: t.Finding})
		}
	}
	return g
}

func (c *ServedChecker) fetchOne(ctx context.Context, host string, a netip.Addr, want []byte) TargetStatus {
	ts := TargetStatus{Name: host, Addr: a.String()}
	r := c.Fetcher.Fetch(ctx, host, a, httpsprobe.SenderUA)
	mt, _, _ := mime.ParseMediaType(r.ContentType)
	switch {
	case r.Cert.Problem != "":
		ts.State, ts.Detail, ts.Finding = StateFailed, fmt.Sprintf("certificate: %s", r.Cert.Problem), "policy.cert"
	case r.Err != nil && r.Status == 0:
		ts.State, ts.Detail, ts.Finding = StateUnreachable, r.Err.Error(), "policy.unreachable"
	case r.Err != nil:
		ts.State, ts.Detail, ts.Finding = StateFailed, r.Err.Error(), "policy.unreachable"
	case r.Status >= 300 && r.Status < 400:
		ts.State, ts.Detail, ts.Finding = StateFailed, fmt.Sprintf("redirect %d to %s (senders do not follow redirects)", r.Status, r.Location), "policy.redirect"
	case r.Status != 200:
		ts.State, ts.Detail, ts.Finding = StateFailed, fmt.Sprintf("HTTP %d", r.Status), "policy.http-status"
	case mt != "text/plain":
		ts.State, ts.Detail, ts.Finding = StateFailed, fmt.Sprintf("Content-Type %q, senders want text/plain", r.ContentType), "policy.content-type"
	case want != nil && !bytes.Equal(r.Body, want):
		ts.State, ts.Detail = StatePending, fmt.Sprintf("serves other bytes (sha256 %s, %d bytes)", shortHash(r.Body), len(r.Body))
	default:
		ts.State, ts.Detail = StateOK, fmt.Sprintf("sha256 %s", shortHash(r.Body))
	}
	return ts
}

func shortHash(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:6])
}

// summarize opens g when every target is ok and writes the reason.
func summarize(g GateResult, what, verb string) GateResult {
	var bad []string
	for _, t := range g.Targets {
		if t.State != StateOK {
			bad = append(bad, fmt.Sprintf("%s %s: %s", t.Addr, t.State, t.Detail))
		}
	}
	if len(bad) == 0 {
		g.Open = true
		g.Reason = fmt.Sprintf("all %d addresses of %s %s", len(g.Targets), what, verb)
		if len(g.Targets) == 1 {
			g.Reason = fmt.Sprintf("the only address of %s (%s) %s", what, g.Targets[0].Addr, singular(verb))
		}
		return g
	}
	g.Reason = fmt.Sprintf("%d of %d addresses of %s do not yet %s: %s", len(bad), len(g.Targets), what, verb, strings.Join(bad, "; "))
	return g
}

// windowGate is open once now has reached until.
func windowGate(now, until time.Time, what string) GateResult {
	g := GateResult{Kind: GateWindow, window: what}
	if !now.Before(until) {
		g.Open = true
		g.Reason = fmt.Sprintf("%s ended at %s", what, until.UTC().Format(time.RFC3339))
		return g
	}
	u := until.UTC()
	g.NextAt = &u
	g.State = GateWaiting
	g.Reason = fmt.Sprintf("%s ends at %s (in %s)", what, u.Format(time.RFC3339), duration.Format(until.Sub(now)))
	return g
}

// singular turns "serve the new policy" into "serves the new policy".
func singular(verb string) string {
	first, rest, _ := strings.Cut(verb, " ")
	return first + "s " + rest
}
