// Package watch is the long-running watch over many domains: it re-checks
// each domain on an interval (jittered, with bounded concurrency, and at
// least as often as the strictest sender refetches its policy), compares
// every check's findings with the last ones and turns the difference into
// events: a finding appeared, changed severity, or cleared. Some of them
// are alerts, for a hook (hook.go); every check also feeds the metrics
// (metrics.go).
//
// Time comes from an injected clock and the check is an injected function,
// so tests drive cycles deterministically; jitter comes from a seeded
// source. Per domain it keeps only the last finding set and the time of the
// next check: memory is flat in the number of cycles.
package watch

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/stspilot/stspilot/checks"
	"github.com/stspilot/stspilot/checks/mtasts"
	"github.com/stspilot/stspilot/internal/clock"
	"github.com/stspilot/stspilot/internal/duration"
)

// Schema names the version of an event's JSON.
const Schema = "stspilot.watch/v1"

// Change says what happened to a finding between two checks.
type Change string

// The changes.
const (
	Appeared Change = "appeared"
	Changed  Change = "changed"
	Cleared  Change = "cleared"
)

// Event is one change of one finding of one domain. Its JSON is the
// stspilot.watch/v1 line; Finding is as check --json has it (for a
// cleared finding: as it was last seen).
type Event struct {
	Schema string    `json:"schema"`
	At     time.Time `json:"at"`
	Change Change    `json:"change"`
	Domain string    `json:"domain"`
	// Previous is the severity before a change (only with changed).
	Previous checks.Severity `json:"previous_severity,omitempty"`
	// Alert says the event goes to the alert hook (IsAlert).
	Alert   bool           `json:"alert"`
	Finding checks.Finding `json:"finding"`
}

// alertIDs are the findings that alert whatever their severity: the policy
// host failing for some sender, an MX or the policy host's certificate
// expiring while senders may hold enforce, the id out of step with the
// served policy, the record gone while a policy is still served, an MX
// outside the policy.
var alertIDs = map[string]bool{
	"policy.unreachable": true, "policy.http-status": true, "policy.redirect": true, "policy.content-type": true,
	"policy.cert": true, "policy.agent-blocked": true, "policy.ip-divergence": true, "policy.syntax": true,
	"policy.strictness":              true,
	"mx.uncovered":                   true,
	"mx.cert-expires-in-horizon":     true,
	"policy.cert-expires-in-horizon": true,
	"policy.id-drift":                true,
	"teardown.orphan-policy":         true,
}

// IsAlert says whether a finding goes to the alert hook: every error, and
// the findings of alertIDs.
func IsAlert(f checks.Finding) bool { return f.Severity == checks.SevError || alertIDs[f.ID] }

// key identifies a finding across checks.
type key struct{ id, subject string }

// FindingSet is the last finding set of one domain, by (id, subject).
type FindingSet map[key]checks.Finding

// Diff compares a domain's last findings with the current ones and returns
// the events, in the order of cur then (cleared ones) by id and subject,
// and the new set. prev may be nil (the first check: everything appeared).
func Diff(domain string, at time.Time, prev FindingSet, cur []checks.Finding) ([]Event, FindingSet) {
	next := make(FindingSet, len(cur))
	var out []Event
	ev := func(c Change, f checks.Finding) Event {
		return Event{Schema: Schema, At: at.UTC(), Change: c, Domain: domain, Alert: IsAlert(f), Finding: f}
	}
	for _, f := range cur {
		k := key{f.ID, f.Subject}
		if _, dup := next[k]; dup {
			continue
		}
		next[k] = f
		old, ok := prev[k]
		switch {
		case !ok:
			out = append(out, ev(Appeared, f))
		case old.Severity != f.Severity:
			e := ev(Changed, f)
			e.Previous = old.Severity
			e.Alert = e.Alert || IsAlert(old)
			out = append(out, e)
		}
	}
	var gone []key
	for k := range prev {
		if _, ok := next[k]; !ok {
			gone = append(gone, k)
		}
	}
	slices.SortFunc(gone, func(a, b key) int {
		if c := strings.Compare(a.id, b.id); c != 0 {
			return c
		}
		return strings.Compare(a.subject, b.subject)
	})
	for _, k := range gone {
		out = append(out, ev(Cleared, prev[k]))
	}
	return out, next
}

// Horizon is until when senders may hold a policy of a domain, by mode
// ("enforce", "testing"); a mode no sender may hold is absent.
type Horizon map[string]time.Time

// Checked is one finished check, for the metrics and the front end.
type Checked struct {
	Domain string
	// Report is the check's report; its Findings include the horizon's.
	Report  *checks.Report
	Horizon Horizon
	// Next is when the domain is checked again.
	Next time.Time
}

// Config shapes Run.
type Config struct {
	// Domains are the normalised domains to watch.
	Domains []string
	// Interval is how often each domain is re-checked (default 1 hour);
	// a policy's refetch interval can make it shorter (PolicyRefetch).
	Interval time.Duration
	// Concurrency bounds the checks at once (at least 1).
	Concurrency int
	// Clock tells the time and waits (default the system clock).
	Clock clock.Clock
	// Seed seeds the jitter.
	Seed uint64
	// Check checks one domain.
	Check func(ctx context.Context, domain string) *checks.Report
	// Horizon says until when senders may hold the domain's policies
	// (nil: HorizonFromReport).
	Horizon func(domain string, rep *checks.Report, now time.Time) Horizon
	// Checked, when set, is called after every check, before its events.
	Checked func(Checked)
	// Event is called for every event, in order.
	Event func(Event)
	// Cycles stops Run after that many wake-ups (0: until ctx ends).
	Cycles int
}

