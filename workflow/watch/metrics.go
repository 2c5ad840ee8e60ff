package watch

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stspilot/stspilot/checks"
	"github.com/stspilot/stspilot/checks/mtasts"
)

// Metrics are watch's Prometheus metrics; the names and labels are a
// contract (docs/monitoring.md).
type Metrics struct {
	findings   *prometheus.GaugeVec
	up         *prometheus.GaugeVec
	duration   *prometheus.GaugeVec
	maxAge     *prometheus.GaugeVec
	certExpiry *prometheus.GaugeVec
	horizon    *prometheus.GaugeVec
}

// NewMetrics registers watch's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	g := func(name, help string, labels ...string) *prometheus.GaugeVec {
		v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
		reg.MustRegister(v)
		return v
	}
	return &Metrics{
		findings:   g("stspilot_check_findings", "Findings of the last completed check of the domain, by severity.", "domain", "severity"),
		up:         g("stspilot_check_up", "1 when the last check of the domain completed, 0 when it could not be made.", "domain"),
		duration:   g("stspilot_check_duration_seconds", "How long the last check of the domain took.", "domain"),
		maxAge:     g("stspilot_policy_max_age_seconds", "max_age of the policy the domain serves, by its mode.", "domain", "mode"),
		certExpiry: g("stspilot_cert_expiry_timestamp_seconds", "Expiry (Unix time) of the earliest certificate of an MX host or the policy host.", "domain", "host", "role"),
		horizon:    g("stspilot_horizon_timestamp_seconds", "Until when (Unix time) senders may hold a policy of the domain, by mode (the journal's horizon; without a journal, the live policy's max_age from now).", "domain", "mode"),
	}
}

var severities = []checks.Severity{checks.SevError, checks.SevWarn, checks.SevInfo}

// Observe records one check. A check that could not be made sets up to 0
// and its duration and leaves the rest as the last completed check left
// them; a completed one replaces every series of the domain, so that an MX
// host gone from DNS loses its series.
func (m *Metrics) Observe(c Checked) {
	d, rep := c.Domain, c.Report
	m.duration.WithLabelValues(d).Set(float64(rep.DurationMS) / 1000)
	if rep.Error != "" {
		m.up.WithLabelValues(d).Set(0)
		return
	}
	m.up.WithLabelValues(d).Set(1)
	counts := map[checks.Severity]int{}
	for _, f := range rep.Findings {
		counts[f.Severity]++
	}
	for _, s := range severities {
		m.findings.WithLabelValues(d, string(s)).Set(float64(counts[s]))
	}
	only := prometheus.Labels{"domain": d}
	m.maxAge.DeletePartialMatch(only)
	// The mode is text the policy host served: only a mode senders know
	// labels a series (other text, even bytes that are not UTF-8, which
	// the client library panics on, would be a label value).
	if p := rep.Policy; p != nil && mtasts.Mode(p.Mode).Valid() {
		m.maxAge.WithLabelValues(d, p.Mode).Set(float64(p.MaxAge))
	}
	m.certExpiry.DeletePartialMatch(only)
	if p := rep.Policy; p != nil {
		if t, ok := earliestExpiry(len(p.Fetch), func(i int) string { return p.Fetch[i].CertExpiry }); ok {
			m.certExpiry.WithLabelValues(d, p.Host, "policy").Set(float64(t.Unix()))
		}
	}
	for _, mx := range rep.MX {
		if t, ok := earliestExpiry(len(mx.Addrs), func(i int) string { return mx.Addrs[i].CertExpiry }); ok {
			m.certExpiry.WithLabelValues(d, mx.Host, "mx").Set(float64(t.Unix()))
		}
	}
	m.horizon.DeletePartialMatch(only)
	for mode, t := range c.Horizon {
		// The ledger's modes are as a policy host served them (a policy
		// found live enters it as it was): the same guard as max_age's.
		if !mtasts.Mode(mode).Valid() {
			continue
		}
		m.horizon.WithLabelValues(d, mode).Set(float64(t.Unix()))
	}
}

func earliestExpiry(n int, at func(int) string) (time.Time, bool) {
	var first time.Time
	ok := false
	for i := range n {
		t, err := time.Parse(time.RFC3339, at(i))
		if err != nil {
			continue
		}
		if !ok || t.Before(first) {
			first, ok = t, true
		}
	}
	return first, ok
}
