// Package journal keeps what stspilot did to each domain: one versioned
// JSON document per domain in a state directory, written atomically before
// and after every external change (docs/design.md invariant 6), one writer per
// domain at a time. docs/journal.md documents the format field by field.
//
// The package holds no workflow logic and no gates: it stores what the
// engine tells it, checks that the document stays well formed and that its
// entries stay append-only, and never loses or overwrites a journal it
// cannot read. Nothing in it takes provider settings, so secrets have no
// way in.
package journal

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stspilot/stspilot/checks"
	"github.com/stspilot/stspilot/internal/domainname"
	"github.com/stspilot/stspilot/internal/printable"
)

// Schema is the version of the document this package reads and writes.
// Every change an older reader would misread or silently drop (a new
// field included) bumps the number; readers refuse versions above their
// own (see SchemaError) and migrate the older ones they know on read
// (SchemaV1: the ledger is rebuilt from its policy and entries; SchemaV2:
// nothing to rebuild, it lacks only what v3 added).
const Schema = "stspilot.journal/v3"

// SchemaV1 is the first version, read and migrated, never written.
const SchemaV1 = "stspilot.journal/v1"

// SchemaV2 added the ledger; read and migrated, never written. v3 added
// an entry's count, last_run and last_at (repeated runs folded into one
// entry, Fold) and the document's archive (history moved to the archive
// files beside the journal).
const SchemaV2 = "stspilot.journal/v2"

// schemaNumber is Schema's version number.
const schemaNumber = 3

const schemaPrefix = "stspilot.journal/v"

// MaxSize caps a journal file: reads stop there and report the file as
// corrupt; Save refuses to write a document that would exceed it.
const MaxSize = 8 << 20

// maxSize is the cap in force: always MaxSize, except in tests, which
// lower it so their over-the-cap inputs are kilobytes, not megabytes.
var maxSize int64 = MaxSize

// Status is where an entry's change stands.
type Status string

// An entry is written Pending before its change and Done or Failed after
// it. A Pending entry found by a later run is a change whose outcome is
// unknown: the run was killed in between, and live state says whether it
// happened.
const (
	Pending Status = "pending"
	Done    Status = "done"
	Failed  Status = "failed"
)

// Kind says what an entry changed. The engine may use further kinds of the
// same shape (lower-case letters, digits and hyphens, at most 32).
type Kind string

// The external changes stspilot makes.
const (
	KindPolicyWrite  Kind = "policy-write"  // the policy file written through the publisher
	KindPolicyRemove Kind = "policy-remove" // the policy file removed (teardown)
	KindTXTSet       Kind = "txt-set"       // the _mta-sts TXT record set to "v=STSv1; id=..."
	KindTXTDelete    Kind = "txt-delete"    // the _mta-sts TXT record deleted
	KindTLSRPTSet    Kind = "tlsrpt-set"    // the _smtp._tls TXT record set
	KindTLSRPTDelete Kind = "tlsrpt-delete" // the _smtp._tls TXT record deleted
)

// The engine's markers: entries that record a decision, not a change.
const (
	KindIntent    Kind = "intent"    // the intent was set before the first change (name: the policy URL)
	KindPublished Kind = "published" // the published gate opened for the new id (name: the _mta-sts name)
)

// Window kinds: the not-before windows the engine's window gate reads.
const (
	// WindowSoak: the soak of the current rung; promote waits for NotBefore.
	WindowSoak = "soak"
	// WindowTeardown: mode none went live at Start; senders may hold the
	// last testing/enforce policy for Seconds (its max_age, STS-SEND-16),
	// so the records may go at NotBefore.
	WindowTeardown = "teardown"
	// WindowCache: a replaced testing/enforce policy may still be cached
	// by senders until NotBefore (its max_age after it was replaced); a
	// teardown deletes nothing before.
	WindowCache = "cache"
)

