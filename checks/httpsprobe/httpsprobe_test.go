package httpsprobe

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stspilot/stspilot/checks/certs"
	"github.com/stspilot/stspilot/internal/txtrecord"
)

const policy = "version: STSv1\r\nmode: enforce\r\nmx: mail.example.test\r\nmax_age: 86400\r\n"

// TestResponses covers what a reachable policy host can answer. Every case
// gets an HTTP response, so Err is nil unless a sender would fail on the
// 200's body.
func TestResponses(t *testing.T) {
	binary := make([]byte, 256)
	for i := range binary {
		binary[i] = byte(i)
	}
	var redirectTargetHits atomic.Int64
	cases := []struct {
		name    string // rule ids
		handler func(s *server, w http.ResponseWriter, r *http.Request)
		check   func(t *testing.T, r Result)
	}{
		{"STS-FETCH-5 200 text/plain", func(_ *server, w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, policy)
		}, func(t *testing.T, r Result) {
			want(t, r, 200, KindNone)
			if string(r.Body) != policy || r.ContentType != "text/plain" || r.TooLarge {
				t.Errorf("body %q, type %q, too large %v", r.Body, r.ContentType, r.TooLarge)
			}
			if !r.Cert.Valid() || r.Cert.Subject == "" || r.TLSVersion < tls.VersionTLS12 {
				t.Errorf("cert %+v, TLS %x", r.Cert, r.TLSVersion)
			}
		}},
		{"STS-FETCH-5 404 is a response, not an error", func(_ *server, w http.ResponseWriter, _ *http.Request) {
			http.NotFound(w, nil)
		}, func(t *testing.T, r Result) {
			want(t, r, 404, KindNone)
			if !strings.Contains(string(r.Body), "not found") {
				t.Errorf("404 body %q not kept", r.Body)
			}
		}},
		{"STS-FETCH-6 301 recorded, not followed", func(_ *server, w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != txtrecord.WellKnownPath {
				redirectTargetHits.Add(1)
				io.WriteString(w, policy)
				return
			}
			w.Header().Set("Location", "/policy.txt")
			w.WriteHeader(http.StatusMovedPermanently)
		}, func(t *testing.T, r Result) {
			want(t, r, 301, KindNone)
			if r.Location != "/policy.txt" {
				t.Errorf("Location %q", r.Location)
			}
			if n := redirectTargetHits.Load(); n != 0 {
				t.Errorf("redirect target fetched %d times", n)
			}
		}},
		{"STS-FETCH-9 text/html", func(_ *server, w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			io.WriteString(w, "<html>"+policy+"</html>")
		}, func(t *testing.T, r Result) {
			want(t, r, 200, KindNone)
			if r.ContentType != "text/html; charset=utf-8" {
				t.Errorf("Content-Type %q", r.ContentType)
			}
		}},
		{"STS-FETCH-9 missing Content-Type", func(_ *server, w http.ResponseWriter, _ *http.Request) {
			w.Header()["Content-Type"] = nil // stop Go's server from sniffing one
			io.WriteString(w, policy)
		}, func(t *testing.T, r Result) {
			want(t, r, 200, KindNone)
			if r.ContentType != "" || string(r.Body) != policy {
				t.Errorf("Content-Type %q, body %q", r.ContentType, r.Body)
			}
		}},
		{"binary body returned as bytes", func(_ *server, w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Write(binary)
		}, func(t *testing.T, r Result) {
			want(t, r, 200, KindNone)
			if !bytes.Equal(r.Body, binary) {
				t.Errorf("body % x", r.Body)
			}
		}},
		{"STS-FETCH-10 exactly MaxBody is accepted", func(_ *server, w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Write(bytes.Repeat([]byte{'a'}, MaxBody))
		}, func(t *testing.T, r Result) {
			want(t, r, 200, KindNone)
			if r.TooLarge || len(r.Body) != MaxBody {
				t.Errorf("too large %v, %d bytes", r.TooLarge, len(r.Body))
			}
		}},
		{"STS-FETCH-10 Content-Length over 64 KiB", func(_ *server, w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Content-Length", fmt.Sprint(MaxBody+1))
			w.Write(bytes.Repeat([]byte{'a'}, MaxBody+1))
		}, func(t *testing.T, r Result) {
			want(t, r, 200, KindTooLarge)
			if !r.TooLarge || len(r.Body) != 0 {
				t.Errorf("too large %v, %d bytes read", r.TooLarge, len(r.Body))
			}
		}},
		{"STS-FETCH-10 chunked body over 64 KiB", func(_ *server, w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			for range 3 {
				w.Write(bytes.Repeat([]byte{'b'}, MaxBody/2))
				w.(http.Flusher).Flush() // no Content-Length: chunked
			}
		}, func(t *testing.T, r Result) {
			want(t, r, 200, KindTooLarge)
			if !r.TooLarge || len(r.Body) != MaxBody {
				t.Errorf("too large %v, %d bytes", r.TooLarge, len(r.Body))
			}
		}},
		{"103 Early Hints skipped", func(_ *server, w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Link", "</style.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, policy)
		}, func(t *testing.T, r Result) {
			want(t, r, 200, KindNone)
			if string(r.Body) != policy {
				t.Errorf("body %q", r.Body)
			}
		}},
		{"STS-FETCH-7 cache headers are only recorded", func(_ *server, w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("If-None-Match") != "" || r.Header.Get("If-Modified-Since") != "" {
				w.WriteHeader(http.StatusNotModified)
				return
			}
			w.Header().Set("ETag", `"x"`)
			w.Header().Set("Cache-Control", "max-age=60")
			io.WriteString(w, policy)
		}, func(t *testing.T, r Result) {
			want(t, r, 200, KindNone)
		}},
		{"unsolicited gzip is kept encoded", func(_ *server, w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Content-Encoding", "gzip")
			w.Write([]byte{0x1f, 0x8b, 8, 0})
		}, func(t *testing.T, r Result) {
			want(t, r, 200, KindNone)
			if r.ContentEncoding != "gzip" || !bytes.Equal(r.Body, []byte{0x1f, 0x8b, 8, 0}) {
				t.Errorf("encoding %q, body % x", r.ContentEncoding, r.Body)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := startTLS(t, getPKI(t).good, nil, c.handler)
			// Fetched twice, the second time to show nothing (ETag, a
			// cached response) carries over from one fetch to the next.
			for range 2 {
				c.check(t, fetcher(t, s.port, 10*time.Second).Fetch(context.Background(), testHost, s.addr, SenderUA))
			}
		})
	}
}

