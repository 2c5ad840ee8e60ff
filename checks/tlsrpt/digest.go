package tlsrpt

import (
	"cmp"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/stspilot/stspilot/internal/domainname"
	"github.com/stspilot/stspilot/internal/printable"
	"github.com/stspilot/stspilot/internal/satcount"
)

// The digest: what a rollout decision needs from a pile of reports,
// aggregated as they stream by. It lives here, beside the report model,
// because it is pure arithmetic on reports that three front ends share
// (stspilot reports, the evidence gate in workflow, the wizard's reports
// view); workflow adds what needs other packages (journal ids, mx
// coverage).

// Limits of a digest, so that hostile or huge report sets keep it small.
const (
	// MaxGroupKeys caps the distinct keys of one breakdown (sending MTAs,
	// receiving IPs, ...); the rest is added up under OtherKey.
	MaxGroupKeys = 1000
	// OtherKey collects what is over MaxGroupKeys.
	OtherKey = "(other)"
	// NotGivenKey stands for a field the report left out or empty.
	NotGivenKey = "(not given)"
	// DefaultSilentAfter: a reporter is silent when its last report
	// ended more than this long before Now. Reports come some hours
	// after the day closes (RPT-DEL-11), so a day late is normal.
	DefaultSilentAfter = 3 * 24 * time.Hour
)

// Filter selects what a digest counts.
type Filter struct {
	// Domain keeps only policies[] entries for this policy domain
	// ("": every domain).
	Domain string
	// Since keeps reports whose date range ends after it (zero: all).
	Since time.Time
	// Now is the reference for silent reporters (zero: the end of the
	// latest report seen).
	Now time.Time
	// SilentAfter (<= 0: DefaultSilentAfter).
	SilentAfter time.Duration
}

// Digest aggregates reports. Add them one by one (memory grows with
// distinct days, reporters, policies and breakdown keys, never with the
// number of reports), then call Result.
type Digest struct {
	f        Filter
	sum      DigestResult
	days     map[time.Time]*DayCount
	orgs     map[string]*Reporter
	policies map[string]*PolicySeen
	groups   [numGroups]*group
	failures map[failureKey]*FailureGroup
	devs     map[string]int
	// conflict is the Conflict told for the next report Add gets.
	conflict *Conflict
}

// maxConflicts caps DigestResult.Conflicts.
const maxConflicts = 100

const (
	gResult = iota
	gOrg
	gMX
	gIP
	gMTA
	numGroups
)

type group struct {
	m     map[string]int64
	other int64
}

// add adds n under k; it reports whether the sum saturated.
func (g *group) add(k string, n int64) bool {
	if k == "" {
		k = NotGivenKey
	}
	if _, ok := g.m[k]; !ok && len(g.m) >= MaxGroupKeys {
		return satcount.AddTo(&g.other, n)
	}
	v := satcount.Add(g.m[k], n)
	g.m[k] = v
	return satcount.Saturated(v)
}

func (g *group) counts() []Count {
	out := make([]Count, 0, len(g.m)+1)
	for k, n := range g.m {
		out = append(out, Count{Key: k, Sessions: n})
	}
	sortCounts(out)
	if g.other > 0 {
		out = append(out, Count{Key: OtherKey, Sessions: g.other})
	}
	return out
}

type failureKey struct {
	policy, resultType, mx, reason string
}

// NewDigest starts an empty digest.
func NewDigest(f Filter) *Digest {
	d := &Digest{
		f:        f,
		days:     map[time.Time]*DayCount{},
		orgs:     map[string]*Reporter{},
		policies: map[string]*PolicySeen{},
		failures: map[failureKey]*FailureGroup{},
		devs:     map[string]int{},
	}
	d.f.Domain = domainname.Fold(strings.TrimSpace(f.Domain))
	if d.f.SilentAfter <= 0 {
		d.f.SilentAfter = DefaultSilentAfter
	}
	for i := range d.groups {
		d.groups[i] = &group{m: map[string]int64{}}
	}
	return d
}