// Journal is the whole document of one domain. Field order is the order
// of the JSON output, so that diffs of a state directory kept in git stay
// readable. Times are stored in UTC with whole seconds (Save rounds them).
type Journal struct {
	// Schema is always the constant Schema when written by this package.
	Schema string `json:"schema"`
	// Domain is the mail domain, lower case, A-label (domainname.Normalize).
	Domain string `json:"domain"`
	// Stage is the stage the engine last established ("" when unknown)
	// and StageSince when it began. Any string is read; Validate refuses
	// one that is not a stage.
	Stage      checks.Stage `json:"stage"`
	StageSince time.Time    `json:"stage_since,omitzero"`
	// Ladder is the ladder in use, in --ladder syntax
	// ("testing@86400:14d,enforce@86400:7d,...").
	Ladder string `json:"ladder,omitempty"`
	// Provider is the DNS provider's registry name ("rfc2136") and Publish
	// the publisher of the last run ("webroot:/srv/sts", "serve", "manual",
	// "exec"; see KeptPublish), so that the next command needs no flags.
	// Never a credential, never a command.
	Provider string `json:"provider,omitempty"`
	Publish  string `json:"publish,omitempty"`
	// Policy is the policy stspilot last made live (its id answered by
	// every name server); nil before the first rollout and after teardown.
	Policy *Policy `json:"policy,omitempty"`
	// TLSRPT is the _smtp._tls record stspilot last set; nil when none.
	TLSRPT *TLSRPT `json:"tlsrpt,omitempty"`
	// Intent is a change under way: set before the first external change
	// of a recipe, cleared when its last gate opens. A run that finds one
	// finishes (or rolls back) that change before anything else.
	Intent *Intent `json:"intent,omitempty"`
	// Ledger is every policy that was ever live under an id, oldest first
	// (see LedgerPolicy): what senders may still hold in their caches.
	Ledger []LedgerPolicy `json:"ledger,omitempty"`
	// Windows are the current not-before windows, at most one per kind
	// (see SetWindow).
	Windows []Window `json:"windows,omitempty"`
	// Archive says what history Save moved to the archive files beside
	// the journal (docs/journal.md); nil while none was.
	Archive *Archive `json:"archive,omitempty"`
	// MXMigration is an MX migration under way (the mx-migrate
	// workflow), kept across rollbacks so that the next run continues it;
	// nil when none is.
	MXMigration *MXMigration `json:"mx_migration,omitempty"`
	// Entries are the external changes, oldest first, append-only: Save
	// refuses to drop, reorder or alter an entry, except to complete a
	// pending one.
	Entries []Entry `json:"entries"`
}

// MXMigration is the progress of an MX migration: the MX set it moves
// from and to, the mx patterns before it began, and when the new MX set
// was answered by every name server.
type MXMigration struct {
	// From is the MX set that was live when the migration began (with
	// the replaced set of an unfinished migration to another target it
	// took over, until that one's drain had passed), To the target set,
	// each as "PREF HOST." sorted by preference.
	From []string `json:"from"`
	To   []string `json:"to"`
	// FromTTL is the TTL in seconds of the MX RRset the switch replaced
	// (0 until known): resolvers may hand it out that long after.
	FromTTL int64 `json:"from_ttl,omitempty"`
	// OldMX are the mx patterns of the policy before the migration; NewMX
	// the patterns for the targets.
	OldMX []string `json:"old_mx,omitempty"`
	NewMX []string `json:"new_mx,omitempty"`
	// KeepOld: the final policy keeps OldMX.
	KeepOld bool `json:"keep_old,omitempty"`
	// Manual: the operator changes the MX records by hand.
	Manual    bool      `json:"manual,omitempty"`
	StartedAt time.Time `json:"started_at,omitzero"`
	// SwitchedAt is when every name server answered To (zero before).
	SwitchedAt time.Time `json:"switched_at,omitzero"`
	// DoneAt is when the final policy went live (zero before).
	DoneAt time.Time `json:"done_at,omitzero"`
}

// Policy is an MTA-STS policy as published.
type Policy struct {
	// Text is the exact policy file served (what the served gate compares).
	Text string `json:"text"`
	// ID is the TXT record's id (^[A-Za-z0-9]{1,32}$, invariant 4).
	ID string `json:"id"`
	PolicyTerms
	// ServedAt is when every policy-host address served Text (served gate).
	ServedAt time.Time `json:"served_at,omitzero"`
	// PublishedAt is when every name server answered the id (published
	// gate): the policy is live from then on.
	PublishedAt time.Time `json:"published_at,omitzero"`
}

// PolicyTerms are what a policy says besides its version: its mode, max_age
// and mx patterns. Policy, LedgerPolicy and the horizon's policies embed
// them, so their JSON fields stand flat in each.
type PolicyTerms struct {
	// Mode is testing, enforce or none.
	Mode string `json:"mode"`
	// MaxAge is the policy's max_age in seconds.
	MaxAge int64 `json:"max_age"`
	// MX are the policy's mx patterns.
	MX []string `json:"mx,omitempty"`
}

// Clone is t with its own copy of MX.
func (t PolicyTerms) Clone() PolicyTerms {
	t.MX = slices.Clone(t.MX)
	return t
}

