package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeWorldReport writes a TLS-RPT report (RFC 8460 shape) for today
// (UTC) about domain under the policy text, with ok sessions and, when
// failMX is set, 9 validation-failure sessions at failMX.
func writeWorldReport(t *testing.T, dir, org, domain, policy, failMX string, ok int) {
	t.Helper()
	day := time.Now().UTC().Truncate(24 * time.Hour)
	var lines, mx []string
	for _, l := range strings.Split(strings.ReplaceAll(policy, "\r\n", "\n"), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
			if v, found := strings.CutPrefix(l, "mx: "); found {
				mx = append(mx, v)
			}
		}
	}
	details := []any{}
	failed := 0
	if failMX != "" {
		failed = 9
		details = append(details, map[string]any{
			"result-type": "validation-failure", "sending-mta-ip": "",
			"receiving-mx-hostname": failMX, "receiving-ip": "127.0.0.99", "failed-session-count": failed,
		})
	}
	r := map[string]any{
		"organization-name": org,
		"date-range":        map[string]string{"start-datetime": day.Format(time.RFC3339), "end-datetime": day.Add(24*time.Hour - time.Second).Format(time.RFC3339)},
		"contact-info":      "tlsrpt@reporter.example",
		"report-id":         fmt.Sprintf("%s_%s_%s", day.Format(time.RFC3339), domain, org),
		"policies": []any{map[string]any{
			"policy":          map[string]any{"policy-type": "sts", "policy-string": lines, "policy-domain": domain, "mx-host": mx},
			"summary":         map[string]int{"total-successful-session-count": ok, "total-failure-session-count": failed},
			"failure-details": details,
		}},
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, org+".json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestWorkflowEvidenceGate: on the real world, promote --reports refuses
// (exit 5) while a report shows failures under the live policy, naming the
// MX no pattern covers, and climbs once the reports are clean; stspilot
// reports names the live policy by the id from the journal the run wrote.
func TestWorkflowEvidenceGate(t *testing.T) {
	w := newWorkflowRun(t)
	common := []string{"--provider", "rfc2136", "--publish", w.publish(), "--ladder", testLadder}
	t.Cleanup(func() {
		if ids, _ := queryTXT(w.env["WORLD_DNS"], "_mta-sts."+ladderDomain); len(ids) > 0 || fetchAll(w.t, ladderDomain, ladderAddrs)[0] != "" {
			w.run(nil, append([]string{"teardown", ladderDomain, "--wait", "--last-max-age", "10s", "--adopt-live"}, common...)...)
		}
	})
	out := w.must(0, append([]string{"rollout", ladderDomain, "--rua", "mailto:tlsrpt@" + ladderDomain}, common...)...)
	id, _ := field(out, "policy", "id").(string)
	policy := fetchAll(w.t, ladderDomain, ladderAddrs)[0]
	if id == "" || !strings.Contains(policy, "mode: testing") {
		t.Fatalf("rollout: %v, served %q", out, policy)
	}
	reports := t.TempDir()

	// No reports for the live policy: refused, and the without-reports
	// override named (stspilot.event/v2 names overrides by their codes).
	out = w.must(5, "promote", ladderDomain, "--reports", reports, "--wait")
	if r, _ := field(out, "refusal", "override").(string); r != "without-reports" {
		t.Errorf("no reports: %v", out)
	}

	// A report with failures at an MX no pattern covers: refused, no override.
	writeWorldReport(t, reports, "Google Inc.", ladderDomain, policy, "mx9."+ladderDomain, 40)
	out = w.must(5, "promote", ladderDomain, "--reports", reports, "--wait")
	details := fmt.Sprint(field(out, "refusal", "details"))
	if field(out, "refusal", "override") != nil || !strings.Contains(details, "mx9."+ladderDomain+" is not covered by any mx pattern") {
		t.Fatalf("failures: %v", out)
	}
	if ids, _ := queryTXT(w.env["WORLD_DNS"], "_mta-sts."+ladderDomain); len(ids) != 1 || !strings.Contains(ids[0], id) {
		t.Fatalf("a refused promote changed the id: %q", ids)
	}

	// stspilot reports reads the same directory and names the policy id
	// from the journal the rollout wrote.
	stdout, stderr, code := runStspilot(t, "reports", "--json", "--domain", ladderDomain, "--state-dir", w.state, reports)
	var doc struct {
		Summary struct {
			Failed   int `json:"failed_sessions"`
			Policies []struct{ ID string }
		}
	}
	if code != 0 || json.Unmarshal([]byte(stdout), &doc) != nil || doc.Summary.Failed != 9 || len(doc.Summary.Policies) != 1 || doc.Summary.Policies[0].ID != id {
		t.Errorf("stspilot reports: exit %d, want policy id %s\n%s\n%s", code, id, stdout, stderr)
	}

	// Clean reports: promote climbs to enforce.
	writeWorldReport(t, reports, "Google Inc.", ladderDomain, policy, "", 40)
	out = w.must(0, "promote", ladderDomain, "--reports", reports, "--wait")
	if field(out, "policy", "mode") != "enforce" {
		t.Fatalf("promote on clean reports: %v", out)
	}
	w.must(0, append([]string{"teardown", ladderDomain, "--wait"}, common...)...)
}
