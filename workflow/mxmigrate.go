package workflow

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stspilot/stspilot/checks"
	"github.com/stspilot/stspilot/checks/mtasts"
	"github.com/stspilot/stspilot/dnsprovider"
	"github.com/stspilot/stspilot/internal/duration"
	"github.com/stspilot/stspilot/internal/txtrecord"
	"github.com/stspilot/stspilot/workflow/journal"
)

// The mx-migrate workflow (docs/design.md, invariant 8) changes a
// domain's MX set under a live policy without a moment in which a sender
// may use an MX host that an enforce policy it may still hold does not
// cover:
//
//  1. preflight: every target host resolves and passes STARTTLS with a
//     valid certificate for its name at every address (in enforce a
//     failing target is a refusal);
//  2. widen: the policy lists the old patterns and the targets' (same
//     mode and max_age), through the usual recipe;
//  3. window: until no sender can still hold an enforce policy without
//     the targets' patterns (the ledger's horizon);
//  4. switch: the MX RRset becomes the target set, through the provider
//     or by the operator; published gate for the MX set;
//  5. drain: until no resolver can still hand out the old MX set (its TTL);
//  6. narrow: the policy lists the targets' patterns only (unless the old
//     ones are kept), then a final live check.

// Switch modes of the mx-migrate workflow (Request.MXSwitch).
const (
	MXSwitchProvider = "provider" // the DNS provider writes the MX RRset
	MXSwitchManual   = "manual"   // the operator does; the published gate waits
)

// More gates of the mx-migrate workflow.
const (
	// GatePreflight: every target MX host passes STARTTLS with a valid
	// certificate for its name.
	GatePreflight GateKind = "preflight"
	// GateDrain: resolvers may still hand out the replaced MX set until
	// its TTL has passed.
	GateDrain GateKind = "drain"
	// GateFinal: the live check after the last step.
	GateFinal GateKind = "final"
)

// StepSetMX is the step kind of the switch: the domain's MX RRset set to
// the target set.
const StepSetMX StepKind = "set-mx"

// Journal kinds of the mx-migrate workflow.
const (
	journalMXSet       journal.Kind = "mx-set"
	journalMXPublished journal.Kind = "mx-published"
)

// Refusals and inputs of the mx-migrate workflow.
const (
	// CodeMXTargetFails: a target MX host fails the preflight while the
	// domain is in enforce.
	CodeMXTargetFails Code = "mx-target-fails"
	// CodeMXUncovered: a change would let senders use an MX host that an
	// enforce policy they may hold does not cover (invariant 8).
	CodeMXUncovered Code = "mx-uncovered"
	// CodeMXTo: the target MX set (Request.MXTo) is missing or invalid.
	CodeMXTo Code = "mx-to"
	// CodeMXSwitch: the switch mode (Request.MXSwitch) cannot be used
	// with this provider.
	CodeMXSwitch Code = "mx-switch"
)

// MXReader reads the MX RRset a zone holds (the authoritative answer,
// or the provider's).
type MXReader interface {
	ReadMX(ctx context.Context, zone, name string) (dnsprovider.MXSet, error)
}

// MXPublishedChecker evaluates the published gate of an MX RRset: every
// address of every authoritative name server answers a set want accepts.
type MXPublishedChecker interface {
	CheckMX(ctx context.Context, zone, name string, want func(dnsprovider.MXSet) bool) GateResult
}

// mxPlan is what a plan of the mx-migrate workflow carries for its run.
type mxPlan struct {
	to     []dnsprovider.MX
	from   []dnsprovider.MX
	ttl    time.Duration
	manual bool
	mig    *journal.MXMigration
	final  *Policy
}

// mxLines renders MX records as journal strings: "10 mx1.example.".
func mxLines(recs []dnsprovider.MX) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.String()
	}
	return out
}

