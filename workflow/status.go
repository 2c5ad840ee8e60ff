package workflow

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/stspilot/stspilot/checks"
	"github.com/stspilot/stspilot/workflow/journal"
)

// StatusSchema names the JSON document of `stspilot status` (docs/json.md).
//
// v2: every duration is integer seconds (teardown.last_max_age,
// history[].ttl were Go durations in nanoseconds), and the horizon.
const StatusSchema = "stspilot.status/v2"

// StatusReport is where a domain stands, what happened to it, and what
// comes next and when.
type StatusReport struct {
	Schema string  `json:"schema"`
	Domain string  `json:"domain"`
	Stage  Stage   `json:"stage"`
	Policy *Policy `json:"policy,omitempty"`
	// LiveSince is when the live policy's id went live (journal or id).
	LiveSince *time.Time `json:"live_since,omitempty"`
	// Rung is the live policy's position on the ladder (-1: off it).
	Rung   int    `json:"rung"`
	Ladder string `json:"ladder"`
	// Pending is a change a run started and did not finish.
	Pending *journal.Intent `json:"pending,omitempty"`
	// Teardown is the teardown's cache window once none went live.
	Teardown *TeardownState `json:"teardown,omitempty"`
	// Horizon is until when senders may hold each policy of the ledger,
	// and the worst case (nil when nothing may be cached).
	Horizon *HorizonReport `json:"horizon,omitempty"`
	// Next is the workflow to run next ("" at the top of the ladder).
	Next Workflow `json:"next,omitempty"`
	// MXMigration is an MX migration under way (mx-migrate), nil when
	// none is.
	MXMigration *journal.MXMigration `json:"mx_migration,omitempty"`
	// NextStep says what it would do or what blocks it.
	NextStep string     `json:"next_step,omitempty"`
	NextAt   *time.Time `json:"next_at,omitempty"`
	Blocked  *Refusal   `json:"blocked,omitempty"`
	// Journal is the size of the domain's journal; nil when it is empty.
	Journal *JournalSize `json:"journal,omitempty"`
	// History is the journal's last entries, oldest first.
	History  []HistoryEntry   `json:"history,omitempty"`
	Findings []checks.Finding `json:"findings,omitempty"`
	// Errors counts error findings (exit 4).
	Errors int `json:"errors"`
	// Fetchers says which senders fetched the live id since it was
	// published, from serve's access log; the front end fills it (the
	// engine does not know the log). Nil without a live id.
	Fetchers *LiveFetchers `json:"fetchers,omitempty"`
}

// LiveFetchers is what serve's access log says about the live policy id:
// the fetches answered with it since it was published, by sender class
// (google, microsoft, postfix-mta-sts-resolver, postfix-tlspol, go,
// browser, other).
type LiveFetchers struct {
	// Log is the access log read; "" when none is configured.
	Log   string     `json:"log,omitempty"`
	ID    string     `json:"id"`
	Since *time.Time `json:"since,omitempty"`
	// Senders counts the fetches by class; classes with none are left out.
	Senders map[string]int `json:"senders,omitempty"`
	// Truncated: only the end of a large log was read.
	Truncated bool `json:"truncated,omitempty"`
	// Error says why the log could not be read.
	Error string `json:"error,omitempty"`
}

// JournalSize is how large a journal is against the size past which its
// oldest history moves to the archive beside it.
type JournalSize struct {
	// Bytes is the journal's size as written.
	Bytes int64 `json:"bytes"`
	// Limit is the size past which the oldest completed entries move to
	// the archive (far below the cap no journal is written over).
	Limit int64 `json:"limit"`
	// Archived counts the entries moved to the archive so far.
	Archived int `json:"archived"`
	// Warning is set once the journal passes half of Limit.
	Warning string `json:"warning,omitempty"`
}

// journalSize is status's view of j's size (nil for an empty journal).
func journalSize(j *journal.Journal) *JournalSize {
	if j == nil || len(j.Entries) == 0 && j.Policy == nil && j.Intent == nil && len(j.Ledger) == 0 && j.Archive == nil {
		return nil
	}
	js := &JournalSize{Bytes: journal.Size(j), Limit: journal.RotateAt()}
	if j.Archive != nil {
		js.Archived = j.Archive.Entries
	}
	if js.Bytes > js.Limit/2 {
		js.Warning = fmt.Sprintf("the journal is %d bytes, %d%% of the %d bytes past which its oldest history moves to the archive file beside it (%s.archive.jsonl)", js.Bytes, js.Bytes*100/js.Limit, js.Limit, j.Domain)
	}
	return js
}

