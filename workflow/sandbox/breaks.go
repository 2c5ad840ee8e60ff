package sandbox

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/libdns/libdns"

	"github.com/stspilot/stspilot/dnsprovider"
)

// Break names a failure the sandbox can inject.
type Break string

// The failures, grouped by the seven field failures of docs/design.md
// ("Findings and the seven field failures").
const (
	PolicyNotFound    Break = "policy-404"          // 1: the policy host answers 404
	PolicyRedirect    Break = "policy-redirect"     // 1: it redirects (senders do not follow)
	PolicyContentType Break = "policy-content-type" // 1: it serves text/html
	PolicyCertExpired Break = "policy-cert-expired" // 1: its certificate has expired
	MXUncovered       Break = "mx-uncovered"        // 2: a new MX host no mx pattern covers
	MXCertName        Break = "mx-cert-name"        // 3: mx1's certificate names another host
	PolicyDrift       Break = "policy-drift"        // 4: the policy edited without a new id
	EnforceEarly      Break = "enforce-early"       // 5: promote before the soak is over
	TLSRPTMissing     Break = "tlsrpt-missing"      // 6: the _smtp._tls record deleted
	TLSRPTFailing     Break = "tlsrpt-failing"      // 6: reports show failed sessions
	OrphanPolicy      Break = "orphan-policy"       // 7: _mta-sts deleted behind our back
)

// BreakInfo describes a failure for people.
type BreakInfo struct {
	Name Break
	// Failure is the number of the field failure it belongs to (1-7,
	// docs/design.md).
	Failure int
	// Title says what is injected; Expect what stspilot should do about it.
	Title, Expect string
}

// Breaks lists every failure the sandbox injects, in the order of the seven field failures.
var Breaks = []BreakInfo{
	{PolicyNotFound, 1, "policy host answers 404", "check: policy.http-status; the served gate stays closed"},
	{PolicyRedirect, 1, "policy host redirects", "check: policy.redirect; the served gate fails"},
	{PolicyContentType, 1, "policy served as text/html", "check: policy.content-type; the served gate fails"},
	{PolicyCertExpired, 1, "policy host certificate expired", "check: policy.cert; the served gate fails"},
	{MXUncovered, 2, "new MX mx3 not in the policy", "check: mx.uncovered; promote to enforce refused"},
	{MXCertName, 3, "mx1 certificate names another host", "check: mx.cert-name; promote to enforce refused"},
	{PolicyDrift, 4, "policy edited without a new id", "check: policy.id-drift; every workflow but rollback refused"},
	{EnforceEarly, 5, "promote before the soak ends (p)", "promote pending: the soak window is closed; nothing to switch, just promote early"},
	{TLSRPTMissing, 6, "TLS-RPT record deleted", "check: tlsrpt.missing; promote finds no reports"},
	{TLSRPTFailing, 6, "TLS-RPT reports show failures", "promote refused by the evidence gate"},
	{OrphanPolicy, 7, "_mta-sts record deleted behind our back", "check: teardown.orphan-policy"},
}

// ParseBreak accepts a Break name.
func ParseBreak(s string) (Break, error) {
	for _, b := range Breaks {
		if string(b.Name) == s {
			return b.Name, nil
		}
	}
	var names []string
	for _, b := range Breaks {
		names = append(names, string(b.Name))
	}
	return "", fmt.Errorf("unknown failure %q (known: %s)", s, strings.Join(names, ", "))
}

// Broken reports whether b is injected.
func (s *Sandbox) Broken(b Break) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.broken[b]
}

// Injected lists the failures injected now, in Breaks order.
func (s *Sandbox) Injected() []Break {
	var out []Break
	for _, b := range Breaks {
		if s.Broken(b.Name) {
			out = append(out, b.Name)
		}
	}
	return out
}

// Toggle injects b, or heals it when it is injected; it returns whether b
// is injected afterwards.
func (s *Sandbox) Toggle(b Break) (bool, error) {
	if s.Broken(b) {
		return false, s.Heal(b)
	}
	return true, s.Inject(b)
}

