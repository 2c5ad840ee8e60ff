package serve

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	policyA = "version: STSv1\r\nmode: testing\r\nmx: mx1.a.test\r\nmax_age: 86400\r\n"
	policyB = "version: STSv1\nmode: enforce\nmx: *.b.test\nmax_age: 604800\n"
)

func get(t *testing.T, c *http.Client, method, url string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp, string(b)
}

// STS-FETCH-1, -5, -6, -9: the exact bytes, 200, text/plain, chosen by Host
// and SNI; every other request gets 404/405. A client that prefers HTTP/2
// gets the same over HTTP/1.1 (serve offers no h2, docs/serve.md).
func TestPolicyFetch(t *testing.T) {
	state := t.TempDir()
	publish(t, state, "a.test", []byte(policyA))
	publish(t, state, "b.test", []byte(policyB))
	logBuf := &syncBuffer{}
	r := start(t, Config{StateDir: state, Log: NewAccessLog(logBuf)}, []string{"mta-sts.a.test", "mta-sts.b.test", "mta-sts.c.test"})
	for _, h2 := range []bool{false, true} {
		c := r.client(h2)
		resp, body := get(t, c, "GET", "https://mta-sts.a.test/.well-known/mta-sts.txt", map[string]string{"User-Agent": "test-mta/1.0"})
		if resp.StatusCode != 200 || body != policyA || resp.Header.Get("Content-Type") != "text/plain" {
			t.Fatalf("h2=%v: %d %q %q, want 200 text/plain and the exact bytes", h2, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		if resp.ProtoMajor != 1 || resp.TLS.NegotiatedProtocol == "h2" {
			t.Errorf("h2=%v: protocol %s, ALPN %q, want HTTP/1.1 only", h2, resp.Proto, resp.TLS.NegotiatedProtocol)
		}
		if resp, body := get(t, c, "GET", "https://mta-sts.b.test/.well-known/mta-sts.txt", nil); resp.StatusCode != 200 || body != policyB {
			t.Errorf("b.test: %d %q", resp.StatusCode, body)
		}
		if resp, body := get(t, c, "HEAD", "https://mta-sts.b.test/.well-known/mta-sts.txt", nil); resp.StatusCode != 200 || body != "" || resp.ContentLength != int64(len(policyB)) {
			t.Errorf("HEAD: %d %q len %d", resp.StatusCode, body, resp.ContentLength)
		}
		for _, tc := range []struct {
			method, url string
			want        int
		}{
			{"GET", "https://mta-sts.c.test/.well-known/mta-sts.txt", 404},  // certificate covers it, no policy
			{"GET", "https://mta-sts.a.test/", 404},                         // other path
			{"GET", "https://mta-sts.a.test/.well-known/mta-sts.txt/", 404}, // not the exact path
			{"GET", "https://mta-sts.a.test//.well-known/mta-sts.txt", 404}, // a mux would 301 here
			{"GET", "https://mta-sts.a.test/.well-known/../.well-known/mta-sts.txt", 404},
			{"GET", "https://mta-sts.a.test/.well-known/mta-sts.txt?x=1", 404},
			{"POST", "https://mta-sts.a.test/.well-known/mta-sts.txt", 405},
			{"PUT", "https://mta-sts.a.test/.well-known/mta-sts.txt", 405},
			{"DELETE", "https://mta-sts.a.test/.well-known/mta-sts.txt", 405},
			{"GET", "https://mta-sts.a.test/tlsrpt", 405},
		} {
			resp, _ := get(t, c, tc.method, tc.url, nil)
			if resp.StatusCode != tc.want {
				t.Errorf("h2=%v %s %s: %d, want %d", h2, tc.method, tc.url, resp.StatusCode, tc.want)
			}
			if resp.StatusCode/100 == 3 || resp.Header.Get("Location") != "" {
				t.Errorf("%s %s redirected (STS-FETCH-6)", tc.method, tc.url)
			}
		}
	}
	// The log says who fetched what.
	var seen bool
	for _, line := range strings.Split(strings.TrimSpace(logBuf.String()), "\n") {
		var e AccessEntry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("access log line %q: %v", line, err)
		}
		if e.UserAgent == "test-mta/1.0" && e.Domain == "a.test" && e.Status == 200 && e.Bytes == int64(len(policyA)) && e.Host == "mta-sts.a.test" && e.SNI == "mta-sts.a.test" && strings.HasPrefix(e.Remote, "127.0.0.1:") {
			seen = true
		}
	}
	if !seen {
		t.Errorf("access log lacks the fetch of a.test by test-mta/1.0:\n%s", logBuf.String())
	}
}

// A publish is served on the next request, with the id file's policy id
// in the access log (never the journal's: serve reads no journal); a
// removal turns the domain to 404 and leaves others.
func TestPolicyChangesWithoutRestartAndPolicyID(t *testing.T) {
	state := t.TempDir()
	publishID(t, state, "a.test", []byte(policyA), "20261129050000abcdefgh")
	publish(t, state, "b.test", []byte(policyB))
	// A journal that names other ids: serve must not take them.
	setJournalPolicy(t, state, "a.test", policyA, "20261129049999zzzzzzzz")
	logBuf := &syncBuffer{}
	r := start(t, Config{StateDir: state, Log: NewAccessLog(logBuf)}, []string{"mta-sts.a.test", "mta-sts.b.test"})
	c := r.client(true)
	url := "https://mta-sts.a.test/.well-known/mta-sts.txt"
	if _, body := get(t, c, "GET", url, nil); body != policyA {
		t.Fatalf("first fetch %q", body)
	}
	next := strings.Replace(policyA, "testing", "enforce", 1)
	publish(t, state, "a.test", []byte(next))
	setJournalPolicy(t, state, "a.test", next, "20261129059999yyyyyyyy")
	if resp, body := get(t, c, "GET", url, nil); resp.StatusCode != 200 || body != next {
		t.Fatalf("after publish: %d %q, want the new bytes without a restart", resp.StatusCode, body)
	}
	publishID(t, state, "a.test", []byte(next), "20261129060000bcdefghi")
	get(t, c, "GET", url, nil)
	ids := policyIDs(t, logBuf.String(), "a.test")
	want := []string{"20261129050000abcdefgh", "", "20261129060000bcdefghi"}
	if strings.Join(ids, ",") != strings.Join(want, ",") {
		t.Errorf("policy ids in the log = %q, want %q (the second fetch served bytes published without an id)", ids, want)
	}
	if _, err := (&serveRemover{state}).remove("a.test"); err != nil {
		t.Fatal(err)
	}
	if resp, _ := get(t, c, "GET", url, nil); resp.StatusCode != 404 {
		t.Errorf("after Remove: %d, want 404", resp.StatusCode)
	}
	if resp, body := get(t, c, "GET", "https://mta-sts.b.test/.well-known/mta-sts.txt", nil); resp.StatusCode != 200 || body != policyB {
		t.Errorf("b.test after a.test's removal: %d %q", resp.StatusCode, body)
	}
}

func policyIDs(t *testing.T, log, domain string) []string {
	var ids []string
	for _, line := range strings.Split(strings.TrimSpace(log), "\n") {
		var e AccessEntry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatal(err)
		}
		if e.Domain == domain && e.Status == 200 {
			ids = append(ids, e.PolicyID)
		}
	}
	return ids
}

