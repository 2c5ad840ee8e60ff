package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stspilot/stspilot/internal/testca"
	"github.com/stspilot/stspilot/workflow"
)

// startPebble runs Pebble (Debian package pebble) on pebbleIP with an
// HTTPS certificate from a throwaway CA, resolving through the world's
// DNS, and validating TLS-ALPN-01 on port 443 of whatever address a name's
// A record gives: where stspilot serve listens. It returns the directory
// URL, the CA file to trust for it and an HTTPS client for its
// management API.
func startPebble(t *testing.T, env Env) (dirURL, caFile string, mgmt *http.Client) {
	t.Helper()
	bin, err := exec.LookPath("pebble")
	if err != nil {
		t.Fatalf("pebble is not installed (Debian package pebble; e2e/world installs it): %v", err)
	}
	dir := t.TempDir()
	ca := testca.MustNew(t, testca.Options{
		Name:      "stspilot e2e pebble API CA",
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
	})
	caFile = filepath.Join(dir, "pebble-api-ca.pem")
	if err := ca.WriteCertPEM(caFile); err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := issue(t, dir, ca, pebbleIP)
	cfg := map[string]any{"pebble": map[string]any{
		"listenAddress":                  pebbleIP + ":14000",
		"managementListenAddress":        pebbleIP + ":15000",
		"certificate":                    certFile,
		"privateKey":                     keyFile,
		"httpPort":                       5002,
		"tlsPort":                        443,
		"ocspResponderURL":               "",
		"externalAccountBindingRequired": false,
	}}
	b, _ := json.Marshal(cfg)
	cfgFile := filepath.Join(dir, "pebble.json")
	os.WriteFile(cfgFile, b, 0o644)
	cmd := exec.Command(bin, "-config", cfgFile, "-dnsserver", env["WORLD_DNS"])
	cmd.Env = childEnv("PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0")
	out := &capBuffer{max: 1 << 20}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("pebble output:\n%s", out.String())
		}
	})
	mgmt = &http.Client{Timeout: netTime, Transport: &http.Transport{TLSClientConfig: ca.ClientConfig()}}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := mgmt.Get("https://" + pebbleIP + ":14000/dir")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("pebble does not answer: %v\n%s", err, out.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	return "https://" + pebbleIP + ":14000/dir", caFile, mgmt
}

// pebbleRoots is the root Pebble issues under (new on every start).
func pebbleRoots(t *testing.T, mgmt *http.Client) *x509.CertPool {
	t.Helper()
	resp, err := mgmt.Get("https://" + pebbleIP + ":15000/roots/0")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		t.Fatalf("pebble roots: %q", b)
	}
	return pool
}

// waitCert waits until serve presents a certificate for mta-sts.domain
// that chains to roots, then fetches the policy with it.
func waitCert(t *testing.T, p *serveProc, roots *x509.CertPool, domain, policy string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	var lastErr error
	for time.Now().Before(deadline) {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", serveACMEIP+":443", &tls.Config{RootCAs: roots, ServerName: "mta-sts." + domain})
		if err == nil {
			conn.Close()
			resp, err := policyClient(serveACMEIP, roots).Get("https://mta-sts." + domain + "/.well-known/mta-sts.txt")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			if resp.StatusCode != 200 || string(b) != policy {
				t.Fatalf("policy over the ACME certificate: %d %q", resp.StatusCode, b)
			}
			return
		}
		lastErr = err
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("no certificate for mta-sts.%s from pebble within %v: %v\nserve:\n%s", domain, within, lastErr, p.stderr.String())
}

// TestServeACMEPebble: serve --acme gets certificates from Pebble by
// TLS-ALPN-01 (real validation: Pebble resolves the name through the
// world's BIND and connects to serve's address) for the mta-sts names of
// served domains, picks up a domain published after it started, and never
// gets one for a name it does not serve.
func TestServeACMEPebble(t *testing.T) {
	env := needWorld(t)
	dirURL, caFile, mgmt := startPebble(t, env)
	state := t.TempDir()
	d1 := servedDomain(t, env, serveACMEIP)
	d2 := servedDomain(t, env, serveACMEIP)
	stranger := servedDomain(t, env, serveACMEIP) // in DNS, never published
	policy := "version: STSv1\nmode: testing\nmx: mx1." + env["WORLD_ZONE"] + "\nmax_age: 86400\n"
	pub := &workflow.Serve{StateDir: state}
	if _, err := pub.Publish(context.Background(), d1, []byte(policy)); err != nil {
		t.Fatal(err)
	}
	p := startServe(t, state, serveACMEIP, "--acme", "--acme-ca", dirURL, "--acme-ca-root", caFile, "--acme-email", "hostmaster@"+env["WORLD_ZONE"])
	roots := pebbleRoots(t, mgmt)
	waitCert(t, p, roots, d1, policy, 60*time.Second)

	// A domain published while serve runs gets its certificate too.
	if _, err := pub.Publish(context.Background(), d2, []byte(policy)); err != nil {
		t.Fatal(err)
	}
	waitCert(t, p, roots, d2, policy, 60*time.Second)

	// A name serve does not serve gets no certificate, and no order.
	conn, err := tls.Dial("tcp", serveACMEIP+":443", &tls.Config{RootCAs: roots, ServerName: "mta-sts." + stranger})
	if err == nil {
		conn.Close()
		t.Errorf("serve presented a trusted certificate for mta-sts.%s, which it does not serve", stranger)
	}
	// The handshake above is refused ("no certificate available for ..."
	// in serve's log); any other line naming the stranger would be serve
	// asking for a certificate.
	for _, line := range strings.Split(p.stderr.String(), "\n") {
		if strings.Contains(line, stranger) && !strings.Contains(line, "no certificate available for") {
			t.Errorf("serve tried to get a certificate for %s: %s", stranger, line)
		}
	}
	certs, _ := filepath.Glob(filepath.Join(state, "acme", "certificates", "*", "*", "*.crt"))
	if len(certs) != 2 {
		t.Errorf("certificates stored: %v, want the two served names", certs)
	}
	for _, c := range certs {
		if strings.Contains(c, stranger) {
			t.Errorf("a certificate for the stranger: %s", c)
		}
	}
}