// parseMXLines reads mxLines back.
func parseMXLines(lines []string) []dnsprovider.MX {
	var out []dnsprovider.MX
	for _, l := range lines {
		p, h, ok := strings.Cut(l, " ")
		n, err := strconv.ParseUint(p, 10, 16)
		if !ok || err != nil {
			continue
		}
		out = append(out, dnsprovider.MX{Pref: uint16(n), Host: dnsprovider.Fqdn(h)})
	}
	recs, _ := dnsprovider.NormalizeMX(out)
	return recs
}

func mxHosts(recs []dnsprovider.MX) []string {
	return dnsprovider.MXSet{Records: recs}.Hosts()
}

// readMX is the domain's MX RRset: the provider's when it can read MX,
// else the authoritative servers' answer, else what the check saw.
func (e *Engine) readMX(ctx context.Context, zone, domain string, lv *live) (dnsprovider.MXSet, error) {
	if mp, ok := dnsprovider.MXOf(e.cfg.Provider); ok {
		return mp.ReadMX(ctx, zone, domain)
	}
	if r, ok := e.cfg.Published.(MXReader); ok {
		return r.ReadMX(ctx, zone, domain)
	}
	set := dnsprovider.MXSet{Name: dnsprovider.Fqdn(domain), TTL: lv.obs.MXTTL}
	for _, m := range lv.obs.MX {
		set.Records = append(set.Records, dnsprovider.MX{Pref: m.Preference, Host: m.Host})
	}
	set.Records, _ = dnsprovider.NormalizeMX(set.Records)
	return set, nil
}

// mxWindowUntil is the end of the window before the switch: the latest
// horizon of an enforce policy that does not cover every host of hosts
// (zero when none may be held any more), and that policy.
func mxWindowUntil(j *journal.Journal, now time.Time, hosts []string) (time.Time, *CachedPolicy) {
	var until time.Time
	var worst *CachedPolicy
	for _, c := range Horizon(j, now).Policies {
		if c.Mode != string(mtasts.ModeEnforce) {
			continue
		}
		for _, h := range hosts {
			if _, ok := mtasts.Covering(c.MX, h); !ok {
				if c.Until.After(until) {
					until = c.Until
					cp := c
					worst = &cp
				}
				break
			}
		}
	}
	return until, worst
}

func mxWindowGate(j *journal.Journal, now time.Time, hosts []string) GateResult {
	until, w := mxWindowUntil(j, now, hosts)
	if w == nil {
		return GateResult{Kind: GateWindow, Open: true, Reason: "no sender may hold an enforce policy that leaves out the new MX hosts"}
	}
	what := fmt.Sprintf("the window in which senders may hold the enforce policy (mx %s) that leaves out %s", strings.Join(w.MX, ", "), strings.Join(hosts, ", "))
	if w.Served {
		// Still served: its horizon moves with the clock.
		g := windowGate(now, until, what+" (it is still served, so the window starts once the wider policy replaces it)")
		return g
	}
	return windowGate(now, until, what)
}

// drainUntil is when no resolver may hand out the replaced MX set any
// more, ok=false before the switch was seen at every name server.
func drainUntil(m *journal.MXMigration) (time.Time, bool) {
	if m == nil || m.SwitchedAt.IsZero() {
		return time.Time{}, false
	}
	return m.SwitchedAt.Add(drainTTL(m.FromTTL)), true
}

// drainTTL is how long resolvers may hand out a replaced MX set whose TTL
// was ttl seconds; unknown (0) is a day, the longest TTL resolvers
// commonly keep.
func drainTTL(ttl int64) time.Duration {
	if ttl <= 0 {
		return 24 * time.Hour
	}
	return duration.Seconds(ttl)
}

