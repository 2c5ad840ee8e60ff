package tlsrpt

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

func mustParse(t testing.TB, s string) *Report {
	t.Helper()
	r, err := Parse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// genReport is a report of org for day with ok sessions and the given
// failures ("result-type@mx=count") under a testing policy of domain.
func genReport(org, domain string, day time.Time, ok int, failures ...string) string {
	var det []string
	total := 0
	for i, f := range failures {
		rt, rest, _ := strings.Cut(f, "@")
		mx, n, _ := strings.Cut(rest, "=")
		var c int
		fmt.Sscan(n, &c)
		total += c
		det = append(det, fmt.Sprintf(`{"result-type":%q,"sending-mta-ip":"198.51.100.%d","receiving-mx-hostname":%q,"receiving-ip":"192.0.2.%d","failed-session-count":%d}`, rt, i+1, mx, i+1, c))
	}
	return fmt.Sprintf(`{"organization-name":%q,"date-range":{"start-datetime":%q,"end-datetime":%q},"contact-info":"tlsrpt@%s","report-id":"%s-%s","policies":[{"policy":{"policy-type":"sts","policy-string":["version: STSv1","mode: testing","mx: mx1.%s","max_age: 86400"],"policy-domain":%q,"mx-host":["mx1.%s"]},"summary":{"total-successful-session-count":%d,"total-failure-session-count":%d},"failure-details":[%s]}]}`,
		org, day.Format(time.RFC3339), day.Add(24*time.Hour-time.Second).Format(time.RFC3339), strings.ToLower(strings.ReplaceAll(org, " ", "")), org, day.Format("20060102"),
		domain, domain, domain, ok, total, strings.Join(det, ","))
}

func TestDigest(t *testing.T) {
	d0 := time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC)
	day := func(n int) time.Time { return d0.AddDate(0, 0, n) }
	dg := NewDigest(Filter{Domain: "Example.NET.", Now: day(10).Add(12 * time.Hour)})
	dg.Add(mustParse(t, genReport("Google Inc.", "example.net", day(0), 100)))
	dg.Add(mustParse(t, genReport("Google Inc.", "example.net", day(1), 90, "validation-failure@mx9.example.net=7", "certificate-expired@mx1.example.net=2")))
	dg.Add(mustParse(t, genReport("Google Inc.", "example.net", day(9), 80, "validation-failure@mx9.example.net=3")))
	// Went silent after day 2.
	dg.Add(mustParse(t, genReport("Quiet Mail", "example.net", day(2), 5)))
	// Another domain: ignored.
	dg.Add(mustParse(t, genReport("Google Inc.", "other.example", day(3), 1000, "starttls-not-supported@mx.other.example=50")))
	s := dg.Result()
	if s.Reports != 4 || s.Ignored != 1 || s.Successful != 275 || s.Failed != 12 {
		t.Errorf("totals: reports %d ignored %d ok %d failed %d", s.Reports, s.Ignored, s.Successful, s.Failed)
	}
	if s.From != "2026-11-10" || s.To != "2026-11-19" || len(s.Days) != 10 {
		t.Errorf("days %s..%s %d", s.From, s.To, len(s.Days))
	}
	if s.Days[1] != (DayCount{Day: "2026-11-11", Tally: Tally{Reports: 1, Successful: 90, Failed: 9}}) || s.Days[5] != (DayCount{Day: "2026-11-15"}) {
		t.Errorf("days %+v", s.Days)
	}
	if got := fmt.Sprint(s.ByResultType); got != "[{validation-failure 10} {certificate-expired 2}]" {
		t.Errorf("by result type %s", got)
	}
	if got := fmt.Sprint(s.ByReceivingMX); got != "[{mx9.example.net 10} {mx1.example.net 2}]" {
		t.Errorf("by mx %s", got)
	}
	if len(s.Failures) != 2 || s.Failures[0].ResultType != "validation-failure" || s.Failures[0].Sessions != 10 ||
		s.Failures[0].First != "2026-11-11" || s.Failures[0].Last != "2026-11-19" {
		t.Errorf("failures %+v", s.Failures)
	}
	if len(s.Policies) != 1 || s.Policies[0].Mode != "testing" || s.Policies[0].MaxAge != 86400 || s.Policies[0].Reports != 4 {
		t.Errorf("policies %+v", s.Policies)
	}
	if len(s.Silent) != 1 || s.Silent[0].Organization != "Quiet Mail" || s.Silent[0].Last != "2026-11-12" {
		t.Errorf("silent %+v", s.Silent)
	}
}

