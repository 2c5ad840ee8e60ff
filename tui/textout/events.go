package textout

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/stspilot/stspilot/internal/duration"
	"github.com/stspilot/stspilot/workflow"
	"github.com/stspilot/stspilot/workflow/serve"
)

// EventSchema names the JSON-lines schema of workflow events (docs/json.md).
// v2:
// durations are integer seconds (risk.old_txt_ttl, risk.old_max_age were
// Go durations in nanoseconds), refusals carry codes, gates a state.
const EventSchema = "stspilot.event/v2"

// Events renders the workflow engine's events as text for people: the
// plan, each step as it runs, the gates with their per-address results,
// what the operator must do by hand, and the outcome. It implements
// workflow.Observer and is safe for concurrent use.
type Events struct {
	mu sync.Mutex
	h  *Human
	w  io.Writer
	// lastGate keeps repeated identical gate lines of --wait from flooding.
	lastGate string
}

// NewEvents writes to w with the looks of opt.
func NewEvents(w io.Writer, opt Options) *Events {
	return &Events{h: NewHuman(w, opt), w: w}
}

// Event renders one event.
func (o *Events) Event(e workflow.Event) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var b strings.Builder
	h := o.h
	switch e.Kind {
	case workflow.EventPlan:
		o.plan(&b, e.Plan)
	case workflow.EventStep:
		h.prose(&b, 0, h.st.bold(o.arrow())+" ", e.Step.Summary, nil)
	case workflow.EventStepDone:
		fmt.Fprintf(&b, "    %s %s\n", h.st.ok(o.check()), "done")
	case workflow.EventStepSkip:
		fmt.Fprintf(&b, "    %s %s\n", h.st.dim("="), h.st.dim("already in place, nothing written"))
	case workflow.EventGate:
		o.gate(&b, e)
	case workflow.EventWait:
		fmt.Fprintf(&b, "    %s waiting until %s, then checking again\n", h.st.dim("…"), stamp(*e.NextAt))
	case workflow.EventWarning:
		h.prose(&b, 0, h.st.warn(o.bang())+" ", e.Message, nil)
	case workflow.EventManual:
		fmt.Fprintf(&b, "\n%s\n", h.st.bold("Your turn:"))
		for _, l := range strings.Split(strings.TrimRight(e.Message, "\r\n"), "\n") {
			fmt.Fprintf(&b, "    %s\n", h.st.code(strings.TrimRight(l, "\r")))
		}
		b.WriteString("\n")
	case workflow.EventRisk:
		h.prose(&b, 0, h.st.warn("risk window: "), e.Message, nil)
	case workflow.EventRefused:
		o.refusal(&b, e.Refusal, e.Domain)
	case workflow.EventOutcome:
		now := e.Time // the engine's clock
		if now.IsZero() {
			now = h.clock()
		}
		o.outcome(&b, e.Outcome, now)
	case workflow.EventJournal, workflow.EventProgress:
		// journal writes and raw progress are for JSON and the wizard
	}
	_, _ = io.WriteString(o.w, b.String()) // an Observer has no error to return
}

func (o *Events) arrow() string { return o.h.glyph("→", "->") }

func (o *Events) check() string { return o.h.glyph("✓", "ok") }

func (o *Events) cross() string { return o.h.glyph("✗", "x") }

func (o *Events) bang() string { return "!" }

// PolicyLabel names a policy in a few words ("testing, max_age 86400").
func PolicyLabel(p *workflow.Policy) string {
	if p == nil {
		return "no policy"
	}
	return fmt.Sprintf("%s, max_age %d", cleanLine(p.Mode), p.MaxAge) // the mode as a host served it
}

func (o *Events) plan(b *strings.Builder, p *workflow.Plan) {
	if p == nil {
		return
	}
	h := o.h
	fmt.Fprintf(b, "%s %s  %s\n", h.st.bold(string(p.Workflow)), h.st.bold(p.Domain), h.st.dim("stage "+string(p.Stage)+", zone "+strings.TrimSuffix(p.Zone, ".")))
	if p.Nothing || p.Refusal != nil {
		if p.Nothing {
			h.prose(b, 2, "", p.Reason, nil)
		}
		return
	}
	if p.Target != nil {
		fmt.Fprintf(b, "  %s -> %s (id %s)\n", PolicyLabel(p.Current), h.st.bold(PolicyLabel(p.Target)), p.Target.ID)
	}
	if p.Reason != "" {
		h.prose(b, 2, "", p.Reason, nil)
	}
	for i, s := range p.Steps {
		mark := fmt.Sprintf("%-3s ", fmt.Sprintf("%d.", i+1))
		text := s.Summary
		switch {
		case s.Done && s.Kind.IsGate():
			text += h.st.dim(" (open)")
		case s.Done:
			text += h.st.dim(" (already done)")
		}
		var style func(string) string
		if s.Destructive && !s.Done {
			style = h.st.err
		}
		// Wrapped to the width, continuation lines under the text.
		h.prose(b, 2, mark, text, style)
		if s.Kind.ShowsPolicy() && !s.Done {
			o.diff(b, s.Before, s.After)
		} else if !s.Kind.IsGate() && !s.Done && (s.After != "" || s.Before != "") {
			if s.Before != "" {
				fmt.Fprintf(b, "        %s %s\n", h.st.err("-"), s.Before)
			}
			if s.After != "" {
				fmt.Fprintf(b, "        %s %s %s\n", h.st.ok("+"), s.Name, h.st.code(quoteRecord(s.After)))
			}
		}
	}
}

