package tlsrpt

import (
	"bytes"
	"compress/gzip"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func readCorpus(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "reports", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func hasWarning(r *Report, sub string) bool {
	for _, w := range r.Warnings {
		if strings.Contains(w, sub) {
			return true
		}
	}
	return false
}

// RPT-JSON-2..9 and E6241: the RFC's own example, with mx-host as a string
// and receiving-ip left out of one entry.
func TestParseRFCExample(t *testing.T) {
	r, err := Parse(readCorpus(t, "rfc8460-example.json"))
	if err != nil {
		t.Fatal(err)
	}
	if r.OrganizationName != "Company-X" || r.ReportID != "5065427c-23d3-47ca-b6e0-946ea0e8c4be" || r.ContactInfo != "sts-reporting@company-x.example" {
		t.Errorf("top level: %+v", r)
	}
	if want := time.Date(2016, 4, 1, 0, 0, 0, 0, time.UTC); !r.DateRange.Day().Equal(want) || !r.DateRange.EndExclusive().Equal(want.Add(24*time.Hour)) {
		t.Errorf("date range %v..%v (RPT-JSON-11)", r.DateRange.Start, r.DateRange.End)
	}
	if len(r.Policies) != 1 {
		t.Fatalf("policies: %d", len(r.Policies))
	}
	p := r.Policies[0]
	if p.Policy.Type != PolicySTS || p.Policy.Domain != "company-y.example" || p.Policy.Mode() != "testing" || p.Policy.MaxAge() != 86400 {
		t.Errorf("policy: %+v mode %q max_age %d", p.Policy, p.Policy.Mode(), p.Policy.MaxAge())
	}
	if !reflect.DeepEqual(p.Policy.MXHost, []string{"*.mail.company-y.example"}) {
		t.Errorf("mx-host as a string (E6241): %q", p.Policy.MXHost)
	}
	if !hasWarning(r, "E6241") {
		t.Errorf("no warning for mx-host as a string: %q", r.Warnings)
	}
	if p.Summary != (Summary{Successful: 5326, Failure: 303}) {
		t.Errorf("summary %+v", p.Summary)
	}
	if len(p.FailureDetails) != 3 {
		t.Fatalf("failure-details: %d", len(p.FailureDetails))
	}
	d := p.FailureDetails[0]
	if d.ResultType != ResultCertificateExpired || d.SendingMTAIP != "2001:db8:abcd:0012::1" || d.ReceivingIP != "" || d.FailedSessionCount != 100 {
		t.Errorf("detail 0: %+v", d)
	}
	if d := p.FailureDetails[2]; d.FailureReasonCode != "X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED" || d.ReceivingMXHostname != "mx-backup.mail.company-y.example" {
		t.Errorf("detail 2: %+v", d)
	}
	ok, failed := r.Sessions()
	if ok != 5326 || failed != 303 {
		t.Errorf("sessions %d %d", ok, failed)
	}
}

// PR33, RPT-JSON-9: Google sends "sending-mta-ip": "" and ends the day at 23:59:59Z.
func TestParseGoogleStyle(t *testing.T) {
	r, err := Parse(readCorpus(t, "google-style.json"))
	if err != nil {
		t.Fatal(err)
	}
	d := r.Policies[0].FailureDetails[0]
	if d.SendingMTAIP != "" || d.ReceivingMXHostname != "example-net.h-v1.mx.microsoft" || d.FailedSessionCount != 7 {
		t.Errorf("detail %+v", d)
	}
	if got := r.Policies[0].Policy.Patterns(); !reflect.DeepEqual(got, []string{"mx1.example.net", "*.mx.microsoft"}) {
		t.Errorf("patterns %q", got)
	}
	if len(r.Warnings) != 0 {
		t.Errorf("warnings on a conforming report: %q", r.Warnings)
	}
}

// RPT-JSON-11 (end at the next 00:00:00Z), counts as strings, no
// failure-details, no-policy-found without policy-string.
func TestParseMicrosoftStyle(t *testing.T) {
	r, err := Parse(readCorpus(t, "microsoft-style.json"))
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC); !r.DateRange.Day().Equal(want) || !r.DateRange.EndExclusive().Equal(want.Add(24*time.Hour)) {
		t.Errorf("date range %v..%v", r.DateRange.Start, r.DateRange.End)
	}
	if hasWarning(r, "RPT-JSON-11") {
		t.Errorf("the next day's 00:00:00Z is a whole day: %q", r.Warnings)
	}
	if len(r.Policies) != 2 || r.Policies[1].Policy.Type != PolicyNoPolicyFound || r.Policies[1].Summary.Successful != 3 {
		t.Fatalf("policies %+v", r.Policies)
	}
	if !hasWarning(r, "total-successful-session-count is a string") {
		t.Errorf("warnings %q", r.Warnings)
	}
	ok, failed := r.Sessions()
	if ok != 123 || failed != 0 {
		t.Errorf("sessions %d %d", ok, failed)
	}
}

// RPT-TYPE-1..11 and unknown types kept as is.
func TestParseEveryResultType(t *testing.T) {
	r, err := Parse(readCorpus(t, "every-result-type.json"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range r.Policies[0].FailureDetails {
		got = append(got, d.ResultType)
	}
	want := append(append([]string{}, ResultTypes...), "sts-policy-too-strict")
	if !reflect.DeepEqual(got, want) {
		t.Errorf("result types\n got %q\nwant %q", got, want)
	}
	if !hasWarning(r, `unregistered result-type "sts-policy-too-strict"`) {
		t.Errorf("warnings %q", r.Warnings)
	}
}

func TestParseRefuses(t *testing.T) {
	valid := `"organization-name":"o","report-id":"r","date-range":{"start-datetime":"2026-01-01T00:00:00Z","end-datetime":"2026-01-01T23:59:59Z"}`
	for _, tc := range []struct{ name, in, want string }{
		{"empty", ``, "empty input"},
		{"array", `[]`, "JSON"},
		{"two values", `{` + valid + `,"policies":[]} {}`, "more than one JSON value"},
		{"no org", `{"report-id":"r","date-range":{},"policies":[]}`, "organization-name missing"},
		{"no id", `{"organization-name":"o","policies":[]}`, "report-id missing"},
		{"no policies", `{` + valid + `}`, "policies missing"},
		{"bad date", `{"organization-name":"o","report-id":"r","date-range":{"start-datetime":"yesterday","end-datetime":"2026-01-01T23:59:59Z"},"policies":[]}`, "start-datetime"},
		{"backwards", `{"organization-name":"o","report-id":"r","date-range":{"start-datetime":"2026-01-02T00:00:00Z","end-datetime":"2026-01-01T12:00:00Z"},"policies":[]}`, "ends before"},
		{"no policy type", `{` + valid + `,"policies":[{"policy":{},"summary":{}}]}`, "policy-type missing"},
		{"negative", `{` + valid + `,"policies":[{"policy":{"policy-type":"sts"},"summary":{"total-successful-session-count":-1,"total-failure-session-count":0}}]}`, "negative"},
		{"fraction", `{` + valid + `,"policies":[{"policy":{"policy-type":"sts"},"summary":{"total-successful-session-count":1.5,"total-failure-session-count":0}}]}`, "not an integer"},
		{"object as string", `{"organization-name":{},"report-id":"r"}`, "object or array"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.in))
			if err == nil || !errors.Is(err, ErrNotReport) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want ErrNotReport with %q", err, tc.want)
			}
		})
	}
}

