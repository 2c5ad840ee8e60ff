package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/smtp"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stspilot/stspilot/internal/testca"
	"github.com/stspilot/stspilot/workflow"
	"github.com/stspilot/stspilot/workflow/serve"
)

// The monitoring test runs `stspilot watch`, `stspilot serve` and a real
// Prometheus on a loopback address of its own (nothing else in the world
// uses it), each on its own port.
const (
	monitorIP  = "127.0.0.94"
	watchPort  = "9464"
	serveMPort = "9465"
	promPort   = "9090"
	// watchBroken is the world's domain for deploy tests (an empty webroot
	// on nginx, no records): the test deploys a policy there, breaks it
	// and heals it, and leaves it empty again.
	watchBroken = "fresh.example.test"
)

// proc is a long-running child whose stdout and stderr are kept.
type proc struct {
	cmd            *exec.Cmd
	stdout, stderr *capBuffer
	done           chan error
	stopped        bool
}

func startProc(t *testing.T, wantExit int, env []string, name string, args ...string) *proc {
	t.Helper()
	p := &proc{stdout: &capBuffer{max: 4 << 20}, stderr: &capBuffer{max: 1 << 20}, done: make(chan error, 1)}
	p.cmd = exec.Command(name, args...)
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() { p.stop(t, wantExit) })
	return p
}

// stop sends SIGTERM once and checks the exit code (-1: any).
func (p *proc) stop(t *testing.T, wantExit int) {
	if p.stopped {
		return
	}
	p.stopped = true
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		var ee *exec.ExitError
		code := 0
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		}
		if wantExit >= 0 && code != wantExit {
			t.Errorf("%s after SIGTERM: exit %d (%v), want %d\n%s", filepath.Base(p.cmd.Path), code, err, wantExit, p.stderr.String())
		}
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		t.Errorf("%s did not stop within 30s of SIGTERM", filepath.Base(p.cmd.Path))
	}
}

// eventually polls f every 250 ms until it returns "" (done) or the time
// is up, and fails with f's last word.
func eventually(t *testing.T, within time.Duration, f func() string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		msg := f()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", within, msg)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

type watchEvent struct {
	Schema  string `json:"schema"`
	Change  string `json:"change"`
	Domain  string `json:"domain"`
	Alert   bool   `json:"alert"`
	Finding struct {
		ID       string `json:"id"`
		Severity string `json:"severity"`
		Subject  string `json:"subject"`
	} `json:"finding"`
}

// hasEvent says whether the JSON lines in text hold an event of domain
// with change and finding id.
func hasEvent(text, domain, change, id string) bool {
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		var e watchEvent
		if json.Unmarshal(sc.Bytes(), &e) == nil && e.Schema == "stspilot.watch/v1" && e.Domain == domain && e.Change == change && e.Finding.ID == id {
			return true
		}
	}
	return false
}

func httpGetLocal(url string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), netTime)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if resp.StatusCode != 200 {
		return string(b), errors.New(resp.Status)
	}
	return string(b), err
}

