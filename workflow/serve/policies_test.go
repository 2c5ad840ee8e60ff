package serve

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDomainsAndLookupBounds(t *testing.T) {
	state := t.TempDir()
	p := NewPolicies(state)
	if ds, err := p.Domains(); err != nil || len(ds) != 0 {
		t.Fatalf("no serve dir: %v %v", ds, err)
	}
	publish(t, state, "b.test", []byte(policyB))
	publish(t, state, "a.test", []byte(policyA))
	for _, dir := range []string{"publish", "serve"} { // and the earlier layout
		os.MkdirAll(filepath.Join(state, dir, "empty.test"), 0o755)      // no policy file
		os.MkdirAll(filepath.Join(state, dir, "Upper.Test"), 0o755)      // not a normalised name
		os.WriteFile(filepath.Join(state, dir, "file.test"), nil, 0o644) // not a directory
	}
	if ds, err := p.Domains(); err != nil || strings.Join(ds, ",") != "a.test,b.test" {
		t.Errorf("Domains = %v %v, want a.test,b.test", ds, err)
	}
	// A policy over 64 KiB is not served (senders would not take it).
	big := strings.Repeat("x", MaxPolicySize+1)
	publish(t, state, "big.test", []byte(big))
	if _, err := p.Lookup("big.test"); err == nil {
		t.Error("a policy over 64 KiB was served")
	}
	for _, d := range []string{"", "..", "../a.test", "a.test/../b.test", "a..test", strings.Repeat("a", 300)} {
		if _, err := p.Lookup(d); err == nil {
			t.Errorf("Lookup(%q) found a policy", d)
		}
	}
	if pol, err := p.Lookup("A.TEST."); err != nil || string(pol.Data) != policyA {
		t.Errorf("Lookup is case-insensitive: %v", err)
	}
}

// Any Host header, however odd, gets an answer and no panic; only the
// served name gets the policy.
func FuzzHandlerHost(f *testing.F) {
	state := f.TempDir()
	publish(f, state, "a.test", []byte(policyA))
	h := &Handler{Policies: NewPolicies(state), RUAPath: "/tlsrpt", Receiver: &Receiver{StateDir: state, Validate: Validate}}
	for _, s := range []string{"mta-sts.a.test", "MTA-STS.A.TEST.:443", "mta-sts.", "mta-sts.../..", "[::1]:443", "mta-sts.a.test:99999", "\x00", "mta-sts.a.test\xff"} {
		f.Add(s, "/.well-known/mta-sts.txt")
	}
	f.Fuzz(func(t *testing.T, host, path string) {
		req := httptest.NewRequest("GET", "/", nil)
		req.Host = host
		req.URL.Path = path
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK:
			if rec.Body.String() != policyA || path != policyPath || !strings.HasPrefix(hostName(host), "mta-sts.") {
				t.Fatalf("200 for Host %q path %q: %q", host, path, rec.Body.String())
			}
		case http.StatusNotFound, http.StatusMethodNotAllowed:
		default:
			t.Fatalf("Host %q path %q: status %d", host, path, rec.Code)
		}
		if loc := rec.Header().Get("Location"); loc != "" {
			t.Fatalf("redirect to %q", loc)
		}
	})
}
