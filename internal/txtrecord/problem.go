package txtrecord

import "fmt"

// Severities of a Problem.
const (
	// SevError: the RFC is broken; strict senders or reporters ignore or
	// reject the record or policy.
	SevError = "error"
	// SevWarn: the RFC allows it, but a named implementation trips on it, or
	// it is risky.
	SevWarn = "warn"
)

// Problem is one thing wrong with a record or policy, as the parsers of
// checks/mtasts (the _mta-sts record, the policy file) and checks/tlsrpt
// (the _smtp._tls record) report it: the rule it breaks (Rule), the 1-based
// policy line (Line, 0 for TXT records and whole-body problems), its
// Severity (SevError or SevWarn) and one user-facing sentence naming the
// offending text (Message). This package is its one home: both parsers
// return it as it is. Problem values are comparable, so callers may look
// them up with slices.Contains (as tlsrpt.SchemeProblems results are meant
// to be).
type Problem struct {
	Rule     string `json:"rule"`           // e.g. "STS-POL-3", "RPT-REC-4"
	Line     int    `json:"line,omitempty"` // 1-based policy line; 0 for TXT records / whole-body problems
	Severity string `json:"severity"`       // SevError or SevWarn
	Message  string `json:"message"`        // one user-facing sentence naming the offending text

	// Scheme marks a problem about a rua URI scheme (RPT-REC-4); only the
	// TLS-RPT record parser sets it.
	Scheme bool `json:"-"`
}

// String renders the problem on one line, e.g.
// `line 3: STS-POL-3 (error): empty line ...` or
// `RPT-REC-4 (error): "http://r.example/x" uses http: ...`.
func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("line %d: %s (%s): %s", p.Line, p.Rule, p.Severity, p.Message)
	}
	return fmt.Sprintf("%s (%s): %s", p.Rule, p.Severity, p.Message)
}

// Errors returns only the error-severity problems.
func Errors(ps []Problem) []Problem {
	var out []Problem
	for _, p := range ps {
		if p.Severity == SevError {
			out = append(out, p)
		}
	}
	return out
}