// promSample is one sample of an instant query's result.
type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// promInstant asks Prometheus's HTTP API for the instant value of expr.
func promInstant(expr string) ([]promSample, error) {
	body, err := httpGetLocal("http://" + net.JoinHostPort(monitorIP, promPort) + "/api/v1/query?query=" + url.QueryEscape(expr))
	if err != nil {
		return nil, err
	}
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []promSample `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		return nil, err
	}
	if r.Status != "success" {
		return nil, errors.New("query " + expr + ": " + r.Status + " " + r.Error)
	}
	return r.Data.Result, nil
}

// promQuery is the value of expr's only sample, or "" when it has none
// or several.
func promQuery(expr string) (string, error) {
	res, err := promInstant(expr)
	if err != nil || len(res) != 1 {
		return "", err
	}
	s, _ := res[0].Value[1].(string)
	return s, nil
}

// promSeries is the label sets of expr's samples.
func promSeries(expr string) ([]map[string]string, error) {
	res, err := promInstant(expr)
	var out []map[string]string
	for _, r := range res {
		out = append(out, r.Metric)
	}
	return out, err
}

// TestWatchAndPrometheus watches two world domains with a short interval,
// deploys a policy on fresh, breaks it mid-run twice and heals it each
// time: nginx answers 404; then, with fresh in enforce for a week, mx1
// presents a certificate that expires within that week (Postfix reloaded
// with another chain file, then restored). The events appear on stdout
// and on the alert hook's stdin. A real Prometheus scrapes watch and
// serve, and its HTTP API returns every series of docs/monitoring.md's
// tables (serve's report counter after a refused POST); promtool accepts
// both endpoints and the example alert rules.
func TestWatchAndPrometheus(t *testing.T) {
	env := needWorld(t)
	bin := stspilotBin(t)
	promBin, err := exec.LookPath("prometheus")
	if err != nil {
		if inCI() {
			t.Fatal("prometheus is not installed (Debian package prometheus; .ci/run installs it)")
		}
		t.Skip("prometheus is not installed (apt-get install prometheus)")
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool missing beside prometheus")
	}
	dir := t.TempDir()
	childenv := childEnv("SSL_CERT_FILE="+env["WORLD_CA"], "NO_COLOR=1")
	rules := docAlertRules(t)

	// serve, with a policy of its own and its metrics
	state := filepath.Join(dir, "serve-state")
	served := "watchsrv." + env["WORLD_ZONE"]
	const servedID = "20261206120000watchsrv"
	if _, err := (&workflow.Serve{StateDir: state}).PublishID(context.Background(), served, []byte("version: STSv1\r\nmode: testing\r\nmx: mx1."+env["WORLD_ZONE"]+"\r\nmax_age: 86400\r\n"), servedID); err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := issueWorldCert(t, env, dir, "mta-sts."+served)
	sp := startServe(t, state, monitorIP, "--tls-cert", certFile, "--tls-key", keyFile, "--config", "/dev/null",
		"--metrics-listen", net.JoinHostPort(monitorIP, serveMPort))
	client := policyClient(monitorIP, worldRoots(t))
	for _, ua := range []string{"Google-SMTP-STS", "Google-SMTP-STS", "", "Go-http-client/1.1"} {
		req, _ := http.NewRequest("GET", "https://mta-sts."+served+"/.well-known/mta-sts.txt", nil)
		req.Header.Set("User-Agent", ua)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("fetch from serve: %s\n%s", resp.Status, sp.stderr.String())
		}
	}

	// a report serve refuses (not TLS-RPT JSON): counted as rejected
	req, _ := http.NewRequest("POST", "https://mta-sts."+served+serve.DefaultRUAPath, strings.NewReader("not a report"))
	req.Header.Set("Content-Type", "application/tlsrpt+json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode < 400 || resp.StatusCode >= 500 {
		t.Fatalf("a POST of no report to serve: %s, want 4xx\n%s", resp.Status, sp.stderr.String())
	}

	// a testing policy on fresh: the file on nginx, the record in BIND
	wellKnown := filepath.Join(env["WORLD_DIR"], "www", watchBroken, ".well-known")
	policyFile := filepath.Join(wellKnown, "mta-sts.txt")
	policy := []byte("version: STSv1\r\nmode: testing\r\nmx: mx1." + env["WORLD_ZONE"] + "\r\nmax_age: 86400\r\n")
	_, statErr := os.Stat(wellKnown)
	if err := os.MkdirAll(wellKnown, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.Remove(policyFile)
		if statErr != nil {
			os.Remove(wellKnown)
		}
	})
	if err := os.WriteFile(policyFile, policy, 0o644); err != nil {
		t.Fatal(err)
	}
	stsName := "_mta-sts." + watchBroken
	worldUpdate(t, env, nil, []string{stsName + ` 1 IN TXT "v=STSv1; id=watch1"`})
	t.Cleanup(func() { worldUpdate(t, env, []string{stsName}, nil) })

	// watch, with the hook keeping its stdin
	hookOut := filepath.Join(dir, "hook.jsonl")
	w := startProc(t, 130, childenv, bin, "watch", "--json", "--interval", "2s", "--timeout", "10s", "--concurrency", "2",
		"--resolver", env["WORLD_DNS"], "--state-dir", filepath.Join(dir, "state"), "--config", "/dev/null",
		"--on-alert", "exec:cat >> "+hookOut, "--metrics-listen", net.JoinHostPort(monitorIP, watchPort),
		"ok."+env["WORLD_ZONE"], watchBroken)

	// Prometheus scraping both every second
	promDir := filepath.Join(dir, "prometheus")
	if err := os.MkdirAll(promDir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := `global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: stspilot-watch
    static_configs: [{targets: ["` + net.JoinHostPort(monitorIP, watchPort) + `"]}]
  - job_name: stspilot-serve
    static_configs: [{targets: ["` + net.JoinHostPort(monitorIP, serveMPort) + `"]}]
`
	cfgFile := filepath.Join(promDir, "prometheus.yml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	prom := startProc(t, -1, childEnv(), promBin, "--config.file="+cfgFile, "--storage.tsdb.path="+filepath.Join(promDir, "data"),
		"--web.listen-address="+net.JoinHostPort(monitorIP, promPort))

	// the first checks: ok is checked and up
	eventually(t, 60*time.Second, func() string {
		if v, err := promQuery(`stspilot_check_up{domain="ok.` + env["WORLD_ZONE"] + `"}`); err != nil || v != "1" {
			return "Prometheus has no stspilot_check_up 1 for ok: " + v + " " + errString(err) + "\nwatch:\n" + w.stderr.String() + "\nprometheus:\n" + tail(prom.stderr.String(), 2000)
		}
		return ""
	})

	// fresh is checked and up before it breaks
	eventually(t, 60*time.Second, func() string {
		if v, err := promQuery(`stspilot_policy_max_age_seconds{domain="` + watchBroken + `",mode="testing"}`); err != nil || v != "86400" {
			return "Prometheus has no max_age of the policy on fresh: " + v + " " + errString(err) + "\nwatch:\n" + w.stderr.String()
		}
		return ""
	})
	// break: the policy file goes, nginx answers 404
	if err := os.Remove(policyFile); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, func() string {
		if !hasEvent(w.stdout.String(), watchBroken, "appeared", "policy.http-status") {
			return "no appeared policy.http-status event on stdout:\n" + w.stdout.String() + "\n" + w.stderr.String()
		}
		b, _ := os.ReadFile(hookOut)
		if !hasEvent(string(b), watchBroken, "appeared", "policy.http-status") {
			return "the hook's stdin had no appeared policy.http-status event:\n" + string(b) + "\n" + w.stderr.String()
		}
		return ""
	})
	eventually(t, 30*time.Second, func() string {
		if v, err := promQuery(`stspilot_check_findings{domain="` + watchBroken + `",severity="error"} > 0`); err != nil || v == "" {
			return "Prometheus does not see the error finding: " + errString(err)
		}
		return ""
	})
	if err := os.WriteFile(policyFile, policy, 0o644); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, func() string {
		if !hasEvent(w.stdout.String(), watchBroken, "cleared", "policy.http-status") {
			return "no cleared policy.http-status event:\n" + w.stdout.String()
		}
		b, _ := os.ReadFile(hookOut)
		if !hasEvent(string(b), watchBroken, "cleared", "policy.http-status") {
			return "the hook's stdin had no cleared event:\n" + string(b)
		}
		return ""
	})

	// break 2: an MX certificate inside the horizon. fresh goes to enforce
	// with a week's max_age (and a new id); once watch has seen it, mx1's
	// certificate is swapped for one of the world CA that expires in two
	// days: inside the week senders may hold fresh's enforce policy, and
	// outside the day of ok's (enforce, max_age 86400, the same mx1), so
	// only fresh has the finding. Then the certificate is put back.
	zone := env["WORLD_ZONE"]
	enforce := []byte("version: STSv1\r\nmode: enforce\r\nmx: mx1." + zone + "\r\nmax_age: 604800\r\n")
	if err := os.WriteFile(policyFile, enforce, 0o644); err != nil {
		t.Fatal(err)
	}
	worldUpdate(t, env, []string{stsName}, []string{stsName + ` 1 IN TXT "v=STSv1; id=watch2"`})
	eventually(t, 60*time.Second, func() string {
		if v, err := promQuery(`stspilot_policy_max_age_seconds{domain="` + watchBroken + `",mode="enforce"}`); err != nil || v != "604800" {
			return "Prometheus has no enforce max_age of fresh: " + v + " " + errString(err) + "\nwatch:\n" + w.stderr.String()
		}
		return ""
	})
	if hasEvent(w.stdout.String(), watchBroken, "appeared", "mx.cert-expires-in-horizon") {
		t.Fatalf("mx.cert-expires-in-horizon before mx1's certificate was swapped (does the world's mx1 certificate expire within a week?):\n%s", w.stdout.String())
	}
	mx1IP, _, _ := strings.Cut(env["WORLD_MX1"], ":")
	restore := swapMXCert(t, env, "mx1."+zone, mx1IP, time.Now().Add(48*time.Hour))
	eventually(t, 60*time.Second, func() string {
		if !hasEvent(w.stdout.String(), watchBroken, "appeared", "mx.cert-expires-in-horizon") {
			return "no appeared mx.cert-expires-in-horizon event on stdout:\n" + w.stdout.String() + "\n" + w.stderr.String()
		}
		b, _ := os.ReadFile(hookOut)
		if !hasEvent(string(b), watchBroken, "appeared", "mx.cert-expires-in-horizon") {
			return "the hook's stdin had no appeared mx.cert-expires-in-horizon event:\n" + string(b) + "\n" + w.stderr.String()
		}
		return ""
	})
	// The example rule of docs/monitoring.md sees it too: Prometheus
	// evaluates its expression to the one series of fresh's mx1.
	certRule := docAlertExpr(t, rules, "MTASTSCertExpiresInHorizon")
	eventually(t, 30*time.Second, func() string {
		series, err := promSeries(certRule)
		if err != nil || len(series) != 1 || series[0]["domain"] != watchBroken || series[0]["host"] != "mx1."+zone || series[0]["role"] != "mx" {
			return "Prometheus does not evaluate docs/monitoring.md's MTASTSCertExpiresInHorizon to fresh's mx1 alone: " + fmt.Sprint(series) + " " + errString(err)
		}
		return ""
	})
	restore()
	eventually(t, 60*time.Second, func() string {
		if !hasEvent(w.stdout.String(), watchBroken, "cleared", "mx.cert-expires-in-horizon") {
			return "no cleared mx.cert-expires-in-horizon event:\n" + w.stdout.String()
		}
		b, _ := os.ReadFile(hookOut)
		if !hasEvent(string(b), watchBroken, "cleared", "mx.cert-expires-in-horizon") {
			return "the hook's stdin had no cleared mx.cert-expires-in-horizon event:\n" + string(b)
		}
		return ""
	})
	if hasEvent(w.stdout.String(), "ok."+zone, "appeared", "mx.cert-expires-in-horizon") {
		t.Errorf("ok (enforce for a day) had mx.cert-expires-in-horizon for a certificate that outlives its horizon:\n%s", w.stdout.String())
	}

	// serve's fetch counter and watch's certificate expiry, through Prometheus
	eventually(t, 30*time.Second, func() string {
		v, err := promQuery(`stspilot_serve_policy_fetches_total{domain="` + served + `",sender="google",id="` + servedID + `"}`)
		if err != nil || v != "2" {
			return "serve's google fetches in Prometheus: " + v + " " + errString(err)
		}
		if v, err := promQuery(`stspilot_serve_policy_fetches_total{domain="` + served + `",sender="microsoft"}`); err != nil || v != "1" {
			return "serve's microsoft fetches: " + v + " " + errString(err)
		}
		if v, err := promQuery(`stspilot_cert_expiry_timestamp_seconds{domain="ok.` + env["WORLD_ZONE"] + `",role="mx",host="mx1.` + env["WORLD_ZONE"] + `"} > time()`); err != nil || v == "" {
			return "no future expiry of mx1's certificate: " + errString(err)
		}
		if v, err := promQuery(`stspilot_serve_reports_received_total{domain="` + served + `",result="rejected"}`); err != nil || v != "1" {
			return "serve's rejected reports: " + v + " " + errString(err)
		}
		if v, err := promQuery(`stspilot_cert_expiry_timestamp_seconds{domain="ok.` + zone + `",role="policy",host="mta-sts.ok.` + zone + `"} > time()`); err != nil || v == "" {
			return "no future expiry of ok's policy-host certificate: " + errString(err)
		}
		if v, err := promQuery(`stspilot_check_duration_seconds{domain="ok.` + zone + `"} > 0`); err != nil || v == "" {
			return "no check duration of ok: " + errString(err)
		}
		if v, err := promQuery(`stspilot_horizon_timestamp_seconds{domain="` + watchBroken + `",mode="enforce"} > time() + 6 * 86400`); err != nil || v == "" {
			return "no horizon of fresh's week-long enforce policy: " + errString(err)
		}
		return ""
	})

	// promtool accepts the example alert rules of docs/monitoring.md
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	rulesFile := filepath.Join(dir, "rules.yml")
	if err := os.WriteFile(rulesFile, []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.CommandContext(ctx, promtool, "check", "rules", rulesFile).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules on docs/monitoring.md's example: %v\n%s", err, out)
	}
	cancel()

	// promtool accepts both endpoints
	for _, port := range []string{watchPort, serveMPort} {
		body, err := httpGetLocal("http://" + net.JoinHostPort(monitorIP, port) + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		cmd := exec.CommandContext(ctx, promtool, "check", "metrics")
		cmd.Stdin = strings.NewReader(body)
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Errorf("promtool check metrics on :%s: %v\n%s", port, err, out)
		}
		if h, err := httpGetLocal("http://" + net.JoinHostPort(monitorIP, port) + "/healthz"); err != nil || h != "ok\n" {
			t.Errorf("/healthz on :%s: %q %v", port, h, err)
		}
	}
	w.stop(t, 130)
	b, _ := os.ReadFile(hookOut)
	if strings.Contains(string(b), env["WORLD_TSIG_SECRET"]) {
		t.Error("the hook saw a secret")
	}
}

// docAlertRules is the example alert rules of docs/monitoring.md: the
// first yaml block after its "## Example alert rules" heading.
func docAlertRules(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "docs", "monitoring.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "\n## Example alert rules\n")
	if ok {
		_, rest, ok = strings.Cut(rest, "```yaml\n")
	}
	rules, _, closed := strings.Cut(rest, "\n```")
	if !ok || !closed || !strings.Contains(rules, "- alert:") {
		t.Fatal(`docs/monitoring.md: no yaml block of alert rules under "## Example alert rules"`)
	}
	return rules + "\n"
}

