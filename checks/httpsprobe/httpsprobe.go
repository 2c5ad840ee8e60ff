// Package httpsprobe fetches an MTA-STS policy from one address of the policy
// host, the way a strict sender does (rules STS-FETCH-1 to -10; RFC 8461
// §3.2, §3.3): a plain HTTPS GET of /.well-known/mta-sts.txt with SNI and Host
// set to mta-sts.DOMAIN, a certificate that must be PKIX-valid for that name,
// no redirects, no HTTP caching, a time and a size cap. It records
// observations only; turning them into findings is the engine's job.
//
// The probe speaks HTTP/1.1 itself over one fresh connection per fetch
// instead of going through net/http's Transport. That makes each property
// explicit rather than a setting to remember: no proxy from the environment,
// no connection reuse, no Accept-Encoding, no redirect following, one
// deadline over dial, handshake, headers and body, and a byte cap on every
// read. HTTP/2 is not offered (ALPN says only http/1.1): the policy is one
// small GET on its own connection, every sender can speak HTTP/1.1, and a
// host that only works over HTTP/1.1 is then tested the way the
// least-capable senders see it.
package httpsprobe

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/stspilot/stspilot/checks/certs"
	"github.com/stspilot/stspilot/checks/internal/conn"
	"github.com/stspilot/stspilot/internal/printable"
	"github.com/stspilot/stspilot/internal/txtrecord"
)

// MaxBody is the largest policy body accepted (STS-FETCH-10: the RFC's
// suggested 64 KiB, which mox, pmsr, tlspol and Google enforce).
const MaxBody = 64 << 10

// User-Agent values. SenderUA is sent for the fetch that stands for a mail
// sender; it names stspilot honestly instead of impersonating one (real
// senders use e.g. Google-SMTP-STS or postfix-mta-sts-resolver, STS-FETCH-14).
// BrowserUA is a current desktop browser, used for a second fetch so that a
// policy host that filters by User-Agent or bot heuristics shows up as a
// difference between the two.
const (
	SenderUA  = "stspilot (MTA-STS policy fetch, as a sending mail server does; like Google-SMTP-STS)"
	BrowserUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36"
)

// DefaultTimeout bounds one fetch when Fetcher.Timeout is zero. It is well
// under the RFC's suggested minute, and above the 2 to 4 s some senders use
// (STS-FETCH-10), so that a slow host is measured (Result.Elapsed) rather
// than cut off.
const DefaultTimeout = 10 * time.Second

// Caps on what the server can make the probe read. Headers above
// maxHeaderBytes are a fault; maxWireBody bounds the bytes after the
// headers (chunk framing, trailers) so that a body which never yields
// payload still ends.
const (
	maxHeaderBytes = 64 << 10
	maxWireBody    = 1 << 20
	max1xx         = 8 // interim (1xx) responses skipped before the final one
)

// Fetcher fetches policies. The zero value is ready to use; a Fetcher is safe
// for concurrent use as long as its fields are not changed meanwhile.
type Fetcher struct {
	Roots   *x509.CertPool // trust anchors; nil = system pool (honours SSL_CERT_FILE)
	Port    int            // 0 = 443 (tests set the httptest port)
	Timeout time.Duration  // per fetch, 0 = DefaultTimeout; also bounded by ctx
	Now     func() time.Time

	// memo verifies a chain this Fetcher saw before (the sender's and
	// the browser's fetch from one address) once.
	memo certs.Memo
}

// ErrKind classifies why a fetch failed. The zero value means an HTTP
// response was received (whatever its status).
type ErrKind string

// The failure kinds. KindDNS is not produced here (the probe never resolves
// names) but belongs to the same vocabulary for the engine.
const (
	KindNone     ErrKind = ""
	KindDNS      ErrKind = "dns"
	KindInvalid  ErrKind = "invalid"   // the caller passed no address or a malformed host name
	KindConnect  ErrKind = "connect"   // TCP connect failed (unreachable, reset)
	KindRefused  ErrKind = "refused"   // TCP connect refused: nothing listens on the port
	KindTimeout  ErrKind = "timeout"   // the deadline passed (or ctx was cancelled) at any step
	KindTLS      ErrKind = "tls"       // handshake failed before or apart from the certificate
	KindCert     ErrKind = "cert"      // certificate rejected (Result.Cert says why); no request sent
	KindHTTP     ErrKind = "http"      // no usable HTTP response (closed, malformed, oversized headers)
	KindTooLarge ErrKind = "too-large" // status 200 with a body over MaxBody
	KindBody     ErrKind = "body"      // status 200 but the body broke off (closed early, bad framing)
)

