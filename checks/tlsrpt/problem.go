package tlsrpt

import (
	"fmt"

	"github.com/stspilot/stspilot/internal/txtrecord"
)

// Severities of a Problem.
const (
	// SevError: the RFC is broken; compliant reporters ignore the record or the
	// destination, so no reports arrive.
	SevError = txtrecord.SevError
	// SevWarn: the RFC allows it, but a named implementation trips on it, or it
	// is risky.
	SevWarn = txtrecord.SevWarn
)

// Problem is one thing wrong with a record, with the rule it breaks (Rule,
// e.g. "RPT-REC-4"), its Severity (SevError or SevWarn) and one user-facing
// sentence naming the offending text (Message); Scheme marks a problem about
// a URI scheme (see SchemeProblems). Its String renders it on one line, e.g.
// `RPT-REC-4 (error): "http://r.example/x" uses http: ...`. It is the
// Problem of the MTA-STS parser too; Line is always 0 here.
//
// Problem values are comparable, so callers may look them up with
// slices.Contains (as SchemeProblems results are meant to be).
type Problem = txtrecord.Problem

// Errors returns only the error-severity problems.
func Errors(ps []Problem) []Problem { return txtrecord.Errors(ps) }

// SchemeProblems returns the problems about rua URI schemes (RPT-REC-4): a
// scheme other than mailto: and https: (http: included), a destination with
// no scheme at all (a bare address), and a scheme not written in lower case.
// Other RPT-REC-4 problems (an unencoded '!' or ';', a bad address or host)
// are not scheme problems.
func SchemeProblems(ps []Problem) []Problem {
	var out []Problem
	for _, p := range ps {
		if p.Scheme {
			out = append(out, p)
		}
	}
	return out
}

// q quotes offending text for a message (shared with the other TXT parser).
var q = txtrecord.Quote

// maxProblems caps how many problems one record yields, so that a 64 KiB
// record of broken URIs gives a readable list. What is left out is summed up
// in one last problem.
const maxProblems = 32

// problems collects Problems; its methods keep call sites short.
type problems struct {
	list    []Problem
	dropped int
	worst   string // worst severity among the dropped
	rule    string // rule of the first dropped problem
	scheme  bool   // a dropped problem was about a scheme
}

func (ps *problems) add(p Problem) {
	if len(ps.list) < maxProblems {
		ps.list = append(ps.list, p)
		return
	}
	if ps.dropped == 0 {
		ps.rule, ps.worst = p.Rule, p.Severity
	}
	if p.Severity == SevError {
		ps.worst = SevError
	}
	ps.scheme = ps.scheme || p.Scheme
	ps.dropped++
}

func (ps *problems) err(rule, format string, args ...any) {
	ps.add(Problem{Rule: rule, Severity: SevError, Message: fmt.Sprintf(format, args...)})
}

func (ps *problems) warn(rule, format string, args ...any) {
	ps.add(Problem{Rule: rule, Severity: SevWarn, Message: fmt.Sprintf(format, args...)})
}

// result returns the collected problems, with a summary of those left out.
func (ps *problems) result() []Problem {
	if ps.dropped == 0 {
		return ps.list
	}
	return append(ps.list, Problem{
		Rule:     ps.rule,
		Severity: ps.worst,
		Message:  fmt.Sprintf("%d more problems like these are not shown", ps.dropped),
		Scheme:   ps.scheme,
	})
}
