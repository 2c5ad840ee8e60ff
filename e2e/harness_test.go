package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

const (
	maxOutput    = 4 << 20  // cap on what a child process may write to each stream
	maxPolicy    = 64 << 10 // RFC 8461's suggested cap on a policy body (STS-FETCH-10)
	oracleTime   = 60 * time.Second
	stspilotTime = 2 * time.Minute
	netTime      = 10 * time.Second
	browserAgent = "Mozilla/5.0 (X11; Linux x86_64) stspilot-e2e"
	senderAgent  = "stspilot-e2e (mail sender)"
)

// needWorld skips the test when there is no world, and returns its env.
func needWorld(t testing.TB) Env {
	t.Helper()
	if world == nil {
		t.Skip(skipReason)
	}
	return world
}

// capBuffer keeps at most max bytes and drops the rest. It is safe for
// concurrent use: a test may read what a running process wrote so far.
type capBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (b *capBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - b.buf.Len(); room < len(p) {
		if room > 0 {
			b.buf.Write(p[:room])
		}
		return len(p), nil
	}
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *capBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// run runs a command with a deadline and capped output. code is the exit
// status; err is set only when the command could not run or was killed.
func run(ctx context.Context, env []string, name string, args ...string) (stdout, stderr string, code int, err error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = repoRoot
	cmd.Env = env
	cmd.WaitDelay = 5 * time.Second
	o, e := &capBuffer{max: maxOutput}, &capBuffer{max: maxOutput}
	cmd.Stdout, cmd.Stderr = o, e
	err = cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) && ctx.Err() == nil {
		return o.String(), e.String(), exit.ExitCode(), nil
	}
	if err != nil {
		return o.String(), e.String(), -1, err
	}
	return o.String(), e.String(), 0, nil
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// stspilotBin builds ./cmd/stspilot once per test binary, on first use, and
// returns its path.
func stspilotBin(t testing.TB) string {
	t.Helper()
	needWorld(t)
	buildOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		p := filepath.Join(binDir, "stspilot")
		out, errOut, code, err := run(ctx, os.Environ(), "go", "build", "-o", p, "./cmd/stspilot")
		switch {
		case err != nil:
			buildErr = err
		case code != 0:
			buildErr = errors.New("go build ./cmd/stspilot: " + strings.TrimSpace(out+errOut))
		default:
			binPath = p
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// runStspilot runs the built binary against the world: SSL_CERT_FILE is the
// world CA and --resolver the world's DNS server (added unless args has one).
// It fails the test only if the binary cannot be run or times out.
func runStspilot(t testing.TB, args ...string) (stdout, stderr string, exitCode int) {
	t.Helper()
	env := needWorld(t)
	bin := stspilotBin(t)
	if !slices.ContainsFunc(args, func(a string) bool { return a == "--resolver" || strings.HasPrefix(a, "--resolver=") }) {
		// before a "--" that ends the flags, else at the end
		i := slices.Index(args, "--")
		if i < 0 {
			i = len(args)
		}
		args = slices.Insert(slices.Clone(args), i, "--resolver", env["WORLD_DNS"])
	}
	ctx, cancel := context.WithTimeout(context.Background(), stspilotTime)
	defer cancel()
	stdout, stderr, exitCode, err := run(ctx, childEnv("SSL_CERT_FILE="+env["WORLD_CA"], "NO_COLOR=1"), bin, args...)
	if err != nil {
		t.Fatalf("stspilot %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout, stderr)
	}
	return stdout, stderr, exitCode
}

// childEnv is the test's environment without proxy or CA settings, plus extra.
func childEnv(extra ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch strings.ToLower(k) {
		case "http_proxy", "https_proxy", "all_proxy", "ssl_cert_file", "ssl_cert_dir":
			continue
		}
		out = append(out, kv)
	}
	return append(out, extra...)
}

// worldScript runs `e2e/world CMD WORLD_DIR ARGS...`.
func worldScript(t testing.TB, cmd string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	env := needWorld(t)
	ctx, cancel := context.WithTimeout(context.Background(), oracleTime)
	defer cancel()
	all := append([]string{filepath.Join(repoRoot, "e2e", "world"), cmd, env["WORLD_DIR"]}, args...)
	stdout, stderr, code, err := run(ctx, childEnv(), "bash", all...)
	if err != nil {
		t.Fatalf("e2e/world %s: %v\n%s%s", strings.Join(all[1:], " "), err, stdout, stderr)
	}
	return stdout, stderr, code
}

// stsQuery asks the oracle mta-sts-query (postfix-mta-sts-resolver) about
// domain, through the world's DNS and trusting the world CA. It returns the
// verdict and the oracle's output.
func stsQuery(t testing.TB, domain string) (STSVerdict, string) {
	t.Helper()
	out, errOut, code := worldScript(t, "sts-query", domain)
	switch code {
	case 0:
		return STSValid, out
	case 2:
		return STSFetchError, out
	case 3:
		return STSNone, out
	}
	t.Fatalf("sts-query %s: exit %d, no verdict:\n%s%s", domain, code, out, errOut)
	return "", ""
}

// tlsCheck asks the oracle posttls-finger (level secure, world CA) about the
// MX host at ip ("" resolves host through the world's DNS, following a CNAME).
func tlsCheck(t testing.TB, host, ip string) (TLSVerdict, string) {
	t.Helper()
	args := []string{host}
	if ip != "" {
		args = append(args, ip)
	}
	out, errOut, _ := worldScript(t, "tls-check", args...)
	v, _, _ := strings.Cut(strings.TrimSpace(out), " ")
	switch TLSVerdict(v) {
	case TLSVerified, TLSUntrusted, TLSNone:
		return TLSVerdict(v), errOut
	}
	t.Fatalf("tls-check %s: no verdict:\n%s%s", host, out, errOut)
	return "", ""
}

// ---- Go clients that trust the world CA and use the world's DNS

// worldRoots is a pool holding the world CA only.
func worldRoots(t testing.TB) *x509.CertPool {
	t.Helper()
	env := needWorld(t)
	pem, err := os.ReadFile(env["WORLD_CA"])
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("%s: no certificate", env["WORLD_CA"])
	}
	return pool
}

// query asks the world's DNS server, without recursion, over UDP (TCP when
// truncated). A non-success rcode other than NXDOMAIN fails the test.
func query(t testing.TB, name string, qtype uint16) []dns.RR {
	t.Helper()
	env := needWorld(t)
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.RecursionDesired = false
	ctx, cancel := context.WithTimeout(context.Background(), netTime)
	defer cancel()
	c := &dns.Client{Timeout: netTime}
	r, _, err := c.ExchangeContext(ctx, m, env["WORLD_DNS"])
	if err == nil && r.Truncated {
		c.Net = "tcp"
		r, _, err = c.ExchangeContext(ctx, m, env["WORLD_DNS"])
	}
	if err != nil {
		t.Fatalf("dns %s %s: %v", name, dns.TypeToString[qtype], err)
	}
	if r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError {
		t.Fatalf("dns %s %s: %s", name, dns.TypeToString[qtype], dns.RcodeToString[r.Rcode])
	}
	return r.Answer
}

// addrs returns the A and AAAA addresses of name (CNAMEs in the answer are skipped).
func addrs(t testing.TB, name string) []string {
	t.Helper()
	var out []string
	for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
		for _, rr := range query(t, name, qt) {
			switch rr := rr.(type) {
			case *dns.A:
				out = append(out, rr.A.String())
			case *dns.AAAA:
				out = append(out, rr.AAAA.String())
			}
		}
	}
	return out
}

// fetched is one HTTPS GET of a policy from one address.
type fetched struct {
	status int
	ctype  string
	body   []byte
	err    error
}

// fetchPolicy GETs https://host/.well-known/mta-sts.txt from ip:443, with SNI
// host, the world CA as the only root, no redirects (STS-FETCH-6) and the
// given User-Agent.
func fetchPolicy(t testing.TB, host, ip, agent string) fetched {
	t.Helper()
	roots := worldRoots(t)
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, net.JoinHostPort(ip, "443"))
		},
		TLSClientConfig:   &tls.Config{RootCAs: roots, ServerName: host, MinVersion: tls.VersionTLS12},
		Proxy:             nil,
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	c := &http.Client{
		Transport:     tr,
		Timeout:       netTime,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	ctx, cancel := context.WithTimeout(context.Background(), netTime)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+host+"/.well-known/mta-sts.txt", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("User-Agent", agent)
	resp, err := c.Do(req)
	if err != nil {
		return fetched{err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPolicy+1))
	return fetched{status: resp.StatusCode, ctype: resp.Header.Get("Content-Type"), body: body, err: err}
}

// probeMX connects to ip:25, says EHLO and, if offered, starts TLS with SNI
// host against the world CA, the way an MTA-STS sender does (STS-SEND-8,
// STS-SEND-10, STS-SEND-11). The verdict uses the oracle's vocabulary.
func probeMX(t testing.TB, host, ip string) (TLSVerdict, error) {
	t.Helper()
	roots := worldRoots(t)
	ctx, cancel := context.WithTimeout(context.Background(), netTime)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(ip, "25"))
	if err != nil {
		t.Fatalf("smtp %s [%s]: %v", host, ip, err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(netTime)); err != nil {
		t.Fatal(err)
	}
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		t.Fatalf("smtp %s [%s]: greeting: %v", host, ip, err)
	}
	defer c.Close()
	if err := c.Hello("e2e.stspilot.test"); err != nil {
		t.Fatalf("smtp %s [%s]: EHLO: %v", host, ip, err)
	}
	if ok, _ := c.Extension("STARTTLS"); !ok {
		return TLSNone, nil
	}
	if err := c.StartTLS(&tls.Config{ServerName: host, RootCAs: roots, MinVersion: tls.VersionTLS12}); err != nil {
		return TLSUntrusted, err
	}
	_ = c.Quit()
	return TLSVerified, nil
}
