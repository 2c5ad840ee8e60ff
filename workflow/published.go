package workflow

import (
	"context"
	"fmt"
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
	g := GateResult{Kind: GatePublished}
	res, err := dnsprovider.ReadAuthoritative(ctx, a.Resolver, zone, name, want)
	if err != nil {
		g.Reason = fmt.Sprintf("asking the name servers of %s: %v", strings.TrimSuffix(zone, "."), err)
		return g
	}
	for _, s := range res.Servers {
		ts := TargetStatus{Name: strings.TrimSuffix(s.NS, "."), State: StatePending}
		if s.Addr.IsValid() {
			ts.Addr = s.Addr.String()
		}
		switch s.State {
		case dnsprovider.ServerOK:
			ts.State = StateOK
		case dnsprovider.ServerLame:
			ts.State = StateLame
		case dnsprovider.ServerUnreachable:
			ts.State = StateUnreachable
		}
		switch {
		case s.Error != "":
			ts.Detail = s.Error
		case len(s.Answer.Values) == 0:
			ts.Detail = "no TXT record (" + s.Rcode + ")"
		default:
			ts.Detail = strings.Join(s.Answer.Values, " | ")
		}
		g.Targets = append(g.Targets, ts)
	}
	if len(g.Targets) == 0 {
		g.Reason = "the zone " + strings.TrimSuffix(zone, ".") + " has no name server to ask"
		return g
	}
	return summarize(g, "the name servers of "+strings.TrimSuffix(zone, "."), "answer the new record")
}

// CheckMX implements MXPublishedChecker: every address of every name
// server of zone answers, without recursion, an MX RRset at name that want
// accepts.
func (a AuthPublished) CheckMX(ctx context.Context, zone, name string, want func(dnsprovider.MXSet) bool) GateResult {
	g := GateResult{Kind: GatePublished}
	res, err := dnsprovider.ReadAuthoritativeMX(ctx, a.Resolver, zone, name, want)
	if err != nil {
		g.Reason = fmt.Sprintf("asking the name servers of %s: %v", strings.TrimSuffix(zone, "."), err)
		return g
	}
	for _, s := range res {
		ts := TargetStatus{Name: strings.TrimSuffix(s.NS, "."), State: StatePending}
		if s.Addr.IsValid() {
			ts.Addr = s.Addr.String()
		}
		switch s.State {
		case dnsprovider.ServerOK:
			ts.State = StateOK
		case dnsprovider.ServerLame:
			ts.State = StateLame
		case dnsprovider.ServerUnreachable:
			ts.State = StateUnreachable
		}
		switch {
		case s.Error != "":
			ts.Detail = s.Error
		case len(s.Answer.Records) == 0:
			ts.Detail = "no MX record (" + s.Rcode + ")"
		default:
			ts.Detail = strings.Join(mxLines(s.Answer.Records), " | ")
		}
		g.Targets = append(g.Targets, ts)
	}
	if len(g.Targets) == 0 {
		g.Reason = "the zone " + strings.TrimSuffix(zone, ".") + " has no name server to ask"
		return g
	}
	return summarize(g, "the name servers of "+strings.TrimSuffix(zone, "."), "answer the new MX set")
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
