package serve

import (
	"bytes"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/stspilot/stspilot/checks/httpsprobe"
	"github.com/stspilot/stspilot/workflow"
)

func TestClassifySender(t *testing.T) {
	for ua, want := range map[string]string{
		"":                "microsoft",
		"Google-SMTP-STS": "google",
		"Mozilla/5.0 (compatible; Google-SMTP-STS)":    "google",
		"postfix-mta-sts-resolver/1.4.0":               "postfix-mta-sts-resolver",
		"postfix-tlspol/1.8":                           "postfix-tlspol",
		"Go-http-client/1.1":                           "go",
		"Go-http-client/2.0":                           "go",
		"Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0": "browser",
		"curl/8.5.0":                                   "other",
		httpsprobe.SenderUA:                            "other", // stspilot's own checks: not Google
		httpsprobe.BrowserUA:                           "browser",
	} {
		if got := ClassifySender(ua).String(); got != want {
			t.Errorf("ClassifySender(%q) = %s, want %s", ua, got, want)
		}
	}
	var fc FetchCounts
	if n := testing.AllocsPerRun(100, func() { fc.Inc(ClassifySender("postfix-mta-sts-resolver/1.4.0")) }); n != 0 {
		t.Errorf("classifying and counting a fetch allocates %v times", n)
	}
}

// Fetches are counted by domain, sender class and the id serve published;
// a new id starts new series and the old one keeps its count; reports are
// counted by result.
func TestServeMetrics(t *testing.T) {
	state := t.TempDir()
	publishID(t, state, "a.test", []byte(policyA), "20261206120000aaaaaaaa")
	pol := NewPolicies(state)
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg, pol)
	h := &Handler{Policies: pol, RUAPath: "/tlsrpt", Receiver: &Receiver{StateDir: state, Validate: Validate}}
	get := func(ua string) {
		req := httptest.NewRequest("GET", policyPath, nil)
		req.Host = "mta-sts.a.test"
		if ua != "" {
			req.Header.Set("User-Agent", ua)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			t.Fatalf("fetch: %d", rec.Code)
		}
	}
	get("Google-SMTP-STS")
	get("Google-SMTP-STS")
	get("")
	get("Go-http-client/1.1")
	publishID(t, state, "a.test", []byte(policyA+"x"), "20261206130000bbbbbbbb")
	get("postfix-mta-sts-resolver/1.4")

	post := func(body string) int {
		req := httptest.NewRequest("POST", "/tlsrpt", bytes.NewReader([]byte(body)))
		req.Host = "mta-sts.a.test"
		req.Header.Set("Content-Type", "application/tlsrpt+json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	if c := post(sampleReport); c != http.StatusCreated {
		t.Fatalf("report: %d", c)
	}
	post(sampleReport)
	post("{not json")

	val := func(name string, labels ...string) float64 { return counterValue(t, reg, name, labels...) }
	const fetches = "stspilot_serve_policy_fetches_total"
	for _, c := range []struct {
		sender, id string
		want       float64
	}{
		{"google", "20261206120000aaaaaaaa", 2},
		{"microsoft", "20261206120000aaaaaaaa", 1},
		{"go", "20261206120000aaaaaaaa", 1},
		{"browser", "20261206120000aaaaaaaa", 0},
		{"postfix-mta-sts-resolver", "20261206130000bbbbbbbb", 1},
		{"google", "20261206130000bbbbbbbb", 0},
	} {
		if got := val(fetches, "domain", "a.test", "sender", c.sender, "id", c.id); got != c.want {
			t.Errorf("%s %s: %v fetches, want %v", c.sender, c.id, got, c.want)
		}
	}
	if n := testutil.CollectAndCount(m, fetches); n != 14 {
		t.Errorf("%d fetch series, want 7 classes x 2 ids", n)
	}
	const reports = "stspilot_serve_reports_received_total"
	for res, want := range map[string]float64{"stored": 1, "duplicate": 1, "rejected": 1} {
		if got := val(reports, "domain", "a.test", "result", res); got != want {
			t.Errorf("reports %s: %v, want %v", res, got, want)
		}
	}
	if probs, err := testutil.GatherAndLint(reg); err != nil || len(probs) > 0 {
		t.Errorf("lint: %v %+v", err, probs)
	}
}

// Counting a fetch allocates nothing beyond what serving it does: the
// counter is cached with the policy.
func BenchmarkFetchCounted(b *testing.B) {
	state := b.TempDir()
	publishID(b, state, "a.test", []byte(policyA), "20261206120000aaaaaaaa")
	pol := NewPolicies(state)
	NewMetrics(prometheus.NewRegistry(), pol)
	p, err := pol.Lookup("a.test")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		p.Counts.Inc(ClassifySender("Google-SMTP-STS"))
	}
}

