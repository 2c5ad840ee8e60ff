package dnsprobe

import (
	"context"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// BenchmarkAddrs shows that Addrs asks A and AAAA together: the fake delays
// every answer by 50 ms, and the "rtt/op" metric is the time of one Addrs
// call divided by that of one single query. It is about 1 when the two
// questions overlap, 2 when they run one after the other.
func BenchmarkAddrs(b *testing.B) {
	const delay = 50 * time.Millisecond
	f := newFake(b, fakeOpts{Tweak: func(string, dns.Question, *dns.Msg) { time.Sleep(delay) }},
		`mx.example.com. 60 IN A 192.0.2.1`,
		`mx.example.com. 60 IN AAAA 2001:db8::1`,
	)
	r := &Resolver{Servers: []string{f.Addr}}
	ctx := context.Background()

	// One round trip: the fastest of a few single queries.
	var rtt time.Duration
	for i := range 3 {
		start := time.Now()
		if _, err := r.Query(ctx, "mx.example.com", dns.TypeA); err != nil {
			b.Fatal(err)
		}
		if d := time.Since(start); i == 0 || d < rtt {
			rtt = d
		}
	}

	n := 0
	start := time.Now()
	for b.Loop() {
		res := r.Addrs(ctx, "mx.example.com")
		if res.ErrA != nil || res.ErrAAAA != nil || len(res.Addrs) != 2 {
			b.Fatalf("Addrs = %+v", res)
		}
		n++
	}
	b.ReportMetric(float64(time.Since(start))/float64(n)/float64(rtt), "rtt/op")
}