// diff shows the policy change line by line, in order (PolicyDiff).
func (o *Events) diff(b *strings.Builder, before, after string) {
	h := o.h
	for _, d := range PolicyDiff(before, after) {
		switch d.Op {
		case '-':
			fmt.Fprintf(b, "        %s %s\n", h.st.err("-"), d.Text)
		case '+':
			fmt.Fprintf(b, "        %s %s\n", h.st.ok("+"), d.Text)
		default:
			fmt.Fprintf(b, "          %s\n", d.Text)
		}
	}
}

// DiffLine is one line of a policy diff: Op is '-', '+' or ' '.
type DiffLine struct {
	Op   byte
	Text string
}

// PolicyDiff compares two policy texts line by line (CRLF or LF): a
// longest common subsequence of the lines, removed lines before added
// ones. The text output and the wizard show the same diff.
func PolicyDiff(before, after string) []DiffLine {
	return lineDiff(lines(before), lines(after))
}

// lineDiff is a plain LCS diff; policies are a handful of lines.
func lineDiff(a, b []string) []DiffLine {
	n, m := len(a), len(b)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out []DiffLine
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			out = append(out, DiffLine{' ', a[i]})
			i, j = i+1, j+1
		case j == m || i < n && lcs[i+1][j] >= lcs[i][j+1]:
			out = append(out, DiffLine{'-', a[i]})
			i++
		default:
			out = append(out, DiffLine{'+', b[j]})
			j++
		}
	}
	return out
}

func lines(s string) []string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func (o *Events) gate(b *strings.Builder, e workflow.Event) {
	g, h := e.Gate, o.h
	if g == nil {
		return
	}
	key := fmt.Sprintf("%s|%v|%s", g.Kind, g.Open, g.Reason)
	if key == o.lastGate && !g.Open {
		return
	}
	o.lastGate = key
	mark := h.st.ok(o.check())
	if !g.Open {
		mark = h.st.warn("…")
	}
	if g.State == workflow.GateBlocked {
		// Blocked: what answered what, where, and the fix; no countdown.
		h.prose(b, 4, h.st.err(o.cross())+" "+string(g.Kind)+": ", "blocked until fixed: "+g.Reason, nil)
		for _, bl := range g.Blockers {
			where := bl.Name
			if bl.Addr != "" {
				where += " " + bl.Addr
			}
			line := where + " answers " + bl.Answer
			if bl.Finding != "" {
				line += " (fix: finding " + bl.Finding + " of " + h.st.code(Command("check", e.Domain)) + ")"
			}
			h.prose(b, 8, "- ", line, nil)
		}
		if g.Meanwhile != nil {
			h.prose(b, 8, h.st.warn("meanwhile: "), HorizonText(g.Meanwhile)+", whatever you do", nil)
		}
		return
	}
	h.prose(b, 4, mark+" "+string(g.Kind)+": ", g.Reason, nil)
	if len(g.Targets) > 1 || !g.Open {
		for _, t := range g.Targets {
			st := h.st.ok(t.State)
			if t.State != workflow.StateOK {
				st = h.st.warn(t.State)
			}
			addr := t.Addr
			if addr == "" {
				addr = "-"
			}
			fmt.Fprintf(b, "        %-28s %-16s %s %s\n", t.Name, addr, st, h.st.dim(t.Detail))
		}
	}
}

func (o *Events) refusal(b *strings.Builder, r *workflow.Refusal, domain string) {
	if r == nil {
		return
	}
	h := o.h
	h.prose(b, 0, h.st.err(o.cross()+" refused: "), r.Reason, nil)
	for _, d := range r.Details {
		h.prose(b, 4, "- ", d, nil)
	}
	if r.Workflow != "" && domain != "" {
		fmt.Fprintf(b, "  next: %s\n", h.st.code(Command(r.Workflow, domain)))
	}
	if f := Flag(r.Override); f != "" {
		fmt.Fprintf(b, "  to accept the risk: %s\n", h.st.code(f))
	}
}

