package checks

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stspilot/stspilot/checks/checktest"
	"github.com/stspilot/stspilot/checks/mtasts"
	"github.com/stspilot/stspilot/checks/smtpprobe"
)

const (
	polIP  = "127.0.0.1"
	polIP2 = "127.0.0.2"
	mxIP   = "127.0.0.1"
	mxIP2  = "127.0.0.3"
	deadIP = "127.0.0.4" // nothing listens here
)

func policyText(mode string, maxAge int, mx ...string) string {
	var b strings.Builder
	b.WriteString("version: STSv1\r\nmode: " + mode + "\r\n")
	for _, m := range mx {
		b.WriteString("mx: " + m + "\r\n")
	}
	fmt.Fprintf(&b, "max_age: %d\r\n", maxAge)
	return b.String()
}

// scenario is one domain in its own in-process world.
type scenario struct {
	t      *testing.T
	w      *checktest.World
	domain string
	opt    Options
}

// build makes a healthy domain: one MX with a valid certificate, a policy
// host serving body, the TXT record with a scheme id of body, and TLS-RPT.
// Each mutation then breaks one thing.
type setup struct {
	mode        string
	maxAge      int
	body        *string // nil: policyText(mode, maxAge, mx1)
	txt         []string
	noTXT       bool
	tlsrpt      []string
	noTLSRPT    bool
	noMX        bool
	extraMX     []string // more MX hosts, each served healthy on mxIP2
	policyCert  *checktest.CertOpts
	policyNames []string
	handler     http.Handler
	noPolicyA   bool
	policyAddrs []string
	handler2    http.Handler // for policyAddrs[1]
	mxOpts      func(w *checktest.World, host string) checktest.MXOpts
	mxAddr      string
	mxSilent    bool // the MX accepts TCP and never greets
	zoneExtra   []string
	opt         func(*Options)
}

func newScenario(t *testing.T, domain string, s setup) *scenario {
	t.Helper()
	w := checktest.New(t)
	if s.mode == "" {
		s.mode = "enforce"
	}
	if s.maxAge == 0 {
		s.maxAge = 604800
	}
	mx1 := "mx1." + domain
	body := policyText(s.mode, s.maxAge, mx1)
	if s.body != nil {
		body = *s.body
	}
	now := time.Now()
	if !s.noTXT {
		txt := s.txt
		if txt == nil {
			txt = []string{`"v=STSv1; id=` + mtasts.NewID(now, []byte(body)) + `"`}
		}
		for _, v := range txt {
			w.RR("_mta-sts." + domain + ". 300 IN TXT " + v)
		}
	}
	if !s.noTLSRPT {
		rpt := s.tlsrpt
		if rpt == nil {
			rpt = []string{`"v=TLSRPTv1; rua=mailto:tlsrpt@` + domain + `"`}
		}
		for _, v := range rpt {
			w.RR("_smtp._tls." + domain + ". 300 IN TXT " + v)
		}
	}
	addrs := s.policyAddrs
	if addrs == nil {
		addrs = []string{polIP}
	}
	if !s.noPolicyA {
		for _, a := range addrs {
			w.RR("mta-sts." + domain + ". 300 IN A " + a)
		}
	}
	names := s.policyNames
	if names == nil {
		names = []string{"mta-sts." + domain}
	}
	var co checktest.CertOpts
	if s.policyCert != nil {
		co = *s.policyCert
	}
	h := s.handler
	if h == nil {
		h = checktest.Policy(body)
	}
	cert := w.Leaf(names, co)
	for i, a := range addrs {
		if a == deadIP {
			continue
		}
		hh := h
		if i == 1 && s.handler2 != nil {
			hh = s.handler2
		}
		w.PolicyHost(a, cert, hh)
	}
	if !s.noMX {
		mxAddr := s.mxAddr
		if mxAddr == "" {
			mxAddr = mxIP
		}
		w.RR(domain+". 300 IN MX 10 "+mx1+".", mx1+". 300 IN A "+mxAddr)
		opts := checktest.MXOpts{Cert: w.Leaf([]string{mx1}, checktest.CertOpts{})}
		if s.mxOpts != nil {
			opts = s.mxOpts(w, mx1)
		}
		switch {
		case s.mxSilent:
			silentListener(t, w.Listen(mxAddr, w.SMTPPort))
		case mxAddr != deadIP:
			w.MX(mxAddr, mx1, opts)
		}
		for i, h := range s.extraMX {
			w.RR(fmt.Sprintf("%s. 300 IN MX %d %s.", domain, 20+i, h), h+". 300 IN A "+mxIP2)
		}
		if len(s.extraMX) > 0 {
			w.MX(mxIP2, s.extraMX[0], checktest.MXOpts{Cert: w.Leaf(s.extraMX, checktest.CertOpts{})})
		}
	}
	w.RR(s.zoneExtra...)
	opt := Options{Resolvers: []string{w.DNSAddr}, Roots: w.Roots, HTTPSPort: w.HTTPSPort, SMTPPort: w.SMTPPort, Timeout: 20 * time.Second}
	if s.opt != nil {
		s.opt(&opt)
	}
	return &scenario{t: t, w: w, domain: domain, opt: opt}
}