// domainState is all Run keeps of a domain between checks.
type domainState struct {
	findings FindingSet
	next     time.Time
}

// Run watches until ctx ends (it returns nil then) or Config.Cycles is
// reached. Each wake-up checks the domains that are due, in the order of
// Config.Domains, and sleeps until the next one is.
func Run(ctx context.Context, cfg Config) error {
	clk := cfg.Clock
	if clk == nil {
		clk = clock.System{}
	}
	interval := cfg.Interval
	if interval <= 0 {
		interval = time.Hour
	}
	horizon := cfg.Horizon
	if horizon == nil {
		horizon = func(_ string, rep *checks.Report, now time.Time) Horizon { return HorizonFromReport(rep, now) }
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	states := make([]domainState, len(cfg.Domains))
	start := clk.Now()
	for i := range states {
		states[i].next = start
	}
	due := make([]int, 0, len(cfg.Domains))
	names := make([]string, 0, len(cfg.Domains))
	for cycle := 0; cfg.Cycles == 0 || cycle < cfg.Cycles; cycle++ {
		// Domains due within a sixtieth of the interval go along: jitter
		// spreads the checks without waking once per domain.
		soon := clk.Now().Add(interval / 60)
		due, names = due[:0], names[:0]
		for i, s := range states {
			if !s.next.After(soon) {
				due = append(due, i)
				names = append(names, cfg.Domains[i])
			}
		}
		batch := checks.Batch(ctx, checks.Inputs(names...), checks.BatchOptions{
			Concurrency: cfg.Concurrency,
			Check:       cfg.Check,
			Normalize:   func(s string) (string, error) { return s, nil },
			Now:         clk.Now,
		})
		for r, err := range batch {
			if err != nil {
				break // ctx ended
			}
			i := due[r.Index]
			st := &states[i]
			rep := r.Report
			at := clk.Now()
			h := horizon(cfg.Domains[i], rep, at)
			if rep.Error == "" {
				if extra := checks.HorizonFindings(rep, h["enforce"]); len(extra) > 0 {
					rep.Findings = append(slices.Clip(rep.Findings), extra...)
				}
			}
			every := interval
			if rep.Live != nil { // the domain was checked
				p, _ := rep.Live.ServedPolicy()
				every = min(every, PolicyRefetch(duration.Seconds(p.MaxAge)))
			}
			st.next = at.Add(Jitter(rng, every))
			if cfg.Checked != nil {
				cfg.Checked(Checked{Domain: cfg.Domains[i], Report: rep, Horizon: h, Next: st.next})
			}
			if rep.Error != "" {
				continue // a failed check keeps the last findings: no check, no news
			}
			var events []Event
			events, st.findings = Diff(cfg.Domains[i], at, st.findings, rep.Findings)
			if cfg.Event != nil {
				for _, e := range events {
					cfg.Event(e)
				}
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		if cfg.Cycles != 0 && cycle+1 == cfg.Cycles {
			break
		}
		var wake time.Time
		for i, s := range states {
			if i == 0 || s.next.Before(wake) {
				wake = s.next
			}
		}
		if len(states) == 0 {
			wake = clk.Now().Add(interval)
		}
		select {
		case <-clk.After(wake.Sub(clk.Now())):
		case <-ctx.Done():
			return nil
		}
	}
	return nil
}

// Jitter spreads d by up to a tenth either way, so that many domains
// checked together drift apart instead of hitting resolvers at once.
func Jitter(rng *rand.Rand, d time.Duration) time.Duration {
	spread := int64(d / 10)
	if spread <= 0 {
		return d
	}
	return d - time.Duration(spread) + time.Duration(rng.Int64N(2*spread+1))
}

// The strictest refetch among the senders of docs/rules.md (STS-SEND-5):
// mox refreshes entries 12 hours old, go-mtasts those expiring within
// 6 hours. The policy host must answer then.
const (
	refetchAge    = 12 * time.Hour
	refetchBefore = 6 * time.Hour
	minRefetch    = time.Minute
)

// PolicyRefetch is the longest a watch may go without fetching a policy
// of maxAge and still see the policy host as often as the strictest sender
// refetches it: 12 hours, less for a max_age short enough that go-mtasts
// refetches sooner (6 hours before expiry, or at half of it).
func PolicyRefetch(maxAge time.Duration) time.Duration {
	d := refetchAge
	if maxAge > 0 {
		d = min(d, max(maxAge-refetchBefore, maxAge/2))
	}
	return max(d, minRefetch)
}

// HorizonFromReport is the horizon read from live state alone (the
// report's typed observations), for a domain without a journal: a served
// policy may be held for its max_age from now.
func HorizonFromReport(rep *checks.Report, now time.Time) Horizon {
	if rep == nil || rep.Live == nil || rep.Live.Policy == nil {
		return nil
	}
	p := rep.Live.Policy
	if p.MaxAge <= 0 || (p.Mode != mtasts.ModeEnforce && p.Mode != mtasts.ModeTesting) {
		return nil
	}
	return Horizon{string(p.Mode): now.UTC().Add(duration.Seconds(p.MaxAge))}
}