func (o *Events) outcome(b *strings.Builder, out *workflow.Outcome, now time.Time) {
	if out == nil {
		return
	}
	h := o.h
	switch out.Status {
	case workflow.StatusDone:
		h.prose(b, 0, h.st.ok(o.check()+" "), out.Message, nil)
	case workflow.StatusNothing:
		h.prose(b, 0, h.st.ok("= "), "nothing to do: "+out.Message, nil)
	case workflow.StatusPending:
		next := ""
		switch {
		case out.Gate != nil && out.Gate.State == workflow.GateBlocked:
			// A blocked gate has no time to come back at: only a fix opens it.
			next = fmt.Sprintf("; blocked until fixed: fix it, then run %s again, or add --wait to keep re-checking", Command(out.Workflow, out.Domain))
		case out.NextAt != nil:
			next = fmt.Sprintf("; run again after %s (in %s), or add --wait", stamp(*out.NextAt), In(out.NextAt.Sub(now)))
		}
		h.prose(b, 0, h.st.warn("pending: "), out.Message+next, nil)
	case workflow.StatusRefused:
		// the refused event said it
	case workflow.StatusFailed:
		h.prose(b, 0, h.st.err(o.cross()+" failed: "), out.Message+": "+out.Error, nil)
	}
}

// EventJSON writes each event as one JSON object per line, with the schema
// name, for runbooks (`--json`). It is safe for concurrent use.
type EventJSON struct {
	mu  sync.Mutex
	enc *json.Encoder
}

// NewEventJSON writes to w.
func NewEventJSON(w io.Writer) *EventJSON {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return &EventJSON{enc: enc}
}

type jsonEvent struct {
	Schema string `json:"schema"`
	workflow.Event
}

// Event writes e as one line.
func (j *EventJSON) Event(e workflow.Event) {
	j.mu.Lock()
	defer j.mu.Unlock()
	_ = j.enc.Encode(jsonEvent{Schema: EventSchema, Event: e})
}

// Status writes a status report for people.
func (o *Events) Status(st *workflow.StatusReport) {
	o.mu.Lock()
	defer o.mu.Unlock()
	h := o.h
	var b strings.Builder
	fmt.Fprintf(&b, "%s  %s\n", h.st.bold(st.Domain), h.stageStyle(st.Stage)(string(st.Stage)))
	if st.Policy != nil {
		since := ""
		if st.LiveSince != nil {
			since = fmt.Sprintf(", live since %s", st.LiveSince.UTC().Format(time.RFC3339))
		}
		rung := "off the ladder"
		if st.Rung >= 0 {
			rung = fmt.Sprintf("rung %d", st.Rung+1)
		}
		fmt.Fprintf(&b, "  policy   %s, id %s (%s%s)\n", PolicyLabel(st.Policy), st.Policy.ID, rung, since)
	}
	fmt.Fprintf(&b, "  ladder   %s\n", st.Ladder)
	if st.Pending != nil {
		h.prose(&b, 2, "pending  ", fmt.Sprintf("a %s started %s did not finish (target %s, id %s): %s finishes it", st.Pending.Workflow, st.Pending.StartedAt.UTC().Format(time.RFC3339), PolicyLabel(st.Pending.Target), st.Pending.Target.ID, Command(workflow.Workflow(st.Pending.Workflow), st.Domain)), h.st.warn)
	}
	if st.Teardown != nil && !st.Teardown.NoneSince.IsZero() {
		fmt.Fprintf(&b, "  teardown mode none live since %s; records may go at %s\n", st.Teardown.NoneSince.UTC().Format(time.RFC3339), st.Teardown.NoneSince.Add(duration.Seconds(st.Teardown.LastMaxAge)).UTC().Format(time.RFC3339))
	}
	if hz := st.Horizon; hz != nil && hz.Worst != nil {
		h.prose(&b, 2, "horizon  ", HorizonText(hz.Worst), nil)
	}
	next := st.NextStep
	if st.Next != "" {
		next = string(st.Next) + ": " + next
	}
	if m := st.MXMigration; m != nil {
		h.prose(&b, 2, "mx       ", fmt.Sprintf("migrating from %s to %s: %s --to %s continues it", strings.Join(m.From, ", "), strings.Join(m.To, ", "), Command(workflow.MXMigrate, st.Domain), mxToFlag(m.To)), nil)
	}
	if next != "" {
		h.prose(&b, 2, "next     ", next, nil)
	}
	if r := st.Blocked; r != nil {
		// The codes of what blocks the next step, as commands and flags.
		if r.Workflow != "" {
			h.prose(&b, 2, "run      ", Command(r.Workflow, st.Domain), nil)
		}
		if f := Flag(r.Override); f != "" {
			h.prose(&b, 2, "accept   ", f+" accepts the risk", nil)
		}
	}
	if st.NextAt != nil {
		fmt.Fprintf(&b, "  opens    %s (in %s)\n", stamp(*st.NextAt), In(st.NextAt.Sub(h.clock())))
	}
	if len(st.Findings) > 0 {
		fmt.Fprintf(&b, "  findings %d errors, %d warnings (stspilot check %s for details)\n", st.Errors, len(st.Findings)-st.Errors, st.Domain)
		for _, f := range st.Findings {
			h.prose(&b, 4, h.sevStyle(f.Severity)(string(f.Severity))+" ", f.ID+": "+f.Observed, nil)
		}
	}
	if lf := st.Fetchers; lf != nil {
		h.prose(&b, 2, "fetched  ", FetchersText(lf), nil)
	}
	if js := st.Journal; js != nil && js.Warning != "" {
		h.prose(&b, 2, "journal  ", js.Warning, h.st.warn)
	}
	if len(st.History) > 0 {
		b.WriteString("  history\n")
		for _, e := range st.History {
			if e.Status == workflow.EntryPending {
				continue
			}
			what := string(e.Kind)
			if e.PolicyID != "" {
				what += " id " + e.PolicyID
			}
			if !e.Changed && e.Status == workflow.EntryDone {
				what += " (no change)"
			}
			if e.Error != "" {
				what += ": " + e.Error
			}
			if e.Count > 1 {
				what += fmt.Sprintf(" (%d runs since %s)", e.Count, e.FirstAt.UTC().Format("2006-01-02 15:04:05"))
			}
			fmt.Fprintf(&b, "    %s  %-7s %s\n", e.At.UTC().Format("2006-01-02 15:04:05"), e.Status, what)
		}
	}
	_, _ = io.WriteString(o.w, b.String()) // an Observer has no error to return
}

