package textout

import (
	"strings"
	"testing"
	"time"

	"github.com/stspilot/stspilot/workflow"
	"github.com/stspilot/stspilot/workflow/journal"
)

func TestLineDiff(t *testing.T) {
	a := []string{"version: STSv1", "mode: testing", "mx: mx1.example.test", "max_age: 86400"}
	b := []string{"version: STSv1", "mode: enforce", "mx: mx1.example.test", "max_age: 604800"}
	var got []string
	for _, d := range lineDiff(a, b) {
		got = append(got, string(d.Op)+d.Text)
	}
	want := " version: STSv1|-mode: testing|+mode: enforce| mx: mx1.example.test|-max_age: 86400|+max_age: 604800"
	if strings.Join(got, "|") != want {
		t.Errorf("diff:\n%s\nwant\n%s", strings.Join(got, "|"), want)
	}
	if d := lineDiff(nil, b); len(d) != 4 || d[0].Op != '+' {
		t.Errorf("diff from nothing: %v", d)
	}
}

func TestEventsRender(t *testing.T) {
	var b strings.Builder
	o := NewEvents(&b, Options{})
	plan := &workflow.Plan{
		Domain: "example.test", Zone: "example.test.", Workflow: workflow.Promote, Stage: workflow.StageTesting,
		Current: &workflow.Policy{PolicyTerms: workflow.PolicyTerms{Mode: "testing", MaxAge: 86400}, Text: "version: STSv1\r\nmode: testing\r\nmx: mx1.example.test\r\nmax_age: 86400\r\n"},
		Target:  &workflow.Policy{PolicyTerms: workflow.PolicyTerms{Mode: "enforce", MaxAge: 86400}, ID: "20261129000000abcdefgh", Text: "version: STSv1\r\nmode: enforce\r\nmx: mx1.example.test\r\nmax_age: 86400\r\n"},
		Steps: []workflow.Step{
			{Kind: workflow.StepGate, Gate: workflow.GateWindow, Summary: "the soak ended", Done: true},
			{Kind: workflow.StepPublishPolicy, Summary: "publish the enforce policy", Before: "version: STSv1\r\nmode: testing\r\n", After: "version: STSv1\r\nmode: enforce\r\n"},
			{Kind: workflow.StepDeleteSTS, Summary: "delete the _mta-sts record (no undo)", Name: "_mta-sts.example.test", Before: "v=STSv1; id=old;", Destructive: true},
		},
	}
	o.Event(workflow.Event{Kind: workflow.EventPlan, Plan: plan})
	g := &workflow.GateResult{
		Kind: workflow.GateServed, Reason: "1 of 2 addresses do not yet serve the new policy",
		Targets: []workflow.TargetStatus{{Name: "mta-sts.example.test", Addr: "192.0.2.1", State: "ok"}, {Name: "mta-sts.example.test", Addr: "192.0.2.2", State: "pending", Detail: "HTTP 404"}},
	}
	o.Event(workflow.Event{Kind: workflow.EventGate, Gate: g})
	o.Event(workflow.Event{Kind: workflow.EventGate, Gate: g}) // the same again is not repeated
	o.Event(workflow.Event{Kind: workflow.EventRefused, Refusal: &workflow.Refusal{Reason: "enforce would break mail", Details: []string{"mx2: no STARTTLS"}, Override: ""}})
	out := b.String()
	for _, want := range []string{
		"promote example.test", "testing, max_age 86400 -> enforce, max_age 86400 (id 20261129000000abcdefgh)",
		"the soak ended (open)", "- mode: testing", "+ mode: enforce", "- v=STSv1; id=old;",
		"192.0.2.2", "HTTP 404", "x refused: enforce would break mail", "- mx2: no STARTTLS",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	if strings.Count(out, "192.0.2.2") != 1 {
		t.Errorf("a repeated closed gate was printed twice:\n%s", out)
	}
	if strings.Contains(out, "\x1b[") {
		t.Errorf("escape sequences without colour:\n%q", out)
	}
}

// Times the engine gives are printed in UTC, and "(in …)" is counted from
// the engine's clock (the event's time, or Options.Now), never the real
// one: the demo's sandbox clock is months away from it.
func TestEventsTimesFollowTheEngineClock(t *testing.T) {
	sandboxNow := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	next := sandboxNow.Add(14 * 24 * time.Hour)
	var b strings.Builder
	o := NewEvents(&b, Options{Now: func() time.Time { return sandboxNow }})
	o.Event(workflow.Event{Time: sandboxNow, Kind: workflow.EventOutcome, Outcome: &workflow.Outcome{Status: workflow.StatusPending, Message: "the soak goes on", NextAt: &next}})
	o.Status(&workflow.StatusReport{Domain: "example.test", Stage: workflow.StageTesting, Ladder: "testing@86400", NextAt: &next})
	out := b.String()
	if strings.Count(out, "2030-01-15 00:00:00 UTC (in 14d)") != 2 {
		t.Errorf("want the gate's time in UTC and in 14d, twice:\n%s", out)
	}
}

// A blocked gate prints what answered what and where, the finding whose
// fix applies, and what senders hold meanwhile; its outcome gives the
// command to run once it is fixed and no time or countdown.
func TestEventsBlockedGate(t *testing.T) {
	now := time.Date(2030, 1, 16, 0, 0, 0, 0, time.UTC)
	poll := now.Add(5 * time.Second)
	g := &workflow.GateResult{
		Kind: workflow.GateServed, State: workflow.GateBlocked, NextAt: &poll,
		Reason:    "1 of 1 addresses of mta-sts.demo.test answer an error",
		Targets:   []workflow.TargetStatus{{Name: "mta-sts.demo.test", Addr: "127.0.0.1", State: workflow.StateFailed, Detail: "HTTP 404", Finding: "policy.http-status"}},
		Blockers:  []workflow.Blocker{{Name: "mta-sts.demo.test", Addr: "127.0.0.1", Answer: "HTTP 404", Finding: "policy.http-status"}},
		Meanwhile: &workflow.CachedPolicy{PolicyTerms: workflow.PolicyTerms{Mode: "enforce", MaxAge: 86400, MX: []string{"mx1.demo.test"}}, Until: now.Add(24 * time.Hour)},
	}
	var b strings.Builder
	o := NewEvents(&b, Options{Width: 200})
	o.Event(workflow.Event{Time: now, Kind: workflow.EventGate, Domain: "demo.test", Gate: g})
	o.Event(workflow.Event{Time: now, Kind: workflow.EventOutcome, Domain: "demo.test", Outcome: &workflow.Outcome{
		Domain: "demo.test", Workflow: workflow.Rollback, Status: workflow.StatusPending, Message: g.Reason, NextAt: &poll, Gate: g,
	}})
	out := b.String()
	for _, want := range []string{
		"served: blocked until fixed:",
		"- mta-sts.demo.test 127.0.0.1 answers HTTP 404 (fix: finding policy.http-status of stspilot check demo.test)",
		"meanwhile: a sender may hold enforce (mx mx1.demo.test), max_age 86400, until 2030-01-17T00:00:00Z, whatever you do",
		"blocked until fixed: fix it, then run stspilot rollback demo.test again, or add --wait to keep re-checking",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	if strings.Contains(out, "(in ") || strings.Contains(out, "run again after") {
		t.Errorf("a blocked gate has a countdown:\n%s", out)
	}
}

// Status names the command that finishes an interrupted change, and the
// command and flag of what blocks the next step.
func TestStatusNamesCommandsForCodes(t *testing.T) {
	var b strings.Builder
	o := NewEvents(&b, Options{Width: 200})
	o.Status(&workflow.StatusReport{
		Domain: "demo.test", Stage: workflow.StageBroken, Ladder: "testing@86400",
		Pending: &journal.Intent{Workflow: "rollback", Target: &journal.Policy{PolicyTerms: journal.PolicyTerms{Mode: "testing", MaxAge: 86400}, ID: "x1"}},
		Next:    workflow.Promote, NextStep: "blocked: an earlier rollback did not finish",
		Blocked: &workflow.Refusal{Code: workflow.CodeFinishInterrupted, Workflow: workflow.Rollback, Override: workflow.CodeAdoptLive},
	})
	out := b.String()
	for _, want := range []string{"stspilot rollback demo.test finishes it", "run      stspilot rollback demo.test", "accept   --adopt-live accepts the risk"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
}

// TestStatusShowsFoldedRunsAndJournalWarning: an entry that stands for
// many re-runs is one history line with its count, and a large journal
// is a warning line.
func TestStatusShowsFoldedRunsAndJournalWarning(t *testing.T) {
	var b strings.Builder
	o := NewEvents(&b, Options{Width: 200})
	first := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	o.Status(&workflow.StatusReport{
		Domain: "demo.test", Stage: workflow.StageAbsent, Ladder: "testing@86400",
		Journal: &workflow.JournalSize{Bytes: 600000, Limit: 1 << 20, Warning: "the journal is 600000 bytes"},
		History: []workflow.HistoryEntry{{Kind: "publish-policy", Status: "done", At: first.Add(999 * time.Minute), Count: 1000, FirstAt: first}},
	})
	out := b.String()
	for _, want := range []string{"journal  the journal is 600000 bytes", "2026-11-03 01:39:00  done"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	if !strings.Contains(out, "publish-policy (no change) (1000 runs since 2026-11-02 09:00:00)") || strings.Count(out, "publish-policy") != 1 {
		t.Errorf("history of a folded entry:\n%s", out)
	}
}

// TestEventsWrapStepLines: a plan's step lines and the line that starts a
// step wrap to the width like the gate and outcome lines below them, with
// their continuation lines under the text, never past the width.
func TestEventsWrapStepLines(t *testing.T) {
	long := "the 14d soak of testing@86400 (live since 2026-11-02T09:00:00Z, from the journal) ends at 2026-11-16T09:00:00Z (in 14d)"
	var b strings.Builder
	o := NewEvents(&b, Options{Width: 80})
	o.Event(workflow.Event{Kind: workflow.EventPlan, Plan: &workflow.Plan{
		Domain: "example.test", Zone: "example.test.", Workflow: workflow.Promote, Stage: workflow.StageTesting,
		Steps: []workflow.Step{{Kind: workflow.StepGate, Gate: workflow.GateWindow, Summary: long, Done: true}},
	}})
	o.Event(workflow.Event{Kind: workflow.EventStep, Step: &workflow.Step{Kind: workflow.StepGate, Gate: workflow.GateWindow, Summary: long}})
	out := b.String()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	for _, l := range lines {
		if len([]rune(l)) > 80 {
			t.Errorf("a line of %d columns:\n%s", len([]rune(l)), out)
		}
	}
	if len(lines) != 5 || !strings.HasPrefix(lines[1], "  1.  the 14d soak") || !strings.HasPrefix(lines[2], "      ") || !strings.HasSuffix(lines[2], "(in 14d) (open)") ||
		!strings.HasPrefix(lines[3], "-> the 14d soak") || !strings.HasPrefix(lines[4], "   ") {
		t.Errorf("step lines not wrapped under their text:\n%s", out)
	}
	if got := strings.Join(strings.Fields(out), " "); !strings.Contains(got, long+" (open)") || !strings.Contains(got, "-> "+long) {
		t.Errorf("words lost in wrapping:\n%s", out)
	}
}
