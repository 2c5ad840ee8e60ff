package workflow

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/stspilot/stspilot/checks/mtasts"
	"github.com/stspilot/stspilot/dnsprovider"
	"github.com/stspilot/stspilot/internal/domainname"
	"github.com/stspilot/stspilot/internal/duration"
	"github.com/stspilot/stspilot/internal/txtrecord"
	"github.com/stspilot/stspilot/workflow/journal"
)

// ApplyOptions tune one run.
type ApplyOptions struct {
	// Wait keeps re-checking closed gates until they open or Wait has
	// passed (--wait); 0 stops at the first closed gate.
	Wait time.Duration
}

// ErrPlanChanged means live state moved between the plan the operator
// confirmed and the apply: plan again.
var ErrPlanChanged = errors.New("the plan changed since it was shown")

// Apply runs req under the domain's journal lock: it plans again from live
// state, checks that the plan still is the one confirmed (when confirmed is
// not nil), runs the steps whose gates are open and stops at the first
// closed gate. Every external change is journaled before and after.
func (e *Engine) Apply(ctx context.Context, req Request, confirmed *Plan, obs Observer, opt ApplyOptions) (*Outcome, error) {
	if obs == nil {
		obs = Discard
	}
	obs = &serialObserver{o: obs}
	domain, err := normalizeDomain(req.Domain)
	if err != nil {
		return nil, err
	}
	txn, err := e.cfg.Journal.Begin(domain, e.cfg.Command, e.now())
	if err != nil {
		return nil, err
	}
	defer txn.Close()
	j, err := e.load(txn, domain)
	if err != nil {
		return nil, err
	}
	seen := slices.Clone(j.Ledger)
	p, err := e.plan(ctx, req, domain, j)
	if err != nil {
		return nil, err
	}
	// What the plan saw live and the ledger did not hold (noteLive: a
	// policy changed by hand) is kept now, whatever the run does next: a
	// run that is refused, or stops at a closed gate before its first
	// write, would otherwise forget a policy senders may hold, and a later
	// teardown would not wait for it (invariant 3).
	if !reflect.DeepEqual(seen, j.Ledger) {
		if err := txn.Save(j); err != nil {
			return nil, fmt.Errorf("writing the journal: %w", err)
		}
	}
	if confirmed != nil {
		// The id the operator saw is not kept: a new one is minted when
		// the change starts (mintID), as it is for every plan.
		if err := samePlan(confirmed, p); err != nil {
			return nil, err
		}
	}
	r := &run{e: e, txn: txn, obs: obs, p: p, j: j, pending: map[string]int{}, deadline: e.now().Add(opt.Wait), wait: opt.Wait > 0, lastMaxAge: req.LastMaxAge}
	out := r.do(ctx)
	obs.Event(Event{Time: e.now(), Kind: EventOutcome, Domain: domain, Outcome: out, NextAt: out.NextAt})
	return out, nil
}

// interruptedReason closes an entry a killed run left pending. It says only
// what is known when the next run finds it: that run has not done anything
// yet, and what it then does is journaled in entries of its own.
const interruptedReason = "interrupted: the run that started this change ended before it finished; the next run found it pending and re-read live state"

// load reads the journal under the lock (a new one when the domain has
// none). Entries a killed run left pending are closed as failed with the
// reason: this run re-reads live state and redoes only what is missing.
func (e *Engine) load(txn Txn, domain string) (*journal.Journal, error) {
	j, err := txn.Load()
	if err != nil {
		return nil, fmt.Errorf("%w (the file is left as it is; move it aside to start over)", err)
	}
	if j == nil {
		return journal.New(domain)
	}
	now, stale := e.now(), false
	for _, p := range j.Pending() {
		if err := j.Finish(p.ID, journal.Failed, now, interruptedReason); err == nil {
			stale = true
		}
	}
	if stale {
		// Killed at the same point as the run before: one entry.
		j.Fold()
	}
	if stale {
		if err := txn.Save(j); err != nil {
			return nil, err
		}
	}
	return j, nil
}

// normalizeDomain is domainname.Normalize with its error marked as a
// usage error (exit 2).
func normalizeDomain(d string) (string, error) {
	n, err := domainname.Normalize(d)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrUsage, err)
	}
	return n, nil
}

