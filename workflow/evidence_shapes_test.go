package workflow

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stspilot/stspilot/checks/tlsrpt"
)

// Report shapes that must not open the evidence gate: beside a clean
// report for the current policy, a report whose failures are for that
// policy too, written in a shape the parser takes.

// shapeReport is a report of org with report-id id for the day after
// shapeSince, one policies[] entry: policy (its JSON), summary and
// details (JSON).
func shapeReport(org, id, policy, summary, details string) string {
	day := shapeSince.Truncate(24 * time.Hour).Add(24 * time.Hour)
	return fmt.Sprintf(`{"organization-name":%q,"report-id":%q,"date-range":{"start-datetime":%q,"end-datetime":%q},"policies":[{"policy":%s,"summary":%s,"failure-details":[%s]}]}`,
		org, id, day.Format(time.RFC3339), day.Add(24*time.Hour-time.Second).Format(time.RFC3339), policy, summary, details)
}

var shapeSince = time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)

const (
	shapeLines   = `["version: STSv1","mode: testing","mx: mx1.example.test","max_age: 86400"]`
	shapePolicy  = `{"policy-type":"sts","policy-string":` + shapeLines + `,"policy-domain":"example.test"}`
	shapeDetail  = `{"result-type":"certificate-expired","receiving-mx-hostname":"mx1.example.test","failed-session-count":3}`
	shapeFailing = `{"total-successful-session-count":1,"total-failure-session-count":3}`
)

