//go:build linux

package checks

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/stspilot/stspilot/checks/smtpprobe"
	"github.com/stspilot/stspilot/internal/loopback"
	"github.com/stspilot/stspilot/internal/testca"
)

func init() {
	benchWorld = func() (int, bool) {
		if os.Getenv(manyWorldEnv) == "" {
			return 0, false
		}
		return serveManyWorld(), true
	}
}

// manyWorldEnv, set in the environment of the test binary, makes it serve
// the many-domains world (serveManyWorld) instead of running tests: the
// benchmark starts the world so, in a process of its own, so that the
// memory it measures is the checking side's alone.
const manyWorldEnv = "STSPILOT_BENCH_MANY_WORLD"

// The synthetic zone: manyDomains domains d00000.many.test ..., each with
// its _mta-sts and _smtp._tls records, a policy host mta-sts.DOMAIN and
// the one MX mx.many.test; the policy host and the MX are on 127.0.0.1.
const (
	manyApex    = "many.test"
	manyDomains = 10000
	manyMX      = "mx." + manyApex
	manyPolicy  = "version: STSv1\r\nmode: enforce\r\nmx: " + manyMX + "\r\nmax_age: 604800\r\n"
)

func manyDomain(i int) string { return fmt.Sprintf("d%05d.%s", i, manyApex) }

// manyWorld is what the world process tells the benchmark.
type manyWorld struct {
	pid       int
	DNS       string `json:"dns"`
	HTTPSPort int    `json:"https_port"`
	SMTPPort  int    `json:"smtp_port"`
	CA        []byte `json:"ca"` // PEM
}

// manyRecords answers the synthetic zone without storing it.
func manyRecords(name string) ([]dns.RR, bool) {
	hdr := func(t uint16) dns.RR_Header {
		return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: 300}
	}
	n := strings.TrimSuffix(name, ".")
	if n == manyMX {
		return []dns.RR{&dns.A{Hdr: hdr(dns.TypeA), A: net.IPv4(127, 0, 0, 1)}}, false
	}
	label, rest, _ := strings.Cut(n, ".")
	domain := n
	switch label {
	case "_mta-sts", "mta-sts":
		domain = rest
	case "_smtp":
		domain = strings.TrimPrefix(rest, "_tls.")
	}
	num, ok := strings.CutSuffix(domain, "."+manyApex)
	if !ok || len(num) != 6 || num[0] != 'd' {
		return nil, false
	}
	if i, err := strconv.Atoi(num[1:]); err != nil || i >= manyDomains {
		return nil, false
	}
	switch {
	case label == "_mta-sts":
		return []dns.RR{&dns.TXT{Hdr: hdr(dns.TypeTXT), Txt: []string{"v=STSv1; id=20270101"}}}, false
	case label == "_smtp" && strings.HasPrefix(rest, "_tls."):
		return []dns.RR{&dns.TXT{Hdr: hdr(dns.TypeTXT), Txt: []string{"v=TLSRPTv1; rua=mailto:tlsrpt@" + domain}}}, false
	case label == "mta-sts":
		return []dns.RR{&dns.A{Hdr: hdr(dns.TypeA), A: net.IPv4(127, 0, 0, 1)}}, false
	case domain == n:
		return []dns.RR{&dns.MX{Hdr: hdr(dns.TypeMX), Preference: 10, Mx: manyMX + "."}}, false
	}
	return nil, false
}

// serveManyWorld runs the world: one DNS server answering the synthetic
// zone, one HTTPS policy host issuing a leaf per SNI from a throwaway CA
// (cached), one STARTTLS MX. It prints a manyWorld line on stdout and
// serves until stdin ends.
func serveManyWorld() int {
	// The world stands in for 10,000 remote hosts; its garbage collector
	// (about 10% of its CPU at the default) is no part of a check, and
	// it shares the checking side's cores: collect less often.
	debug.SetGCPercent(400)
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "many world:", err)
		return 1
	}
	ca, err := testca.New(testca.Options{
		Name:      "many-domains root",
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
	})
	if err != nil {
		return fail(err)
	}
	d, err := loopback.StartDNS(loopback.DNSConfig{Records: manyRecords, UDPReadBuffer: 4 << 20})
	if err != nil {
		return fail(err)
	}
	defer d.Close()

	var certs sync.Map // SNI -> *tls.Certificate
	var issuing sync.Mutex
	cfg := &tls.Config{GetCertificate: func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
		if c, ok := certs.Load(h.ServerName); ok {
			return c.(*tls.Certificate), nil
		}
		issuing.Lock() // the sender and the browser fetch ask for the same name at once
		defer issuing.Unlock()
		if c, ok := certs.Load(h.ServerName); ok {
			return c.(*tls.Certificate), nil
		}
		c, err := ca.Issue(testca.Leaf{Names: []string{h.ServerName}, Chain: true})
		if err != nil {
			return nil, err
		}
		certs.Store(h.ServerName, &c)
		return &c, nil
	}}
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	stopHTTPS := loopback.ServeHTTPS(hl, cfg, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(rw, manyPolicy)
	}))
	defer stopHTTPS()

	mxCert, err := ca.Issue(testca.Leaf{Names: []string{manyMX}, Chain: true})
	if err != nil {
		return fail(err)
	}
	mx := &loopback.SMTP{Hostname: manyMX, Cert: mxCert, Addr: "127.0.0.1:0"}
	if err := mx.Listen(); err != nil {
		return fail(err)
	}
	defer mx.Close()

	line, _ := json.Marshal(manyWorld{DNS: d.Addr, HTTPSPort: hl.Addr().(*net.TCPAddr).Port, SMTPPort: mx.Port(), CA: ca.CertPEM()})
	fmt.Println(string(line))
	_, _ = io.Copy(io.Discard, os.Stdin) // until the benchmark ends
	return 0
}

