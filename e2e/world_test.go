package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base32"
	"errors"
	"mime"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// designCatalogue is the finding-id catalogue of docs/design.md ("Findings and the
// seven field failures"); ids are a contract there: added to, never renamed.
var designCatalogue = []string{
	"sts-record.missing", "sts-record.multiple", "sts-record.syntax", "sts-record.id-invalid", "sts-record.foreign-txt",
	"policy.unreachable", "policy.http-status", "policy.redirect", "policy.content-type", "policy.cert",
	"policy.cert-expiring", "policy.too-large", "policy.slow", "policy.agent-blocked", "policy.ip-divergence",
	"policy.syntax", "policy.strictness",
	"mx.none", "mx.uncovered", "mx.cname",
	"mx.unreachable", "mx.starttls-missing", "mx.cert-untrusted", "mx.cert-name", "mx.cert-expired", "mx.cert-expiring", "mx.tls-version",
	"policy.id-drift",
	"policy.max-age-low", "policy.max-age-high", "policy.testing-long-max-age",
	"tlsrpt.missing", "tlsrpt.syntax", "tlsrpt.rua-scheme", "tlsrpt.rua-multiple",
	"teardown.orphan-policy", "teardown.host-gone",
}

var ruleID = regexp.MustCompile(`^(STS-(TXT|FETCH|POL|SEND)|RPT-(REC|JSON|TYPE|DEL))-[0-9]+$|^OPS-[0-9]+$`)

// TestScenarioTable checks the table itself (no world needed): unique names
// and domains inside the zone, finding ids from docs/design.md, rule ids from
// docs/rules.md, and an exit code that follows from the findings.
func TestScenarioTable(t *testing.T) {
	names, domains := map[string]bool{}, map[string]bool{}
	for _, s := range Scenarios {
		if names[s.Name] || domains[s.Domain] {
			t.Errorf("%s: duplicate name or domain %s", s.Name, s.Domain)
		}
		names[s.Name], domains[s.Domain] = true, true
		if s.Domain != zone && !strings.HasSuffix(s.Domain, "."+zone) {
			t.Errorf("%s: %s is not in the zone %s", s.Name, s.Domain, zone)
		}
		if len(s.MX) == 0 {
			t.Errorf("%s: no MX", s.Name)
		}
		for _, id := range append(slices.Clone(s.WantFindings), s.WantWarnings...) {
			if !slices.Contains(designCatalogue, id) {
				t.Errorf("%s: finding %q is not in docs/design.md's catalogue", s.Name, id)
			}
		}
		for _, r := range s.Rules {
			if !ruleID.MatchString(r) {
				t.Errorf("%s: %q is not a docs/rules.md id", s.Name, r)
			}
		}
		if want := map[bool]int{true: 4, false: 0}[len(s.WantFindings) > 0]; s.WantExit != want {
			t.Errorf("%s: WantExit %d with %d error findings, want %d", s.Name, s.WantExit, len(s.WantFindings), want)
		}
		if got, ok := Lookup(s.Name); !ok || got.Domain != s.Domain {
			t.Errorf("Lookup(%q) = %v, %v", s.Name, got.Domain, ok)
		}
	}
	if _, ok := Lookup("no-such-scenario"); ok {
		t.Error("Lookup of an unknown name succeeded")
	}
}

// TestWorldZoneMatchesTable transfers the zone (AXFR signed with the world's
// TSIG key, as libdns/rfc2136 does) and checks that its policy domains, the
// names with MX records, are exactly the table's.
func TestWorldZoneMatchesTable(t *testing.T) {
	env := needWorld(t)
	name := dns.Fqdn(env["WORLD_TSIG_NAME"])
	m := new(dns.Msg)
	m.SetAxfr(dns.Fqdn(env["WORLD_ZONE"]))
	m.SetTsig(name, dns.HmacSHA256, 300, time.Now().Unix())
	tr := &dns.Transfer{
		DialTimeout: netTime, ReadTimeout: netTime, WriteTimeout: netTime,
		TsigSecret: map[string]string{name: env["WORLD_TSIG_SECRET"]},
	}
	ch, err := tr.In(m, env["WORLD_DNS"])
	if err != nil {
		t.Fatalf("AXFR: %v", err)
	}
	inZone := map[string]bool{}
	for e := range ch {
		if e.Error != nil {
			t.Fatalf("AXFR: %v", e.Error)
		}
		for _, rr := range e.RR {
			if rr.Header().Rrtype == dns.TypeMX {
				inZone[strings.TrimSuffix(rr.Header().Name, ".")] = true
			}
		}
	}
	for _, s := range Scenarios {
		if !inZone[s.Domain] {
			t.Errorf("scenario %s: %s has no MX in the zone", s.Name, s.Domain)
		}
		delete(inZone, s.Domain)
	}
	for d := range inZone {
		t.Errorf("the zone has MX records for %s, which is not in Scenarios", d)
	}
}