// RPT-JSON-13: deep nesting is refused before decoding.
func TestParseDeep(t *testing.T) {
	deep := strings.Repeat(`{"a":[`, 5000) + strings.Repeat(`]}`, 5000)
	if _, err := Parse([]byte(deep)); !errors.Is(err, ErrTooDeep) {
		t.Errorf("err = %v, want ErrTooDeep", err)
	}
	// Brackets inside strings do not count.
	in := readCorpus(t, "google-style.json")
	in = bytes.Replace(in, []byte(`"Google Inc."`), []byte(`"`+strings.Repeat("[{", 100)+`\"`+`"`), 1)
	if _, err := Parse(in); err != nil {
		t.Errorf("brackets in a string: %v", err)
	}
}

// RPT-JSON-1, RPT-JSON-13: invalid UTF-8 is replaced, not fatal.
func TestParseInvalidUTF8(t *testing.T) {
	r, err := Parse(readCorpus(t, "invalid-utf8.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.OrganizationName, "\uFFFD") {
		t.Errorf("organization-name %q", r.OrganizationName)
	}
}

// RPT-DEL-12: gzip recognised by its magic bytes; a bomb stops at the limit.
func TestParseReportGzip(t *testing.T) {
	in := readCorpus(t, "google-style.json")
	r, err := ParseReport(bytes.NewReader(gz(t, in)), 0)
	if err != nil || r.OrganizationName != "Google Inc." {
		t.Fatalf("gzip: %v %v", r, err)
	}
	if _, err := ParseReport(bytes.NewReader(in), int64(len(in)-1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("JSON over the limit: %v", err)
	}
	// 4 MiB of zeros compress to ~4 KiB: 64 times the limit of 64 KiB.
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zero := make([]byte, 1<<20)
	for range 4 {
		zw.Write(zero)
	}
	zw.Close()
	if buf.Len() > 64<<10 {
		t.Fatalf("bomb of %d bytes is not small", buf.Len())
	}
	if _, err := ParseReport(bytes.NewReader(buf.Bytes()), 64<<10); !errors.Is(err, ErrTooLarge) {
		t.Errorf("gzip bomb: %v", err)
	}
	trunc := gz(t, in)
	trunc = trunc[:len(trunc)/2]
	if _, err := ParseReport(bytes.NewReader(trunc), 0); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("truncated gzip: %v", err)
	}
}

// Counts past int64 are counts: they saturate at 2^63-1, with a warning;
// past -2^63 they are negative (refused); NaN and Inf are not integers.
func TestParseHugeCounts(t *testing.T) {
	valid := `"organization-name":"o","report-id":"r","date-range":{"start-datetime":"2026-01-01T00:00:00Z","end-datetime":"2026-01-01T23:59:59Z"}`
	for _, n := range []string{`9223372036854775808`, `"99999999999999999999999"`, `1e30`, `1e400`, `9.3e18`} {
		r, err := Parse([]byte(`{` + valid + `,"policies":[{"policy":{"policy-type":"sts"},"summary":{"total-successful-session-count":0,"total-failure-session-count":` + n + `},
			"failure-details":[{"result-type":"certificate-expired","failed-session-count":` + n + `}]}]}`))
		if err != nil {
			t.Errorf("%s: %v", n, err)
			continue
		}
		if r.Policies[0].Summary.Failure != math.MaxInt64 || r.Policies[0].FailureDetails[0].FailedSessionCount != math.MaxInt64 || !hasWarning(r, "counted as 9223372036854775807") {
			t.Errorf("%s: %+v %v", n, r.Policies[0], r.Warnings)
		}
	}
	for n, want := range map[string]string{`-9223372036854775809`: "negative", `-1e30`: "negative", `"NaN"`: "not an integer", `"Inf"`: "not an integer", `"-Infinity"`: "not an integer"} {
		_, err := Parse([]byte(`{` + valid + `,"policies":[{"policy":{"policy-type":"sts"},"summary":{"total-successful-session-count":0,"total-failure-session-count":` + n + `}}]}`))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", n, err, want)
		}
	}
}

