package workflow

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/stspilot/stspilot/dnsprovider"
)

// AuthPublished is the published gate over the zone's authoritative name
// servers: every address of every NS is asked, without recursion, once per
// evaluation (dnsprovider.ReadAuthoritative); the engine polls.
type AuthPublished struct {
	Resolver *dnsprovider.Resolver
}

// Check implements PublishedChecker.
func (a AuthPublished) Check(ctx context.Context, zone, name string, want func(dnsprovider.TXTSet) bool) GateResult {
	res, err := dnsprovider.ReadAuthoritative(ctx, a.Resolver, zone, name, want)
	if err != nil {
		return nsGate(zone, nil, err, "")
	}
	var targets []TargetStatus
	for _, s := range res.Servers {
		targets = append(targets, nsTarget(s.NS, s.Addr, s.State, s.Error, s.Rcode, "TXT", s.Answer.Values))
	}
	return nsGate(zone, targets, nil, "answer the new record")
}

// CheckMX implements MXPublishedChecker: every address of every name
// server of zone answers, without recursion, an MX RRset at name that want
// accepts.
func (a AuthPublished) CheckMX(ctx context.Context, zone, name string, want func(dnsprovider.MXSet) bool) GateResult {
	res, err := dnsprovider.ReadAuthoritativeMX(ctx, a.Resolver, zone, name, want)
	if err != nil {
		return nsGate(zone, nil, err, "")
	}
	var targets []TargetStatus
	for _, s := range res {
		targets = append(targets, nsTarget(s.NS, s.Addr, s.State, s.Error, s.Rcode, "MX", mxLines(s.Answer.Records)))
	}
	return nsGate(zone, targets, nil, "answer the new MX set")
}

// nsTarget is one address of one name server as a target of the published
// gate: its state, then its error, its answer (lines) or that it has no
// record of kind (with the response code).
func nsTarget(ns string, addr netip.Addr, state dnsprovider.ServerState, errText, rcode, kind string, answer []string) TargetStatus {
	ts := TargetStatus{Name: strings.TrimSuffix(ns, "."), State: StatePending}
	if addr.IsValid() {
		ts.Addr = addr.String()
	}
	switch state {
	case dnsprovider.ServerOK:
		ts.State = StateOK
	case dnsprovider.ServerLame:
		ts.State = StateLame
	case dnsprovider.ServerUnreachable:
		ts.State = StateUnreachable
	}
	switch {
	case errText != "":
		ts.Detail = errText
	case len(answer) == 0:
		ts.Detail = "no " + kind + " record (" + rcode + ")"
	default:
		ts.Detail = strings.Join(answer, " | ")
	}
	return ts
}

// nsGate is the published gate over the targets of zone's name servers,
// which must all answer what; err says they could not be asked.
func nsGate(zone string, targets []TargetStatus, err error, what string) GateResult {
	g := GateResult{Kind: GatePublished}
	z := strings.TrimSuffix(zone, ".")
	if err != nil {
		g.Reason = fmt.Sprintf("asking the name servers of %s: %v", z, err)
		return g
	}
	g.Targets = targets
	if len(g.Targets) == 0 {
		g.Reason = "the zone " + z + " has no name server to ask"
		return g
	}
	return summarize(g, "the name servers of "+z, what)
}

// ReadMX implements MXReader: the MX RRset most authoritative servers
// answer (the first in server order on a tie).
func (a AuthPublished) ReadMX(ctx context.Context, zone, name string) (dnsprovider.MXSet, error) {
	res, err := dnsprovider.ReadAuthoritativeMX(ctx, a.Resolver, zone, name, nil)
	if err != nil {
		return dnsprovider.MXSet{}, err
	}
	best, bestN := dnsprovider.MXSet{}, 0
	for i, s := range res {
		if s.State != dnsprovider.ServerOK {
			continue
		}
		n := 0
		for _, o := range res[i:] {
			if o.State == dnsprovider.ServerOK && o.Answer.Equal(s.Answer) {
				n++
			}
		}
		if n > bestN {
			best, bestN = s.Answer, n
		}
	}
	if bestN == 0 {
		return best, fmt.Errorf("no authoritative server of %s answered for the MX records of %s", strings.TrimSuffix(zone, "."), strings.TrimSuffix(name, "."))
	}
	return best, nil
}
