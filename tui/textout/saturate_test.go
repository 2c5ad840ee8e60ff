package textout

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strings"
	"testing"

	"github.com/stspilot/stspilot/checks/tlsrpt"
)

// Issue 14.8: two reports of 2^63-1 sessions each (and as many failed)
// used to print "-2 sessions". Sums saturate; the text says "more than".
func TestWriteReportsSaturated(t *testing.T) {
	dg := tlsrpt.NewDigest(tlsrpt.Filter{})
	for i, day := range []string{"2026-11-01", "2026-11-01", "2026-11-02"} {
		r, err := tlsrpt.Parse([]byte(fmt.Sprintf(`{"organization-name":"Huge","report-id":"r%d","date-range":{"start-datetime":"%sT00:00:00Z","end-datetime":"%sT23:59:59Z"},
"policies":[{"policy":{"policy-type":"sts","policy-domain":"example.net"},"summary":{"total-successful-session-count":%d,"total-failure-session-count":%d},
"failure-details":[{"result-type":"validation-failure","receiving-mx-hostname":"mx1.example.net","failed-session-count":%d}]}]}`, i, day, day, int64(math.MaxInt64), int64(math.MaxInt64), int64(math.MaxInt64))))
		if err != nil {
			t.Fatal(err)
		}
		dg.Add(r)
	}
	sum := dg.Result()
	if !sum.Saturated || sum.Successful != math.MaxInt64 || sum.Failed != math.MaxInt64 || sum.Failures[0].Sessions != math.MaxInt64 {
		t.Fatalf("digest: saturated %v, %d ok, %d failed, %+v", sum.Saturated, sum.Successful, sum.Failed, sum.Failures)
	}
	js, _ := json.Marshal(sum)
	if !strings.Contains(string(js), `"saturated":true`) || strings.Contains(string(js), ":-") {
		t.Errorf("JSON: %s", js)
	}
	var b strings.Builder
	if err := WriteReports(&b, ReportsView{Summary: sum, Stats: tlsrpt.WalkStats{Files: 3, Reports: 3}}, Options{Width: 80}); err != nil {
		t.Fatal(err)
	}
	out := b.String() + strings.Join(ReportsBrief(sum, 200), "\n")
	if regexp.MustCompile(`(^|[\s(])-\d`).MatchString(out) {
		t.Errorf("a negative count:\n%s", out)
	}
	for _, want := range []string{"more than 9223372036854775806 sessions, more than 9223372036854775806 failed", "more than 9223372036854775806  validation-failure"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
	// Each day's bar is whole, not garbage from an overflowed scale.
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "  2026-11-0") && strings.Count(l, "x")+strings.Count(l, "#") == 0 {
			t.Errorf("empty bar: %q", l)
		}
	}
}

func TestScale(t *testing.T) {
	for _, tc := range []struct {
		n, w, top int64
		up        bool
		want      int
	}{
		{50, 40, 100, true, 20},
		{1, 40, 100, true, 1},
		{1, 40, 100, false, 0},
		{math.MaxInt64, 40, math.MaxInt64, true, 40},
		{math.MaxInt64 / 2, 40, math.MaxInt64, true, 20},
		{math.MaxInt64 / 2, 7, math.MaxInt64, false, 3},
		{0, 40, 100, true, 0},
		{200, 40, 100, true, 40},
	} {
		if got := scale(tc.n, tc.w, tc.top, tc.up); got != tc.want {
			t.Errorf("scale(%d, %d, %d, %v) = %d, want %d", tc.n, tc.w, tc.top, tc.up, got, tc.want)
		}
	}
}
