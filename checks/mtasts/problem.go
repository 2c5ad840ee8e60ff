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

// q quotes offending text for a message (shared with the other TXT parser).
var q = txtrecord.Quote

// problems collects Problems; its methods keep call sites short.
type problems []txtrecord.Problem

func (ps *problems) add(sev, rule string, line int, format string, args ...any) {
	*ps = append(*ps, txtrecord.Problem{Rule: rule, Line: line, Severity: sev, Message: fmt.Sprintf(format, args...)})
}

func (ps *problems) err(rule string, line int, format string, args ...any) {
	ps.add(txtrecord.SevError, rule, line, format, args...)
}

func (ps *problems) warn(rule string, line int, format string, args ...any) {
	ps.add(txtrecord.SevWarn, rule, line, format, args...)
}