func (s *scenario) run() *Report {
	s.t.Helper()
	r := Run(context.Background(), s.domain, s.opt)
	markProduced(r)
	if r.Error != "" {
		s.t.Fatalf("check could not run: %s", r.Error)
	}
	checkLiveView(s.t, r)
	return r
}

// checkLiveView: the report's JSON, as a client reads it, says what its
// Live holds, field by field (the stage, the records with their id and
// TTL, the policy as served, the MX hosts and the probes of their
// addresses). Every scenario's report passes through it.
func checkLiveView(t *testing.T, r *Report) {
	t.Helper()
	l := r.Live
	if l == nil {
		t.Error("a checked domain without observations (Live)")
		return
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	type record struct {
		Records []string `json:"records"`
		ID      string   `json:"id"`
		TTL     uint32   `json:"ttl"`
	}
	var v struct {
		Stage  string `json:"stage"`
		STS    record `json:"sts"`
		TLSRPT record `json:"tlsrpt"`
		Policy struct {
			Text   string   `json:"text"`
			Mode   string   `json:"mode"`
			MaxAge int64    `json:"max_age"`
			MX     []string `json:"mx"`
			Fetch  []struct {
				Addr        string `json:"addr"`
				CertProblem string `json:"cert_problem"`
				CertExpiry  string `json:"cert_not_after"`
			} `json:"fetch"`
		} `json:"policy"`
		MX []struct {
			Host       string `json:"host"`
			Preference uint16 `json:"preference"`
			Error      string `json:"error"`
			Addrs      []struct {
				Addr        string `json:"addr"`
				TLSVersion  string `json:"tls_version"`
				CertProblem string `json:"cert_problem"`
				CertExpiry  string `json:"cert_not_after"`
				Error       string `json:"error"`
			} `json:"addrs"`
		} `json:"mx"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	say := func(what string, report, live any) {
		t.Errorf("%s: the report says %v, Live %v", what, report, live)
	}
	if v.Stage != string(l.Stage) {
		say("stage", v.Stage, l.Stage)
	}
	if !slices.Equal(v.STS.Records, l.STS.Records) || v.STS.ID != l.STS.ID || time.Duration(v.STS.TTL)*time.Second != l.STS.TTL {
		say("sts", v.STS, l.STS)
	}
	if !slices.Equal(v.TLSRPT.Records, l.TLSRPT.Records) {
		say("tlsrpt records", v.TLSRPT.Records, l.TLSRPT.Records)
	}
	switch p := v.Policy; {
	case p.Text != string(l.Served):
		say("policy text", p.Text, string(l.Served))
	case l.Policy == nil && p.Mode != "":
		say("policy mode", p.Mode, "no policy with a mode")
	case l.Policy != nil && (p.Mode != string(l.Policy.Mode) || p.MaxAge != l.Policy.MaxAge || !slices.Equal(p.MX, l.Policy.MX)):
		say("policy", p, *l.Policy)
	}
	if len(v.Policy.Fetch) != len(l.PolicyCerts) {
		say("policy fetches", len(v.Policy.Fetch), len(l.PolicyCerts))
	} else {
		for i, c := range l.PolicyCerts {
			if f := v.Policy.Fetch[i]; f.Addr != c.Addr || f.CertProblem != string(c.Problem) || f.CertExpiry != rfc3339(c.NotAfter) {
				say("policy fetch", f, c)
			}
		}
	}
	if len(v.MX) != len(l.MX) {
		say("mx hosts", len(v.MX), len(l.MX))
		return
	}
	for i, m := range l.MX {
		vm := v.MX[i]
		problem := ""
		if m.NoAddress {
			problem = m.Problem
		}
		if vm.Host != m.Host || vm.Preference != m.Preference || vm.Error != problem || len(vm.Addrs) != len(m.Addrs) {
			say("mx "+m.Host, vm, m)
			continue
		}
		for j, a := range m.Addrs {
			if va := vm.Addrs[j]; va.Addr != a.Addr || va.TLSVersion != a.TLSVersion || va.CertProblem != string(a.CertProblem) || va.CertExpiry != rfc3339(a.CertNotAfter) || va.Error != a.Err {
				say("mx "+m.Host+" address", va, a)
			}
		}
	}
}

func ids(r *Report, sev Severity) []string {
	var out []string
	for _, f := range r.Findings {
		if sev == "" || f.Severity == sev {
			out = append(out, f.ID)
		}
	}
	return out
}

func find(r *Report, id string) *Finding {
	for i := range r.Findings {
		if r.Findings[i].ID == id {
			return &r.Findings[i]
		}
	}
	return nil
}

func dump(r *Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "stage=%s\n", r.Stage)
	for _, f := range r.Findings {
		fmt.Fprintf(&b, "  %s %s [%s] %s | fix: %s\n", f.Severity, f.ID, f.Subject, f.Observed, f.Fix)
	}
	return b.String()
}

func ptr[T any](v T) *T { return &v }

func TestHealthyDomains(t *testing.T) {
	for _, mode := range []string{"enforce", "testing"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			maxAge := 604800
			if mode == "testing" {
				maxAge = 86400
			}
			r := newScenario(t, "healthy.example.test", setup{mode: mode, maxAge: maxAge}).run()
			if errs := ids(r, SevError); len(errs) > 0 || string(r.Stage) != mode {
				t.Fatalf("healthy %s domain: stage %s, errors %v\n%s", mode, r.Stage, errs, dump(r))
			}
			if w := ids(r, SevWarn); len(w) > 0 {
				t.Fatalf("healthy domain has warnings %v\n%s", w, dump(r))
			}
			if f := find(r, "sts-record.id-scheme"); f == nil || f.Severity != SevInfo {
				t.Fatalf("scheme id not recognised\n%s", dump(r))
			}
			if r.STS.IDScheme == nil || r.STS.IDScheme.Matches == nil || !*r.STS.IDScheme.Matches {
				t.Fatalf("id scheme match not reported: %+v", r.STS.IDScheme)
			}
			if len(r.MX) != 1 || r.MX[0].Covered == nil || !*r.MX[0].Covered || len(r.MX[0].Addrs) != 1 || !r.MX[0].Addrs[0].STARTTLS {
				t.Fatalf("MX info: %+v", r.MX)
			}
			if r.Policy == nil || r.Policy.Mode != mode || len(r.Policy.Fetch) != 2 {
				t.Fatalf("policy info: %+v", r.Policy)
			}
			if len(r.Senders) == 0 {
				t.Fatal("no sender views")
			}
			for _, v := range r.Senders {
				if v.Outcome != "policy" && !(mode == "testing" && (v.Impl == "pmsr" || v.Impl == "tlspol")) {
					t.Errorf("sender %s reads the healthy domain as %s (%s)", v.Impl, v.Outcome, v.Reason)
				}
			}
		})
	}
}

// findingActions is the typed action each finding id carries when
// TestFindings' cases raise it ("TXT NAME": a record; tlsrpt findings have
// one only when the record's own destination can be kept).
var findingActions = map[string]string{
	"sts-record.missing":     "rollout",
	"teardown.orphan-policy": "teardown",
	"teardown.host-gone":     "teardown",
	"sts-record.multiple":    "TXT _mta-sts.DOMAIN",
	"sts-record.syntax":      "TXT _mta-sts.DOMAIN",
	"sts-record.id-invalid":  "TXT _mta-sts.DOMAIN",
	"tlsrpt.syntax":          "TXT _smtp._tls.DOMAIN",
	"tlsrpt.rua-scheme":      "TXT _smtp._tls.DOMAIN",
}

// Each case breaks one thing and names the finding ids (and severities)
// that must appear. Rule ids are in the names.
func TestFindings(t *testing.T) {
	const d = "broken.example.test"
	body := policyText("enforce", 604800, "mx1."+d)
	cases := []struct {
		name      string
		s         setup
		want      map[string]Severity
		stage     Stage
		notWanted []string
	}{
		{
			"STS-TXT-1 no record, no host",
			setup{noTXT: true, noPolicyA: true},
			map[string]Severity{"sts-record.missing": SevWarn},
			"absent",
			[]string{"teardown.host-gone"},
		},
		{
			"STS-TXT-5 two records",
			setup{txt: []string{`"v=STSv1; id=1"`, `"v=STSv1; id=2"`}},
			map[string]Severity{"sts-record.multiple": SevError},
			"broken", nil,
		},
		{
			"STS-TXT-14 space before semicolon",
			setup{txt: []string{`"v=STSv1 ; id=1"`}},
			map[string]Severity{"sts-record.syntax": SevError},
			"broken", nil,
		},
		{
			"STS-TXT-9 invalid id",
			setup{txt: []string{`"v=STSv1; id=2024-01-01;"`}},
			map[string]Severity{"sts-record.id-invalid": SevError},
			"broken", nil,
		},
		{
			"STS-TXT-4 foreign TXT",
			setup{txt: []string{`"v=STSv1; id=20240101T000000;"`, `"google-site-verification=abc"`}},
			map[string]Severity{"sts-record.foreign-txt": SevWarn},
			"enforce", nil,
		},
		{
			"STS-FETCH-11 policy host refuses",
			setup{policyAddrs: []string{deadIP}},
			map[string]Severity{"policy.unreachable": SevError},
			"broken", nil,
		},
		{
			"STS-FETCH-5 404",
			setup{handler: http.NotFoundHandler()},
			map[string]Severity{"policy.http-status": SevError},
			"broken", nil,
		},
		{
			"STS-FETCH-6 redirect",
			setup{handler: http.RedirectHandler("https://www.broken.example.test/", http.StatusMovedPermanently)},
			map[string]Severity{"policy.redirect": SevError},
			"broken", nil,
		},
		{
			"STS-FETCH-9 text/html",
			setup{handler: typed(body, "text/html; charset=utf-8")},
			map[string]Severity{"policy.content-type": SevError},
			"", nil,
		},
		{
			"STS-FETCH-9 charset",
			setup{handler: typed(body, "text/plain; charset=iso-8859-1")},
			map[string]Severity{"policy.content-type": SevWarn},
			"enforce", nil,
		},
		{
			"STS-FETCH-3 expired host certificate",
			setup{policyCert: &checktest.CertOpts{NotBefore: time.Now().Add(-60 * 24 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)}},
			map[string]Severity{"policy.cert": SevError},
			"broken", nil,
		},
		{
			"STS-FETCH-15 host certificate for the wrong name",
			setup{policyNames: []string{"mta-sts.provider.example"}},
			map[string]Severity{"policy.cert": SevError},
			"broken", nil,
		},
		{
			"STS-FETCH-3 host certificate expiring",
			setup{policyCert: &checktest.CertOpts{NotAfter: time.Now().Add(3 * 24 * time.Hour)}},
			map[string]Severity{"policy.cert-expiring": SevWarn},
			"enforce", nil,
		},
		{
			"STS-FETCH-10 too large",
			setup{handler: typed(body+strings.Repeat("x", 70<<10), "text/plain")},
			map[string]Severity{"policy.too-large": SevError},
			"broken", nil,
		},
		{
			"STS-FETCH-14 user-agent filter",
			setup{handler: uaFilter(body)},
			map[string]Severity{"policy.agent-blocked": SevError},
			"broken", nil,
		},
		{
			"STS-SEND-17 addresses differ",
			setup{policyAddrs: []string{polIP, polIP2}, handler2: checktest.Policy(policyText("testing", 604800, "mx1."+d))},
			map[string]Severity{"policy.ip-divergence": SevError},
			"broken", nil,
		},
		{
			"STS-POL-3 trailing blank line",
			setup{body: ptr(body + "\r\n")},
			map[string]Severity{"policy.syntax": SevError},
			"broken", nil,
		},
		{
			"STS-POL-4 extension value with colon",
			setup{body: ptr(body + "report: https://example.test/x\r\n")},
			map[string]Severity{"policy.strictness": SevWarn},
			"enforce", nil,
		},
		{
			"STS-TXT-10 content changed without id change",
			setup{txt: []string{`"v=STSv1; id=` + mtasts.NewID(time.Now(), []byte("other bytes")) + `"`}},
			map[string]Severity{"policy.id-drift": SevError},
			"broken", nil,
		},
		{
			"OPS-1 max_age 3600",
			setup{maxAge: 3600},
			map[string]Severity{"policy.max-age-low": SevWarn},
			"enforce", nil,
		},
		{
			"STS-POL-9 max_age 40000000",
			setup{maxAge: 40000000},
			map[string]Severity{"policy.max-age-high": SevError},
			"broken",
			[]string{"policy.syntax"},
		},
		{
			"STS-SEND-14 testing with 30 days",
			setup{mode: "testing", maxAge: 2592000},
			map[string]Severity{"policy.testing-long-max-age": SevWarn},
			"testing", nil,
		},
		{
			"STS-SEND-9 no MX",
			setup{noMX: true},
			map[string]Severity{"mx.none": SevError},
			"", nil,
		},
		{
			"STS-POL-15 wildcard one label too shallow",
			setup{body: ptr(policyText("enforce", 604800, "*."+d)), extraMX: []string{"a.mx." + d}, zoneExtra: nil},
			map[string]Severity{"mx.uncovered": SevError},
			"enforce", nil,
		},
		{
			"OPS-2 CNAME MX",
			setup{
				extraMX: []string{"alias." + d}, body: ptr(policyText("enforce", 604800, "mx1."+d, "alias."+d)),
				zoneExtra: []string{"alias." + d + ". 300 IN CNAME mx1." + d + "."},
			},
			map[string]Severity{"mx.cname": SevError},
			"", nil,
		},
		{
			"STS-SEND-8 too many MX",
			setup{extraMX: []string{"mx2." + d, "mx3." + d}, body: ptr(policyText("enforce", 604800, "*."+d)), opt: func(o *Options) { o.MaxMX = 2 }},
			map[string]Severity{"mx.too-many": SevWarn},
			"enforce", nil,
		},
		{
			"STS-SEND-12 MX port closed",
			setup{mxAddr: deadIP},
			map[string]Severity{"mx.unreachable": SevWarn},
			"enforce", nil,
		},
		{
			"STS-SEND-12 MX never greets",
			setup{mxSilent: true, opt: func(o *Options) { o.Timeout = 2 * time.Second }},
			map[string]Severity{"mx.unreachable": SevWarn},
			"enforce",
			[]string{"mx.starttls-missing"},
		},
		{"STS-SEND-8 no STARTTLS", setup{mxOpts: func(w *checktest.World, h string) checktest.MXOpts {
			return checktest.MXOpts{NoSTARTTLS: true}
		}}, map[string]Severity{"mx.starttls-missing": SevError}, "enforce", nil},
		{"STS-SEND-10 MX wrong SAN", setup{mxOpts: func(w *checktest.World, h string) checktest.MXOpts {
			return checktest.MXOpts{Cert: w.Leaf([]string{"wrong.example.test"}, checktest.CertOpts{})}
		}}, map[string]Severity{"mx.cert-name": SevError}, "enforce", nil},
		{"STS-SEND-10 MX expired", setup{mxOpts: func(w *checktest.World, h string) checktest.MXOpts {
			return checktest.MXOpts{Cert: w.Leaf([]string{h}, checktest.CertOpts{NotBefore: time.Now().Add(-90 * 24 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})}
		}}, map[string]Severity{"mx.cert-expired": SevError}, "enforce", nil},
		{"STS-SEND-10 MX untrusted", setup{mxOpts: func(w *checktest.World, h string) checktest.MXOpts {
			return checktest.MXOpts{Cert: w.Leaf([]string{h}, checktest.CertOpts{Untrusted: true})}
		}}, map[string]Severity{"mx.cert-untrusted": SevError}, "enforce", nil},
		{"STS-SEND-4 MX certificate expires inside max_age", setup{mxOpts: func(w *checktest.World, h string) checktest.MXOpts {
			return checktest.MXOpts{Cert: w.Leaf([]string{h}, checktest.CertOpts{NotAfter: time.Now().Add(5 * 24 * time.Hour)})}
		}}, map[string]Severity{"mx.cert-expiring": SevWarn}, "enforce", nil},
		{"STS-SEND-21 TLS 1.1", setup{mxOpts: func(w *checktest.World, h string) checktest.MXOpts {
			return checktest.MXOpts{Cert: w.Leaf([]string{h}, checktest.CertOpts{}), MaxVersion: tls.VersionTLS11}
		}}, map[string]Severity{"mx.tls-version": SevError}, "enforce", nil},
		{
			"RPT-REC-1 no TLS-RPT",
			setup{noTLSRPT: true},
			map[string]Severity{"tlsrpt.missing": SevWarn},
			"enforce", nil,
		},
		{
			"RPT-REC-7 two TLS-RPT records",
			setup{tlsrpt: []string{`"v=TLSRPTv1; rua=mailto:a@broken.example.test"`, `"v=TLSRPTv1; rua=mailto:b@broken.example.test"`}},
			map[string]Severity{"tlsrpt.syntax": SevError},
			"enforce", nil,
		},
		{
			"RPT-REC-4 http rua",
			setup{tlsrpt: []string{`"v=TLSRPTv1; rua=http://reports.example.test/tlsrpt"`}},
			map[string]Severity{"tlsrpt.rua-scheme": SevError},
			"enforce", nil,
		},
		{
			"RPT-REC-5 two ruas",
			setup{tlsrpt: []string{`"v=TLSRPTv1; rua=mailto:a@broken.example.test,https://reports.example.test/v1"`}},
			map[string]Severity{"tlsrpt.rua-multiple": SevWarn},
			"enforce", nil,
		},
		{
			"STS-SEND-16 TXT removed, enforce still served",
			setup{noTXT: true},
			map[string]Severity{"teardown.orphan-policy": SevError},
			"broken",
			[]string{"sts-record.missing"},
		},
		{
			"STS-SEND-16 host gone, TXT still there",
			setup{noPolicyA: true},
			map[string]Severity{"teardown.host-gone": SevError},
			"broken", nil,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := newScenario(t, d, c.s).run()
			for id, sev := range c.want {
				f := find(r, id)
				if f == nil {
					t.Fatalf("missing %s\n%s", id, dump(r))
				}
				if f.Severity != sev {
					t.Fatalf("%s has severity %s, want %s\n%s", id, f.Severity, sev, dump(r))
				}
				if f.Observed == "" || f.Why == "" || f.Subject == "" || (f.Severity != SevInfo && f.Fix == "" && id != "mx.too-many") {
					t.Fatalf("%s lacks observed/why/subject/fix: %+v", id, f)
				}
			}
			for _, f := range r.Findings {
				if strings.Contains(f.Fix, "stspilot ") || strings.Contains(f.Fix, "--") {
					t.Errorf("%s: the fix names a command or flag (its action does that): %q", f.ID, f.Fix)
				}
				if a := f.Action; a != nil && (a.Workflow == "") == (a.Record == nil) {
					t.Errorf("%s: an action sets exactly one of workflow and record: %+v", f.ID, a)
				}
			}
			for id, want := range findingActions {
				f := find(r, id)
				if f == nil {
					continue
				}
				var got string
				switch {
				case f.Action == nil:
				case f.Action.Record != nil:
					got = f.Action.Record.Type + " " + f.Action.Record.Name
				default:
					got = f.Action.Workflow
				}
				if want = strings.ReplaceAll(want, "DOMAIN", d); got != want && !(got == "" && strings.HasPrefix(id, "tlsrpt.")) {
					t.Errorf("%s: action %q, want %q", id, got, want)
				}
			}
			for _, id := range c.notWanted {
				if find(r, id) != nil {
					t.Fatalf("unexpected %s\n%s", id, dump(r))
				}
			}
			if c.stage != "" && r.Stage != c.stage {
				t.Fatalf("stage %s, want %s\n%s", r.Stage, c.stage, dump(r))
			}
		})
	}
}

func TestDNSFailures(t *testing.T) {
	t.Run("STS-FETCH-12 SERVFAIL on _mta-sts", func(t *testing.T) {
		s := newScenario(t, "servfail.example.test", setup{})
		s.w.ServFail("_mta-sts.servfail.example.test")
		r := s.run()
		if f := find(r, "sts-record.lookup-failed"); f == nil || f.Severity != SevError {
			t.Fatalf("no lookup-failed\n%s", dump(r))
		}
	})
	t.Run("resolver down: could not check", func(t *testing.T) {
		r := Run(context.Background(), "down.example.test", Options{Resolvers: []string{deadIP + ":53"}, Timeout: 5 * time.Second})
		if r.Error == "" || len(r.Findings) != 0 {
			t.Fatalf("want a could-not-check error, got %q and %v", r.Error, ids(r, ""))
		}
	})
	t.Run("STS-SEND-9 NXDOMAIN", func(t *testing.T) {
		s := newScenario(t, "exists.example.test", setup{})
		s.domain = "nosuch.example.test"
		r := s.run()
		f := find(r, "domain.nxdomain")
		if f == nil || f.Severity != SevError || len(r.Findings) != 1 || !strings.Contains(f.Observed, "NXDOMAIN") || f.Fix == "" {
			t.Fatalf("want one domain.nxdomain error\n%s", dump(r))
		}
		if r.Stage != StageAbsent || !r.HasErrors() {
			t.Errorf("stage %q, errors %v", r.Stage, r.HasErrors())
		}
	})
	t.Run("bad domain", func(t *testing.T) {
		r := Run(context.Background(), "exa mple..com", Options{Resolvers: []string{deadIP + ":53"}})
		if r.Error == "" {
			t.Fatal("bad domain accepted")
		}
	})
}

// silentListener accepts connections and never writes, like a filtered or
// hung SMTP server.
func silentListener(t *testing.T, l net.Listener) {
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
}

func typed(body, ct string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ct)
		_, _ = w.Write([]byte(body))
	})
}

func uaFilter(body string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.UserAgent(), "Mozilla") {
			http.Error(w, "bots not allowed", http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte(body))
	})
}

func TestSlowPolicyHost(t *testing.T) {
	if testing.Short() {
		t.Skip("takes over 2 s")
	}
	const d = "slow.example.test"
	body := policyText("enforce", 604800, "mx1."+d)
	r := newScenario(t, d, setup{handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(slowFetch + 300*time.Millisecond)
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte(body))
	})}).run()
	if f := find(r, "policy.slow"); f == nil || f.Severity != SevWarn {
		t.Fatalf("no policy.slow\n%s", dump(r))
	}
}

var _ = slices.Contains[[]string]

// TestHostileDNSData feeds the engine a 60 KiB TXT RRset and a thousand MX
// records: the check ends, with bounded findings, within its deadline.
func TestHostileDNSData(t *testing.T) {
	const d = "hostile.example.test"
	s := newScenario(t, d, setup{noTXT: true, noTLSRPT: true})
	var b strings.Builder
	b.WriteString(`"v=STSv1; id=1; x="`)
	for i := 0; i < 240; i++ {
		b.WriteString(` "` + strings.Repeat("a", 250) + `"`)
	}
	s.w.RR("_mta-sts."+d+". 300 IN TXT "+b.String(), "_smtp._tls."+d+". 300 IN TXT "+strings.Replace(b.String(), "v=STSv1; id=1", "v=TLSRPTv1; rua=mailto:a@b.test", 1))
	for i := 0; i < 1000; i++ {
		s.w.RR(fmt.Sprintf("%s. 300 IN MX %d mx%d.%s.", d, i+20, i, d))
	}
	r := s.run()
	if f := find(r, "mx.too-many"); f == nil {
		t.Fatalf("1001 MX hosts, no mx.too-many\n%s", dump(r))
	}
	if len(r.MX) > DefaultMaxMX {
		t.Fatalf("%d MX hosts probed, cap is %d", len(r.MX), DefaultMaxMX)
	}
	for _, f := range r.Findings {
		if len(f.Observed) > 8<<10 || len(f.Fix) > 8<<10 {
			t.Fatalf("%s: observed %d bytes, fix %d bytes: not bounded", f.ID, len(f.Observed), len(f.Fix))
		}
	}
}

// TestRunCourtesy: the MX probe's closing EHLO and QUIT, which observe
// nothing, go to Options.Courtesy instead of holding up the report, and
// Courtesy.Wait joins them.
func TestRunCourtesy(t *testing.T) {
	const d = "courtesy.example.test"
	var c smtpprobe.Courtesy
	s := newScenario(t, d, setup{opt: func(o *Options) { o.Courtesy = &c }})
	r := s.run()
	if errs := ids(r, SevError); len(errs) != 0 {
		t.Fatalf("errors %v\n%s", errs, dump(r))
	}
	c.Wait(t.Context())
	if n := c.Running(); n != 0 {
		t.Errorf("%d courtesies running after Wait", n)
	}
	want := []string{"EHLO stspilot.invalid", "STARTTLS", "TLS EHLO stspilot.invalid", "TLS QUIT"}
	if got := s.w.MXCommands(); !slices.Equal(got, want) {
		t.Errorf("MX commands %q, want %q", got, want)
	}
}

// A max_age in a finding reads in the one duration wording of the tool
// (duration.Words), whole units and no decimals (STS-POL-9, OPS-1).
func TestMaxAgeFindingsInWords(t *testing.T) {
	for _, c := range []struct {
		maxAge int
		id     string
		want   string
	}{
		{3600, "policy.max-age-low", "max_age: 3600 (1 hour)"},
		{40000000, "policy.max-age-high", "max_age: 40000000 (462 days 23 hours)"},
	} {
		d := "words.example"
		r := newScenario(t, d, setup{maxAge: c.maxAge}).run()
		f := find(r, c.id)
		if f == nil || f.Observed != c.want {
			t.Errorf("max_age %d: %s = %+v, want observed %q", c.maxAge, c.id, f, c.want)
		}
	}
}
