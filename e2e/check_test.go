package e2e

import (
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"testing"
)

// checkReport is the part of `stspilot check --json` (docs/json.md) these
// tests read.
type checkReport struct {
	Schema   string `json:"schema"`
	Domain   string `json:"domain"`
	Stage    string `json:"stage"`
	Error    string `json:"error"`
	Findings []struct {
		ID       string `json:"id"`
		Severity string `json:"severity"`
		Area     string `json:"area"`
		Subject  string `json:"subject"`
		Fix      string `json:"fix"`
	} `json:"findings"`
}

func checkJSON(t *testing.T, domain string) (checkReport, int) {
	t.Helper()
	out, errOut, code := runStspilot(t, "check", "--json", domain)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1 {
		t.Fatalf("--json printed %d lines, want 1:\n%s\nstderr: %s", len(lines), out, errOut)
	}
	var r checkReport
	if err := json.Unmarshal([]byte(lines[0]), &r); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, out)
	}
	if r.Schema != "stspilot.check/v1" || r.Domain != domain {
		t.Fatalf("schema %q domain %q", r.Schema, r.Domain)
	}
	if r.Error != "" {
		t.Fatalf("%s could not be checked: %s", domain, r.Error)
	}
	return r, code
}

func idsOf(r checkReport, sev string) []string {
	set := map[string]bool{}
	for _, f := range r.Findings {
		if f.Severity == sev {
			set[f.ID] = true
		}
	}
	out := make([]string, 0, len(set))
	for id := range set {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// TestCheckScenarios runs the built binary against every scenario of the
// real-server world and asserts the exact error finding ids, the expected
// warnings and the exit code, in JSON and in human mode.
func TestCheckScenarios(t *testing.T) {
	needWorld(t)
	for _, sc := range Scenarios {
		t.Run(sc.Name, func(t *testing.T) {
			t.Parallel()
			r, code := checkJSON(t, sc.Domain)
			want := slices.Clone(sc.WantFindings)
			sort.Strings(want)
			if got := idsOf(r, "error"); !slices.Equal(got, want) {
				t.Errorf("%s (%v): error findings %v, want %v", sc.Domain, sc.Rules, got, want)
			}
			warns := idsOf(r, "warn")
			for _, w := range sc.WantWarnings {
				if !slices.Contains(warns, w) {
					t.Errorf("%s: warning %s missing (warnings: %v)", sc.Domain, w, warns)
				}
			}
			if code != sc.WantExit {
				t.Errorf("%s: --json exit %d, want %d", sc.Domain, code, sc.WantExit)
			}
			for _, f := range r.Findings {
				if f.Severity != "info" && f.Fix == "" && f.ID != "mx.too-many" {
					t.Errorf("%s: %s has no fix", sc.Domain, f.ID)
				}
			}
			out, _, hcode := runStspilot(t, "check", sc.Domain)
			if hcode != code {
				t.Errorf("%s: human exit %d, JSON exit %d", sc.Domain, hcode, code)
			}
			for _, id := range want {
				if !strings.Contains(out, id) {
					t.Errorf("%s: human output does not name %s:\n%s", sc.Domain, id, out)
				}
			}
		})
	}
}

// TestCheckAgreesWithOracles holds stspilot to the real senders: whatever
// mta-sts-query fails to fetch or parse, and whatever MX posttls-finger fails
// to verify under a policy, must be an error finding; and every domain that
// check calls healthy must be accepted by both oracles.
func TestCheckAgreesWithOracles(t *testing.T) {
	needWorld(t)
	for _, sc := range Scenarios {
		t.Run(sc.Name, func(t *testing.T) {
			t.Parallel()
			r, code := checkJSON(t, sc.Domain)
			sts, stsOut := stsQuery(t, sc.Domain)
			hasErr := func(pred func(area, subject string) bool) bool {
				for _, f := range r.Findings {
					if f.Severity == "error" && pred(f.Area, f.Subject) {
						return true
					}
				}
				return false
			}
			if sts == STSFetchError && !hasErr(func(a, _ string) bool { return a == "sts" || a == "policy" || a == "teardown" }) {
				t.Errorf("%s: mta-sts-query cannot fetch the policy (%s) but check reports no sts/policy error", sc.Domain, strings.TrimSpace(stsOut))
			}
			underPolicy := r.Stage == "testing" || r.Stage == "enforce"
			for _, mx := range sc.MX {
				for _, ip := range addrs(t, mx.Host) {
					v, out := tlsCheck(t, mx.Host, ip)
					if v == TLSVerified || !underPolicy {
						continue
					}
					if !hasErr(func(a, s string) bool { return (a == "tls" || a == "mx") && strings.HasPrefix(s, mx.Host) }) {
						t.Errorf("%s: posttls-finger says %s for %s [%s] but check reports no MX error\n%s", sc.Domain, v, mx.Host, ip, out)
					}
				}
			}
			if code == 0 && r.Stage != "absent" && r.Stage != "none" {
				if sts != STSValid {
					t.Errorf("%s: check calls it healthy, mta-sts-query says %s: %s", sc.Domain, sts, stsOut)
				}
				for _, mx := range sc.MX {
					for _, ip := range addrs(t, mx.Host) {
						if v, out := tlsCheck(t, mx.Host, ip); v != TLSVerified && r.Stage == "enforce" {
							t.Errorf("%s: check calls enforce healthy, posttls-finger says %s for %s: %s", sc.Domain, v, mx.Host, out)
						}
					}
				}
			}
		})
	}
}
