package workflow

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stspilot/stspilot/checks"
	"github.com/stspilot/stspilot/checks/mtasts"
	"github.com/stspilot/stspilot/dnsprovider"
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
	txn, err := e.Journal.Begin(domain, e.Command, req.Workflow)
	if err != nil {
		return nil, err
	}
	defer txn.Close()
	mem := txn.Memory()
	p, err := e.plan(ctx, req, domain, mem)
	if err != nil {
		return nil, err
	}
	if confirmed != nil {
		if err := samePlan(confirmed, p); err != nil {
			return nil, err
		}
		if p.Target != nil && confirmed.Target != nil && p.Target.Text == confirmed.Target.Text && (mem == nil || mem.Intent == nil) {
			// Keep the id the operator saw.
			p.Target.ID = confirmed.Target.ID
			for i := range p.Steps {
				if p.Steps[i].Kind == StepSetSTS {
					p.Steps[i].After = "v=STSv1; id=" + p.Target.ID + ";"
				}
			}
		}
	}
	r := &run{e: e, txn: txn, obs: obs, p: p, mem: cloneMemory(mem), deadline: e.now().Add(opt.Wait), wait: opt.Wait > 0}
	out := r.do(ctx)
	obs.Event(Event{Time: e.now(), Kind: EventOutcome, Domain: domain, Outcome: out, NextAt: out.NextAt})
	return out, nil
}

// normalizeDomain is checks.NormalizeDomain with its error marked as a
// usage error (exit 2).
func normalizeDomain(d string) (string, error) {
	n, err := checks.NormalizeDomain(d)
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
				k = append(k, string(s.Kind)+" "+s.Name+" "+strings.SplitN(s.After, "id=", 2)[0])
			}
		}
		return k
	}
	if at != bt || !slices.Equal(kinds(a), kinds(b)) || (a.Refusal == nil) != (b.Refusal == nil) || a.Nothing != b.Nothing {
		return fmt.Errorf("%w: live state moved while it was on screen; plan again", ErrPlanChanged)
	}
	return nil
}

func cloneMemory(m *Memory) *Memory {
	if m == nil {
		return &Memory{}
	}
	c := *m
	if m.Current != nil {
		x := *m.Current
		c.Current = &x
	}
	if m.Intent != nil {
		x := *m.Intent
		c.Intent = &x
	}
	if m.Teardown != nil {
		x := *m.Teardown
		c.Teardown = &x
	}
	return &c
}

// run is one Apply.
type run struct {
	e        *Engine
	txn      Txn
	obs      Observer
	p        *Plan
	mem      *Memory
	deadline time.Time
	wait     bool
	// servedOK is set once the served gate opened for the target in this
	// run: the id is never set before (invariant 1).
	servedOK bool
	// lastDNS is the value the published gate waits for ("" = none of ours).
	lastDNS     string
	lastDNSKind dnsprovider.Kind
}

func (r *run) emit(ev Event) {
	ev.Time = r.e.now()
	ev.Domain = r.p.Domain
	r.obs.Event(ev)
}

func (r *run) outcome(st Status, msg string) *Outcome {
	o := &Outcome{Domain: r.p.Domain, Workflow: r.p.Workflow, Status: st, Stage: r.p.Stage, Message: msg, Risk: r.p.Risk}
	if r.mem.Current != nil {
		pol := r.mem.Current.Policy
		o.Policy = &pol
		o.Stage = Stage(pol.Mode)
	}
	if r.mem.Teardown != nil && !r.mem.Teardown.RecordsGoneAt.IsZero() {
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
	for i := range p.Steps {
		s := &p.Steps[i]
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
			o.Gate, o.NextAt = g, g.NextAt
			return o
		}
	}
	return r.outcome(StatusDone, doneMessage(p))
}

func doneMessage(p *Plan) string {
	switch {
	case p.Workflow == Teardown:
		return fmt.Sprintf("MTA-STS is removed from %s", p.Domain)
	case p.Target != nil:
		return fmt.Sprintf("%s is live: mode %s, max_age %d, id %s", p.Domain, p.Target.Mode, p.Target.MaxAge, p.Target.ID)
	}
	return "done"
}

// record journals an entry with the current memory.
func (r *run) record(e Entry) error {
	e.At = r.e.now()
	if err := r.txn.Record(r.mem, e); err != nil {
		return fmt.Errorf("writing the journal: %w", err)
	}
	crashPoint("journal:" + string(e.Kind) + ":" + e.Status)
	r.emit(Event{Kind: EventJournal, Message: e.Step + " " + e.Status})
	return nil
}

// beginIntent journals the target before the first external change.
func (r *run) beginIntent() error {
	t := r.p.Target
	if t == nil || (r.mem.Intent != nil && r.mem.Intent.Target.Text == t.Text && r.mem.Intent.Target.ID == t.ID) {
		return nil
	}
	rua := ""
	for _, s := range r.p.Steps {
		if s.Kind == StepSetTLSRPT {
			rua = strings.TrimPrefix(s.After, "v=TLSRPTv1; rua=")
		}
	}
	r.mem.Intent = &Intent{Workflow: r.p.Workflow, Target: *t, RUA: rua, StartedAt: r.e.now()}
	return r.record(Entry{Step: "0-intent", Kind: "intent", Status: EntryDone, Name: "https://mta-sts." + r.p.Domain + "/" + WellKnownPath, After: t.Text, PolicyID: t.ID, MaxAge: t.MaxAge})
}

