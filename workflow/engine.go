package workflow

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/stspilot/stspilot/checks"
	"github.com/stspilot/stspilot/checks/mtasts"
	"github.com/stspilot/stspilot/checks/tlsrpt"
	"github.com/stspilot/stspilot/dnsprovider"
	"github.com/stspilot/stspilot/internal/duration"
	"github.com/stspilot/stspilot/internal/txtrecord"
	"github.com/stspilot/stspilot/workflow/journal"
)

// NoneMaxAge is the max_age of the mode: none policy of a teardown or a
// rollback --to none: short, as STS-SEND-16 advises (one day).
const NoneMaxAge = 86400

// DefaultPoll is how often --wait re-checks the served and published gates.
const DefaultPoll = 5 * time.Second

// PublishedChecker evaluates the published gate: every address of every
// authoritative name server of zone answers, without recursion, a TXT
// RRset at name that want accepts.
type PublishedChecker interface {
	Check(ctx context.Context, zone, name string, want func(dnsprovider.TXTSet) bool) GateResult
}

// ServedGate evaluates the served gate (see ServedChecker).
type ServedGate interface {
	Check(ctx context.Context, domain string, want []byte) GateResult
}

// EvidenceFunc evaluates the evidence gate for policy p live since since
// (TLS-RPT reports; issue 7 fills it). ok=false with a nil error means no
// reports were found in the window.
type EvidenceFunc func(ctx context.Context, domain string, p *Policy, since time.Time) (GateResult, bool, error)

// Config is what an Engine is made of (see New).
type Config struct {
	// Provider writes the DNS records.
	Provider dnsprovider.Provider
	// Publisher makes the policy file served at mta-sts.DOMAIN.
	Publisher Publisher
	// Journal keeps each domain's journal (FileJournal).
	Journal Journal
	// Clock is the engine's only source of time; nil: the system clock.
	Clock Clock
	// Ladder is the ladder of rungs rollout and promote climb.
	Ladder Ladder
	// Zone is the DNS zone that holds the domain's records; empty: found
	// with FindZone.
	Zone     string
	FindZone func(ctx context.Context, domain string) (string, error)
	// Check runs the live checks of a domain (checks.Run with the right options).
	Check func(ctx context.Context, domain string) *checks.Report
	// Served and Published evaluate the served and published gates.
	Served    ServedGate
	Published PublishedChecker
	// Evidence evaluates the evidence gate; nil when no TLS-RPT reports
	// are configured (promote then needs the operator's override).
	Evidence EvidenceFunc
	// TTL is the TTL of records we write; 0 keeps the old one or uses
	// dnsprovider.DefaultTTL.
	TTL time.Duration
	// Poll is the re-check interval of --wait for served and published;
	// 0: DefaultPoll.
	Poll time.Duration
	// Command describes the run for the journal's lock ("stspilot promote").
	Command string
	// ProbeMX probes one prospective MX host (checks.ProbeMXHost with the
	// check's options): the preflight of mx-migrate. nil: mx-migrate
	// cannot check its targets and refuses in enforce.
	ProbeMX func(ctx context.Context, host string) checks.LiveMX
}

// Engine runs the staged workflows of one domain at a time (see the
// package documentation). It never prints: everything goes to the
// Observer. It is safe to use one Engine for several domains one after
// the other; the journal lock keeps two runs on the same domain apart.
type Engine struct {
	// cfg is the Config New completed: every part there, the clock and
	// the poll interval defaulted, the ladder a copy of the caller's.
	cfg Config
}

