package workflow

import (
	"fmt"
	"time"

	"github.com/stspilot/stspilot/checks"
	"github.com/stspilot/stspilot/internal/duration"
)

// Workflow names a staged workflow of docs/design.md.
type Workflow string

// The four workflows.
const (
	Rollout  Workflow = "rollout"  // absent -> testing and a TLS-RPT record
	Promote  Workflow = "promote"  // next rung of the ladder
	Rollback Workflow = "rollback" // back to testing (or none), no soak gates
	Teardown Workflow = "teardown" // none -> wait out caches -> remove the records
	// MXMigrate changes the MX set under a live policy (widen, window,
	// switch, drain, narrow).
	MXMigrate Workflow = "mx-migrate"
)

// ParseWorkflow accepts the workflow names.
func ParseWorkflow(s string) (Workflow, error) {
	switch w := Workflow(s); w {
	case Rollout, Promote, Rollback, Teardown, MXMigrate:
		return w, nil
	}
	return "", fmt.Errorf("unknown workflow %q (want rollout, promote, rollback, teardown or mx-migrate)", s)
}

// Stage is where a domain stands (docs/design.md "Stages"): checks' typed
// stage, the one vocabulary of live state, plans and the journal.
type Stage = checks.Stage

// The stages, as package checks names them.
const (
	StageAbsent  = checks.StageAbsent
	StageTesting = checks.StageTesting
	StageEnforce = checks.StageEnforce
	StageNone    = checks.StageNone
	StageBroken  = checks.StageBroken
)

// Step is one entry of a plan: a change or a gate.
type Step struct {
	// ID is stable for the same plan ("3-set-sts"), used in the journal.
	ID      string   `json:"id"`
	Kind    StepKind `json:"kind"`
	Gate    GateKind `json:"gate,omitempty"`
	Summary string   `json:"summary"`
	// Name is the DNS name or the URL the step changes.
	Name string `json:"name,omitempty"`
	// Before and After are the record or file before and after the step.
	Before string `json:"before,omitempty"`
	After  string `json:"after,omitempty"`
	// Destructive steps delete something; the wizard and the prompt say
	// "no undo" for them.
	Destructive bool `json:"destructive,omitempty"`
	// Skip names the option that leaves this step out ("" when none), e.g.
	// CodeKeepTLSRPT.
	Skip Code `json:"skip,omitempty"`
	// Done is set when live state already holds the step's result.
	Done bool `json:"done,omitempty"`

	// target is the policy change the step belongs to when a plan makes
	// more than one (mx-migrate); nil: the plan's Target.
	target *Policy
	// mx: a published gate over the domain's MX RRset (mx-migrate).
	mx bool
}

// Plan is what a workflow will do now, step by step, each with its gate.
type Plan struct {
	Domain   string   `json:"domain"`
	Zone     string   `json:"zone"`
	Workflow Workflow `json:"workflow"`
	Stage    Stage    `json:"stage"`
	// Current is the live policy (nil when none is served); Target the one
	// the plan publishes (nil when it publishes none).
	Current *Policy `json:"current,omitempty"`
	Target  *Policy `json:"target,omitempty"`
	// RUA holds the TLS-RPT destinations the plan sets, nil when it sets
	// none (the set-tlsrpt step writes them as one record).
	RUA []string `json:"-"`
	// Rung is the ladder position of Target (-1 for none or off-ladder).
	Rung int `json:"rung"`
	// Downgrade is set when the plan lowers the mode senders may hold
	// (enforce to testing, anything to none): front ends say so in its
	// title.
	Downgrade bool     `json:"downgrade,omitempty"`
	Steps     []Step   `json:"steps"`
	Warnings  []string `json:"warnings,omitempty"`
	// Gates are the gates evaluated while planning (live, window, evidence).
	Gates []GateResult `json:"gates,omitempty"`
	// Refusal is set when the workflow must not run (exit 5).
	Refusal *Refusal `json:"refusal,omitempty"`
	// Risk is set for rollback: how long senders may still use the old policy.
	Risk *RiskWindow `json:"risk,omitempty"`
	// Nothing is set when live state already is the workflow's end.
	Nothing bool   `json:"nothing_to_do,omitempty"`
	Reason  string `json:"reason,omitempty"`
	// PlannedAt is when the plan was made.
	PlannedAt time.Time `json:"planned_at"`
	// Live is the check the plan was made from (not part of the JSON plan;
	// status shows its findings).
	Live *checks.Report `json:"-"`

	// mx is the mx-migrate workflow's part of the plan.
	mx *mxPlan
}

