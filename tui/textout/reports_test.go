package textout

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stspilot/stspilot/checks/tlsrpt"
)

func reportsFixture() ReportsView {
	days := []tlsrpt.DayCount{
		{Day: "2026-11-01", Tally: tlsrpt.Tally{Reports: 2, Successful: 100}},
		{Day: "2026-11-02", Tally: tlsrpt.Tally{Reports: 2, Successful: 25, Failed: 25}},
		{Day: "2026-11-03"},
		{Day: "2026-11-04"},
		{Day: "2026-11-05"},
		{Day: "2026-11-06"},
		{Day: "2026-11-07", Tally: tlsrpt.Tally{Reports: 1, Successful: 10}},
	}
	pol := tlsrpt.PolicySeen{Key: "k", Type: "sts", Domain: "example.net", Mode: "testing", MaxAge: 86400, MX: []string{"mx1.example.net"}, ID: "20261101000000abcdefgh", Tally: tlsrpt.Tally{Reports: 5}, Span: tlsrpt.Span{First: "2026-11-01", Last: "2026-11-07"}}
	return ReportsView{
		Summary: tlsrpt.DigestResult{
			Domain: "example.net", From: "2026-11-01", To: "2026-11-07", Reports: 5, Successful: 135, Failed: 25,
			Days:         days,
			ByResultType: []tlsrpt.Count{{Key: "validation-failure", Sessions: 25}},
			Failures: []tlsrpt.FailureGroup{{
				Policy: "k", ResultType: "validation-failure", ReceivingMX: "mx2.example.net",
				Organizations: []string{"Google Inc."}, Sessions: 25, Span: tlsrpt.Span{First: "2026-11-02", Last: "2026-11-02"},
			}},
			Policies:  []tlsrpt.PolicySeen{pol},
			Reporters: []tlsrpt.Reporter{{Organization: "Google Inc.", Tally: tlsrpt.Tally{Reports: 4}}, {Organization: "Quiet", Tally: tlsrpt.Tally{Reports: 1}, Span: tlsrpt.Span{First: "2026-11-01", Last: "2026-11-01"}}},
			Silent:    []tlsrpt.Reporter{{Organization: "Quiet", Tally: tlsrpt.Tally{Reports: 1}, Span: tlsrpt.Span{First: "2026-11-01", Last: "2026-11-01"}}},
		},
		Stats:  tlsrpt.WalkStats{Files: 6, Reports: 5, Duplicates: 1},
		Errors: []string{"bad.json.gz: gzip: truncated stream"},
	}
}

