package e2e

import (
	"context"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/stspilot/stspilot/internal/loopback"
)

// BenchmarkCheckVsMTASTSQuery puts the real world behind a 50 ms one-way
// delay and times, alternating in one run, a whole `stspilot check` of a
// healthy domain (process start to exit: the _mta-sts and _smtp._tls
// records, the policy from every address as a sender and as a browser,
// STARTTLS and the certificate of every MX) against postfix-mta-sts-resolver's
// mta-sts-query, which only fetches the policy (_mta-sts TXT, the policy
// host's address, TLS, GET). It reports both and their ratio (check/query
// below 1: the check is faster although it does more).
//
// The delay is at the wire: every world address the domain uses has a
// mirror on 127.0.9.x (policy host on 443, MX on 25) that forwards each
// segment a delay later (loopback.Delay), and a DNS front on 127.0.9.53:53,
// delayed the same way, answers what the world's BIND answers with those
// addresses rewritten to their mirrors. Both programs ask that front
// (mta-sts-query through a private /etc/resolv.conf, as e2e/world's
// sts-query oracle does) and trust the world CA. Run it with
//
//	bash e2e/test -run '^$' -bench CheckVsMTASTSQuery -benchtime 5x ./e2e
func BenchmarkCheckVsMTASTSQuery(b *testing.B) {
	env := needWorld(b)
	if _, err := exec.LookPath("mta-sts-query"); err != nil {
		b.Fatal("mta-sts-query missing (apt-get install postfix-mta-sts-resolver)")
	}
	const delay = 50 * time.Millisecond
	domain := sub("ok")

	// The addresses the domain's check touches, and a mirror for each.
	mirror := map[netip.Addr]netip.Addr{}
	mirrorOf := func(ip string, port int) {
		a, err := netip.ParseAddr(ip)
		if err != nil || !a.Is4() {
			b.Fatalf("world address %q is not IPv4", ip)
		}
		m, ok := mirror[a]
		if !ok {
			m = netip.AddrFrom4([4]byte{127, 0, 9, byte(len(mirror) + 1)})
			mirror[a] = m
		}
		l, err := net.Listen("tcp", netip.AddrPortFrom(m, uint16(port)).String())
		if err != nil {
			b.Fatalf("mirror of %s:%d: %v", ip, port, err)
		}
		p := loopback.DelayTCP(l, netip.AddrPortFrom(a, uint16(port)).String(), delay)
		b.Cleanup(p.Close)
	}
	for _, ip := range addrs(b, "mta-sts."+domain) {
		mirrorOf(ip, 443)
	}
	for _, rr := range query(b, domain, dns.TypeMX) {
		if mx, ok := rr.(*dns.MX); ok {
			for _, ip := range addrs(b, mx.Mx) {
				mirrorOf(ip, 25)
			}
		}
	}
	if len(mirror) == 0 {
		b.Fatalf("%s: no addresses to mirror", domain)
	}

	// The rewriting DNS server, on a port of its own, and its delayed front
	// on port 53 (mta-sts-query's resolver takes no port).
	rewriter := startRewritingDNS(b, env["WORLD_DNS"], mirror)
	const front = "127.0.9.53:53"
	pc, err := net.ListenPacket("udp", front)
	if err != nil {
		b.Fatalf("DNS front: %v", err)
	}
	du := loopback.DelayUDP(pc, rewriter, delay)
	b.Cleanup(du.Close)
	tl, err := net.Listen("tcp", front)
	if err != nil {
		b.Fatalf("DNS front: %v", err)
	}
	dt := loopback.DelayTCP(tl, rewriter, delay)
	b.Cleanup(dt.Close)
	resolv := filepath.Join(b.TempDir(), "resolv.conf")
	if err := os.WriteFile(resolv, []byte("nameserver 127.0.9.53\noptions timeout:2 attempts:1\n"), 0o644); err != nil {
		b.Fatal(err)
	}

	bin := stspilotBin(b)
	timed := func(name string, args ...string) time.Duration {
		ctx, cancel := context.WithTimeout(context.Background(), stspilotTime)
		defer cancel()
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Env = childEnv("SSL_CERT_FILE="+env["WORLD_CA"], "NO_COLOR=1")
		start := time.Now()
		out, err := cmd.CombinedOutput()
		took := time.Since(start)
		if err != nil { // check: exit 0 means the domain checked healthy through the mirrors
			b.Fatalf("%s: %v\n%s", name, err, out)
		}
		if name == "mta-sts-query" && !strings.Contains(string(out), "STSFetchResult.VALID") {
			b.Fatalf("mta-sts-query did not fetch a valid policy through the delays:\n%s", out)
		}
		return took
	}
	var check, q time.Duration
	for b.Loop() {
		check += timed("stspilot check", bin, "check", "--resolver", front, domain)
		q += timed("mta-sts-query", "unshare", "--mount", "--propagation", "private",
			"sh", "-c", `mount --bind "$1" /etc/resolv.conf && shift && exec mta-sts-query "$@"`,
			"sh", resolv, domain)
	}
	n := float64(b.N)
	b.ReportMetric(check.Seconds()/n, "check-s")
	b.ReportMetric(q.Seconds()/n, "query-s")
	b.ReportMetric(check.Seconds()/q.Seconds(), "check/query")
}

// startRewritingDNS serves DNS on a loopback port: each query goes to
// upstream, and an A record's address that mirror maps is rewritten to its
// mirror. It returns the server's address.
func startRewritingDNS(b *testing.B, upstream string, mirror map[netip.Addr]netip.Addr) string {
	b.Helper()
	pair, err := loopback.ListenPair("127.0.9.54")
	if err != nil {
		b.Fatalf("rewriting DNS: %v", err)
	}
	handler := dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		c := &dns.Client{Timeout: netTime}
		if _, ok := w.RemoteAddr().(*net.TCPAddr); ok {
			c.Net = "tcp"
		}
		ctx, cancel := context.WithTimeout(context.Background(), netTime)
		defer cancel()
		resp, _, err := c.ExchangeContext(ctx, req, upstream)
		if err != nil {
			m := new(dns.Msg)
			m.SetRcode(req, dns.RcodeServerFailure)
			_ = w.WriteMsg(m)
			return
		}
		for _, sec := range [][]dns.RR{resp.Answer, resp.Extra} {
			for _, rr := range sec {
				if a, ok := rr.(*dns.A); ok {
					if ip, ok := netip.AddrFromSlice(a.A.To4()); ok {
						if m, ok := mirror[ip]; ok {
							a.A = m.AsSlice()
						}
					}
				}
			}
		}
		_ = w.WriteMsg(resp)
	})
	udp := &dns.Server{PacketConn: pair.UDP, Handler: handler}
	tcp := &dns.Server{Listener: pair.TCP, Handler: handler}
	go func() { _ = udp.ActivateAndServe() }()
	go func() { _ = tcp.ActivateAndServe() }()
	b.Cleanup(func() { _ = udp.Shutdown(); _ = tcp.Shutdown() })
	return pair.Addr()
}