// want checks status and kind, and that Err is set exactly when Kind is.
func want(t *testing.T, r Result, status int, kind ErrKind) {
	t.Helper()
	if r.Status != status || r.Kind != kind {
		t.Fatalf("status %d kind %q (err %v), want %d %q", r.Status, r.Kind, r.Err, status, kind)
	}
	if (r.Err == nil) != (kind == KindNone) {
		t.Fatalf("kind %q with err %v", r.Kind, r.Err)
	}
	if r.Host != testHost || !r.Addr.IsValid() || r.Elapsed <= 0 {
		t.Fatalf("host %q addr %v elapsed %v", r.Host, r.Addr, r.Elapsed)
	}
}

// TestRequestShape checks what goes on the wire: SNI and Host are the policy
// host (STS-FETCH-1, -4), a plain GET of the well-known path over HTTP/1.1
// even when the server offers h2, no Accept, no Accept-Encoding, no cache
// validators (STS-FETCH-7), Connection: close, and a fresh connection per
// fetch.
func TestRequestShape(t *testing.T) {
	type seen struct {
		method, path, host, sni, proto, ua string
		header                             http.Header
		close                              bool
	}
	var mu sync.Mutex
	var got []seen
	h2 := startServer(t, getPKI(t).good, nil, true, func(_ *server, w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, seen{r.Method, r.URL.RequestURI(), r.Host, r.TLS.ServerName, r.Proto, r.UserAgent(), r.Header.Clone(), r.Close})
		mu.Unlock()
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Last-Modified", "Mon, 02 Jan 2006 15:04:05 GMT")
		io.WriteString(w, policy)
	})
	f := fetcher(t, h2.port, 10*time.Second)
	for _, ua := range []string{SenderUA, BrowserUA} {
		if r := f.Fetch(context.Background(), testHost+".", h2.addr, ua); r.Err != nil || r.Status != 200 {
			t.Fatalf("fetch: %d %v", r.Status, r.Err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 {
		t.Fatalf("%d requests", len(got))
	}
	for i, g := range got {
		if g.method != "GET" || g.path != txtrecord.WellKnownPath || g.host != testHost || g.sni != testHost || g.proto != "HTTP/1.1" || !g.close {
			t.Errorf("request %d: %+v", i, g)
		}
		for _, h := range []string{"Accept", "Accept-Encoding", "If-None-Match", "If-Modified-Since", "Cache-Control", "Cookie", "Authorization"} {
			if v, ok := g.header[h]; ok {
				t.Errorf("request %d sent %s: %q", i, h, v)
			}
		}
	}
	if got[0].ua != SenderUA || got[1].ua != BrowserUA {
		t.Errorf("User-Agents %q, %q", got[0].ua, got[1].ua)
	}
	if n := h2.newConns.Load(); n != 2 {
		t.Errorf("%d connections for 2 fetches, want one each", n)
	}
}

// TestUserAgentFilter: a host that blocks mail senders but serves browsers
// (STS-FETCH-14) is seen as such because both User-Agents go out verbatim.
func TestUserAgentFilter(t *testing.T) {
	var uas []string
	var mu sync.Mutex
	s := startTLS(t, getPKI(t).good, nil, func(_ *server, w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		uas = append(uas, r.Header.Get("User-Agent"))
		mu.Unlock()
		if r.Header.Get("User-Agent") != BrowserUA {
			http.Error(w, "bots not welcome", http.StatusForbidden)
			return
		}
		io.WriteString(w, policy)
	})
	f := fetcher(t, s.port, 10*time.Second)
	sender := f.Fetch(context.Background(), testHost, s.addr, SenderUA)
	browser := f.Fetch(context.Background(), testHost, s.addr, BrowserUA)
	if sender.Status != 403 || sender.UserAgent != SenderUA || sender.Err != nil {
		t.Errorf("sender: %d %q %v", sender.Status, sender.UserAgent, sender.Err)
	}
	if browser.Status != 200 || string(browser.Body) != policy {
		t.Errorf("browser: %d %q", browser.Status, browser.Body)
	}
	empty := f.Fetch(context.Background(), testHost, s.addr, "")
	if empty.Status != 403 {
		t.Errorf("no UA: %d", empty.Status)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{SenderUA, BrowserUA, ""}; fmt.Sprint(uas) != fmt.Sprint(want) {
		t.Errorf("server saw User-Agents %q, want %q", uas, want)
	}
}

// TestNoUserAgentHeader: "" sends no User-Agent at all (as Microsoft's
// fetcher was observed to, STS-FETCH-14) rather than Go's default.
func TestNoUserAgentHeader(t *testing.T) {
	var has atomic.Bool
	s := startTLS(t, getPKI(t).good, nil, func(_ *server, w http.ResponseWriter, r *http.Request) {
		_, ok := r.Header["User-Agent"]
		has.Store(ok)
	})
	if r := fetcher(t, s.port, 10*time.Second).Fetch(context.Background(), testHost, s.addr, ""); r.Status != 200 {
		t.Fatalf("%d %v", r.Status, r.Err)
	}
	if has.Load() {
		t.Error("a User-Agent header was sent")
	}
}

// TestCertificates: each way the certificate fails (STS-FETCH-3, -4, -15) is
// classified, and the request is never sent over such a connection.
func TestCertificates(t *testing.T) {
	p := getPKI(t)
	cases := []struct {
		name   string
		cert   tls.Certificate
		want   certs.Problem
		detail string
	}{
		{"STS-FETCH-3 expired", p.expired, certs.Expired, "expired"},
		{"STS-FETCH-3 not yet valid", p.notYet, certs.NotYetValid, "not valid before"},
		{"STS-FETCH-3 STS-FETCH-15 wrong SAN (provider's own name)", p.wrongSAN, certs.Name, "mta-sts.provider.test"},
		{"STS-FETCH-3 CN only, no SAN", p.cnOnly, certs.Name, "only CN=" + testHost},
		{"STS-FETCH-3 untrusted CA", p.foreign, certs.Untrusted, "unknown authority"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := startTLS(t, c.cert, nil, func(_ *server, w http.ResponseWriter, _ *http.Request) { io.WriteString(w, policy) })
			r := fetcher(t, s.port, 10*time.Second).Fetch(context.Background(), testHost, s.addr, SenderUA)
			if r.Kind != KindCert || r.Err == nil || r.Status != 0 {
				t.Fatalf("kind %q status %d err %v", r.Kind, r.Status, r.Err)
			}
			if r.Cert.Problem != c.want || !strings.Contains(r.Cert.Detail, c.detail) {
				t.Fatalf("cert %q %q, want %q mentioning %q", r.Cert.Problem, r.Cert.Detail, c.want, c.detail)
			}
			if !strings.Contains(r.Err.Error(), string(c.want)) {
				t.Errorf("error %q does not name the problem", r.Err)
			}
			if r.Cert.Subject == "" || r.Cert.NotAfter.IsZero() || r.TLSVersion == 0 {
				t.Errorf("certificate not described: %+v, TLS %x", r.Cert, r.TLSVersion)
			}
			if n := s.requests.Load(); n != 0 {
				t.Errorf("%d HTTP requests sent over a rejected certificate", n)
			}
		})
	}
}

// TestSystemRoots: with Roots nil the system pool is used, which honours
// SSL_CERT_FILE (how the end-to-end tests reach a throwaway CA).
func TestSystemRoots(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("SSL_CERT_FILE is honoured on Linux and BSDs only")
	}
	p := getPKI(t)
	file := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.root.Cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SSL_CERT_FILE", file)
	t.Setenv("SSL_CERT_DIR", t.TempDir())
	s := startTLS(t, p.good, nil, func(_ *server, w http.ResponseWriter, _ *http.Request) { io.WriteString(w, policy) })
	f := &Fetcher{Port: s.port, Now: func() time.Time { return testNow }}
	if r := f.Fetch(context.Background(), testHost, s.addr, SenderUA); r.Err != nil || r.Status != 200 {
		t.Fatalf("%d %v (cert %+v)", r.Status, r.Err, r.Cert)
	}
}

// TestIPv6 fetches from [::1] when the machine has it.
func TestIPv6(t *testing.T) {
	l, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("::1 not bindable: %v", err)
	}
	s := startTLS(t, getPKI(t).good, l, func(_ *server, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, policy)
	})
	r := fetcher(t, s.port, 10*time.Second).Fetch(context.Background(), testHost, netip.IPv6Loopback(), SenderUA)
	if r.Err != nil || r.Status != 200 || string(r.Body) != policy || r.Addr != netip.IPv6Loopback() {
		t.Fatalf("%d %v %q %v", r.Status, r.Err, r.Body, r.Addr)
	}
}

