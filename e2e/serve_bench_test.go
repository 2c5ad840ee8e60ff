package e2e

import (
	"context"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stspilot/stspilot/workflow"
)

// TestServeVsNginx is a benchmark, not a test: it runs only with
// STSPILOT_BENCH=1 (make bench-serve) and asserts nothing about speed. It
// serves the same policy with the same certificate from the world's nginx
// (the "ok" policy host: one worker, its access log on) and from
// `stspilot serve` (its access log to a file, --metrics-listen on, the
// connection caps at their defaults), loads each with the same client, wrk
// (2 threads, 16 connections), in two modes, keep-alive and one TLS
// connection per fetch (Connection: close, as senders fetch), and prints
// requests/s, latency and the server's CPU time per request for both and
// serve's figures as a ratio of nginx's. The two alternate, round by round,
// so that a busy machine weighs on both alike; the ratio reported is the
// median of the rounds'.
//
// Knobs: STSPILOT_BENCH_DURATION (seconds per run, default 4),
// STSPILOT_BENCH_ROUNDS (default 5). wrk is Debian's (apt-get install wrk).
func TestServeVsNginx(t *testing.T) {
	if os.Getenv("STSPILOT_BENCH") != "1" {
		t.Skip("a benchmark: STSPILOT_BENCH=1 bash e2e/test -run TestServeVsNginx ./e2e (make bench-serve)")
	}
	env := needWorld(t)
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		t.Fatal("wrk is not installed: apt-get install wrk (make bench-serve installs it)")
	}
	dur := envInt("STSPILOT_BENCH_DURATION", 4)
	rounds := envInt("STSPILOT_BENCH_ROUNDS", 5)

	// nginx's "ok" host: 127.0.0.16, certificate "variants", webroot
	// WORLD_DIR/www/ok.ZONE (e2e/world's POLICY_HOSTS).
	const nginxIP = "127.0.0.16"
	domain := "ok." + env["WORLD_ZONE"]
	host := "mta-sts." + domain
	ca := filepath.Join(env["WORLD_DIR"], "ca")
	certFile, keyFile := filepath.Join(ca, "variants.fullchain.pem"), filepath.Join(ca, "variants.key")
	policy, err := os.ReadFile(filepath.Join(env["WORLD_DIR"], "www", domain, ".well-known", "mta-sts.txt"))
	if err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	if _, err := (&workflow.Serve{StateDir: state}).PublishID(context.Background(), domain, policy, "20261206000000benchmrk"); err != nil {
		t.Fatal(err)
	}
	// serve in a session of its own, as nginx (a daemon) is and as a
	// service would be: in the test's session it would share one
	// scheduling group with wrk (see startServeIn), and wrk spins while
	// its handshakes wait (it polls a connecting socket as writable until
	// SSL_connect is done), so serve would wait behind it for the CPU.
	p := startServeIn(t, true, state, serveIP, "--tls-cert", certFile, "--tls-key", keyFile,
		"--metrics-listen", net.JoinHostPort(serveIP, "9465"))

	nginxPID, err := nginxWorker(env["WORLD_DIR"])
	if err != nil {
		t.Fatal(err)
	}
	servers := []struct {
		name, ip string
		pid      int
	}{{"nginx", nginxIP, nginxPID}, {"serve", serveIP, p.cmd.Process.Pid}}
	modes := []struct {
		name  string
		extra []string
	}{
		{"keep-alive", nil},
		{"connection per fetch", []string{"-H", "Connection: close"}},
	}
	// wrk resolves the URL's host itself: each server gets a hosts file of
	// its own, bind-mounted over /etc/hosts in a private mount namespace,
	// so that SNI and Host are the policy host's name.
	hosts := map[string]string{}
	for _, s := range servers {
		f := filepath.Join(t.TempDir(), "hosts")
		if err := os.WriteFile(f, []byte(s.ip+" "+host+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		hosts[s.name] = f
	}
	url := "https://" + host + "/.well-known/mta-sts.txt"
	load := func(server string, pid int, extra []string, secs int) wrkResult {
		t.Helper()
		args := []string{
			"-m", "sh", "-c", `mount --bind "$1" /etc/hosts && shift && exec "$@"`, "sh", hosts[server],
			wrk, "-t2", "-c16", "-d" + strconv.Itoa(secs) + "s", "--latency", "--timeout", "5s",
		}
		args = append(append(args, extra...), url)
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(secs)*time.Second+time.Minute)
		defer cancel()
		cpu0 := procCPU(t, pid)
		out, errOut, code, err := run(ctx, childEnv(), "unshare", args...)
		cpu := procCPU(t, pid) - cpu0
		if err != nil || code != 0 {
			t.Fatalf("wrk against %s: exit %d, %v\n%s%s", server, code, err, out, errOut)
		}
		r, err := parseWrk(out)
		if err != nil {
			t.Fatalf("wrk against %s: %v\n%s", server, err, out)
		}
		if r.errors > 0 {
			t.Fatalf("wrk against %s: %d errors or non-2xx answers\n%s", server, r.errors, out)
		}
		if r.requests > 0 {
			r.cpuPerReq = cpu / time.Duration(r.requests)
		}
		return r
	}
	var report strings.Builder
	fmt.Fprintf(&report, "serve vs nginx: wrk -t2 -c16 -d%ds, %d rounds alternating, same policy (%d bytes) and certificate (%s)\n",
		dur, rounds, len(policy), keyType(t, keyFile))
	for _, m := range modes {
		// Warm both up (nginx's worker, serve's caches and goroutines).
		for _, s := range servers {
			load(s.name, s.pid, m.extra, 1)
		}
		var rps, p50, p99, cpu []float64
		for i := range rounds {
			var res [2]wrkResult
			for j, s := range servers {
				res[j] = load(s.name, s.pid, m.extra, dur)
			}
			n, s := res[0], res[1]
			rps = append(rps, s.rps/n.rps)
			p50 = append(p50, s.p50.Seconds()/n.p50.Seconds())
			p99 = append(p99, s.p99.Seconds()/n.p99.Seconds())
			cpu = append(cpu, s.cpuPerReq.Seconds()/n.cpuPerReq.Seconds())
			fmt.Fprintf(&report, "  %-20s round %d: nginx %6.0f req/s p50 %-8v p99 %-8v cpu %-9v/req read errors %d | serve %6.0f req/s p50 %-8v p99 %-8v cpu %-9v/req read errors %d | serve/nginx %.2fx\n",
				m.name, i+1, n.rps, n.p50, n.p99, n.cpuPerReq, n.readErrors, s.rps, s.p50, s.p99, s.cpuPerReq, s.readErrors, s.rps/n.rps)
		}
		fmt.Fprintf(&report, "  %-20s median serve/nginx: requests/s %.2fx, p50 latency %.2fx, p99 latency %.2fx, server CPU per request %.2fx\n",
			m.name, median(rps), median(p50), median(p99), median(cpu))
	}
	t.Log(report.String())
	fmt.Print(report.String())
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return math.NaN()
	}
	return s[len(s)/2]
}

