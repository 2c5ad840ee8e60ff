package workflow

import (
	"fmt"
	"time"

	"github.com/stspilot/stspilot/checks/mtasts"
	"github.com/stspilot/stspilot/internal/duration"
	"github.com/stspilot/stspilot/workflow/journal"
)

// The engine's state between runs is the journal document itself
// (journal.Journal, docs/journal.md): live state always comes first; the
// journal answers what live state cannot (when a policy went live, what a
// killed run was doing, when mode none went live, until when a replaced
// policy may still be cached).
//
//   - Policy is the last policy stspilot made live, with when its id went
//     live (PublishedAt);
//   - Intent is a change under way, set before a workflow's first external
//     change and cleared when its published gate opens;
//   - the teardown window starts when mode none went live and lasts the
//     max_age senders may still hold (Ended: the records are gone);
//   - the cache window ends when the last replaced testing/enforce policy
//     may have left every sender's cache (the ledger's horizon, Horizon,
//     extends it);
//   - Ledger is every policy that was ever live, with when it went live
//     and when it stopped being served;
//   - Entries are every external change, written before and after it.

// Policy is a policy as the engine handles it: the journal's.
type Policy = journal.Policy

// PolicyTerms are a policy's mode, max_age and mx patterns: the journal's.
type PolicyTerms = journal.PolicyTerms

// Intent is a change that a run started: the journal's.
type Intent = journal.Intent

// Journal stores the journal document of each domain.
type Journal interface {
	// Peek reads a domain's journal without locking (nil when there is none).
	Peek(domain string) (*journal.Journal, error)
	// Begin locks the domain for one run started at now; a second Begin on
	// the same domain fails while the first is open, saying who holds it.
	Begin(domain, command string, now time.Time) (Txn, error)
}

// Txn is one locked run on a domain's journal (a *journal.Handle).
type Txn interface {
	// Run identifies the run in entries and intents.
	Run() string
	// Load reads the journal under the lock (nil when there is none).
	Load() (*journal.Journal, error)
	// Save writes the whole document, atomically and durably, before it
	// returns.
	Save(j *journal.Journal) error
	// Close releases the lock.
	Close() error
}