// samePlan compares what matters: target bytes and the changes.
func samePlan(a, b *Plan) error {
	at, bt := "", ""
	if a.Target != nil {
		at = a.Target.Text
	}
	if b.Target != nil {
		bt = b.Target.Text
	}
	kinds := func(p *Plan) []string {
		var k []string
		for _, s := range p.Steps {
			if s.Kind != StepGate && !s.Done {
				after := s.After
				if s.Kind == StepSetSTS {
					after = "" // the new id differs from plan to plan; the one shown is kept
				}
				k = append(k, string(s.Kind)+" "+s.Name+" "+after)
			}
		}
		return k
	}
	if at != bt || !slices.Equal(kinds(a), kinds(b)) || (a.Refusal == nil) != (b.Refusal == nil) || a.Nothing != b.Nothing {
		return fmt.Errorf("%w: live state moved while it was on screen; plan again", ErrPlanChanged)
	}
	return nil
}

// run is one Apply.
type run struct {
	e   *Engine
	txn Txn
	obs Observer
	p   *Plan
	// j is the journal, changed in place and saved with every entry.
	j *journal.Journal
	// pending maps a step id to the id of its pending entry.
	pending map[string]int
	// recordsGone is set once a teardown removed the policy.
	recordsGone bool
	deadline    time.Time
	wait        bool
	// servedOK is set once the served gate opened for the target in this
	// run: the id is never set before (invariant 1).
	servedOK bool
	// lastDNS is the value the published gate waits for ("" = none of ours).
	lastDNS     string
	lastDNSKind dnsprovider.Kind
	// lastMaxAge is the operator's word for the max_age of the last
	// testing/enforce policy (Request.LastMaxAge).
	lastMaxAge time.Duration
}

func (r *run) emit(ev Event) {
	ev.Time = r.e.now()
	ev.Domain = r.p.Domain
	r.obs.Event(ev)
}

func (r *run) outcome(st Status, msg string) *Outcome {
	o := &Outcome{Domain: r.p.Domain, Workflow: r.p.Workflow, Status: st, Stage: r.p.Stage, Message: msg, Risk: r.p.Risk}
	if r.j.Policy != nil {
		pol := *r.j.Policy
		o.Policy = &pol
		o.Stage = Stage(pol.Mode)
	}
	if r.recordsGone {
		o.Stage, o.Policy = StageAbsent, nil
	}
	return o
}

func (r *run) do(ctx context.Context) *Outcome {
	p := r.p
	r.emit(Event{Kind: EventPlan, Plan: p})
	for _, w := range p.Warnings {
		r.emit(Event{Kind: EventWarning, Message: w})
	}
	if p.Refusal != nil {
		r.emit(Event{Kind: EventRefused, Refusal: p.Refusal})
		o := r.outcome(StatusRefused, p.Refusal.Reason)
		o.Refusal = p.Refusal
		return o
	}
	if p.Nothing {
		return r.outcome(StatusNothing, p.Reason)
	}
	if p.Risk != nil {
		r.emit(Event{Kind: EventRisk, Risk: p.Risk, Message: p.Risk.String()})
	}
	if err := r.beginMigration(); err != nil {
		o := r.outcome(StatusFailed, "writing the journal")
		o.Error = err.Error()
		return o
	}
	for i := range p.Steps {
		s := &p.Steps[i]
		if r.liveAlready(s) {
			// A change of the plan that live state holds entirely
			// (mx-migrate's widening, seen again after the switch): not
			// redone, nor journaled again on every re-run.
			continue
		}
		if s.target != nil && s.target != p.Target {
			// The next policy change of a plan that makes several.
			if p.Target != nil {
				p.Current = p.Target
			}
			p.Target, r.servedOK, r.lastDNS, r.lastDNSKind = s.target, false, "", ""
		}
		if err := ctx.Err(); err != nil {
			o := r.outcome(StatusFailed, "interrupted")
			o.Error = err.Error()
			return o
		}
		r.emit(Event{Kind: EventStep, Step: s})
		var g *GateResult
		var err error
		switch s.Kind {
		case StepGate:
			g, err = r.gate(ctx, s)
		default:
			err = r.change(ctx, s)
		}
		if err != nil {
			o := r.outcome(StatusFailed, fmt.Sprintf("step %s failed", s.ID))
			o.Error = err.Error()
			var ref *Refusal
			if errors.As(err, &ref) {
				o.Status, o.Refusal, o.Message, o.Error = StatusRefused, ref, ref.Reason, ""
				r.emit(Event{Kind: EventRefused, Refusal: ref})
			}
			return o
		}
		if g != nil && !g.Open {
			o := r.outcome(StatusPending, g.Reason)
			if g.State == GateBlocked {
				o.Message = blockedMessage(g)
			}
			o.Gate, o.NextAt = g, g.NextAt
			return o
		}
	}
	return r.outcome(StatusDone, doneMessage(p))
}

