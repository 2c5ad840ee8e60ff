package tui

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/stspilot/stspilot/checks"
	"github.com/stspilot/stspilot/workflow"
)

// gateView is a closed gate as the wait screen shows it: waiting (it opens
// by itself, at a time or when a pending answer turns) or blocked (someone
// must fix something first: no countdown, the cause and the fix instead).
type gateView struct {
	kind    workflow.GateKind
	blocked bool
	// causes say what answered what at which address, one a line.
	causes []string
	// finding is the id of checks' finding whose fix applies.
	finding string
	// subjects are the names and addresses of the failing targets, to find
	// that finding in the live check.
	subjects []string
	// meanwhile is what senders hold whatever happens (nil: nothing).
	meanwhile *workflow.CachedPolicy
}

// classify reads a closed gate (docs/design.md "Waiting and blocked") from its
// state and blockers.
func classify(g *workflow.GateResult) gateView {
	if g == nil {
		return gateView{}
	}
	v := gateView{kind: g.Kind, blocked: g.State == workflow.GateBlocked, meanwhile: g.Meanwhile}
	for _, b := range g.Blockers {
		where := b.Name
		if b.Addr != "" {
			where += " at " + b.Addr
			v.subjects = append(v.subjects, b.Addr)
		}
		v.subjects = append(v.subjects, b.Name)
		what := b.Answer
		if strings.HasPrefix(what, "HTTP ") {
			what = "answers " + what
		}
		v.causes = append(v.causes, where+": "+what)
		if v.finding == "" {
			v.finding = b.Finding
		}
	}
	if v.blocked && len(v.causes) == 0 {
		v.causes = []string{g.Reason}
	}
	return v
}

// findingFor picks the live check's finding about a blocked gate: the one
// the gate names, about one of the failing targets if it can.
func findingFor(rep *checks.Report, v gateView) *checks.Finding {
	if rep == nil || !v.blocked || v.finding == "" {
		return nil
	}
	var first *checks.Finding
	for i := range rep.Findings {
		f := &rep.Findings[i]
		if f.ID != v.finding {
			continue
		}
		for _, s := range v.subjects {
			if strings.Contains(f.Subject, s) {
				return f
			}
		}
		if first == nil {
			first = f
		}
	}
	return first
}

// horizon says what senders hold whatever happens now: "" when nothing.
func horizon(c *workflow.CachedPolicy) string {
	if c == nil || c.Until.IsZero() {
		return ""
	}
	mx := ""
	if len(c.MX) > 0 {
		mx = " (mx " + strings.Join(c.MX, ", ") + ")"
	}
	return fmt.Sprintf("senders keep the cached %s policy%s until %s whatever you do", c.Mode, mx, stamp(c.Until))
}

// stamp prints an engine time in UTC to the minute.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// rfc3339UTC is a UTC timestamp as the engine writes it in its reasons.
var rfc3339UTC = regexp.MustCompile(`\b(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})(:\d{2}(\.\d+)?)?Z\b`)

// inCountdown is a countdown the engine wrote into a reason when it
// planned ("(in 13d 22h)"), stale a second later.
var inCountdown = regexp.MustCompile(` \(in [0-9][^()]*\)`)

// dropCountdown removes the engine's countdowns from a reason shown above
// the screen's own, which ticks: one time, one countdown.
func dropCountdown(text string) string { return inCountdown.ReplaceAllString(text, "") }

// stamps rewrites the engine's timestamps in text as stamp does, so that
// one screen never shows one time in two formats.
func stamps(text string) string { return rfc3339UTC.ReplaceAllString(text, "$1 $2 UTC") }

// lowers reports whether a plan lowers the mode senders may hold (the
// engine's marker), and from which mode to which.
func lowers(p *workflow.Plan) (from, to string, ok bool) {
	if p == nil || !p.Downgrade {
		return "", "", false
	}
	from = string(p.Stage)
	switch {
	case p.Risk != nil && p.Risk.OldMode != "":
		from = p.Risk.OldMode
	case p.Current != nil:
		from = p.Current.Mode
	}
	to = "no policy"
	if p.Target != nil {
		to = p.Target.Mode
	}
	return from, to, true
}

// worstLine is status's horizon for the dashboard: the worst case of what
// senders may hold, and until when.
func worstLine(c *workflow.CachedPolicy) string {
	if c == nil {
		return ""
	}
	return fmt.Sprintf("senders may hold %s@%d until %s", c.Mode, c.MaxAge, stamp(c.Until))
}
