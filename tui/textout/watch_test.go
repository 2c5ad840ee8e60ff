package textout

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stspilot/stspilot/checks"
	"github.com/stspilot/stspilot/workflow"
	"github.com/stspilot/stspilot/workflow/watch"
)

// A watch line carries text from the network (what a check observed): it
// stays one line and nothing in it may restyle or reorder the terminal:
// not a C1 control (U+009B is CSI), not a bidirectional override, not
// bytes that are not UTF-8, as clean has it for every other renderer.
func TestWatchLineHostileText(t *testing.T) {
	hostile := "a\nb\r\x1b[2J\u009b31m\u202egnp.exe\u2066x\u2069\xff\x00c"
	e := watch.Event{
		At: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC), Change: watch.Appeared, Domain: "example.com",
		Finding: checks.Finding{ID: "mx.starttls-missing", Severity: checks.SevError, Subject: "mx." + hostile, Observed: hostile},
	}
	line := WatchLine(e)
	if !utf8.ValidString(line) {
		t.Errorf("not UTF-8: %q", line)
	}
	for _, r := range line {
		if isControl(r) || r == '\n' {
			t.Errorf("%U in %q", r, line)
		}
	}
	if !strings.Contains(line, "example.com  appeared  error  mx.starttls-missing  mx.a b") {
		t.Errorf("line: %q", line)
	}
}

// The horizon's mode and mx patterns are a policy's as a host served it
// (the ledger enters a policy found live as it was): status and a gate's
// meanwhile print them escaped, like every other text from the network.
func TestHorizonTextHostilePolicy(t *testing.T) {
	c := &workflow.CachedPolicy{
		PolicyTerms: workflow.PolicyTerms{Mode: "\x1b[2Jenforce", MaxAge: 86400, MX: []string{"mx.\x1b[31mexample.com", "mx2.example.com\u202e"}},
		Until:       time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC),
	}
	s := HorizonText(c)
	for _, r := range s {
		if isControl(r) || r == '\n' {
			t.Errorf("%U in %q", r, s)
		}
	}
	if !strings.Contains(s, `a sender may hold \x1b[2Jenforce (mx mx.\x1b[31mexample.com, mx2.example.com\u202e), max_age 86400`) {
		t.Errorf("text: %q", s)
	}
}

// The policy line of status (and of plans) shows the live policy's mode,
// as its host served it: escaped too.
func TestPolicyLabelHostileMode(t *testing.T) {
	s := PolicyLabel(&workflow.Policy{PolicyTerms: workflow.PolicyTerms{Mode: "\x1b[2Jenforce\u202e", MaxAge: 60}})
	if want := `\x1b[2Jenforce\u202e, max_age 60`; s != want {
		t.Errorf("%q, want %q", s, want)
	}
}
