package serve

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stspilot/stspilot/checks/tlsrpt"
	"github.com/stspilot/stspilot/workflow"
)

const attackPolicy = "version: STSv1\r\nmode: testing\r\nmx: mx1.a.test\r\nmax_age: 86400\r\n"

// attackReport is Google Inc.'s report id for a.test under attackPolicy
// with ok sessions and failed ones (certificate-expired at mx1.a.test),
// padded with pad bytes of contact-info.
func attackReport(id string, ok, failed, pad int) []byte {
	det := ""
	if failed > 0 {
		det = fmt.Sprintf(`, "failure-details": [{"result-type": "certificate-expired", "receiving-mx-hostname": "mx1.a.test", "receiving-ip": "192.0.2.25", "failed-session-count": %d}]`, failed)
	}
	return []byte(fmt.Sprintf(`{"organization-name": "Google Inc.", "report-id": %q, "contact-info": "smtp-tls-reporting@google.com%s",
"date-range": {"start-datetime": "2026-11-28T00:00:00Z", "end-datetime": "2026-11-28T23:59:59Z"},
"policies": [{"policy": {"policy-type": "sts", "policy-string": ["version: STSv1", "mode: testing", "mx: mx1.a.test", "max_age: 86400"], "policy-domain": "a.test"},
"summary": {"total-successful-session-count": %d, "total-failure-session-count": %d}%s}]}`, id, strings.Repeat(" ", pad), ok, failed, det))
}

func postHandler(h http.Handler, body []byte) int {
	req := httptest.NewRequest(http.MethodPost, "https://mta-sts.a.test/tlsrpt", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/tlsrpt+json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

// gate runs the evidence gate of workflow (the one promote and plan
// --reports use) over STATE/reports for attackPolicy since 2026-11-27.
func gate(t *testing.T, state string) workflow.GateResult {
	t.Helper()
	p := &workflow.Policy{PolicyTerms: workflow.PolicyTerms{Mode: "testing", MaxAge: 86400, MX: []string{"mx1.a.test"}}, Text: attackPolicy, ID: "20261127000000attack"}
	g, found, err := workflow.ReportsEvidence([]string{filepath.Join(state, ReportsDir)}, tlsrpt.Options{})(
		context.Background(), "a.test", p, time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC))
	if err != nil || !found {
		t.Fatalf("evidence: found %v, %v", found, err)
	}
	return g
}

// Issue 14.1: a clean copy of a failure report, POSTed with the same
// organisation and report-id, neither replaces the stored failure report
// (shorter body: it used to be overwritten) nor hides it (longer body:
// stored beside it, and the reader used to keep whichever sorted first).
// The evidence gate stays closed and names the conflict.
func TestReceiveCleanCopyCannotOpenGate(t *testing.T) {
	state := t.TempDir()
	publish(t, state, "a.test", []byte(attackPolicy))
	h := &Handler{Policies: NewPolicies(state), Receiver: &Receiver{StateDir: state, Validate: Validate}, RUAPath: "/tlsrpt"}
	failing := attackReport("R", 1763, 37, 200)
	if st := postHandler(h, failing); st != http.StatusCreated {
		t.Fatalf("failure report: %d", st)
	}
	if g := gate(t, state); g.Open || !strings.Contains(g.Reason, "37 failed sessions") {
		t.Fatalf("the failure report does not close the gate: %+v", g)
	}
	stored := filepath.Join(state, ReportsDir, "a.test", "Google_Inc.", "R.json.gz")
	for _, clean := range [][]byte{attackReport("R", 1800, 0, 0), attackReport("R", 1800, 0, 400)} {
		if st := postHandler(h, clean); st != http.StatusCreated {
			t.Errorf("clean copy of %d bytes: %d, want 201 (kept as another copy)", len(clean), st)
		}
		if b, err := readStored(stored); err != nil || !bytes.Equal(b, failing) {
			t.Fatalf("the failure report was overwritten by a clean copy of %d bytes: %v\n%s", len(clean), err, b)
		}
		g := gate(t, state)
		if g.Open || !strings.Contains(g.Reason, "37 failed sessions") || !strings.Contains(g.Reason, "copies that differ") ||
			!strings.Contains(g.Reason, "Google Inc. R") {
			t.Fatalf("a clean copy of %d bytes opened the gate or went unnamed: %+v", len(clean), g)
		}
	}
	// Every body again: already stored, nothing new.
	for _, b := range [][]byte{failing, attackReport("R", 1800, 0, 0), attackReport("R", 1800, 0, 400)} {
		if st := postHandler(h, b); st != http.StatusOK {
			t.Errorf("a body stored before: %d, want 200", st)
		}
	}
	if ents, _ := os.ReadDir(filepath.Dir(stored)); len(ents) != 3 {
		t.Errorf("%d files, want the three bodies", len(ents))
	}
	// The reports view counts the report once, with its failures; the two
	// clean bodies differ only in blanks, so they are one content.
	dg := tlsrpt.NewDigest(tlsrpt.Filter{})
	st, errs := tlsrpt.Walk(context.Background(), []string{filepath.Join(state, ReportsDir)}, tlsrpt.Options{Rank: dg.Rank, Conflict: dg.Conflict}, func(_ string, r *tlsrpt.Report) { dg.Add(r) })
	sum := dg.Result()
	if len(errs) != 0 || st.Reports != 1 || st.Conflicts != 1 || sum.Failed != 37 || len(sum.Conflicts) != 1 || sum.Conflicts[0].Copies != 2 {
		t.Errorf("reports: stats %+v, %d failed, conflicts %+v, errors %v", st, sum.Failed, sum.Conflicts, errs)
	}
}

// 200 concurrent POSTs, 100 report ids with two bodies each: every body
// is kept, whole, under its own name (run with -race).
func TestReceiveConcurrentCopiesAllKept(t *testing.T) {
	state := t.TempDir()
	publish(t, state, "a.test", []byte(attackPolicy))
	h := &Handler{Policies: NewPolicies(state), Receiver: &Receiver{StateDir: state, Validate: Validate, MaxInFlight: 2 * 100}, RUAPath: "/tlsrpt"}
	const ids = 100
	bodies := map[string][2][]byte{}
	for i := range ids {
		id := fmt.Sprintf("R%03d", i)
		bodies[id] = [2][]byte{attackReport(id, 100, 5, 100), attackReport(id, 105, 0, 0)}
	}
	var wg sync.WaitGroup
	codes := make(chan int, 2*ids)
	for _, b := range bodies {
		for _, body := range b {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes <- postHandler(h, body)
			}()
		}
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != http.StatusCreated {
			t.Errorf("status %d, want 201 for every distinct body", c)
		}
	}
	dir := filepath.Join(state, ReportsDir, "a.test", "Google_Inc.")
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("a temporary file is left: %s", e.Name())
			continue
		}
		b, err := readStored(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		have[string(b)] = true
	}
	lost := 0
	for _, b := range bodies {
		for _, body := range b {
			if !have[string(body)] {
				lost++
			}
		}
	}
	if lost != 0 || len(ents) != 2*ids {
		t.Errorf("%d files, %d of %d bodies lost", len(ents), lost, 2*ids)
	}
}

