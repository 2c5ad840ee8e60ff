package checks

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stspilot/stspilot/checks/certs"
	"github.com/stspilot/stspilot/checks/checktest"
	"github.com/stspilot/stspilot/checks/mtasts"
)

// TestStageJSON: the typed stage writes the same JSON as the string it
// replaced, left out when empty (docs/json.md: a report with error set has
// no stage), and reading refuses a stage the schema does not name.
func TestStageJSON(t *testing.T) {
	for _, s := range []Stage{"", StageAbsent, StageTesting, StageEnforce, StageNone, StageBroken} {
		b, err := json.Marshal(Report{Stage: s})
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(struct {
			Schema     string `json:"schema"`
			Domain     string `json:"domain"`
			CheckedAt  string `json:"checked_at"`
			DurationMS int64  `json:"duration_ms"`
			Stage      string `json:"stage,omitempty"`
			Findings   []int  `json:"findings"`
		}{CheckedAt: "0001-01-01T00:00:00Z", Stage: string(s)})
		if string(b) != string(want) {
			t.Errorf("stage %q: %s, want %s", s, b, want)
		}
		var back Report
		if err := json.Unmarshal(b, &back); err != nil || back.Stage != s {
			t.Errorf("stage %q read back as %q (%v)", s, back.Stage, err)
		}
	}
	var r Report
	if err := json.Unmarshal([]byte(`{"stage":"enforcing"}`), &r); err == nil {
		t.Error("an unknown stage was accepted")
	}
}

// TestLiveIsWhatTheReportShows: the typed observations and the report's
// view agree, and the MX TLS results are classified.
func TestLiveIsWhatTheReportShows(t *testing.T) {
	r := newScenario(t, "healthy.example.test", setup{mode: "enforce", maxAge: 604800}).run()
	l := r.Live
	if l == nil {
		t.Fatal("no observations")
	}
	if l.Stage != r.Stage || l.Stage != StageEnforce || l.STS.ID == "" || l.STS.ID != r.STS.ID || strings.Join(l.STS.Records, "|") != strings.Join(r.STS.Records, "|") {
		t.Errorf("sts: live %+v, report stage %s sts %+v", l, r.Stage, r.STS)
	}
	if l.Policy == nil || l.Policy.Mode != mtasts.ModeEnforce || string(l.Served) != r.Policy.Text || l.Policy.MaxAge != r.Policy.MaxAge || l.PolicyGone {
		t.Errorf("policy: live %+v served %q, report %+v", l.Policy, l.Served, r.Policy)
	}
	if len(l.MX) != len(r.MX) || len(l.MX) == 0 {
		t.Fatalf("mx: live %+v, report %+v", l.MX, r.MX)
	}
	for i, m := range l.MX {
		if m.Host != r.MX[i].Host || len(m.Addrs) == 0 {
			t.Errorf("mx %d: %+v", i, m)
		}
		for _, a := range m.Addrs {
			if a.TLS != TLSOK || a.TLSVersion == "" {
				t.Errorf("mx %s %s: %+v", m.Host, a.Addr, a)
			}
		}
	}
	if l.TLSRPT.Records == nil || strings.Join(l.TLSRPT.Records, "|") != strings.Join(r.TLSRPT.Records, "|") {
		t.Errorf("tlsrpt: live %+v, report %+v", l.TLSRPT, r.TLSRPT)
	}

	for name, c := range map[string]struct {
		opts func(w *checktest.World, h string) checktest.MXOpts
		want TLSResult
	}{
		"no STARTTLS": {func(w *checktest.World, h string) checktest.MXOpts { return checktest.MXOpts{NoSTARTTLS: true} }, TLSNoSTARTTLS},
		"wrong name": {func(w *checktest.World, h string) checktest.MXOpts {
			return checktest.MXOpts{Cert: w.Leaf([]string{"other.example.test"}, checktest.CertOpts{})}
		}, TLSBadCert},
	} {
		r := newScenario(t, "bad.example.test", setup{mxOpts: c.opts}).run()
		if r.Live == nil || len(r.Live.MX) == 0 || len(r.Live.MX[0].Addrs) == 0 {
			t.Fatalf("%s: no MX observed", name)
		}
		a := r.Live.MX[0].Addrs[0]
		if a.TLS != c.want || (c.want == TLSBadCert) != (a.CertProblem != certs.OK) {
			t.Errorf("%s: %+v, want %s", name, a, c.want)
		}
	}
}
