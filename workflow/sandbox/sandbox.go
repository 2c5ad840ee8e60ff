// Package sandbox is the demo's world, compiled into the binary: an
// authoritative DNS server serving the zone an in-memory DNS provider
// holds, an HTTPS policy host with a throwaway CA serving what an
// in-memory publisher holds, two STARTTLS MX servers, and an accelerated
// clock, all on loopback. Start returns it with a ready workflow.Engine and
// knobs that inject each of the seven field failures of the developers'
// guide, so that `stspilot demo` can show every one detected and refused.
//
// It needs no network and no privileges: every server listens on
// 127.0.0.1 or 127.0.0.2 on a port the kernel picks, and its only files,
// the journal and the policy host's access log, are in its state
// directory (a temporary one unless Options.StateDir names another).
package sandbox

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/libdns/libdns"
	"github.com/miekg/dns"

	"github.com/stspilot/stspilot/checks"
	"github.com/stspilot/stspilot/dnsprovider"
	"github.com/stspilot/stspilot/dnsprovider/memory"
	"github.com/stspilot/stspilot/internal/domainname"
	"github.com/stspilot/stspilot/internal/loopback"
	"github.com/stspilot/stspilot/internal/testca"
	"github.com/stspilot/stspilot/internal/txtrecord"
	"github.com/stspilot/stspilot/workflow"
	"github.com/stspilot/stspilot/workflow/serve"
)

// DefaultDomain is the sandbox's mail domain.
const DefaultDomain = "demo.test"

// DefaultDay is how long a sandbox day lasts in real time.
const DefaultDay = 4 * time.Second

// DefaultRUA is the TLS-RPT destination the demo's rollout uses.
const DefaultRUA = "mailto:tlsrpt@" + DefaultDomain

// Options shape a sandbox.
type Options struct {
	// Domain is the mail domain (default DefaultDomain).
	Domain string
	// Day is how long a day of sandbox time takes in real time (default
	// DefaultDay; a day passes in a few seconds).
	Day time.Duration
	// Ladder is the engine's ladder (default workflow.DefaultLadder).
	Ladder workflow.Ladder
	// Breaks are failures injected from the start.
	Breaks []Break
	// Start is the sandbox time at start (default: now).
	Start time.Time
	// StateDir holds the journal (the real file format, as the scripted
	// commands write it); empty: a temporary directory removed by Close.
	StateDir string
}

// Sandbox is a running sandbox world. Close stops it.
type Sandbox struct {
	Domain string
	// DNSAddr is host:port of the authoritative server; DNSPort its port.
	DNSAddr string
	DNSPort int
	// HTTPSPort and SMTPPort are the ports of the policy host and the MX
	// servers (the checks' port overrides).
	HTTPSPort, SMTPPort int
	Clock               *Clock
	Publisher           *Publisher
	Journal             *workflow.FileJournal
	// Provider is the DNS provider the engine writes through; Memory is
	// the in-memory libdns provider behind it.
	Provider dnsprovider.Provider
	Memory   *memory.Provider
	Ladder   workflow.Ladder
	// AccessLog is the file the policy host logs every request to, in
	// serve's access-log format and on the sandbox clock: which senders
	// fetched which policy id (the wizard's dashboard reads it).
	AccessLog string

	zone    string // FQDN, lower case
	mem     *memory.Provider
	ca      *testca.CA
	roots   *x509.CertPool
	mu      sync.Mutex
	static  loopback.Zone // the records the engine does not write
	broken  map[Break]bool
	saved   map[Break][]libdns.RR // records a break deleted, for Heal
	drifted []byte                // the file before the drift break
	closers []func()

	accessLog *serve.AccessLog

	policyCert, policyExpired *tls.Certificate
	mxCerts                   map[string]*tls.Certificate
	wrongCert                 *tls.Certificate
}

// Address plan: everything on 127.0.0.1, except the second MX (and the
// uncovered third one) on 127.0.0.2, so that the two MX hosts are two
// servers with the same port.
const (
	ip1 = "127.0.0.1"
	ip2 = "127.0.0.2"
)