// docAlertExpr is the expr of alert name in rules (a one-line value or a
// "|" block).
func docAlertExpr(t *testing.T, rules, name string) string {
	t.Helper()
	lines := strings.Split(rules, "\n")
	indent := func(l string) int { return len(l) - len(strings.TrimLeft(l, " ")) }
	for i, l := range lines {
		if strings.TrimSpace(l) != "- alert: "+name {
			continue
		}
		for j := i + 1; j < len(lines) && indent(lines[j]) > indent(l); j++ {
			v, ok := strings.CutPrefix(strings.TrimSpace(lines[j]), "expr:")
			if !ok {
				continue
			}
			if v = strings.TrimSpace(v); v != "|" {
				return v
			}
			var expr []string
			for k := j + 1; k < len(lines) && indent(lines[k]) > indent(lines[j]); k++ {
				expr = append(expr, strings.TrimSpace(lines[k]))
			}
			return strings.Join(expr, " ")
		}
	}
	t.Fatalf("docs/monitoring.md: no expr for alert %s", name)
	return ""
}

// swapMXCert makes the world's Postfix present, for host on ip (the smtpd
// of that address), a certificate of the world CA that expires at
// notAfter: that address's line of master.cf names a chain file of the
// test's instead of the world's, and postfix reloads; it returns once host
// presents the new certificate. restore puts master.cf back, reloads and
// waits until host presents its own certificate again; a cleanup calls it
// too (once in all), so that the world is whole again for the next test
// even when this one fails. (e2e/world up rewrites master.cf anyway.)
func swapMXCert(t *testing.T, env Env, host, ip string, notAfter time.Time) (restore func()) {
	t.Helper()
	roots := worldRoots(t)
	conf := filepath.Join(env["WORLD_DIR"], "postfix", "conf")
	masterCF := filepath.Join(conf, "master.cf")
	orig, err := os.ReadFile(masterCF)
	if err != nil {
		t.Fatal(err)
	}
	own, err := mxCertNotAfter(host, ip, roots)
	if err != nil {
		t.Fatalf("%s's certificate before the swap: %v", host, err)
	}
	// The chain file as e2e/world writes it: key, certificate, CA.
	dir := t.TempDir()
	certFile, keyFile := worldCA(t, env).MustWritePEM(t, dir, testca.Leaf{Names: []string{host}, CommonName: host, NotAfter: notAfter})
	var chain []byte
	for _, f := range []string{keyFile, certFile, env["WORLD_CA"]} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		chain = append(chain, b...)
	}
	chainFile := filepath.Join(dir, host+".postfix.pem")
	if err := os.WriteFile(chainFile, chain, 0o600); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(orig), "\n")
	swapped := 0
	for i, l := range lines {
		if !strings.HasPrefix(l, ip+":25 ") {
			continue
		}
		fields := strings.Fields(l)
		for j, f := range fields {
			if strings.HasPrefix(f, "smtpd_tls_chain_files=") {
				fields[j] = "smtpd_tls_chain_files=" + chainFile
				swapped++
			}
		}
		lines[i] = strings.Join(fields, " ")
	}
	if swapped != 1 {
		t.Fatalf("master.cf has %d chain files for %s:25, want 1:\n%s", swapped, ip, orig)
	}
	reload := func(cf []byte) error {
		if err := os.WriteFile(masterCF, cf, 0o644); err != nil {
			return err
		}
		// As e2e/world does: Postfix re-reads a file younger than a
		// second until it is older.
		past := time.Now().Add(-time.Minute)
		if err := os.Chtimes(masterCF, past, past); err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if out, err := exec.CommandContext(ctx, "postfix", "-c", conf, "reload").CombinedOutput(); err != nil {
			return fmt.Errorf("postfix reload: %v\n%s", err, out)
		}
		return nil
	}
	// presents waits until host presents a certificate that expires at want.
	presents := func(want time.Time) error {
		deadline := time.Now().Add(60 * time.Second)
		for {
			got, err := mxCertNotAfter(host, ip, roots)
			if err == nil && got.Equal(want) {
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s presents a certificate expiring %s (%v), want %s", host, got, err, want)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	var once sync.Once
	restore = func() {
		once.Do(func() {
			if err := reload(orig); err != nil {
				t.Errorf("restoring %s's certificate: %v", host, err)
				return
			}
			if err := presents(own); err != nil {
				t.Errorf("after restoring: %v", err)
			}
		})
	}
	t.Cleanup(restore)
	if err := reload([]byte(strings.Join(lines, "\n"))); err != nil {
		t.Fatal(err)
	}
	leaf, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(leaf)
	if blk == nil {
		t.Fatalf("%s: no PEM block", certFile)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := presents(c.NotAfter); err != nil {
		t.Fatal(err)
	}
	return restore
}

// mxCertNotAfter is the expiry of the certificate host presents on ip:25
// after STARTTLS, verified against roots.
func mxCertNotAfter(host, ip string, roots *x509.CertPool) (time.Time, error) {
	ctx, cancel := context.WithTimeout(context.Background(), netTime)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(ip, "25"))
	if err != nil {
		return time.Time{}, err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(netTime)); err != nil {
		return time.Time{}, err
	}
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return time.Time{}, err
	}
	defer c.Close()
	if err := c.Hello("e2e.stspilot.test"); err != nil {
		return time.Time{}, err
	}
	if err := c.StartTLS(&tls.Config{ServerName: host, RootCAs: roots, MinVersion: tls.VersionTLS12}); err != nil {
		return time.Time{}, err
	}
	st, _ := c.TLSConnectionState()
	_ = c.Quit()
	if len(st.PeerCertificates) == 0 {
		return time.Time{}, errors.New("no certificate")
	}
	return st.PeerCertificates[0].NotAfter, nil
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
