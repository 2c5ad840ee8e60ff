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
	"github.com/stspilot/stspilot/internal/txtrecord"
)

// GateKind names a gate of docs/design.md.
type GateKind string

const (
	GateLive      GateKind = "live"      // the checks for the target mode pass
	GateServed    GateKind = "served"    // every policy-host address serves the exact new bytes
	GatePublished GateKind = "published" // every authoritative name server answers the new record
	GateWindow    GateKind = "window"    // time has passed (soak, cache window)
	GateEvidence  GateKind = "evidence"  // TLS-RPT reports show no failures for this policy
)

// GateResult is one evaluation of a gate.
type GateResult struct {
	Kind GateKind `json:"kind"`
	Open bool     `json:"open"`
	// Reason says why it is closed (or what opened it), in words.
	Reason string `json:"reason"`
	// NextAt is when to look again: the end of a window, or the next poll.
	NextAt *time.Time `json:"next_at,omitempty"`
	// Targets are the per-address (served) or per-name-server (published) results.
	Targets []TargetStatus `json:"targets,omitempty"`

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
	servers := resolvers
	if len(servers) == 0 {
		var err error
		servers, err = dnsprobe.SystemServers(dnsprobe.DefaultResolvConf)
		if err != nil {
			return nil, err
		}
	}
	return &ServedChecker{
		Resolver: &dnsprobe.Resolver{Servers: servers},
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
		g.Targets = []TargetStatus{{Name: host, State: StateUnreachable, Detail: why}}
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
	return summarize(g, host, "serve the new policy")
}

func (c *ServedChecker) fetchOne(ctx context.Context, host string, a netip.Addr, want []byte) TargetStatus {
	ts := TargetStatus{Name: host, Addr: a.String()}
	r := c.Fetcher.Fetch(ctx, host, a, httpsprobe.SenderUA)
	mt, _, _ := mime.ParseMediaType(r.ContentType)
	switch {
	case r.Err != nil && r.Status == 0:
		ts.State, ts.Detail = StateUnreachable, r.Err.Error()
	case r.Cert.Problem != "":
		ts.State, ts.Detail = StateFailed, fmt.Sprintf("certificate: %s", r.Cert.Problem)
	case r.Err != nil:
		ts.State, ts.Detail = StateFailed, r.Err.Error()
	case r.Status >= 300 && r.Status < 400:
		ts.State, ts.Detail = StateFailed, fmt.Sprintf("redirect %d to %s (senders do not follow redirects)", r.Status, r.Location)
	case r.Status != 200:
		ts.State, ts.Detail = StatePending, fmt.Sprintf("HTTP %d", r.Status)
	case mt != "text/plain":
		ts.State, ts.Detail = StateFailed, fmt.Sprintf("Content-Type %q, senders want text/plain", r.ContentType)
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
	g.Reason = fmt.Sprintf("%s ends at %s (in %s)", what, u.Format(time.RFC3339), until.Sub(now).Round(time.Second))
	return g
}

// singular turns "serve the new policy" into "serves the new policy".
func singular(verb string) string {
	first, rest, _ := strings.Cut(verb, " ")
	return first + "s " + rest
}
