package httpsprobe

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// BenchmarkParallelAddrs fetches from 4 addresses of one policy host at once,
// as the engine does (one Fetch per A/AAAA address), each answering after
// benchDelay. The reported ratio is wall time per round of 4 fetches over
// benchDelay: close to 1 means the fetches overlap, 4 means they ran one
// after another.
func BenchmarkParallelAddrs(b *testing.B) {
	const benchDelay = 50 * time.Millisecond
	listeners := sameportListeners(b, 4)
	p := getPKI(b)
	var addrs []netip.Addr
	var port int
	for _, l := range listeners {
		s := startTLS(b, p.good, l, func(_ *server, w http.ResponseWriter, _ *http.Request) {
			time.Sleep(benchDelay)
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, policy)
		})
		addrs, port = append(addrs, s.addr), s.port
	}
	f := fetcher(b, port, 10*time.Second)
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		var wg sync.WaitGroup
		for _, a := range addrs {
			wg.Go(func() {
				if r := f.Fetch(context.Background(), testHost, a, SenderUA); r.Err != nil || r.Status != 200 {
					b.Errorf("%v: %d %v", a, r.Status, r.Err)
				}
			})
		}
		wg.Wait()
	}
	b.ReportMetric(float64(time.Since(start))/float64(b.N)/float64(benchDelay), "elapsed/roundtrip")
}

// sameportListeners listens on 127.0.0.1 .. 127.0.0.n with one port number,
// so that one Fetcher (one Port) reaches all of them; it skips where only
// 127.0.0.1 is usable.
func sameportListeners(b *testing.B, n int) []net.Listener {
	b.Helper()
	for range 20 {
		first, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		port := first.Addr().(*net.TCPAddr).Port
		ls := []net.Listener{first}
		for i := 2; i <= n; i++ {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.%d:%d", i, port))
			if err != nil {
				break
			}
			ls = append(ls, l)
		}
		if len(ls) == n {
			return ls
		}
		for _, l := range ls {
			l.Close()
		}
	}
	b.Skip("cannot listen on 127.0.0.2-4 with a common port")
	return nil
}