// Wrong Host or SNI: a Host that the SNI does not name gets 421, a Host
// without a policy 404, and with several certificates an SNI none of them
// names fails the handshake.
func TestWrongHostAndSNI(t *testing.T) {
	state := t.TempDir()
	publish(t, state, "a.test", []byte(policyA))
	publish(t, state, "b.test", []byte(policyB))
	r := start(t, Config{StateDir: state}, []string{"mta-sts.a.test"}, []string{"mta-sts.b.test"})
	c := r.client(false)
	// SNI mta-sts.a.test (from the URL), Host mta-sts.b.test.
	req, _ := http.NewRequest("GET", "https://mta-sts.a.test/.well-known/mta-sts.txt", nil)
	req.Host = "mta-sts.b.test"
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("Host b with SNI a: %d, want 421", resp.StatusCode)
	}
	for _, host := range []string{"www.a.test", "a.test", "mta-sts.", "mta-sts.a.test.evil", "mta-sts.../x"} {
		conn, err := tls.Dial("tcp", r.addr, &tls.Config{RootCAs: r.ca.pool, ServerName: "mta-sts.a.test"})
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(conn, "GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: "+host+"\r\nConnection: close\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("Host %q: %v", host, err)
		}
		conn.Close()
		if resp.StatusCode != 404 && resp.StatusCode != 421 && resp.StatusCode != 400 {
			t.Errorf("Host %q: %d, want a refusal", host, resp.StatusCode)
		}
	}
	_, err = tls.Dial("tcp", r.addr, &tls.Config{RootCAs: r.ca.pool, ServerName: "mta-sts.evil.test"})
	if err == nil {
		t.Errorf("handshake for an SNI no certificate names succeeded")
	}
	// The right SNI still works for both domains: each gets its own certificate.
	for _, d := range []string{"a.test", "b.test"} {
		resp, body := get(t, r.client(false), "GET", "https://mta-sts."+d+"/.well-known/mta-sts.txt", nil)
		if resp.StatusCode != 200 || resp.TLS.PeerCertificates[0].DNSNames[0] != "mta-sts."+d || body == "" {
			t.Errorf("%s: %d, cert %v", d, resp.StatusCode, resp.TLS.PeerCertificates[0].DNSNames)
		}
	}
}

