package serve

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// startFastPair runs two servers on equal state directories: one with the
// fast path, one where net/http answers everything (as before it).
func startFastPair(t *testing.T, cfg Config) (fast, plain *running, fastLog, plainLog *syncBuffer) {
	t.Helper()
	var rs [2]*running
	var logs [2]*syncBuffer
	for i := range rs {
		state := t.TempDir()
		publishID(t, state, "a.test", []byte(policyA), "20261129050000abcdefgh")
		publishID(t, state, "b.test", []byte(policyB), "20261129050000bbbbbbbb")
		c := cfg
		c.StateDir = state
		logs[i] = &syncBuffer{}
		c.Log = NewAccessLog(logs[i])
		c.noFastPath = i == 1
		rs[i] = start(t, c, []string{"mta-sts.a.test"}, []string{"mta-sts.b.test"})
	}
	return rs[0], rs[1], logs[0], logs[1]
}

// exchange opens a TLS connection to r with SNI sni, writes each of
// writes, closes its sending side when halfClose is set (so that the server
// ends the connection once it has answered everything), and returns every
// byte the server sent.
func (r *running) exchange(t *testing.T, sni string, halfClose bool, writes ...string) string {
	t.Helper()
	raw, err := net.DialTimeout("tcp", r.addr, fetchLimit)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	tc := tls.Client(raw, &tls.Config{RootCAs: r.ca.pool, ServerName: sni, NextProtos: []string{"http/1.1"}})
	tc.SetDeadline(time.Now().Add(fetchLimit))
	for _, w := range writes {
		if _, err := io.WriteString(tc, w); err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	if halfClose {
		if err := tc.CloseWrite(); err != nil {
			t.Fatal(err)
		}
	}
	b, err := io.ReadAll(tc)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server did not end the connection within %v; got %q", fetchLimit, b)
	}
	return string(b)
}

var dateLine = regexp.MustCompile(`\r\nDate: ([^\r]*)\r\n`)

// sameDate replaces the Date headers' values (checking that they are
// HTTP dates): the two servers answer in different seconds.
func sameDate(t *testing.T, s string) string {
	t.Helper()
	for _, m := range dateLine.FindAllStringSubmatch(s, -1) {
		if _, err := http.ParseTime(m[1]); err != nil {
			t.Errorf("Date %q: %v", m[1], err)
		}
	}
	return dateLine.ReplaceAllString(s, "\r\nDate: D\r\n")
}

// logEntries is the access log without the fields that differ between two
// servers (time, remote address, duration).
func logEntries(t *testing.T, log string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for l := range strings.Lines(log) {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		delete(m, "time")
		delete(m, "remote")
		delete(m, "duration_ms")
		out = append(out, m)
	}
	return out
}