// TestHugeBody: a server streaming 1 GiB is cut after MaxBody+1 bytes
// (STS-FETCH-10); the body kept is MaxBody bytes and the fetch fails as it
// would for a sender. The server must not get anywhere near sending it all.
func TestHugeBody(t *testing.T) {
	var written atomic.Int64
	s := startTLS(t, getPKI(t).good, nil, func(_ *server, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		chunk := bytes.Repeat([]byte("mx: x.example.test\n"), 2000)
		for written.Load() < 1<<30 {
			n, err := w.Write(chunk)
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
	})
	r := fetcher(t, s.port, 30*time.Second).Fetch(context.Background(), testHost, s.addr, SenderUA)
	want(t, r, 200, KindTooLarge)
	if !r.TooLarge || len(r.Body) != MaxBody || !bytes.HasPrefix(r.Body, []byte("mx: x.example.test\n")) {
		t.Errorf("too large %v, %d bytes", r.TooLarge, len(r.Body))
	}
	s.Close() // waits for the handler, which stops once the connection is gone
	if n := written.Load(); n >= 64<<20 {
		t.Errorf("server wrote %d bytes: the probe kept reading", n)
	}
}

// TestStalls: a server that stalls at any step ends at the deadline with
// KindTimeout (STS-FETCH-10); what was read is kept.
func TestStalls(t *testing.T) {
	t.Run("headers never come", func(t *testing.T) {
		s := startTLS(t, getPKI(t).good, nil, func(s *server, _ http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-s.done:
			}
		})
		r := fetcher(t, s.port, time.Second).Fetch(context.Background(), testHost, s.addr, SenderUA)
		want(t, r, 0, KindTimeout)
		if !strings.Contains(r.Err.Error(), "headers") {
			t.Errorf("error %q", r.Err)
		}
	})
	t.Run("body trickles one byte at a time", func(t *testing.T) {
		s := startTLS(t, getPKI(t).good, nil, func(s *server, w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Content-Length", fmt.Sprint(len(policy)))
			for i := range len(policy) {
				w.Write([]byte{policy[i]})
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
					return
				case <-s.done:
					return
				case <-time.After(100 * time.Millisecond): // whole body: 7 s
				}
			}
		})
		r := fetcher(t, s.port, time.Second).Fetch(context.Background(), testHost, s.addr, SenderUA)
		want(t, r, 200, KindTimeout)
		if len(r.Body) == 0 || len(r.Body) >= len(policy) || !strings.HasPrefix(policy, string(r.Body)) {
			t.Errorf("partial body %q", r.Body)
		}
		if !strings.Contains(r.Err.Error(), fmt.Sprintf("after %d bytes", len(r.Body))) {
			t.Errorf("error %q does not say how much arrived", r.Err)
		}
	})
	t.Run("TCP listener that never speaks TLS", func(t *testing.T) {
		port := silentListener(t)
		r := fetcher(t, port, 300*time.Millisecond).Fetch(context.Background(), testHost, loopback, SenderUA)
		want(t, r, 0, KindTimeout)
		if r.TLSVersion != 0 || r.Cert.Subject != "" || !strings.Contains(r.Err.Error(), "TLS handshake") {
			t.Errorf("TLS %x cert %+v err %v", r.TLSVersion, r.Cert, r.Err)
		}
	})
	t.Run("caller deadline shorter than Timeout", func(t *testing.T) {
		port := silentListener(t)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		r := fetcher(t, port, time.Hour).Fetch(ctx, testHost, loopback, SenderUA)
		want(t, r, 0, KindTimeout)
		if !strings.Contains(r.Err.Error(), "caller's deadline") || strings.Contains(r.Err.Error(), "1h0m0s") {
			t.Errorf("error %q", r.Err)
		}
	})
	t.Run("caller cancels", func(t *testing.T) {
		port := silentListener(t)
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		r := fetcher(t, port, time.Hour).Fetch(ctx, testHost, loopback, SenderUA)
		want(t, r, 0, KindTimeout)
		if !strings.Contains(r.Err.Error(), "cancelled") {
			t.Errorf("error %q", r.Err)
		}
	})
}