// LedgerPolicy is one policy that was live under an id: senders that
// fetched it may hold it until ReplacedAt + MaxAge (STS-SEND-5), or, while
// it is not replaced, for MaxAge from any moment.
type LedgerPolicy struct {
	// Hash is the SHA-256 of the policy file, lower-case hex (PolicyHash).
	Hash string `json:"hash"`
	// ID is the _mta-sts id it was live under ("" when unknown).
	ID string `json:"id,omitempty"`
	PolicyTerms
	// PublishedAt is when every name server first answered its id (zero
	// while a run is between the served and the published gate); for a
	// policy stspilot found live (Assumed), max_age before it was found.
	PublishedAt time.Time `json:"published_at,omitzero"`
	// ReplacedAt is when no address of the policy host served it any more
	// (the served gate of its successor); zero while it may still be
	// served.
	ReplacedAt time.Time `json:"replaced_at,omitzero"`
	// TXTTTL is the TTL in seconds of its _mta-sts record when that record
	// was replaced: how long resolvers may still answer its id.
	TXTTTL int64 `json:"txt_ttl,omitempty"`
	// Assumed is set for a policy stspilot found live and did not publish:
	// it is taken as live since at least max_age before it was found.
	Assumed bool `json:"assumed,omitempty"`
}

// PolicyHash is the ledger's hash of a policy file.
func PolicyHash(text string) string {
	s := sha256.Sum256([]byte(text))
	return hex.EncodeToString(s[:])
}

// Replaced reports whether the ledger policy is replaced.
func (p *LedgerPolicy) Replaced() bool { return !p.ReplacedAt.IsZero() }

// LedgerFind returns the last ledger policy with hash, or nil.
func (j *Journal) LedgerFind(hash string) *LedgerPolicy {
	for i := len(j.Ledger) - 1; i >= 0; i-- {
		if j.Ledger[i].Hash == hash {
			return &j.Ledger[i]
		}
	}
	return nil
}

// LedgerAdd appends p unless a policy with p's hash is still unreplaced:
// the same bytes still served are the same entry, whatever id names them
// now (the newest id is kept, and the earliest published_at). It returns
// the policy the ledger holds.
func (j *Journal) LedgerAdd(p LedgerPolicy) *LedgerPolicy {
	if old := j.LedgerFind(p.Hash); old != nil && !old.Replaced() {
		if p.ID != "" {
			old.ID = p.ID
		}
		if old.PublishedAt.IsZero() || !p.PublishedAt.IsZero() && p.PublishedAt.Before(old.PublishedAt) {
			old.PublishedAt = p.PublishedAt
		}
		return old
	}
	j.Ledger = append(j.Ledger, p)
	return &j.Ledger[len(j.Ledger)-1]
}

// LedgerReplace marks every unreplaced policy but the one with hash keep
// as replaced at now, and returns how many it marked.
func (j *Journal) LedgerReplace(keep string, now time.Time) int {
	n := 0
	for i := range j.Ledger {
		if p := &j.Ledger[i]; !p.Replaced() && p.Hash != keep {
			p.ReplacedAt = now
			n++
		}
	}
	return n
}

// TLSRPT is the TLS-RPT record stspilot set.
type TLSRPT struct {
	// Record is the TXT value ("v=TLSRPTv1; rua=mailto:...").
	Record string `json:"record"`
	// SetAt is when it was set.
	SetAt time.Time `json:"set_at,omitzero"`
}

// Intent is a change a run started and has not finished.
type Intent struct {
	// Workflow is rollout, promote, rollback or teardown.
	Workflow string `json:"workflow"`
	// Target is the policy being published (nil when the change removes
	// the policy).
	Target *Policy `json:"target,omitempty"`
	// RUA is the TLS-RPT destination being set, if any.
	RUA string `json:"rua,omitempty"`
	// Run is the run that started it (Handle.Run).
	Run string `json:"run,omitempty"`
	// StartedAt is when the run started it.
	StartedAt time.Time `json:"started_at"`
}

// Window is a not-before window: something may happen only at NotBefore,
// Seconds after Start.
type Window struct {
	// Kind is WindowSoak, WindowTeardown or a kind of the engine's.
	Kind string `json:"kind"`
	// Start is when the wait began (the soak's policy went live; mode
	// none went live).
	Start time.Time `json:"start"`
	// Seconds is the length: the soak, or the max_age waited out.
	Seconds int64 `json:"seconds"`
	// NotBefore is Start + Seconds: the earliest time the gate opens.
	NotBefore time.Time `json:"not_before"`
	// Reason says why, in words for status output.
	Reason string `json:"reason,omitempty"`
	// Ended is when what the window guarded happened (the promotion, the
	// deletion of the records); zero while it is still ahead.
	Ended time.Time `json:"ended,omitzero"`
}

