package workflow

import (
	"fmt"
	"time"

	"github.com/stspilot/stspilot/workflow/journal"
)

// windowCache is the journal window kind of Memory.CachedUntil.
const windowCache = "cache"

// FileJournal is the engine's Journal over the documented file format of
// workflow/journal (docs/journal.md): one JSON document per domain in the
// state directory, written atomically under a per-domain lock.
type FileJournal struct {
	Store *journal.Store
	// Provider, Publish and Ladder are recorded in the journal on every
	// run, so that the next command on the domain needs no flags. None of
	// them is a secret: a provider name, a --publish value, a ladder.
	Provider, Publish, Ladder string
}

// OpenFileJournal opens the state directory dir ("" = the default).
func OpenFileJournal(dir string) (*FileJournal, error) {
	s, err := journal.Open(dir)
	if err != nil {
		return nil, err
	}
	return &FileJournal{Store: s}, nil
}

// Settings returns the provider, publisher and ladder the journal of
// domain remembers ("" when it has none).
func (f *FileJournal) Settings(domain string) (provider, publish, ladder string, err error) {
	j, err := f.Store.Peek(domain)
	if err != nil || j == nil {
		return "", "", "", err
	}
	return j.Provider, j.Publish, j.Ladder, nil
}

// Peek implements Journal.
func (f *FileJournal) Peek(domain string) (*Memory, error) {
	j, err := f.Store.Peek(domain)
	if err != nil || j == nil {
		return nil, err
	}
	return memoryOf(j), nil
}

// History implements Journal; n <= 0 means every entry.
func (f *FileJournal) History(domain string, n int) ([]Entry, error) {
	j, err := f.Store.Peek(domain)
	if err != nil || j == nil {
		return nil, err
	}
	es := j.Entries
	if n > 0 && len(es) > n {
		es = es[len(es)-n:]
	}
	out := make([]Entry, 0, len(es))
	for _, e := range es {
		out = append(out, entryOf(e))
	}
	return out, nil
}

// Begin implements Journal: it takes the domain's lock and loads its
// journal. Entries a killed run left pending are closed as failed with the
// reason: the new run re-reads live state and redoes only what is missing.
func (f *FileJournal) Begin(domain, command string, wf Workflow) (Txn, error) {
	if command == "" {
		command = f.Store.Command
	}
	h, err := f.Store.LockAs(domain, command)
	if err != nil {
		return nil, err
	}
	j, err := h.Load()
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("%w (the file is left as it is; move it aside to start over)", err)
	}
	if j == nil {
		if j, err = journal.New(domain); err != nil {
			h.Close()
			return nil, err
		}
	}
	t := &fileTxn{f: f, h: h, j: j, wf: wf, pending: map[string]int{}}
	now := time.Now()
	stale := false
	for _, e := range j.Pending() {
		if err := j.Finish(e.ID, journal.Failed, now, "interrupted: the run that started this change ended before it finished; the next run checked live state and redid only what was missing"); err == nil {
			stale = true
		}
	}
	if stale {
		if err := h.Save(j); err != nil {
			h.Close()
			return nil, err
		}
	}
	return t, nil
}

type fileTxn struct {
	f       *FileJournal
	h       *journal.Handle
	j       *journal.Journal
	wf      Workflow
	pending map[string]int // step id -> entry id of its pending entry
}

func (t *fileTxn) Memory() *Memory {
	if len(t.j.Entries) == 0 && t.j.Policy == nil && t.j.Intent == nil {
		return nil
	}
	return memoryOf(t.j)
}