// stamp prints a time the engine gave, in UTC: the same on every machine,
// and the zone the journal and the JSON use.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

// In prints how long until something for people ("14d", "3h 20m",
// "4m 10s", internal/duration's form); "now" for zero or less.
func In(d time.Duration) string {
	if d <= 0 {
		return "now"
	}
	return duration.Format(d)
}

// FetchersText says which senders fetched the live id, from serve's access
// log, or why that is not known (status's line, which names the flag).
func FetchersText(lf *workflow.LiveFetchers) string {
	switch {
	case lf.Log == "":
		return "no serve access log configured (access_log in the config file, or --access-log): which senders fetched id " + lf.ID + " is not known"
	case lf.Error != "":
		return "serve's access log could not be read: " + lf.Error
	case len(lf.Senders) == 0:
		return "no sender has fetched id " + lf.ID + " from serve since it was published (" + lf.Log + ")"
	}
	return "id " + lf.ID + " since it was published: " + senderCounts(lf)
}

// FetchersBrief is FetchersText for the wizard's dashboard, beside the
// live id: short, and naming the config key, never a flag.
func FetchersBrief(lf *workflow.LiveFetchers) string {
	switch {
	case lf.Log == "":
		return "not known: no serve access log configured (config key access_log)"
	case lf.Error != "":
		return "not known: " + lf.Error
	case len(lf.Senders) == 0:
		return "no sender since it went live (" + lf.Log + ")"
	}
	return senderCounts(lf) + " since it went live"
}

// senderCounts lists the classes that fetched, in serve's label order
// ("google 2, microsoft 1").
func senderCounts(lf *workflow.LiveFetchers) string {
	names := make([]string, 0, len(lf.Senders))
	for _, c := range serve.SenderClasses() {
		if n, ok := lf.Senders[c.String()]; ok {
			names = append(names, fmt.Sprintf("%s %d", c, n))
		}
	}
	out := strings.Join(names, ", ")
	if lf.Truncated {
		out += " (the end of a large log only)"
	}
	return out
}

// mxToFlag renders a migration's target set ("10 mx1.example.") as the
// value of mx-migrate's --to ("mx1.example:10").
func mxToFlag(to []string) string {
	var out []string
	for _, l := range to {
		pref, host, _ := strings.Cut(l, " ")
		out = append(out, strings.TrimSuffix(host, ".")+":"+pref)
	}
	return strings.Join(out, ",")
}
