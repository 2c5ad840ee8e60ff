// Package workflow is stspilot's engine: it moves one mail domain through
// the MTA-STS stages (absent, testing, enforce, none) by the four staged
// workflows of docs/design.md, rollout, promote, rollback and teardown, so that
// no step can break mail delivery; a fifth, mx-migrate (mxmigrate.go),
// changes the domain's MX set under a live policy without a moment in
// which a sender may use an MX host its cached enforce policy does not
// cover (invariant 8).
//
// # What a run does
//
// Engine.Plan reads live state first (the checks of package checks: DNS,
// the served policy, the MX hosts and their STARTTLS) and the domain's
// journal second, and returns the Plan: the target policy, its steps and
// the gates evaluated while planning. It changes nothing and takes no
// lock. Engine.Apply takes the domain's journal lock, plans again, runs the
// steps whose gates are open and stops at the first closed gate; --wait
// (ApplyOptions.Wait) keeps re-checking a closed gate until it opens.
// Engine.Status says where a domain stands and what comes next, and when.
//
// # The recipe
//
// Every change of policy follows the same order (docs/design.md invariants 1
// and 4): write the new policy file through the Publisher; the served gate
// (every address of mta-sts.DOMAIN serves exactly the new bytes); set the
// TLS-RPT record (rollout); set the _mta-sts record to a new id; the
// published gate (every authoritative name server answers it). The new
// id carries the time the change starts (the intent is journaled just
// before the policy is written), not the time of the plan. Teardown
// first publishes mode none the same way, waits out the cache window, and
// only then deletes the records and the policy file. The kinds of step are
// one table (steps.go): its journal kind, label and executor.
//
// # Gates
//
// live: every MX is covered by the policy and passes STARTTLS with a valid
// certificate (required for enforce, checked again when writing).
// served and published: as above, re-polled every Config.Poll.
// window: the soak of the current rung before promote, and the cache
// window before a teardown deletes anything (STS-SEND-16).
// evidence: TLS-RPT reports show no failures for the current policy
// (Config.Evidence; the operator may go without).
// A closed gate ends the run with StatusPending. It is waiting
// (GateWaiting: it opens by itself, a window at NextAt, a change still
// propagating) or blocked (GateBlocked: an address of the policy host
// answers an error; it names the address, the answer, the check finding
// whose fix applies and what senders do meanwhile, and NextAt is only the
// next re-check). --wait re-checks either on the poll interval.
//
// # The ledger and the horizon
//
// The journal's ledger lists every policy that was ever live under an id;
// a policy enters it when its served gate opens, and the policies it
// replaces are marked replaced then (not before: a rollback stopped by a
// broken host has replaced nothing). Horizon computes from it until when
// senders may hold each one (replaced_at + max_age, or now + max_age while
// served) and the worst case; the rollback risk window, the teardown's
// cache window, a blocked gate's meanwhile and Status read it.
//
// # Codes, not flags
//
// Refusals, overrides and missing inputs carry a Code (CodeAdoptLive,
// CodeFinishInterrupted, ...); the engine writes no flag or command names
// into its messages, and each front end renders a code its own way.
//
// # The journal
//
// The engine's memory between runs is the journal of workflow/journal
// (docs/journal.md), one document per domain: the policy stspilot last
// made live and since when, a change under way (the intent), the
// not-before windows, and every external change, written pending before
// it and done or failed after it (invariant 6). A run that finds an intent
// finishes that change with the same bytes and id; a pending entry a
// killed run left is closed as failed and live state decides what is
// left to do. All of its times come from the engine's Clock.
//
// # Who drives it
//
// The commands of cmd/stspilot (rollout, promote, rollback, teardown,
// plan, status) and the wizard of package tui build one Engine with New
// and render the Events it sends to the Observer; the engine itself never
// prints.
// workflow/sandbox wires an Engine to a loopback world on an accelerated
// clock for the demo and the tests; workflow/serve is the policy host the
// serve publisher writes to.
package workflow
