package checks

import (
	"context"

	"github.com/stspilot/stspilot/checks/smtpprobe"
	"github.com/stspilot/stspilot/internal/domainname"
)

// ProbeMXHost probes one prospective MX host the way a check probes a
// domain's MX hosts: its A and AAAA records, then SMTP, STARTTLS and the
// certificate for its name at every address (at most as many as a check
// probes). The mx-migrate workflow's preflight runs it on each target
// before any change. It never returns an empty Host.
func ProbeMXHost(ctx context.Context, host string, opt Options) LiveMX {
	live := LiveMX{Host: host}
	h, err := domainname.Normalize(host)
	if err != nil {
		live.NoAddress, live.Problem = true, "not a host name: "+err.Error()
		return live
	}
	live.Host = h
	res, err := opt.resolver()
	if err != nil {
		live.NoAddress, live.Problem = true, "no DNS resolver: "+err.Error()
		return live
	}
	ctx, cancel := opt.bound(ctx)
	defer cancel()
	addrs := res.Addrs(ctx, h)
	if len(addrs.Addrs) == 0 {
		live.NoAddress, live.Problem = true, "no A or AAAA record"
		if addrs.NXDomain {
			live.Problem = "the name does not exist (NXDOMAIN)"
		}
		return live
	}
	as := addrs.Addrs
	if len(as) > maxAddrsPerHost {
		as = as[:maxAddrsPerHost]
	}
	p := &smtpprobe.Prober{Roots: opt.Roots, Port: opt.SMTPPort, Now: opt.Now, Courtesy: opt.Courtesy}
	if p.Courtesy == nil {
		p.Courtesy = &courtesy
	}
	for _, a := range as {
		live.Addrs = append(live.Addrs, liveMXAddr(p.Probe(ctx, h, a)))
	}
	return live
}