func doneMessage(p *Plan) string {
	switch {
	case p.Workflow == MXMigrate:
		return mxDoneMessage(p)
	case p.Workflow == Teardown:
		return fmt.Sprintf("MTA-STS is removed from %s", p.Domain)
	case p.Target != nil:
		return fmt.Sprintf("%s is live: mode %s, max_age %d, id %s", p.Domain, p.Target.Mode, p.Target.MaxAge, p.Target.ID)
	}
	return "done"
}

// record journals e: appended as pending, or completed as done or failed
// when its step has a pending entry (else appended and completed at once),
// together with the rest of the journal's state, before it returns.
func (r *run) record(e journal.Entry, status journal.Status) error {
	j, now := r.j, r.e.now()
	if e.Run == "" {
		e.Run = r.txn.Run()
	}
	e.Workflow = string(r.p.Workflow)
	if status == journal.Pending {
		r.pending[e.Step] = j.Append(e, now)
	} else {
		id, ok := r.pending[e.Step]
		if !ok {
			id = j.Append(e, now)
		} else if p := j.Entry(id); p != nil {
			p.Changed, p.TTL, p.After = e.Changed, e.TTL, e.After
			delete(r.pending, e.Step)
		}
		if err := j.Finish(id, status, now, e.Error); err != nil {
			return fmt.Errorf("writing the journal: %w", err)
		}
		if n := len(j.Entries); n > 0 && j.Entries[n-1].ID == id {
			// A re-run that changed nothing (a gate still closed) or failed
			// as the last one did is one more run of the same entry.
			j.Fold()
		}
	}
	settleStage(j)
	if err := r.txn.Save(j); err != nil {
		return fmt.Errorf("writing the journal: %w", err)
	}
	crashPoint("journal:" + string(StepKindOf(e.Kind)) + ":" + string(status))
	r.emit(Event{Kind: EventJournal, Message: e.Step + " " + string(status)})
	return nil
}

// beginIntent journals the target before the first external change.
func (r *run) beginIntent() error {
	t := r.p.Target
	if t == nil {
		return nil
	}
	if in := intentOf(r.j); in != nil && in.Target.Text == t.Text && in.Target.ID == t.ID {
		// A change an earlier run started: same bytes, same id.
		return nil
	}
	r.mintID(t)
	// The intent keeps the rua value as written in the record, so that a
	// later run sets the same destinations.
	rua := strings.Join(r.p.RUA, ",")
	target := *t
	target.ServedAt, target.PublishedAt = time.Time{}, time.Time{}
	r.j.Intent = &journal.Intent{Workflow: string(r.p.Workflow), Target: &target, RUA: rua, Run: r.txn.Run(), StartedAt: r.e.now()}
	return r.record(journal.Entry{Step: "0-intent", Kind: stepIntent.Journal(), Name: txtrecord.PolicyURL(r.p.Domain), After: t.Text, PolicyID: t.ID, MaxAge: t.MaxAge}, journal.Done)
}

