package loopback

import (
	"fmt"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func query(t *testing.T, net, addr, name string, qtype uint16) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: net, Timeout: 5 * time.Second}
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s %s %s: %v", net, name, dns.TypeToString[qtype], err)
	}
	return r
}

func TestDNSAnswers(t *testing.T) {
	var z Zone
	if err := z.Add(
		"example.test. 300 IN SOA ns1.example.test. h.example.test. 1 3600 600 86400 300",
		"www.example.test. 300 IN CNAME example.test.",
		"example.test. 300 IN A 127.0.0.1",
	); err != nil {
		t.Fatal(err)
	}
	for i := range 40 { // more than 512 bytes of TXT: truncated over UDP
		if err := z.Add(fmt.Sprintf("big.example.test. 300 IN TXT \"%040d\"", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := z.Add("bad record"); err == nil {
		t.Fatal("Add accepted a bad record")
	}
	z.ServFail("broken.example.test")
	d, err := StartDNS(DNSConfig{Records: z.Records, Apex: "example.test."})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()

	if r := query(t, "udp", d.Addr, "www.example.test.", dns.TypeA); len(r.Answer) != 1 || r.Answer[0].Header().Rrtype != dns.TypeCNAME || !r.Authoritative {
		t.Errorf("CNAME: %v", r)
	}
	if r := query(t, "udp", d.Addr, "nothing.example.test.", dns.TypeA); r.Rcode != dns.RcodeNameError || len(r.Ns) != 1 {
		t.Errorf("NXDOMAIN with SOA: %v", r)
	}
	if r := query(t, "udp", d.Addr, "example.test.", dns.TypeMX); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 || len(r.Ns) != 1 {
		t.Errorf("NODATA with SOA: %v", r)
	}
	if r := query(t, "udp", d.Addr, "broken.example.test.", dns.TypeA); r.Rcode != dns.RcodeServerFailure {
		t.Errorf("SERVFAIL: %v", r)
	}
	if r := query(t, "udp", d.Addr, "big.example.test.", dns.TypeTXT); !r.Truncated {
		t.Errorf("big answer over UDP not truncated (%d records)", len(r.Answer))
	}
	if r := query(t, "tcp", d.Addr, "big.example.test.", dns.TypeTXT); r.Truncated || len(r.Answer) != 40 {
		t.Errorf("over TCP: truncated %v, %d records", r.Truncated, len(r.Answer))
	}
	z.Remove("big.example.test", dns.TypeTXT, "0000000000000000000000000000000000000007")
	if r := query(t, "tcp", d.Addr, "big.example.test.", dns.TypeTXT); len(r.Answer) != 39 {
		t.Errorf("after removing one: %d records", len(r.Answer))
	}
	z.Remove("big.example.test", 0, "")
	if r := query(t, "udp", d.Addr, "big.example.test.", dns.TypeTXT); r.Rcode != dns.RcodeNameError {
		t.Errorf("after removing all: %v", r)
	}
	d.Close()
	d.Close() // idempotent
}
