package serve

import (
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// SenderClass is a small fixed set of sender kinds read from a fetch's
// User-Agent, for the fetch counter's sender label and for status.
type SenderClass uint8

// The classes, in label order.
const (
	SenderGoogle    SenderClass = iota // Google-SMTP-STS
	SenderMicrosoft                    // no User-Agent at all (Microsoft 365 sends none)
	SenderPMSR                         // postfix-mta-sts-resolver
	SenderTLSPol                       // postfix-tlspol
	SenderGo                           // Go's default Go-http-client: go-mtasts (maddy), mox
	SenderBrowser                      // Mozilla/...: a person or a checker
	SenderOther
	numSenderClasses
)

var senderNames = [numSenderClasses]string{"google", "microsoft", "postfix-mta-sts-resolver", "postfix-tlspol", "go", "browser", "other"}

// String is the class's label value.
func (c SenderClass) String() string {
	if c >= numSenderClasses {
		return "other"
	}
	return senderNames[c]
}

// SenderClasses lists every class, in order.
func SenderClasses() []SenderClass {
	out := make([]SenderClass, numSenderClasses)
	for i := range out {
		out[i] = SenderClass(i)
	}
	return out
}

// senderRules classify a non-empty User-Agent: the first rule whose text is
// in it (at its start, for a prefix rule) names the class; none, "other".
// stspilot's own fetches (its checks, watch and the served gate, whose
// User-Agent says "like Google-SMTP-STS") are "other": counted as google
// they would look like evidence that Google has the id.
var senderRules = [...]struct {
	text   string
	prefix bool
	class  SenderClass
}{
	{"stspilot ", true, SenderOther},
	{"Google-SMTP-STS", false, SenderGoogle},
	{"mta-sts-resolver", false, SenderPMSR},
	{"tlspol", false, SenderTLSPol},
	{"Go-http-client/", true, SenderGo},
	{"Mozilla/", true, SenderBrowser},
}

// ClassifySender reads the sender class from a User-Agent (senderRules;
// none at all is Microsoft 365); it allocates nothing.
func ClassifySender(ua string) SenderClass {
	if ua == "" {
		return SenderMicrosoft
	}
	for _, r := range &senderRules {
		if r.prefix && strings.HasPrefix(ua, r.text) || !r.prefix && strings.Contains(ua, r.text) {
			return r.class
		}
	}
	return SenderOther
}

// FetchCounts counts the fetches of one policy id of one domain by sender
// class. It is resolved once, when the policy is read, and cached with it,
// so that counting a fetch is one atomic add.
type FetchCounts struct {
	domain, id string
	n          [numSenderClasses]atomic.Uint64
}

// Inc counts one fetch by class c; a nil FetchCounts counts nothing.
func (f *FetchCounts) Inc(c SenderClass) {
	if f == nil || c >= numSenderClasses {
		return
	}
	f.n[c].Add(1)
}

type countsKey struct{ domain, id string }

// KeptIDs is how many policy ids of a domain keep their fetch counters: the
// current one and the previous ones, so that a rollback's evidence (which
// senders fetched the new id, which still fetch an old one) stays visible
// for a while. Older ids' series are dropped, so a long-running serve
// keeps a bounded number of series per domain.
const KeptIDs = 4

// countsFor is the one FetchCounts of (domain, id), now the domain's
// current id; p.mu is held. It drops the counters of the domain's ids
// older than the last KeptIDs.
func (p *Policies) countsFor(domain, id string) *FetchCounts {
	if p.ids == nil {
		p.ids = map[string][]string{}
	}
	// ids[domain] lists the domain's ids with counters, oldest first.
	ids := p.ids[domain]
	if i := slices.Index(ids, id); i >= 0 {
		ids = slices.Delete(ids, i, i+1)
	}
	ids = append(ids, id)
	for len(ids) > KeptIDs {
		delete(p.counts, countsKey{domain, ids[0]})
		ids = slices.Delete(ids, 0, 1)
	}
	p.ids[domain] = ids
	k := countsKey{domain, id}
	if c, ok := p.counts[k]; ok {
		return c
	}
	if p.counts == nil {
		p.counts = map[countsKey]*FetchCounts{}
	}
	c := &FetchCounts{domain: domain, id: id}
	p.counts[k] = c
	return c
}

// dropCounts drops every fetch and report counter of domain, no longer
// served; p.mu is held.
func (p *Policies) dropCounts(domain string) {
	for _, id := range p.ids[domain] {
		delete(p.counts, countsKey{domain, id})
	}
	delete(p.ids, domain)
	delete(p.reports, domain)
}

// The results a report is counted by, in label order.
const (
	reportStored    = iota // 201
	reportDuplicate        // 200
	reportRejected         // 4xx
	reportFailed           // 5xx
	numReportResults
)

var reportResultNames = [numReportResults]string{"stored", "duplicate", "rejected", "failed"}

// ReportCounts counts the reports POSTed for one served domain by result.
// Like FetchCounts it is resolved when the policy is read, so that
// counting is one atomic add, and dropped with the domain's fetch
// counters when the domain is no longer served.
type ReportCounts struct {
	domain string
	n      [numReportResults]atomic.Uint64
}

// inc counts one report answered status; a nil ReportCounts counts
// nothing.
func (r *ReportCounts) inc(status int) {
	if r == nil {
		return
	}
	res := reportRejected
	switch {
	case status == http.StatusCreated:
		res = reportStored
	case status == http.StatusOK:
		res = reportDuplicate
	case status >= 500:
		res = reportFailed
	}
	r.n[res].Add(1)
}

// reportsFor is the one ReportCounts of domain; p.mu is held.
func (p *Policies) reportsFor(domain string) *ReportCounts {
	if r, ok := p.reports[domain]; ok {
		return r
	}
	if p.reports == nil {
		p.reports = map[string]*ReportCounts{}
	}
	r := &ReportCounts{domain: domain}
	p.reports[domain] = r
	return r
}

// prune looks again at every domain with counters, so that those whose
// policy is gone from the publish directory drop their series (Lookup
// forgets them) also when nobody fetches from them any more.
func (p *Policies) prune() {
	p.mu.Lock()
	domains := slices.Collect(maps.Keys(p.reports))
	p.mu.Unlock()
	for _, d := range domains {
		_, _ = p.Lookup(d)
	}
}

// Metrics are serve's Prometheus metrics (docs/monitoring.md). They are
// all read at scrape time from atomic counters: counting stays off the
// requests' path.
type Metrics struct {
	fetches, reports, refused *prometheus.Desc
	pol                       *Policies
	// conns is the connection tracker of the Server using m (set by New;
	// nil before: its counters are 0).
	conns atomic.Pointer[connTracker]
}

// NewMetrics registers serve's metrics with reg: the policy fetches and
// reports that pol counts, and the connections the Server given m in its
// Config refuses or closes.
func NewMetrics(reg prometheus.Registerer, pol *Policies) *Metrics {
	m := &Metrics{
		fetches: prometheus.NewDesc("stspilot_serve_policy_fetches_total",
			"Policy fetches answered 200, by domain, sender class (from the User-Agent) and the policy id served.",
			[]string{"domain", "sender", "id"}, nil),
		reports: prometheus.NewDesc("stspilot_serve_reports_received_total",
			"TLS-RPT reports POSTed for a served domain, by result: stored, duplicate, rejected (4xx), failed (5xx).",
			[]string{"domain", "result"}, nil),
		refused: prometheus.NewDesc("stspilot_serve_connections_refused_total",
			"Connections closed by the connection caps and timeouts, by reason: per_client_cap, global_cap, idle_evicted, first_request_timeout.",
			[]string{"reason"}, nil),
		pol: pol,
	}
	reg.MustRegister(m)
	return m
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.fetches
	ch <- m.reports
	ch <- m.refused
}

// Collect implements prometheus.Collector: the counts, read at scrape
// time, after the domains no longer served are pruned.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.pol.prune()
	m.pol.mu.Lock()
	fetches := slices.Collect(maps.Values(m.pol.counts))
	reports := slices.Collect(maps.Values(m.pol.reports))
	m.pol.mu.Unlock()
	for _, c := range fetches {
		for i := range c.n {
			ch <- prometheus.MustNewConstMetric(m.fetches, prometheus.CounterValue, float64(c.n[i].Load()), c.domain, senderNames[i], c.id)
		}
	}
	for _, r := range reports {
		for i := range r.n {
			ch <- prometheus.MustNewConstMetric(m.reports, prometheus.CounterValue, float64(r.n[i].Load()), r.domain, reportResultNames[i])
		}
	}
	t := m.conns.Load()
	for r := range numConnReasons {
		var n uint64
		if t != nil {
			n = t.events[r].n.Load()
		}
		ch <- prometheus.MustNewConstMetric(m.refused, prometheus.CounterValue, float64(n), r.String())
	}
}