// New checks c and returns its Engine: every part the workflows use must
// be there (a missing one is an error, never a panic mid-run), the ladder
// must be valid, and the zone must be given or findable.
func New(c Config) (*Engine, error) {
	var missing []string
	for _, m := range []struct {
		name string
		nil  bool
	}{
		{"a DNS provider", c.Provider == nil},
		{"a publisher", c.Publisher == nil},
		{"a journal", c.Journal == nil},
		{"live checks", c.Check == nil},
		{"a served gate", c.Served == nil},
		{"a published gate", c.Published == nil},
		{"a zone or a way to find it", c.Zone == "" && c.FindZone == nil},
	} {
		if m.nil {
			missing = append(missing, m.name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("workflow: the engine has no %s", strings.Join(missing, ", no "))
	}
	if err := c.Ladder.Validate(); err != nil {
		return nil, fmt.Errorf("workflow: the engine's ladder: %w", err)
	}
	if c.TTL < 0 || c.Poll < 0 {
		return nil, errors.New("workflow: negative TTL or poll interval")
	}
	if c.Clock == nil {
		c.Clock = SystemClock{}
	}
	if c.Poll == 0 {
		c.Poll = DefaultPoll
	}
	c.Ladder = c.Ladder.Clone()
	return &Engine{cfg: c}, nil
}

// Config returns the engine's configuration, as New completed it; a
// changed copy makes another engine with New.
func (e *Engine) Config() Config {
	c := e.cfg
	c.Ladder = c.Ladder.Clone()
	return c
}

// Ladder is the engine's ladder (a copy).
func (e *Engine) Ladder() Ladder { return e.cfg.Ladder.Clone() }

// Check runs the live checks the engine plans from.
func (e *Engine) Check(ctx context.Context, domain string) *checks.Report {
	return e.cfg.Check(ctx, domain)
}

// Now is the time on the engine's clock.
func (e *Engine) Now() time.Time { return e.cfg.Clock.Now() }

// Request is what the operator asked for.
type Request struct {
	Workflow Workflow
	Domain   string
	// RUA is the TLS-RPT destination for rollout ("mailto:tlsrpt@example.com").
	RUA string
	// MX overrides the mx patterns derived from live MX (rollout).
	MX []string
	// To is rollback's destination: testing (default) or none.
	To Stage
	// WithoutReports lets promote go on without TLS-RPT evidence.
	WithoutReports bool
	// AdoptLive accepts a served policy that differs from the journal's.
	AdoptLive bool
	// KeepTLSRPT makes teardown leave the _smtp._tls record in place.
	KeepTLSRPT bool
	// LastMaxAge is the operator's word for the max_age of the last
	// testing/enforce policy when the journal does not know it (teardown).
	LastMaxAge time.Duration
	// MXTo is the target MX set of mx-migrate (the whole set).
	MXTo []dnsprovider.MX
	// MXTTL is the TTL of the new MX records (0: the replaced one's).
	MXTTL time.Duration
	// MXSwitch is how the MX records change: MXSwitchProvider,
	// MXSwitchManual, or "" (the provider when it can write MX records).
	MXSwitch string
	// KeepOld keeps the old mx patterns in the final policy (mx-migrate).
	KeepOld bool

	// preview plans for status: missing inputs (--rua) are not errors.
	preview bool
}

// ErrUsage marks a request that cannot be planned as asked (exit 2).
var ErrUsage = errors.New("usage")

func (e *Engine) now() time.Time { return e.cfg.Clock.Now() }

// live is what the engine reads of a domain before planning: the check's
// typed observations (checks.Live) and what follows from them.
type live struct {
	obs     *checks.Live
	policy  *Policy // served and valid, nil otherwise
	stsID   string
	stsTTL  time.Duration
	stsRecs []string // records of ours (STSv1) at _mta-sts
	rptRecs []string // records of ours (TLSRPTv1) at _smtp._tls
	mxHosts []string
}

// readLive reads a check's observations; a report without them (the
// domain could not be checked) reads as nothing live.
func readLive(rep *checks.Report) *live {
	var o *checks.Live
	if rep != nil {
		o = rep.Live
	}
	if o == nil {
		o = &checks.Live{}
	}
	l := &live{obs: o, stsID: o.STS.ID, stsTTL: o.STS.TTL}
	l.stsRecs = dnsprovider.TXTSet{Values: o.STS.Records}.Ours(dnsprovider.KindSTS)
	l.rptRecs = dnsprovider.TXTSet{Values: o.TLSRPT.Records}.Ours(dnsprovider.KindTLSRPT)
	if p := o.Policy; p != nil {
		l.policy = &Policy{PolicyTerms: PolicyTerms{Mode: string(p.Mode), MaxAge: p.MaxAge, MX: p.MX}, Text: string(o.Served), ID: l.stsID}
	}
	for _, m := range o.MX {
		l.mxHosts = append(l.mxHosts, m.Host)
	}
	return l
}

// Plan computes what req would do now, from live state and the journal.
// It changes nothing and takes no lock.
func (e *Engine) Plan(ctx context.Context, req Request) (*Plan, error) {
	domain, err := normalizeDomain(req.Domain)
	if err != nil {
		return nil, err
	}
	j, err := e.peek(domain)
	if err != nil {
		return nil, err
	}
	return e.plan(ctx, req, domain, j)
}

// peek reads the journal of domain without locking: an empty one when
// the domain has none.
func (e *Engine) peek(domain string) (*journal.Journal, error) {
	j, err := e.cfg.Journal.Peek(domain)
	if err != nil || j != nil {
		return j, err
	}
	return journal.New(domain)
}

// intentOf is the journal's change under way, nil when none.
func intentOf(j *journal.Journal) *journal.Intent {
	if j.Intent == nil || j.Intent.Target == nil {
		return nil
	}
	return j.Intent
}

func (e *Engine) plan(ctx context.Context, req Request, domain string, j *journal.Journal) (*Plan, error) {
	if len(e.cfg.Ladder) == 0 {
		return nil, errors.New("workflow: the engine has no ladder")
	}
	zone, err := e.zone(ctx, domain)
	if err != nil {
		return nil, err
	}
	rep := e.cfg.Check(ctx, domain)
	if rep == nil {
		return nil, fmt.Errorf("reading the live state of %s: the check returned nothing", domain)
	}
	if rep.Error != "" {
		return nil, fmt.Errorf("reading the live state of %s: %s", domain, rep.Error)
	}
	if rep.Live == nil {
		return nil, fmt.Errorf("reading the live state of %s: the check observed nothing", domain)
	}
	lv := readLive(rep)
	e.noteLive(j, lv)
	p := &Plan{Domain: domain, Zone: zone, Workflow: req.Workflow, Stage: e.stage(lv, j), Current: lv.policy, Rung: -1, PlannedAt: e.now(), Live: rep}
	if req.Workflow == Rollout || req.preview {
		// Said when the ladder is chosen, not on every promote.
		p.Warnings = append(p.Warnings, e.cfg.Ladder.Warnings()...)
	}

	// Someone changed the served policy behind our back: nothing may go on
	// top of bytes we did not publish, except an emergency rollback.
	if d := drift(lv, j); d != "" && !req.AdoptLive {
		if req.Workflow != Rollback {
			p.Refusal = &Refusal{Code: CodeDrift, Reason: d, Override: CodeAdoptLive}
			return p, nil
		}
		// An emergency rollback goes on: it replaces the drifted policy.
		p.Warnings = append(p.Warnings, d)
	}

	// A change that a killed run left half-done is finished first, with
	// the same bytes and the same id, unless this is a rollback.
	if in := intentOf(j); in != nil && req.Workflow != Rollback && !(req.Workflow == MXMigrate && Workflow(in.Workflow) == MXMigrate) {
		if Workflow(in.Workflow) != req.Workflow {
			p.Refusal = &Refusal{Code: CodeFinishInterrupted, Workflow: Workflow(in.Workflow), Reason: fmt.Sprintf("an earlier %s of %s (started %s) did not finish; finish that %s first, or roll back",
				in.Workflow, domain, in.StartedAt.UTC().Format(time.RFC3339), in.Workflow)}
			return p, nil
		}
		t := &Policy{Text: in.Target.Text, ID: in.Target.ID, PolicyTerms: in.Target.PolicyTerms}
		p.Target = t
		p.Rung = rungIndex(e.cfg.Ladder, t.Mode, t.MaxAge)
		p.Reason = "finishing the change an earlier run started"
		e.recipe(ctx, p, lv, txtrecord.SplitRUA(in.RUA))
		// A teardown's mode none is not the end of it: the rest is its
		// window and deletions, as when none went out in one run.
		if req.Workflow == Teardown && t.Mode == string(mtasts.ModeNone) {
			e.teardownAfterNone(p, lv, req, t)
		}
		return p, nil
	}

	switch req.Workflow {
	case Rollout:
		err = e.planRollout(ctx, p, lv, j, req)
	case Promote:
		err = e.planPromote(ctx, p, lv, j, req)
	case Rollback:
		err = e.planRollback(ctx, p, lv, j, req)
	case Teardown:
		err = e.planTeardown(ctx, p, lv, j, req)
	case MXMigrate:
		err = e.planMXMigrate(ctx, p, lv, j, req)
	default:
		err = fmt.Errorf("%w: unknown workflow %q", ErrUsage, req.Workflow)
	}
	return p, err
}

func (e *Engine) zone(ctx context.Context, domain string) (string, error) {
	if e.cfg.Zone != "" {
		return dnsprovider.Fqdn(e.cfg.Zone), nil
	}
	if e.cfg.FindZone == nil {
		return "", errors.New("workflow: no zone and no way to find it")
	}
	z, err := e.cfg.FindZone(ctx, domain)
	if err != nil {
		return "", fmt.Errorf("finding the DNS zone of %s: %w", domain, err)
	}
	return dnsprovider.Fqdn(z), nil
}

// stage reads the stage from live state first and the journal second.
func (e *Engine) stage(lv *live, j *journal.Journal) Stage {
	switch s := lv.obs.Stage; s {
	case StageTesting, StageEnforce, StageNone:
		return s
	case StageAbsent:
		if teardownPending(j) {
			return StageNone
		}
		return s
	default:
		// A half-done change of ours (policy served, id not yet bumped) is
		// the stage of the policy it replaces, not broken.
		if intentOf(j) != nil && j.Policy != nil {
			return Stage(j.Policy.Mode)
		}
		return StageBroken
	}
}

// drift says what differs between the served policy and what the journal
// last published, or "" when nothing does (or the journal knows nothing).
func drift(lv *live, j *journal.Journal) string {
	if j.Policy == nil || len(lv.obs.Served) == 0 {
		return ""
	}
	served := string(lv.obs.Served)
	if served == j.Policy.Text {
		return ""
	}
	if in := intentOf(j); in != nil && served == in.Target.Text {
		return "" // our own change, half-done
	}
	return fmt.Sprintf("%s serves a policy other than the one stspilot last published (id %s, %s): someone changed it outside stspilot; check it, then run again taking the served policy as the new baseline",
		txtrecord.PolicyHost(j.Domain), j.Policy.ID, strings.ReplaceAll(strings.TrimSpace(j.Policy.Text), "\r\n", "; "))
}

// render builds the target policy and its id.
func (e *Engine) render(mode string, maxAge int64, mx []string, lv *live) (*Policy, error) {
	pol := mtasts.Policy{Version: "STSv1", Mode: mtasts.Mode(mode), MaxAge: maxAge}
	if mode != string(mtasts.ModeNone) {
		pol.MX = mx
	}
	body, err := mtasts.Render(pol)
	if err != nil {
		return nil, err
	}
	t := &Policy{PolicyTerms: PolicyTerms{Mode: mode, MaxAge: maxAge, MX: pol.MX}, Text: string(body)}
	// Same bytes as the live policy whose id already names them: keep that id.
	if lv.policy != nil && lv.policy.Text == t.Text && lv.stsID != "" {
		if rec, ok := mtasts.VerifyID(lv.stsID, body); !rec || ok {
			t.ID = lv.stsID
			return t, nil
		}
	}
	t.ID = mtasts.NewID(e.now(), body)
	if lv.stsID == t.ID { // same second, same bytes: impossible to differ, but never reuse by accident
		t.ID = mtasts.NewID(e.now().Add(time.Second), body)
	}
	return t, nil
}

// keepIntentID gives t the id of a half-done change of wf with the same
// bytes.
func keepIntentID(j *journal.Journal, wf Workflow, t *Policy) {
	if in := intentOf(j); in != nil && Workflow(in.Workflow) == wf && in.Target.Text == t.Text && in.Target.ID != "" {
		t.ID = in.Target.ID
	}
}

// recipe appends the ordered change recipe of docs/design.md to a plan
// of one policy change, p.Target: write the policy, served gate,
// (TLS-RPT), set the id, published gate. Steps that live state already
// holds are marked Done.
func (e *Engine) recipe(ctx context.Context, p *Plan, lv *live, rua []string) {
	t := p.Target
	c := policyChange{t: t, summary: fmt.Sprintf("publish the %s policy (max_age %d)", t.Mode, t.MaxAge), stsBefore: strings.Join(lv.stsRecs, stsRecordSep)}
	if lv.policy != nil {
		c.before = lv.policy.Text
	}
	if len(rua) > 0 {
		p.RUA = rua
		val := txtrecord.TLSRPTRecord{RUA: rua}.String()
		cur := ""
		if len(lv.rptRecs) > 0 {
			cur = strings.Join(lv.rptRecs, " | ")
		}
		c.tlsrpt = &Step{Kind: StepSetTLSRPT, Summary: "set the TLS-RPT record", Name: txtrecord.TLSRPTName(p.Domain), Before: cur, After: val, Done: len(lv.rptRecs) == 1 && lv.rptRecs[0] == val}
	}
	e.changeSteps(p, lv, c)
	number(p)
}

// policyChange is one policy change of a plan, t published and named by
// the _mta-sts record.
type policyChange struct {
	t *Policy
	// summary is the publish step's, up to " through PUBLISHER".
	summary string
	// before and stsBefore are the policy and the _mta-sts record(s)
	// live before the change.
	before, stsBefore string
	// tlsrpt, when set, sets the TLS-RPT record between the served gate
	// and the id.
	tlsrpt *Step
	// done: live state holds all of the change.
	done bool
	// several: the change is one of several of the plan (mx-migrate):
	// every step carries t as its target.
	several bool
}

// changeSteps appends the steps of c to p: publish the policy, served
// gate, (TLS-RPT), set the id, published gate.
func (e *Engine) changeSteps(p *Plan, lv *live, c policyChange) {
	t, host, sts := c.t, txtrecord.PolicyURL(p.Domain), txtrecord.STSName(p.Domain)
	var target *Policy
	if c.several {
		target = t
	}
	p.Steps = append(p.Steps,
		Step{Kind: StepPublishPolicy, Summary: c.summary + " through " + e.cfg.Publisher.Spec(), Name: host, Before: c.before, After: t.Text, Done: c.done || c.before == t.Text, target: target},
		Step{Kind: StepGate, Gate: GateServed, Summary: "wait until every address of " + txtrecord.PolicyHost(p.Domain) + " serves exactly the new policy", Name: host, Done: c.done, target: target},
	)
	if c.tlsrpt != nil {
		p.Steps = append(p.Steps, *c.tlsrpt)
	}
	p.Steps = append(p.Steps,
		Step{Kind: StepSetSTS, Summary: "set the policy id (after the policy is served everywhere)", Name: sts, Before: c.stsBefore, After: txtrecord.STSRecord{ID: t.ID}.String(), Done: c.done || lv.stsID == t.ID, target: target},
		Step{Kind: StepGate, Gate: GatePublished, Summary: "wait until every authoritative name server answers the new id", Name: sts, Done: c.done, target: target},
	)
}

func number(p *Plan) {
	for i := range p.Steps {
		s := &p.Steps[i]
		k := string(s.Kind)
		if s.Kind == StepGate {
			k = string(s.Gate)
		}
		s.ID = fmt.Sprintf("%d-%s", i+1, k)
	}
}

func (e *Engine) planRollout(ctx context.Context, p *Plan, lv *live, j *journal.Journal, req Request) error {
	if p.Stage == StageTesting || p.Stage == StageEnforce {
		p.Nothing = true
		p.Reason = fmt.Sprintf("%s is already in %s (policy id %s); the ladder goes on by promotion, not by a second rollout", p.Domain, p.Stage, lv.stsID)
		return nil
	}
	if len(lv.mxHosts) == 0 {
		p.Refusal = &Refusal{Code: CodeNoMX, Reason: fmt.Sprintf("%s has no MX records: an MTA-STS policy lists the MX hosts, so there is nothing to protect yet (mx.none)", p.Domain)}
		return nil
	}
	mx := req.MX
	if len(mx) == 0 {
		mx = mtasts.SuggestPatterns(lv.mxHosts)
	}
	for _, m := range mx {
		if err := mtasts.ValidatePattern(m); err != nil {
			return &InputError{Code: CodeMXPattern, Msg: fmt.Sprintf("mx pattern %q: %v", m, err)}
		}
	}
	var uncovered []string
	for _, h := range lv.mxHosts {
		if _, ok := mtasts.Covering(mx, h); !ok {
			uncovered = append(uncovered, h)
		}
	}
	if len(uncovered) > 0 {
		p.Warnings = append(p.Warnings, fmt.Sprintf("the mx patterns %s do not cover %s: senders will report them while testing, and promote to enforce will refuse", strings.Join(mx, ", "), strings.Join(uncovered, ", ")))
	}
	if req.RUA == "" && len(lv.rptRecs) == 0 && !req.preview {
		return &InputError{Code: CodeRUA, Msg: "rollout needs a TLS-RPT destination, mailto:ADDRESS (or https:URL): TLS-RPT reports are how you learn what senders see while testing (tlsrpt.missing)"}
	}
	var rua []string
	if req.RUA != "" {
		var probs []txtrecord.Problem
		rua, probs = tlsrpt.ParseRUA(req.RUA)
		if errs := txtrecord.Errors(probs); len(errs) > 0 || len(rua) == 0 {
			return &InputError{Code: CodeRUA, Msg: fmt.Sprintf("the TLS-RPT destination %q: %s", req.RUA, describeProblems(errs))}
		}
	}
	first := e.cfg.Ladder[0]
	t, err := e.render(first.Mode, int64(first.MaxAge/time.Second), mx, lv)
	if err != nil {
		return err
	}
	p.Target, p.Rung = t, 0
	e.recipe(ctx, p, lv, rua)
	return nil
}

func describeProblems(ps []txtrecord.Problem) string {
	var s []string
	for _, p := range ps {
		s = append(s, p.String())
	}
	if len(s) == 0 {
		return "no destination"
	}
	return strings.Join(s, "; ")
}

func (e *Engine) planPromote(ctx context.Context, p *Plan, lv *live, j *journal.Journal, req Request) error {
	if e.refuseUnlessLive(p, lv, j, "promote climbs from a live testing or enforce policy; roll out first") {
		return nil
	}
	cur := lv.policy
	next, ok := nextRung(e.cfg.Ladder, cur.Mode, cur.MaxAge)
	if !ok {
		p.Nothing = true
		p.Reason = fmt.Sprintf("%s is at the top of the ladder (%s, max_age %d)", p.Domain, cur.Mode, cur.MaxAge)
		return nil
	}
	nr := e.cfg.Ladder[next]
	// Window: the soak of the current rung, from when it went live.
	since, how := e.liveSince(lv, j)
	soak := soakOf(e.cfg.Ladder, cur.Mode, cur.MaxAge)
	w := windowGate(e.now(), since.Add(soak), fmt.Sprintf("the %s soak of %s@%d (live since %s, %s)", duration.Format(soak), cur.Mode, cur.MaxAge, since.UTC().Format(time.RFC3339), how))
	p.Gates = append(p.Gates, w)
	p.Steps = append(p.Steps, Step{Kind: StepGate, Gate: GateWindow, Summary: w.Reason, Done: w.Open})

	// Evidence: TLS-RPT reports for the current policy in the soak window.
	ev, noReports, err := e.evidence(ctx, p.Domain, cur, since, req)
	if err != nil {
		return err
	}
	p.Gates = append(p.Gates, ev)
	p.Steps = append(p.Steps, Step{Kind: StepGate, Gate: GateEvidence, Summary: ev.Reason, Done: ev.Open})
	if !ev.Open && ev.NextAt == nil {
		p.Refusal = &Refusal{Code: CodeEvidence, Reason: ev.Reason, Override: overrideIf(noReports, CodeWithoutReports)}
		for _, t := range ev.Targets {
			p.Refusal.Details = append(p.Refusal.Details, t.Detail)
		}
	}

	mx := cur.MX
	if nr.Mode == string(mtasts.ModeEnforce) {
		lg := e.enforceLive(lv, mx)
		p.Gates = append(p.Gates, lg)
		p.Steps = append(p.Steps, Step{Kind: StepGate, Gate: GateLive, Summary: lg.Reason, Done: lg.Open})
		if !lg.Open && p.Refusal == nil {
			p.Refusal = &Refusal{Code: CodeMXFails, Reason: "enforce would make senders refuse mail to an MX that fails: " + lg.Reason}
			for _, t := range lg.Targets {
				if t.State != StateOK {
					p.Refusal.Details = append(p.Refusal.Details, fmt.Sprintf("%s %s: %s", t.Name, t.Addr, t.Detail))
				}
			}
		}
	}
	t, err := e.render(nr.Mode, int64(nr.MaxAge/time.Second), mx, lv)
	if err != nil {
		return err
	}
	p.Target, p.Rung = t, next
	e.recipe(ctx, p, lv, nil)
	return nil
}

func overrideIf(b bool, c Code) Code {
	if b {
		return c
	}
	return ""
}

// liveSince is when the current policy went live: from the journal, else
// from an id of our scheme, else now (an unknown start restarts the soak).
func (e *Engine) liveSince(lv *live, j *journal.Journal) (time.Time, string) {
	if j.Policy != nil && j.Policy.Text == lv.policy.Text && !j.Policy.PublishedAt.IsZero() {
		return j.Policy.PublishedAt, "from the journal"
	}
	if t, _, ok := mtasts.ParseID(lv.stsID); ok {
		if rec, match := mtasts.VerifyID(lv.stsID, []byte(lv.policy.Text)); rec && match {
			return t, "from the policy id"
		}
	}
	return e.now(), "unknown: neither the journal nor the id says, so the soak starts now"
}

// evidence evaluates the evidence gate; noReports says that no report
// speaks for or against the current policy (none configured, or none in
// the window), which the operator may override.
func (e *Engine) evidence(ctx context.Context, domain string, cur *Policy, since time.Time, req Request) (g GateResult, noReports bool, err error) {
	if req.WithoutReports {
		return GateResult{Kind: GateEvidence, Open: true, Reason: "skipped: the operator chose to go on without TLS-RPT reports"}, false, nil
	}
	if e.cfg.Evidence == nil {
		return GateResult{Kind: GateEvidence, Reason: "no TLS-RPT reports are configured, so nothing shows what senders saw under the current policy; give a source of reports, or go on without reports to promote on the live checks alone"}, true, nil
	}
	g, found, err := e.cfg.Evidence(ctx, domain, cur, since)
	if err != nil {
		return g, false, err
	}
	if !found {
		return GateResult{Kind: GateEvidence, Reason: fmt.Sprintf("no TLS-RPT reports since %s for the current policy; wait for reports, or go on without reports", since.UTC().Format(time.RFC3339))}, true, nil
	}
	g.Kind = GateEvidence
	return g, false, nil
}

// enforceLive is the live gate for enforce (invariant 2): every live MX
// host is covered by a pattern and offers STARTTLS with a PKIX-valid
// certificate for its name on every address.
func (e *Engine) enforceLive(lv *live, patterns []string) GateResult {
	g := GateResult{Kind: GateLive}
	if len(lv.obs.MX) == 0 {
		g.Reason = "no MX hosts were found"
		return g
	}
	for _, m := range lv.obs.MX {
		ts := TargetStatus{Name: m.Host, State: StateOK}
		if _, ok := mtasts.Covering(patterns, m.Host); !ok {
			ts.State, ts.Detail = StateFailed, fmt.Sprintf("no mx pattern of %s covers it (mx.uncovered)", strings.Join(patterns, ", "))
			g.Targets = append(g.Targets, ts)
			continue
		}
		if m.NoAddress {
			ts.State, ts.Detail = StateFailed, m.Problem
			g.Targets = append(g.Targets, ts)
			continue
		}
		for _, a := range m.Addrs {
			at := TargetStatus{Name: m.Host, Addr: a.Addr, State: StateOK, Detail: "STARTTLS " + a.TLSVersion}
			switch a.TLS {
			case checks.TLSUnreachable:
				// Unreachable from here: senders treat it as down, not as a
				// policy failure; not a reason to refuse, but said.
				at.State, at.Detail = StateUnreachable, a.Err
			case checks.TLSNoSTARTTLS:
				at.State, at.Detail = StateFailed, "no STARTTLS (mx.starttls-missing)"
			case checks.TLSBadCert:
				at.State, at.Detail = StateFailed, "certificate: "+string(a.CertProblem)
			case checks.TLSFailed:
				at.State, at.Detail = StateFailed, a.Err
			}
			g.Targets = append(g.Targets, at)
		}
	}
	var bad, down []string
	for _, t := range g.Targets {
		switch t.State {
		case StateFailed:
			bad = append(bad, strings.TrimSpace(t.Name+" "+t.Addr)+": "+t.Detail)
		case StateUnreachable:
			down = append(down, t.Name+" "+t.Addr)
		}
	}
	if len(bad) > 0 {
		g.Reason = strings.Join(bad, "; ")
		return g
	}
	g.Open = true
	g.Reason = fmt.Sprintf("all %d MX hosts are covered and pass STARTTLS with a valid certificate", len(lv.obs.MX))
	if len(down) > 0 {
		g.Reason += fmt.Sprintf(" (not reachable from here, so not checked: %s)", strings.Join(down, ", "))
	}
	return g
}

func (e *Engine) planRollback(ctx context.Context, p *Plan, lv *live, j *journal.Journal, req Request) error {
	to := req.To
	if to == "" {
		to = StageTesting
	}
	if to != StageTesting && to != StageNone {
		return &InputError{Code: CodeTo, Msg: fmt.Sprintf("rollback to %s: want testing or none", to)}
	}
	// A record of ours without a policy the journal or the host shows (a
	// domain first met while its policy host fails) is something to roll
	// back: senders may hold whatever it named.
	if lv.policy == nil && j.Policy == nil && len(lv.stsRecs) == 0 {
		p.Nothing = true
		p.Reason = fmt.Sprintf("%s serves no MTA-STS policy: nothing to roll back", p.Domain)
		return nil
	}
	mx := rollbackPatterns(lv, j)
	mode, maxAge := string(to), int64(NoneMaxAge)
	if to == StageTesting {
		maxAge = int64(e.cfg.Ladder[0].MaxAge / time.Second)
	}
	if lv.policy != nil && lv.policy.Mode == mode && lv.policy.MaxAge <= maxAge && p.Stage == to && intentOf(j) == nil {
		p.Nothing = true
		p.Reason = fmt.Sprintf("%s is already in %s with max_age %d", p.Domain, mode, lv.policy.MaxAge)
		return nil
	}
	t, err := e.render(mode, maxAge, mx, lv)
	if err != nil {
		return err
	}
	// A rollback run again while its gate stays closed goes on with the
	// same bytes under the same id, as any interrupted change does: one
	// intent, and a re-run that records nothing new.
	keepIntentID(j, Rollback, t)
	p.Target, p.Rung = t, rungIndex(e.cfg.Ladder, mode, maxAge)
	// The risk is what senders may hold (the ledger's horizon), not what
	// is served now: after an interrupted rollback the host serves the
	// half-published target while senders hold the policy it replaces.
	now := e.now()
	if w := Horizon(j, now).Worst; w != nil {
		// The TTL of the record this rollback replaces: as observed, or as
		// the ledger knows it when larger.
		ttl := lv.stsTTL
		if t := duration.Seconds(w.TXTTTL); t > ttl {
			ttl = t
		}
		p.Risk = &RiskWindow{
			OldTXTTTL: int64(ttl / time.Second), OldMaxAge: w.MaxAge, OldMode: w.Mode, OldMX: w.MX,
			TXTUntil: now.Add(ttl), PolicyUntil: w.Until,
		}
	}
	p.Downgrade = downgrade(p, j, now)
	e.recipe(ctx, p, lv, nil)
	return nil
}

// rollbackPatterns are the mx patterns of a rollback's target: the live
// policy's, else the journal's, else patterns for the live MX hosts. A
// policy found live may hold patterns that the parser flags but lenient
// senders take ("mx1.example.com.", ".example.com"), and that Render
// refuses: those are left out, and the live MX hosts the rest no longer
// cover get patterns of their own, so that an emergency rollback never
// fails on the patterns of the policy it replaces.
func rollbackPatterns(lv *live, j *journal.Journal) []string {
	var sources [][]string
	if lv.policy != nil {
		sources = append(sources, lv.policy.MX)
	}
	if j.Policy != nil {
		sources = append(sources, j.Policy.MX)
	}
	for _, src := range sources {
		var mx []string
		for _, m := range src {
			if mtasts.ValidatePattern(m) == nil {
				mx = append(mx, m)
			}
		}
		if len(mx) == 0 {
			continue
		}
		if len(mx) < len(src) {
			var uncovered []string
			for _, h := range lv.mxHosts {
				if _, ok := mtasts.Covering(mx, h); !ok {
					uncovered = append(uncovered, h)
				}
			}
			mx = widenPatterns(mx, mtasts.SuggestPatterns(uncovered))
		}
		return mx
	}
	return mtasts.SuggestPatterns(lv.mxHosts)
}

// downgrade reports whether p's target lowers the mode senders may hold.
func downgrade(p *Plan, j *journal.Journal, now time.Time) bool {
	if p.Target == nil {
		return false
	}
	held := 0
	if p.Current != nil {
		held = modeRank(p.Current.Mode)
	}
	if w := Horizon(j, now).Worst; w != nil && modeRank(w.Mode) > held {
		held = modeRank(w.Mode)
	}
	return modeRank(p.Target.Mode) < held
}

// noteLive enters the live policy in the ledger when the ledger does not
// hold it (a domain first met with a policy live, a policy changed outside
// stspilot), conservatively: live since at least max_age ago, replaced
// when stspilot replaces it.
func (e *Engine) noteLive(j *journal.Journal, lv *live) {
	// A policy served without an _mta-sts record counts too: senders
	// that fetched it while a record named it may still hold it.
	pol := lv.policy
	if pol == nil {
		return
	}
	if in := intentOf(j); in != nil && in.Target.Text == pol.Text {
		return // our own change, half-done: entered when its served gate opens
	}
	h := journal.PolicyHash(pol.Text)
	if lp := j.LedgerFind(h); lp != nil && !lp.Replaced() {
		return
	}
	if j.Policy != nil && j.Policy.Text == pol.Text && !j.Policy.PublishedAt.IsZero() {
		j.LedgerAdd(ledgerEntry(j.Policy, j.Policy.PublishedAt))
		return
	}
	lp := ledgerEntry(pol, e.now().Add(-duration.Seconds(pol.MaxAge)))
	lp.Assumed = true
	j.LedgerAdd(lp)
}

func (e *Engine) planTeardown(ctx context.Context, p *Plan, lv *live, j *journal.Journal, req Request) error {
	hasSTS := len(lv.stsRecs) > 0
	if p.Stage == StageAbsent && !hasSTS && lv.policy == nil {
		p.Nothing = true
		p.Reason = fmt.Sprintf("%s has no MTA-STS record and serves no policy: nothing to tear down", p.Domain)
		return nil
	}
	// Part 1: mode none with a new id, unless none is live already and
	// has replaced, at its served gate, every testing/enforce policy the
	// ledger holds: one seen live by hand while none's window ran (it
	// came back by hand too) is replaced only by none's served gate here,
	// which starts its max_age (invariant 3).
	noneOver := lv.policy != nil && lv.policy.Mode == string(mtasts.ModeNone) && hasSTS && unreplacedOther(j, lv.policy.Text)
	if lv.policy == nil || lv.policy.Mode != string(mtasts.ModeNone) || !hasSTS || noneOver {
		if hasSTS || lv.policy != nil {
			t, err := e.render(string(mtasts.ModeNone), NoneMaxAge, nil, lv)
			if err != nil {
				return err
			}
			if lv.policy == nil || lv.policy.Mode != string(mtasts.ModeNone) || noneOver {
				p.Target, p.Rung = t, -1
				p.Downgrade = downgrade(p, j, e.now())
				e.recipe(ctx, p, lv, nil)
				e.teardownAfterNone(p, lv, req, t)
				return nil
			}
		}
	}
	// Part 2: none is live (or only leftovers are): wait, then delete.
	until, what, err := e.teardownWindow(lv, j, req)
	if err != nil {
		p.Refusal = &Refusal{Code: CodeUnknownWindow, Reason: err.Error(), Override: CodeLastMaxAge}
		return nil
	}
	w := windowGate(e.now(), until, what)
	p.Gates = append(p.Gates, w)
	p.Steps = append(p.Steps, Step{Kind: StepGate, Gate: GateWindow, Summary: w.Reason, Done: w.Open})
	e.teardownDeletes(p, lv, req, strings.Join(lv.stsRecs, stsRecordSep))
	number(p)
	return nil
}

// teardownAfterNone appends what follows mode none t going live: the
// window (it starts once none is live; this run ends there), then the
// deletions.
func (e *Engine) teardownAfterNone(p *Plan, lv *live, req Request, t *Policy) {
	p.Steps = append(p.Steps, Step{Kind: StepGate, Gate: GateWindow, Summary: "wait out the max_age of the last testing/enforce policy, counted from when mode none went live"})
	// The deletion comes after the none id went live: its diff shows that
	// id, not the one live now.
	e.teardownDeletes(p, lv, req, txtrecord.STSRecord{ID: t.ID}.String())
	number(p)
}

// teardownWindow: senders may hold the last testing/enforce policy until
// max_age after the last time it was served (STS-SEND-5, STS-SEND-16), so
// deletion waits for noneSince + that max_age (invariant 3).
func (e *Engine) teardownWindow(lv *live, j *journal.Journal, req Request) (time.Time, string, error) {
	since, maxAge, _, _ := teardownOf(j)
	if since.IsZero() && lv.policy != nil && lv.policy.Mode == string(mtasts.ModeNone) {
		if t, _, ok := mtasts.ParseID(lv.stsID); ok {
			since = t
		}
	}
	// The operator's word can lengthen what the journal knows, never
	// shorten it.
	if req.LastMaxAge > maxAge {
		maxAge = req.LastMaxAge
	}
	now := e.now()
	if (since.IsZero() || maxAge <= 0) && !ledgerKnowsLast(j) {
		return time.Time{}, "", fmt.Errorf("the journal does not say when mode none went live or what max_age the last testing/enforce policy had, so the cache window is unknown: senders may still hold an enforce policy; give the largest max_age ever published")
	}
	until := since.Add(maxAge)
	if c := cachedUntil(j, now); c.After(until) {
		until = c
	}
	if since.IsZero() {
		return until, "the cache window (senders may hold a replaced testing/enforce policy for its max_age, as the ledger records)", nil
	}
	return until, fmt.Sprintf("the cache window (senders may hold a replaced testing/enforce policy for its max_age; mode none went live at %s)", since.UTC().Format(time.RFC3339)), nil
}

// unreplacedOther reports whether the ledger holds a testing or enforce
// policy other than text that is not replaced: senders may still fetch
// it as far as the ledger knows.
func unreplacedOther(j *journal.Journal, text string) bool {
	h := journal.PolicyHash(text)
	for _, p := range j.Ledger {
		if p.Mode != string(mtasts.ModeNone) && !p.Replaced() && p.Hash != h {
			return true
		}
	}
	return false
}

// ledgerKnowsLast reports whether the ledger knows the testing/enforce
// policies mode none replaced: one of them is there, replaced.
func ledgerKnowsLast(j *journal.Journal) bool {
	for _, p := range j.Ledger {
		if p.Mode != string(mtasts.ModeNone) && p.Replaced() {
			return true
		}
	}
	return false
}

// teardownDeletes appends the deletions; stsBefore is the _mta-sts record
// live when the deletion runs.
func (e *Engine) teardownDeletes(p *Plan, lv *live, req Request, stsBefore string) {
	sts := txtrecord.STSName(p.Domain)
	p.Steps = append(p.Steps,
		Step{Kind: StepDeleteSTS, Summary: "delete the _mta-sts record (no undo)", Name: sts, Before: stsBefore, Destructive: true, Done: stsBefore == ""},
		Step{Kind: StepGate, Gate: GatePublished, Summary: "wait until every authoritative name server has dropped it", Name: sts},
	)
	if !req.KeepTLSRPT && len(lv.rptRecs) > 0 {
		p.Steps = append(p.Steps, Step{Kind: StepDeleteTLSRPT, Summary: "delete the TLS-RPT record (no undo; it can be kept)", Name: txtrecord.TLSRPTName(p.Domain), Before: strings.Join(lv.rptRecs, " | "), Destructive: true, Skip: CodeKeepTLSRPT})
	}
	p.Steps = append(p.Steps, Step{Kind: StepRemovePolicy, Summary: "stop serving the policy file through " + e.cfg.Publisher.Spec() + " (no undo)", Name: txtrecord.PolicyURL(p.Domain), Destructive: true, Done: lv.policy == nil && lv.obs.PolicyGone})
}

// rungIndex is the position of mode@maxAge on the ladder, -1 when off it.
func rungIndex(l Ladder, mode string, maxAge int64) int {
	if i, ok := l.Find(mode, duration.Seconds(maxAge)); ok {
		return i
	}
	return -1
}

// modeRank orders modes for climbing: testing below enforce.
func modeRank(mode string) int {
	switch mode {
	case string(mtasts.ModeTesting):
		return 1
	case string(mtasts.ModeEnforce):
		return 2
	}
	return 0
}

// nextRung is the rung promote climbs to from mode@maxAge: the next one on
// the ladder, or, for a policy off the ladder, the first rung above it.
func nextRung(l Ladder, mode string, maxAge int64) (int, bool) {
	if i := rungIndex(l, mode, maxAge); i >= 0 {
		return i + 1, i+1 < len(l)
	}
	for i, r := range l {
		rm, cm := modeRank(r.Mode), modeRank(mode)
		if rm > cm || rm == cm && int64(r.MaxAge/time.Second) > maxAge {
			return i, true
		}
	}
	return 0, false
}

// soakOf is the soak of the rung mode@maxAge, or of the highest rung below
// it for a policy off the ladder (never less than the first rung's).
func soakOf(l Ladder, mode string, maxAge int64) time.Duration {
	if i := rungIndex(l, mode, maxAge); i >= 0 {
		return l[i].Soak
	}
	soak := l[0].Soak
	for _, r := range l {
		rm, cm := modeRank(r.Mode), modeRank(mode)
		if rm < cm || rm == cm && int64(r.MaxAge/time.Second) <= maxAge {
			soak = r.Soak
		}
	}
	return soak
}

// refuseUnlessLive refuses a workflow that works on a live testing or
// enforce policy when the domain has none: with fixOrRollback's refusal
// when senders may still hold an enforce policy, else with roll out
// first, why saying what the workflow needs the live policy for. It
// reports whether it refused.
func (e *Engine) refuseUnlessLive(p *Plan, lv *live, j *journal.Journal, why string) bool {
	if (p.Stage == StageTesting || p.Stage == StageEnforce) && lv.policy != nil {
		return false
	}
	if p.Refusal = fixOrRollback(p, j, e.now()); p.Refusal == nil {
		p.Refusal = &Refusal{Code: CodeRolloutFirst, Workflow: Rollout, Reason: fmt.Sprintf("%s is %s: %s", p.Domain, p.Stage, why)}
	}
	return true
}

// fixOrRollback is the refusal of a domain whose policy is broken (or
// gone) while the ledger shows that senders may hold an enforce policy:
// the next step is the fix or a rollback, never a rollout. nil otherwise.
func fixOrRollback(p *Plan, j *journal.Journal, now time.Time) *Refusal {
	if p.Stage == StageNone {
		return nil
	}
	w := Horizon(j, now).Worst
	if w == nil || w.Mode != string(mtasts.ModeEnforce) {
		return nil
	}
	r := &Refusal{
		Code: CodeFixOrRollback, Workflow: Rollback, Finding: brokenFinding(p.Live),
		Reason: fmt.Sprintf("%s is %s while senders may hold the enforce policy (mx %s) until %s whatever you do: fix the policy host, or roll back",
			p.Domain, p.Stage, strings.Join(w.MX, ", "), w.Until.UTC().Format(time.RFC3339)),
	}
	if r.Finding != "" {
		r.Details = append(r.Details, "the fix: "+r.Finding)
	}
	return r
}

// brokenFinding is the id of the first error finding about the policy or
// its record, "" when there is none.
func brokenFinding(rep *checks.Report) string {
	if rep == nil {
		return ""
	}
	for _, f := range rep.Findings {
		if f.Severity == checks.SevError && (f.Area == checks.AreaPolicy || f.Area == checks.AreaSTS) {
			return f.ID
		}
	}
	return ""
}
