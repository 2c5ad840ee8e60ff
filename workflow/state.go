package workflow

import (
	"time"
)

// Memory is what the engine remembers of a domain between runs: the part
// of the journal it plans from. Live state always comes first; Memory
// answers what live state cannot (when a policy went live, what a killed
// run was doing, when mode none went live).
type Memory struct {
	// Current is the last policy stspilot made live (its id published at
	// every name server), nil before the first rollout and after a teardown.
	Current *LivePolicy
	// Intent is a change under way: set before the first external change
	// of a recipe, cleared when its published gate opens.
	Intent *Intent
	// Teardown is set once mode none went live.
	Teardown *TeardownState
	// TLSRPT is the TLS-RPT record stspilot set ("" when none).
	TLSRPT string
	// CachedUntil is the latest time a sender may still hold a testing or
	// enforce policy stspilot replaced: for each, the moment it stopped
	// being live plus its max_age (STS-SEND-5, STS-SEND-16). A teardown
	// deletes nothing before it.
	CachedUntil time.Time
	// Provider, Publish and Ladder are the settings of the last run (no
	// secrets: a provider name, a --publish value, a ladder), so that the
	// next command on the domain needs no flags.
	Provider string
	Publish  string
	Ladder   string
}

// LivePolicy is a policy and when its id went live.
type LivePolicy struct {
	Policy
	PublishedAt time.Time
}

// Intent is a change that a run started.
type Intent struct {
	Workflow  Workflow  `json:"workflow"`
	Target    Policy    `json:"target"`
	RUA       string    `json:"rua,omitempty"`
	StartedAt time.Time `json:"started_at"`
}

// TeardownState is the teardown's cache window.
type TeardownState struct {
	// NoneSince is when the mode none policy's id went live.
	NoneSince time.Time `json:"none_since"`
	// LastMaxAge is the largest max_age of the testing/enforce policies
	// that none replaced: senders may hold them that long (STS-SEND-16).
	LastMaxAge time.Duration `json:"last_max_age"`
	// RecordsGoneAt is when the records were deleted (teardown done).
	RecordsGoneAt time.Time `json:"records_gone_at,omitzero"`
}

// Entry is one external change as the journal records it: written as
// pending before the change and as done or failed after it (invariant 6).
type Entry struct {
	Step     string        `json:"step"`                // plan step id ("4-set-sts")
	Kind     StepKind      `json:"kind"`                // what changed
	Status   string        `json:"status"`              // pending, done, failed
	Name     string        `json:"name"`                // DNS name or URL
	Before   string        `json:"before,omitempty"`    // value before (record text or policy text)
	After    string        `json:"after,omitempty"`     // value after
	PolicyID string        `json:"policy_id,omitempty"` // the policy id concerned
	MaxAge   int64         `json:"max_age,omitempty"`   // its max_age
	TTL      time.Duration `json:"ttl,omitempty"`       // TTL of the record replaced (rollback risk window)
	Changed  bool          `json:"changed"`             // false when live state already held it
	Error    string        `json:"error,omitempty"`     // why it failed
	At       time.Time     `json:"at"`                  // when
}

// Entry statuses.
const (
	EntryPending = "pending"
	EntryDone    = "done"
	EntryFailed  = "failed"
)

// Journal persists Memory and entries, one document per domain.
type Journal interface {
	// Peek reads a domain's memory without locking (nil when there is none).
	Peek(domain string) (*Memory, error)
	// History returns the last n entries of a domain (all when n <= 0),
	// oldest first.
	History(domain string, n int) ([]Entry, error)
	// Begin locks the domain for one run; a second Begin on the same domain
	// fails while the first is open, saying who holds it.
	Begin(domain, command string, wf Workflow) (Txn, error)
}

// Txn is one locked run on a domain's journal.
type Txn interface {
	// Memory is the state read under the lock (nil when there is none).
	Memory() *Memory
	// Record appends e and stores m, atomically and durably, before it returns.
	Record(m *Memory, e Entry) error
	// Close releases the lock.
	Close() error
}
