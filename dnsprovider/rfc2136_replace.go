package dnsprovider

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/libdns/libdns"
	"github.com/miekg/dns"
)

// replacer is implemented by libdns providers that can delete some records
// and add others in one atomic change. The adapter uses it to swap our
// record: with separate delete and add calls, resolvers could see, for a
// moment, two STSv1 records or none, and RFC 8461 §3.1 (STS-TXT-5) makes a
// sender read either as "no policy".
type replacer interface {
	ReplaceRecords(ctx context.Context, zone string, del, add []libdns.Record) error
}

// ReplaceRecords sends one TSIG-signed RFC 2136 UPDATE that removes the
// exact TXT records del (matched by their joined text, with the strings as
// the zone holds them) and adds add. RFC 2136 §3.7: a server applies an
// update message all at once or not at all.
func (z *rfc2136Zone) ReplaceRecords(ctx context.Context, zone string, del, add []libdns.Record) error {
	zone = dns.Fqdn(strings.ToLower(zone))
	exact, err := z.exactTXT(ctx, zone, del)
	if err != nil {
		return z.explain(ctx, zone, err)
	}
	m := new(dns.Msg)
	m.SetUpdate(zone)
	if len(exact) > 0 {
		m.Remove(exact)
	}
	var ins []dns.RR
	for _, r := range add {
		rr := r.RR()
		name := ownerName(rr, zone)
		if mx, ok := r.(libdns.MX); ok {
			ins = append(ins, mxRR(name, mx, uint32(rr.TTL/time.Second)))
			continue
		}
		t := &dns.TXT{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: uint32(rr.TTL / time.Second)}}
		for _, s := range SplitTXT(txtText(r)) {
			t.Txt = append(t.Txt, escapeTXT(s))
		}
		ins = append(ins, t)
	}
	if len(ins) > 0 {
		m.Insert(ins)
	}
	m.SetTsig(z.cfg.KeyName, z.cfg.KeyAlg, 300, time.Now().Unix())
	c := &dns.Client{Net: "tcp", TsigSecret: map[string]string{z.cfg.KeyName: z.cfg.Key}, Timeout: DefaultQueryTimeout}
	addr, err := z.server(ctx)
	if err != nil {
		return err
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return z.explain(ctx, zone, fmt.Errorf("update of %s at %s: %w", zone, z.cfg.Server, err))
	}
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()
	defer nc.Close()
	conn := &dns.Conn{Conn: nc, TsigSecret: c.TsigSecret}
	r, _, err := c.ExchangeWithConnContext(ctx, m, conn)
	if err != nil {
		return z.explain(ctx, zone, fmt.Errorf("update of %s at %s: %w", zone, z.cfg.Server, err))
	}
	if r.Rcode != dns.RcodeSuccess {
		return z.explain(ctx, zone, fmt.Errorf("update of %s at %s: dns response error code %q", zone, z.cfg.Server, dns.RcodeToString[r.Rcode]))
	}
	return nil
}

// exactTXT finds, by zone transfer, the TXT records that del names, with
// their character-strings exactly as stored (an exact delete must match
// the RDATA, and another tool may have split a value differently).
func (z *rfc2136Zone) exactTXT(ctx context.Context, zone string, del []libdns.Record) ([]dns.RR, error) {
	if len(del) == 0 {
		return nil, nil
	}
	want := map[string]bool{}
	var out []dns.RR
	for _, r := range del {
		rr := r.RR()
		name := ownerName(rr, zone)
		if mx, ok := r.(libdns.MX); ok {
			// An MX record's RDATA is exact as it is: delete it as such.
			mx.Target = strings.ToLower(mx.Target)
			out = append(out, mxRR(strings.ToLower(name), mx, 0))
			continue
		}
		want[strings.ToLower(name)+"\x00"+txtText(r)] = true
	}
	if len(want) == 0 {
		return out, nil
	}
	rrs, err := z.transfer(ctx, zone)
	if err != nil {
		return nil, err
	}
	for _, rr := range rrs {
		if t, ok := rr.(*dns.TXT); ok && want[strings.ToLower(t.Hdr.Name)+"\x00"+txtValue(t)] {
			out = append(out, t)
		}
	}
	return out, nil
}

// mxRR is mx as a record of miekg/dns owned by name (absolute).
func mxRR(name string, mx libdns.MX, ttl uint32) *dns.MX {
	return &dns.MX{
		Hdr:        dns.RR_Header{Name: name, Rrtype: dns.TypeMX, Class: dns.ClassINET, Ttl: ttl},
		Preference: mx.Preference, Mx: dns.Fqdn(mx.Target),
	}
}

// ownerName is the absolute owner name of rr, a record of zone: its name
// is relative to zone unless it ends in a dot.
func ownerName(rr libdns.RR, zone string) string {
	name := rr.Name
	if !strings.HasSuffix(name, ".") {
		name = libdns.AbsoluteName(name, zone)
	}
	return dns.Fqdn(name)
}

func txtText(r libdns.Record) string {
	if t, ok := r.(libdns.TXT); ok {
		return t.Text
	}
	return r.RR().Data
}

// escapeTXT escapes what miekg/dns unescapes when it packs a string.
func escapeTXT(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}
