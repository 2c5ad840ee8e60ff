package tlsrpt

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func addCorpusSeeds(f *testing.F, pattern string) {
	files, _ := filepath.Glob(filepath.Join("testdata", "reports", pattern))
	more, _ := filepath.Glob(filepath.Join("testdata", "reports", "*", pattern))
	for _, p := range append(files, more...) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
}

// FuzzParse: report JSON never panics; what parses has non-negative
// counts, a result type on every detail, and marshals back to JSON that
// parses to the same report (the wire tags are the RFC's).
func FuzzParse(f *testing.F) {
	addCorpusSeeds(f, "*.json")
	f.Add([]byte(`{"organization-name":"o","report-id":"r","date-range":{"start-datetime":"2026-01-01T00:00:00Z","end-datetime":"2026-01-02T00:00:00Z"},"policies":[{"policy":{"policy-type":"x","mx-host":"a"},"summary":{"total-successful-session-count":"1e3","total-failure-session-count":null},"failure-details":[null,{}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse(data)
		if err != nil {
			if r != nil {
				t.Fatal("a report with an error")
			}
			return
		}
		if r.OrganizationName == "" || r.ReportID == "" || r.Policies == nil {
			t.Fatalf("required members empty: %+v", r)
		}
		for _, p := range r.Policies {
			if p.Summary.Successful < 0 || p.Summary.Failure < 0 || p.Policy.Type == "" {
				t.Fatalf("bad policy %+v", p)
			}
			for _, d := range p.FailureDetails {
				if d.ResultType == "" || d.FailedSessionCount < 0 {
					t.Fatalf("bad detail %+v", d)
				}
			}
		}
		if len(r.Warnings) > maxWarnings+1 {
			t.Fatalf("%d warnings", len(r.Warnings))
		}
		out, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		r2, err := Parse(out)
		if err != nil {
			t.Fatalf("re-parse of %s: %v", out, err)
		}
		r.Warnings, r2.Warnings = nil, nil
		if !reflect.DeepEqual(r, r2) {
			t.Fatalf("round trip differs:\n%+v\n%+v", r, r2)
		}
	})
}

// FuzzParseMessage: mail input never panics, never returns a nil report,
// and either reports or errors.
func FuzzParseMessage(f *testing.F) {
	addCorpusSeeds(f, "*.eml")
	f.Add([]byte("Content-Type: application/tlsrpt+json\r\n\r\n{}"))
	f.Add([]byte("Content-Type: multipart/report; boundary=b\r\n\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nContent-Type: application/tlsrpt+json\r\n\r\n{}\r\n--b--\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := ParseMessage(bytes.NewReader(data), Options{MaxReport: 1 << 20})
		if err == nil && len(rs) == 0 {
			t.Fatal("no report and no error")
		}
		for _, r := range rs {
			if r == nil {
				t.Fatal("nil report")
			}
		}
	})
}
