package textout

import (
	"encoding/json"
	"io"
	"strings"

	"github.com/stspilot/stspilot/workflow/watch"
)

// WatchLine is the one human line of a watch event: when, the domain, what
// changed, the finding's severity, id and subject, and what was observed
// (for a cleared finding, what was last observed).
//
//	2026-12-06 12:00:00 UTC  example.com  appeared  error  mx.uncovered  mx2.example.com: mx2.example.com matches no mx pattern  [alert]
func WatchLine(e watch.Event) string {
	var b strings.Builder
	b.WriteString(stamp(e.At))
	b.WriteString("  ")
	b.WriteString(oneLine(e.Domain))
	b.WriteString("  ")
	b.WriteString(string(e.Change))
	b.WriteString("  ")
	switch e.Change {
	case watch.Changed:
		b.WriteString(string(e.Previous) + "->" + string(e.Finding.Severity))
	case watch.Cleared:
		b.WriteString("was " + string(e.Finding.Severity))
	default:
		b.WriteString(string(e.Finding.Severity))
	}
	b.WriteString("  ")
	b.WriteString(oneLine(e.Finding.ID))
	b.WriteString("  ")
	b.WriteString(oneLine(e.Finding.Subject))
	if e.Finding.Observed != "" {
		b.WriteString(": ")
		b.WriteString(oneLine(e.Finding.Observed))
	}
	if e.Alert {
		b.WriteString("  [alert]")
	}
	return b.String()
}

// WatchEvent writes e as one line: human (WatchLine) or, with asJSON, the
// stspilot.watch/v1 JSON line.
func WatchEvent(w io.Writer, e watch.Event, asJSON bool) error {
	if asJSON {
		line, err := json.Marshal(e)
		if err != nil {
			return err
		}
		_, err = w.Write(append(line, '\n'))
		return err
	}
	_, err := io.WriteString(w, WatchLine(e)+"\n")
	return err
}

// oneLine keeps a value from another system (a domain, an observation) on
// one line and free of the runes that could restyle, rewrite or reorder
// the terminal, as clean has them (isControl: C0 and C1 controls, DEL, the
// line separators, the bidirectional overrides and isolates): each
// becomes a space, and bytes that are not UTF-8 U+FFFD.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || isControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
}