// mintID gives t the id of this moment, when its change starts: the plan
// minted t's id when it was made, and a run that waited (a soak, a window,
// a prompt) would otherwise publish the time of the plan, not the time the
// policy was first written (docs/design.md, "The id scheme"). The steps
// that name the planned id (set the id, delete it after a teardown's
// window) name the new one. An id the plan did not mint is kept: the live
// id of the same bytes (nothing to change) and an id that is not of the
// scheme for t's bytes. A started change keeps its intent's id
// (beginIntent).
func (r *run) mintID(t *Policy) {
	live := ""
	if rep := r.p.Live; rep != nil && rep.Live != nil {
		live = rep.Live.STS.ID
	}
	if t.ID == "" || t.ID == live {
		return
	}
	if rec, ok := mtasts.VerifyID(t.ID, []byte(t.Text)); !rec || !ok {
		return
	}
	now := r.e.now()
	id := mtasts.NewID(now, []byte(t.Text))
	if id == live { // never reuse the live id by accident
		id = mtasts.NewID(now.Add(time.Second), []byte(t.Text))
	}
	if id == t.ID {
		return
	}
	oldRec, newRec := txtrecord.STSRecord{ID: t.ID}.String(), txtrecord.STSRecord{ID: id}.String()
	for i := range r.p.Steps {
		s := &r.p.Steps[i]
		s.Before = strings.ReplaceAll(s.Before, oldRec, newRec)
		s.After = strings.ReplaceAll(s.After, oldRec, newRec)
	}
	t.ID = id
}

func (r *run) change(ctx context.Context, s *Step) error {
	k, ok := kindInfo(s.Kind)
	if !ok || k.exec == nil {
		return fmt.Errorf("internal error: unknown step kind %q", s.Kind)
	}
	if k.intent {
		if err := r.beginIntent(); err != nil {
			return err
		}
	}
	entry := journal.Entry{Step: s.ID, Kind: k.journal, Name: s.Name, Before: s.Before, After: s.After}
	if k.policy {
		entry.PolicyText = s.After
	}
	if t := r.p.Target; t != nil {
		entry.PolicyID, entry.MaxAge = t.ID, t.MaxAge
	}
	if err := r.record(entry, journal.Pending); err != nil {
		return err
	}
	changed, err := k.exec(r, ctx, s, &entry)
	if err == nil {
		crashPoint(string(s.Kind) + "-written")
	}
	entry.Changed = changed
	if err != nil {
		entry.Error = err.Error()
		if jerr := r.record(entry, journal.Failed); jerr != nil {
			return errors.Join(err, jerr)
		}
		return err
	}
	if err := r.record(entry, journal.Done); err != nil {
		return err
	}
	ev := Event{Kind: EventStepDone, Step: s, Changed: changed}
	if !changed {
		ev.Kind = EventStepSkip
		ev.Message = "already in place"
	}
	r.emit(ev)
	return nil
}

// teardownWindowOpen refuses a deletion inside the cache window
// (invariant 3), whatever the plan said.
func (r *run) teardownWindowOpen() error {
	now := r.e.now()
	_, until, ok, err := teardownEnd(r.j, now, r.lastMaxAge)
	if err != nil {
		return err
	}
	if !ok {
		// Only the operator's --last-max-age and the id could have opened
		// the plan's window; the plan checked them.
		return nil
	}
	if now.Before(until) {
		return &Refusal{Code: CodeCacheWindow, Reason: fmt.Sprintf("deleting now would strand senders that cache the last testing/enforce policy until %s (invariant 3)", until.UTC().Format(time.RFC3339))}
	}
	return nil
}

func (r *run) manualRecord(s *Step, ch dnsprovider.Change) {
	if ch.Manual && ch.Changed {
		r.emit(Event{Kind: EventManual, Step: s, Message: "Publish this record at your DNS host, then the published gate checks every name server:\n" + ch.Record})
	}
}