// A policy-string holding the policy as one text is read one line per
// element (RPT-JSON-5), with a warning; the line cap holds over the split.
func TestParsePolicyStringAsText(t *testing.T) {
	valid := `"organization-name":"o","report-id":"r","date-range":{"start-datetime":"2026-01-01T00:00:00Z","end-datetime":"2026-01-01T23:59:59Z"}`
	r, err := Parse([]byte(`{` + valid + `,"policies":[{"policy":{"policy-type":"sts","policy-string":"version: STSv1\r\nmode: enforce\r\n\r\nmx: a.example\r\nmax_age: 86400\r\n"},"summary":{}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	p := r.Policies[0].Policy
	if want := []string{"version: STSv1", "mode: enforce", "mx: a.example", "max_age: 86400"}; !slices.Equal(p.String, want) || p.Mode() != "enforce" || !hasWarning(r, "several lines in one string") {
		t.Errorf("policy %+v warnings %v", p, r.Warnings)
	}
	_, err = Parse([]byte(`{` + valid + `,"policies":[{"policy":{"policy-type":"sts","policy-string":"` + strings.Repeat(`mx: a\n`, 1001) + `"},"summary":{}}]}`))
	if err == nil || !strings.Contains(err.Error(), "more than 1000 lines") {
		t.Errorf("err = %v", err)
	}
}

// RPT-JSON-2, RPT-JSON-11: an end-datetime written as a bare date (a
// sloppy generator) is that whole day, so the range ends at the next
// midnight; read as that day's first instant, failures late in the day
// would fall before a soak that began during it.
func TestParseBareDateEnd(t *testing.T) {
	for _, c := range []struct{ start, end, wantEnd string }{
		{"2026-11-01", "2026-11-01", "2026-11-02T00:00:00Z"},
		{"2026-11-01T00:00:00Z", "2026-11-01", "2026-11-02T00:00:00Z"},
		{"2026-11-01T00:00:00Z", "2026-11-01T23:59:59Z", "2026-11-02T00:00:00Z"}, // unchanged
		{"2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z", "2026-11-02T00:00:00Z"}, // unchanged
	} {
		doc := `{"organization-name":"o","report-id":"1","date-range":{"start-datetime":"` + c.start + `","end-datetime":"` + c.end + `"},` +
			`"policies":[{"policy":{"policy-type":"sts","policy-domain":"example.com"},"summary":{"total-successful-session-count":1,"total-failure-session-count":0}}]}`
		r, err := Parse([]byte(doc))
		if err != nil {
			t.Fatalf("%s..%s: %v", c.start, c.end, err)
		}
		if got := r.DateRange.EndExclusive().Format(time.RFC3339); got != c.wantEnd {
			t.Errorf("%s..%s: ends %s, want %s", c.start, c.end, got, c.wantEnd)
		}
		if hasWarning(r, "not one whole UTC day") {
			t.Errorf("%s..%s: warned %q", c.start, c.end, r.Warnings)
		}
	}
}