// Archive is what a journal says of the history moved out of it: the
// oldest completed entries, moved to DOMAIN.archive.jsonl when the
// journal grew past RotateSize (see Store).
type Archive struct {
	// Entries is how many entries were moved, in all.
	Entries int `json:"entries"`
	// LastID is the id of the newest entry moved: the journal's entries
	// go on from LastID+1.
	LastID int `json:"last_id"`
	// At is when entries were last moved.
	At time.Time `json:"at"`
}

// Entry is one external change.
type Entry struct {
	// ID is unique in the journal: 1, 2, 3, ... in order (Append sets it).
	ID int `json:"id"`
	// Run is the run that made the change (Handle.Run).
	Run string `json:"run,omitempty"`
	// Workflow is the workflow the change belongs to.
	Workflow string `json:"workflow,omitempty"`
	// Step is the plan's step id ("3-set-sts").
	Step string `json:"step,omitempty"`
	// Kind says what changed (Kind* constants).
	Kind Kind `json:"kind"`
	// Status is pending, done or failed.
	Status Status `json:"status"`
	// Name is what changed: a DNS name ("_mta-sts.example.com") or the
	// policy URL.
	Name string `json:"name"`
	// Before and After are the value before and after the change (the
	// record text, or the policy text for the policy file).
	Before string `json:"before,omitempty"`
	After  string `json:"after,omitempty"`
	// PolicyText, PolicyID and MaxAge describe the policy concerned.
	PolicyText string `json:"policy_text,omitempty"`
	PolicyID   string `json:"policy_id,omitempty"`
	MaxAge     int64  `json:"max_age,omitempty"`
	// TTL is the TTL in seconds of the record replaced: how long resolvers
	// may still answer Before (the rollback risk window).
	TTL int64 `json:"ttl,omitempty"`
	// Changed is false when live state already held After and nothing was
	// written.
	Changed bool `json:"changed"`
	// Error says why a failed change failed (user-safe text, no secrets).
	Error string `json:"error,omitempty"`
	// Started is when the entry was written pending; Finished when it was
	// completed.
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished,omitzero"`
	// Count is how many runs the entry stands for: a later run that
	// repeated it exactly (nothing changed, or the same failure; see
	// Repeats) was folded into it (Fold). 0 means one; written from 2.
	Count int `json:"count,omitempty"`
	// LastRun and LastAt are the run and the completion time of the
	// latest repetition; Run, Started and Finished stay the first's.
	LastRun string    `json:"last_run,omitempty"`
	LastAt  time.Time `json:"last_at,omitzero"`
}

// Runs is how many runs the entry stands for (Count, at least 1).
func (e *Entry) Runs() int { return max(e.Count, 1) }

// Repeats reports whether b repeats a: both completed without changing
// anything (done with changed false, or failed), and the same apart from
// ids, runs, times and counts. A run that only repeats what the previous
// run recorded (a rollout re-run while a gate stays closed) adds nothing
// a reader needs twice.
func Repeats(a, b Entry) bool {
	if a.Status == Pending || b.Status == Pending || a.Changed || b.Changed {
		return false
	}
	strip := func(e Entry) Entry {
		e.ID, e.Run, e.Started, e.Finished, e.Count, e.LastRun, e.LastAt = 0, "", time.Time{}, time.Time{}, 0, "", time.Time{}
		return e
	}
	return strip(a) == strip(b)
}

// foldBack is how far back Fold looks for the entry the last one repeats.
const foldBack = 16

// Fold folds the last entry into the latest earlier one it repeats
// (Repeats), looking back over entries that changed nothing only (never
// across a change, an intent or a pending entry, and at most foldBack
// entries): that entry's count grows by the last one's runs, its
// last_run and last_at become the last one's run and completion time, and
// the last entry goes. It reports whether it folded. A re-run whose steps
// all repeat the previous run's (a rollout re-run while a gate stays
// closed) thus leaves the journal as long as it was. Save accepts the fold
// of an entry saved pending.
func (j *Journal) Fold() bool {
	n := len(j.Entries)
	if n < 2 {
		return false
	}
	last := j.Entries[n-1]
	for i := n - 2; i >= 0 && i >= n-1-foldBack; i-- {
		prev := &j.Entries[i]
		if Repeats(*prev, last) {
			prev.Count = prev.Runs() + last.Runs()
			prev.LastRun = last.Run
			if last.LastRun != "" {
				prev.LastRun = last.LastRun
			}
			prev.LastAt = last.Finished
			if !last.LastAt.IsZero() {
				prev.LastAt = last.LastAt
			}
			j.Entries = j.Entries[:n-1]
			return true
		}
		if prev.Status == Pending || prev.Changed || prev.Kind == KindIntent {
			return false
		}
	}
	return false
}