// Result is what one fetch observed.
type Result struct {
	Host      string     // mta-sts.DOMAIN (SNI and Host header)
	Addr      netip.Addr // the address connected to
	UserAgent string     // sent verbatim; "" sends no User-Agent header at all
	Status    int        // final HTTP status; 0 if none was received
	Location  string     // Location header of a 3xx (never followed: STS-FETCH-6)
	// ContentType is the raw Content-Type header ("" when absent); the
	// engine judges it (STS-FETCH-9).
	ContentType string
	// ContentEncoding is the raw Content-Encoding header. The probe never
	// asks for compression, so anything but "" or "identity" is a server
	// fault; Body then holds the encoded bytes as received.
	ContentEncoding string
	Body            []byte // at most MaxBody bytes, as received (binary is kept)
	// TooLarge is set when Content-Length announced, or the body delivered,
	// more than MaxBody bytes. Reading stops at MaxBody+1 bytes.
	TooLarge   bool
	Elapsed    time.Duration // from dial to the last body byte (or the failure)
	TLSVersion uint16        // negotiated version, 0 if the handshake got no ServerHello
	Cert       certs.Result  // always filled once the server presented its certificate
	Kind       ErrKind
	// Err is nil whenever an HTTP response arrived (even a 404 or a 301),
	// except for a status 200 whose body was too large, cut off or too slow:
	// that is a failed fetch for a sender. Otherwise it says, in words a
	// user can act on, why no response came.
	Err error
}

// errCertRejected aborts the handshake from VerifyConnection.
var errCertRejected = errors.New("certificate rejected")

// errHeaderLimit and errWireLimit are returned by the budget reader.
var (
	errHeaderLimit = fmt.Errorf("response headers exceed %d KiB", maxHeaderBytes>>10)
	errWireLimit   = fmt.Errorf("response framing exceeds %d KiB after the headers", maxWireBody>>10)
)

