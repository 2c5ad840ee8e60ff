package workflow

import (
	"context"
	"fmt"
	"time"

	"github.com/stspilot/stspilot/checks"
)

// StatusSchema names the JSON document of `stspilot status` (docs/json.md).
const StatusSchema = "stspilot.status/v1"

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
	Pending *Intent `json:"pending,omitempty"`
	// Teardown is the teardown's cache window once none went live.
	Teardown *TeardownState `json:"teardown,omitempty"`
	// Next is the workflow to run next ("" at the top of the ladder).
	Next Workflow `json:"next,omitempty"`
	// NextStep says what it would do or what blocks it.
	NextStep string     `json:"next_step,omitempty"`
	NextAt   *time.Time `json:"next_at,omitempty"`
	Blocked  *Refusal   `json:"blocked,omitempty"`
	// History is the journal's last entries, oldest first.
	History  []Entry          `json:"history,omitempty"`
	Findings []checks.Finding `json:"findings,omitempty"`
	// Errors counts error findings (exit 4).
	Errors int `json:"errors"`
}

// Status reports a domain's stage from live state and the journal, and the
// next workflow with its first closed gate. It changes nothing.
func (e *Engine) Status(ctx context.Context, domain string) (*StatusReport, error) {
	d, err := normalizeDomain(domain)
	if err != nil {
		return nil, err
	}
	mem, err := e.Journal.Peek(d)
	if err != nil {
		return nil, err
	}
	st := &StatusReport{Schema: StatusSchema, Domain: d, Rung: -1, Ladder: e.Ladder.String()}
	if mem != nil {
		st.Pending, st.Teardown = mem.Intent, mem.Teardown
	}
	if st.History, err = e.Journal.History(d, 20); err != nil {
		return nil, err
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
	}
	if next != Promote {
		if p, err = e.plan(ctx, Request{Workflow: next, Domain: d, preview: true}, d, mem); err != nil {
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
		st.Rung = rungIndex(e.Ladder, p.Current.Mode, p.Current.MaxAge)
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
	default:
		st.Next = next
		if st.NextStep == "" && p.Target != nil {
			st.NextStep = fmt.Sprintf("%s to %s, max_age %d: its gates are open", next, p.Target.Mode, p.Target.MaxAge)
		}
	}
	return st, nil
}
