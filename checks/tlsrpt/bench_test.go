package tlsrpt

import (
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// writeReports writes n distinct reports to dir, in 20 organisations'
// subdirectories, every fourth one gzipped, and returns their total size.
func writeReports(tb testing.TB, dir string, n int) int64 {
	tb.Helper()
	d0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var total int64
	for i := range n {
		org := fmt.Sprintf("Reporter %02d", i%20)
		day := d0.AddDate(0, 0, i/20%365)
		var fails []string
		if i%3 == 0 {
			fails = append(fails, fmt.Sprintf("validation-failure@mx%d.example.net=%d", i%5, i%7+1))
		}
		if i%11 == 0 {
			fails = append(fails, "certificate-expired@mx1.example.net=2")
		}
		js := genReport(org, "example.net", day, 100+i%50, fails...)
		// report-id must differ beyond org and day for the same pair.
		js = js[:len(js)-1] + fmt.Sprintf(`,"x-seq":%d}`, i)
		js = replaceOnce(js, `"report-id":"`, fmt.Sprintf(`"report-id":"%d-`, i))
		sub := filepath.Join(dir, fmt.Sprintf("org%02d", i%20))
		if err := os.MkdirAll(sub, 0o700); err != nil {
			tb.Fatal(err)
		}
		name := filepath.Join(sub, fmt.Sprintf("r%05d.json", i))
		var err error
		if i%4 == 0 {
			err = writeGzip(name+".gz", []byte(js))
			name += ".gz"
		} else {
			err = os.WriteFile(name, []byte(js), 0o600)
		}
		if err != nil {
			tb.Fatal(err)
		}
		fi, _ := os.Stat(name)
		total += fi.Size()
	}
	return total
}

func replaceOnce(s, old, repl string) string {
	for i := 0; i+len(old) <= len(s); i++ {
		if s[i:i+len(old)] == old {
			return s[:i] + repl + s[i+len(old):]
		}
	}
	return s
}

func writeGzip(path string, b []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	zw := gzip.NewWriter(f)
	if _, err := zw.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := zw.Close(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// heapPeak samples the live heap objects' bytes until stop is called and
// returns the largest sample (runtime/metrics: no stop-the-world).
func heapPeak() (stop func() uint64) {
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 { close(done); wg.Wait(); return peak.Load() }
}

// BenchmarkWalkDigest reads generated report files (a quarter gzipped)
// into a digest, at 1,000 and 10,000 files: reports/s, MB/s of files and
// the peak heap, which grows with the reports Walk holds between its
// passes (at most 8 MiB of their JSON) and not with the files beyond that
// (one file in memory at a time).
func BenchmarkWalkDigest(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		dir := b.TempDir()
		size := writeReports(b, dir, n)
		b.Run(fmt.Sprintf("files=%d", n), func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			runtime.GC()
			stop := heapPeak()
			start := time.Now()
			for range b.N {
				dg := NewDigest(Filter{Domain: "example.net"})
				st, errs := Walk(context.Background(), []string{dir}, Options{}, func(_ string, r *Report) { dg.Add(r) })
				if len(errs) > 0 || st.Reports != n {
					b.Fatalf("stats %+v errors %v", st, errs)
				}
				if s := dg.Result(); s.Reports != n {
					b.Fatalf("digest has %d reports", s.Reports)
				}
			}
			elapsed := time.Since(start)
			peak := stop()
			b.ReportMetric(float64(n*b.N)/elapsed.Seconds(), "reports/s")
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
		})
	}
}

// TestWalkMemoryFlat: the live heap while walking 2,000 files is within
// 2 MiB of the live heap while walking 200. Walk holds one file at a time
// and the digest only counters; holding the reports would add over 2 KiB
// a report. Measured after a GC every 50 reports, so the bound is about
// what is kept, not about garbage.
func TestWalkMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 2,200 files")
	}
	live := func(n int) uint64 {
		dir := t.TempDir()
		writeReports(t, dir, n)
		dg := NewDigest(Filter{})
		var peak uint64
		var ms runtime.MemStats
		seen := 0
		runtime.GC()
		_, errs := Walk(context.Background(), []string{dir}, Options{}, func(_ string, r *Report) {
			dg.Add(r)
			if seen++; seen%50 == 0 {
				runtime.GC()
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapAlloc)
			}
		})
		if len(errs) > 0 || dg.Result().Reports != n {
			t.Fatalf("errors %v, %d reports", errs, dg.Result().Reports)
		}
		return peak
	}
	small, large := live(200), live(2000)
	t.Logf("live heap: %d KiB at 200 files, %d KiB at 2000", small>>10, large>>10)
	if large > small+2<<20 {
		t.Errorf("live heap grows with the number of files: %d KiB at 200, %d KiB at 2000", small>>10, large>>10)
	}
}
