package workflow

// Code names a refusal, an override or an input the engine needs, so
// that each front end renders it in its own terms (the command line's
// flag or command, the wizard's key); the engine writes no flag or
// command names into its messages.
type Code string

// Overrides: what the operator may accept (Refusal.Override) and the
// inputs of a Request they stand for.
const (
	// CodeAdoptLive: take the served policy as the new baseline
	// (Request.AdoptLive).
	CodeAdoptLive Code = "adopt-live"
	// CodeWithoutReports: promote without TLS-RPT evidence
	// (Request.WithoutReports).
	CodeWithoutReports Code = "without-reports"
	// CodeLastMaxAge: the operator gives the largest max_age ever
	// published (Request.LastMaxAge).
	CodeLastMaxAge Code = "last-max-age"
	// CodeKeepTLSRPT: teardown leaves the TLS-RPT record (Request.KeepTLSRPT).
	CodeKeepTLSRPT Code = "keep-tlsrpt"
	// CodeReports: a source of TLS-RPT reports (the evidence gate).
	CodeReports Code = "reports"
)

// Refusals (Refusal.Code) and usage errors (InputError.Code).
const (
	// CodeDrift: the served policy is not the one stspilot last published.
	CodeDrift Code = "drift"
	// CodeFinishInterrupted: an earlier run of Refusal.Workflow did not
	// finish; run that workflow first (or roll back).
	CodeFinishInterrupted Code = "finish-interrupted"
	// CodeRolloutFirst: nothing is live to promote; roll out first.
	CodeRolloutFirst Code = "rollout-first"
	// CodeFixOrRollback: the policy host is broken while senders may hold
	// an enforce policy: fix the host (Refusal.Finding) or roll back.
	CodeFixOrRollback Code = "fix-or-rollback"
	// CodeNoMX: the domain has no MX records.
	CodeNoMX Code = "no-mx"
	// CodeMXFails: enforce would make senders refuse mail to a failing MX.
	CodeMXFails Code = "mx-fails"
	// CodeEvidence: the TLS-RPT reports show failures, or none were found.
	CodeEvidence Code = "evidence"
	// CodeCacheWindow: a deletion inside the cache window (invariant 3).
	CodeCacheWindow Code = "cache-window"
	// CodeUnknownWindow: the cache window is unknown (teardown).
	CodeUnknownWindow Code = "unknown-window"
	// CodeRUA: rollout needs a TLS-RPT destination (Request.RUA).
	CodeRUA Code = "rua"
	// CodeMXPattern: an mx pattern of Request.MX is invalid.
	CodeMXPattern Code = "mx"
	// CodeTo: rollback's destination (Request.To) is not testing or none.
	CodeTo Code = "to"
)

// InputError is a request that cannot be planned as asked (a usage
// error, exit 2): Code names the input, the message says what is wrong
// without naming a flag. errors.Is(err, ErrUsage) holds.
type InputError struct {
	Code Code
	Msg  string
}

func (e *InputError) Error() string { return "usage: " + e.Msg }

// Unwrap makes an InputError an ErrUsage.
func (e *InputError) Unwrap() error { return ErrUsage }

// refusalOfGate is the refusal code of a closed gate evaluated while
// planning.
func refusalOfGate(k GateKind) Code {
	if k == GateLive {
		return CodeMXFails
	}
	return CodeEvidence
}
