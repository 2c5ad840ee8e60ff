package workflow

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stspilot/stspilot/checks/mtasts"
	"github.com/stspilot/stspilot/dnsprovider"
	"github.com/stspilot/stspilot/internal/txtrecord"
	"github.com/stspilot/stspilot/workflow/journal"
)

// StepKind says what a step does. Every kind is one row of stepKinds: the
// journal's name for it, its label, and the code that makes the change. A
// new kind of step is one row there plus its executor.
type StepKind string

// The kinds of step, one row each in stepKinds.
const (
	StepPublishPolicy StepKind = "publish-policy" // write the policy through the publisher
	StepSetSTS        StepKind = "set-sts"        // _mta-sts TXT "v=STSv1; id=NEW;"
	StepSetTLSRPT     StepKind = "set-tlsrpt"     // _smtp._tls TXT "v=TLSRPTv1; rua=..."
	StepDeleteSTS     StepKind = "delete-sts"     // remove our _mta-sts record
	StepDeleteTLSRPT  StepKind = "delete-tlsrpt"  // remove our _smtp._tls record
	StepRemovePolicy  StepKind = "remove-policy"  // stop serving the policy file
	StepGate          StepKind = "gate"           // wait for a gate

	// stepIntent is not a step of a plan: the journal entry that records
	// the intent before a workflow's first change.
	stepIntent StepKind = "intent"
)

// stepKind is one row of the table of step kinds.
type stepKind struct {
	kind StepKind
	// journal is the entry kind the journal records (docs/journal.md).
	journal journal.Kind
	// label names the step in history and progress output.
	label string
	// intent: the workflow's intent is journaled before this change.
	intent bool
	// policy: the step's Before and After are policy files (shown as a
	// diff; the journal keeps After as policy_text).
	policy bool
	// exec makes the change and reports whether anything changed; it may
	// fill the entry's TTL. nil for gates and journal markers.
	exec func(r *run, ctx context.Context, s *Step, e *journal.Entry) (bool, error)
}

// stepKinds is the one table of step kinds.
var stepKinds = []stepKind{
	{kind: StepPublishPolicy, journal: journal.KindPolicyWrite, label: "publish-policy", intent: true, policy: true, exec: (*run).publishPolicy},
	{kind: StepSetTLSRPT, journal: journal.KindTLSRPTSet, label: "set-tlsrpt", intent: true, exec: (*run).setTLSRPT},
	{kind: StepSetSTS, journal: journal.KindTXTSet, label: "set-sts", intent: true, exec: (*run).setSTS},
	{kind: StepDeleteSTS, journal: journal.KindTXTDelete, label: "delete-sts", exec: (*run).deleteSTS},
	{kind: StepDeleteTLSRPT, journal: journal.KindTLSRPTDelete, label: "delete-tlsrpt", exec: (*run).deleteTLSRPT},
	{kind: StepRemovePolicy, journal: journal.KindPolicyRemove, label: "remove-policy", policy: true, exec: (*run).removePolicy},
	// The one write of a record that is not ours: the domain's MX RRset,
	// in the mx-migrate workflow only (invariant 5).
	{kind: StepSetMX, journal: journalMXSet, label: "set-mx", exec: (*run).setMX},
	// A gate's entry is the published gate's: the new id (or a deletion)
	// is answered by every name server.
	{kind: StepGate, journal: journal.KindPublished, label: "published"},
	{kind: stepIntent, journal: journal.KindIntent, label: "intent"},
}

func kindInfo(k StepKind) (stepKind, bool) {
	for _, s := range stepKinds {
		if s.kind == k {
			return s, true
		}
	}
	return stepKind{}, false
}

// Label names the kind in history and progress output.
func (k StepKind) Label() string {
	if s, ok := kindInfo(k); ok {
		return s.label
	}
	return string(k)
}

// IsGate reports whether a step of kind k waits for a gate rather than
// changing something.
func (k StepKind) IsGate() bool { return k == StepGate }

// ShowsPolicy reports whether the step's Before and After are policy
// files, best shown line by line, rather than records.
func (k StepKind) ShowsPolicy() bool {
	s, _ := kindInfo(k)
	return s.policy
}

// Journal is the kind the journal records for a step of kind k.
func (k StepKind) Journal() journal.Kind {
	if s, ok := kindInfo(k); ok {
		return s.journal
	}
	return journal.Kind(k)
}

// StepKindOf is the step kind of a journal entry's kind (the kind itself
// for a kind the table does not know).
func StepKindOf(k journal.Kind) StepKind {
	for _, s := range stepKinds {
		if s.journal == k {
			return s.kind
		}
	}
	return StepKind(k)
}

// The executors, one per changing kind.

func (r *run) publishPolicy(ctx context.Context, s *Step, _ *journal.Entry) (bool, error) {
	p, e := r.p, r.e
	if p.Target.Mode == string(mtasts.ModeEnforce) {
		// Invariant 2, checked again at the moment of writing.
		if g := e.enforceLive(readLive(e.cfg.Check(ctx, p.Domain)), p.Target.MX); !g.Open {
			return false, &Refusal{Code: CodeMXFails, Reason: "enforce would make senders refuse mail to an MX that fails: " + g.Reason}
		}
	}
	if err := r.mxCovers(p.Target); err != nil {
		return false, err
	}
	var res Published
	var err error
	if ip, ok := e.cfg.Publisher.(IDPublisher); ok {
		res, err = ip.PublishID(ctx, p.Domain, []byte(p.Target.Text), p.Target.ID)
	} else {
		res, err = e.cfg.Publisher.Publish(ctx, p.Domain, []byte(p.Target.Text))
	}
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
}