// Status reports a domain's stage from live state and the journal, and the
// next workflow with its first closed gate. It changes nothing.
func (e *Engine) Status(ctx context.Context, domain string) (*StatusReport, error) {
	d, err := normalizeDomain(domain)
	if err != nil {
		return nil, err
	}
	mem, err := e.peek(d)
	if err != nil {
		return nil, err
	}
	st := &StatusReport{Schema: StatusSchema, Domain: d, Rung: -1, Ladder: e.cfg.Ladder.String(), Pending: intentOf(mem), Teardown: teardownView(mem), Journal: journalSize(mem)}
	defer func() {
		// After planning: the plan entered a policy found live.
		if h := Horizon(mem, e.now()); len(h.Policies) > 0 {
			st.Horizon = h
		}
	}()
	for _, h := range lastEntries(mem, 20) {
		st.History = append(st.History, historyEntry(h))
	}
	// Which workflow comes next follows from the stage; plan it to learn
	// its gates. Promote is planned without evidence when none is configured.
	next := Promote
	p, err := e.plan(ctx, Request{Workflow: next, Domain: d, preview: true}, d, mem)
	if err != nil {
		return nil, err
	}
	switch p.Stage {
	case StageAbsent:
		next = Rollout
	case StageNone:
		next = Teardown
	case StageBroken:
		// Broken while an enforce policy may be cached: the next step is
		// the fix or a rollback, never a rollout.
		if w := Horizon(mem, e.now()).Worst; w != nil && w.Mode == string(StageEnforce) {
			next = Rollback
		}
	}
	// An MX migration under way comes first, while a policy is live.
	if m := mem.MXMigration; m != nil && m.DoneAt.IsZero() && (p.Stage == StageTesting || p.Stage == StageEnforce) {
		next = MXMigrate
		st.MXMigration = m
	}
	if next != Promote {
		req := Request{Workflow: next, Domain: d, preview: true}
		if m := st.MXMigration; next == MXMigrate {
			req.MXTo, req.KeepOld = parseMXLines(m.To), m.KeepOld
			if m.Manual {
				req.MXSwitch = MXSwitchManual
			}
		}
		if p, err = e.plan(ctx, req, d, mem); err != nil {
			return nil, err
		}
	}
	st.Stage, st.Policy = p.Stage, p.Current
	for _, f := range p.Live.Findings {
		if f.Severity == checks.SevInfo {
			continue
		}
		st.Findings = append(st.Findings, f)
		if f.Severity == checks.SevError {
			st.Errors++
		}
	}
	if p.Current != nil {
		t, _ := e.liveSince(readLive(p.Live), mem)
		st.LiveSince = &t
		st.Rung = rungIndex(e.cfg.Ladder, p.Current.Mode, p.Current.MaxAge)
	}
	for _, g := range p.Gates {
		if !g.Open && g.NextAt != nil {
			st.NextAt = g.NextAt
			st.NextStep = "gate " + string(g.Kind) + " closed: " + g.Reason
			break
		}
	}
	switch {
	case p.Nothing:
		st.NextStep = p.Reason
	case p.Refusal != nil:
		st.Next, st.Blocked = next, p.Refusal
		if st.NextStep == "" {
			st.NextStep = "blocked: " + p.Refusal.Reason
		}
	case next == Rollback:
		// Broken with an enforce policy cached (see fixOrRollback).
		if r := fixOrRollback(p, mem, e.now()); r != nil {
			st.Next, st.NextStep = Rollback, r.Reason
			break
		}
		st.Next = next
	default:
		st.Next = next
		if st.NextStep == "" && next == MXMigrate {
			st.NextStep = "the MX migration to " + strings.Join(st.MXMigration.To, ", ") + " goes on: its gates are open"
		} else if st.NextStep == "" && p.Target != nil {
			st.NextStep = fmt.Sprintf("%s to %s, max_age %d: its gates are open", next, p.Target.Mode, p.Target.MaxAge)
		}
	}
	return st, nil
}

// TeardownState is status's view of the journal's teardown window.
type TeardownState struct {
	// NoneSince is when the mode none policy's id went live.
	NoneSince time.Time `json:"none_since"`
	// LastMaxAge is how long, in seconds, senders may hold the
	// testing/enforce policies that none replaced (STS-SEND-16).
	LastMaxAge int64 `json:"last_max_age"`
	// RecordsGoneAt is when the records were deleted (teardown done).
	RecordsGoneAt time.Time `json:"records_gone_at,omitzero"`
}

func teardownView(j *journal.Journal) *TeardownState {
	since, last, gone, ok := teardownOf(j)
	if !ok {
		return nil
	}
	return &TeardownState{NoneSince: since, LastMaxAge: int64(last / time.Second), RecordsGoneAt: gone}
}

// HistoryEntry is status's view of a journal entry (stspilot.status/v2):
// the step's label rather than the journal's kind, the TTL in seconds,
// and At, when the change was completed (started, while pending).
type HistoryEntry struct {
	Step     string    `json:"step"`
	Kind     StepKind  `json:"kind"`
	Status   string    `json:"status"`
	Name     string    `json:"name"`
	Before   string    `json:"before,omitempty"`
	After    string    `json:"after,omitempty"`
	PolicyID string    `json:"policy_id,omitempty"`
	MaxAge   int64     `json:"max_age,omitempty"`
	TTL      int64     `json:"ttl,omitempty"`
	Changed  bool      `json:"changed"`
	Error    string    `json:"error,omitempty"`
	At       time.Time `json:"at"`
	// Count is how many runs the entry stands for, when more than one
	// (re-runs that repeated it were folded into it); At is then the
	// latest's completion and FirstAt the first's.
	Count   int       `json:"count,omitempty"`
	FirstAt time.Time `json:"first_at,omitzero"`
}

// History entry statuses.
const (
	EntryPending = string(journal.Pending)
	EntryDone    = string(journal.Done)
	EntryFailed  = string(journal.Failed)
)

func historyEntry(e journal.Entry) HistoryEntry {
	at := e.Finished
	if at.IsZero() {
		at = e.Started
	}
	h := HistoryEntry{
		Step: e.Step, Kind: StepKind(StepKindOf(e.Kind).Label()), Status: string(e.Status), Name: e.Name, Before: e.Before, After: e.After,
		PolicyID: e.PolicyID, MaxAge: e.MaxAge, TTL: e.TTL, Changed: e.Changed, Error: e.Error, At: at,
	}
	if e.Runs() > 1 {
		h.Count, h.FirstAt = e.Runs(), at
		if !e.LastAt.IsZero() {
			h.At = e.LastAt
		}
	}
	return h
}
