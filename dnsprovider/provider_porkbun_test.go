package dnsprovider_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stspilot/stspilot/dnsprovider"
	"github.com/stspilot/stspilot/dnsprovider/memory"
)

// porkbunServer starts handler on loopback and points Go's default
// transport at it for the test, as TestProviderHTTPClients does:
// libdns/porkbun sends to a constant URL through http.DefaultTransport.
func porkbunServer(t *testing.T, handler http.HandlerFunc) dnsprovider.Provider {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	base, _ := url.Parse(srv.URL)
	var hits atomic.Int64
	orig := http.DefaultTransport
	loop := &http.Transport{}
	http.DefaultTransport = toServer{base: base, hits: &hits, rt: loop}
	t.Cleanup(func() {
		// The calls given up on read http.DefaultTransport too: wait
		// for them (hang's release runs first) before restoring it.
		for end := time.Now().Add(10 * time.Second); dnsprovider.PorkbunAbandonedForTest() > 0; time.Sleep(time.Millisecond) {
			if time.Now().After(end) {
				t.Error("a porkbun call given up on did not return once the server answered")
				break
			}
		}
		http.DefaultTransport = orig
		loop.CloseIdleConnections()
	})
	p, err := dnsprovider.Open("porkbun", mapSource{"PORKBUN_API_KEY": sentinel(1), "PORKBUN_API_SECRET_KEY": sentinel(2)}, dnsprovider.Env{})
	if err != nil {
		t.Fatal(err)
	}
	dnsprovider.SetRetryForTest(p, time.Millisecond, time.Millisecond, 1)
	return p
}

// hang returns a channel a handler may block on and a func that closes
// it when the test ends, to be called after porkbunServer so that it runs
// before the server's Close (which waits for the handlers): libdns/porkbun
// never gives up on a request, so the server must let go.
func hang(t *testing.T) (<-chan struct{}, func()) {
	release := make(chan struct{})
	return release, func() { t.Cleanup(func() { close(release) }) }
}

// A server that never answers does not stall a read: the call returns at
// the caller's deadline.
func TestPorkbunHungReadReturnsAtDeadline(t *testing.T) {
	release, arm := hang(t)
	p := porkbunServer(t, func(w http.ResponseWriter, r *http.Request) { <-release })
	arm()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	// The handler holds every request until the test ends, so a read that
	// waited for the library would never return (the test hangs and fails);
	// one that returned is the deadline's doing, which the error says. No
	// wall-clock bound: it fails by chance on a loaded machine.
	_, err := p.ReadTXT(ctx, "example.test", "_mta-sts.example.test")
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no answer before the deadline") {
		t.Errorf("err = %v, want the deadline, said so", err)
	}
}

// A write that never answers returns at the deadline as a partial change
// that says it may still land, with the zone read back; it is never
// reported as a write that changed nothing.
func TestPorkbunHungWriteMayStillLand(t *testing.T) {
	release, arm := hang(t)
	p := porkbunServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
		if strings.Contains(r.URL.Path, "/dns/retrieve/") {
			_, _ = io.WriteString(w, `{"status":"SUCCESS","records":[]}`)
			return
		}
		<-release
	})
	arm()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	// As for the read: the write returns only by its deadline.
	_, err := p.SetOurs(ctx, "example.test", "_mta-sts.example.test", dnsprovider.KindSTS, "v=STSv1; id=20260101T000000;", 0)
	var pe *dnsprovider.PartialError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v, want a *PartialError", err)
	}
	if !strings.Contains(err.Error(), "may still land") || pe.ReadErr != nil {
		t.Errorf("err = %v (read back: %v), want it to say the change may still land, with the zone read back", err, pe.ReadErr)
	}
	for _, s := range []string{sentinel(1), sentinel(2)} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("the error shows a secret: %v", err)
		}
	}
}

// libdns/porkbun calls log.Fatal when closing a response body fails. A
// body cut off half-way (a read error, then Close) must not reach it: if
// it did, the test binary would exit here.
func TestPorkbunBrokenBodyDoesNotExit(t *testing.T) {
	p := porkbunServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, `{"status":"SUCC`)
		w.(http.Flusher).Flush()
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			conn.Close()
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := p.ReadTXT(ctx, "example.test", "_mta-sts.example.test")
	if err == nil {
		t.Fatal("a body cut off half-way read as a zone")
	}
	t.Logf("cut-off body: %v", err)
}

// A first write (of a TXT or an MX set) that fails outright and leaves
// the zone as it was is reported as nothing changed; one given up on while its request may
// still land is a *PartialError even when the zone read back right after
// it is unchanged (the caller's context still live, as when our own cap
// on a call, not the caller's deadline, gave up).
func TestInFlightWriteIsPartial(t *testing.T) {
	for _, tc := range []struct {
		name    string
		err     error
		partial bool
	}{
		{"refused", errors.New("HTTP 400: nope"), false},
		{"in flight", dnsprovider.InFlightForTest(fmt.Errorf("no answer before the deadline, and the change may still land: %w", context.DeadlineExceeded)), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &memory.Provider{}
			m.AddZone("example.test")
			m.Fail = func(op string) error {
				if op == "append" {
					return tc.err
				}
				return nil
			}
			p := dnsprovider.FromLibdns("memory", m, dnsprovider.LibdnsOptions{})
			_, err := p.SetOurs(context.Background(), "example.test", "_mta-sts.example.test.", dnsprovider.KindSTS, "v=STSv1; id=new;", 0)
			var pe *dnsprovider.PartialError
			if err == nil || errors.As(err, &pe) != tc.partial {
				t.Fatalf("TXT: err = %v, want partial %v", err, tc.partial)
			}
			if tc.partial && !strings.Contains(err.Error(), "may still land") {
				t.Errorf("TXT: err = %v, want it to say the change may still land", err)
			}
			// The MX writer runs the same steps and reports the same way.
			_, err = p.(dnsprovider.MXProvider).SetMX(context.Background(), "example.test", "example.test.", []dnsprovider.MX{{Pref: 10, Host: "mx.example.test."}}, 0)
			var mpe *dnsprovider.MXPartialError
			if err == nil || errors.As(err, &mpe) != tc.partial {
				t.Fatalf("MX: err = %v, want partial %v", err, tc.partial)
			}
			if tc.partial && !strings.Contains(err.Error(), "may still land") {
				t.Errorf("MX: err = %v, want it to say the change may still land", err)
			}
		})
	}
}
