// Package smtpprobe connects to one MX address on port 25 the way an MTA-STS
// sender does (rules STS-SEND-8, -10, -11 and -21; RFC 8461 §4, §7): it reads
// the greeting, sends EHLO, checks that STARTTLS is offered, upgrades with SNI
// set to the MX host name, and verifies the presented chain for that name with
// package certs. It records observations only; turning them into findings is
// the engine's job.
//
// The server is never trusted: every line, reply and connection has a size
// cap, and the whole probe has one deadline that also bounds every read.
package smtpprobe

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
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/stspilot/stspilot/checks/certs"
	"github.com/stspilot/stspilot/checks/internal/conn"
)

// DefaultHeloName is the EHLO argument used when Prober.HeloName is empty.
// The reserved .invalid TLD (RFC 6761 §6.4) says honestly that the prober is
// not a mail server and never resolves to anyone else's host. Servers that
// check the EHLO name usually do so at RCPT time, which the probe never
// reaches; set HeloName to the host's real name if one rejects EHLO.
const DefaultHeloName = "stspilot.invalid"

// DefaultTimeout bounds one probe when Prober.Timeout is zero.
const DefaultTimeout = 15 * time.Second

// politeTimeout bounds the EHLO and QUIT sent after a completed handshake.
const politeTimeout = 3 * time.Second

// Prober probes MX addresses. The zero value is ready to use; a Prober is
// safe for concurrent use as long as its fields are not changed meanwhile.
type Prober struct {
	Roots    *x509.CertPool // trust anchors; nil = system pool (honours SSL_CERT_FILE)
	Port     int            // 0 = 25 (tests use the fake's port)
	Timeout  time.Duration  // per probe, 0 = DefaultTimeout; also bounded by ctx
	HeloName string         // EHLO argument, "" = DefaultHeloName; must not contain spaces or controls
	Now      func() time.Time
	// Courtesy, when set, takes the courtesy commands that follow the
	// observations (EHLO and QUIT after the handshake, QUIT after a
	// refusal) into the background, so that Probe returns without waiting
	// for their replies; the caller joins them with Courtesy.Wait. Nil
	// sends them before Probe returns.
	Courtesy *Courtesy

	// memo verifies a chain this Prober saw before (an MX host's
	// addresses, MX hosts sharing a certificate) once.
	memo certs.Memo
}

// Stage names the step a probe was at when it stopped.
type Stage string

// The stages of a probe, in order. A Result's Stage is the step the probe
// stopped at: the one that failed (StageEHLO when EHLO did not offer
// STARTTLS), or StageDone.
const (
	StageConnect   Stage = "connect"   // TCP connection to addr:port
	StageBanner    Stage = "banner"    // the 220 greeting
	StageEHLO      Stage = "ehlo"      // EHLO and its extension list
	StageSTARTTLS  Stage = "starttls"  // the STARTTLS command and its 220 reply
	StageHandshake Stage = "handshake" // the TLS handshake
	StageDone      Stage = "done"      // handshake completed; EHLO and QUIT follow over TLS (see Prober.Courtesy)
)

// Error kinds. Connect failures are "refused", "timeout" or "unreachable"
// (the engine explains that many networks block outbound port 25);
// "timeout" at a later stage means the server stalled.
const (
	KindRefused     = "refused"     // nothing listens on the port (TCP RST)
	KindTimeout     = "timeout"     // the deadline passed (filtered port, stalled server) or ctx was cancelled
	KindUnreachable = "unreachable" // no route, or another connect error
	KindProtocol    = "protocol"    // bad or negative SMTP reply, STARTTLS not offered, size limits, closed connection
	KindTLS         = "tls"         // TLS handshake failed (no common version or cipher, SSL 3 only, ...)
)

// Result is what one probe observed.
type Result struct {
	Host       string
	Addr       netip.Addr
	Banner     string   // text of the first greeting line, after the code, sanitised and cut to 200 bytes
	BannerCode int      // code of the greeting (220 when the server is willing)
	EHLO       []string // extension keywords: upper-cased first word of each EHLO line after the first
	STARTTLS   bool     // STARTTLS offered in the EHLO reply
	TLSVersion uint16   // negotiated version, 0 if no handshake completed
	// CipherSuite is the negotiated suite, 0 if no handshake completed.
	CipherSuite uint16
	// Cert is the verification of the presented chain for Host. It is only
	// meaningful when TLSVersion != 0; before a handshake it is the zero value.
	Cert  certs.Result
	Stage Stage  // where the probe stopped; StageDone on success
	Kind  string // "" on success, else one of the Kind constants
	Err   error  // user-readable; nil exactly when Stage == StageDone
	// Elapsed is the wall time the probe took.
	Elapsed time.Duration
}