// Changes reports whether the plan changes anything.
func (p *Plan) Changes() bool {
	for _, s := range p.Steps {
		if s.Kind != StepGate && !s.Done {
			return true
		}
	}
	return false
}

// Destructive reports whether a step of the plan deletes something.
func (p *Plan) Destructive() bool {
	for _, s := range p.Steps {
		if s.Destructive && !s.Done {
			return true
		}
	}
	return false
}

// Refusal explains why a step would break mail (exit 5).
type Refusal struct {
	// Code says which refusal this is (CodeDrift, CodeFinishInterrupted, ...).
	Code   Code   `json:"code"`
	Reason string `json:"reason"`
	// Details list what was found (findings, addresses).
	Details []string `json:"details,omitempty"`
	// Override is the override that accepts the risk (CodeAdoptLive, ...),
	// "" when nothing can; front ends render it as their flag or key.
	Override Code `json:"override,omitempty"`
	// Workflow is the workflow to run first (CodeFinishInterrupted,
	// CodeRolloutFirst, CodeFixOrRollback), "" when none.
	Workflow Workflow `json:"workflow,omitempty"`
	// Finding is the id of checks' finding whose fix applies, "" when none.
	Finding string `json:"finding,omitempty"`
}

func (r *Refusal) Error() string { return "refused: " + r.Reason }

// RiskWindow is how long senders may keep using an old policy after a
// rollback: resolvers may hold the old TXT record for its TTL, and senders
// that ignore ids (tlspol, STS-SEND-5) may keep the old policy until its
// max_age runs out.
//
// The policy part is the horizon's worst case (Horizon): what senders may
// hold, not what is served now.
type RiskWindow struct {
	// OldTXTTTL is the TTL in seconds of the _mta-sts record replaced.
	OldTXTTTL int64 `json:"old_txt_ttl"`
	// OldMaxAge, OldMode and OldMX describe the worst policy senders may
	// hold (max_age in seconds).
	OldMaxAge int64    `json:"old_max_age"`
	OldMode   string   `json:"old_mode"`
	OldMX     []string `json:"old_mx,omitempty"`
	// TXTUntil and PolicyUntil are when each part of the window ends.
	TXTUntil    time.Time `json:"txt_until"`
	PolicyUntil time.Time `json:"policy_until"`
}

func (r *RiskWindow) String() string {
	return fmt.Sprintf("resolvers may serve the old _mta-sts record for up to %s (until %s); senders that ignore the id may keep the old %s policy (max_age %d) until %s",
		duration.Format(duration.Seconds(r.OldTXTTTL)), r.TXTUntil.UTC().Format(time.RFC3339), r.OldMode, r.OldMaxAge, r.PolicyUntil.UTC().Format(time.RFC3339))
}

// Status is how a run ended.
type Status string

// The ways a run ends, with the exit code each maps to.
const (
	StatusDone    Status = "done"    // exit 0
	StatusNothing Status = "nothing" // exit 0: live state already was the end
	StatusPending Status = "pending" // exit 3: a gate is closed; come back at NextAt
	StatusRefused Status = "refused" // exit 5
	StatusFailed  Status = "failed"  // exit 1
)

// Outcome is the end of a run.
type Outcome struct {
	Domain   string      `json:"domain"`
	Workflow Workflow    `json:"workflow"`
	Status   Status      `json:"status"`
	Stage    Stage       `json:"stage"`
	Message  string      `json:"message"`
	NextAt   *time.Time  `json:"next_at,omitempty"`
	Gate     *GateResult `json:"gate,omitempty"`
	Refusal  *Refusal    `json:"refusal,omitempty"`
	Risk     *RiskWindow `json:"risk,omitempty"`
	// Policy is the policy live at the end (nil when none).
	Policy *Policy `json:"policy,omitempty"`
	Error  string  `json:"error,omitempty"`
}
