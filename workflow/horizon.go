package workflow

import (
	"time"

	"github.com/stspilot/stspilot/checks/mtasts"
	"github.com/stspilot/stspilot/internal/duration"
	"github.com/stspilot/stspilot/workflow/journal"
)

// The ledger (journal.Journal.Ledger) lists every policy that was ever
// live under an id; the horizon is what follows from it: until when a
// sender that fetched one of them may still hold it (STS-SEND-5): its
// max_age from when it was replaced, or from now while an address of
// the policy host still serves it. The rollback risk window, the
// teardown's cache window and status all read the one function Horizon.

// CachedPolicy is one policy of the ledger as the horizon sees it.
type CachedPolicy struct {
	// Hash is the SHA-256 of the policy file (journal.PolicyHash).
	Hash string `json:"hash"`
	// ID is the _mta-sts id it was live under ("" when unknown).
	ID string `json:"id,omitempty"`
	journal.PolicyTerms
	// Served is set while it is not replaced: Until moves with the clock.
	Served bool `json:"served"`
	// ReplacedAt is when it stopped being served (nil while Served).
	ReplacedAt *time.Time `json:"replaced_at,omitempty"`
	// Until is the latest time a sender may still hold it.
	Until time.Time `json:"until"`
	// TXTTTL is the TTL in seconds of its _mta-sts record when that record
	// was replaced (0 when unknown).
	TXTTTL int64 `json:"txt_ttl,omitempty"`
	// Assumed: stspilot found it live and did not publish it.
	Assumed bool `json:"assumed,omitempty"`
}

// HorizonReport is until when senders may hold what: every policy of the
// ledger that may still be cached (Until after now), oldest first, and
// the worst case.
type HorizonReport struct {
	// At is the moment the horizon was computed.
	At time.Time `json:"at"`
	// Policies may still be cached, oldest first.
	Policies []CachedPolicy `json:"policies,omitempty"`
	// Worst is the worst case by mode: the policy of the strictest mode
	// (enforce, then testing) that may be cached the longest; nil when no
	// testing or enforce policy may still be cached.
	Worst *CachedPolicy `json:"worst,omitempty"`
}

// Horizon computes the horizon of journal j at now: for each policy of
// the ledger, ReplacedAt + max_age, or now + max_age while it is still
// served, counted from PublishedAt when that is later (a clock that went
// backwards). Policies whose horizon has passed are left out.
func Horizon(j *journal.Journal, now time.Time) *HorizonReport {
	h := &HorizonReport{At: now}
	if j == nil {
		return h
	}
	for _, lp := range j.Ledger {
		c := CachedPolicy{Hash: lp.Hash, ID: lp.ID, PolicyTerms: lp.PolicyTerms.Clone(), TXTTTL: lp.TXTTTL, Assumed: lp.Assumed}
		age := duration.Seconds(lp.MaxAge)
		// The last moment a sender may have fetched it: when it was
		// replaced, or now while it is served; never before it went live.
		// A clock that ran backwards between runs (stamping ReplacedAt, or
		// reading now, before PublishedAt) must not pull the horizon in.
		last := now.UTC()
		if lp.Replaced() {
			t := lp.ReplacedAt.UTC()
			c.ReplacedAt = &t
			last = t
		} else {
			c.Served = true
		}
		if lp.PublishedAt.After(last) {
			last = lp.PublishedAt.UTC()
		}
		c.Until = last.Add(age)
		if !c.Until.After(now) {
			continue
		}
		h.Policies = append(h.Policies, c)
	}
	for i := range h.Policies {
		c := &h.Policies[i]
		if c.Mode == string(mtasts.ModeNone) {
			continue
		}
		if w := h.Worst; w == nil || modeRank(c.Mode) > modeRank(w.Mode) || modeRank(c.Mode) == modeRank(w.Mode) && !c.Until.Before(w.Until) {
			cp := *c
			h.Worst = &cp
		}
	}
	return h
}

// Until is the latest time a sender may hold a testing or enforce policy
// of the ledger (zero when none may).
func (h *HorizonReport) Until() time.Time {
	var t time.Time
	if h == nil {
		return t
	}
	for _, c := range h.Policies {
		if c.Mode != string(mtasts.ModeNone) && c.Until.After(t) {
			t = c.Until
		}
	}
	return t
}

// ledgerEntry is the ledger's record of policy p.
func ledgerEntry(p *Policy, publishedAt time.Time) journal.LedgerPolicy {
	return journal.LedgerPolicy{Hash: journal.PolicyHash(p.Text), ID: p.ID, PolicyTerms: p.PolicyTerms.Clone(), PublishedAt: journal.Stamp(publishedAt)}
}