// DigestResult is the summary of the reports added, in the shape of the
// "summary" member of stspilot.reports/v1 (docs/json.md).
type DigestResult struct {
	// Domain and Since echo the filter.
	Domain string     `json:"domain,omitempty"`
	Since  *time.Time `json:"since,omitempty"`
	// From and To are the first and last day covered (UTC dates).
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	// Reports counted (after the filter); Ignored: outside the filter.
	Reports int `json:"reports"`
	Ignored int `json:"ignored"`
	// Successful and Failed are the session totals (RPT-JSON-8).
	Successful int64 `json:"successful_sessions"`
	Failed     int64 `json:"failed_sessions"`
	// Days are the totals per UTC day, oldest first: the newest ten
	// years (maxGapDays) without gaps, older days only when they have a
	// report.
	Days []DayCount `json:"days"`
	// Failure breakdowns, most sessions first (RPT-JSON-9; a session may
	// count under several result types, RPT-JSON-10).
	ByResultType   []Count `json:"by_result_type"`
	ByOrganization []Count `json:"by_organization"`
	ByReceivingMX  []Count `json:"by_receiving_mx"`
	ByReceivingIP  []Count `json:"by_receiving_ip"`
	BySendingMTA   []Count `json:"by_sending_mta"`
	// Failures are the failure details grouped by policy, result type,
	// receiving MX and reason code, most sessions first.
	Failures []FailureGroup `json:"failures"`
	// Policies are the policies the reports saw, most recent first.
	Policies []PolicySeen `json:"policies"`
	// Reporters are the reporting organisations, by name; Silent those
	// that reported in the period and not in the last days.
	Reporters []Reporter `json:"reporters"`
	Silent    []Reporter `json:"silent"`
	// Deviations are the tolerated deviations from RFC 8460, with how
	// many reports had each.
	Deviations []Count `json:"deviations,omitempty"`
	// Saturated is true when a count reached satcount.Max (2^63-1) and
	// stayed there: the true count is at least that (sums never wrap).
	Saturated bool `json:"saturated,omitempty"`
	// Conflicts are the reports counted that were read in copies that
	// differ (same organisation and report-id, other content): the copy
	// with the most failures counted (at most 100 listed).
	Conflicts []Conflict `json:"conflicts,omitempty"`
}

// Tally is how many reports were counted and their session totals
// (RPT-JSON-8), for a day, a policy or a reporter.
type Tally struct {
	Reports    int   `json:"reports"`
	Successful int64 `json:"successful_sessions"`
	Failed     int64 `json:"failed_sessions"`
}

// Span is the first and last UTC day (2006-01-02) something was
// reported; empty before any.
type Span struct {
	First string `json:"first"`
	Last  string `json:"last"`
}

// widen makes s cover day ds.
func (s *Span) widen(ds string) {
	s.First, s.Last = minDay(s.First, ds), max(s.Last, ds)
}

// DayCount is one UTC day.
type DayCount struct {
	Day string `json:"day"` // 2006-01-02
	Tally
}

// Count is a number of failed sessions under one key.
type Count struct {
	Key      string `json:"key"`
	Sessions int64  `json:"sessions"`
}

// FailureGroup is failure details that share their cause.
type FailureGroup struct {
	// Policy is the PolicySeen.Key the failures happened under.
	Policy     string `json:"policy"`
	ResultType string `json:"result_type"`
	// ReceivingMX is the MX host name ("" when not given).
	ReceivingMX string `json:"receiving_mx,omitempty"`
	ReasonCode  string `json:"failure_reason_code,omitempty"`
	// ReceivingIPs are the receiving addresses seen (at most 10).
	ReceivingIPs []string `json:"receiving_ips,omitempty"`
	// Organizations are the reporters that saw it (at most 10).
	Organizations []string `json:"organizations"`
	Sessions      int64    `json:"sessions"`
	// Span is the first and last day it was reported.
	Span
}

// PolicySeen is one policy as the reports state it.
type PolicySeen struct {
	// Key identifies it within the digest: type, domain and lines.
	Key    string   `json:"key"`
	Type   string   `json:"type"`
	Domain string   `json:"domain"`
	Mode   string   `json:"mode,omitempty"`
	MaxAge int64    `json:"max_age,omitempty"`
	MX     []string `json:"mx,omitempty"`
	// Lines are the policy-string (RPT-JSON-5); Text the same joined
	// with CRLF, as the policy file would be.
	Lines []string `json:"policy_string,omitempty"`
	// ID is the policy id when a caller matched the text to a policy it
	// published (the journal); empty otherwise.
	ID string `json:"id,omitempty"`
	Tally
	Span
}

// Text is the policy file the lines describe ("" when the report carried
// no policy-string).
func (p PolicySeen) Text() string { return strings.Join(p.Lines, "\r\n") }

// Reporter is one reporting organisation.
type Reporter struct {
	Organization string `json:"organization"`
	Contact      string `json:"contact,omitempty"`
	Tally
	Span
	lastEnd time.Time
}

const dayLayout = "2006-01-02"