// gate evaluates a gate step, waiting within the deadline when --wait.
func (r *run) gate(ctx context.Context, s *Step) (*GateResult, error) {
	p, e := r.p, r.e
	for {
		var g GateResult
		mg, handled, err := r.mxGate(ctx, s)
		if err != nil {
			return nil, err
		}
		switch gate := s.Gate; {
		case handled:
			g = mg
		case gate == GateServed:
			g = e.cfg.Served.Check(ctx, p.Domain, []byte(p.Target.Text))
			if g.Open {
				r.servedOK = true
				if err := r.ledgerServed(); err != nil {
					return nil, err
				}
			}
		case gate == GatePublished:
			want, kind := r.lastDNS, r.lastDNSKind
			if kind == "" {
				// The set step was already done in an earlier run.
				kind = dnsprovider.KindSTS
				want = ""
				for i := range p.Steps {
					if &p.Steps[i] == s {
						break // the set step before this gate, not a later one
					}
					if p.Steps[i].Kind == StepSetSTS {
						want = p.Steps[i].After
					}
				}
			}
			g = e.cfg.Published.Check(ctx, p.Zone, s.Name, func(t dnsprovider.TXTSet) bool {
				ours := t.Ours(kind)
				if want == "" {
					return len(ours) == 0
				}
				return len(ours) == 1 && ours[0] == want
			})
			if g.Open {
				if err := r.published(want); err != nil {
					return nil, err
				}
			}
		case gate == GateWindow:
			wg, werr := r.window(s)
			if werr != nil {
				return nil, werr
			}
			g = wg
		case gate == GateLive, gate == GateEvidence:
			// Evaluated while planning; a closed one made the plan a refusal.
			for _, pg := range p.Gates {
				if pg.Kind == s.Gate {
					g = pg
				}
			}
			if !g.Open && g.NextAt == nil {
				return nil, &Refusal{Code: refusalOfGate(g.Kind), Reason: g.Reason}
			}
		default:
			return nil, fmt.Errorf("internal error: unknown gate %q", s.Gate)
		}
		if g.Open {
			g.State = ""
			r.emit(Event{Kind: EventGate, Step: s, Gate: &g})
			return &g, nil
		}
		if g.State == "" {
			g.State = GateWaiting
		}
		if g.State == GateBlocked {
			// What senders do meanwhile, whatever the operator does.
			g.Meanwhile = Horizon(r.j, e.now()).Worst
			g.NextAt = nil
		}
		next := g.NextAt
		if next == nil {
			n := e.now().Add(e.cfg.Poll)
			next = &n
			g.NextAt = next
		}
		r.emit(Event{Kind: EventGate, Step: s, Gate: &g, NextAt: next})
		if !r.wait || next.After(r.deadline) && !e.now().Before(r.deadline) {
			return &g, nil
		}
		until := *next
		if until.After(r.deadline) {
			until = r.deadline
		}
		r.emit(Event{Kind: EventWait, Step: s, NextAt: &until, Message: g.Reason})
		select {
		case <-ctx.Done():
			return &g, ctx.Err()
		case <-r.e.cfg.Clock.After(until.Sub(e.now())):
		}
	}
}

// published records that the target's id (or the deletion) is live at
// every name server: the intent is complete.
func (r *run) published(want string) error {
	p, j, now := r.p, r.j, r.e.now()
	if want == "" || p.Target == nil {
		return nil
	}
	t := *p.Target
	prev := j.Policy
	// The policy this one replaces may stay in senders' caches for its
	// max_age from now (a sender may have fetched it a moment ago).
	for _, old := range []*Policy{p.Current, prev} {
		if old != nil && old.Mode != string(mtasts.ModeNone) && old.Text != t.Text {
			if until := now.Add(duration.Seconds(old.MaxAge)); until.After(cacheWindowEnd(j)) {
				setCachedUntil(j, until, now)
			}
		}
	}
	if t.Mode == string(mtasts.ModeNone) {
		since, last, gone, ok := teardownOf(j)
		if !ok || !gone.IsZero() {
			since, last = now, 0
		}
		last = max(last, cachedUntil(j, now).Sub(since), r.lastMaxAge)
		setTeardown(j, since, last)
	} else {
		j.ClearWindow(journal.WindowTeardown)
	}
	if prev != nil && prev.Text == t.Text && prev.ID == t.ID {
		j.Intent = nil
		settleStage(j)
		return nil
	}
	t.ServedAt, t.PublishedAt = time.Time{}, now
	j.Policy = &t
	j.Intent = nil
	if lp := j.LedgerFind(journal.PolicyHash(t.Text)); lp != nil && !lp.Replaced() {
		lp.ID = t.ID
		if lp.PublishedAt.IsZero() {
			lp.PublishedAt = journal.Stamp(now)
		}
	} else {
		j.LedgerAdd(ledgerEntry(&t, now))
	}
	setSoak(j, r.e.cfg.Ladder, &t)
	return r.record(journal.Entry{Step: "published", Kind: StepGate.Journal(), Name: txtrecord.STSName(p.Domain), After: want, PolicyID: t.ID, MaxAge: t.MaxAge, Changed: true}, journal.Done)
}