// carryDrain keeps in mig, a migration planned from live state, the hosts
// of prev, an unfinished migration to another target it replaces, that
// resolvers may still hand out: prev's replaced set until its drain has
// passed (always when its switch was not seen at every name server). The
// new migration drains them with its own switch, with the longer TTL, so
// that its narrowing never drops a pattern of a host still in use
// (invariant 8).
func carryDrain(mig, prev *journal.MXMigration, now time.Time) {
	if prev == nil {
		return
	}
	if until, ok := drainUntil(prev); ok && !now.Before(until) {
		return
	}
	recs, _ := dnsprovider.NormalizeMX(append(parseMXLines(mig.From), parseMXLines(prev.From)...))
	mig.From = mxLines(recs)
	// Compare what each waits (an unknown TTL, 0, waits a day).
	if mig.FromTTL > 0 || prev.FromTTL > 0 {
		mig.FromTTL = ttlSeconds(max(drainTTL(mig.FromTTL), drainTTL(prev.FromTTL)))
	}
}

// usableMX are the MX hosts a sender may use at now: the target set,
// and the replaced set until the drain has passed.
func usableMX(m *journal.MXMigration, now time.Time, to []dnsprovider.MX) []string {
	hosts := mxHosts(to)
	if m == nil {
		return hosts
	}
	if until, ok := drainUntil(m); !ok || now.Before(until) {
		for _, h := range mxHosts(parseMXLines(m.From)) {
			if !slices.Contains(hosts, h) {
				hosts = append(hosts, h)
			}
		}
	}
	return hosts
}