func (r *run) change(ctx context.Context, s *Step) error {
	p, e := r.p, r.e
	if s.Kind == StepPublishPolicy || s.Kind == StepSetSTS || s.Kind == StepSetTLSRPT {
		if err := r.beginIntent(); err != nil {
			return err
		}
	}
	entry := Entry{Step: s.ID, Kind: s.Kind, Status: EntryPending, Name: s.Name, Before: s.Before, After: s.After}
	if p.Target != nil {
		entry.PolicyID, entry.MaxAge = p.Target.ID, p.Target.MaxAge
	}
	if err := r.record(entry); err != nil {
		return err
	}
	changed, err := r.external(ctx, s, &entry)
	if err == nil {
		crashPoint(string(s.Kind) + "-written")
	}
	entry.Changed = changed
	if err != nil {
		entry.Status, entry.Error = EntryFailed, err.Error()
		if jerr := r.record(entry); jerr != nil {
			return errors.Join(err, jerr)
		}
		return err
	}
	entry.Status = EntryDone
	if err := r.record(entry); err != nil {
		return err
	}
	ev := Event{Kind: EventStepDone, Step: s, Changed: changed}
	if !changed {
		ev.Kind = EventStepSkip
		ev.Message = "already in place"
	}
	r.emit(ev)
	_ = e
	return nil
}

// external makes one change. It returns whether anything changed.
func (r *run) external(ctx context.Context, s *Step, entry *Entry) (bool, error) {
	p, e := r.p, r.e
	switch s.Kind {
	case StepPublishPolicy:
		if p.Target.Mode == string(mtasts.ModeEnforce) {
			// Invariant 2, checked again at the moment of writing.
			if g := e.enforceLive(readLive(e.Check(ctx, p.Domain)), p.Target.MX); !g.Open {
				return false, &Refusal{Reason: "enforce would make senders refuse mail to an MX that fails: " + g.Reason}
			}
		}
		res, err := e.Publisher.Publish(ctx, p.Domain, []byte(p.Target.Text))
		for _, w := range res.Warnings {
			r.emit(Event{Kind: EventWarning, Message: w})
		}
		if err != nil {
			return false, err
		}
		if res.Manual {
			r.emit(Event{Kind: EventManual, Step: s, Message: res.Instructions})
		}
		return res.Changed, nil
	case StepSetTLSRPT:
		ch, err := e.Provider.SetOurs(ctx, p.Zone, s.Name, dnsprovider.KindTLSRPT, s.After, e.TTL)
		entry.TTL = ch.ReplacedTTL
		if err != nil {
			return false, err
		}
		r.manualRecord(s, ch)
		r.mem.TLSRPT = s.After
		return ch.Changed, nil
	case StepSetSTS:
		if !r.servedOK {
			return false, fmt.Errorf("internal error: the id would be set before the policy is served everywhere (invariant 1)")
		}
		ch, err := e.Provider.SetOurs(ctx, p.Zone, s.Name, dnsprovider.KindSTS, s.After, e.TTL)
		entry.TTL = ch.ReplacedTTL
		if err != nil {
			return false, err
		}
		r.manualRecord(s, ch)
		r.lastDNS, r.lastDNSKind = s.After, dnsprovider.KindSTS
		return ch.Changed, nil
	case StepDeleteSTS:
		if err := r.teardownWindowOpen(); err != nil {
			return false, err
		}
		ch, err := e.Provider.DeleteOurs(ctx, p.Zone, s.Name, dnsprovider.KindSTS)
		entry.TTL = ch.ReplacedTTL
		if err != nil {
			return false, err
		}
		r.manualRecord(s, ch)
		r.lastDNS, r.lastDNSKind = "", dnsprovider.KindSTS
		return ch.Changed, nil
	case StepDeleteTLSRPT:
		ch, err := e.Provider.DeleteOurs(ctx, p.Zone, s.Name, dnsprovider.KindTLSRPT)
		entry.TTL = ch.ReplacedTTL
		if err != nil {
			return false, err
		}
		r.manualRecord(s, ch)
		r.mem.TLSRPT = ""
		return ch.Changed, nil
	case StepRemovePolicy:
		if err := r.teardownWindowOpen(); err != nil {
			return false, err
		}
		res, err := e.Publisher.Remove(ctx, p.Domain)
		if err != nil {
			return false, err
		}
		if res.Manual {
			r.emit(Event{Kind: EventManual, Step: s, Message: res.Instructions})
		}
		r.mem.Current = nil
		if r.mem.Teardown == nil {
			r.mem.Teardown = &TeardownState{}
		}
		r.mem.Teardown.RecordsGoneAt = e.now()
		return res.Changed, nil
	}
	return false, fmt.Errorf("internal error: unknown step kind %q", s.Kind)
}

