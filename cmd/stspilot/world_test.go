package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stspilot/stspilot/checks"
	"github.com/stspilot/stspilot/checks/checktest"
	"github.com/stspilot/stspilot/checks/mtasts"
	"github.com/stspilot/stspilot/internal/domainname"
)

// TestCheckAgainstWorld runs `stspilot check` with the real engine against
// the in-process loopback world: one healthy enforce domain, and one whose
// MX is not covered by the policy (STS-SEND-8, STS-POL-15) and offers no
// STARTTLS. Only the certificate roots and the ports are test hooks; the
// resolver comes from --resolver like on a real machine.
func TestCheckAgainstWorld(t *testing.T) {
	if testing.Short() {
		t.Skip("starts loopback servers")
	}
	w := checktest.New(t)
	now := time.Now()
	zone := func(domain, polIP, mxHost, mxIP, policy string) {
		w.RR(
			"_mta-sts."+domain+`. 300 IN TXT "v=STSv1; id=`+mtasts.NewID(now, []byte(policy))+`"`,
			"_smtp._tls."+domain+`. 300 IN TXT "v=TLSRPTv1; rua=mailto:tlsrpt@`+domain+`"`,
			"mta-sts."+domain+". 300 IN A "+polIP,
			domain+". 300 IN MX 10 "+mxHost+".",
			mxHost+". 300 IN A "+mxIP,
		)
		w.PolicyHost(polIP, w.Leaf([]string{"mta-sts." + domain}, checktest.CertOpts{}), checktest.Policy(policy))
	}
	zone("good.example.test", "127.0.0.1", "mx1.good.example.test", "127.0.0.1",
		"version: STSv1\r\nmode: enforce\r\nmx: mx1.good.example.test\r\nmax_age: 604800\r\n")
	w.MX("127.0.0.1", "mx1.good.example.test", checktest.MXOpts{Cert: w.Leaf([]string{"mx1.good.example.test"}, checktest.CertOpts{})})
	zone("bad.example.test", "127.0.0.2", "mx.bad.example.test", "127.0.0.3",
		"version: STSv1\r\nmode: enforce\r\nmx: other.bad.example.test\r\nmax_age: 604800\r\n")
	w.MX("127.0.0.3", "mx.bad.example.test", checktest.MXOpts{NoSTARTTLS: true})

	withWorld := func(ctx context.Context, d string, o checks.Options) *checks.Report {
		o.Roots, o.HTTPSPort, o.SMTPPort = w.Roots, w.HTTPSPort, w.SMTPPort
		return checks.Run(ctx, d, o)
	}
	runWorld := func(args ...string) (int, string, string) {
		io, out, errOut := testStreams("")
		f := &factory{IO: io, RunCheck: withWorld, Normalize: domainname.Normalize, Now: time.Now}
		code := execute(context.Background(), f, append([]string{"check", "--resolver", w.DNSAddr, "--timeout", "20s"}, args...))
		return code, out.String(), errOut.String()
	}

	code, out, stderr := runWorld("good.example.test", "BAD.example.test.")
	t.Logf("human output:\n%s", out)
	if code != exitFindings {
		t.Errorf("exit %d, want %d; stderr %q", code, exitFindings, stderr)
	}
	good, bad, ok := strings.Cut(out, "\nbad.example.test  stage:")
	if !ok {
		t.Fatalf("no bad.example.test header after good.example.test")
	}
	for _, want := range []string{"good.example.test  stage: enforce", "mx1.good.example.test  ok   covered by mx1.good.example.test", "STARTTLS"} {
		if !strings.Contains(good, want) {
			t.Errorf("good domain output lacks %q", want)
		}
	}
	if strings.Contains(good, "ERROR") {
		t.Errorf("errors on the healthy domain:\n%s", good)
	}
	assertInOrder(t, bad, `typed as "BAD.example.test."`, "MX coverage", "mx.uncovered", "MX TLS", "mx.starttls-missing", "Seen",
		"not covered by any mx pattern", "FAIL 127.0.0.3")
	if !strings.Contains(out, "2 domains checked: 1 healthy, 1 with errors") && !strings.Contains(out, "2 domains checked: 1 with warnings, 1 with errors") {
		t.Errorf("totals missing")
	}

	code, out, _ = runWorld("--json", "good.example.test", "bad.example.test")
	if code != exitFindings {
		t.Errorf("--json: exit %d", code)
	}
	reps := decodeLines(t, out)
	if len(reps) != 2 || reps[0].Domain != "good.example.test" || reps[0].HasErrors() || !reps[1].HasErrors() {
		t.Errorf("JSON reports: %+v", reps)
	}
}

func assertInOrder(t *testing.T, s string, needles ...string) {
	t.Helper()
	last := -1
	for _, n := range needles {
		i := strings.Index(s, n)
		if i < 0 {
			t.Errorf("output lacks %q", n)
			continue
		}
		if i < last {
			t.Errorf("%q is out of order", n)
		}
		last = i
	}
}
