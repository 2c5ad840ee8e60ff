package serve

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A report in the RFC 8460 section 4.8 shape (RPT-JSON-1..9).
const sampleReport = `{
  "organization-name": "Company-X",
  "date-range": {"start-datetime": "2026-11-28T00:00:00Z", "end-datetime": "2026-11-28T23:59:59Z"},
  "contact-info": "sts-reporting@company-x.example",
  "report-id": "5065427c-23d3-47ca-b6e0-946ea0e8c4be",
  "policies": [{
    "policy": {"policy-type": "sts", "policy-string": ["version: STSv1", "mode: testing", "mx: *.a.test", "max_age: 86400"], "policy-domain": "a.test", "mx-host": ["*.a.test"]},
    "summary": {"total-successful-session-count": 5326, "total-failure-session-count": 303},
    "failure-details": [{"result-type": "certificate-expired", "sending-mta-ip": "2001:db8:abcd:0012::1", "receiving-mx-hostname": "mx1.a.test", "failed-session-count": 100}]
  }]
}`

func gz(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func post(t *testing.T, c *http.Client, url, ctype string, body []byte) (int, string) {
	t.Helper()
	resp, err := c.Post(url, ctype, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

// RPT-DEL-8, -12: both media types are accepted with 2xx, the report is
// stored under STATE/reports/ORG/REPORTID.json, a repeat is 200.
func TestReceiveReports(t *testing.T) {
	state := t.TempDir()
	logBuf := &syncBuffer{}
	publish(t, state, "a.test", []byte(policyA))
	r := start(t, Config{StateDir: state, Log: NewAccessLog(logBuf)}, []string{"mta-sts.a.test"})
	c := r.client(false)
	url := "https://mta-sts.a.test/tlsrpt"
	if st, msg := post(t, c, url, "application/tlsrpt+json", []byte(sampleReport)); st != 201 {
		t.Fatalf("json: %d %s", st, msg)
	}
	path := filepath.Join(state, "reports", "a.test", "Company-X", "5065427c-23d3-47ca-b6e0-946ea0e8c4be.json.gz")
	if b, err := readStored(path); err != nil || string(b) != sampleReport {
		t.Fatalf("stored report: %v %q", err, b)
	}
	if st, _ := post(t, c, url, "application/tlsrpt+gzip", gz(t, []byte(sampleReport))); st != 200 {
		t.Errorf("the same report gzipped: %d, want 200 (already stored)", st)
	}
	other := strings.Replace(sampleReport, "5326", "5327", 1)
	if st, _ := post(t, r.client(true), url, "application/tlsrpt+gzip; charset=binary", gz(t, []byte(other))); st != 201 {
		t.Errorf("a different body with the same report-id over h2: %d, want 201", st)
	}
	ents, _ := os.ReadDir(filepath.Dir(path))
	if len(ents) != 2 {
		t.Errorf("%d files, want both bodies kept (RPT-DEL-10)", len(ents))
	}
	if !strings.Contains(logBuf.String(), `"report":"reports/a.test/Company-X/5065427c`) {
		t.Errorf("access log does not name the stored report:\n%s", logBuf.String())
	}
}

// Hostile and malformed reports: 415, 413, 400 with a reason; nothing stored.
func TestReceiveRefusals(t *testing.T) {
	state := t.TempDir()
	publish(t, state, "a.test", []byte(policyA))
	r := start(t, Config{StateDir: state, MaxReportBody: 64 << 10, MaxReportJSON: 256 << 10}, []string{"mta-sts.a.test"})
	c := r.client(false)
	url := "https://mta-sts.a.test/tlsrpt"
	// 4 MiB of spaces in ~4 KiB: 16 times the JSON cap, far under the body cap.
	bomb := gz(t, bytes.Repeat([]byte(" "), 4<<20))
	if len(bomb) > 64<<10 {
		t.Fatalf("bomb is %d bytes, want it under the body cap", len(bomb))
	}
	for _, tc := range []struct {
		name, ctype string
		body        []byte
		want        int
	}{
		{"wrong type", "application/json", []byte(sampleReport), 415},
		{"no type", "", []byte(sampleReport), 415},
		{"oversized body", "application/tlsrpt+json", bytes.Repeat([]byte("x"), 65<<10), 413},
		{"gzip bomb", "application/tlsrpt+gzip", bomb, 413},
		{"gzip type, plain body", "application/tlsrpt+gzip", []byte(sampleReport), 400},
		{"truncated gzip", "application/tlsrpt+gzip", gz(t, []byte(sampleReport))[:40], 400},
		{"not JSON", "application/tlsrpt+json", []byte("hello"), 400},
		{"not a report", "application/tlsrpt+json", []byte(`{"a":1}`), 400},
		{"two values", "application/tlsrpt+json", []byte(sampleReport + sampleReport), 400},
		{"bad date", "application/tlsrpt+json", []byte(strings.Replace(sampleReport, "2026-11-28T00:00:00Z", "yesterday", 1)), 400},
		{"negative count", "application/tlsrpt+json", []byte(strings.Replace(sampleReport, "5326", "-5", 1)), 400},
		{"policy without type", "application/tlsrpt+json", []byte(strings.Replace(sampleReport, `"policy-type": "sts", `, "", 1)), 400},
		{"too deep", "application/tlsrpt+json", []byte(strings.Repeat("[", 100) + strings.Repeat("]", 100)), 400},
	} {
		st, msg := post(t, c, url, tc.ctype, tc.body)
		if st != tc.want || len(strings.TrimSpace(msg)) == 0 {
			t.Errorf("%s: %d %q, want %d with a reason", tc.name, st, msg, tc.want)
		}
	}
	if files := storedFiles(t, filepath.Join(state, "reports")); len(files) != 0 {
		t.Errorf("refused reports left files: %v", files)
	}
	// The policy host is unaffected by all that.
	if resp, body := get(t, c, "GET", "https://mta-sts.a.test/.well-known/mta-sts.txt", nil); resp.StatusCode != 200 || body != policyA {
		t.Errorf("policy after the refusals: %d", resp.StatusCode)
	}
}

// Organisation names and report ids cannot steer the file out of reports/.
func TestReportNamesSanitised(t *testing.T) {
	state := t.TempDir()
	rc := &Receiver{StateDir: state, Validate: Validate}
	for _, m := range []ReportMeta{
		{Org: "../../etc", ReportID: "../passwd"},
		{Org: "..", ReportID: ".."},
		{Org: "a/b\\c\x00d", ReportID: strings.Repeat("z", 500)},
		{Org: "", ReportID: "é"},
	} {
		rel, created, err := storeBytes(rc, m, "a.test", []byte(sampleReport))
		if err != nil || !created {
			t.Fatalf("%q: %v", m, err)
		}
		abs, _ := filepath.Abs(filepath.Join(state, rel))
		if !strings.HasPrefix(abs, filepath.Join(state, "reports")+string(filepath.Separator)) || strings.Count(rel, string(filepath.Separator)) != 3 || len(filepath.Base(rel)) > 110 {
			t.Errorf("%q stored as %s", m, rel)
		}
	}
}

func FuzzValidate(f *testing.F) {
	f.Add([]byte(sampleReport))
	f.Add([]byte(`{"organization-name":"x","report-id":"y","date-range":{},"policies":[]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Validate(bytes.NewReader(b), 0)
		if err == nil && (strings.TrimSpace(m.Org) == "" || strings.TrimSpace(m.ReportID) == "") {
			t.Fatalf("accepted a report without org or id: %q", b)
		}
		_ = safeName(m.Org)
	})
}