// TestFastPathMatchesNetHTTP sends the same bytes to a server with the
// fast path and to one without: the answers are byte for byte the same
// (Date aside), and so are the access logs and the fetch counters; the
// fast path answers the policy GETs itself and hands the rest off.
func TestFastPathMatchesNetHTTP(t *testing.T) {
	fast, plain, fastLog, plainLog := startFastPair(t, Config{})
	const get = "GET /.well-known/mta-sts.txt HTTP/1.1\r\n"
	const hostA = "Host: mta-sts.a.test\r\n"
	report := "POST /tlsrpt HTTP/1.1\r\n" + hostA + "Content-Type: application/tlsrpt+json\r\nConnection: close\r\n" +
		"Content-Length: " + strconv.Itoa(len(sampleReport)) + "\r\n\r\n" + sampleReport
	cases := []struct {
		name    string
		sni     string
		writes  []string
		handOff int64 // connections the fast path hands to net/http
		// whole: the writes end with a request that closes the
		// connection, so the client does not half-close it. (Half-closed
		// after a report POST, the request's context may end before the
		// report is stored, and then nothing is stored: a 503 or a 201
		// by chance.)
		whole bool
	}{
		{"policy GET", "mta-sts.a.test", []string{get + hostA + "User-Agent: Google-SMTP-STS\r\n\r\n"}, 0, false},
		{"no User-Agent", "mta-sts.a.test", []string{get + hostA + "\r\n"}, 0, false},
		{"empty User-Agent", "mta-sts.a.test", []string{get + hostA + "User-Agent:\r\n\r\n"}, 0, false},
		{"Connection: close", "mta-sts.a.test", []string{get + hostA + "Connection: close\r\n\r\n"}, 0, false},
		{"Connection: keep-alive, other headers", "mta-sts.b.test", []string{get + "host:  MTA-STS.B.test \r\nconnection: Keep-Alive\r\nAccept: */*\r\nX-Y: a\tb\r\n\r\n"}, 0, false},
		{"pipelined pair", "mta-sts.a.test", []string{get + hostA + "\r\n" + get + hostA + "User-Agent: Go-http-client/1.1\r\n\r\n"}, 0, false},
		{"pipelined, the second closes", "mta-sts.a.test", []string{get + hostA + "\r\n" + get + hostA + "Connection: close\r\n\r\n" + get + hostA + "\r\n"}, 0, false},
		{"a request in pieces", "mta-sts.a.test", []string{"GET /.well-known/", "mta-sts.txt HTTP/1.1\r\nHo", "st: mta-sts.a.test\r\n", "\r\n"}, 0, false},
		{"pipelined, then another path", "mta-sts.a.test", []string{get + hostA + "\r\n" + "GET /other HTTP/1.1\r\n" + hostA + "\r\n" + get + hostA + "\r\n"}, 1, false},
		{"Host is not the SNI", "mta-sts.a.test", []string{get + "Host: mta-sts.b.test\r\n\r\n"}, 1, false},
		{"Host with a port", "mta-sts.a.test", []string{get + "Host: mta-sts.a.test:443\r\n\r\n"}, 1, false},
		{"Host with a trailing dot", "mta-sts.a.test", []string{get + "Host: mta-sts.a.test.\r\n\r\n"}, 0, false},
		{"no Host", "mta-sts.a.test", []string{get + "User-Agent: x\r\n\r\n"}, 1, false},
		{"two Hosts", "mta-sts.a.test", []string{get + hostA + hostA + "\r\n"}, 1, false},
		{"Host is not mta-sts", "mta-sts.a.test", []string{get + "Host: a.test\r\n\r\n"}, 1, false},
		{"two User-Agents", "mta-sts.a.test", []string{get + hostA + "User-Agent: a\r\nUser-Agent: b\r\n\r\n"}, 1, false},
		{"HEAD", "mta-sts.a.test", []string{"HEAD /.well-known/mta-sts.txt HTTP/1.1\r\n" + hostA + "\r\n"}, 1, false},
		{"HTTP/1.0", "mta-sts.a.test", []string{"GET /.well-known/mta-sts.txt HTTP/1.0\r\n" + hostA + "\r\n"}, 1, false},
		{"a query", "mta-sts.a.test", []string{"GET /.well-known/mta-sts.txt?x HTTP/1.1\r\n" + hostA + "\r\n"}, 1, false},
		{"Content-Length: 0", "mta-sts.a.test", []string{get + hostA + "Content-Length: 0\r\n\r\n"}, 1, false},
		{"Transfer-Encoding", "mta-sts.a.test", []string{get + hostA + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"}, 1, false},
		{"Expect", "mta-sts.a.test", []string{get + hostA + "Expect: 100-continue\r\n\r\n"}, 1, false},
		{"Upgrade", "mta-sts.a.test", []string{get + hostA + "Connection: Upgrade\r\nUpgrade: h2c\r\n\r\n"}, 1, false},
		{"Connection: other", "mta-sts.a.test", []string{get + hostA + "Connection: close, x\r\n\r\n"}, 1, false},
		{"bare LF", "mta-sts.a.test", []string{"GET /.well-known/mta-sts.txt HTTP/1.1\nHost: mta-sts.a.test\n\n"}, 1, false},
		{"folded header", "mta-sts.a.test", []string{get + hostA + "User-Agent: a\r\n b\r\n\r\n"}, 1, false},
		{"no colon", "mta-sts.a.test", []string{get + "Host mta-sts.a.test\r\n\r\n"}, 1, false},
		{"space before colon", "mta-sts.a.test", []string{get + "Host : mta-sts.a.test\r\n\r\n"}, 1, false},
		{"control byte in a value", "mta-sts.a.test", []string{get + hostA + "User-Agent: a\x01b\r\n\r\n"}, 1, false},
		{"UTF-8 in a value", "mta-sts.a.test", []string{get + hostA + "User-Agent: é\r\n\r\n"}, 1, false},
		{"garbage", "mta-sts.a.test", []string{"\x00\x01\x02 hello\r\n\r\n"}, 1, false},
		{"oversized headers", "mta-sts.a.test", []string{get + hostA + "X-Big: " + strings.Repeat("a", 20<<10) + "\r\n\r\n"}, 1, false},
		{"headers just past the fast path's buffer", "mta-sts.a.test", []string{get + hostA + "X-Big: " + strings.Repeat("a", fastBufSize) + "\r\n\r\n"}, 1, false},
		{"a report POST", "mta-sts.a.test", []string{report}, 1, true},
		{"an unfinished head", "mta-sts.a.test", []string{get + hostA}, 1, false},
	}
	for _, tc := range cases {
		n0 := fast.srv.handedOff.Load()
		got := sameDate(t, fast.exchange(t, tc.sni, !tc.whole, tc.writes...))
		want := sameDate(t, plain.exchange(t, tc.sni, !tc.whole, tc.writes...))
		if got != want {
			t.Errorf("%s: the fast path answered\n%q\nnet/http\n%q", tc.name, got, want)
		}
		if n := fast.srv.handedOff.Load() - n0; n != tc.handOff {
			t.Errorf("%s: %d connections handed off, want %d", tc.name, n, tc.handOff)
		}
	}
	// A policy answer as net/http writes it, to see what was compared.
	got := sameDate(t, fast.exchange(t, "mta-sts.a.test", true, get+hostA+"\r\n"))
	want := "HTTP/1.1 200 OK\r\nCache-Control: no-store\r\nContent-Length: " + strconv.Itoa(len(policyA)) +
		"\r\nContent-Type: text/plain\r\nX-Content-Type-Options: nosniff\r\nDate: D\r\n\r\n" + policyA
	if got != want {
		t.Errorf("policy answer %q, want %q", got, want)
	}
	plain.exchange(t, "mta-sts.a.test", true, get+hostA+"\r\n")

	fl, pl := logEntries(t, fastLog.String()), logEntries(t, plainLog.String())
	if len(fl) != len(pl) {
		t.Fatalf("%d access log lines with the fast path, %d without", len(fl), len(pl))
	}
	for i := range fl {
		a, _ := json.Marshal(fl[i])
		b, _ := json.Marshal(pl[i])
		if !bytes.Equal(a, b) {
			t.Errorf("access log line %d: %s with the fast path, %s without", i, a, b)
		}
	}
	for _, d := range []string{"a.test", "b.test"} {
		fp, err1 := fast.srv.Policies().Lookup(d)
		pp, err2 := plain.srv.Policies().Lookup(d)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		for _, c := range SenderClasses() {
			if a, b := fp.Counts.n[c].Load(), pp.Counts.n[c].Load(); a != b {
				t.Errorf("%s fetches by %s: %d with the fast path, %d without", d, c, a, b)
			}
		}
	}
}

// TestFastPathTimeouts: a first request whose head stalls and a kept-alive
// connection's next head that stalls are cut off after the header
// timeout, with nothing answered to them; an idle one after IdleTimeout.
func TestFastPathTimeouts(t *testing.T) {
	fast, _, _, _ := startFastPair(t, Config{ReadHeaderTimeout: 300 * time.Millisecond, IdleTimeout: 300 * time.Millisecond})
	const req = "GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: mta-sts.a.test\r\n\r\n"
	dial := func() (*tls.Conn, *bufio.Reader) {
		tc := tls.Client(fast.dialFrom(t, "127.0.0.1"), &tls.Config{RootCAs: fast.ca.pool, ServerName: "mta-sts.a.test"})
		tc.SetDeadline(time.Now().Add(fetchLimit))
		return tc, bufio.NewReader(tc)
	}
	fetch := func(tc *tls.Conn, br *bufio.Reader) {
		t.Helper()
		io.WriteString(tc, req)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(b) != policyA {
			t.Fatalf("%d %q", resp.StatusCode, b)
		}
	}
	stalled := func(tc *tls.Conn, br *bufio.Reader, what string) {
		t.Helper()
		tc.SetReadDeadline(time.Now().Add(fetchLimit))
		b, err := io.ReadAll(br)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("%s: not closed within %v", what, fetchLimit)
		}
		if len(b) != 0 {
			t.Errorf("%s: answered %q", what, b)
		}
	}
	tc, br := dial()
	io.WriteString(tc, req[:30])
	stalled(tc, br, "a stalled first head")

	tc, br = dial()
	fetch(tc, br)
	fetch(tc, br)
	io.WriteString(tc, req[:50])
	stalled(tc, br, "a stalled second head")

	tc, br = dial()
	fetch(tc, br)
	stalled(tc, br, "an idle connection")
	fast.waitCounts(t, 0, 0)
	if n := fast.srv.handedOff.Load(); n != 0 {
		t.Errorf("%d connections handed off", n)
	}
}

// FuzzParseHead: parseHead never reads past its input, and a head it
// answers is one net/http reads with the same meaning: a GET of the
// policy over HTTP/1.1 with that Host, User-Agent and Connection, and no
// body.
func FuzzParseHead(f *testing.F) {
	for _, s := range []string{
		"GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: mta-sts.a.test\r\n\r\n",
		"GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: mta-sts.a.test\r\nUser-Agent: x y\r\nConnection: close\r\n\r\nGET /",
		"GET /.well-known/mta-sts.txt HTTP/1.1\r\nhost:mta-sts.a.test\t\r\nconnection: keep-alive\r\n\r\n",
		"GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx",
		"GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: a\r\n b\r\n\r\n",
		"GET /.well-known/mta-sts.txt HTTP/1.1\nHost: a\n\n",
		"GET /.well-known/mta-sts",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		in := bytes.Clone(b)
		h, n, v := parseHead(in)
		if !bytes.Equal(in, b) {
			t.Fatal("parseHead changed its input")
		}
		if v != headFast {
			if v == headMore && len(b) >= len(fastRequestLine) && bytes.Contains(b, []byte("\r\n\r\n")) {
				t.Fatalf("more asked of a complete head: %q", b)
			}
			return
		}
		if n > len(b) || !bytes.HasSuffix(b[:n], []byte("\r\n\r\n")) {
			t.Fatalf("head length %d of %q", n, b)
		}
		r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(b[:n])))
		if err != nil {
			t.Fatalf("fast head %q is not a request to net/http: %v", b[:n], err)
		}
		if r.Method != "GET" || r.RequestURI != policyPath || r.Proto != "HTTP/1.1" || r.ContentLength != 0 || len(r.TransferEncoding) != 0 ||
			r.Host != string(h.host) || r.UserAgent() != string(h.userAgent) || r.Close != h.close ||
			len(r.Header["Host"]) > 1 || r.Header.Get("Expect") != "" || r.Header.Get("Upgrade") != "" {
			t.Fatalf("fast head %q: net/http reads %s %s %s host %q ua %q close %v, parseHead host %q ua %q close %v",
				b[:n], r.Method, r.RequestURI, r.Proto, r.Host, r.UserAgent(), r.Close, h.host, h.userAgent, h.close)
		}
	})
}