// clientCipherSuites are the TLS 1.0-1.2 suites the prober offers: Go's
// secure list plus the RSA key exchange AES suites that Go no longer offers
// by default but that old MX servers may be limited to. The prober observes;
// it protects no secret, so a weak but working handshake beats a hidden one.
// RC4 and 3DES are not offered. (TLS 1.3 suites are not configurable.)
var clientCipherSuites = func() []uint16 {
	var ids []uint16
	for _, s := range tls.CipherSuites() {
		if slices.Contains(s.SupportedVersions, tls.VersionTLS12) {
			ids = append(ids, s.ID)
		}
	}
	return append(ids,
		tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_RSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_RSA_WITH_AES_128_CBC_SHA, tls.TLS_RSA_WITH_AES_256_CBC_SHA)
}()

// ErrNoSTARTTLS is Result.Err when EHLO succeeded without offering STARTTLS.
var ErrNoSTARTTLS = errors.New("the server does not offer STARTTLS in its EHLO reply")

// Probe connects to addr on p.Port and performs greeting, EHLO, STARTTLS and
// the TLS handshake with SNI mxHost (STS-SEND-11), then verifies the chain
// for mxHost (STS-SEND-10), sends EHLO again and QUIT (in the background
// when p.Courtesy is set). TLS 1.0 to 1.3 are
// offered so that a server below TLS 1.2 is observed (TLSVersion) rather
// than hidden behind a handshake failure (STS-SEND-21). It never panics and
// returns within p.Timeout or when ctx is done, whichever comes first.
func (p *Prober) Probe(ctx context.Context, mxHost string, addr netip.Addr) (res Result) {
	start := time.Now()
	res = Result{Host: mxHost, Addr: addr, Stage: StageConnect}
	defer func() {
		res.Elapsed = time.Since(start)
		if slog.Default().Enabled(ctx, slog.LevelDebug) { // stspilot --debug
			args := []any{
				"host", res.Host, "addr", res.Addr.String(), "stage", fmt.Sprint(res.Stage), "starttls", res.STARTTLS,
				"kind", res.Kind, "took", res.Elapsed.Round(time.Microsecond),
			}
			if res.Err != nil {
				args = append(args, "err", res.Err.Error())
			}
			slog.DebugContext(ctx, "smtp probe", args...)
		}
	}()

	helo := p.HeloName
	if helo == "" {
		helo = DefaultHeloName
	}
	if !validHelo(helo) {
		res.Kind, res.Err = KindProtocol, fmt.Errorf("invalid EHLO name %q", sanitize(helo, 60))
		return res
	}
	if !addr.IsValid() {
		res.Kind, res.Err = KindUnreachable, errors.New("no address to connect to")
		return res
	}
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	target := conn.Target(addr, p.Port, 25)
	// Cancellation of the parent context interrupts any blocked read or
	// write (conn.Dial).
	raw, stop, err := conn.Dial(ctx, target)
	if err != nil {
		res.Kind, res.Err = dialError(ctx, target, err)
		return res
	}
	s := &session{ctx: ctx, raw: raw, stop: stop, bg: p.Courtesy, conn: &limitConn{Conn: raw, left: maxRead}}
	defer func() {
		if !s.handed {
			_ = raw.Close()
		}
	}()
	defer s.stop()

	s.br = bufio.NewReaderSize(s.conn, maxLine)
	p.converse(s, &res, mxHost, helo)
	return res
}

