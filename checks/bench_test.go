package checks

import (
	"context"
	"testing"
	"time"

	"github.com/stspilot/stspilot/checks/checktest"
)

// BenchmarkCheckOverlap puts every fake server behind a 50 ms delay per reply
// and reports how long a whole check of a domain with two policy-host
// addresses and three MX hosts takes, as a multiple of the longest chain of
// dependent round trips (MX lookup, address lookup, then the SMTP dialogue:
// banner, EHLO, STARTTLS, EHLO after TLS, QUIT = 7 delayed replies). If the
// independent probes ran one after another the ratio would be about 5 or more;
// overlapping probes keep it near 1.
func BenchmarkCheckOverlap(b *testing.B) {
	const delay = 50 * time.Millisecond
	const d = "bench.example.test"
	w := checktest.New(b)
	body := policyText("enforce", 604800, "*."+d)
	w.RR(
		"_mta-sts."+d+". 300 IN TXT \"v=STSv1; id=1\"",
		"_smtp._tls."+d+". 300 IN TXT \"v=TLSRPTv1; rua=mailto:r@"+d+"\"",
		"mta-sts."+d+". 300 IN A "+polIP, "mta-sts."+d+". 300 IN A "+polIP2,
	)
	pc := w.Leaf([]string{"mta-sts." + d}, checktest.CertOpts{})
	w.PolicyHost(polIP, pc, checktest.Policy(body))
	w.PolicyHost(polIP2, pc, checktest.Policy(body))
	for i, ip := range []string{"127.0.0.5", "127.0.0.6", "127.0.0.7"} {
		h := []string{"mx1.", "mx2.", "mx3."}[i] + d
		w.RR(d+". 300 IN MX 10 "+h+".", h+". 300 IN A "+ip)
		w.MX(ip, h, checktest.MXOpts{Cert: w.Leaf([]string{h}, checktest.CertOpts{})})
	}
	w.SetDelay(delay)
	opt := Options{Resolvers: []string{w.DNSAddr}, Roots: w.Roots, HTTPSPort: w.HTTPSPort, SMTPPort: w.SMTPPort, Timeout: 30 * time.Second}
	chain := 7 * delay
	b.ResetTimer()
	var total time.Duration
	for b.Loop() {
		t0 := time.Now()
		r := Run(context.Background(), d, opt)
		total += time.Since(t0)
		if r.Error != "" || r.HasErrors() {
			b.Fatalf("check failed: %s %v", r.Error, ids(r, SevError))
		}
	}
	per := total / time.Duration(b.N)
	b.ReportMetric(float64(per)/float64(chain), "x-longest-chain")
	b.ReportMetric(float64(per.Milliseconds()), "ms/check")
}