// Record implements Txn: the memory and the entry go to disk together.
func (t *fileTxn) Record(m *Memory, e Entry) error {
	j := t.j
	if t.f.Provider != "" {
		j.Provider = t.f.Provider
	}
	if t.f.Publish != "" {
		j.Publish = t.f.Publish
	}
	if t.f.Ladder != "" {
		j.Ladder = t.f.Ladder
	}
	applyMemory(j, m)
	je := journal.Entry{
		Run: t.h.Run(), Workflow: string(t.wf), Step: e.Step, Kind: kindOf(e.Kind), Name: e.Name,
		Before: e.Before, After: e.After, PolicyID: e.PolicyID, MaxAge: e.MaxAge,
		TTL: int64(e.TTL / time.Second), Changed: e.Changed, Started: e.At,
	}
	if e.Kind == StepPublishPolicy {
		je.PolicyText = e.After
	}
	switch e.Status {
	case EntryPending:
		t.pending[e.Step] = j.Append(je, e.At)
	default:
		st := journal.Done
		if e.Status == EntryFailed {
			st = journal.Failed
		}
		id, ok := t.pending[e.Step]
		if !ok {
			id = j.Append(je, e.At)
		} else if p := j.Entry(id); p != nil {
			p.Changed, p.TTL, p.After = je.Changed, je.TTL, je.After
			delete(t.pending, e.Step)
		}
		if err := j.Finish(id, st, e.At, e.Error); err != nil {
			return err
		}
	}
	return t.h.Save(j)
}

func (t *fileTxn) Close() error { return t.h.Close() }

// kindOf maps step kinds to the journal's documented kinds.
func kindOf(k StepKind) journal.Kind {
	switch k {
	case StepPublishPolicy:
		return journal.KindPolicyWrite
	case StepRemovePolicy:
		return journal.KindPolicyRemove
	case StepSetSTS:
		return journal.KindTXTSet
	case StepDeleteSTS:
		return journal.KindTXTDelete
	case StepSetTLSRPT:
		return journal.KindTLSRPTSet
	case StepDeleteTLSRPT:
		return journal.KindTLSRPTDelete
	case StepGate:
		return "published"
	}
	return journal.Kind(k)
}

func stepKindOf(k journal.Kind) StepKind {
	for _, s := range []StepKind{StepPublishPolicy, StepRemovePolicy, StepSetSTS, StepDeleteSTS, StepSetTLSRPT, StepDeleteTLSRPT} {
		if kindOf(s) == k {
			return s
		}
	}
	return StepKind(k)
}

func entryOf(e journal.Entry) Entry {
	at := e.Finished
	if at.IsZero() {
		at = e.Started
	}
	return Entry{Step: e.Step, Kind: stepKindOf(e.Kind), Status: string(e.Status), Name: e.Name, Before: e.Before, After: e.After,
		PolicyID: e.PolicyID, MaxAge: e.MaxAge, TTL: time.Duration(e.TTL) * time.Second, Changed: e.Changed, Error: e.Error, At: at}
}

func policyOf(p *journal.Policy) Policy {
	return Policy{Mode: p.Mode, MaxAge: p.MaxAge, MX: p.MX, Text: p.Text, ID: p.ID}
}

func journalPolicy(p Policy) *journal.Policy {
	return &journal.Policy{Text: p.Text, ID: p.ID, Mode: p.Mode, MaxAge: p.MaxAge, MX: p.MX}
}

// memoryOf reads the engine's memory out of a journal document.
func memoryOf(j *journal.Journal) *Memory {
	m := &Memory{Provider: j.Provider, Publish: j.Publish, Ladder: j.Ladder}
	if j.Policy != nil {
		m.Current = &LivePolicy{Policy: policyOf(j.Policy), PublishedAt: j.Policy.PublishedAt}
	}
	if in := j.Intent; in != nil && in.Target != nil {
		m.Intent = &Intent{Workflow: Workflow(in.Workflow), Target: policyOf(in.Target), RUA: in.RUA, StartedAt: in.StartedAt}
	}
	if w := j.Window(journal.WindowTeardown); w != nil {
		m.Teardown = &TeardownState{NoneSince: w.Start, LastMaxAge: time.Duration(w.Seconds) * time.Second, RecordsGoneAt: w.Ended}
	}
	if j.TLSRPT != nil {
		m.TLSRPT = j.TLSRPT.Record
	}
	if w := j.Window(windowCache); w != nil {
		m.CachedUntil = w.NotBefore
	}
	return m
}