// converse runs the SMTP dialogue on an open connection, filling res.
func (p *Prober) converse(s *session, res *Result, mxHost, helo string) {
	fail := func(kind string, err error) { res.Kind, res.Err = kind, err }

	res.Stage = StageBanner
	greet, err := readReply(s.br)
	if err != nil {
		fail(s.readError("the greeting", err))
		return
	}
	res.BannerCode, res.Banner = greet.code, greet.text()
	if greet.code != 220 {
		s.quit()
		fail(KindProtocol, fmt.Errorf("the server greeted with %s instead of 220", greet))
		return
	}

	res.Stage = StageEHLO
	ehlo, kind, err := s.command("EHLO", helo, 250)
	if err != nil {
		fail(kind, err)
		return
	}
	res.EHLO = ehloKeywords(ehlo)
	res.STARTTLS = slices.Contains(res.EHLO, "STARTTLS")
	if !res.STARTTLS {
		s.quit()
		fail(KindProtocol, ErrNoSTARTTLS)
		return
	}

	res.Stage = StageSTARTTLS
	if _, kind, err := s.command("STARTTLS", "", 220); err != nil {
		fail(kind, err)
		return
	}
	if s.br.Buffered() > 0 {
		// Bytes after the 220 would be read as the start of the TLS
		// stream, or injected into the TLS session by a broken or hostile
		// middlebox (the STARTTLS command-injection class of bugs).
		fail(KindProtocol, errors.New("the server sent data after its reply to STARTTLS, before the TLS handshake"))
		return
	}

	res.Stage = StageHandshake
	tc := tls.Client(s.conn, &tls.Config{
		ServerName:         strings.TrimSuffix(mxHost, "."),
		InsecureSkipVerify: true, // verified below with certs.Verify, which classifies the failure
		MinVersion:         tls.VersionTLS10,
		MaxVersion:         tls.VersionTLS13,
		CipherSuites:       clientCipherSuites,
	})
	if err := tc.HandshakeContext(s.ctx); err != nil {
		fail(s.handshakeError(err))
		return
	}
	cs := tc.ConnectionState()
	res.TLSVersion, res.CipherSuite = cs.Version, cs.CipherSuite
	now := time.Now()
	if p.Now != nil {
		now = p.Now()
	}
	res.Cert = p.memo.Verify(cs.PeerCertificates, mxHost, p.Roots, now)
	res.Stage, res.Kind, res.Err = StageDone, "", nil

	// Be polite, as a sender would before MAIL FROM; failures here change
	// nothing that was observed.
	s.conn, s.br = tc, bufio.NewReaderSize(tc, maxLine)
	s.quit("EHLO " + helo)
}

// session is one SMTP connection: conn is the raw (read-limited) or TLS
// connection, br reads replies from it.
type session struct {
	ctx  context.Context
	conn net.Conn
	br   *bufio.Reader

	raw    net.Conn    // the TCP connection under conn
	stop   func() bool // stops the cancellation of ctx from cutting raw
	bg     *Courtesy   // where the courtesy commands go; nil = inline
	handed bool        // raw belongs to bg now, which closes it
}

// cmd sends one command line and reads its reply.
func (s *session) cmd(line string) (reply, error) {
	if _, err := io.WriteString(s.conn, line+"\r\n"); err != nil {
		return reply{}, err
	}
	return readReply(s.br)
}

// command sends the command verb (with arg, when not "") and wants the
// reply code want. Otherwise it returns the kind and error to fail the
// probe with, after QUIT when the server answered.
func (s *session) command(verb, arg string, want int) (reply, string, error) {
	line := verb
	if arg != "" {
		line += " " + arg
	}
	r, err := s.cmd(line)
	if err != nil {
		kind, rerr := s.readError(verb, err)
		return r, kind, rerr
	}
	if r.code != want {
		s.quit()
		return r, KindProtocol, fmt.Errorf("the server answered %s with %s", verb, r)
	}
	return r, "", nil
}

// quit sends the courtesy commands before (each once the previous one was
// answered, as a sender pipelining nothing would), then QUIT, ignoring every
// error. With a Courtesy they go in the background and quit returns at once.
func (s *session) quit(before ...string) {
	cmds := append(before, "QUIT")
	if s.bg == nil {
		if s.politeDeadline() {
			for _, c := range cmds {
				if _, err := s.cmd(c); err != nil {
					return
				}
			}
		}
		return
	}
	// The probe is over: from here the connection is the courtesy's, cut
	// only by its own bound or Courtesy.Wait. A probe already cancelled
	// sends nothing more.
	if !s.stop() || s.ctx.Err() != nil {
		return
	}
	s.handed = true
	conn, br := s.conn, s.br
	s.bg.start(s.raw, func() {
		_ = conn.SetDeadline(time.Now().Add(politeTimeout))
		for _, c := range cmds {
			if _, err := io.WriteString(conn, c+"\r\n"); err != nil {
				return
			}
			if _, err := readReply(br); err != nil {
				return
			}
		}
	})
}