// widenPatterns is old followed by the patterns of add that old does not
// list already.
func widenPatterns(old, add []string) []string {
	out := slices.Clone(old)
	for _, p := range add {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// preflight probes the target hosts: the live gate for enforce over them.
func (e *Engine) preflight(ctx context.Context, to []dnsprovider.MX, pats []string) GateResult {
	if e.cfg.ProbeMX == nil {
		return GateResult{Kind: GatePreflight, Reason: "the engine has no MX probe, so the target hosts cannot be checked"}
	}
	lv := &live{obs: &checks.Live{}}
	for _, h := range mxHosts(to) {
		lv.obs.MX = append(lv.obs.MX, e.cfg.ProbeMX(ctx, h))
	}
	g := e.enforceLive(lv, pats)
	g.Kind = GatePreflight
	if g.Open {
		g.Reason = fmt.Sprintf("all %d target MX hosts pass STARTTLS with a valid certificate for their names", len(to))
	}
	return g
}

func (e *Engine) planMXMigrate(ctx context.Context, p *Plan, lv *live, j *journal.Journal, req Request) error {
	to, err := dnsprovider.NormalizeMX(req.MXTo)
	if err != nil || len(to) == 0 {
		msg := "the target MX set is empty"
		if err != nil {
			msg = err.Error()
		}
		return &InputError{Code: CodeMXTo, Msg: msg}
	}
	for _, h := range mxHosts(to) {
		if !strings.Contains(h, ".") {
			return &InputError{Code: CodeMXTo, Msg: fmt.Sprintf("MX host %q is not a fully qualified name", h)}
		}
	}
	manual := false
	switch req.MXSwitch {
	case MXSwitchManual:
		manual = true
	case MXSwitchProvider:
		if _, ok := dnsprovider.MXOf(e.cfg.Provider); !ok {
			return &InputError{Code: CodeMXSwitch, Msg: fmt.Sprintf("the DNS provider %s cannot write MX records; change them by hand", e.cfg.Provider.Name())}
		}
	case "":
		_, ok := dnsprovider.MXOf(e.cfg.Provider)
		manual = !ok
	default:
		return &InputError{Code: CodeMXSwitch, Msg: fmt.Sprintf("switch %q: want provider or manual", req.MXSwitch)}
	}
	if e.refuseUnlessLive(p, lv, j, "an MX migration keeps a live testing or enforce policy covering the MX hosts; without one, change the MX records directly") {
		return nil
	}
	cur := lv.policy
	liveMX, err := e.readMX(ctx, p.Zone, p.Domain, lv)
	if err != nil {
		return fmt.Errorf("reading the MX records of %s: %w", p.Domain, err)
	}
	now := e.now()
	mig := j.MXMigration
	var prev *journal.MXMigration // an unfinished migration to another target
	if mig != nil && (!slices.Equal(mig.To, mxLines(to)) || !mig.DoneAt.IsZero()) {
		if mig.DoneAt.IsZero() {
			prev = mig
		}
		mig = nil // another target, or a finished one: plan from live state
	}
	switched := slices.Equal(liveMX.Records, to)
	newPats := mtasts.SuggestPatterns(mxHosts(to))
	if mig == nil {
		if switched {
			covered := true
			for _, h := range mxHosts(to) {
				if _, ok := mtasts.Covering(cur.MX, h); !ok {
					covered = false
				}
			}
			if covered {
				p.Nothing = true
				p.Reason = fmt.Sprintf("%s already has the MX set %s and its policy covers it", p.Domain, strings.Join(mxLines(to), ", "))
				return nil
			}
		}
		mig = &journal.MXMigration{From: mxLines(liveMX.Records), To: mxLines(to), FromTTL: ttlSeconds(liveMX.TTL), OldMX: slices.Clone(cur.MX), StartedAt: journal.Stamp(now)}
		carryDrain(mig, prev, now)
	} else {
		c := *mig
		mig = &c
		if !switched && ttlSeconds(liveMX.TTL) > mig.FromTTL {
			mig.FromTTL = ttlSeconds(liveMX.TTL)
		}
		if !switched && !mig.SwitchedAt.IsZero() {
			// Switched once, and the MX set changed since (by hand): the
			// switch is made again, and the drain counts from then over
			// the set it replaces, or the narrowing would drop the
			// patterns of hosts resolvers still hand out (invariant 8).
			recs, _ := dnsprovider.NormalizeMX(append(parseMXLines(mig.From), liveMX.Records...))
			mig.From = mxLines(recs)
			mig.SwitchedAt = time.Time{}
		}
	}
	mig.NewMX, mig.KeepOld, mig.Manual = newPats, req.KeepOld, manual
	from := parseMXLines(mig.From)
	wide := widenPatterns(mig.OldMX, newPats)
	final := newPats
	if req.KeepOld {
		final = wide
	}
	mp := &mxPlan{to: to, from: from, ttl: req.MXTTL, manual: manual, mig: mig}
	p.mx = mp

	// 1. preflight.
	if !switched {
		g := e.preflight(ctx, to, newPats)
		p.Gates = append(p.Gates, g)
		if !g.Open {
			if cur.Mode == string(mtasts.ModeEnforce) {
				p.Refusal = &Refusal{Code: CodeMXTargetFails, Reason: "in enforce, senders would refuse mail to a target MX that fails: " + g.Reason}
				for _, t := range g.Targets {
					if t.State != StateOK {
						p.Refusal.Details = append(p.Refusal.Details, strings.TrimSpace(fmt.Sprintf("%s %s: %s", t.Name, t.Addr, t.Detail)))
					}
				}
				return nil
			}
			p.Warnings = append(p.Warnings, "a target MX host fails; in testing senders only report it, but promote to enforce will refuse: "+g.Reason)
			g.Open = true
		}
		p.Steps = append(p.Steps, Step{Kind: StepGate, Gate: GatePreflight, Summary: g.Reason, Done: true})
	} else {
		p.Steps = append(p.Steps, Step{Kind: StepGate, Gate: GatePreflight, Summary: "the target MX hosts are live already", Done: true})
	}

	// 2. widen.
	stsBefore := strings.Join(lv.stsRecs, stsRecordSep)
	wideT, err := e.render(cur.Mode, cur.MaxAge, wide, lv)
	if err != nil {
		return err
	}
	keepIntentID(j, MXMigrate, wideT)
	widened := switched || cur.Text == wideT.Text && lv.stsID == wideT.ID
	if switched {
		// Past the widening: shown as done with what it published.
		wideT = cur
	}
	e.mxRecipe(p, "widen: publish the policy with the old and the new MX hosts", cur.Text, stsBefore, wideT, widened, lv)

	// 3. window.
	wg := mxWindowGate(j, now, mxHosts(to))
	if !switched {
		p.Gates = append(p.Gates, wg)
	}
	p.Steps = append(p.Steps, Step{Kind: StepGate, Gate: GateWindow, Summary: wg.Reason, Done: switched || wg.Open && widened})

	// 4. switch.
	sw := Step{Kind: StepSetMX, Name: dnsprovider.Fqdn(p.Domain), Before: strings.Join(mxLines(liveMX.Records), " | "), After: strings.Join(mxLines(to), " | "), Done: switched}
	if switched && !slices.Equal(from, to) {
		sw.Before = strings.Join(mig.From, " | ")
	}
	if manual {
		sw.Summary = "change the MX records of " + p.Domain + " by hand to the target set (shown); nothing else changes"
	} else {
		sw.Summary = "set the MX records of " + p.Domain + " through " + e.cfg.Provider.Name() + " (only the MX RRset of " + p.Domain + ")"
	}
	p.Steps = append(p.Steps, sw,
		Step{Kind: StepGate, Gate: GatePublished, Summary: "wait until every authoritative name server answers the new MX set", Name: dnsprovider.Fqdn(p.Domain), Done: !mig.SwitchedAt.IsZero(), mx: true})

	// 5. drain, 6. narrow.
	finalT := wideT
	if !slices.Equal(final, wideT.MX) || switched && !slices.Equal(final, cur.MX) {
		base := cur
		if !switched {
			base = wideT
		}
		if finalT, err = e.render(base.Mode, base.MaxAge, final, lv); err != nil {
			return err
		}
		keepIntentID(j, MXMigrate, finalT)
		if until, ok := drainUntil(mig); ok {
			dg := windowGate(now, until, "the TTL of the replaced MX set (resolvers may still hand it out)")
			dg.Kind = GateDrain
			p.Steps = append(p.Steps, Step{Kind: StepGate, Gate: GateDrain, Summary: dg.Reason, Done: dg.Open && cur.Text == finalT.Text})
		} else {
			p.Steps = append(p.Steps, Step{Kind: StepGate, Gate: GateDrain, Summary: fmt.Sprintf("wait out the TTL of the replaced MX set (%ds) after every name server answers the new one", mig.FromTTL)})
		}
		before := wideT.Text
		stsB := txtrecord.STSRecord{ID: wideT.ID}.String()
		if switched {
			before, stsB = cur.Text, stsBefore
		}
		e.mxRecipe(p, "narrow: publish the policy with the new MX hosts only", before, stsB, finalT, cur.Text == finalT.Text && lv.stsID == finalT.ID, lv)
	}
	mp.final = finalT
	p.Steps = append(p.Steps, Step{Kind: StepGate, Gate: GateFinal, Summary: "check the domain live: every MX host covered and passing STARTTLS"})
	p.Target = nil
	for i := range p.Steps {
		if s := &p.Steps[i]; s.target != nil && !s.Done {
			p.Target = s.target
			break
		}
	}
	if p.Target == nil {
		p.Target = finalT
	}
	p.Rung = rungIndex(e.cfg.Ladder, p.Target.Mode, p.Target.MaxAge)
	number(p)
	return nil
}

// mxRecipe appends one policy change of the migration; every step
// carries its target.
func (e *Engine) mxRecipe(p *Plan, summary, before, stsBefore string, t *Policy, done bool, lv *live) {
	e.changeSteps(p, lv, policyChange{
		t: t, summary: fmt.Sprintf("%s (%s, max_age %d, mx %s)", summary, t.Mode, t.MaxAge, strings.Join(t.MX, ", ")),
		before: before, stsBefore: stsBefore, done: done, several: true,
	})
}

// beginMigration records the migration in the journal before its first
// change, so that a killed run, a rollback or the next run continues it.
func (r *run) beginMigration() error {
	m := r.p.mx
	if m == nil || m.mig == nil {
		return nil
	}
	if cur := r.j.MXMigration; cur != nil && mxMigrationEqual(cur, m.mig) {
		return nil
	}
	c := *m.mig
	r.j.MXMigration = &c
	if err := r.txn.Save(r.j); err != nil {
		return fmt.Errorf("writing the journal: %w", err)
	}
	return nil
}

func mxMigrationEqual(a, b *journal.MXMigration) bool {
	return slices.Equal(a.From, b.From) && slices.Equal(a.To, b.To) && a.FromTTL == b.FromTTL && slices.Equal(a.OldMX, b.OldMX) &&
		slices.Equal(a.NewMX, b.NewMX) && a.KeepOld == b.KeepOld && a.Manual == b.Manual && a.StartedAt.Equal(b.StartedAt) && a.SwitchedAt.Equal(b.SwitchedAt)
}

// setMX is the switch: invariant 8 is checked again at the moment of
// writing (no sender may hold an enforce policy that leaves out a target).
func (r *run) setMX(ctx context.Context, s *Step, entry *journal.Entry) (bool, error) {
	m, e := r.p.mx, r.e
	if m == nil || r.j.MXMigration == nil {
		return false, fmt.Errorf("internal error: an MX switch outside an MX migration")
	}
	now := e.now()
	if until, w := mxWindowUntil(r.j, now, mxHosts(m.to)); w != nil {
		return false, &Refusal{Code: CodeMXUncovered, Reason: fmt.Sprintf("senders may hold the enforce policy (mx %s) until %s, and it does not cover %s: switching the MX records now would make them refuse mail (invariant 8)",
			strings.Join(w.MX, ", "), until.UTC().Format(time.RFC3339), strings.Join(mxHosts(m.to), ", "))}
	}
	if m.manual {
		if s.Done {
			return false, nil // every name server answers the target set already
		}
		rec := dnsprovider.MXSet{Name: dnsprovider.Fqdn(r.p.Domain), Records: m.to}.ZoneLines(m.manualTTL())
		r.emit(Event{Kind: EventManual, Step: s, Message: "Make these the only MX records of " + r.p.Domain + " at your DNS host (delete the others), then the published gate checks every name server:\n" + rec})
		return true, nil
	}
	mp, ok := dnsprovider.MXOf(e.cfg.Provider)
	if !ok {
		return false, fmt.Errorf("the DNS provider %s cannot write MX records", e.cfg.Provider.Name())
	}
	ch, err := mp.SetMX(ctx, r.p.Zone, r.p.Domain, m.to, m.ttl)
	entry.TTL = ttlSeconds(ch.ReplacedTTL)
	if t := ttlSeconds(ch.ReplacedTTL); t > r.j.MXMigration.FromTTL {
		r.j.MXMigration.FromTTL = t
	}
	if err != nil {
		return false, err
	}
	return ch.Changed, nil
}

func (m *mxPlan) manualTTL() time.Duration {
	if m.ttl > 0 {
		return m.ttl
	}
	if m.mig != nil && m.mig.FromTTL > 0 {
		return duration.Seconds(m.mig.FromTTL)
	}
	return dnsprovider.DefaultTTL
}

// mxGate evaluates the gates of the migration that the recipe does not
// know; ok=false for the others.
func (r *run) mxGate(ctx context.Context, s *Step) (GateResult, bool, error) {
	p, e, m := r.p, r.e, r.p.mx
	if p.Workflow != MXMigrate || m == nil {
		return GateResult{}, false, nil
	}
	now := e.now()
	switch {
	case s.Gate == GatePreflight:
		return GateResult{Kind: GatePreflight, Open: true, Reason: s.Summary}, true, nil
	case s.Gate == GateWindow:
		return mxWindowGate(r.j, now, mxHosts(m.to)), true, nil
	case s.Gate == GatePublished && s.mx:
		mc, ok := e.cfg.Published.(MXPublishedChecker)
		if !ok {
			return GateResult{}, true, fmt.Errorf("internal error: the published gate cannot check MX records")
		}
		g := mc.CheckMX(ctx, p.Zone, p.Domain, func(set dnsprovider.MXSet) bool { return slices.Equal(set.Records, m.to) })
		if g.Open {
			if mig := r.j.MXMigration; mig != nil && mig.SwitchedAt.IsZero() {
				mig.SwitchedAt = ceilSecond(now)
				if err := r.record(journal.Entry{Step: s.ID, Kind: journalMXPublished, Name: s.Name, After: strings.Join(mig.To, " | "), Changed: true}, journal.Done); err != nil {
					return g, true, err
				}
			}
		}
		return g, true, nil
	case s.Gate == GateDrain:
		until, ok := drainUntil(r.j.MXMigration)
		if !ok {
			return GateResult{Kind: GateDrain, Reason: "the new MX set is not yet answered by every name server"}, true, nil
		}
		g := windowGate(now, until, "the TTL of the replaced MX set (resolvers may still hand it out)")
		g.Kind = GateDrain
		return g, true, nil
	case s.Gate == GateFinal:
		lv := readLive(e.cfg.Check(ctx, p.Domain))
		pats := m.final.MX
		var g GateResult
		if m.final.Mode == string(mtasts.ModeEnforce) {
			g = e.enforceLive(lv, pats)
		} else {
			g = GateResult{Open: true, Reason: "testing: MX problems are reported by senders, not refused"}
		}
		g.Kind = GateFinal
		if g.Open && !slices.Equal(lv.mxHosts, mxHosts(m.to)) && !sameSet(lv.mxHosts, mxHosts(m.to)) {
			g.Open = false
			g.Reason = fmt.Sprintf("the resolver still answers the MX hosts %s, not %s", strings.Join(lv.mxHosts, ", "), strings.Join(mxHosts(m.to), ", "))
		}
		if g.Open {
			if mig := r.j.MXMigration; mig != nil && mig.DoneAt.IsZero() {
				mig.DoneAt = journal.Stamp(now)
				if err := r.txn.Save(r.j); err != nil {
					return g, true, fmt.Errorf("writing the journal: %w", err)
				}
			}
		} else if g.State == "" {
			g.State = GateBlocked
		}
		return g, true, nil
	}
	return GateResult{}, false, nil
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// mxCovers refuses a policy change of the migration that would leave an
// MX host senders may still use uncovered by an enforce policy
// (invariant 8), at the moment of writing.
func (r *run) mxCovers(t *Policy) error {
	m := r.p.mx
	if r.p.Workflow != MXMigrate || m == nil || t.Mode != string(mtasts.ModeEnforce) {
		return nil
	}
	var bad []string
	for _, h := range usableMX(r.j.MXMigration, r.e.now(), m.to) {
		if _, ok := mtasts.Covering(t.MX, h); !ok {
			bad = append(bad, h)
		}
	}
	if len(bad) > 0 {
		return &Refusal{Code: CodeMXUncovered, Reason: fmt.Sprintf("senders may still use the MX hosts %s, which the enforce policy (mx %s) does not cover: publishing it now would make them refuse mail (invariant 8)", strings.Join(bad, ", "), strings.Join(t.MX, ", "))}
	}
	return nil
}

func mxDoneMessage(p *Plan) string {
	m := p.mx
	if m == nil || m.final == nil {
		return "done"
	}
	return fmt.Sprintf("%s receives mail at %s: policy mode %s, max_age %d, mx %s, id %s", p.Domain, strings.Join(mxHosts(m.to), ", "), m.final.Mode, m.final.MaxAge, strings.Join(m.final.MX, ", "), m.final.ID)
}

// liveAlready reports whether s belongs to a policy change of a plan with
// several (mx-migrate) that live state holds entirely: every step of it
// is done and no intent of the journal names it.
func (r *run) liveAlready(s *Step) bool {
	t := s.target
	if t == nil || r.p.Workflow != MXMigrate {
		return false
	}
	if in := intentOf(r.j); in != nil && in.Target.Text == t.Text {
		return false
	}
	for _, x := range r.p.Steps {
		if x.target == t && !x.Done {
			return false
		}
	}
	return true
}