// Fetch GETs https://host/.well-known/mta-sts.txt from addr (port f.Port),
// sending host as SNI and Host header and userAgent as User-Agent. It never
// resolves names and never follows a redirect. The certificate is checked
// with certs.Verify during the handshake; if it fails, the handshake is
// aborted (as a sender would) and no request is sent. Fetch never panics and
// returns within f.Timeout or when ctx is done, whichever comes first.
func (f *Fetcher) Fetch(ctx context.Context, host string, addr netip.Addr, userAgent string) (res Result) {
	start := time.Now()
	res = Result{Host: host, Addr: addr, UserAgent: userAgent}
	defer func() {
		res.Elapsed = time.Since(start)
		if slog.Default().Enabled(ctx, slog.LevelDebug) { // stspilot --debug
			slog.DebugContext(ctx, "https fetch", "host", res.Host, "addr", res.Addr.String(), "status", res.Status,
				"bytes", len(res.Body), "kind", string(res.Kind), "took", res.Elapsed.Round(time.Microsecond), "err", errText(res.Err))
		}
	}()
	fail := func(k ErrKind, err error) Result {
		res.Kind, res.Err = k, err
		return res
	}

	if !addr.IsValid() {
		return fail(KindInvalid, errors.New("no address to connect to"))
	}
	if !validHost(host) {
		return fail(KindInvalid, fmt.Errorf("invalid host name %q", printable.Shorten(host, 80, "...")))
	}
	host = strings.TrimSuffix(host, ".") // as SNI and Host header carry it
	timeout := f.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	now := f.Now
	if now == nil {
		now = time.Now
	}
	target := conn.Target(addr, f.Port, 443)
	// Cancellation interrupts any blocked read or write (conn.Dial).
	raw, stop, err := conn.Dial(ctx, target)
	if err != nil {
		return fail(dialError(parent, start, timeout, target, err))
	}
	defer raw.Close()
	defer stop()
	waited := func() string { return timeoutText(parent, start, timeout) }

	// TLS: verification is ours (certs.Verify) so that a bad certificate is
	// classified instead of just refused; the handshake is still aborted
	// with a bad_certificate alert, so the HTTP request is never sent over
	// it (STS-FETCH-3, STS-FETCH-4).
	cfg := &tls.Config{
		ServerName:         host,
		InsecureSkipVerify: true, // verified in VerifyConnection below
		NextProtos:         []string{"http/1.1"},
		MinVersion:         tls.VersionTLS12,
		VerifyConnection: func(cs tls.ConnectionState) error {
			res.TLSVersion = cs.Version
			res.Cert = f.memo.Verify(cs.PeerCertificates, host, f.Roots, now())
			if !res.Cert.Valid() {
				return errCertRejected
			}
			return nil
		},
	}
	tc := tls.Client(raw, cfg)
	if err = tc.HandshakeContext(ctx); err != nil {
		if errors.Is(err, errCertRejected) || (res.Cert.Problem != certs.OK) {
			return fail(KindCert, fmt.Errorf("the certificate of %s is not acceptable (%s); no request was sent", host, certText(res.Cert)))
		}
		return fail(handshakeError(err, waited))
	}
	res.TLSVersion = tc.ConnectionState().Version

	// HTTP/1.1: a simple GET, no Accept, no Accept-Encoding, no cache
	// validators, Connection: close (STS-FETCH-2, -7).
	req := &http.Request{
		Method:     http.MethodGet,
		URL:        &url.URL{Scheme: "https", Host: host, Path: txtrecord.WellKnownPath},
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     http.Header{"User-Agent": {userAgent}}, // "" omits the header
		Host:       host,
		Close:      true,
	}
	if err = req.Write(tc); err != nil {
		if conn.IsTimeout(err) {
			return fail(KindTimeout, fmt.Errorf("sending the request: %s", waited()))
		}
		return fail(KindHTTP, fmt.Errorf("sending the request failed: %w", err))
	}

	budget := &budgetReader{r: tc, left: maxHeaderBytes, err: errHeaderLimit}
	br := bufio.NewReader(budget)
	var resp *http.Response
	for range max1xx + 1 {
		resp, err = http.ReadResponse(br, req)
		if err != nil || resp.StatusCode < 100 || resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			break
		}
		// 1xx interim responses (103 Early Hints from CDNs) precede the
		// real one; senders' HTTP clients skip them too.
	}
	if err != nil {
		return fail(headerError(err, waited))
	}
	if resp.StatusCode < 100 {
		return fail(KindHTTP, fmt.Errorf("malformed HTTP response: status code %03d", resp.StatusCode))
	}
	if resp.StatusCode < 200 && resp.StatusCode != http.StatusSwitchingProtocols {
		return fail(KindHTTP, fmt.Errorf("no final response after %d interim (1xx) responses", max1xx+1))
	}
	// resp.Body is never closed: Close would drain it. Closing the
	// connection (deferred above) ends it instead.
	res.Status = resp.StatusCode
	res.ContentType = resp.Header.Get("Content-Type")
	res.ContentEncoding = resp.Header.Get("Content-Encoding")
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		res.Location = resp.Header.Get("Location")
	}
	// Only a 200 body matters to a sender (STS-FETCH-5); for other
	// statuses the body is kept for diagnosis and its failures ignored.
	ok200 := resp.StatusCode == http.StatusOK
	if resp.ContentLength > MaxBody {
		res.TooLarge = true
		if ok200 {
			return fail(KindTooLarge, fmt.Errorf("Content-Length %d exceeds the %d KiB senders accept", resp.ContentLength, MaxBody>>10))
		}
		return res
	}

	budget.left, budget.err = maxWireBody, errWireLimit
	body, err := readCapped(resp.Body)
	if len(body) > MaxBody {
		res.TooLarge = true
		body = body[:MaxBody]
	}
	res.Body = body
	switch {
	case !ok200:
		return res
	case res.TooLarge:
		return fail(KindTooLarge, fmt.Errorf("the body exceeds the %d KiB senders accept (reading stopped there)", MaxBody>>10))
	case err == nil:
		return res
	case conn.IsTimeout(err):
		return fail(KindTimeout, fmt.Errorf("the body was incomplete after %d bytes: %s", len(body), waited()))
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
		return fail(KindBody, fmt.Errorf("the server closed the connection after %d bytes of the body", len(body)))
	}
	return fail(KindBody, fmt.Errorf("reading the body failed after %d bytes: %w", len(body), err))
}

// readCapped reads r until EOF or MaxBody+1 bytes, whichever comes first,
// returning what was read and the error that stopped it (nil at EOF or at
// the cap). Memory stays bounded by the cap whatever the server sends.
func readCapped(r io.Reader) ([]byte, error) {
	return io.ReadAll(io.LimitReader(r, MaxBody+1))
}

