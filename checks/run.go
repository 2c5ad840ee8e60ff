package checks

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/stspilot/stspilot/checks/dnsprobe"
	"github.com/stspilot/stspilot/checks/httpsprobe"
	"github.com/stspilot/stspilot/checks/smtpprobe"
	"github.com/stspilot/stspilot/internal/domainname"
	"github.com/stspilot/stspilot/internal/printable"
	"github.com/stspilot/stspilot/internal/txtrecord"
)

// Defaults for Options.
const (
	DefaultTimeout = 30 * time.Second
	DefaultMaxMX   = 20
	// maxAddrsPerHost bounds the addresses probed per host name.
	maxAddrsPerHost = 8
	// maxParallelSMTP bounds concurrent SMTP probes of one domain.
	maxParallelSMTP = 32
)

// resolvConf is the system's resolver list (a variable for tests).
var resolvConf = "/etc/resolv.conf"

// courtesy holds the courtesy commands of every Run whose
// Options.Courtesy is nil.
var courtesy smtpprobe.Courtesy

// ErrNoResolver is a Report's Cause when no DNS resolver was given and the
// system names none: the front ends say how to give one.
var ErrNoResolver = errors.New("no DNS resolver")

// WaitCourtesy joins the commands that MX probes of Runs without an
// Options.Courtesy send after their last observation (EHLO and QUIT, which
// observe nothing and so never delay a report): it returns when they have
// all ended or, once ctx is done, cuts those still running and returns. A
// program calls it with a short bound before it exits, so that servers see
// a QUIT where one is quick and the exit is never held up.
func WaitCourtesy(ctx context.Context) { courtesy.Wait(ctx) }

// observations is everything the probes saw; analysis turns it into a Report.
type observations struct {
	domain string
	now    time.Time

	sts    dnsprobe.TXTResult
	stsErr error
	rpt    dnsprobe.TXTResult
	rptErr error

	host    dnsprobe.AddrResult
	fetches []fetchPair

	mx        dnsprobe.MXResult
	mxErr     error
	mxHosts   []mxObs
	mxSkipped int
}

// fetchPair is the policy fetched from one address as a sender and as a browser.
type fetchPair struct {
	sender, browser httpsprobe.Result
}

type mxObs struct {
	mx     dnsprobe.MX
	cname  string
	addrs  dnsprobe.AddrResult
	probes []smtpprobe.Result
}

// resolver asks the resolvers: opt.Resolvers, or the system's when none
// are given, as resolv.conf's timeout and attempts options say.
func (opt Options) resolver() (*dnsprobe.Resolver, error) {
	if len(opt.Resolvers) > 0 {
		return &dnsprobe.Resolver{Servers: opt.Resolvers}, nil
	}
	return dnsprobe.SystemResolver(resolvConf)
}

// bound limits ctx to opt.Timeout, DefaultTimeout when that is not set.
func (opt Options) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	timeout := opt.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return context.WithTimeout(ctx, timeout)
}

// Run checks one domain live. It never returns nil; a domain that could not
// be checked at all has Report.Error set (and no findings).
func Run(ctx context.Context, input string, opt Options) *Report {
	now := time.Now
	if opt.Now != nil {
		now = opt.Now
	}
	start := time.Now()
	rep := &Report{Schema: SchemaVersion, CheckedAt: now().UTC(), Findings: []Finding{}}
	domain, err := domainname.Normalize(input)
	if err != nil {
		rep.Domain = printable.Clip(input, 253)
		rep.Error = err.Error()
		return rep
	}
	rep.Domain = domain
	if input != domain {
		rep.Input = input
	}
	res, err := opt.resolver()
	if err != nil {
		rep.Error = "no DNS resolver: " + err.Error()
		rep.Cause = fmt.Errorf("%w: %w", ErrNoResolver, err)
		return rep
	}
	ctx, cancel := opt.bound(ctx)
	defer cancel()

	obs := probe(ctx, domain, res, opt, now)
	if e := unreachableResolvers(obs); e != "" {
		rep.Error = e
	} else if ctx.Err() != nil && errors.Is(context.Cause(ctx), context.Canceled) {
		rep.Error = "interrupted"
	} else {
		analyze(obs, rep)
	}
	rep.DurationMS = time.Since(start).Milliseconds()
	return rep
}

// unreachableResolvers returns an error text when no resolver answered at
// all, so the domain could not be checked (as opposed to a domain whose own
// DNS is broken, which is a finding).
func unreachableResolvers(o *observations) string {
	dead := func(err error) bool {
		return err != nil && (errors.Is(err, dnsprobe.ErrTimeout) || errors.Is(err, dnsprobe.ErrNetwork) ||
			errors.Is(err, dnsprobe.ErrNoServers) || errors.Is(err, context.Canceled))
	}
	if dead(o.stsErr) && dead(o.mxErr) && dead(o.rptErr) {
		return fmt.Sprintf("could not check %s: no DNS answer (%v)", o.domain, o.stsErr)
	}
	return ""
}