// window re-evaluates a window gate against the journal at this moment
// (a teardown's window starts inside the same run).
func (r *run) window(s *Step) (GateResult, error) {
	p, now := r.p, r.e.now()
	if p.Workflow == Teardown {
		noneSince, until, ok, err := teardownEnd(r.j, now, r.lastMaxAge)
		if err != nil {
			return GateResult{}, err
		}
		if ok {
			return windowGate(now, until, fmt.Sprintf("the cache window (senders may hold a replaced testing/enforce policy for its max_age; mode none went live at %s)", noneSince.UTC().Format(time.RFC3339))), nil
		}
	}
	for _, g := range p.Gates {
		if g.Kind == GateWindow {
			if g.NextAt != nil {
				return windowGate(now, *g.NextAt, g.window), nil
			}
			return g, nil
		}
	}
	return GateResult{Kind: GateWindow, Open: true, Reason: "no window applies"}, nil
}

// teardownEnd is when a teardown whose mode none went live (the
// journal's teardown window, ok) may delete: the window's end, or
// noneSince + the operator's max_age, or the horizon, whichever is
// latest. It is a refusal when none of them knows a testing/enforce
// policy that mode none replaced: a domain first met with its _mta-sts
// record live and no policy served named a policy stspilot never saw,
// which senders may hold for a max_age only the operator can tell
// (invariant 3).
func teardownEnd(j *journal.Journal, now time.Time, opMaxAge time.Duration) (noneSince, until time.Time, ok bool, err error) {
	noneSince, lastMaxAge, _, ok := teardownOf(j)
	if !ok {
		return noneSince, until, false, nil
	}
	lastMaxAge = max(lastMaxAge, opMaxAge)
	if lastMaxAge <= 0 && !ledgerKnowsLast(j) {
		return noneSince, until, true, &Refusal{
			Code: CodeUnknownWindow, Override: CodeLastMaxAge,
			Reason: "the journal does not say what max_age the policy mode none replaced had (the _mta-sts record named a policy stspilot never saw served), so the cache window is unknown: senders may still hold an enforce policy; give the largest max_age ever published",
		}
	}
	until = noneSince.Add(lastMaxAge)
	if c := cachedUntil(j, now); c.After(until) {
		until = c
	}
	return noneSince, until, true, nil
}

// ledgerServed records in the ledger that every address of the policy
// host serves the target: every other policy is replaced now (no address
// serves it any more), and the target may be held by senders from now on.
func (r *run) ledgerServed() error {
	t, j := r.p.Target, r.j
	if t == nil {
		return nil
	}
	now := ceilSecond(r.e.now())
	h := journal.PolicyHash(t.Text)
	n := j.LedgerReplace(h, now)
	before := len(j.Ledger)
	lp := j.LedgerAdd(journal.LedgerPolicy{Hash: h, ID: t.ID, PolicyTerms: t.PolicyTerms.Clone()})
	if n == 0 && len(j.Ledger) == before && lp.ID == t.ID {
		return nil
	}
	if err := r.txn.Save(j); err != nil {
		return fmt.Errorf("writing the journal: %w", err)
	}
	return nil
}

// blockedMessage says what blocks a blocked gate, the fix, and what
// senders do meanwhile.
func blockedMessage(g *GateResult) string {
	var b strings.Builder
	b.WriteString(g.Reason)
	var ids []string
	for _, x := range g.Blockers {
		if x.Finding != "" && !slices.Contains(ids, x.Finding) {
			ids = append(ids, x.Finding)
		}
	}
	if len(ids) > 0 {
		fmt.Fprintf(&b, "; the fix: %s", strings.Join(ids, ", "))
	}
	if m := g.Meanwhile; m != nil {
		fmt.Fprintf(&b, "; meanwhile senders keep the cached %s policy until %s whatever you do", m.Mode, m.Until.UTC().Format(time.RFC3339))
	}
	return b.String()
}