func (r *run) setTLSRPT(ctx context.Context, s *Step, entry *journal.Entry) (bool, error) {
	changed, err := r.txt(ctx, s, entry, dnsprovider.KindTLSRPT, s.After)
	if err == nil && (r.j.TLSRPT == nil || r.j.TLSRPT.Record != s.After) {
		r.j.TLSRPT = &journal.TLSRPT{Record: s.After, SetAt: r.e.now()}
	}
	return changed, err
}

func (r *run) setSTS(ctx context.Context, s *Step, entry *journal.Entry) (bool, error) {
	if !r.servedOK {
		return false, fmt.Errorf("internal error: the id would be set before the policy is served everywhere (invariant 1)")
	}
	if t := r.p.Target; t != nil && s.After != (txtrecord.STSRecord{ID: t.ID}).String() {
		return false, fmt.Errorf("internal error: the id %q would name a policy other than the one served (invariant 1)", s.After)
	}
	return r.txt(ctx, s, entry, dnsprovider.KindSTS, s.After)
}

func (r *run) deleteSTS(ctx context.Context, s *Step, entry *journal.Entry) (bool, error) {
	if err := r.teardownWindowOpen(); err != nil {
		return false, err
	}
	return r.txt(ctx, s, entry, dnsprovider.KindSTS, "")
}

func (r *run) deleteTLSRPT(ctx context.Context, s *Step, entry *journal.Entry) (bool, error) {
	changed, err := r.txt(ctx, s, entry, dnsprovider.KindTLSRPT, "")
	if err == nil {
		r.j.TLSRPT = nil
	}
	return changed, err
}

// txt makes our TXT record of kind at s.Name hold value, or deletes it
// when value is "". The entry keeps the TTL of the record replaced (a
// failed change too), and a record the operator publishes by hand is
// shown. For the _mta-sts record, the published gate waits for value,
// and the ledger learns how long resolvers may still answer the ids the
// replaced record named.
func (r *run) txt(ctx context.Context, s *Step, entry *journal.Entry, kind dnsprovider.Kind, value string) (bool, error) {
	var ch dnsprovider.Change
	var err error
	if value == "" {
		ch, err = r.e.cfg.Provider.DeleteOurs(ctx, r.p.Zone, s.Name, kind)
	} else {
		ch, err = r.e.cfg.Provider.SetOurs(ctx, r.p.Zone, s.Name, kind, value, r.e.cfg.TTL)
	}
	entry.TTL = ttlSeconds(ch.ReplacedTTL)
	if err != nil {
		return false, err
	}
	r.manualRecord(s, ch)
	if kind == dnsprovider.KindSTS {
		r.lastDNS, r.lastDNSKind = value, kind
		r.ledgerTXTReplaced(s.Before, entry.TTL)
	}
	return ch.Changed, nil
}

func (r *run) removePolicy(ctx context.Context, s *Step, _ *journal.Entry) (bool, error) {
	if err := r.teardownWindowOpen(); err != nil {
		return false, err
	}
	res, err := r.e.cfg.Publisher.Remove(ctx, r.p.Domain)
	if err != nil {
		return false, err
	}
	if res.Manual {
		r.emit(Event{Kind: EventManual, Step: s, Message: res.Instructions})
	}
	now := r.e.now()
	// Nothing is served any more: every policy of the ledger is replaced.
	r.j.LedgerReplace("", ceilSecond(now))
	r.j.Policy = nil
	r.j.ClearWindow(journal.WindowSoak)
	if w := r.j.Window(journal.WindowTeardown); w != nil {
		w.Ended = now
	}
	r.recordsGone = true
	r.j.Stage, r.j.StageSince = StageAbsent, now
	return res.Changed, nil
}

// ttlSeconds is a TTL as the journal keeps it: whole seconds.
func ttlSeconds(d time.Duration) int64 { return int64(d / time.Second) }

// ledgerTXTReplaced records in the ledger the TTL of the _mta-sts record
// that was replaced (before): resolvers may answer the ids it named that
// long after.
func (r *run) ledgerTXTReplaced(before string, ttl int64) {
	if ttl <= 0 || before == "" {
		return
	}
	named := stsIDsNamed(before)
	for i := range r.j.Ledger {
		if lp := &r.j.Ledger[i]; lp.ID != "" && slices.Contains(named, lp.ID) {
			lp.TXTTTL = ttl
		}
	}
}

// stsRecordSep joins the _mta-sts records of ours into a step's Before
// (a name can hold several records while the operator or another tool
// has added one).
const stsRecordSep = " | "

// stsIDsNamed is the policy id of each record in before (records joined
// by stsRecordSep), read with the one record model (txtrecord.ParseSTS),
// never by matching text: "id=abc" inside an extension, or an id that is
// the tail of another, names nothing. A record that does not parse names
// no id: senders treat it as no record (STS-TXT-6), so none of them can
// have cached a policy by an id it holds. A record that parses holds no
// " | " (its values hold no space and its names no '|'), so the split
// never cuts one.
func stsIDsNamed(before string) []string {
	var ids []string
	for rec := range strings.SplitSeq(before, stsRecordSep) {
		if sts, err := txtrecord.ParseSTS(rec); err == nil {
			ids = append(ids, sts.ID)
		}
	}
	return ids
}