// A name taken by other bytes is never reused: the body goes under the
// next name (the short hash, then the whole hash), and each name keeps
// what it held.
func TestStoreNamesTakenByOtherBytes(t *testing.T) {
	state := t.TempDir()
	rc := &Receiver{StateDir: state, Validate: Validate}
	body := attackReport("R", 1, 0, 0)
	sum := sha256.Sum256(body)
	h := hex.EncodeToString(sum[:])
	dir := filepath.Join(state, ReportsDir, "a.test", "Google_Inc.")
	os.MkdirAll(dir, 0o700)
	taken := map[string]string{"R.json.gz": "first", "R-" + h[:12] + ".json.gz": string(gz(t, []byte(strings.Repeat("x", len(body)))))}
	for name, content := range taken {
		os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600)
	}
	rel, created, err := storeBytes(rc, ReportMeta{Org: "Google Inc.", ReportID: "R"}, "a.test", body)
	if err != nil || !created || filepath.Base(rel) != "R-"+h+".json.gz" {
		t.Fatalf("stored as %s (created %v): %v", rel, created, err)
	}
	for name, content := range taken {
		if b, _ := os.ReadFile(filepath.Join(dir, name)); string(b) != content {
			t.Errorf("%s was overwritten", name)
		}
	}
	if _, created, err := storeBytes(rc, ReportMeta{Org: "Google Inc.", ReportID: "R"}, "a.test", body); err != nil || created {
		t.Errorf("the same body again: created %v, %v", created, err)
	}
}
