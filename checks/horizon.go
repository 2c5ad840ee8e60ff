package checks

import (
	"fmt"
	"time"
)

// HorizonFindings are the findings a check cannot make from live state
// alone: they need the horizon, until when senders may still hold an
// enforce policy of this domain (the journal's ledger, STS-SEND-4; the
// workflow package computes it). A certificate that expires before then
// breaks delivery for senders that hold enforce even if the published
// policy changes meanwhile. enforceUntil zero, or not after the check,
// means no sender holds enforce: there is nothing to find.
//
// r's view is read (the certificates' expiry as the probes saw them);
// certificates with another problem already have their own finding.
func HorizonFindings(r *Report, enforceUntil time.Time) []Finding {
	if r == nil || r.Error != "" || enforceUntil.IsZero() || !enforceUntil.After(r.CheckedAt) {
		return nil
	}
	until := enforceUntil.UTC().Format(time.RFC3339)
	var out []Finding
	if p := r.Policy; p != nil {
		if na, ok := earliest(len(p.Fetch), func(i int) (string, string) { return p.Fetch[i].CertExpiry, p.Fetch[i].CertProblem }); ok && na.Before(enforceUntil) {
			out = append(out, newFinding("policy.cert-expires-in-horizon", p.Host,
				fmt.Sprintf("certificate expires %s; senders may hold enforce until %s", na.UTC().Format(time.RFC3339), until),
				"renew the certificate of "+p.Host+" before "+na.UTC().Format("2006-01-02")+" and automate its renewal"))
		}
	}
	for _, mx := range r.MX {
		na, ok := earliest(len(mx.Addrs), func(i int) (string, string) { return mx.Addrs[i].CertExpiry, mx.Addrs[i].CertProblem })
		if !ok || !na.Before(enforceUntil) {
			continue
		}
		out = append(out, newFinding("mx.cert-expires-in-horizon", mx.Host,
			fmt.Sprintf("certificate expires %s; senders may hold enforce until %s", na.UTC().Format(time.RFC3339), until),
			"renew the certificate of "+mx.Host+" before "+na.UTC().Format("2006-01-02")+" and automate its renewal"))
	}
	return out
}

// earliest is the earliest expiry among n certificates given as (RFC 3339
// expiry, problem); those with a problem or no expiry are skipped.
func earliest(n int, at func(int) (string, string)) (time.Time, bool) {
	var first time.Time
	found := false
	for i := range n {
		exp, problem := at(i)
		if exp == "" || problem != "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, exp)
		if err != nil {
			continue
		}
		if !found || t.Before(first) {
			first, found = t, true
		}
	}
	return first, found
}