// teardownWindowOpen refuses a deletion inside the cache window
// (invariant 3), whatever the plan said.
func (r *run) teardownWindowOpen() error {
	td := r.mem.Teardown
	now := r.e.now()
	if td == nil || td.NoneSince.IsZero() {
		// Only the operator's --last-max-age and the id could have opened
		// the plan's window; the plan checked them.
		return nil
	}
	until := td.NoneSince.Add(td.LastMaxAge)
	if r.mem.CachedUntil.After(until) {
		until = r.mem.CachedUntil
	}
	if now.Before(until) {
		return &Refusal{Reason: fmt.Sprintf("deleting now would strand senders that cache the last testing/enforce policy until %s (invariant 3)", until.UTC().Format(time.RFC3339))}
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
		switch s.Gate {
		case GateServed:
			g = e.Served.Check(ctx, p.Domain, []byte(p.Target.Text))
			if g.Open {
				r.servedOK = true
			}
		case GatePublished:
			want, kind := r.lastDNS, r.lastDNSKind
			if kind == "" {
				// The set step was already done in an earlier run.
				kind = dnsprovider.KindSTS
				want = ""
				for _, x := range p.Steps {
					if x.Kind == StepSetSTS {
						want = x.After
					}
				}
			}
			g = e.Published.Check(ctx, p.Zone, s.Name, func(t dnsprovider.TXTSet) bool {
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
		case GateWindow:
			g = r.window(s)
		case GateLive, GateEvidence:
			// Evaluated while planning; a closed one made the plan a refusal.
			for _, pg := range p.Gates {
				if pg.Kind == s.Gate {
					g = pg
				}
			}
			if !g.Open && g.NextAt == nil {
				return nil, &Refusal{Reason: g.Reason}
			}
		default:
			return nil, fmt.Errorf("internal error: unknown gate %q", s.Gate)
		}
		if g.Open {
			r.emit(Event{Kind: EventGate, Step: s, Gate: &g})
			return &g, nil
		}
		next := g.NextAt
		if next == nil {
			n := e.now().Add(e.poll())
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
		case <-r.e.clock().After(until.Sub(e.now())):
		}
	}
}

func (e *Engine) clock() Clock {
	if e.Clock == nil {
		return SystemClock{}
	}
	return e.Clock
}

// published records that the target's id (or the deletion) is live at
// every name server: the intent is complete.
func (r *run) published(want string) error {
	p, now := r.p, r.e.now()
	if want == "" || p.Target == nil {
		return nil
	}
	t := *p.Target
	prev := r.mem.Current
	// The policy this one replaces may stay in senders' caches for its
	// max_age from now (a sender may have fetched it a moment ago).
	for _, old := range []*Policy{p.Current, policyPtr(prev)} {
		if old != nil && old.Mode != string(mtasts.ModeNone) && old.Text != t.Text {
			if until := now.Add(time.Duration(old.MaxAge) * time.Second); until.After(r.mem.CachedUntil) {
				r.mem.CachedUntil = until
			}
		}
	}
	if t.Mode == string(mtasts.ModeNone) {
		td := r.mem.Teardown
		if td == nil || td.NoneSince.IsZero() || !td.RecordsGoneAt.IsZero() {
			td = &TeardownState{NoneSince: now}
		}
		if wait := r.mem.CachedUntil.Sub(td.NoneSince); wait > td.LastMaxAge {
			td.LastMaxAge = wait
		}
		r.mem.Teardown = td
	} else {
		r.mem.Teardown = nil
	}
	if prev != nil && prev.Text == t.Text && prev.ID == t.ID {
		r.mem.Intent = nil
		return nil
	}
	r.mem.Current = &LivePolicy{Policy: t, PublishedAt: now}
	r.mem.Intent = nil
	return r.record(Entry{Step: "published", Kind: StepGate, Status: EntryDone, Name: "_mta-sts." + p.Domain, After: want, PolicyID: t.ID, MaxAge: t.MaxAge, Changed: true})
}

func policyPtr(l *LivePolicy) *Policy {
	if l == nil {
		return nil
	}
	return &l.Policy
}

// window re-evaluates a window gate against the journal at this moment
// (a teardown's window starts inside the same run).
func (r *run) window(s *Step) GateResult {
	p, now := r.p, r.e.now()
	if p.Workflow == Teardown {
		td := r.mem.Teardown
		if td != nil && !td.NoneSince.IsZero() && td.LastMaxAge > 0 {
			until := td.NoneSince.Add(td.LastMaxAge)
			if r.mem.CachedUntil.After(until) {
				until = r.mem.CachedUntil
			}
			return windowGate(now, until, fmt.Sprintf("the cache window (senders may hold a replaced testing/enforce policy for its max_age; mode none went live at %s)", td.NoneSince.UTC().Format(time.RFC3339)))
		}
	}
	for _, g := range p.Gates {
		if g.Kind == GateWindow {
			if g.NextAt != nil {
				return windowGate(now, *g.NextAt, strings.SplitN(g.Reason, " ends at ", 2)[0])
			}
			return g
		}
	}
	return GateResult{Kind: GateWindow, Open: true, Reason: "no window applies"}
}
