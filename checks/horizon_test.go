package checks

import (
	"testing"
	"time"

	"github.com/stspilot/stspilot/checks/certs"
)

// STS-SEND-4, STS-SEND-10: a certificate that expires before the horizon
// of the enforce policy senders may hold is found, on the policy host and
// on every MX; one that outlives it, or one with its own problem, is not.
func TestHorizonFindings_STS_SEND_4(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	soon := now.Add(48 * time.Hour)
	late := now.Add(400 * 24 * time.Hour)
	r := &Report{
		Schema: SchemaVersion, Domain: "example.test", CheckedAt: now, Findings: []Finding{},
		Live: &Live{
			PolicyCerts: []LiveCert{{Addr: "127.0.0.1", NotAfter: late}, {Addr: "127.0.0.2", NotAfter: soon}},
			MX: []LiveMX{
				{Host: "mx1.example.test", Addrs: []LiveMXAddr{{Addr: "127.0.0.3", CertNotAfter: soon}}},
				{Host: "mx2.example.test", Addrs: []LiveMXAddr{{Addr: "127.0.0.4", CertNotAfter: late}}},
				{Host: "mx3.example.test", Addrs: []LiveMXAddr{{Addr: "127.0.0.5", CertNotAfter: soon, TLS: TLSBadCert, CertProblem: certs.Expired}}},
			},
		},
	}
	horizon := now.Add(7 * 24 * time.Hour)
	got := HorizonFindings(r, horizon)
	if len(got) != 2 || got[0].ID != "policy.cert-expires-in-horizon" || got[0].Subject != "mta-sts.example.test" ||
		got[1].ID != "mx.cert-expires-in-horizon" || got[1].Subject != "mx1.example.test" {
		t.Fatalf("findings: %+v", got)
	}
	for _, f := range got {
		if f.Severity != SevWarn || f.Why == "" || f.Fix == "" || len(f.Rules) == 0 {
			t.Errorf("%s not filled from the catalogue: %+v", f.ID, f)
		}
	}
	r.Findings = append(r.Findings, got...)
	markProduced(r)

	if got := HorizonFindings(r, time.Time{}); got != nil {
		t.Errorf("no enforce held, yet: %+v", got)
	}
	if got := HorizonFindings(r, now.Add(time.Hour)); got != nil {
		t.Errorf("horizon before every expiry, yet: %+v", got)
	}
	if got := HorizonFindings(&Report{Error: "no DNS"}, horizon); got != nil {
		t.Errorf("a failed check, yet: %+v", got)
	}
}
