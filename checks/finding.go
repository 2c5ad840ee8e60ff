// Package checks is stspilot's live diagnosis: it runs the DNS, HTTPS and SMTP
// probes of a domain in parallel, reads what they saw through the pure protocol
// models (checks/mtasts, checks/tlsrpt) and turns every problem into a Finding
// from the catalogue in docs/design.md.
//
// The sub-packages never import this one: probes return observations, the
// protocol models return problems with rule ids, and only this package knows
// findings.
package checks

// Severity of a finding. Only errors make `check` exit 4.
type Severity string

// The severities, most severe first.
const (
	SevError Severity = "error"
	SevWarn  Severity = "warn"
	SevInfo  Severity = "info"
)

// rank orders severities, most severe first.
func (s Severity) rank() int {
	switch s {
	case SevError:
		return 0
	case SevWarn:
		return 1
	default:
		return 2
	}
}

// Finding is one thing wrong (or worth knowing) about a domain's deployment.
// The JSON names are part of the versioned schema in docs/json.md.
type Finding struct {
	ID       string   `json:"id"`
	Severity Severity `json:"severity"`
	Area     string   `json:"area"`
	Subject  string   `json:"subject"`
	Observed string   `json:"observed"`
	Why      string   `json:"why"`
	Senders  []string `json:"senders,omitempty"`
	Fix      string   `json:"fix"`
	Rules    []string `json:"rules,omitempty"`
	// ResultType is the RFC 8460 result-type a reporting sender would put in
	// its TLS-RPT report for this problem ("" when none applies).
	ResultType string `json:"result_type,omitempty"`
	// Action is what stspilot itself can do about the finding, beside
	// Fix's words (nil when the fix is outside stspilot: a server, a
	// certificate). Front ends render it: the command line prints the
	// command, the wizard offers the key.
	Action *Action `json:"action,omitempty"`
}

// Action is a typed fix: exactly one of its fields is set.
type Action struct {
	// Workflow names the staged workflow that fixes the finding: rollout,
	// promote, rollback or teardown (the workflow package's names).
	Workflow string `json:"workflow,omitempty"`
	// Record is the exact DNS record to publish in place of what is there.
	Record *ActionRecord `json:"record,omitempty"`
}

// ActionRecord is one DNS record, as a zone holds it.
type ActionRecord struct {
	Name  string `json:"name"`  // owner name, no trailing dot
	Type  string `json:"type"`  // "TXT"
	Value string `json:"value"` // the record's text, strings joined
}

// The workflows an Action may name.
const (
	ActionRollout  = "rollout"
	ActionTeardown = "teardown"
)

func workflowAction(wf string) *Action { return &Action{Workflow: wf} }

func txtAction(name, value string) *Action {
	return &Action{Record: &ActionRecord{Name: name, Type: "TXT", Value: value}}
}