// New returns an empty journal for domain (normalised, see domainname.Normalize).
func New(domain string) (*Journal, error) {
	d, err := domainname.Normalize(domain)
	if err != nil {
		return nil, err
	}
	return &Journal{Schema: Schema, Domain: d, Entries: []Entry{}}, nil
}

// Append adds e as a pending entry started at now (unless e.Started is
// set) with the next ID, and returns that ID. Save it before making the
// change.
func (j *Journal) Append(e Entry, now time.Time) int {
	e.ID = 1
	if n := len(j.Entries); n > 0 {
		e.ID = j.Entries[n-1].ID + 1
	} else if j.Archive != nil {
		e.ID = j.Archive.LastID + 1
	}
	e.Status = Pending
	if e.Started.IsZero() {
		e.Started = now
	}
	j.Entries = append(j.Entries, e)
	return e.ID
}

// Entry returns the entry with the given ID, or nil. The pointer is valid
// until the next Append.
func (j *Journal) Entry(id int) *Entry {
	i, ok := slices.BinarySearchFunc(j.Entries, id, func(e Entry, id int) int { return e.ID - id })
	if !ok {
		return nil
	}
	return &j.Entries[i]
}

// Finish completes the pending entry id with status Done or Failed at now;
// errText says why it failed. Save it after the change.
func (j *Journal) Finish(id int, status Status, now time.Time, errText string) error {
	if status != Done && status != Failed {
		return fmt.Errorf("journal: entry %d: finish with status %q, want done or failed", id, status)
	}
	e := j.Entry(id)
	switch {
	case e == nil:
		return fmt.Errorf("journal: no entry %d", id)
	case e.Status != Pending:
		return fmt.Errorf("journal: entry %d is already %s", id, e.Status)
	}
	e.Status, e.Finished, e.Error = status, now, errText
	return nil
}

// Pending returns copies of the entries still pending, oldest first: the
// changes a killed run may or may not have made.
func (j *Journal) Pending() []Entry {
	var p []Entry
	for _, e := range j.Entries {
		if e.Status == Pending {
			p = append(p, e)
		}
	}
	return p
}

// Window returns the window of kind, or nil.
func (j *Journal) Window(kind string) *Window {
	for i := range j.Windows {
		if j.Windows[i].Kind == kind {
			return &j.Windows[i]
		}
	}
	return nil
}

// SetWindow stores w, replacing the window of the same kind.
func (j *Journal) SetWindow(w Window) {
	if old := j.Window(w.Kind); old != nil {
		*old = w
		return
	}
	j.Windows = append(j.Windows, w)
}

// ClearWindow removes the window of kind, if any.
func (j *Journal) ClearWindow(kind string) {
	j.Windows = slices.DeleteFunc(j.Windows, func(w Window) bool { return w.Kind == kind })
}

var (
	kindRe     = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)
	policyIDRe = regexp.MustCompile(`^[A-Za-z0-9]{1,32}$`)
	hashRe     = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

const maxPolicyMaxAge = 31557600 // STS-POL-9

