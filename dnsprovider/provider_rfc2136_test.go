package dnsprovider

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/stspilot/stspilot/internal/dnsclient"
	"github.com/stspilot/stspilot/internal/loopback"
)

// tsigServer is an in-process primary for example.test that behaves like
// BIND towards libdns/rfc2136: AXFR only with the key, NOTAUTH unsigned
// for a bad signature or a zone it does not have, plain queries for all.
func tsigServer(t *testing.T, z *fakeZone) string {
	t.Helper()
	h := dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(req)
		q := req.Question[0]
		switch q.Qtype {
		case dns.TypeAXFR:
			if req.IsTsig() == nil || w.TsigStatus() != nil || !strings.EqualFold(q.Name, z.apex) {
				m.Rcode = dns.RcodeNotAuth
				w.WriteMsg(m)
				return
			}
			m.Answer = append(append([]dns.RR{z.rrs[0]}, z.rrs[1:]...), z.rrs[0])
			ts := req.IsTsig()
			m.SetTsig(ts.Hdr.Name, ts.Algorithm, 300, time.Now().Unix())
		default:
			serveZones(z)(req, m)
		}
		w.WriteMsg(m)
	})
	p, err := loopback.ListenPair("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	l, pc := p.TCP, p.UDP
	secret := map[string]string{"stspilot-key.": testKey}
	ts := &dns.Server{Listener: l, Handler: h, TsigSecret: secret}
	us := &dns.Server{PacketConn: pc, Handler: h, TsigSecret: secret}
	for _, s := range []*dns.Server{ts, us} {
		started := make(chan struct{})
		s.NotifyStartedFunc = func() { close(started) }
		go s.ActivateAndServe()
		<-started
	}
	t.Cleanup(func() { ts.Shutdown(); us.Shutdown() })
	return l.Addr().String()
}

func rfc2136For(t *testing.T, server, key string) Provider {
	t.Helper()
	c, err := NewRFC2136Config(Values{"server": server, "key_name": "stspilot-key", "key_alg": "hmac-sha256", "key": key})
	if err != nil {
		t.Fatal(err)
	}
	return NewRFC2136(c, []string{key})
}

// TestRFC2136ReadAndRefusals: the zone read returns raw TXT text; a bad
// key is ErrAuth naming the variables; a name that is not an apex is
// ErrConfig naming the zone to use. No error holds the key.
func TestRFC2136ReadAndRefusals(t *testing.T) {
	z := exampleZone(t, oldSTS, `_mta-sts 600 IN TXT "say \"hi\" \\ there"`)
	addr := tsigServer(t, z)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	got, err := rfc2136For(t, addr, testKey).ReadTXT(ctx, "example.test", "_mta-sts.example.test")
	if err != nil || !slices.Equal(got.Values, []string{"google-site-verification=abc", `say "hi" \ there`, oldSTS}) || got.TTL != 600*time.Second {
		t.Fatalf("ReadTXT = %q (%s), %v", got.Values, got.TTL, err)
	}

	wrong := "d3JvbmctdHNpZy1rZXktZm9yLXRoZS10ZXN0cy0xMjM="
	_, err = rfc2136For(t, addr, wrong).ReadTXT(ctx, "example.test", "_mta-sts.example.test")
	t.Logf("wrong key: %v", err)
	if !errors.Is(err, ErrAuth) || errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), rfc2136AuthHint) || strings.Contains(err.Error(), wrong) {
		t.Errorf("wrong key: %v", err)
	}

	_, err = rfc2136For(t, addr, testKey).ReadTXT(ctx, "fresh.example.test", "_mta-sts.fresh.example.test")
	t.Logf("not an apex: %v", err)
	if !errors.Is(err, ErrConfig) || errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "inside the zone example.test.") || strings.Contains(err.Error(), testKey) {
		t.Errorf("not an apex: %v", err)
	}
}

// TestRFC2136TransferBoundedByContext: a server that accepts the
// connection and never answers holds the zone read only until the
// caller's deadline, not for the transfer's own read timeouts.
func TestRFC2136TransferBoundedByContext(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err = rfc2136For(t, l.Addr().String(), testKey).ReadTXT(ctx, "example.test", "_mta-sts.example.test")
	if !errors.Is(err, context.DeadlineExceeded) || !strings.HasPrefix(err.Error(), "rfc2136: ") {
		t.Errorf("err = %v, want rfc2136: ... deadline exceeded", err)
	}
}

// RFC2136_SERVER may name the primary by host name (the dialer resolves
// it); the resolvers may not (issue 12): they are refused before any
// query, with dnsclient's sentence.
func TestServerAddressRules(t *testing.T) {
	key := "c2VjcmV0LXNlY3JldC1zZWNyZXQ="
	for in, want := range map[string]string{
		"ns1.example.test":      "ns1.example.test:53",
		"ns1.example.test:5353": "ns1.example.test:5353",
		"192.0.2.53":            "192.0.2.53:53",
		"[2001:db8::53]:5353":   "[2001:db8::53]:5353",
	} {
		c, err := NewRFC2136Config(Values{"server": in, "key_name": "k", "key": key})
		if err != nil || c.Server != want {
			t.Errorf("RFC2136_SERVER=%s: %q, %v; want %q", in, c.Server, err, want)
		}
	}
	for _, bad := range []string{"", "ns1.example.test:0", "a b", "300.1.1.1"} {
		_, err := NewRFC2136Config(Values{"server": bad, "key_name": "k", "key": key})
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "RFC2136_SERVER") || strings.Contains(err.Error(), key) {
			t.Errorf("RFC2136_SERVER=%q: err = %v", bad, err)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, bad := range []string{"localhost", "dns.quad9.net", "dns.quad9.net:53"} {
		q := &Resolver{Servers: []string{bad}, Timeout: 100 * time.Millisecond}
		_, err := FindZone(ctx, q, "example.test")
		if !errors.Is(err, dnsclient.ErrBadServer) || !strings.Contains(err.Error(), "IP address with an optional port") {
			t.Errorf("resolver %q: err = %v, want dnsclient.ErrBadServer", bad, err)
		}
	}
}