// Inject injects failure b. Failures that change records or files do so
// behind the engine's back, as an operator or another tool would.
func (s *Sandbox) Inject(b Break) error {
	if _, err := ParseBreak(string(b)); err != nil {
		return err
	}
	if s.Broken(b) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	switch b {
	case MXUncovered:
		s.rr(fmt.Sprintf("%s 300 IN MX 30 mx3.%s", s.zone, s.zone), fmt.Sprintf("mx3.%s 300 IN A %s", s.zone, ip2))
	case PolicyDrift:
		cur := s.Publisher.File(s.Domain)
		if cur == nil {
			return fmt.Errorf("%s: no policy is published yet: %w", b, ErrNotApplicable)
		}
		s.mu.Lock()
		s.drifted = cur
		s.mu.Unlock()
		s.Publisher.set(s.Domain, drift(cur, "mx3."+s.Domain))
	case TLSRPTMissing:
		if err := s.deleteOurs(ctx, b, "_smtp._tls", dnsprovider.KindTLSRPT); err != nil {
			return err
		}
	case OrphanPolicy:
		if err := s.deleteOurs(ctx, b, "_mta-sts", dnsprovider.KindSTS); err != nil {
			return err
		}
	}
	s.mu.Lock()
	s.broken[b] = true
	s.mu.Unlock()
	return nil
}

// drift adds an mx line before max_age, keeping the policy valid and the
// line ending it uses.
func drift(policy []byte, mx string) []byte {
	txt := string(policy)
	eol := "\n"
	if strings.Contains(txt, "\r\n") {
		eol = "\r\n"
	}
	if i := strings.Index(txt, "max_age:"); i >= 0 {
		return []byte(txt[:i] + "mx: " + mx + eol + txt[i:])
	}
	return []byte(txt + "mx: " + mx + eol)
}

// deleteOurs deletes the records of kind k at rel through the memory
// provider (not the engine) and keeps them for Heal.
func (s *Sandbox) deleteOurs(ctx context.Context, b Break, rel string, k dnsprovider.Kind) error {
	var del []libdns.Record
	var keep []libdns.RR
	for _, r := range s.mem.Records(s.Domain) {
		if r.Type == "TXT" && strings.EqualFold(r.Name, rel) && k.Matches(r.Data) {
			del = append(del, r)
			keep = append(keep, r)
		}
	}
	if len(del) == 0 {
		return fmt.Errorf("%s: there is no %s record to delete yet: %w", b, rel+"."+s.Domain, ErrNotApplicable)
	}
	if _, err := s.mem.DeleteRecords(ctx, s.Domain, del); err != nil {
		return err
	}
	s.mu.Lock()
	s.saved[b] = keep
	s.mu.Unlock()
	return nil
}

// Heal undoes failure b: records a failure deleted come back unless the
// engine wrote others since, and a drifted file returns to what it was
// unless the engine published another since.
func (s *Sandbox) Heal(b Break) error {
	if !s.Broken(b) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.mu.Lock()
	saved, drifted := s.saved[b], s.drifted
	delete(s.saved, b)
	s.mu.Unlock()
	switch b {
	case MXUncovered:
		s.removeRR(s.zone, 15, "mx3.")
		s.removeRR("mx3."+s.zone, 1, "")
	case PolicyDrift:
		if cur := s.Publisher.File(s.Domain); cur != nil && drifted != nil && string(cur) == string(drift(drifted, "mx3."+s.Domain)) {
			s.Publisher.set(s.Domain, drifted)
		}
	case TLSRPTMissing, OrphanPolicy:
		k, rel := dnsprovider.KindTLSRPT, "_smtp._tls"
		if b == OrphanPolicy {
			k, rel = dnsprovider.KindSTS, "_mta-sts"
		}
		written := false
		for _, r := range s.mem.Records(s.Domain) {
			if r.Type == "TXT" && strings.EqualFold(r.Name, rel) && k.Matches(r.Data) {
				written = true
			}
		}
		if !written && len(saved) > 0 {
			recs := make([]libdns.Record, len(saved))
			for i, r := range saved {
				recs[i] = r
			}
			if _, err := s.mem.AppendRecords(ctx, s.Domain, recs); err != nil {
				return err
			}
		}
	}
	s.mu.Lock()
	delete(s.broken, b)
	s.mu.Unlock()
	return nil
}

// HealAll undoes every failure.
func (s *Sandbox) HealAll() error {
	for _, b := range s.Injected() {
		if err := s.Heal(b); err != nil {
			return err
		}
	}
	return nil
}