// applyMemory writes the engine's memory into the journal document.
func applyMemory(j *journal.Journal, m *Memory) {
	if m == nil {
		return
	}
	prevID := ""
	if j.Policy != nil {
		prevID = j.Policy.ID
	}
	if m.Current == nil {
		j.Policy = nil
	} else {
		p := journalPolicy(m.Current.Policy)
		p.PublishedAt = m.Current.PublishedAt
		if j.Policy != nil && j.Policy.ID == p.ID {
			p.ServedAt = j.Policy.ServedAt
		}
		j.Policy = p
	}
	if m.Intent == nil {
		j.Intent = nil
	} else {
		j.Intent = &journal.Intent{Workflow: string(m.Intent.Workflow), Target: journalPolicy(m.Intent.Target), RUA: m.Intent.RUA, StartedAt: m.Intent.StartedAt}
	}
	if td := m.Teardown; td != nil && !td.NoneSince.IsZero() {
		// The journal keeps whole seconds, truncated: the window's end is
		// rounded up so that storing it never shortens it.
		start := td.NoneSince.UTC().Truncate(time.Second)
		end := ceilSecond(td.NoneSince.Add(td.LastMaxAge))
		j.SetWindow(journal.Window{Kind: journal.WindowTeardown, Start: start, Seconds: int64(end.Sub(start) / time.Second),
			NotBefore: end, Ended: td.RecordsGoneAt,
			Reason: "senders may hold the last testing/enforce policy for its max_age after mode none went live (STS-SEND-16)"})
	} else {
		j.ClearWindow(journal.WindowTeardown)
	}
	if !m.CachedUntil.IsZero() {
		start := time.Now()
		if w := j.Window(windowCache); w != nil && w.NotBefore.Equal(ceilSecond(m.CachedUntil)) {
			start = w.Start
		}
		if start.After(m.CachedUntil) {
			start = m.CachedUntil
		}
		end := ceilSecond(m.CachedUntil)
		start = start.UTC().Truncate(time.Second)
		j.SetWindow(journal.Window{Kind: windowCache, Start: start, Seconds: int64(end.Sub(start) / time.Second), NotBefore: end,
			Reason: "senders may hold a replaced testing/enforce policy until then (its max_age after it was replaced)"})
	}
	switch {
	case m.TLSRPT == "":
		j.TLSRPT = nil
	case j.TLSRPT == nil || j.TLSRPT.Record != m.TLSRPT:
		j.TLSRPT = &journal.TLSRPT{Record: m.TLSRPT, SetAt: time.Now()}
	}
	// The stage the engine established, and the soak window of a new policy.
	stage, since := journal.StageAbsent, time.Time{}
	switch {
	case m.Current != nil:
		stage, since = m.Current.Mode, m.Current.PublishedAt
	case m.Teardown != nil && m.Teardown.RecordsGoneAt.IsZero():
		stage, since = journal.StageNone, m.Teardown.NoneSince
	case m.Teardown != nil:
		since = m.Teardown.RecordsGoneAt
	}
	if stage != j.Stage || !since.IsZero() && !since.Equal(j.StageSince) {
		j.Stage, j.StageSince = stage, since
	}
	if m.Current != nil && m.Current.ID != prevID && m.Current.Mode != journal.StageNone {
		if l, err := ParseLadder(j.Ladder); err == nil && len(l) > 0 {
			soak := soakOf(l, m.Current.Mode, m.Current.MaxAge)
			j.SetWindow(journal.Window{Kind: journal.WindowSoak, Start: m.Current.PublishedAt, Seconds: int64(soak / time.Second),
				NotBefore: m.Current.PublishedAt.Add(soak), Reason: fmt.Sprintf("the soak of %s@%d before promote", m.Current.Mode, m.Current.MaxAge)})
		}
	}
	if m.Current == nil || m.Current.Mode == journal.StageNone {
		j.ClearWindow(journal.WindowSoak)
	}
}

// ceilSecond rounds t up to a whole second (the journal truncates).
func ceilSecond(t time.Time) time.Time {
	t = t.UTC()
	if tr := t.Truncate(time.Second); !tr.Equal(t) {
		return tr.Add(time.Second)
	}
	return t
}
