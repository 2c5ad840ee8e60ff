package dnsprovider

import (
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// FuzzClassifyAnswer: any bytes a name server sends back either fail to
// unpack or are classified without a panic, and the TXT values read are
// only those of the name asked.
func FuzzClassifyAnswer(f *testing.F) {
	seed := func(build func(m *dns.Msg)) {
		q := new(dns.Msg)
		q.SetQuestion("_mta-sts.example.test.", dns.TypeTXT)
		m := new(dns.Msg)
		m.SetReply(q)
		build(m)
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	seed(func(m *dns.Msg) {
		m.Authoritative = true
		rr, _ := dns.NewRR(`_mta-sts.example.test. 300 IN TXT "v=STSv1; id=1;" "more\"q\\"`)
		other, _ := dns.NewRR(`other.example.test. 300 IN TXT "x"`)
		m.Answer = []dns.RR{rr, other}
	})
	seed(func(m *dns.Msg) { m.Rcode = dns.RcodeRefused })
	seed(func(m *dns.Msg) { m.Rcode = dns.RcodeNameError; m.Authoritative = true })
	f.Fuzz(func(t *testing.T, b []byte) {
		in := new(dns.Msg)
		if err := in.Unpack(b); err != nil {
			return
		}
		st := classify(in, "_mta-sts.example.test.", txtSetFrom, func(s TXTSet) bool { return len(s.Values) == 1 })
		switch st.state {
		case ServerOK, ServerMismatch:
			if !in.Authoritative || st.err != "" {
				t.Fatalf("state %s for a non-authoritative answer or with error %q", st.state, st.err)
			}
			n := 0
			for _, rr := range in.Answer {
				if _, ok := rr.(*dns.TXT); ok && strings.EqualFold(rr.Header().Name, "_mta-sts.example.test.") {
					n++
				}
			}
			if len(st.set.Values) != n || !slices.IsSorted(st.set.Values) {
				t.Fatalf("%d values from %d TXT records of the name", len(st.set.Values), n)
			}
		case ServerLame:
			if st.err == "" {
				t.Fatal("lame without a reason")
			}
		default:
			t.Fatalf("state %q", st.state)
		}
	})
}