// FileJournal is the engine's Journal over a state directory of
// workflow/journal (docs/journal.md).
type FileJournal struct {
	Store *journal.Store
	// Provider, Publish and Ladder are recorded in the journal on every
	// save, so that the next command on the domain needs no flags. None of
	// them is a secret: a provider name, a publisher's Spec (no command), a
	// ladder.
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
// domain remembers ("" when it has none). Of an exec publisher, publish is
// only journal.PublishExec, whatever the file says: ParsePublisher refuses
// it with ErrNoExecCommand.
func (f *FileJournal) Settings(domain string) (provider, publish, ladder string, err error) {
	j, err := f.Store.Peek(domain)
	if err != nil || j == nil {
		return "", "", "", err
	}
	return j.Provider, j.Publish, j.Ladder, nil
}

// Peek implements Journal.
func (f *FileJournal) Peek(domain string) (*journal.Journal, error) { return f.Store.Peek(domain) }

// History returns the last n entries of domain's journal (all when n <= 0),
// oldest first.
func (f *FileJournal) History(domain string, n int) ([]journal.Entry, error) {
	j, err := f.Store.Peek(domain)
	if err != nil || j == nil {
		return nil, err
	}
	return lastEntries(j, n), nil
}

func lastEntries(j *journal.Journal, n int) []journal.Entry {
	es := j.Entries
	if n > 0 && len(es) > n {
		es = es[len(es)-n:]
	}
	return es
}

// Begin implements Journal: it takes the domain's lock.
func (f *FileJournal) Begin(domain, command string, now time.Time) (Txn, error) {
	if command == "" {
		command = f.Store.Command
	}
	h, err := f.Store.LockAt(domain, command, now)
	if err != nil {
		return nil, err
	}
	return fileTxn{h, f}, nil
}

// fileTxn records the journal's settings on every save.
type fileTxn struct {
	*journal.Handle
	f *FileJournal
}

func (t fileTxn) Save(j *journal.Journal) error {
	if t.f.Provider != "" {
		j.Provider = t.f.Provider
	}
	if t.f.Publish != "" {
		j.Publish = t.f.Publish
	}
	if t.f.Ladder != "" {
		j.Ladder = t.f.Ladder
	}
	return t.Handle.Save(j)
}

// Reading the state.

// teardownOf is the teardown window: when mode none went live and how
// long senders may hold the policy it replaced; ok=false before mode none
// went live.
func teardownOf(j *journal.Journal) (noneSince time.Time, lastMaxAge time.Duration, goneAt time.Time, ok bool) {
	w := j.Window(journal.WindowTeardown)
	if w == nil || w.Start.IsZero() {
		return time.Time{}, 0, time.Time{}, false
	}
	return w.Start, duration.Seconds(w.Seconds), w.Ended, true
}

// teardownPending: mode none went live and the records are not gone yet.
func teardownPending(j *journal.Journal) bool {
	_, _, gone, ok := teardownOf(j)
	return ok && gone.IsZero()
}

// cachedUntil is the latest time a sender may still hold a testing or
// enforce policy stspilot replaced: for each, the moment it stopped being
// live plus its max_age (STS-SEND-5, STS-SEND-16). A teardown deletes
// nothing before it.
//
// It is the larger of the cache window the journal keeps and the
// horizon of the ledger at now (Horizon).
func cachedUntil(j *journal.Journal, now time.Time) time.Time {
	t := cacheWindowEnd(j)
	if h := Horizon(j, now).Until(); h.After(t) {
		t = h
	}
	return t
}

// cacheWindowEnd is the end of the journal's cache window alone (zero
// when it has none).
func cacheWindowEnd(j *journal.Journal) time.Time {
	if w := j.Window(journal.WindowCache); w != nil {
		return w.NotBefore
	}
	return time.Time{}
}

// Writing the state. The journal keeps whole seconds, truncated: window
// ends are rounded up, so that storing a window never shortens it.

// setTeardown starts (or extends) the teardown window.
func setTeardown(j *journal.Journal, noneSince time.Time, lastMaxAge time.Duration) {
	start := journal.Stamp(noneSince)
	end := ceilSecond(noneSince.Add(lastMaxAge))
	j.SetWindow(journal.Window{
		Kind: journal.WindowTeardown, Start: start, Seconds: int64(end.Sub(start) / time.Second), NotBefore: end,
		Reason: "senders may hold the last testing/enforce policy for its max_age after mode none went live (STS-SEND-16)",
	})
}

// setCachedUntil moves the cache window's end to until, now being when
// this was learned.
func setCachedUntil(j *journal.Journal, until, now time.Time) {
	start := now
	if w := j.Window(journal.WindowCache); w != nil && w.NotBefore.Equal(ceilSecond(until)) {
		start = w.Start
	}
	if start.After(until) {
		start = until
	}
	end := ceilSecond(until)
	start = journal.Stamp(start)
	j.SetWindow(journal.Window{
		Kind: journal.WindowCache, Start: start, Seconds: int64(end.Sub(start) / time.Second), NotBefore: end,
		Reason: "senders may hold a replaced testing/enforce policy until then (its max_age after it was replaced)",
	})
}

// setSoak records the soak of the policy that just went live.
func setSoak(j *journal.Journal, l Ladder, p *Policy) {
	if p.Mode == string(mtasts.ModeNone) || len(l) == 0 {
		j.ClearWindow(journal.WindowSoak)
		return
	}
	soak := soakOf(l, p.Mode, p.MaxAge)
	j.SetWindow(journal.Window{
		Kind: journal.WindowSoak, Start: p.PublishedAt, Seconds: int64(soak / time.Second),
		NotBefore: p.PublishedAt.Add(soak), Reason: fmt.Sprintf("the soak of %s@%d before promote", p.Mode, p.MaxAge),
	})
}

// settleStage records the stage the journal's state establishes.
func settleStage(j *journal.Journal) {
	stage, since := StageAbsent, time.Time{}
	noneSince, _, gone, td := teardownOf(j)
	switch {
	case j.Policy != nil:
		stage, since = Stage(j.Policy.Mode), j.Policy.PublishedAt
	case td && gone.IsZero():
		stage, since = StageNone, noneSince
	case td:
		since = gone
	}
	if stage != j.Stage || !since.IsZero() && !since.Equal(j.StageSince) {
		j.Stage, j.StageSince = stage, since
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