// silentListener accepts TCP connections and never sends a byte.
func silentListener(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().(*net.TCPAddr).Port
}

// TestConnectFailures covers failures before any HTTP response.
func TestConnectFailures(t *testing.T) {
	t.Run("connection refused", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		r := fetcher(t, port, 10*time.Second).Fetch(context.Background(), testHost, loopback, SenderUA)
		want(t, r, 0, KindRefused)
	})
	t.Run("plain HTTP on the port", func(t *testing.T) {
		var hits atomic.Int64
		hs := newPlain(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hits.Add(1) }))
		t.Cleanup(hs.Close)
		port := hs.Listener.Addr().(*net.TCPAddr).Port
		r := fetcher(t, port, 10*time.Second).Fetch(context.Background(), testHost, loopback, SenderUA)
		want(t, r, 0, KindTLS)
		if hits.Load() != 0 {
			t.Error("a request reached the plain-HTTP handler")
		}
	})
	t.Run("TLS 1.1 only server", func(t *testing.T) {
		l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{getPKI(t).good}, MaxVersion: tls.VersionTLS11, MinVersion: tls.VersionTLS10})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				go func() {
					defer c.Close()
					c.SetDeadline(time.Now().Add(5 * time.Second))
					c.(*tls.Conn).Handshake()
				}()
			}
		}()
		r := fetcher(t, l.Addr().(*net.TCPAddr).Port, 10*time.Second).Fetch(context.Background(), testHost, loopback, SenderUA)
		want(t, r, 0, KindTLS)
	})
	t.Run("server demands a client certificate", func(t *testing.T) {
		// With TLS 1.3 the client's handshake completes first; the alert
		// arrives where the response should be.
		l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{getPKI(t).good}, ClientAuth: tls.RequireAnyClientCert})
		if err != nil {
			t.Fatal(err)
		}
		var served atomic.Int64
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				go func() {
					defer c.Close()
					c.SetDeadline(time.Now().Add(5 * time.Second))
					if c.(*tls.Conn).Handshake() == nil {
						served.Add(1)
					}
				}()
			}
		}()
		r := fetcher(t, l.Addr().(*net.TCPAddr).Port, 10*time.Second).Fetch(context.Background(), testHost, loopback, SenderUA)
		want(t, r, 0, KindTLS)
		if !r.Cert.Valid() || served.Load() != 0 {
			t.Errorf("cert %+v, served %d", r.Cert, served.Load())
		}
	})
	t.Run("invalid input", func(t *testing.T) {
		f := fetcher(t, 1, time.Second)
		for _, c := range []struct {
			host string
			addr netip.Addr
		}{{testHost, netip.Addr{}}, {"", loopback}, {"mta-sts.example.test/x", loopback}, {"a..b", loopback}, {"bad host", loopback}, {strings.Repeat("a", 64) + ".test", loopback}} {
			r := f.Fetch(context.Background(), c.host, c.addr, SenderUA)
			if r.Kind != KindInvalid || r.Err == nil {
				t.Errorf("%q %v: kind %q err %v", c.host, c.addr, r.Kind, r.Err)
			}
		}
	})
}