// Slowloris: a client that sends its headers a byte at a time is cut off
// by ReadHeaderTimeout before it gets through them, while other clients are
// served meanwhile. The test asserts who closed the connection, not how fast.
func TestSlowlorisIsCutOff(t *testing.T) {
	state := t.TempDir()
	publish(t, state, "a.test", []byte(policyA))
	r := start(t, Config{StateDir: state, ReadHeaderTimeout: 300 * time.Millisecond}, []string{"mta-sts.a.test"})
	conn, err := tls.Dial("tcp", r.addr, &tls.Config{RootCAs: r.ca.pool, ServerName: "mta-sts.a.test", NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req := "GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: mta-sts.a.test\r\nUser-Agent: " + strings.Repeat("s", 200) + "\r\n\r\n"
	// The server answers a cut-off request with nothing or a 408; either
	// way the client cannot finish: it sends 1 byte every 50ms and would
	// need 11s, far beyond 300ms.
	closed := make(chan struct{})
	go func() {
		io.Copy(io.Discard, conn)
		close(closed)
	}()
	sent := 0
	for i := 0; i < len(req); i++ {
		select {
		case <-closed:
		default:
			if _, err := conn.Write([]byte{req[i]}); err == nil {
				sent++
				// Meanwhile a well-behaved client is served.
				if i == 3 {
					if resp, body := get(t, r.client(false), "GET", "https://mta-sts.a.test/.well-known/mta-sts.txt", nil); resp.StatusCode != 200 || body != policyA {
						t.Errorf("other client during the slowloris: %d", resp.StatusCode)
					}
				}
				time.Sleep(50 * time.Millisecond)
				continue
			}
		}
		break
	}
	if sent == len(req) {
		t.Fatalf("the slow client sent all %d bytes of its headers: ReadHeaderTimeout did not cut it off", sent)
	}
	<-closed
}

// Oversized request headers are refused (431) and do not stop service.
func TestOversizedHeaders(t *testing.T) {
	state := t.TempDir()
	publish(t, state, "a.test", []byte(policyA))
	r := start(t, Config{StateDir: state, MaxHeaderBytes: 4 << 10}, []string{"mta-sts.a.test"})
	c := r.client(false)
	resp, _ := get(t, c, "GET", "https://mta-sts.a.test/.well-known/mta-sts.txt", map[string]string{"X-Big": strings.Repeat("x", 64<<10)})
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("64 KiB header: %d, want 431", resp.StatusCode)
	}
	if resp, body := get(t, r.client(false), "GET", "https://mta-sts.a.test/.well-known/mta-sts.txt", nil); resp.StatusCode != 200 || body != policyA {
		t.Errorf("after the oversized request: %d", resp.StatusCode)
	}
}

// Cancelling the context shuts the server down: Serve returns nil and the
// port no longer accepts.
func TestGracefulShutdown(t *testing.T) {
	state := t.TempDir()
	r := start(t, Config{StateDir: state}, []string{"mta-sts.a.test"})
	r.stop()
	if err := <-r.done; err != nil {
		t.Fatalf("Serve after cancel: %v", err)
	}
	r.done <- nil // for the cleanup
	if c, err := net.DialTimeout("tcp", r.addr, time.Second); err == nil {
		c.Close()
		t.Errorf("still accepting after shutdown")
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Error("no state dir accepted")
	}
	if _, err := New(Config{StateDir: t.TempDir(), RUAPath: "tlsrpt"}); err == nil {
		t.Error("relative rua path accepted")
	}
	if _, err := LoadFileCerts([]string{"a"}, nil); err == nil {
		t.Error("cert without key accepted")
	}
	if _, err := LoadFileCerts([]string{"/nonexistent.crt"}, []string{"/nonexistent.key"}); err == nil || errors.Is(err, nil) {
		t.Error("missing files accepted")
	}
}

// While a workflow publishes again and again, every fetch gets one whole
// published version, never a mix or an empty body, and the last fetch gets
// the last version.
func TestConcurrentPublishAndFetch(t *testing.T) {
	state := t.TempDir()
	versions := make([]string, 50)
	for i := range versions {
		versions[i] = strings.Replace(policyA, "86400", fmt.Sprint(86400+i), 1) + strings.Repeat("# padding\n", i)
	}
	// Every version has its own id and its own length: the access log's
	// bytes say which version a fetch got, and its id must be that one's.
	idOf := map[int64]string{}
	for i, v := range versions {
		idOf[int64(len(v))] = fmt.Sprintf("20261206%06dversion", i)
	}
	publishID(t, state, "a.test", []byte(versions[0]), idOf[int64(len(versions[0]))])
	logBuf := &syncBuffer{}
	r := start(t, Config{StateDir: state, Log: NewAccessLog(logBuf)}, []string{"mta-sts.a.test"})
	valid := map[string]bool{}
	for _, v := range versions {
		valid[v] = true
	}
	url := "https://mta-sts.a.test/.well-known/mta-sts.txt"
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var bad atomic.Int64
	for w := range 4 {
		c := r.client(w%2 == 0)
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := c.Get(url)
				if err != nil {
					bad.Add(1)
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || !valid[string(b)] {
					bad.Add(1)
				}
			}
		})
	}
	for _, v := range versions[1:] {
		publishID(t, state, "a.test", []byte(v), idOf[int64(len(v))])
		time.Sleep(2 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if n := bad.Load(); n > 0 {
		t.Errorf("%d fetches got something other than a whole published version", n)
	}
	if _, body := get(t, r.client(false), "GET", url, nil); body != versions[len(versions)-1] {
		t.Errorf("after the last publish: got another version")
	}
	// The publish order (id file, then policy) and serve's hash check: no
	// fetch is logged with another version's id.
	var fetches, withID int
	for _, line := range strings.Split(strings.TrimSpace(logBuf.String()), "\n") {
		var e AccessEntry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatal(err)
		}
		if e.Status != 200 {
			continue
		}
		fetches++
		if e.PolicyID != "" {
			withID++
			if e.PolicyID != idOf[e.Bytes] {
				t.Errorf("a fetch of %d bytes was logged with id %s, want %s", e.Bytes, e.PolicyID, idOf[e.Bytes])
			}
		}
	}
	if withID == 0 || fetches == 0 {
		t.Errorf("%d of %d fetches logged with an id", withID, fetches)
	}
}
