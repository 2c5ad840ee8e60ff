package tlsrpt

import (
	"fmt"

	"github.com/stspilot/stspilot/internal/txtrecord"
)

// SchemeProblems returns the problems about rua URI schemes (RPT-REC-4): a
// scheme other than mailto: and https: (http: included), a destination with
// no scheme at all (a bare address), and a scheme not written in lower case.
// Other RPT-REC-4 problems (an unencoded '!' or ';', a bad address or host)
// are not scheme problems.
func SchemeProblems(ps []txtrecord.Problem) []txtrecord.Problem {
	var out []txtrecord.Problem
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
	list    []txtrecord.Problem
	dropped int
	worst   string // worst severity among the dropped
	rule    string // rule of the first dropped problem
	scheme  bool   // a dropped problem was about a scheme
}

func (ps *problems) add(p txtrecord.Problem) {
	if len(ps.list) < maxProblems {
		ps.list = append(ps.list, p)
		return
	}
	if ps.dropped == 0 {
		ps.rule, ps.worst = p.Rule, p.Severity
	}
	if p.Severity == txtrecord.SevError {
		ps.worst = txtrecord.SevError
	}
	ps.scheme = ps.scheme || p.Scheme
	ps.dropped++
}

func (ps *problems) err(rule, format string, args ...any) {
	ps.add(txtrecord.Problem{Rule: rule, Severity: txtrecord.SevError, Message: fmt.Sprintf(format, args...)})
}

func (ps *problems) warn(rule, format string, args ...any) {
	ps.add(txtrecord.Problem{Rule: rule, Severity: txtrecord.SevWarn, Message: fmt.Sprintf(format, args...)})
}

// result returns the collected problems, with a summary of those left out.
func (ps *problems) result() []txtrecord.Problem {
	if ps.dropped == 0 {
		return ps.list
	}
	return append(ps.list, txtrecord.Problem{
		Rule:     ps.rule,
		Severity: ps.worst,
		Message:  fmt.Sprintf("%d more problems like these are not shown", ps.dropped),
		Scheme:   ps.scheme,
	})
}