// wrkResult is what one wrk run printed.
type wrkResult struct {
	requests      int64
	rps           float64
	p50, p99      time.Duration
	errors        int64
	readErrors    int64
	cpuPerReq     time.Duration
	latencyParsed int
}

var (
	wrkRequests = regexp.MustCompile(`(?m)^\s*(\d+) requests in `)
	wrkRPS      = regexp.MustCompile(`(?m)^Requests/sec:\s+([0-9.]+)`)
	wrkPct      = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([0-9.]+)(us|ms|s)\s*$`)
	wrkNon2xx   = regexp.MustCompile(`(?m)^\s*Non-2xx or 3xx responses: (\d+)`)
	wrkSocket   = regexp.MustCompile(`(?m)^\s*Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

// parseWrk reads wrk's --latency output.
func parseWrk(out string) (wrkResult, error) {
	var r wrkResult
	m := wrkRequests.FindStringSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("no request count")
	}
	r.requests, _ = strconv.ParseInt(m[1], 10, 64)
	if m = wrkRPS.FindStringSubmatch(out); m == nil {
		return r, fmt.Errorf("no Requests/sec")
	}
	r.rps, _ = strconv.ParseFloat(m[1], 64)
	for _, m := range wrkPct.FindAllStringSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[m[3]]
		d := time.Duration(v * float64(unit)).Round(time.Microsecond)
		if m[1] == "50" {
			r.p50 = d
		} else {
			r.p99 = d
		}
		r.latencyParsed++
	}
	if r.latencyParsed != 2 {
		return r, fmt.Errorf("no 50%% and 99%% latency")
	}
	if m = wrkNon2xx.FindStringSubmatch(out); m != nil {
		n, _ := strconv.ParseInt(m[1], 10, 64)
		r.errors += n
	}
	// A read error is how wrk counts the server closing after
	// Connection: close; connect, write and timeout errors are failures.
	if m = wrkSocket.FindStringSubmatch(out); m != nil {
		for _, i := range []int{1, 3, 4} {
			n, _ := strconv.ParseInt(m[i], 10, 64)
			r.errors += n
		}
		r.readErrors, _ = strconv.ParseInt(m[2], 10, 64)
	}
	return r, nil
}

// nginxWorker is the pid of the world's nginx worker: the child of the
// master process in WORLD_DIR/run/nginx.pid (the world runs one worker).
func nginxWorker(dir string) (int, error) {
	b, err := os.ReadFile(filepath.Join(dir, "run", "nginx.pid"))
	if err != nil {
		return 0, err
	}
	master := strings.TrimSpace(string(b))
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(st)
		if i := strings.LastIndexByte(s, ')'); i >= 0 {
			if f := strings.Fields(s[i+1:]); len(f) > 1 && f[1] == master {
				return pid, nil
			}
		}
	}
	return 0, fmt.Errorf("no worker of nginx master %s", master)
}

// procCPU is the user+system CPU time pid has used (all its threads).
func procCPU(t *testing.T, pid int) time.Duration {
	t.Helper()
	st, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(st)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	// After the comm: state(0) ppid(1) ... utime(11) stime(12), in clock
	// ticks of 1/100 s (USER_HZ on Linux).
	u, _ := strconv.ParseInt(f[11], 10, 64)
	k, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+k) * 10 * time.Millisecond
}

// keyType names the certificate key's type, from its PEM block.
func keyType(t *testing.T, keyFile string) string {
	t.Helper()
	out, err := exec.Command("openssl", "pkey", "-in", keyFile, "-noout", "-text_pub").Output()
	if err != nil {
		return "key type unknown"
	}
	switch s := string(out); {
	case strings.Contains(s, "prime256v1") || strings.Contains(s, "P-256"):
		return "ECDSA P-256"
	case strings.Contains(s, "RSA"):
		return "RSA"
	}
	return "key type unknown"
}
