package httpsprobe

import (
	"context"
	"net"
	"slices"
	"sync"
	"testing"
	"time"
)

// FuzzResponse serves arbitrary bytes as the HTTP response over a valid TLS
// connection and checks that Fetch never panics, never keeps more than
// MaxBody bytes, and reports consistently: Err is set exactly when Kind is,
// a kind is one a response can cause, and a clean result has a final status.
// Seeds are in testdata/fuzz/FuzzResponse.
func FuzzResponse(f *testing.F) {
	var mu sync.Mutex
	var current []byte
	port := rawTLS(f, func(c net.Conn) {
		mu.Lock()
		data := current
		mu.Unlock()
		_, _ = c.Write(data)
	})
	fetch := fetcher(f, port, 10*time.Second)
	allowed := []ErrKind{KindNone, KindHTTP, KindBody, KindTooLarge}
	f.Fuzz(func(t *testing.T, resp []byte) {
		mu.Lock()
		current = resp
		mu.Unlock()
		r := fetch.Fetch(context.Background(), testHost, loopback, SenderUA)
		if len(r.Body) > MaxBody {
			t.Fatalf("kept %d bytes", len(r.Body))
		}
		if (r.Err == nil) != (r.Kind == KindNone) {
			t.Fatalf("kind %q with err %v", r.Kind, r.Err)
		}
		if !slices.Contains(allowed, r.Kind) {
			t.Fatalf("kind %q (%v) from a response that arrives and ends", r.Kind, r.Err)
		}
		if r.Err == nil && (r.Status < 101 || r.Status > 999 || (r.Status > 101 && r.Status < 200)) {
			t.Fatalf("clean result with status %d", r.Status)
		}
		if r.Status == 200 && r.TooLarge && r.Kind != KindTooLarge {
			t.Fatalf("too large 200 reported as %q", r.Kind)
		}
		if r.Location != "" && (r.Status < 300 || r.Status > 399) {
			t.Fatalf("Location %q on status %d", r.Location, r.Status)
		}
	})
}