func TestDigestSince(t *testing.T) {
	d0 := time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC)
	dg := NewDigest(Filter{Since: d0.Add(36 * time.Hour)})
	for i := range 4 {
		dg.Add(mustParse(t, genReport("G", "example.net", d0.AddDate(0, 0, i), 1)))
	}
	// Day 0 ends before since; day 1 overlaps it and counts.
	if s := dg.Result(); s.Reports != 3 || s.Ignored != 1 || s.From != "2026-11-11" {
		t.Errorf("reports %d ignored %d from %s", s.Reports, s.Ignored, s.From)
	}
}

// The breakdowns are capped: hostile input cannot grow them without bound.
func TestDigestCap(t *testing.T) {
	dg := NewDigest(Filter{})
	var det []string
	for i := range MaxGroupKeys + 50 {
		det = append(det, fmt.Sprintf(`{"result-type":"validation-failure","sending-mta-ip":"10.0.%d.%d","failed-session-count":1}`, i/256, i%256))
	}
	r := fmt.Sprintf(`{"organization-name":"o","report-id":"r","date-range":{"start-datetime":"2026-11-10T00:00:00Z","end-datetime":"2026-11-10T23:59:59Z"},"policies":[{"policy":{"policy-type":"sts","policy-domain":"example.net"},"summary":{"total-successful-session-count":0,"total-failure-session-count":1050},"failure-details":[%s]}]}`, strings.Join(det, ","))
	dg.Add(mustParse(t, r))
	s := dg.Result()
	if len(s.BySendingMTA) != MaxGroupKeys+1 || s.BySendingMTA[MaxGroupKeys].Key != OtherKey || s.BySendingMTA[MaxGroupKeys].Sessions != 50 {
		t.Errorf("%d keys, last %+v", len(s.BySendingMTA), s.BySendingMTA[len(s.BySendingMTA)-1])
	}
}

// TestCappedEntry: the policies, failure groups and reporters of a digest
// take new keys up to MaxGroupKeys and fold the rest into one entry.
func TestCappedEntry(t *testing.T) {
	m := map[int]*string{}
	made := 0
	newEntry := func(k int) *string {
		made++
		s := fmt.Sprint(k)
		return &s
	}
	for k := range MaxGroupKeys {
		if v, got := cappedEntry(m, k, -1, newEntry); got != k || *v != fmt.Sprint(k) {
			t.Fatalf("key %d: entry %q under %d", k, *v, got)
		}
	}
	if v, got := cappedEntry(m, 3, -1, newEntry); got != 3 || *v != "3" || made != MaxGroupKeys {
		t.Errorf("a key it has, when full: entry %q under %d, %d made", *v, got, made)
	}
	v1, got1 := cappedEntry(m, MaxGroupKeys, -1, newEntry)
	v2, got2 := cappedEntry(m, MaxGroupKeys+1, -1, newEntry)
	if got1 != -1 || got2 != -1 || v1 != v2 || *v1 != "-1" || made != MaxGroupKeys+1 || len(m) != MaxGroupKeys+1 {
		t.Errorf("past the cap: entries %q, %q under %d, %d; %d made, %d keys", *v1, *v2, got1, got2, made, len(m))
	}
}