// Start starts the sandbox. ctx bounds only the start-up.
func Start(ctx context.Context, o Options) (s *Sandbox, err error) {
	if o.Domain == "" {
		o.Domain = DefaultDomain
	}
	d, err := domainname.Normalize(o.Domain)
	if err != nil {
		return nil, err
	}
	if o.Day <= 0 {
		o.Day = DefaultDay
	}
	if len(o.Ladder) == 0 {
		o.Ladder = workflow.DefaultLadder.Clone()
	}
	start := o.Start
	if start.IsZero() {
		start = time.Now().UTC().Truncate(time.Second)
	}
	s = &Sandbox{
		Domain: d, zone: dns.Fqdn(d),
		Clock:     NewClock(start, float64(24*time.Hour)/float64(o.Day)),
		Publisher: &Publisher{}, Ladder: o.Ladder,
		broken: map[Break]bool{}, saved: map[Break][]libdns.RR{},
		mxCerts: map[string]*tls.Certificate{},
	}
	started := s
	defer func() {
		if err != nil {
			started.Close() // s is nil here: the failing return set it
			s = nil
		}
	}()
	dir := o.StateDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "stspilot-demo-state-"); err != nil {
			return nil, err
		}
		s.closers = append(s.closers, func() { os.RemoveAll(dir) })
	}
	if s.Journal, err = workflow.OpenFileJournal(dir); err != nil {
		return nil, err
	}
	s.AccessLog = filepath.Join(dir, "access.log")
	logFile, err := os.OpenFile(s.AccessLog, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	// Closed after the policy host has stopped (closers run last first).
	s.closers = append(s.closers, func() { _ = logFile.Close() })
	s.accessLog = serve.NewAccessLog(logFile)
	s.Journal.Ladder = o.Ladder.String()
	s.mem = &memory.Provider{}
	s.mem.AddZone(d)
	s.Memory = s.mem
	s.Provider = dnsprovider.FromLibdns("memory", s.mem, dnsprovider.LibdnsOptions{})
	if err := s.issue(start); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := s.startDNS(); err != nil {
		return nil, fmt.Errorf("sandbox DNS: %w", err)
	}
	if err := s.startHTTPS(ip1); err != nil {
		return nil, fmt.Errorf("sandbox policy host: %w", err)
	}
	if err := s.startMXPair(); err != nil {
		return nil, fmt.Errorf("sandbox MX: %w", err)
	}
	s.rr(
		fmt.Sprintf("%s 3600 IN SOA ns1.%s hostmaster.%s 1 3600 600 86400 300", s.zone, s.zone, s.zone),
		fmt.Sprintf("%s 3600 IN NS ns1.%s", s.zone, s.zone),
		fmt.Sprintf("ns1.%s 3600 IN A %s", s.zone, ip1),
		fmt.Sprintf("%s 300 IN MX 10 mx1.%s", s.zone, s.zone),
		fmt.Sprintf("%s 300 IN MX 20 mx2.%s", s.zone, s.zone),
		fmt.Sprintf("mx1.%s 300 IN A %s", s.zone, ip1),
		fmt.Sprintf("mx2.%s 300 IN A %s", s.zone, ip2),
		fmt.Sprintf("mta-sts.%s 300 IN A %s", s.zone, ip1),
	)
	for _, b := range o.Breaks {
		if err := s.Inject(b); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// startMXPair starts mx1 on 127.0.0.1 and mx2 on 127.0.0.2 at one port
// free on both.
func (s *Sandbox) startMXPair() error {
	ls, err := loopback.ListenTCP(ip1, ip2)
	if err != nil {
		return err
	}
	if err := s.startMX("mx1."+s.Domain, ls[0]); err != nil {
		_ = ls[1].Close()
		return err
	}
	if err := s.startMX("mx2."+s.Domain, ls[1]); err != nil {
		return err
	}
	s.SMTPPort = ls[0].Addr().(*net.TCPAddr).Port
	return nil
}

func (s *Sandbox) issue(start time.Time) error {
	c, err := newCA(start)
	if err != nil {
		return err
	}
	s.ca, s.roots = c, c.Pool()
	// Valid for ten years of sandbox time: the whole ladder and a
	// teardown take months, not years.
	nb, na := start.Add(-24*time.Hour), start.Add(10*365*24*time.Hour)
	if s.policyCert, err = leaf(c, []string{txtrecord.PolicyHost(s.Domain)}, nb, na); err != nil {
		return err
	}
	if s.policyExpired, err = leaf(c, []string{txtrecord.PolicyHost(s.Domain)}, start.Add(-90*24*time.Hour), start.Add(-24*time.Hour)); err != nil {
		return err
	}
	for _, h := range []string{"mx1", "mx2", "mx3"} {
		if s.mxCerts[h+"."+s.Domain], err = leaf(c, []string{h + "." + s.Domain}, nb, na); err != nil {
			return err
		}
	}
	s.wrongCert, err = leaf(c, []string{"mail.hosting-elsewhere.test"}, nb, na)
	return err
}

// mxCert is the certificate an MX presents for sni (its own host when the
// client sent none).
func (s *Sandbox) mxCert(sni, host string) *tls.Certificate {
	name := domainname.Fold(sni)
	if name == "" {
		name = host
	}
	if s.Broken(MXCertName) && name == "mx1."+s.Domain {
		return s.wrongCert
	}
	if c, ok := s.mxCerts[name]; ok {
		return c
	}
	return s.mxCerts[host]
}

func (s *Sandbox) rr(lines ...string) {
	if err := s.static.Add(lines...); err != nil {
		panic(fmt.Sprintf("sandbox: bad built-in record: %v", err)) // a programming error, not input
	}
}

func (s *Sandbox) removeRR(name string, t uint16, data string) {
	s.static.Remove(name, t, data)
}

// Close stops every server.
func (s *Sandbox) Close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	s.closers = nil
}

// Roots is the pool that trusts the sandbox CA.
func (s *Sandbox) Roots() *x509.CertPool { return s.roots }

// CheckOptions are the checks' options that reach the sandbox; progress
// may be nil.
func (s *Sandbox) CheckOptions(progress func(checks.ProbeEvent)) checks.Options {
	return checks.Options{
		Resolvers: []string{s.DNSAddr}, Roots: s.roots,
		HTTPSPort: s.HTTPSPort, SMTPPort: s.SMTPPort,
		Timeout: 10 * time.Second, Now: s.Clock.Now, Progress: progress,
	}
}

// Check runs the live checks of domain against the sandbox.
func (s *Sandbox) Check(ctx context.Context, domain string) *checks.Report {
	return checks.Run(ctx, domain, s.CheckOptions(nil))
}

// Engine returns the workflow engine of the sandbox (see Config).
func (s *Sandbox) Engine() (*workflow.Engine, error) {
	c, err := s.Config()
	if err != nil {
		return nil, err
	}
	return workflow.New(c)
}

// Config is the configuration of the sandbox's engine: the memory
// provider, the in-memory publisher and journal, the accelerated clock,
// live checks, the served gate and the published gate all pointed at the
// sandbox. Tests change parts of it (the clock) before workflow.New.
func (s *Sandbox) Config() (workflow.Config, error) {
	served, err := workflow.NewServedChecker([]string{s.DNSAddr}, s.roots, s.HTTPSPort, s.Clock.Now)
	if err != nil {
		return workflow.Config{}, err
	}
	res := &dnsprovider.Resolver{Servers: []string{s.DNSAddr}, Port: strconv.Itoa(s.DNSPort), Timeout: 2 * time.Second}
	return workflow.Config{
		Provider:  s.Provider,
		Publisher: s.Publisher,
		Journal:   s.Journal,
		Clock:     s.Clock,
		Ladder:    s.Ladder,
		Zone:      s.Domain,
		Check:     s.Check,
		Served:    served,
		Published: workflow.AuthPublished{Resolver: res},
		Evidence:  s.evidence,
		Poll:      time.Hour, // sandbox time: a fraction of a second
		Command:   "stspilot demo",
	}, nil
}

// evidence stands in for a TLS-RPT report mailbox: reports arrive while
// the TLS-RPT record exists, and show failures while tlsrpt-failing is
// injected.
func (s *Sandbox) evidence(ctx context.Context, domain string, p *workflow.Policy, since time.Time) (workflow.GateResult, bool, error) {
	if err := ctx.Err(); err != nil {
		return workflow.GateResult{}, false, err
	}
	days := int(s.Clock.Now().Sub(since) / (24 * time.Hour))
	sessions := 120 * max(days, 1)
	switch {
	case s.Broken(TLSRPTMissing):
		return workflow.GateResult{}, false, nil
	case s.Broken(TLSRPTFailing):
		mx := "mx1." + domain
		return workflow.GateResult{
			Kind:    workflow.GateEvidence,
			Reason:  fmt.Sprintf("TLS-RPT reports since %s show 37 of %d sessions to %s failing (certificate-host-mismatch) under policy %s", since.UTC().Format(time.RFC3339), sessions, mx, p.ID),
			Targets: []workflow.TargetStatus{{Name: mx, State: workflow.StateFailed, Detail: "37 failed sessions: certificate-host-mismatch"}},
		}, true, nil
	}
	return workflow.GateResult{
		Kind: workflow.GateEvidence, Open: true,
		Reason: fmt.Sprintf("TLS-RPT reports since %s: %d sessions, no failures under policy %s", since.UTC().Format(time.RFC3339), sessions, p.ID),
	}, true, nil
}

// ErrNotApplicable is returned by Inject when a failure cannot be
// injected in the current state (drift before anything is published).
var ErrNotApplicable = errors.New("not applicable now")