// budgetReader fails with err once left bytes have been read.
type budgetReader struct {
	r    io.Reader
	left int64
	err  error
}

func (b *budgetReader) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, b.err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}

// dialError classifies a failed connect. Refused and timed-out connections
// are told apart: the first means nothing listens, the second usually a
// firewall dropping the port or a host that is down.
func dialError(parent context.Context, start time.Time, timeout time.Duration, target string, err error) (ErrKind, error) {
	switch conn.Classify(err) {
	case conn.Refused:
		return KindRefused, fmt.Errorf("connection to %s refused (nothing listens on that port)", target)
	case conn.Timeout:
		text := timeoutText(parent, start, timeout)
		if !errors.Is(parent.Err(), context.Canceled) {
			text += " (the port is filtered or the host is down)"
		}
		return KindTimeout, fmt.Errorf("connection to %s did not complete: %s", target, text)
	case conn.NoRoute:
		return KindConnect, fmt.Errorf("%s is unreachable from here (no route)", target)
	}
	return KindConnect, fmt.Errorf("connection to %s failed: %w", target, err)
}

// handshakeError classifies a TLS handshake that failed apart from the
// certificate.
func handshakeError(err error, waited func() string) (ErrKind, error) {
	var op *net.OpError
	var rh tls.RecordHeaderError
	switch {
	case conn.IsTimeout(err):
		return KindTimeout, fmt.Errorf("the TLS handshake did not complete: %s", waited())
	case errors.As(err, &rh):
		return KindTLS, errors.New("the server does not speak TLS on this port (it answered with something else)")
	case errors.As(err, &op) && op.Op == "remote error":
		msg := "the TLS handshake failed: the server aborted it with the alert \"" + strings.TrimPrefix(op.Err.Error(), "tls: ") + "\""
		switch op.Err.Error() {
		case "tls: handshake failure", "tls: protocol version not supported", "tls: insufficient security level":
			msg += " (no TLS version or cipher suite in common; TLS 1.2 and 1.3 were offered, as senders do)"
		case "tls: unrecognized name":
			msg += " (the server has no certificate for this name: SNI was sent)"
		}
		return KindTLS, errors.New(msg)
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
		return KindTLS, errors.New("the TLS handshake failed: the server closed the connection")
	}
	return KindTLS, fmt.Errorf("the TLS handshake failed: %w", err)
}

// headerError classifies a failure to read the response headers.
func headerError(err error, waited func() string) (ErrKind, error) {
	var op *net.OpError
	switch {
	case errors.As(err, &op) && op.Op == "remote error":
		// e.g. a TLS 1.3 server asking for a client certificate only
		// says so after the handshake.
		return KindTLS, fmt.Errorf("the server ended the TLS session instead of answering: %w", op.Err)
	case errors.Is(err, errHeaderLimit):
		return KindHTTP, err
	case conn.IsTimeout(err):
		return KindTimeout, fmt.Errorf("no complete response headers: %s", waited())
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET):
		return KindHTTP, errors.New("the server closed the connection without a complete HTTP response")
	}
	return KindHTTP, fmt.Errorf("malformed HTTP response: %w", err)
}

// timeoutText says whether the fetch's own limit passed or its caller gave
// up (cancelled, or a shorter deadline of its own). Cancellation is reported
// as KindTimeout too: either way no answer came in the time allowed. The
// deadlines are compared rather than parent.Err() read, because the
// connection's deadline can fire a moment before the context notices.
func timeoutText(parent context.Context, start time.Time, timeout time.Duration) string {
	if errors.Is(parent.Err(), context.Canceled) {
		return "the fetch was cancelled"
	}
	if dl, ok := parent.Deadline(); ok && dl.Before(start.Add(timeout)) {
		return "no answer before the caller's deadline"
	}
	return "no answer within the " + timeout.String() + " limit"
}

// certText renders a certs.Result for an error message.
func certText(c certs.Result) string {
	s := string(c.Problem)
	if c.Detail != "" {
		s += ": " + c.Detail
	}
	if s == "" {
		s = "rejected"
	}
	return s
}

// validHost accepts an ASCII DNS name (A-labels for IDNs): letters, digits,
// hyphens, underscores and dots, at most 253 characters, no empty label.
func validHost(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := range len(label) {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// errText is err's text, "" for nil (a log line without "<nil>").
func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
