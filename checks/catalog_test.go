package checks

import (
	"context"
	"flag"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// designIDs is the minimum catalogue of docs/design.md, copied verbatim: the names
// are a contract, so a rename here must fail.
var designIDs = []string{
	"sts-record.missing", "sts-record.multiple", "sts-record.syntax", "sts-record.id-invalid", "sts-record.foreign-txt",
	"policy.unreachable", "policy.http-status", "policy.redirect", "policy.content-type", "policy.cert", "policy.cert-expiring",
	"policy.too-large", "policy.slow", "policy.agent-blocked", "policy.ip-divergence",
	"policy.syntax", "policy.strictness",
	"mx.none", "mx.uncovered", "mx.cname",
	"mx.unreachable", "mx.starttls-missing", "mx.cert-untrusted", "mx.cert-name", "mx.cert-expired", "mx.cert-expiring", "mx.tls-version",
	"policy.id-drift",
	"policy.max-age-low", "policy.max-age-high", "policy.testing-long-max-age",
	"tlsrpt.missing", "tlsrpt.syntax", "tlsrpt.rua-scheme", "tlsrpt.rua-multiple",
	"teardown.orphan-policy", "teardown.host-gone",
}

func TestCatalogHoldsDesignIDs(t *testing.T) {
	for _, id := range designIDs {
		if _, ok := Catalog[id]; !ok {
			t.Errorf("docs/design.md finding id %q missing from the catalogue", id)
		}
	}
}

func TestCatalogEntriesComplete(t *testing.T) {
	seen := map[string]bool{}
	for _, e := range catalogEntries {
		if seen[e.ID] {
			t.Errorf("%s listed twice", e.ID)
		}
		seen[e.ID] = true
		if e.Area == "" || e.Why == "" || e.Title == "" {
			t.Errorf("%s: area, title and why are required", e.ID)
		}
		if e.Severity != SevError && e.Severity != SevWarn && e.Severity != SevInfo {
			t.Errorf("%s: bad severity %q", e.ID, e.Severity)
		}
		if len(e.Rules) == 0 {
			t.Errorf("%s: cites no rule id", e.ID)
		}
		for _, r := range e.Rules {
			if !strings.HasPrefix(r, "STS-") && !strings.HasPrefix(r, "RPT-") && !strings.HasPrefix(r, "OPS-") {
				t.Errorf("%s: rule %q is not a docs/rules.md id", e.ID, r)
			}
		}
		if !strings.Contains(e.ID, ".") || strings.ToLower(e.ID) != e.ID {
			t.Errorf("%s: ids are lower-case area.name", e.ID)
		}
	}
}

func TestNewFindingFillsFromCatalog(t *testing.T) {
	f := newFinding("mx.cert-name", "mx1.example.test (127.0.0.1)", "certificate is valid for wrong.example.test", "install ...")
	if f.Severity != SevError || f.Area != AreaTLS || f.ResultType != "certificate-host-mismatch" || len(f.Rules) == 0 {
		t.Fatalf("newFinding did not fill from the catalogue: %+v", f)
	}
	if got := newFinding("no.such-id", "s", "o", "f"); got.Severity != SevError || got.Area != "other" {
		t.Fatalf("unknown id: %+v", got)
	}
}

// produced records every finding id that some test saw the engine produce;
// TestMain fails the run when a catalogue id was never produced.
var produced sync.Map

func markProduced(r *Report) {
	for _, f := range r.Findings {
		produced.Store(f.ID, true)
	}
}

// benchWorld, when set (on Linux), serves BenchmarkCheckMany's world
// instead of running the tests if the environment asks for it.
var benchWorld func() (code int, served bool)

func TestMain(m *testing.M) {
	flag.Parse()
	if benchWorld != nil { // BenchmarkCheckMany's world process
		if code, ok := benchWorld(); ok {
			os.Exit(code)
		}
	}
	code := m.Run()
	// Join the courtesy commands of every Run, so none outlives the tests.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	WaitCourtesy(ctx)
	cancel()
	if code == 0 && !filtered() {
		var missing []string
		for _, id := range IDs() {
			if _, ok := produced.Load(id); !ok {
				missing = append(missing, id)
			}
		}
		sort.Strings(missing)
		if len(missing) > 0 {
			os.Stderr.WriteString("FAIL: finding ids no test produced: " + strings.Join(missing, ", ") + "\n")
			code = 1
		}
	}
	os.Exit(code)
}

// filtered reports whether the run selects a subset of tests, in which case
// the coverage of finding ids cannot be judged.
func filtered() bool {
	f := flag.Lookup("test.run")
	s := flag.Lookup("test.skip")
	return (f != nil && f.Value.String() != "") || (s != nil && s.Value.String() != "") || testing.Short()
}

// TestTLSRPTFailuresFromCatalog: the finding the front ends show for
// TLS-RPT failures that block promote comes from its catalogue entry.
func TestTLSRPTFailuresFromCatalog(t *testing.T) {
	f := TLSRPTFailures("example.com", "2 failed sessions")
	markProduced(&Report{Findings: []Finding{f}})
	e := Catalog["tlsrpt.failures"]
	if f.ID != e.ID || f.Severity != SevError || f.Area != AreaTLSRPT || f.Why != e.Why || len(f.Rules) == 0 || f.Fix == "" {
		t.Fatalf("finding %+v not filled from the catalogue entry %+v", f, e)
	}
	if f.Subject != "_smtp._tls.example.com reports" || f.Observed != "2 failed sessions" {
		t.Fatalf("subject %q, observed %q", f.Subject, f.Observed)
	}
}