// startManyWorld runs this test binary as the world, in a process of its
// own, ended by the benchmark's cleanup.
func startManyWorld(b *testing.B) manyWorld {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), manyWorldEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	line, err := bufio.NewReader(stdout).ReadBytes('\n')
	if err != nil {
		b.Fatalf("the world process said nothing: %v", err)
	}
	var w manyWorld
	if err := json.Unmarshal(line, &w); err != nil {
		b.Fatalf("the world process said %q: %v", line, err)
	}
	w.pid = cmd.Process.Pid
	return w
}

// BenchmarkCheckMany checks domains of a synthetic zone through
// checks.Batch at concurrency 200 against a world in another process, as
// `stspilot check -f` does (with its BatchGCPercent), and reports the wall
// time, the peak RSS of this (the checking) process, the peak live heap,
// and allocations per domain.
// The 1000 and 10000 runs side by side show that memory stays flat: the
// reports stream out and nothing is kept per domain. Run it alone:
//
//	go test -run '^$' -bench CheckMany -benchtime 1x ./checks
func BenchmarkCheckMany(b *testing.B) {
	if testing.Short() {
		b.Skip("checks 11,000 domains")
	}
	w := startManyWorld(b)
	// The collector's target stspilot check runs a batch with.
	defer debug.SetGCPercent(debug.SetGCPercent(BatchGCPercent))
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(w.CA) {
		b.Fatal("no CA from the world")
	}
	for _, n := range []int{1000, manyDomains} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			var courtesy smtpprobe.Courtesy
			opt := BatchOptions{Concurrency: 200, Options: Options{
				Resolvers: []string{w.DNS}, Roots: roots, HTTPSPort: w.HTTPSPort, SMTPPort: w.SMTPPort,
				Timeout: 30 * time.Second, Courtesy: &courtesy,
			}}
			for b.Loop() {
				runtime.GC()
				resetPeakRSS()
				var before runtime.MemStats
				runtime.ReadMemStats(&before)
				peak := watchHeap()
				cpu0, world0 := selfCPU(), procCPU(w.pid)
				t0 := time.Now()
				bad, firstBad := 0, ""
				enc := json.NewEncoder(io.Discard) // the output streams, as check --json's does
				for r, err := range Batch(b.Context(), manyInputs(n), opt) {
					if err != nil {
						b.Fatal(err)
					}
					if r.Report.Error != "" || r.Report.HasErrors() {
						if bad++; firstBad == "" {
							firstBad = r.Domain + ": " + r.Report.Error
							for _, f := range r.Report.Findings {
								if f.Severity == SevError {
									firstBad += " " + f.ID + " (" + f.Observed + ")"
								}
							}
						}
					}
					if err := enc.Encode(r.Report); err != nil {
						b.Fatal(err)
					}
				}
				courtesy.Wait(b.Context())
				wall := time.Since(t0)
				cpu, worldCPU := selfCPU()-cpu0, procCPU(w.pid)-world0
				heap := peak()
				var after runtime.MemStats
				runtime.ReadMemStats(&after)
				if bad > 0 {
					b.Fatalf("%d of %d domains failed, first %s", bad, n, firstBad)
				}
				b.ReportMetric(wall.Seconds(), "s/run")
				b.ReportMetric(float64(n)/wall.Seconds(), "domains/s")
				b.ReportMetric(float64(peakRSS())/(1<<20), "peak-RSS-MiB")
				b.ReportMetric(float64(heap)/(1<<20), "peak-heap-MiB")
				b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(n), "allocs/domain")
				b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(n)/1024, "KiB/domain")
				// CPU seconds hold on a busy machine where wall time does
				// not: (check + world) / cores bounds the wall time of a
				// quiet run from below.
				b.ReportMetric(cpu.Seconds(), "check-CPU-s")
				b.ReportMetric(worldCPU.Seconds(), "world-CPU-s")
			}
		})
	}
}

// manyInputs yields the first n domains of the zone, made as they are
// pulled (no list of them is held).
func manyInputs(n int) iter.Seq2[BatchInput, error] {
	return func(yield func(BatchInput, error) bool) {
		for i := range n {
			if !yield(BatchInput{Text: manyDomain(i)}, nil) {
				return
			}
		}
	}
}

// selfCPU is the user and system CPU time of this process so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procCPU is the user and system CPU time of process pid so far, from
// /proc (0 where there is none).
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	_, rest, ok := strings.Cut(string(b), ") ") // after the command name, which may hold spaces
	if !ok {
		return 0
	}
	f := strings.Fields(rest) // f[0] is field 3 (state): utime and stime are fields 14 and 15
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

// resetPeakRSS starts the kernel's count of the peak RSS (VmHWM) afresh
// (Linux; elsewhere the peak is the process's so far).
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSS is VmHWM of this process in bytes (0 where /proc has none).
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for l := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// watchHeap samples the live heap every 50 ms until the returned function
// is called, which returns the largest sample.
func watchHeap() func() uint64 {
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	go func() {
		defer close(done)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 {
		close(stop)
		<-done
		return peak.Load()
	}
}
