// Package mtasts is the pure model of MTA-STS (RFC 8461): the _mta-sts TXT
// record, the policy body, mx patterns and the id scheme of stspilot. It does
// no I/O. Every problem it reports names the rule it breaks, by the ids of
// docs/rules.md (STS-TXT-*, STS-POL-*, STS-SEND-9).
//
// The parsers are strict: they follow the RFC's grammar and flag, as
// warnings, what the RFC allows but a named implementation trips over. They
// never stop at the first problem, and they still return what they could read
// so that callers can show it and propose a corrected form (see Render).
package mtasts

import (
	"fmt"

	"github.com/stspilot/stspilot/internal/txtrecord"
)

// Severities of a Problem.
const (
	// SevError: the RFC is broken; strict senders ignore or reject the record
	// or policy.
	SevError = txtrecord.SevError
	// SevWarn: the RFC allows it, but a named implementation trips on it, or it
	// is risky.
	SevWarn = txtrecord.SevWarn
)

// Problem is one thing wrong with a record or policy, with the rule it
// breaks (Rule, e.g. "STS-POL-3"), the 1-based policy line (Line, 0 for TXT
// records and whole-body problems), its Severity (SevError or SevWarn) and
// one user-facing sentence naming the offending text (Message). Its String
// renders it on one line, e.g. `line 3: STS-POL-3 (error): empty line ...`.
// It is the Problem of the TLS-RPT parser too.
type Problem = txtrecord.Problem

// Errors returns only the error-severity problems.
func Errors(ps []Problem) []Problem { return txtrecord.Errors(ps) }

// q quotes offending text for a message (shared with the other TXT parser).
var q = txtrecord.Quote

// problems collects Problems; its methods keep call sites short.
type problems []Problem

func (ps *problems) add(sev, rule string, line int, format string, args ...any) {
	*ps = append(*ps, Problem{Rule: rule, Line: line, Severity: sev, Message: fmt.Sprintf(format, args...)})
}

func (ps *problems) err(rule string, line int, format string, args ...any) {
	ps.add(SevError, rule, line, format, args...)
}

func (ps *problems) warn(rule string, line int, format string, args ...any) {
	ps.add(SevWarn, rule, line, format, args...)
}
