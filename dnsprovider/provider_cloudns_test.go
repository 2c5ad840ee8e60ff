package dnsprovider_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stspilot/stspilot/dnsprovider"
)

// openCloudnsAt opens the cloudns provider with its requests sent, through
// the very client its factory built, to srv on loopback.
func openCloudnsAt(t *testing.T, srv *httptest.Server) dnsprovider.Provider {
	t.Helper()
	base, _ := url.Parse(srv.URL)
	var ours atomic.Int64
	loop := &http.Transport{}
	t.Cleanup(loop.CloseIdleConnections)
	dnsprovider.SetProviderTransportForTest(t, toServer{base: base, hits: &ours, rt: loop})
	p, err := dnsprovider.Open("cloudns", mapSource{"CLOUDNS_AUTH_ID": "12345", "CLOUDNS_AUTH_PASSWORD": sentinel(1)}, dnsprovider.Env{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// A response over the cap is not transient: one request, with our retry
// policy as in production and libdns/cloudns's own retry (5 attempts
// from 1 s) off, so the error comes back after the first answer.
func TestCloudnsOversizedIsNotRetried(t *testing.T) {
	srv, served := oversizeServer(t)
	p := openCloudnsAt(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := p.ReadTXT(ctx, "example.test", "_mta-sts.example.test")
	if err == nil || !strings.Contains(err.Error(), dnsprovider.ErrTooLarge.Error()) {
		t.Fatalf("err = %v, want the cap's error", err)
	}
	if errors.Is(err, dnsprovider.ErrTransient) {
		t.Errorf("the cap's error is classed transient: %v", err)
	}
	if n := served.Load(); n != 1 {
		t.Errorf("the server saw %d requests, want 1 (no layer retries a response over the cap)", n)
	}
}

// A transient failure is retried by one layer only: ours, so the server
// sees exactly our attempts, not ours times the library's.
func TestCloudnsRetriesOnce(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	p := openCloudnsAt(t, srv)
	dnsprovider.SetRetryForTest(p, time.Millisecond, time.Millisecond, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := p.ReadTXT(ctx, "example.test", "_mta-sts.example.test")
	if !errors.Is(err, dnsprovider.ErrTransient) {
		t.Fatalf("err = %v, want a transient failure", err)
	}
	if n := hits.Load(); n != 3 {
		t.Errorf("the server saw %d requests, want 3 (our 3 attempts, each one request)", n)
	}
}