func TestSamePolicy(t *testing.T) {
	text := "version: STSv1\r\nmode: enforce\r\nmx: mx1.example.net\r\nmx: *.example.net\r\nmax_age: 604800\r\n"
	for _, tc := range []struct {
		lines []string
		want  bool
	}{
		{[]string{"version: STSv1", "mode: enforce", "mx: mx1.example.net", "mx: *.example.net", "max_age: 604800"}, true},
		{[]string{"mode: enforce", "max_age: 604800", "mx: *.EXAMPLE.net", "mx: mx1.example.net."}, true},
		{[]string{"version: STSv1", "mode: testing", "mx: mx1.example.net", "mx: *.example.net", "max_age: 604800"}, false},
		{[]string{"version: STSv1", "mode: enforce", "mx: mx1.example.net", "max_age: 604800"}, false},
		{[]string{"version: STSv1", "mode: enforce", "mx: mx1.example.net", "mx: *.example.net", "max_age: 86400"}, false},
		{nil, false},
	} {
		if got := SamePolicy(tc.lines, text); got != tc.want {
			t.Errorf("SamePolicy(%q) = %v", tc.lines, got)
		}
	}
}

// The corpus end to end: every file under testdata/reports through Walk
// into one digest.
func TestDigestCorpus(t *testing.T) {
	dg := NewDigest(Filter{Domain: "example.net"})
	Walk(context.Background(), []string{corpusPath()}, Options{}, func(_ string, r *Report) { dg.Add(r) })
	s := dg.Result()
	// Google (48 sessions, 7 failed) and Microsoft (120 + 3, none failed)
	// for example.net; the invalid-UTF-8 copy of Google's is a report of
	// its own (another organisation).
	if s.Reports != 3 || s.Successful != 41*2+123 || s.Failed != 14 {
		t.Errorf("reports %d ok %d failed %d", s.Reports, s.Successful, s.Failed)
	}
	if len(s.Reporters) != 3 {
		t.Errorf("reporters %+v", s.Reporters)
	}
}

// TestDigestDaysKeepNewest: a report ten years older than the rest does
// not push the newest days out of Days: the cap on days listed without
// gaps counts back from the newest day, and the old report's day is kept.
func TestDigestDaysKeepNewest(t *testing.T) {
	old := time.Date(2016, 4, 1, 0, 0, 0, 0, time.UTC)
	recent := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	dg := NewDigest(Filter{Now: recent.AddDate(0, 0, 2)})
	dg.Add(mustParse(t, genReport("Old Mail", "example.net", old, 10)))
	dg.Add(mustParse(t, genReport("Google Inc.", "example.net", recent, 20)))
	dg.Add(mustParse(t, genReport("Google Inc.", "example.net", recent.AddDate(0, 0, 1), 30)))
	s := dg.Result()
	if s.From != "2016-04-01" || s.To != "2026-11-21" {
		t.Fatalf("from %s to %s", s.From, s.To)
	}
	if len(s.Days) != maxGapDays+1 {
		t.Fatalf("%d days listed, want the %d newest without gaps and the old report's day", len(s.Days), maxGapDays)
	}
	last := s.Days[len(s.Days)-2:]
	if last[0] != (DayCount{Day: "2026-11-20", Tally: Tally{Reports: 1, Successful: 20}}) || last[1] != (DayCount{Day: "2026-11-21", Tally: Tally{Reports: 1, Successful: 30}}) {
		t.Errorf("newest days %+v", last)
	}
	if s.Days[0] != (DayCount{Day: "2016-04-01", Tally: Tally{Reports: 1, Successful: 10}}) || s.Days[1].Reports != 0 {
		t.Errorf("oldest days %+v %+v", s.Days[0], s.Days[1])
	}
	for i := 2; i < len(s.Days); i++ {
		a, _ := time.Parse(dayLayout, s.Days[i-1].Day)
		b, _ := time.Parse(dayLayout, s.Days[i].Day)
		if b.Sub(a) != 24*time.Hour {
			t.Fatalf("gap between %s and %s in the newest days", s.Days[i-1].Day, s.Days[i].Day)
		}
	}
}