// politeDeadline shortens the deadline to politeTimeout for the courtesy
// commands that follow the observations, so that a server stalling there
// costs little. It reports false if the probe is already over.
func (s *session) politeDeadline() bool {
	if dl, ok := s.ctx.Deadline(); !ok || time.Until(dl) > politeTimeout {
		_ = s.conn.SetDeadline(time.Now().Add(politeTimeout))
	}
	// Checked after setting: a cancellation that raced with it would
	// otherwise be overwritten by the new deadline.
	return s.ctx.Err() == nil
}

// readError classifies a failure to send a command or read its reply.
func (s *session) readError(what string, err error) (string, error) {
	var pe *protoError
	switch {
	case errors.As(err, &pe):
		return KindProtocol, fmt.Errorf("%s: %w", what, err)
	case errors.Is(err, errReadLimit):
		return KindProtocol, fmt.Errorf("%s: %w", what, err)
	case conn.IsTimeout(err):
		return KindTimeout, fmt.Errorf("no complete reply to %s: %s", what, s.timeoutText())
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return KindProtocol, fmt.Errorf("the server closed the connection before replying to %s", what)
	}
	return KindProtocol, fmt.Errorf("%s: %w", what, err)
}

// handshakeError classifies a failed TLS handshake.
func (s *session) handshakeError(err error) (string, error) {
	var op *net.OpError
	switch {
	case errors.Is(err, errReadLimit):
		return KindProtocol, fmt.Errorf("TLS handshake: %w", err)
	case conn.IsTimeout(err):
		return KindTimeout, fmt.Errorf("TLS handshake did not complete: %s", s.timeoutText())
	case strings.Contains(err.Error(), "unsupported protocol version"):
		return KindTLS, fmt.Errorf("TLS handshake failed: the server offers only SSL 3.0 or older, TLS 1.0 to 1.3 were offered (%w)", err)
	case errors.As(err, &op) && op.Op == "remote error":
		msg := "TLS handshake failed: the server aborted it with the alert \"" + strings.TrimPrefix(op.Err.Error(), "tls: ") + "\""
		switch op.Err.Error() {
		case "tls: handshake failure", "tls: protocol version not supported", "tls: insufficient security level":
			msg += " (no TLS version or cipher suite in common; TLS 1.0 to 1.3 were offered)"
		}
		return KindTLS, errors.New(msg)
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
		return KindTLS, errors.New("TLS handshake failed: the server closed the connection")
	}
	return KindTLS, fmt.Errorf("TLS handshake failed: %w", err)
}

// timeoutText says whether the probe's deadline passed or its caller gave up.
func (s *session) timeoutText() string {
	if errors.Is(s.ctx.Err(), context.Canceled) {
		return "the probe was cancelled"
	}
	return "the server stalled until the probe's deadline"
}

// dialError classifies a failed connect. Refused and timed-out connections
// are told apart: the first means nothing listens, the second usually that a
// firewall (often the prober's own network) drops port 25.
func dialError(ctx context.Context, target string, err error) (string, error) {
	c := conn.Classify(err)
	switch {
	case c == conn.Refused:
		return KindRefused, fmt.Errorf("connection to %s refused", target)
	case errors.Is(ctx.Err(), context.Canceled):
		return KindTimeout, fmt.Errorf("connection to %s: the probe was cancelled", target)
	case c == conn.Timeout:
		return KindTimeout, fmt.Errorf("connection to %s timed out (the port is filtered or the host is down)", target)
	case c == conn.NoRoute:
		return KindUnreachable, fmt.Errorf("%s is unreachable from here (no route)", target)
	}
	return KindUnreachable, fmt.Errorf("connection to %s failed: %w", target, err)
}

// validHelo accepts a domain or address literal: printable ASCII, no spaces.
func validHelo(s string) bool {
	if len(s) > 255 {
		return false
	}
	for i := range len(s) {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return s != ""
}

// TLSVersionName returns "TLS 1.2" for tls.VersionTLS12 and so on, "SSL 3.0"
// for 0x0300, and the hex value for anything else ("" for 0).
func TLSVersionName(v uint16) string {
	switch v {
	case 0:
		return ""
	case 0x0300:
		return "SSL 3.0"
	case tls.VersionTLS10:
		return "TLS 1.0"
	case tls.VersionTLS11:
		return "TLS 1.1"
	case tls.VersionTLS12:
		return "TLS 1.2"
	case tls.VersionTLS13:
		return "TLS 1.3"
	}
	return "0x" + strconv.FormatUint(uint64(v), 16)
}
