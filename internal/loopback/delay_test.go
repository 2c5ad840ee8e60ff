package loopback

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestDelayForwards: bytes go through a TCP Delay both ways and in order,
// an end of stream is passed on as a half close, and DNS questions go
// through a DelayPair over UDP and TCP. (How long it takes is the
// benchmarks' business, not asserted here.)
func TestDelayForwards(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() { // an upper-casing echo that answers until its input ends
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				b, _ := io.ReadAll(c)
				_, _ = c.Write([]byte(strings.ToUpper(string(b))))
			}()
		}
	}()
	pl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := DelayTCP(pl, l.Addr().String(), 5*time.Millisecond)
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	want := strings.Repeat("abcdefgh", 10000) // several segments
	if _, err := c.Write([]byte(want)); err != nil {
		t.Fatal(err)
	}
	_ = c.(*net.TCPConn).CloseWrite()
	got, err := io.ReadAll(bufio.NewReader(c))
	if err != nil || string(got) != strings.ToUpper(want) {
		t.Fatalf("read %d bytes (%v), want %d upper-cased", len(got), err, len(want))
	}

	var z Zone
	if err := z.Add("a.example.test. 300 IN A 127.0.0.9"); err != nil {
		t.Fatal(err)
	}
	d, err := StartDNS(DNSConfig{Records: z.Records})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	dp, err := DelayPair("127.0.0.1", d.Addr, 5*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer dp.Close()
	for _, netw := range []string{"udp", "tcp"} {
		r := query(t, netw, dp.Addr, "a.example.test.", dns.TypeA)
		if len(r.Answer) != 1 {
			t.Errorf("%s through the delay: %v", netw, r)
		}
	}
	dp.Close()
	dp.Close() // idempotent
}