// shapeGate evaluates the gate for domain (the A-label the engine passes)
// over a clean report and bad, for the policy evPolicy.
func shapeGate(t *testing.T, domain, bad string) GateResult {
	t.Helper()
	dir := t.TempDir()
	clean := shapeReport("Clean Org", "c1", strings.Replace(shapePolicy, `"example.test"`, fmt.Sprintf("%q", domain), 1), `{"total-successful-session-count":50,"total-failure-session-count":0}`, "")
	for name, s := range map[string]string{"clean.json": clean, "bad.json": bad} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p := &Policy{PolicyTerms: PolicyTerms{Mode: "testing", MaxAge: 86400, MX: []string{"mx1.example.test"}}, Text: evPolicy, ID: "20261101000000abcdefgh"}
	g, _, err := ReportsEvidence([]string{dir}, tlsrpt.Options{})(context.Background(), domain, p, shapeSince)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// Failure counts past int64 (2^63, 1e30) are counts all the same: they
// saturate, and the report closes the gate. The parser refused them as
// "not an integer", the report was only a file that could not be read,
// and the clean report opened the gate.
func TestEvidenceHugeFailureCounts(t *testing.T) {
	for name, bad := range map[string]string{
		"summary 2^63":      shapeReport("Bad Org", "b1", shapePolicy, `{"total-successful-session-count":1,"total-failure-session-count":9223372036854775808}`, ""),
		"summary 2^64 text": shapeReport("Bad Org", "b1", shapePolicy, `{"total-successful-session-count":1,"total-failure-session-count":"18446744073709551616"}`, ""),
		"detail 1e30":       shapeReport("Bad Org", "b1", shapePolicy, `{"total-successful-session-count":1,"total-failure-session-count":0}`, strings.Replace(shapeDetail, `3}`, `1e30}`, 1)),
		"detail 1e400":      shapeReport("Bad Org", "b1", shapePolicy, `{"total-successful-session-count":1,"total-failure-session-count":0}`, strings.Replace(shapeDetail, `3}`, `1e400}`, 1)),
	} {
		g := shapeGate(t, tDomain, bad)
		if g.Open || !strings.Contains(g.Reason, "more than 9223372036854775806 failed sessions") {
			t.Errorf("%s: gate %+v", name, g)
		}
	}
}

// A policy-domain written as a U-label (RPT-JSON-6 asks for the A-label;
// serve's receiver takes it, normalising it to the domain it serves) is
// the domain: its failures count. The gate compared it folded only, so
// "bücher.example" never matched "xn--bcher-kva.example" and the clean
// report opened the gate.
func TestEvidenceULabelPolicyDomain(t *testing.T) {
	const idn = "xn--bcher-kva.example"
	for _, written := range []string{"bücher.example", "BÜCHER.example.", "Xn--Bcher-Kva.Example."} {
		bad := shapeReport("Bad Org", "b1", strings.Replace(shapePolicy, `"example.test"`, fmt.Sprintf("%q", written), 1), shapeFailing, shapeDetail)
		g := shapeGate(t, idn, bad)
		if g.Open || !strings.Contains(g.Reason, "3 failed sessions") {
			t.Errorf("%s: gate %+v", written, g)
		}
	}
}

// A policy-string holding the policy as one text (a bare string, which
// the parser takes with a warning, or one element with line breaks) is
// the policy all the same (RPT-JSON-5 wants one element per line). The
// lines were taken as one, SamePolicy found no mode in it, the entry
// counted as another policy's and the clean report opened the gate.
func TestEvidencePolicyStringAsText(t *testing.T) {
	for name, ps := range map[string]string{
		"bare string":       `"version: STSv1\r\nmode: testing\r\nmx: mx1.example.test\r\nmax_age: 86400\r\n"`,
		"one element":       `["version: STSv1\nmode: testing\nmx: mx1.example.test\nmax_age: 86400"]`,
		"split differently": `["version: STSv1","mode: testing\r\nmx: mx1.example.test","max_age: 86400\n"]`,
	} {
		bad := shapeReport("Bad Org", "b1", strings.Replace(shapePolicy, shapeLines, ps, 1), shapeFailing, shapeDetail)
		g := shapeGate(t, tDomain, bad)
		if g.Open || !strings.Contains(g.Reason, "3 failed sessions") {
			t.Errorf("%s: gate %+v", name, g)
		}
	}
	// Another policy written so stays another policy.
	bad := shapeReport("Bad Org", "b1", strings.Replace(shapePolicy, shapeLines, `"version: STSv1\nmode: testing\nmx: mx1.example.test\nmax_age: 3600\n"`, 1), shapeFailing, shapeDetail)
	if g := shapeGate(t, tDomain, bad); !g.Open || !strings.Contains(g.Reason, "1 report entries of other policies left out") {
		t.Errorf("older policy as text: gate %+v", g)
	}
}

// A copy that closes the gate outranks a clean copy of the same report
// even when its failure details carry no count (read as 0): the ranks
// tied at 0, the copy with the lower fingerprint counted, and a forged
// clean copy opened the gate for about half the contents a forger tried
// (docs/design.md: a forged copy can close the gate, never open it).
func TestEvidenceUncountedFailuresOutrankCleanCopy(t *testing.T) {
	for name, genuine := range map[string]string{
		"current policy": shapeReport("Org", "same", shapePolicy, `{"total-successful-session-count":5,"total-failure-session-count":0}`, `{"result-type":"certificate-expired","receiving-mx-hostname":"mx1.example.test"}`),
		"policy host":    shapeReport("Org", "same", strings.Replace(shapePolicy, "max_age: 86400", "max_age: 3600", 1), `{"total-successful-session-count":5,"total-failure-session-count":0}`, `{"result-type":"sts-webpki-invalid","failed-session-count":0}`),
	} {
		for i := range 16 {
			dir := t.TempDir()
			forged := shapeReport("Org", "same", shapePolicy, fmt.Sprintf(`{"total-successful-session-count":%d,"total-failure-session-count":0}`, 100+i), "")
			os.WriteFile(filepath.Join(dir, "genuine.json"), []byte(genuine), 0o600)
			os.WriteFile(filepath.Join(dir, "forged.json"), []byte(forged), 0o600)
			p := &Policy{PolicyTerms: PolicyTerms{Mode: "testing", MaxAge: 86400, MX: []string{"mx1.example.test"}}, Text: evPolicy, ID: "20261101000000abcdefgh"}
			g, found, err := ReportsEvidence([]string{dir}, tlsrpt.Options{})(context.Background(), tDomain, p, shapeSince)
			if err != nil || !found || g.Open || !strings.Contains(g.Reason, "2 copies") {
				t.Errorf("%s, forged copy %d: found %v err %v gate %+v", name, i, found, err, g)
			}
		}
	}
}

// An sts entry whose policy-string names no mode does not say which
// policy the sender held, like one without a policy-string: its failures
// count. It was taken for another policy's and left out. A mode written
// in another case is the same mode (RFC 8461's ABNF literals are
// case-insensitive).
func TestEvidencePolicyStringWithoutMode(t *testing.T) {
	for name, ps := range map[string]string{
		"empty line":   `[""]`,
		"version only": `["version: STSv1"]`,
		"mx only":      `["mx: mx1.example.test"]`,
		"mode upper":   `["version: STSv1","mode: TESTING","mx: mx1.example.test","max_age: 86400"]`,
	} {
		g := shapeGate(t, tDomain, shapeReport("Bad Org", "b1", strings.Replace(shapePolicy, shapeLines, ps, 1), shapeFailing, shapeDetail))
		if g.Open || !strings.Contains(g.Reason, "3 failed sessions") {
			t.Errorf("%s: gate %+v", name, g)
		}
	}
	// A policy-string that names another mode stays another policy.
	g := shapeGate(t, tDomain, shapeReport("Bad Org", "b1", strings.Replace(shapePolicy, "mode: testing", "mode: enforce", 1), shapeFailing, shapeDetail))
	if !g.Open || !strings.Contains(g.Reason, "1 report entries of other policies left out") {
		t.Errorf("another mode: gate %+v", g)
	}
}

// A policy-type written in another case ("STS") is the type: an entry of
// the current policy so written was taken for an unknown type and left
// out, failures and all.
func TestEvidencePolicyTypeCase(t *testing.T) {
	for _, typ := range []string{"STS", "Sts"} {
		g := shapeGate(t, tDomain, shapeReport("Bad Org", "b1", strings.Replace(shapePolicy, `"sts"`, fmt.Sprintf("%q", typ), 1), shapeFailing, shapeDetail))
		if g.Open || !strings.Contains(g.Reason, "3 failed sessions") {
			t.Errorf("%s: gate %+v", typ, g)
		}
	}
}

// An sts entry whose policy-string leaves out max_age or the mx lines
// (and has no mx-host) does not say it is another policy: only a field
// it states and that differs sets it aside. Such entries were left out,
// failures and all, and the clean report opened the gate.
func TestEvidencePolicyStringPartial(t *testing.T) {
	for name, pol := range map[string]string{
		"no max_age":      `{"policy-type":"sts","policy-string":["version: STSv1","mode: testing","mx: mx1.example.test"],"policy-domain":"example.test"}`,
		"no mx":           `{"policy-type":"sts","policy-string":["version: STSv1","mode: testing","max_age: 86400"],"policy-domain":"example.test"}`,
		"bad max_age":     `{"policy-type":"sts","policy-string":["version: STSv1","mode: testing","mx: mx1.example.test","max_age: 1d"],"policy-domain":"example.test"}`,
		"mode only":       `{"policy-type":"sts","policy-string":["mode: testing"],"policy-domain":"example.test"}`,
		"mx-host instead": `{"policy-type":"sts","policy-string":["version: STSv1","mode: testing","max_age: 86400"],"mx-host":["MX1.example.test."],"policy-domain":"example.test"}`,
	} {
		g := shapeGate(t, tDomain, shapeReport("Bad Org", "b1", pol, shapeFailing, shapeDetail))
		if g.Open || !strings.Contains(g.Reason, "3 failed sessions") {
			t.Errorf("%s: gate %+v", name, g)
		}
	}
	// What it states and differs sets it aside.
	for name, pol := range map[string]string{
		"other max_age":     `{"policy-type":"sts","policy-string":["mode: testing","max_age: 3600"],"policy-domain":"example.test"}`,
		"other mx":          `{"policy-type":"sts","policy-string":["mode: testing","mx: mx2.example.test"],"policy-domain":"example.test"}`,
		"other mx-host":     `{"policy-type":"sts","policy-string":["mode: testing"],"mx-host":["mx2.example.test"],"policy-domain":"example.test"}`,
		"other mode, no mx": `{"policy-type":"sts","policy-string":["mode: enforce"],"policy-domain":"example.test"}`,
	} {
		g := shapeGate(t, tDomain, shapeReport("Bad Org", "b1", pol, shapeFailing, shapeDetail))
		if !g.Open || !strings.Contains(g.Reason, "1 report entries of other policies left out") {
			t.Errorf("%s: gate %+v", name, g)
		}
	}
}