// Validate says what is wrong with j: the schema, the domain's form, the
// stage, a policy's mode, id or max_age, a window without a kind, and
// entries whose ids are not increasing or whose kind, status or start time
// is missing or malformed.
func (j *Journal) Validate() error {
	if j.Schema != Schema {
		return fmt.Errorf("schema %q, want %q", clip(j.Schema), Schema)
	}
	if d, err := domainname.Normalize(j.Domain); err != nil {
		return err
	} else if d != j.Domain {
		return fmt.Errorf("domain %q is not in normal form (%q)", clip(j.Domain), d)
	}
	if !j.Stage.Valid() {
		return fmt.Errorf("unknown stage %q", clip(string(j.Stage)))
	}
	if err := j.Policy.validate("policy"); err != nil {
		return err
	}
	if j.Intent != nil {
		if j.Intent.Workflow == "" {
			return errors.New("intent: no workflow")
		}
		if err := j.Intent.Target.validate("intent target"); err != nil {
			return err
		}
	}
	for i, p := range j.Ledger {
		at := fmt.Sprintf("ledger %d", i+1)
		if !hashRe.MatchString(p.Hash) {
			return fmt.Errorf("%s: hash %q is not 64 lower-case hex digits", at, clip(p.Hash))
		}
		// A policy found live may say any max_age: mox and go-mtasts
		// accept one above the RFC's maximum with no upper bound, so the
		// ledger keeps what the policy said (STS-POL-9).
		if err := p.PolicyTerms.validate(at, p.ID, math.MaxInt64); err != nil {
			return err
		}
		if p.TXTTTL < 0 {
			return fmt.Errorf("%s: negative txt_ttl", at)
		}
	}
	seen := map[string]bool{}
	for i, w := range j.Windows {
		switch {
		case w.Kind == "":
			return fmt.Errorf("window %d: no kind", i+1)
		case seen[w.Kind]:
			return fmt.Errorf("window %d: a second %q window", i+1, clip(w.Kind))
		case w.Seconds < 0:
			return fmt.Errorf("window %q: negative length", clip(w.Kind))
		}
		seen[w.Kind] = true
	}
	last := 0
	if a := j.Archive; a != nil {
		if a.Entries < 0 || a.LastID < 0 {
			return errors.New("archive: negative count or id")
		}
		last = a.LastID
	}
	for i, e := range j.Entries {
		at := fmt.Sprintf("entry %d (id %d)", i+1, e.ID)
		switch {
		case e.ID <= last:
			return fmt.Errorf("%s: ids must increase (previous %d)", at, last)
		case !kindRe.MatchString(string(e.Kind)):
			return fmt.Errorf("%s: kind %q is not lower-case letters, digits and hyphens", at, clip(string(e.Kind)))
		case e.Status != Pending && e.Status != Done && e.Status != Failed:
			return fmt.Errorf("%s: status %q is not pending, done or failed", at, clip(string(e.Status)))
		case e.Name == "":
			return fmt.Errorf("%s: no name", at)
		case e.Started.IsZero():
			return fmt.Errorf("%s: no start time", at)
		case e.PolicyID != "" && !policyIDRe.MatchString(e.PolicyID):
			return fmt.Errorf("%s: policy id %q is not 1 to 32 letters and digits", at, clip(e.PolicyID))
		case e.MaxAge < 0 || e.MaxAge > maxPolicyMaxAge:
			return fmt.Errorf("%s: max_age %d is outside 0 to %d", at, e.MaxAge, maxPolicyMaxAge)
		case e.TTL < 0:
			return fmt.Errorf("%s: negative ttl", at)
		case e.Count < 0:
			return fmt.Errorf("%s: negative count", at)
		}
		last = e.ID
	}
	return nil
}

func (p *Policy) validate(what string) error {
	if p == nil {
		return nil
	}
	return p.PolicyTerms.validate(what, p.ID, maxPolicyMaxAge)
}

// validate checks the terms of the policy live under id ("" when
// unknown): mode, then id, then max_age (0 to maxAge).
func (t *PolicyTerms) validate(what, id string, maxAge int64) error {
	switch {
	case t.Mode != "testing" && t.Mode != "enforce" && t.Mode != "none":
		return fmt.Errorf("%s: mode %q is not testing, enforce or none", what, clip(t.Mode))
	case id != "" && !policyIDRe.MatchString(id):
		return fmt.Errorf("%s: id %q is not 1 to 32 letters and digits", what, clip(id))
	case t.MaxAge < 0 || t.MaxAge > maxAge:
		return fmt.Errorf("%s: max_age %d is outside 0 to %d", what, t.MaxAge, maxAge)
	}
	return nil
}

// SchemaError is a journal written in a schema this stspilot does not
// know: a newer version, or no stspilot journal at all when Found is not
// an stspilot schema. It is refused, never rewritten.
type SchemaError struct {
	Path  string // "" when decoding bytes
	Found string
}

func (e *SchemaError) Error() string {
	where := "journal"
	if e.Path != "" {
		where = "journal " + e.Path
	}
	return fmt.Sprintf("%s has schema %q, newer than this stspilot's %q: upgrade stspilot to read it; the file was left untouched", where, clip(e.Found), Schema)
}

// CorruptError is a journal that cannot be read: not UTF-8, not JSON,
// truncated, too large, unknown fields, or values that fail Validate. The
// file is left untouched; Save refuses to overwrite it until Quarantine
// moves it aside.
type CorruptError struct {
	Path   string
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("journal %s cannot be read: %s; it was left untouched: fix it by hand, or move it aside to %s.corrupt-TIMESTAMP and run again to start a new journal from live state (docs/journal.md)", e.Path, e.Reason, e.Path)
}