// TestWorldTSIGUpdate publishes and deletes a TXT record with an RFC 2136
// update signed with the world's key, the way the rfc2136 provider will.
func TestWorldTSIGUpdate(t *testing.T) {
	env := needWorld(t)
	key, zoneName := dns.Fqdn(env["WORLD_TSIG_NAME"]), dns.Fqdn(env["WORLD_ZONE"])
	owner := "_e2e-update-smoke." + zoneName
	update := func(rr dns.RR, remove bool) {
		t.Helper()
		m := new(dns.Msg)
		m.SetUpdate(zoneName)
		if remove {
			m.RemoveRRset([]dns.RR{rr})
		} else {
			m.Insert([]dns.RR{rr})
		}
		m.SetTsig(key, dns.HmacSHA256, 300, time.Now().Unix())
		c := &dns.Client{Net: "tcp", Timeout: netTime, TsigSecret: map[string]string{key: env["WORLD_TSIG_SECRET"]}}
		ctx, cancel := context.WithTimeout(context.Background(), netTime)
		defer cancel()
		r, _, err := c.ExchangeContext(ctx, m, env["WORLD_DNS"])
		if err != nil {
			t.Fatalf("update: %v", err)
		}
		if r.Rcode != dns.RcodeSuccess {
			t.Fatalf("update: %s", dns.RcodeToString[r.Rcode])
		}
	}
	rr, err := dns.NewRR(owner + ` 60 IN TXT "v=STSv1; id=e2e1;"`)
	if err != nil {
		t.Fatal(err)
	}
	update(rr, false)
	t.Cleanup(func() { update(rr, true) })
	got := query(t, owner, dns.TypeTXT)
	if len(got) != 1 || strings.Join(got[0].(*dns.TXT).Txt, "") != "v=STSv1; id=e2e1;" {
		t.Fatalf("after the update: %v", got)
	}
}

// TestWorldSmoke reaches every scenario's servers from Go, trusting only the
// world CA: the MX records are the table's, the policy host serves what the
// table says (status, type, certificate, bytes per address), ids in
// stspilot's scheme match or drift as designed, and a Go STARTTLS client
// agrees with the table's TLS verdict for every MX.
func TestWorldSmoke(t *testing.T) {
	env := needWorld(t)
	if got := query(t, env["WORLD_ZONE"], dns.TypeSOA); len(got) != 1 {
		t.Fatalf("SOA %s: %v", env["WORLD_ZONE"], got)
	}
	for _, s := range Scenarios {
		t.Run(s.Name, func(t *testing.T) {
			t.Parallel()
			var recs []*dns.MX
			for _, rr := range query(t, s.Domain, dns.TypeMX) {
				if mx, ok := rr.(*dns.MX); ok {
					recs = append(recs, mx)
				}
			}
			slices.SortStableFunc(recs, func(a, b *dns.MX) int { return int(a.Preference) - int(b.Preference) })
			var mxs, want []string
			for _, mx := range recs {
				mxs = append(mxs, strings.TrimSuffix(mx.Mx, "."))
			}
			for _, m := range s.MX {
				want = append(want, m.Host)
			}
			if !slices.Equal(mxs, want) {
				t.Errorf("MX %s by preference = %v, want %v", s.Domain, mxs, want)
			}

			host := "mta-sts." + s.Domain
			ips := addrs(t, host)
			if s.IPv6 && env["WORLD_IPV6"] == "1" && !slices.Contains(ips, "::1") {
				t.Errorf("%s: addresses %v, want ::1 among them", host, ips)
			}
			serve, body := classifyServe(t, host, ips)
			if serve != s.Serve {
				t.Errorf("%s serves %q, want %q", host, serve, s.Serve)
			}
			if s.IDScheme != "" {
				checkSchemeID(t, s, body)
			}

			for _, m := range s.MX {
				mxIPs := addrs(t, m.Host)
				if len(mxIPs) == 0 {
					t.Errorf("MX %s has no address", m.Host)
					continue
				}
				for _, ip := range mxIPs {
					got, err := probeMX(t, m.Host, ip)
					if got != m.TLS {
						t.Errorf("Go STARTTLS to %s [%s]: %s (%v), want %s", m.Host, ip, got, err, m.TLS)
					}
				}
			}
		})
	}
}

