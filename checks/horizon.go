package checks

import (
	"fmt"
	"time"

	"github.com/stspilot/stspilot/checks/certs"
	"github.com/stspilot/stspilot/internal/txtrecord"
)

// HorizonFindings are the findings a check cannot make from live state
// alone: they need the horizon, until when senders may still hold an
// enforce policy of this domain (the journal's ledger, STS-SEND-4; the
// workflow package computes it). A certificate that expires before then
// breaks delivery for senders that hold enforce even if the published
// policy changes meanwhile. enforceUntil zero, or not after the check,
// means no sender holds enforce: there is nothing to find.
//
// r's observations (Live) are read: the certificates' expiry as the
// probes saw them; certificates with another problem already have their
// own finding.
func HorizonFindings(r *Report, enforceUntil time.Time) []Finding {
	if r == nil || r.Error != "" || r.Live == nil || enforceUntil.IsZero() || !enforceUntil.After(r.CheckedAt) {
		return nil
	}
	l := r.Live
	until := enforceUntil.UTC().Format(time.RFC3339)
	var out []Finding
	if na, ok := earliest(l.PolicyCerts, func(c LiveCert) (time.Time, certs.Problem) { return c.NotAfter, c.Problem }); ok && na.Before(enforceUntil) {
		host := txtrecord.PolicyHost(r.Domain)
		out = append(out, newFinding("policy.cert-expires-in-horizon", host,
			fmt.Sprintf("certificate expires %s; senders may hold enforce until %s", na.UTC().Format(time.RFC3339), until),
			"renew the certificate of "+host+" before "+na.UTC().Format("2006-01-02")+" and automate its renewal"))
	}
	for _, mx := range l.MX {
		na, ok := earliest(mx.Addrs, func(a LiveMXAddr) (time.Time, certs.Problem) { return a.CertNotAfter, a.CertProblem })
		if !ok || !na.Before(enforceUntil) {
			continue
		}
		out = append(out, newFinding("mx.cert-expires-in-horizon", mx.Host,
			fmt.Sprintf("certificate expires %s; senders may hold enforce until %s", na.UTC().Format(time.RFC3339), until),
			"renew the certificate of "+mx.Host+" before "+na.UTC().Format("2006-01-02")+" and automate its renewal"))
	}
	return out
}

// earliest is the earliest expiry among certificates given as (expiry,
// problem); those with a problem or no expiry are skipped.
func earliest[T any](xs []T, cert func(T) (time.Time, certs.Problem)) (time.Time, bool) {
	var first time.Time
	found := false
	for _, x := range xs {
		t, problem := cert(x)
		if t.IsZero() || problem != certs.OK {
			continue
		}
		if !found || t.Before(first) {
			first, found = t, true
		}
	}
	return first, found
}