// TestFastPathShutdown: a shutdown closes the fast path's idle keep-alive
// connections and the handed-off ones, and Serve returns, long before the
// idle and shutdown timeouts.
func TestFastPathShutdown(t *testing.T) {
	r := startCapped(t, Config{IdleTimeout: time.Hour, ShutdownTimeout: time.Hour})
	fastConn, err := r.keepAlive(t, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	// A connection on net/http: a HEAD is handed off.
	tc := tls.Client(r.dialFrom(t, "127.0.0.1"), &tls.Config{RootCAs: r.ca.pool, ServerName: "mta-sts.a.test"})
	tc.SetDeadline(time.Now().Add(fetchLimit))
	io.WriteString(tc, "HEAD /.well-known/mta-sts.txt HTTP/1.1\r\nHost: mta-sts.a.test\r\n\r\n")
	br := bufio.NewReader(tc)
	resp, err := http.ReadResponse(br, &http.Request{Method: "HEAD"})
	if err != nil || resp.StatusCode != 200 {
		t.Fatal(resp, err)
	}
	if n := r.srv.handedOff.Load(); n != 1 {
		t.Fatalf("%d connections handed off, want 1", n)
	}
	r.waitCounts(t, 2, 2)
	r.stop()
	closedByServer(t, fastConn, fetchLimit, "an idle fast-path connection at shutdown")
	closedByServer(t, tc, fetchLimit, "an idle handed-off connection at shutdown")
	if err := <-r.done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	r.done <- nil // for the cleanup
	r.waitCounts(t, 0, 0)
}