// classifyServe fetches the policy from every address of host and says what
// the host serves; body is the first address's body when it served 200.
func classifyServe(t *testing.T, host string, ips []string) (Serve, []byte) {
	t.Helper()
	if len(ips) == 0 {
		return ServeNoHost, nil
	}
	var res []fetched
	for _, ip := range ips {
		res = append(res, fetchPolicy(t, host, ip, senderAgent))
	}
	first := res[0]
	for i, r := range res[1:] {
		if (r.err == nil) != (first.err == nil) || r.status != first.status {
			t.Fatalf("%s: %s and %s answer differently: %v/%d and %v/%d", host, ips[0], ips[i+1], first.err, first.status, r.err, r.status)
		}
	}
	if first.err != nil {
		var invalid x509.CertificateInvalidError
		var name x509.HostnameError
		var unknown x509.UnknownAuthorityError
		switch {
		case errors.As(first.err, &invalid) && invalid.Reason == x509.Expired:
			return ServeCertExpired, nil
		case errors.As(first.err, &name):
			return ServeCertName, nil
		case errors.As(first.err, &unknown):
			return ServeCertUnknownCA, nil
		}
		t.Fatalf("%s: %v", host, first.err)
	}
	switch {
	case first.status == 403:
		if b := fetchPolicy(t, host, ips[0], browserAgent); b.err == nil && b.status == 200 {
			return ServeAgentBlocked, nil
		}
		t.Fatalf("%s: 403 to a browser too", host)
	case first.status >= 300 && first.status < 400:
		return ServeRedirect, nil
	case first.status == 404:
		return ServeNotFound, nil
	case first.status != 200:
		t.Fatalf("%s: status %d", host, first.status)
	}
	if mt, _, err := mime.ParseMediaType(first.ctype); err != nil || mt != "text/plain" {
		return ServeHTML, first.body
	}
	for _, r := range res[1:] {
		if !bytes.Equal(r.body, first.body) {
			return ServeDivergent, first.body
		}
	}
	return ServePolicy, first.body
}

var schemeID = regexp.MustCompile(`^([0-9]{14})([a-z2-7]{8})$`)

// checkSchemeID checks the id of a scenario whose TXT record uses stspilot's
// id scheme (docs/design.md): UTC yyyymmddhhmmss + the first 8 characters of
// lower-case base32(sha256(policy)). "match" must hash the served bytes,
// "drift" must not (STS-TXT-10).
func checkSchemeID(t *testing.T, s Scenario, served []byte) {
	t.Helper()
	var id string
	for _, rr := range query(t, "_mta-sts."+s.Domain, dns.TypeTXT) {
		txt := strings.Join(rr.(*dns.TXT).Txt, "")
		for _, f := range strings.Split(txt, ";") {
			if k, v, ok := strings.Cut(strings.TrimSpace(f), "="); ok && k == "id" {
				id = v
			}
		}
	}
	m := schemeID.FindStringSubmatch(id)
	if m == nil {
		t.Fatalf("_mta-sts.%s: id %q is not in stspilot's scheme", s.Domain, id)
	}
	if _, err := time.Parse("20060102150405", m[1]); err != nil {
		t.Errorf("id %s: %v", id, err)
	}
	sum := sha256.Sum256(served)
	hash := strings.ToLower(base32.StdEncoding.EncodeToString(sum[:]))[:8]
	switch s.IDScheme {
	case "match":
		if m[2] != hash {
			t.Errorf("id %s: hash %s, served bytes hash to %s", id, m[2], hash)
		}
	case "drift":
		if m[2] == hash {
			t.Errorf("id %s matches the served bytes; the scenario needs it not to", id)
		}
	default:
		t.Fatalf("IDScheme %q", s.IDScheme)
	}
}

// TestOracles checks the world against two real sender-side validators: for
// every scenario, mta-sts-query (postfix-mta-sts-resolver) gives the table's
// verdict, and posttls-finger -l secure gives the table's verdict for every MX.
func TestOracles(t *testing.T) {
	needWorld(t)
	for _, s := range Scenarios {
		t.Run(s.Name, func(t *testing.T) {
			t.Parallel()
			if got, out := stsQuery(t, s.Domain); got != s.STS {
				t.Errorf("mta-sts-query %s: %s, want %s\n%s", s.Domain, got, s.STS, out)
			}
			for _, m := range s.MX {
				if got, out := tlsCheck(t, m.Host, ""); got != m.TLS {
					t.Errorf("posttls-finger %s: %s, want %s\n%s", m.Host, got, m.TLS, out)
				}
			}
		})
	}
}

// TestHarnessRunsStspilot builds the binary through the lazy build and runs
// it with the world's settings (SSL_CERT_FILE, --resolver), proving the
// plumbing the end-to-end tests of each command rely on.
func TestHarnessRunsStspilot(t *testing.T) {
	needWorld(t)
	out, errOut, code := runStspilot(t, "--help")
	if code != 0 || !strings.Contains(out+errOut, "stspilot") {
		t.Fatalf("stspilot --help: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}