// Decode reads a journal document. It returns a *SchemaError for a newer
// schema version; any other error is the reason the bytes are not a valid
// journal. It never panics, whatever the input.
func Decode(data []byte) (*Journal, error) {
	if int64(len(data)) > maxSize {
		return nil, fmt.Errorf("larger than %d bytes", maxSize)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("empty file")
	}
	if !utf8.Valid(data) {
		return nil, errors.New("not UTF-8 text (binary data?)")
	}
	var head struct {
		Schema *string `json:"schema"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("not a JSON object with a string schema (truncated or damaged?): %v", jsonErr(err))
	}
	v1, v2 := false, false
	switch {
	case head.Schema == nil:
		return nil, errors.New(`no "schema" field: not an stspilot journal`)
	case *head.Schema == Schema:
	case *head.Schema == SchemaV2:
		v2 = true
	case *head.Schema == SchemaV1:
		v1 = true
	case newerSchema(*head.Schema):
		return nil, &SchemaError{Found: *head.Schema}
	default:
		return nil, fmt.Errorf("unknown schema %q", clip(*head.Schema))
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var j Journal
	if err := dec.Decode(&j); err != nil {
		return nil, fmt.Errorf("invalid %s document: %v", *head.Schema, jsonErr(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON document")
	}
	if v1 || v2 {
		if err := j.beforeV3(); err != nil {
			return nil, fmt.Errorf("invalid %s document: %v", *head.Schema, err)
		}
		j.Schema = Schema
	}
	if v1 {
		if j.Ledger != nil {
			return nil, fmt.Errorf("invalid %s document: a ledger, which %s does not have", SchemaV1, SchemaV1)
		}
		j.migrateV1()
	}
	if j.Entries == nil {
		j.Entries = []Entry{}
	}
	if err := j.Validate(); err != nil {
		return nil, err
	}
	j.Publish = KeptPublish(j.Publish)
	return &j, nil
}

// beforeV3 refuses what v3 added in a document of an older version.
func (j *Journal) beforeV3() error {
	if j.Archive != nil {
		return errors.New("an archive, which it does not have")
	}
	for _, e := range j.Entries {
		if e.Count != 0 || e.LastRun != "" || !e.LastAt.IsZero() {
			return fmt.Errorf("entry %d: count, last_run or last_at, which it does not have", e.ID)
		}
	}
	return nil
}

// PublishExec is all a journal keeps of an exec publisher.
const PublishExec = "exec"

// KeptPublish is what a journal keeps of a publisher given as spec (a
// --publish value): spec itself, except that an exec publisher ("exec:CMD")
// is only PublishExec. Whoever can write a journal (or get a change to a
// state directory kept in git merged) must not choose a command stspilot
// runs, so a command is never written into a journal, and one found there
// (stspilot wrote them before) is dropped as the journal is read: Decode
// and Encode apply KeptPublish.
func KeptPublish(spec string) string {
	if kind, _, _ := strings.Cut(strings.TrimSpace(spec), ":"); kind == PublishExec {
		return PublishExec
	}
	return spec
}

// newerSchema reports whether s is stspilot.journal/vN with N > 1.
func newerSchema(s string) bool {
	v, ok := strings.CutPrefix(s, schemaPrefix)
	if !ok || v == "" || len(v) > 9 || v[0] == '0' {
		return false
	}
	n, err := strconv.Atoi(v)
	return err == nil && n > schemaNumber
}

// migrateV1 turns a stspilot.journal/v1 document into the current one:
// the ledger is rebuilt from the published markers (every id the name
// servers answered, with the policy its entries wrote) and the policy
// stspilot last made live. A policy is taken as replaced when the next
// one was published (later than the served gate that replaced it, so
// the horizon it gives is never shorter).
func (j *Journal) migrateV1() {
	j.Schema = Schema
	texts := map[string]string{} // policy id -> text
	for _, e := range j.Entries {
		if e.PolicyID == "" {
			continue
		}
		switch {
		case e.PolicyText != "":
			texts[e.PolicyID] = e.PolicyText
		case e.Kind == KindIntent && e.After != "" && texts[e.PolicyID] == "":
			texts[e.PolicyID] = e.After
		}
	}
	if j.Policy != nil && j.Policy.ID != "" {
		texts[j.Policy.ID] = j.Policy.Text
	}
	add := func(text, id string, maxAge int64, mx []string, at time.Time) {
		if text == "" {
			return
		}
		mode := policyField(text, "mode")
		if mode != "testing" && mode != "enforce" && mode != "none" {
			return
		}
		h := PolicyHash(text)
		if n := len(j.Ledger); n > 0 && j.Ledger[n-1].Hash == h && j.Ledger[n-1].ID == id {
			return
		}
		if mx == nil {
			mx = policyMX(text)
		}
		if n := len(j.Ledger); n > 0 && j.Ledger[n-1].ReplacedAt.IsZero() {
			j.Ledger[n-1].ReplacedAt = at
		}
		j.Ledger = append(j.Ledger, LedgerPolicy{Hash: h, ID: id, PolicyTerms: PolicyTerms{Mode: mode, MaxAge: maxAge, MX: mx}, PublishedAt: at})
	}
	for i, e := range j.Entries {
		if e.Kind != KindPublished || e.Status != Done || e.PolicyID == "" {
			continue
		}
		// The TTL of the record a later txt-set replaced.
		at := e.Finished
		if at.IsZero() {
			at = e.Started
		}
		add(texts[e.PolicyID], e.PolicyID, e.MaxAge, nil, at)
		for _, later := range j.Entries[i+1:] {
			if later.Kind == KindTXTSet && later.TTL > 0 && strings.Contains(later.Before, e.PolicyID) {
				if n := len(j.Ledger); n > 0 {
					j.Ledger[n-1].TXTTTL = later.TTL
				}
				break
			}
		}
	}
	if p := j.Policy; p != nil && p.Text != "" && !p.PublishedAt.IsZero() {
		add(p.Text, p.ID, p.MaxAge, p.MX, p.PublishedAt)
	}
	if len(j.Ledger) == 0 {
		j.Ledger = nil
	}
}

// policyField is the value of the first "key:" line of a policy file.
func policyField(text, key string) string {
	for l := range strings.Lines(text) {
		k, v, ok := strings.Cut(l, ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// policyMX is the mx patterns of a policy file.
func policyMX(text string) []string {
	var mx []string
	for l := range strings.Lines(text) {
		k, v, ok := strings.Cut(l, ":")
		if ok && strings.TrimSpace(k) == "mx" {
			mx = append(mx, strings.TrimSpace(v))
		}
	}
	return mx
}

// jsonErr keeps JSON errors short: they may quote parts of the input.
func jsonErr(err error) string {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return "unexpected end of data"
	}
	return clip(err.Error())
}

// Encode writes j as the file holds it: indented JSON with a trailing
// newline, HTML characters unescaped so that policy text stays readable.
// It sets j.Publish to KeptPublish(j.Publish): no command is written.
func Encode(j *Journal) ([]byte, error) {
	b, err := encode(j)
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > maxSize {
		return nil, sizeError(j.Domain, len(b))
	}
	return b, nil
}

func sizeError(domain string, n int) error {
	return fmt.Errorf("journal: the journal of %s would be %d bytes, above the %d-byte limit", domain, n, maxSize)
}

// encode is Encode without the size cap.
func encode(j *Journal) ([]byte, error) {
	if err := j.Validate(); err != nil {
		return nil, fmt.Errorf("journal: not writing an invalid journal: %w", err)
	}
	j.Publish = KeptPublish(j.Publish)
	if j.Entries == nil {
		j.Entries = []Entry{}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(j); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	return b.Bytes(), nil
}

// Stamp is t as the journal keeps it: in UTC, truncated to whole seconds.
// Times written into a journal are stamped before they are stored, so
// that what the caller holds after Save equals what Load returns.
func Stamp(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }

// normalizeTimes stamps every time in j (Stamp), so that what the caller
// holds after Save equals what Load returns.
func (j *Journal) normalizeTimes() {
	n := func(t *time.Time) {
		if t.IsZero() {
			*t = time.Time{}
			return
		}
		*t = Stamp(*t)
	}
	n(&j.StageSince)
	for _, p := range []*Policy{j.Policy, intentTarget(j.Intent)} {
		if p != nil {
			n(&p.ServedAt)
			n(&p.PublishedAt)
		}
	}
	if j.TLSRPT != nil {
		n(&j.TLSRPT.SetAt)
	}
	if j.Intent != nil {
		n(&j.Intent.StartedAt)
	}
	if m := j.MXMigration; m != nil {
		n(&m.StartedAt)
		n(&m.SwitchedAt)
		n(&m.DoneAt)
	}
	for i := range j.Ledger {
		n(&j.Ledger[i].PublishedAt)
		n(&j.Ledger[i].ReplacedAt)
	}
	for i := range j.Windows {
		w := &j.Windows[i]
		n(&w.Start)
		n(&w.NotBefore)
		n(&w.Ended)
	}
	for i := range j.Entries {
		n(&j.Entries[i].Started)
		n(&j.Entries[i].Finished)
		n(&j.Entries[i].LastAt)
	}
	if j.Archive != nil {
		n(&j.Archive.At)
	}
}

func intentTarget(in *Intent) *Policy {
	if in == nil {
		return nil
	}
	return in.Target
}

// clip shortens s for a message or a lock holder's record, never
// splitting a character.
func clip(s string) string { return printable.Shorten(s, 80, "...") }
