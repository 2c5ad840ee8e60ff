package serve

import (
	"bufio"
	"crypto/tls"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkPolicyFetch is the load test in process: b.N HTTPS policy
// fetches over loopback from 8 clients over HTTP/1.1 with keep-alive (half
// of them prefer HTTP/2 and are answered over HTTP/1.1). It reports requests/s and the p99 latency; it asserts only
// that every answer was the policy.
//
//	go test -run '^$' -bench PolicyFetch -benchtime 5000x ./workflow/serve
func BenchmarkPolicyFetch(b *testing.B) {
	state := b.TempDir()
	publish(b, state, "a.test", []byte(policyA))
	r := start(b, Config{StateDir: state}, []string{"mta-sts.a.test"})
	const workers = 8
	url := "https://mta-sts.a.test/.well-known/mta-sts.txt"
	lat := make([]time.Duration, b.N)
	var next, failed atomic.Int64
	b.ResetTimer()
	t0 := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		c := r.client(w%2 == 0)
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				s := time.Now()
				resp, err := c.Get(url)
				if err != nil {
					failed.Add(1)
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				lat[i] = time.Since(s)
				if resp.StatusCode != 200 || string(body) != policyA {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(t0)
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d of %d fetches failed", n, b.N)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkLookup is the cost of looking at a policy's files: a stat of
// the policy file and of its id file (and the watch's), no read while they
// are unchanged. A request pays it only when BenchmarkCached's path cannot
// answer.
func BenchmarkLookup(b *testing.B) {
	state := b.TempDir()
	publishID(b, state, "a.test", []byte(policyA), "20261129050000abcdefgh")
	p := NewPolicies(state)
	for b.Loop() {
		if pol, err := p.Lookup("a.test"); err != nil || pol.ID == "" {
			b.Fatal(pol, err)
		}
	}
}

// BenchmarkCached is a request's cost of finding an unchanged policy
// while its directory is watched (Linux): a read of the watch's empty
// queue and two map lookups, no file access.
func BenchmarkCached(b *testing.B) {
	state := b.TempDir()
	publishID(b, state, "a.test", []byte(policyA), "20261129050000abcdefgh")
	p := NewPolicies(state)
	if _, err := p.Lookup("a.test"); err != nil {
		b.Fatal(err)
	}
	t := now()
	for b.Loop() {
		if _, ok := p.cached("a.test", t); !ok {
			b.Skip("not watched: every request looks at the files")
		}
	}
}

// BenchmarkServeTLS is serve's hot path in process, as `stspilot serve`
// runs it (batched access log to a file, metrics on, the connection caps
// on):
// policy fetches over loopback TLS by a lean client that does not verify
// the chain (as wrk does), either all on kept-alive connections or one
// TLS connection per fetch (what senders do). Profile it with
//
//	go test -run '^$' -bench ServeTLS -cpuprofile cpu.out ./workflow/serve
func BenchmarkServeTLS(b *testing.B) {
	for _, mode := range []struct {
		name      string
		keepAlive bool
	}{{"keepalive", true}, {"conn-per-fetch", false}} {
		b.Run(mode.name, func(b *testing.B) {
			state := b.TempDir()
			publishID(b, state, "a.test", []byte(policyA), "20261129050000abcdefgh")
			lf, err := os.Create(filepath.Join(b.TempDir(), "access.log"))
			if err != nil {
				b.Fatal(err)
			}
			defer lf.Close()
			pol := NewPolicies(state)
			alog := NewBatchedAccessLog(lf, DefaultAccessLogDelay)
			defer alog.Close()
			cfg := Config{StateDir: state, Policies: pol, Log: alog, Metrics: NewMetrics(prometheus.NewRegistry(), pol)}
			r := start(b, cfg, []string{"mta-sts.a.test"})
			req := []byte("GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: mta-sts.a.test\r\nUser-Agent: bench\r\n\r\n")
			if !mode.keepAlive {
				req = []byte("GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: mta-sts.a.test\r\nUser-Agent: bench\r\nConnection: close\r\n\r\n")
			}
			// X25519 only, as OpenSSL 3.0 (wrk on Debian 12) offers.
			tc := &tls.Config{ServerName: "mta-sts.a.test", InsecureSkipVerify: true, CurvePreferences: []tls.CurveID{tls.X25519}}
			const workers = 8
			var next atomic.Int64
			var failed atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			t0 := time.Now()
			var wg sync.WaitGroup
			for range workers {
				wg.Go(func() {
					var c *tls.Conn
					var br *bufio.Reader
					defer func() {
						if c != nil {
							c.Close()
						}
					}()
					for next.Add(1) <= int64(b.N) {
						if c == nil {
							nc, err := tls.Dial("tcp", r.addr, tc)
							if err != nil {
								failed.Add(1)
								continue
							}
							c, br = nc, bufio.NewReader(nc)
						}
						if _, err := c.Write(req); err != nil {
							failed.Add(1)
							c.Close()
							c = nil
							continue
						}
						resp, err := http.ReadResponse(br, nil)
						if err != nil {
							failed.Add(1)
							c.Close()
							c = nil
							continue
						}
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode != 200 {
							failed.Add(1)
						}
						if !mode.keepAlive {
							c.Close()
							c = nil
						}
					}
				})
			}
			wg.Wait()
			elapsed := time.Since(t0)
			b.StopTimer()
			if n := failed.Load(); n > 0 {
				b.Fatalf("%d of %d fetches failed", n, b.N)
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
		})
	}
}