// TestBrokenResponses: servers that answer over TLS but not with usable HTTP.
func TestBrokenResponses(t *testing.T) {
	cases := []struct {
		name  string
		serve func(c net.Conn)
		kind  ErrKind
		check func(t *testing.T, r Result)
	}{
		{"closes without a response", func(net.Conn) {}, KindHTTP, nil},
		{"not HTTP", func(c net.Conn) { io.WriteString(c, "SSH-2.0-OpenSSH_9.6\r\n\r\n") }, KindHTTP, nil},
		{"endless headers", func(c net.Conn) {
			io.WriteString(c, "HTTP/1.1 200 OK\r\n")
			line := "X-Filler: " + strings.Repeat("y", 1000) + "\r\n"
			for range 10000 { // 10 MB unless the probe stops reading
				if _, err := io.WriteString(c, line); err != nil {
					return
				}
			}
		}, KindHTTP, func(t *testing.T, r Result) {
			if !strings.Contains(r.Err.Error(), "headers exceed") {
				t.Errorf("error %q", r.Err)
			}
		}},
		{"closed mid-body", func(c net.Conn) {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\nversion: STSv1\r\n")
		}, KindBody, func(t *testing.T, r Result) {
			if r.Status != 200 || string(r.Body) != "version: STSv1\r\n" {
				t.Errorf("status %d body %q", r.Status, r.Body)
			}
		}},
		{"bad chunked framing", func(c net.Conn) {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n")
		}, KindBody, nil},
		{"endless 1xx", func(c net.Conn) {
			for range 20 {
				io.WriteString(c, "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n")
			}
		}, KindHTTP, nil},
		{"404 cut off mid-body is still a 404", func(c net.Conn) {
			io.WriteString(c, "HTTP/1.1 404 Not Found\r\nContent-Length: 100\r\n\r\nnope")
		}, KindNone, func(t *testing.T, r Result) {
			if r.Status != 404 || string(r.Body) != "nope" {
				t.Errorf("status %d body %q", r.Status, r.Body)
			}
		}},
		{"HTTP/1.0 body until close", func(c net.Conn) {
			io.WriteString(c, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n"+policy)
		}, KindNone, func(t *testing.T, r Result) {
			if string(r.Body) != policy {
				t.Errorf("body %q", r.Body)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			port := rawTLS(t, c.serve)
			r := fetcher(t, port, 10*time.Second).Fetch(context.Background(), testHost, loopback, SenderUA)
			if r.Kind != c.kind || (r.Err == nil) != (c.kind == KindNone) {
				t.Fatalf("kind %q err %v, want %q", r.Kind, r.Err, c.kind)
			}
			if !r.Cert.Valid() || r.Cert.Subject == "" {
				t.Errorf("cert not recorded: %+v", r.Cert)
			}
			if c.check != nil {
				c.check(t, r)
			}
		})
	}
}

// TestReadCapped: the body reader stops after MaxBody+1 bytes of an endless
// stream, so memory stays bounded whatever the server sends (STS-FETCH-10).
func TestReadCapped(t *testing.T) {
	src := &endless{}
	b, err := readCapped(src)
	if err != nil || len(b) != MaxBody+1 || src.n != MaxBody+1 {
		t.Fatalf("read %d bytes (consumed %d), err %v; want %d", len(b), src.n, err, MaxBody+1)
	}
	b, err = readCapped(strings.NewReader(policy))
	if err != nil || string(b) != policy {
		t.Fatalf("%q %v", b, err)
	}
}

// endless yields 'z' forever, counting what it hands out.
type endless struct{ n int }

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'z'
	}
	e.n += len(p)
	return len(p), nil
}

// The sender's and the browser's fetch through one Fetcher (one check)
// are two connections and two handshakes, and the chain they present is
// verified once; both results carry the verification.
func TestOneFetcherVerifiesAChainOnce(t *testing.T) {
	s := startTLS(t, getPKI(t).good, nil, func(_ *server, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "version: STSv1\r\nmode: testing\r\nmx: mx.example.test\r\nmax_age: 86400\r\n")
	})
	f := fetcher(t, s.port, 10*time.Second)
	for _, ua := range []string{SenderUA, BrowserUA} {
		r := f.Fetch(context.Background(), testHost, s.addr, ua)
		if r.Err != nil || r.Status != 200 || !r.Cert.Valid() || r.Cert.Subject == "" {
			t.Fatalf("%s: %+v", ua, r)
		}
	}
	if n := s.newConns.Load(); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
	if n := f.memo.Verified(); n != 1 {
		t.Errorf("the chain was verified %d times, want 1", n)
	}
}
