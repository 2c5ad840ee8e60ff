package watch

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/stspilot/stspilot/checks"
)

func TestMetricsValues(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	exp1 := time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)
	exp2 := exp1.Add(24 * time.Hour)
	rep := &checks.Report{
		Domain: "a.test", DurationMS: 1500, Findings: []checks.Finding{
			fnd("mx.uncovered", "mx2.a.test", checks.SevError), fnd("tlsrpt.missing", "_smtp._tls.a.test", checks.SevWarn), fnd("policy.id-drift", "x", checks.SevError),
		},
		Policy: &checks.PolicyInfo{Host: "mta-sts.a.test", Mode: "enforce", MaxAge: 604800, Fetch: []checks.FetchInfo{{CertExpiry: exp2.Format(time.RFC3339)}, {CertExpiry: exp1.Format(time.RFC3339)}}},
		MX:     []checks.MXInfo{{Host: "mx1.a.test", Addrs: []checks.MXAddrInfo{{CertExpiry: exp2.Format(time.RFC3339)}}}, {Host: "mx2.a.test"}},
	}
	until := t0.Add(7 * 24 * time.Hour)
	m.Observe(Checked{Domain: "a.test", Report: rep, Horizon: Horizon{"enforce": until}})

	want := `
# HELP stspilot_cert_expiry_timestamp_seconds Expiry (Unix time) of the earliest certificate of an MX host or the policy host.
# TYPE stspilot_cert_expiry_timestamp_seconds gauge
stspilot_cert_expiry_timestamp_seconds{domain="a.test",host="mta-sts.a.test",role="policy"} ` + itoa(exp1.Unix()) + `
stspilot_cert_expiry_timestamp_seconds{domain="a.test",host="mx1.a.test",role="mx"} ` + itoa(exp2.Unix()) + `
# HELP stspilot_check_duration_seconds How long the last check of the domain took.
# TYPE stspilot_check_duration_seconds gauge
stspilot_check_duration_seconds{domain="a.test"} 1.5
# HELP stspilot_check_findings Findings of the last completed check of the domain, by severity.
# TYPE stspilot_check_findings gauge
stspilot_check_findings{domain="a.test",severity="error"} 2
stspilot_check_findings{domain="a.test",severity="info"} 0
stspilot_check_findings{domain="a.test",severity="warn"} 1
# HELP stspilot_check_up 1 when the last check of the domain completed, 0 when it could not be made.
# TYPE stspilot_check_up gauge
stspilot_check_up{domain="a.test"} 1
# HELP stspilot_horizon_timestamp_seconds Until when (Unix time) senders may hold a policy of the domain, by mode (the journal's horizon; without a journal, the live policy's max_age from now).
# TYPE stspilot_horizon_timestamp_seconds gauge
stspilot_horizon_timestamp_seconds{domain="a.test",mode="enforce"} ` + itoa(until.Unix()) + `
# HELP stspilot_policy_max_age_seconds max_age of the policy the domain serves, by its mode.
# TYPE stspilot_policy_max_age_seconds gauge
stspilot_policy_max_age_seconds{domain="a.test",mode="enforce"} 604800
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}

	// a failed check: up 0, the rest as the last completed check left it
	m.Observe(Checked{Domain: "a.test", Report: &checks.Report{Domain: "a.test", Error: "no DNS", DurationMS: 250}})
	if got := testutil.ToFloat64(m.up.WithLabelValues("a.test")); got != 0 {
		t.Errorf("up after a failed check: %v", got)
	}
	if got := testutil.ToFloat64(m.findings.WithLabelValues("a.test", "error")); got != 2 {
		t.Errorf("findings after a failed check: %v", got)
	}
	// a completed check without MX or policy drops their series
	m.Observe(Checked{Domain: "a.test", Report: &checks.Report{Domain: "a.test", Findings: []checks.Finding{}}})
	if n := testutil.CollectAndCount(m.certExpiry); n != 0 {
		t.Errorf("%d certificate series left", n)
	}
	if n := testutil.CollectAndCount(m.maxAge); n != 0 {
		t.Errorf("%d max_age series left", n)
	}
	if got := testutil.ToFloat64(m.findings.WithLabelValues("a.test", "error")); got != 0 {
		t.Errorf("findings: %v", got)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// The mode label comes from the text a policy host serves: a mode that is
// not valid UTF-8 made WithLabelValues panic and took the whole watch
// down, and any other text became a label value as long as the line.
// Only the modes senders know label the max_age series.
func TestMetricsHostileMode(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	for _, mode := range []string{"enf\xffx", `x{a="b"}\` + "\n", strings.Repeat("m", 60000)} {
		rep := &checks.Report{Domain: "a.test", Policy: &checks.PolicyInfo{Host: "mta-sts.a.test", Mode: mode, MaxAge: 86400}}
		m.Observe(Checked{Domain: "a.test", Report: rep})
		if n := testutil.CollectAndCount(m.maxAge); n != 0 {
			t.Errorf("mode %.20q: %d max_age series", mode, n)
		}
	}
	if _, err := reg.Gather(); err != nil {
		t.Fatal(err)
	}
	rep := &checks.Report{Domain: "a.test", Policy: &checks.PolicyInfo{Host: "mta-sts.a.test", Mode: "none", MaxAge: 86400}}
	m.Observe(Checked{Domain: "a.test", Report: rep})
	if got := testutil.ToFloat64(m.maxAge.WithLabelValues("a.test", "none")); got != 86400 {
		t.Errorf("mode none: %v", got)
	}
}

// The horizon's modes come from the journal's ledger, which enters a
// policy found live with the mode as served: text a policy host chose
// (read back from the journal, U+FFFD for bytes that were not UTF-8) must
// not become a label, and a Horizon that is not UTF-8 must not panic.
func TestMetricsHostileHorizonMode(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	rep := &checks.Report{Domain: "a.test"}
	until := t0.Add(24 * time.Hour)
	m.Observe(Checked{Domain: "a.test", Report: rep, Horizon: Horizon{"enf\xffx": until, "enf\ufffdx{a=\"b\"}": until, "enforce": until}})
	if n := testutil.CollectAndCount(m.horizon); n != 1 {
		t.Errorf("%d horizon series, want enforce's alone", n)
	}
	if got := testutil.ToFloat64(m.horizon.WithLabelValues("a.test", "enforce")); got != float64(until.Unix()) {
		t.Errorf("enforce horizon %v", got)
	}
}