// PolicyKey identifies a policy as reported: type, domain and its lines
// (trimmed). Two reports of the same policy share a key.
func PolicyKey(p Policy) string {
	var b strings.Builder
	b.WriteString(p.Type)
	b.WriteByte('|')
	b.WriteString(p.Domain)
	for _, l := range p.String {
		b.WriteByte('|')
		b.WriteString(strings.TrimSpace(l))
	}
	if len(p.String) == 0 {
		b.WriteString("|mx-host")
		for _, m := range p.MXHost {
			b.WriteByte('|')
			b.WriteString(strings.ToLower(strings.TrimSpace(m)))
		}
	}
	return b.String()
}

// SamePolicy reports whether the policy lines a report carries describe
// the policy file text: same mode, max_age and set of mx patterns
// (case-insensitive). Reporters may reorder or re-space lines; what
// senders act on is these three.
func SamePolicy(lines []string, text string) bool {
	if len(lines) == 0 {
		return false
	}
	a := Policy{Type: PolicySTS, String: lines}
	b := Policy{Type: PolicySTS, String: strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")}
	if !strings.EqualFold(a.Mode(), b.Mode()) || a.MaxAge() != b.MaxAge() || a.Mode() == "" {
		return false
	}
	norm := func(ps []string) []string {
		out := make([]string, 0, len(ps))
		for _, p := range ps {
			out = append(out, domainname.Fold(p))
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	return slices.Equal(norm(a.Patterns()), norm(b.Patterns()))
}

// Rank is the failed sessions Add would count of r (the entries the
// filter keeps); Walk takes it as Options.Rank, so that of differing
// copies of a report the digest counts the one with the most failures.
func (d *Digest) Rank(r *Report) int64 {
	if !d.f.Since.IsZero() && !r.DateRange.EndExclusive().After(d.f.Since) {
		return 0
	}
	var n int64
	for _, p := range r.Policies {
		if d.f.Domain == "" || p.Policy.Domain == d.f.Domain {
			n = satcount.Add(n, p.Failures())
		}
	}
	return n
}

// Conflict notes that the next report added was read in copies that
// differ; Walk calls it as Options.Conflict. Only reports that count
// are listed in DigestResult.Conflicts.
func (d *Digest) Conflict(c Conflict) { d.conflict = &c }

// Add counts one report; reports outside the filter count as Ignored.
func (d *Digest) Add(r *Report) {
	c := d.conflict
	d.conflict = nil
	if !d.f.Since.IsZero() && !r.DateRange.EndExclusive().After(d.f.Since) {
		d.sum.Ignored++
		return
	}
	day := r.DateRange.Day()
	ds := day.Format(dayLayout)
	counted := false
	for _, p := range r.Policies {
		if d.f.Domain != "" && p.Policy.Domain != d.f.Domain {
			continue
		}
		counted = true
		dc := d.day(day)
		org := d.org(r)
		d.add(&d.sum.Successful, p.Summary.Successful)
		d.add(&d.sum.Failed, p.Summary.Failure)
		d.count(&dc.Tally, p.Summary)
		d.count(&org.Tally, p.Summary)

		ps, key := cappedEntry(d.policies, PolicyKey(p.Policy), OtherKey, func(key string) *PolicySeen {
			ps := &PolicySeen{Key: key, Type: p.Policy.Type, Domain: p.Policy.Domain}
			if key != OtherKey {
				ps.Mode, ps.MX, ps.Lines = p.Policy.Mode(), p.Policy.Patterns(), p.Policy.String
				if ma := p.Policy.MaxAge(); ma >= 0 {
					ps.MaxAge = ma
				}
			}
			return ps
		})
		ps.Reports++
		d.count(&ps.Tally, p.Summary)
		ps.widen(ds)

		for _, f := range p.FailureDetails {
			n := f.FailedSessionCount
			for g, k := range [numGroups]string{gResult: f.ResultType, gOrg: r.OrganizationName, gMX: f.ReceivingMXHostname, gIP: f.ReceivingIP, gMTA: f.SendingMTAIP} {
				if d.groups[g].add(k, n) {
					d.sum.Saturated = true
				}
			}
			fk := failureKey{policy: key, resultType: f.ResultType, mx: f.ReceivingMXHostname, reason: printable.Shorten(f.FailureReasonCode, 200, "...")}
			other := failureKey{policy: key, resultType: f.ResultType, mx: OtherKey}
			fg, _ := cappedEntry(d.failures, fk, other, func(fk failureKey) *FailureGroup {
				return &FailureGroup{Policy: key, ResultType: fk.resultType, ReceivingMX: fk.mx, ReasonCode: fk.reason}
			})
			d.add(&fg.Sessions, n)
			fg.widen(ds)
			fg.Organizations = addCapped(fg.Organizations, r.OrganizationName, 10)
			if f.ReceivingIP != "" {
				fg.ReceivingIPs = addCapped(fg.ReceivingIPs, f.ReceivingIP, 10)
			}
		}
	}
	if !counted {
		d.sum.Ignored++
		return
	}
	d.sum.Reports++
	if c != nil && c.Organization == r.OrganizationName && c.ReportID == r.ReportID && len(d.sum.Conflicts) < maxConflicts {
		d.sum.Conflicts = append(d.sum.Conflicts, *c)
	}
	d.day(day).Reports++
	d.org(r).Reports++
	for _, w := range r.Warnings {
		// "policies[0].failure-details[3]: x" counts as "x" across reports.
		if strings.HasPrefix(w, "policies[") {
			if _, rest, ok := strings.Cut(w, ": "); ok {
				w = rest
			}
		}
		if _, ok := d.devs[w]; ok || len(d.devs) < MaxGroupKeys {
			d.devs[w]++
		}
	}
}

// maxGapDays bounds the days Result lists without gaps: ten years.
const maxGapDays = 3660

// dayList is the per-day list of Result: every day that has a report and,
// counting back from the newest, the days between them without one,
// until maxGapDays are listed; before that, only days with reports. The
// cap keeps the list small, and counting from the newest end keeps the
// recent days, the ones that say how the domain is doing now, whatever
// an old report far back in the period does to the span.
func dayList(sorted []time.Time, byDay map[time.Time]*DayCount) []DayCount {
	var rev []DayCount
	for i := len(sorted) - 1; i >= 0; i-- {
		t := sorted[i]
		rev = append(rev, *byDay[t])
		if i == 0 {
			break
		}
		// The silent days between this report day and the one before.
		for g := t.AddDate(0, 0, -1); g.After(sorted[i-1]) && len(rev) < maxGapDays; g = g.AddDate(0, 0, -1) {
			rev = append(rev, DayCount{Day: g.Format(dayLayout)})
		}
	}
	slices.Reverse(rev)
	return rev
}

// add adds n to the count *c, saturating (satcount), and marks the
// result when a sum saturates.
func (d *Digest) add(c *int64, n int64) {
	if satcount.AddTo(c, n) {
		d.sum.Saturated = true
	}
}

// count adds the sessions of one policy of a report to t.
func (d *Digest) count(t *Tally, s Summary) {
	d.add(&t.Successful, s.Successful)
	d.add(&t.Failed, s.Failure)
}

func (d *Digest) day(t time.Time) *DayCount {
	dc := d.days[t]
	if dc == nil {
		dc = &DayCount{Day: t.Format(dayLayout)}
		d.days[t] = dc
	}
	return dc
}

// org returns the reporter of r, creating it once per report: the caller
// calls it for each counted policy, so first/last are idempotent.
func (d *Digest) org(r *Report) *Reporter {
	o, name := cappedEntry(d.orgs, r.OrganizationName, OtherKey, func(name string) *Reporter {
		return &Reporter{Organization: name}
	})
	ds := r.DateRange.Day().Format(dayLayout)
	o.widen(ds)
	if end := r.DateRange.EndExclusive(); end.After(o.lastEnd) {
		o.lastEnd = end
	}
	if o.Contact == "" && name != OtherKey {
		o.Contact = r.ContactInfo
	}
	return o
}

// cappedEntry returns the entry of m under k and the key it is under:
// k's when m has it or has room for it (fewer than MaxGroupKeys keys),
// else other's, so that past the cap new keys are all added up under
// other. A missing entry is made by newEntry(key) and stored.
func cappedEntry[K comparable, V any](m map[K]*V, k, other K, newEntry func(K) *V) (*V, K) {
	if v := m[k]; v != nil {
		return v, k
	}
	if len(m) >= MaxGroupKeys {
		k = other
		if v := m[k]; v != nil {
			return v, k
		}
	}
	v := newEntry(k)
	m[k] = v
	return v, k
}

func minDay(a, b string) string {
	if a == "" || b < a {
		return b
	}
	return a
}

func addCapped(list []string, s string, n int) []string {
	if len(list) >= n || slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

func sortCounts(cs []Count) {
	slices.SortFunc(cs, func(a, b Count) int {
		if c := cmp.Compare(b.Sessions, a.Sessions); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
}

// Result returns the summary of what was added so far.
func (d *Digest) Result() DigestResult {
	s := d.sum
	s.Domain = d.f.Domain
	if !d.f.Since.IsZero() {
		t := d.f.Since.UTC()
		s.Since = &t
	}
	days := slices.SortedFunc(maps.Keys(d.days), time.Time.Compare)
	s.Days = []DayCount{}
	if len(days) > 0 {
		s.From, s.To = days[0].Format(dayLayout), days[len(days)-1].Format(dayLayout)
		s.Days = dayList(days, d.days)
	}
	s.ByResultType = d.groups[gResult].counts()
	s.ByOrganization = d.groups[gOrg].counts()
	s.ByReceivingMX = d.groups[gMX].counts()
	s.ByReceivingIP = d.groups[gIP].counts()
	s.BySendingMTA = d.groups[gMTA].counts()

	s.Failures = make([]FailureGroup, 0, len(d.failures))
	for _, fg := range d.failures {
		c := *fg
		c.Organizations = slices.Clone(c.Organizations)
		c.ReceivingIPs = slices.Clone(c.ReceivingIPs)
		slices.Sort(c.Organizations)
		slices.Sort(c.ReceivingIPs)
		s.Failures = append(s.Failures, c)
	}
	slices.SortFunc(s.Failures, func(a, b FailureGroup) int {
		if c := cmp.Compare(b.Sessions, a.Sessions); c != 0 {
			return c
		}
		return cmp.Or(strings.Compare(a.ResultType, b.ResultType), strings.Compare(a.ReceivingMX, b.ReceivingMX),
			strings.Compare(a.ReasonCode, b.ReasonCode), strings.Compare(a.Policy, b.Policy))
	})

	s.Policies = make([]PolicySeen, 0, len(d.policies))
	for _, p := range d.policies {
		s.Policies = append(s.Policies, *p)
	}
	slices.SortFunc(s.Policies, func(a, b PolicySeen) int {
		return cmp.Or(strings.Compare(b.Last, a.Last), strings.Compare(b.First, a.First), strings.Compare(a.Key, b.Key))
	})

	now := d.f.Now
	s.Reporters = make([]Reporter, 0, len(d.orgs))
	for _, o := range d.orgs {
		s.Reporters = append(s.Reporters, *o)
		if o.lastEnd.After(now) && d.f.Now.IsZero() {
			now = o.lastEnd
		}
	}
	slices.SortFunc(s.Reporters, func(a, b Reporter) int { return strings.Compare(a.Organization, b.Organization) })
	s.Silent = []Reporter{}
	for _, o := range s.Reporters {
		if now.Sub(o.lastEnd) > d.f.SilentAfter {
			s.Silent = append(s.Silent, o)
		}
	}
	for w, n := range d.devs {
		s.Deviations = append(s.Deviations, Count{Key: w, Sessions: int64(n)})
	}
	sortCounts(s.Deviations)
	return s
}

// Describe says in words what a result type means for the receiving side
// (RPT-TYPE-1..11); unknown types get a generic sentence.
func Describe(resultType string) string {
	switch resultType {
	case ResultSTARTTLSNotSupported:
		return "the MX did not offer STARTTLS"
	case ResultCertificateHostMismatch:
		return "the MX certificate does not carry the MX host name"
	case ResultCertificateExpired:
		return "the MX certificate has expired"
	case ResultCertificateNotTrusted:
		return "the MX certificate chain is not trusted (unknown CA, broken chain)"
	case ResultValidationFailure:
		return "validation failed: often an MX that no mx pattern covers"
	case ResultTLSAInvalid:
		return "DANE: no TLSA record validated"
	case ResultDNSSECInvalid:
		return "DANE: DNSSEC validation failed"
	case ResultDANERequired:
		return "DANE required by the sender, no validated TLSA records"
	case ResultSTSPolicyFetchError:
		return "the policy could not be fetched from mta-sts.DOMAIN"
	case ResultSTSPolicyInvalid:
		return "the policy was fetched but is not valid"
	case ResultSTSWebPKIInvalid:
		return "the certificate of mta-sts.DOMAIN is not valid"
	}
	return "a result type RFC 8460 does not register"
}

// PolicyHostProblem reports whether a result type is about the policy
// host rather than an MX (RPT-TYPE-9..11).
func PolicyHostProblem(resultType string) bool {
	return resultType == ResultSTSPolicyFetchError || resultType == ResultSTSPolicyInvalid || resultType == ResultSTSWebPKIInvalid
}