// probe runs every independent probe in parallel: the three TXT/MX lookups
// start together, the HTTPS fetches start as soon as the policy host's
// addresses are known, and each MX's SMTP probes as soon as its addresses are.
func probe(ctx context.Context, domain string, res *dnsprobe.Resolver, opt Options, now func() time.Time) *observations {
	o := &observations{domain: domain, now: now()}
	track := func(name string, f func() bool) {
		t0 := time.Now()
		if opt.Progress != nil {
			opt.Progress(ProbeEvent{Probe: name})
		}
		ok := f()
		if opt.Progress != nil {
			el := time.Since(t0)
			opt.Progress(ProbeEvent{Probe: name, Done: true, OK: ok, Elapsed: el, ElapsedMS: el.Milliseconds()})
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		track("dns:"+txtrecord.STSName(domain)+" TXT", func() bool {
			o.sts, o.stsErr = res.TXT(ctx, txtrecord.STSName(domain))
			return o.stsErr == nil
		})
	})
	wg.Go(func() {
		track("dns:"+txtrecord.TLSRPTName(domain)+" TXT", func() bool {
			o.rpt, o.rptErr = res.TXT(ctx, txtrecord.TLSRPTName(domain))
			return o.rptErr == nil
		})
	})
	wg.Go(func() { o.fetches = probePolicyHost(ctx, o, res, opt, now, track) })
	wg.Go(func() { probeMX(ctx, o, res, opt, now, track) })
	wg.Wait()
	return o
}

func probePolicyHost(ctx context.Context, o *observations, res *dnsprobe.Resolver, opt Options, now func() time.Time, track func(string, func() bool)) []fetchPair {
	host := txtrecord.PolicyHost(o.domain)
	track("dns:"+host+" A/AAAA", func() bool {
		o.host = res.Addrs(ctx, host)
		return len(o.host.Addrs) > 0
	})
	addrs := o.host.Addrs
	if len(addrs) > maxAddrsPerHost {
		addrs = addrs[:maxAddrsPerHost]
	}
	f := &httpsprobe.Fetcher{Roots: opt.Roots, Port: opt.HTTPSPort, Now: now}
	out := make([]fetchPair, len(addrs))
	var wg sync.WaitGroup
	for i, a := range addrs {
		wg.Go(func() {
			track("https:"+a.String(), func() bool {
				out[i].sender = f.Fetch(ctx, host, a, httpsprobe.SenderUA)
				return out[i].sender.Err == nil && out[i].sender.Status == 200
			})
		})
		wg.Go(func() { out[i].browser = f.Fetch(ctx, host, a, httpsprobe.BrowserUA) })
	}
	wg.Wait()
	return out
}

func probeMX(ctx context.Context, o *observations, res *dnsprobe.Resolver, opt Options, now func() time.Time, track func(string, func() bool)) {
	track("dns:"+o.domain+" MX", func() bool {
		o.mx, o.mxErr = res.MX(ctx, o.domain)
		return o.mxErr == nil
	})
	hosts := o.mx.MX
	maxMX := opt.MaxMX
	if maxMX <= 0 {
		maxMX = DefaultMaxMX
	}
	if len(hosts) > maxMX {
		o.mxSkipped = len(hosts) - maxMX
		hosts = hosts[:maxMX]
	}
	o.mxHosts = make([]mxObs, len(hosts))
	sem := make(chan struct{}, maxParallelSMTP)
	p := &smtpprobe.Prober{Roots: opt.Roots, Port: opt.SMTPPort, Now: now, Courtesy: opt.Courtesy}
	if p.Courtesy == nil {
		p.Courtesy = &courtesy
	}
	var wg sync.WaitGroup
	for i, m := range hosts {
		o.mxHosts[i].mx = m
		if m.Host == "" { // null MX
			continue
		}
		// Whether the MX host is an alias: its own CNAME question, in
		// parallel, and the A answer the address lookup gets anyway (which
		// starts with the CNAME when there is one), so that no question is
		// asked twice.
		var alias string
		var aliasOK bool
		var aliasDone sync.WaitGroup
		aliasDone.Go(func() {
			if t, ok, err := res.CNAME(ctx, m.Host); err == nil && ok {
				alias, aliasOK = t, true
			}
		})
		wg.Go(func() {
			mo := &o.mxHosts[i]
			track("dns:"+m.Host+" A/AAAA", func() bool {
				mo.addrs = res.Addrs(ctx, m.Host)
				return len(mo.addrs.Addrs) > 0
			})
			addrs := mo.addrs.Addrs
			if len(addrs) > maxAddrsPerHost {
				addrs = addrs[:maxAddrsPerHost]
			}
			mo.probes = make([]smtpprobe.Result, len(addrs))
			var inner sync.WaitGroup
			for j, a := range addrs {
				inner.Go(func() {
					select {
					case sem <- struct{}{}:
						defer func() { <-sem }()
					case <-ctx.Done():
						mo.probes[j] = smtpprobe.Result{Host: m.Host, Addr: a, Stage: "connect", Kind: "timeout", Err: ctx.Err()}
						return
					}
					track("smtp:"+m.Host+"/"+a.String(), func() bool {
						mo.probes[j] = p.Probe(ctx, m.Host, a)
						return mo.probes[j].Err == nil
					})
				})
			}
			inner.Wait()
			aliasDone.Wait()
			if t, ok := mo.addrs.AliasOf(); ok {
				mo.cname = t
			} else if aliasOK {
				mo.cname = alias
			}
		})
	}
	wg.Wait()
}

// hashHex is the hex SHA-256 of b, used to compare served bytes.
func hashHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