func TestWriteReportsPlain(t *testing.T) {
	var b strings.Builder
	if err := WriteReports(&b, reportsFixture(), Options{Width: 80}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.ContainsAny(out, "\x1b█░") {
		t.Errorf("plain output has escapes or block characters:\n%s", out)
	}
	lines := strings.Split(out, "\n")
	bar := func(day string) string {
		for _, l := range lines {
			if strings.HasPrefix(l, "  "+day+"  ") {
				return l
			}
		}
		t.Fatalf("no row for %s:\n%s", day, out)
		return ""
	}
	// The busiest days (100 and 50 sessions) scale the bars: day 2 is half
	// of day 1, half of it failed.
	full := strings.Count(bar("2026-11-01"), "#")
	if full < 20 || strings.Count(bar("2026-11-01"), "x") != 0 {
		t.Errorf("day 1: %q", bar("2026-11-01"))
	}
	if ok, bad := strings.Count(bar("2026-11-02"), "#"), strings.Count(bar("2026-11-02"), "x"); ok+bad < full/2 || ok+bad > full/2+1 || bad < ok-1 || bad > ok+1 {
		t.Errorf("day 2: %d ok, %d failed of %d: %q", ok, bad, full, bar("2026-11-02"))
	}
	flat := strings.Join(strings.Fields(out), " ") // wrapping aside
	for _, want := range []string{
		"TLS-RPT reports for example.net, 2026-11-01 .. 2026-11-07 (7 days)",
		"5 reports from 2 organisations; 160 sessions, 25 failed (15.6%)",
		"read 6 files: 1 duplicate report counted once, 1 unreadable",
		"2026-11-03  ... 4 days without a report, to 2026-11-06",
		"25  validation-failure at mx2.example.net, 2026-11-02",
		"under testing, max_age 86400, mx mx1.example.net, id 20261101000000abcdefgh",
		"Quiet last reported 2026-11-01",
		"bad.json.gz: gzip: truncated stream",
	} {
		if !strings.Contains(flat, strings.Join(strings.Fields(want), " ")) {
			t.Errorf("lacks %q:\n%s", want, out)
		}
	}
	for _, l := range lines {
		if len([]rune(l)) > 80 {
			t.Errorf("line over 80 columns: %q", l)
		}
	}
}

func TestWriteReportsTerminal(t *testing.T) {
	var b strings.Builder
	WriteReports(&b, reportsFixture(), Options{Width: 80, Color: true, Icons: true})
	out := b.String()
	if !strings.Contains(out, "█") || !strings.Contains(out, "░") || !strings.Contains(out, "\x1b[") {
		t.Errorf("terminal output without blocks or colour:\n%s", out)
	}
}

func TestReportsBrief(t *testing.T) {
	v := reportsFixture()
	v.Summary.Reporters[0].Organization = "Evil\x1b[2J"
	v.Summary.Silent[0].Organization = "Quiet\x1b]0;x\x07"
	lines := ReportsBrief(v.Summary, 60)
	got := strings.Join(lines, "\n")
	want := "TLS-RPT: 5 reports, 160 sessions, 25 failed\n" +
		"failures/day ▁█    ▁  (2026-11-01 .. 2026-11-07)\n" +
		"      25  validation-failure at mx2.example.net\n" +
		`silent: Quiet\x1b]0;x\x07 (last 2026-11-01)`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	for _, l := range ReportsBrief(v.Summary, 20) {
		if n := len([]rune(l)); n > 20 {
			t.Errorf("%d wide: %q", n, l)
		}
	}
	if l := ReportsBrief(tlsrpt.DigestResult{}, 40); len(l) != 1 || l[0] != "TLS-RPT: no reports" {
		t.Errorf("empty: %q", l)
	}
}

// TestWriteReportsOldReport: when the digest lists only the newest days
// without gaps (an old report far back), the chart counts the days left
// out in the silent run and still shows the newest days.
func TestWriteReportsOldReport(t *testing.T) {
	v := reportsFixture()
	v.Summary.From = "2016-04-01"
	v.Summary.Days = append([]tlsrpt.DayCount{{Day: "2016-04-01", Tally: tlsrpt.Tally{Reports: 1, Successful: 5}}, {Day: "2016-05-01"}}, v.Summary.Days...)
	var b strings.Builder
	if err := WriteReports(&b, v, Options{Width: 80}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"  2016-04-01  #",
		"  2016-04-02  ... 3865 days without a report, to 2026-10-31",
		"  2026-11-01  #",
		"  2026-11-03  ... 4 days without a report, to 2026-11-06",
		"  2026-11-07  #",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("lacks %q:\n%s", want, out)
		}
	}
	// A report right after days left out: the gap line, then its row.
	v.Summary.Days = []tlsrpt.DayCount{{Day: "2016-04-01", Tally: tlsrpt.Tally{Reports: 1, Successful: 5}}, {Day: "2016-04-10", Tally: tlsrpt.Tally{Reports: 1, Successful: 5}}}
	b.Reset()
	if err := WriteReports(&b, v, Options{Width: 80}); err != nil {
		t.Fatal(err)
	}
	if out := b.String(); !strings.Contains(out, "2016-04-02  ... 8 days without a report, to 2016-04-09\n  2016-04-10  #") {
		t.Errorf("gap before a report:\n%s", out)
	}
}

// TestWriteReportsCapsSections: a breakdown longer than maxRows shows its
// first maxRows rows, most first, and says how many more there are; one
// of exactly maxRows shows them all.
func TestWriteReportsCapsSections(t *testing.T) {
	v := reportsFixture()
	for i := range maxRows + 2 {
		v.Summary.ByReceivingIP = append(v.Summary.ByReceivingIP, tlsrpt.Count{Key: fmt.Sprintf("192.0.2.%d", i+1), Sessions: int64(100 - i)})
	}
	for i := range maxRows {
		v.Summary.Deviations = append(v.Summary.Deviations, tlsrpt.Count{Key: fmt.Sprintf("deviation %d", i+1), Sessions: 1})
	}
	var b strings.Builder
	if err := WriteReports(&b, v, Options{Width: 80}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if !strings.Contains(out, fmt.Sprintf("192.0.2.%d", maxRows)) || strings.Contains(out, fmt.Sprintf("192.0.2.%d", maxRows+1)) {
		t.Errorf("want the first %d receiving IPs and no more:\n%s", maxRows, out)
	}
	if n := strings.Count(out, "and 2 more"); n != 1 {
		t.Errorf("want one \"and 2 more\" (receiving IPs), got %d:\n%s", n, out)
	}
	if !strings.Contains(out, fmt.Sprintf("deviation %d", maxRows)) || strings.Count(out, "more\n") != 1 {
		t.Errorf("want every deviation and no second \"more\":\n%s", out)
	}
}
