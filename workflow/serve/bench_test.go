package serve

import (
	"io"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"
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

// BenchmarkLookup is the per-request cost of finding a policy: a stat of
// the policy file and of the journal, no read while they are unchanged.
func BenchmarkLookup(b *testing.B) {
	state := b.TempDir()
	publish(b, state, "a.test", []byte(policyA))
	setJournalPolicy(b, state, "a.test", policyA, "20261129050000abcdefgh")
	p := NewPolicies(state)
	for b.Loop() {
		if pol, err := p.Lookup("a.test"); err != nil || pol.ID == "" {
			b.Fatal(pol, err)
		}
	}
}
