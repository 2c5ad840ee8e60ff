package dnsprobe

import (
	"errors"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/stspilot/stspilot/internal/domainname"
)

// Seed corpora live in testdata/fuzz/<FuzzName>/.

// checkName either refuses with ErrBadName or returns a lower-case name
// within the RFC 1035 limits that fits in a query and checks to itself.
func FuzzCheckName(f *testing.F) {
	f.Fuzz(func(t *testing.T, name string) {
		out, err := checkName(name)
		if err != nil {
			if !errors.Is(err, ErrBadName) {
				t.Fatalf("checkName(%q) err = %v, want ErrBadName", name, err)
			}
			return
		}
		if len(out) > 253 || out != strings.ToLower(out) || strings.HasSuffix(out, ".") {
			t.Fatalf("checkName(%q) = %q", name, out)
		}
		for label := range strings.SplitSeq(out, ".") {
			if len(label) == 0 || len(label) > 63 {
				t.Fatalf("checkName(%q) = %q: label %q", name, out, label)
			}
		}
		if again, err := checkName(out); err != nil || again != out {
			t.Fatalf("checkName(%q) = %q, then %q, %v", name, out, again, err)
		}
		m := new(dns.Msg)
		m.SetQuestion(dns.Fqdn(out), dns.TypeTXT)
		wire, err := m.Pack()
		if err != nil {
			t.Fatalf("query for %q does not pack: %v", out, err)
		}
		var back dns.Msg
		if err := back.Unpack(wire); err != nil || domainname.Fold(back.Question[0].Name) != out {
			t.Fatalf("query for %q comes back as %v, %v", out, back.Question, err)
		}
	})
}

// A character-string sent on the wire comes back from TXT as the same
// octets: unescapeTXT undoes exactly what miekg/dns's unpacking escapes.
func FuzzTXTRoundTrip(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw []byte) {
		if len(raw) > 255 {
			raw = raw[:255]
		}
		rdata := append([]byte{byte(len(raw))}, raw...)
		rr := &dns.RFC3597{
			Hdr:   dns.RR_Header{Name: "x.example.", Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60},
			Rdata: hexString(rdata),
		}
		m := new(dns.Msg)
		m.Answer = []dns.RR{rr}
		wire, err := m.Pack()
		if err != nil {
			t.Fatalf("pack: %v", err)
		}
		var back dns.Msg
		if err := back.Unpack(wire); err != nil {
			t.Fatalf("unpack: %v", err)
		}
		txt, ok := back.Answer[0].(*dns.TXT)
		if !ok || len(txt.Txt) != 1 {
			t.Fatalf("unpacked %#v", back.Answer[0])
		}
		if got := unescapeTXT(txt.Txt[0]); got != string(raw) {
			t.Fatalf("unescapeTXT(%q) = %q, want %q", txt.Txt[0], got, raw)
		}
	})
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&0xf])
	}
	return string(out)
}

// follow never panics on any reply, never walks more than MaxCNAMEHops
// CNAMEs, and returns only records of the asked type at the chain's end.
func FuzzFollow(f *testing.F) {
	f.Fuzz(func(t *testing.T, wire []byte) {
		var m dns.Msg
		if err := m.Unpack(wire); err != nil {
			return
		}
		name, qtype := "example.com", dns.TypeTXT
		if len(m.Question) > 0 {
			name, qtype = domainname.Fold(m.Question[0].Name), m.Question[0].Qtype
		}
		rrs, end, chain, err := follow(m.Answer, name, qtype, nil)
		if len(chain) > MaxCNAMEHops+1 || (err == nil && len(chain) > MaxCNAMEHops) {
			t.Fatalf("chain of %d: %q (err %v)", len(chain), chain, err)
		}
		if err != nil && !errors.Is(err, ErrCNAMELoop) {
			t.Fatalf("err = %v", err)
		}
		for _, rr := range rrs {
			if h := rr.Header(); h.Rrtype != qtype || domainname.Fold(h.Name) != end {
				t.Fatalf("kept %v for %s %s", rr, end, dns.TypeToString[qtype])
			}
		}
	})
}