// A long-running serve keeps the fetch series of a domain's last KeptIDs
// ids only: older ids' series are dropped, an id published again counts as
// the newest, and a domain no longer served drops all of its series.
func TestServeMetricsBounded(t *testing.T) {
	state := t.TempDir()
	pol := NewPolicies(state)
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg, pol)
	const fetches = "stspilot_serve_policy_fetches_total"
	id := func(i int) string { return fmt.Sprintf("202612061200%02daaaaaaaa", i) }
	publish := func(i int) {
		t.Helper()
		publishID(t, state, "a.test", []byte(policyA+strings.Repeat("x", i)), id(i))
		p, err := pol.Lookup("a.test")
		if err != nil || p.ID != id(i) {
			t.Fatalf("lookup %d: %q %v", i, p.ID, err)
		}
		p.Counts.Inc(SenderGoogle)
	}
	ids := func() []string {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, mf := range mfs {
			if mf.GetName() != fetches {
				continue
			}
			for _, mt := range mf.GetMetric() {
				for _, lp := range mt.GetLabel() {
					if lp.GetName() == "id" {
						seen[lp.GetValue()] = true
					}
				}
			}
		}
		return slices.Sorted(maps.Keys(seen))
	}
	for i := range 10 {
		publish(i)
	}
	if n := testutil.CollectAndCount(m, fetches); n != KeptIDs*int(numSenderClasses) {
		t.Errorf("%d fetch series after 10 ids, want %d ids x %d classes", n, KeptIDs, numSenderClasses)
	}
	if got, want := ids(), []string{id(6), id(7), id(8), id(9)}; !slices.Equal(got, want) {
		t.Errorf("ids with series %v, want %v", got, want)
	}
	// A rollback to id 7, kept, keeps its count and makes it the newest:
	// the next two ids drop 6 and 8, not 7.
	publish(7)
	publish(10)
	publish(11)
	if got, want := ids(), []string{id(10), id(11), id(7), id(9)}; !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		t.Errorf("ids with series %v, want %v", got, want)
	}
	var got7 float64
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		for _, mt := range mf.GetMetric() {
			var isID, isGoogle bool
			for _, lp := range mt.GetLabel() {
				isID = isID || (lp.GetName() == "id" && lp.GetValue() == id(7))
				isGoogle = isGoogle || (lp.GetName() == "sender" && lp.GetValue() == "google")
			}
			if isID && isGoogle {
				got7 = mt.GetCounter().GetValue()
			}
		}
	}
	if got7 != 2 {
		t.Errorf("id 7 counted %v google fetches, want 2 (kept across the rollback)", got7)
	}
	// The domain is no longer served: its series go.
	if err := os.RemoveAll(filepath.Join(state, workflow.PublishDir, "a.test")); err != nil {
		t.Fatal(err)
	}
	if _, err := pol.Lookup("a.test"); err == nil {
		t.Fatal("removed domain still served")
	}
	if n := testutil.CollectAndCount(m, fetches); n != 0 {
		t.Errorf("%d fetch series of a domain no longer served", n)
	}
}

// counterValue is the value of the counter name with the label pairs
// labels gathered from reg, or -1 when there is none.
func counterValue(t *testing.T, reg prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, mt := range mf.GetMetric() {
			for i := 0; i < len(labels); i += 2 {
				found := false
				for _, lp := range mt.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue next
				}
			}
			return mt.GetCounter().GetValue()
		}
	}
	return -1
}

// A domain whose publish directory entry goes away drops its fetch and
// report series at the next scrape, also when nothing asks for it any
// more; a domain still served keeps its own.
func TestServeMetricsPruneUnpublished(t *testing.T) {
	state := t.TempDir()
	publishID(t, state, "a.test", []byte(policyA), "20261206120000aaaaaaaa")
	publishID(t, state, "b.test", []byte(policyA), "20261206120000bbbbbbbb")
	pol := NewPolicies(state)
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg, pol)
	h := &Handler{Policies: pol, RUAPath: "/tlsrpt", Receiver: &Receiver{StateDir: state, Validate: Validate}}
	for _, d := range []string{"a.test", "b.test"} {
		req := httptest.NewRequest("GET", policyPath, nil)
		req.Host = "mta-sts." + d
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			t.Fatalf("fetch from %s: %d", d, rec.Code)
		}
		req = httptest.NewRequest("POST", "/tlsrpt", strings.NewReader("{not json"))
		req.Host = "mta-sts." + d
		req.Header.Set("Content-Type", "application/tlsrpt+json")
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code < 400 || rec.Code >= 500 {
			t.Fatalf("bad report for %s: %d, want 4xx", d, rec.Code)
		}
	}
	const fetches, reports = "stspilot_serve_policy_fetches_total", "stspilot_serve_reports_received_total"
	for _, d := range []string{"a.test", "b.test"} {
		if v := counterValue(t, reg, reports, "domain", d, "result", "rejected"); v != 1 {
			t.Errorf("%s: %v rejected reports, want 1", d, v)
		}
		if v := counterValue(t, reg, reports, "domain", d, "result", "stored"); v != 0 {
			t.Errorf("%s: %v stored reports, want a 0 series", d, v)
		}
		if v := counterValue(t, reg, fetches, "domain", d, "sender", "microsoft"); v != 1 {
			t.Errorf("%s: %v fetches, want 1", d, v)
		}
	}
	if err := os.RemoveAll(filepath.Join(state, workflow.PublishDir, "a.test")); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(m, reports); n != int(numReportResults) {
		t.Errorf("%d report series after a.test went, want b.test's %d", n, numReportResults)
	}
	if n := testutil.CollectAndCount(m, fetches); n != int(numSenderClasses) {
		t.Errorf("%d fetch series after a.test went, want b.test's %d", n, numSenderClasses)
	}
	for _, name := range []string{fetches, reports} {
		if v := counterValue(t, reg, name, "domain", "a.test"); v != -1 {
			t.Errorf("%s still has a series of a.test (%v)", name, v)
		}
	}
	if v := counterValue(t, reg, reports, "domain", "b.test", "result", "rejected"); v != 1 {
		t.Errorf("b.test: %v rejected reports after a.test went, want 1", v)
	}
	// Published again, it starts from 0.
	publishID(t, state, "a.test", []byte(policyA), "20261206130000aaaaaaaa")
	if _, err := pol.Lookup("a.test"); err != nil {
		t.Fatal(err)
	}
	if v := counterValue(t, reg, reports, "domain", "a.test", "result", "rejected"); v != 0 {
		t.Errorf("a.test published again: %v rejected reports, want 0", v)
	}
}
