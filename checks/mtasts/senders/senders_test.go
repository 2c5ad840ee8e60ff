package senders

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// The world's healthy policy: CRLF lines, text/plain, status 200.
const (
	healthyTXT  = "v=STSv1; id=20240101T000000;"
	healthyBody = "version: STSv1\r\nmode: enforce\r\nmx: mx1.example.test\r\nmax_age: 86400\r\n"
)

func healthy() Input {
	return Input{TXT: []string{healthyTXT}, Fetched: true, Status: 200, ContentType: "text/plain", Body: []byte(healthyBody)}
}

func withTXT(txt ...string) Input { in := healthy(); in.TXT = txt; return in }
func withBody(body string) Input  { in := healthy(); in.Body = []byte(body); return in }
func withType(ct string) Input    { in := healthy(); in.ContentType = ct; return in }
func withStatus(s int) Input      { in := healthy(); in.Status = s; return in }

func withElapsed(d time.Duration) Input { in := healthy(); in.Elapsed = d; return in }

// policyWith is an LF policy with extra lines appended.
func policyWith(extra string) string {
	return "version: STSv1\nmode: enforce\nmx: mx1.example.test\nmax_age: 86400\n" + extra
}

const (
	P = Policy
	N = NoPolicy
	F = FetchError
	I = Invalid
)

// all builds an expectation where every implementation and the RFC reader
// share one outcome, then applies exceptions.
func all(o Outcome, except ...any) map[string]Outcome {
	m := map[string]Outcome{ImplRFC: o}
	for _, n := range Impls() {
		m[n] = o
	}
	for i := 0; i+1 < len(except); i += 2 {
		m[except[i].(string)] = except[i+1].(Outcome)
	}
	return m
}

// reading is an expected reading of one implementation.
type reading struct {
	mode   string
	maxAge int64
	mx     []string
}

type emulateCase struct {
	name  string
	in    Input
	want  map[string]Outcome // every implementation and ImplRFC
	read  map[string]reading // optional: exact readings of some Policy verdicts
	rules map[string]string  // optional: a rule id a verdict must cite
	why   map[string]string  // optional: a substring its Reason must hold
}

var emulateCases = []emulateCase{
	{
		name: "healthy CRLF policy read identically by all (STS-POL-2, STS-TXT-8)",
		in:   healthy(),
		want: all(P),
		read: map[string]reading{ImplRFC: {"enforce", 86400, []string{"mx1.example.test"}}, ImplPMSR: {"enforce", 86400, []string{"mx1.example.test"}}},
	},
	{
		name: "healthy LF policy without final line break (STS-POL-2)",
		in:   withBody("version: STSv1\nmode: enforce\nmx: mx1.example.test\nmx: *.example.test\nmax_age: 604800"),
		want: all(P),
		read: map[string]reading{ImplMailauth: {"enforce", 604800, []string{"mx1.example.test", "*.example.test"}}},
	},
	{
		name: "STS-TXT-5 no TXT record",
		in:   withTXT(),
		want: all(N),
	},
	{
		name:  "STS-TXT-4 OPS-12 foreign TXT beside STSv1: go-mtasts sees no policy",
		in:    withTXT("google-site-verification=abc", healthyTXT),
		want:  all(P, ImplGoMTASTS, N),
		rules: map[string]string{ImplGoMTASTS: "OPS-12"},
	},
	{
		name: "STS-TXT-4 broken v=STSv1 without ';' beside a valid record: pmsr and mailauth count two",
		in:   withTXT(healthyTXT, "v=STSv1"),
		want: all(P, ImplGoMTASTS, N, ImplPMSR, N, ImplMailauth, N),
		why:  map[string]string{ImplMailauth: "multi_sts_records"},
	},
	{
		name:  "STS-TXT-4 STS-TXT-14 'v=STSv1 ;' kept by mox, tlspol, pmsr, mailauth",
		in:    withTXT("v=STSv1 ; id=20240101T000000"),
		want:  all(P, ImplRFC, N, ImplGoMTASTS, N, ImplChasquid, N),
		rules: map[string]string{ImplMox: "STS-TXT-14", ImplTLSPol: "STS-TXT-14"},
	},
	{
		name:  "STS-TXT-4 lower-case v=stsv1 only mailauth",
		in:    withTXT("v=stsv1; id=20240101T000000"),
		want:  all(N, ImplMailauth, P),
		rules: map[string]string{ImplMailauth: "STS-TXT-4"},
	},
	{
		name: "STS-TXT-5 two STSv1 records: no policy anywhere, mailauth errors",
		in:   withTXT(healthyTXT, "v=STSv1; id=2"),
		want: all(N),
		why:  map[string]string{ImplMailauth: "multi_sts_records", ImplRFC: "2 TXT records"},
	},
	{
		name:  "STS-TXT-9 id charset enforced by mox and tlspol only",
		in:    withTXT("v=STSv1; id=2024-01-01;"),
		want:  all(P, ImplRFC, N, ImplMox, N, ImplTLSPol, N, ImplChasquid, N),
		rules: map[string]string{ImplMox: "STS-TXT-9", ImplPMSR: "STS-TXT-9", ImplGoMTASTS: "STS-TXT-9"},
	},
	{
		name:  "STS-TXT-9 missing id: no policy anywhere",
		in:    withTXT("v=STSv1; foo=bar"),
		want:  all(N),
		rules: map[string]string{ImplRFC: "STS-TXT-9", ImplPMSR: "STS-TXT-9"},
	},
	{
		name: "STS-TXT-8 malformed extension field in TXT: lenient parsers ignore it",
		in:   withTXT("v=STSv1; id=1; bad field=x"),
		want: all(P, ImplRFC, N, ImplMox, N, ImplTLSPol, N, ImplChasquid, N),
	},
	{
		name:  "STS-FETCH-11 connect or TLS failure",
		in:    Input{TXT: []string{healthyTXT}, FetchError: "certificate has expired"},
		want:  all(F),
		why:   map[string]string{ImplRFC: "certificate has expired"},
		rules: map[string]string{ImplPMSR: "STS-FETCH-11"},
	},
	{
		name:  "STS-FETCH-5 404: tlspol reads no policy, mox keeps it apart",
		in:    withStatus(404),
		want:  all(F, ImplTLSPol, N),
		why:   map[string]string{ImplMox: "no policy served"},
		rules: map[string]string{ImplTLSPol: "STS-FETCH-5"},
	},
	{
		name:  "STS-FETCH-5 204 with a body: mailauth accepts any 2xx",
		in:    withStatus(204),
		want:  all(F, ImplTLSPol, N, ImplMailauth, P),
		rules: map[string]string{ImplMailauth: "STS-FETCH-5"},
	},
	{
		name: "STS-FETCH-6 redirect is a fetch error everywhere",
		in:   func() Input { in := withStatus(301); in.Redirect = true; return in }(),
		want: all(F),
	},
	{
		name:  "STS-FETCH-9 Content-Type missing: mox and mailauth do not look",
		in:    withType(""),
		want:  all(I, ImplMox, P, ImplMailauth, P),
		rules: map[string]string{ImplMox: "STS-FETCH-9", ImplGoMTASTS: "STS-FETCH-9"},
	},
	{
		name: "STS-FETCH-9 text/html",
		in:   withType("text/html; charset=utf-8"),
		want: all(I, ImplMox, P, ImplMailauth, P),
	},
	{
		name: "STS-FETCH-9 media type is case-insensitive and parameters are ignored",
		in:   withType("Text/Plain; charset=us-ascii"),
		want: all(P),
	},
	{
		name:  "STS-FETCH-9 non-ASCII extension value without charset: pmsr cannot decode",
		in:    withBody(policyWith("comment: café\n")),
		want:  all(P, ImplPMSR, I),
		rules: map[string]string{ImplPMSR: "STS-FETCH-9"},
	},
	{
		name: "STS-FETCH-9 non-ASCII extension value with charset=utf-8",
		in: func() Input {
			in := withBody(policyWith("comment: café\n"))
			in.ContentType = "text/plain; charset=utf-8"
			return in
		}(),
		want: all(P),
	},
	{
		name: "STS-FETCH-10 STS-POL-19 body over 64 KiB: go-mtasts and mailauth have no cap",
		in:   withBody(policyWith(strings.Repeat("ext: "+strings.Repeat("a", 94)+"\n", 700))),
		want: all(F, ImplGoMTASTS, P, ImplMailauth, P),
	},
	{
		name:  "STS-FETCH-10 one line over 64 KiB breaks go-mtasts' bufio.Scanner",
		in:    withBody(policyWith("ext: " + strings.Repeat("a", 70000) + "\n")),
		want:  all(F, ImplGoMTASTS, I, ImplMailauth, P),
		rules: map[string]string{ImplGoMTASTS: "STS-FETCH-10"},
	},
	{
		name:  "STS-FETCH-10 OPS-8 3 s fetch: only tlspol (2 s) gives up",
		in:    withElapsed(3 * time.Second),
		want:  all(P, ImplTLSPol, F),
		rules: map[string]string{ImplTLSPol: "STS-FETCH-10"},
	},
	{
		name: "STS-FETCH-10 OPS-8 5 s fetch: pmsr (4 s) and tlspol give up",
		in:   withElapsed(5 * time.Second),
		want: all(P, ImplTLSPol, F, ImplPMSR, F),
	},
	{
		name: "STS-FETCH-10 20 s fetch: mailauth (15 s) gives up too",
		in:   withElapsed(20 * time.Second),
		want: all(P, ImplTLSPol, F, ImplPMSR, F, ImplMailauth, F),
	},
	{
		name: "STS-FETCH-10 61 s fetch: everyone gives up",
		in:   withElapsed(61 * time.Second),
		want: all(F),
	},
	{
		name:  "STS-POL-3 blank line in the middle: pmsr and mailauth ignore it",
		in:    withBody("version: STSv1\nmode: enforce\n\nmx: mx1.example.test\nmax_age: 86400\n"),
		want:  all(I, ImplPMSR, P, ImplMailauth, P),
		rules: map[string]string{ImplRFC: "STS-POL-3", ImplGoMTASTS: "STS-POL-3", ImplTLSPol: "STS-POL-3", ImplPMSR: "STS-POL-3"},
	},
	{
		name: "STS-POL-3 blank line at the end",
		in:   withBody(healthyBody + "\r\n"),
		want: all(I, ImplPMSR, P, ImplMailauth, P),
	},
	{
		name:  "STS-POL-2 lone CR terminators: only pmsr's splitlines reads them",
		in:    withBody("version: STSv1\rmode: enforce\rmx: mx1.example.test\rmax_age: 86400\r"),
		want:  all(I, ImplPMSR, P),
		rules: map[string]string{ImplPMSR: "STS-POL-2"},
	},
	{
		name: "STS-POL-2 CR CR LF: go-mtasts trims it, pmsr sees a blank line, mailauth trims it",
		in:   withBody("version: STSv1\nmode: enforce\nmx: mx1.example.test\nmax_age: 86400\r\r\n"),
		want: all(I, ImplGoMTASTS, P, ImplPMSR, P, ImplMailauth, P),
		read: map[string]reading{ImplGoMTASTS: {"enforce", 86400, []string{"mx1.example.test"}}},
	},
	{
		name: "STS-POL-2 Unicode line separator (UTF-8) split by pmsr only",
		in: func() Input {
			in := withBody("version: STSv1\u2028mode: enforce\nmx: mx1.example.test\nmax_age: 86400\n")
			in.ContentType = "text/plain; charset=utf-8"
			return in
		}(),
		want: all(I, ImplPMSR, P),
	},
	{
		name:  "STS-POL-4 'mode : enforce': pmsr loses mode, mailauth trims",
		in:    withBody("version: STSv1\nmode : enforce\nmx: mx1.example.test\nmax_age: 86400\n"),
		want:  all(I, ImplMailauth, P),
		why:   map[string]string{ImplPMSR: `"mode "`},
		rules: map[string]string{ImplPMSR: "STS-POL-4", ImplRFC: "STS-POL-4", ImplMailauth: "STS-POL-4"},
		read:  map[string]reading{ImplMailauth: {"enforce", 86400, []string{"mx1.example.test"}}},
	},
	{
		name:  "STS-POL-4 leading whitespace before the key",
		in:    withBody("version: STSv1\n mode: enforce\nmx: mx1.example.test\nmax_age: 86400\n"),
		want:  all(I, ImplMailauth, P),
		rules: map[string]string{ImplRFC: "STS-POL-4"},
	},
	{
		name:  "STS-POL-5 upper-case keys and mode value: only mailauth lower-cases",
		in:    withBody("Version: STSv1\nMode: Enforce\nMX: mx1.example.test\nMax_Age: 86400\n"),
		want:  all(I, ImplMailauth, P),
		rules: map[string]string{ImplMailauth: "STS-POL-5"},
		read:  map[string]reading{ImplMailauth: {"enforce", 86400, []string{"mx1.example.test"}}},
	},
	{
		name: "STS-POL-5 mode value in upper case",
		in:   withBody("version: STSv1\nmode: ENFORCE\nmx: mx1.example.test\nmax_age: 86400\n"),
		want: all(I, ImplMailauth, P),
	},
	{
		name:  "STS-POL-4 extension value with ':' breaks go-mtasts",
		in:    withBody(policyWith("report: https://example.test/sts\n")),
		want:  all(P, ImplGoMTASTS, I),
		rules: map[string]string{ImplGoMTASTS: "STS-POL-4"},
	},
	{
		name:  "STS-POL-13 malformed extension line: mox and tlspol reject, others ignore",
		in:    withBody(policyWith("bad key: x\n")),
		want:  all(P, ImplRFC, I, ImplMox, I, ImplTLSPol, I, ImplChasquid, I),
		rules: map[string]string{ImplRFC: "STS-POL-1"},
	},
	{
		name: "STS-POL-1 '#' comment line without ':' breaks go-mtasts too",
		in:   withBody("# policy\n" + policyWith("")),
		want: all(I, ImplPMSR, P, ImplMailauth, P),
	},
	{
		name: "STS-POL-14 repeated max_age: go-mtasts, pmsr and mailauth keep the last",
		in:   withBody(policyWith("max_age: 604800\n")),
		want: all(P),
		read: map[string]reading{
			ImplRFC:      {"enforce", 86400, []string{"mx1.example.test"}},
			ImplMox:      {"enforce", 86400, []string{"mx1.example.test"}},
			ImplTLSPol:   {"enforce", 86400, []string{"mx1.example.test"}},
			ImplChasquid: {"enforce", 86400, []string{"mx1.example.test"}},
			ImplGoMTASTS: {"enforce", 604800, []string{"mx1.example.test"}},
			ImplPMSR:     {"enforce", 604800, []string{"mx1.example.test"}},
			ImplMailauth: {"enforce", 604800, []string{"mx1.example.test"}},
		},
		rules: map[string]string{ImplGoMTASTS: "STS-POL-14", ImplPMSR: "STS-POL-14", ImplMailauth: "STS-POL-14"},
	},
	{
		name: "STS-POL-14 STS-SEND-14 repeated mode enforce then testing: pmsr ends with testing and no policy",
		in:   withBody(policyWith("mode: testing\n")),
		want: all(P, ImplPMSR, N),
		read: map[string]reading{
			ImplGoMTASTS: {"testing", 86400, []string{"mx1.example.test"}},
			ImplMailauth: {"testing", 86400, []string{"mx1.example.test"}},
			ImplTLSPol:   {"enforce", 86400, []string{"mx1.example.test"}},
		},
	},
	{
		name:  "STS-POL-9 max_age over 31557600: tlspol caps, mox and go-mtasts accept",
		in:    withBody("version: STSv1\nmode: enforce\nmx: mx1.example.test\nmax_age: 31557601\n"),
		want:  all(I, ImplMox, P, ImplGoMTASTS, P, ImplTLSPol, P),
		read:  map[string]reading{ImplTLSPol: {"enforce", 31557600, []string{"mx1.example.test"}}, ImplMox: {"enforce", 31557601, []string{"mx1.example.test"}}},
		rules: map[string]string{ImplTLSPol: "STS-POL-9", ImplMox: "STS-POL-9", ImplRFC: "STS-POL-9"},
	},
	{
		name: "STS-POL-9 max_age 10 digits over 32 bits: mox rejects",
		in:   withBody("version: STSv1\nmode: enforce\nmx: mx1.example.test\nmax_age: 9999999999\n"),
		want: all(I, ImplGoMTASTS, P, ImplTLSPol, P),
		why:  map[string]string{ImplMox: "32 bits"},
	},
	{
		name: "STS-POL-9 max_age 0: only chasquid rejects",
		in:   withBody("version: STSv1\nmode: enforce\nmx: mx1.example.test\nmax_age: 0\n"),
		want: all(P, ImplChasquid, I),
		read: map[string]reading{ImplRFC: {"enforce", 0, []string{"mx1.example.test"}}},
	},
	{
		name:  "STS-POL-9 max_age +86400: go-mtasts accepts through strconv.Atoi",
		in:    withBody("version: STSv1\nmode: enforce\nmx: mx1.example.test\nmax_age: +86400\n"),
		want:  all(I, ImplGoMTASTS, P),
		read:  map[string]reading{ImplGoMTASTS: {"enforce", 86400, []string{"mx1.example.test"}}},
		rules: map[string]string{ImplGoMTASTS: "STS-POL-9"},
	},
	{
		name:  "STS-POL-8 missing mode: mailauth defaults to none",
		in:    withBody("version: STSv1\nmx: mx1.example.test\nmax_age: 86400\n"),
		want:  all(I, ImplMailauth, P),
		read:  map[string]reading{ImplMailauth: {"none", 86400, []string{"mx1.example.test"}}},
		rules: map[string]string{ImplMailauth: "STS-POL-8"},
	},
	{
		name: "STS-POL-12 mode none without mx is fine everywhere",
		in:   withBody("version: STSv1\nmode: none\nmax_age: 86400\n"),
		want: all(P),
	},
	{
		name: "STS-POL-6 enforce without mx is invalid everywhere",
		in:   withBody("version: STSv1\nmode: enforce\nmax_age: 86400\n"),
		want: all(I),
	},
	{
		name: "STS-POL-10 mx with a trailing dot: go-mtasts strips it, pmsr passes it on",
		in:   withBody("version: STSv1\nmode: enforce\nmx: mx1.example.test.\nmax_age: 86400\n"),
		want: all(I, ImplGoMTASTS, P, ImplPMSR, P),
		read: map[string]reading{
			ImplGoMTASTS: {"enforce", 86400, []string{"mx1.example.test"}},
			ImplPMSR:     {"enforce", 86400, []string{"mx1.example.test."}},
		},
	},
	{
		name: "STS-POL-11 comma-separated mx list",
		in:   withBody("version: STSv1\nmode: enforce\nmx: a.example.test, b.example.test\nmax_age: 86400\n"),
		want: all(I, ImplGoMTASTS, P, ImplPMSR, P),
	},
	{
		name:  "STS-POL-18 UTF-8 BOM: only mailauth (UTF-8 decoding) drops it",
		in:    withBody("\uFEFF" + healthyBody),
		want:  all(I, ImplMailauth, P),
		rules: map[string]string{ImplRFC: "STS-POL-18", ImplMailauth: "STS-POL-18"},
	},
	{
		name:  "STS-SEND-14 testing: pmsr and tlspol act as if there were no policy",
		in:    withBody("version: STSv1\nmode: testing\nmx: mx1.example.test\nmax_age: 86400\n"),
		want:  all(P, ImplPMSR, N, ImplTLSPol, N),
		read:  map[string]reading{ImplRFC: {"testing", 86400, []string{"mx1.example.test"}}, ImplMox: {"testing", 86400, []string{"mx1.example.test"}}},
		rules: map[string]string{ImplPMSR: "STS-SEND-14", ImplTLSPol: "STS-SEND-14"},
	},
	{
		name: "STS-POL-7 version STSv2",
		in:   withBody("version: STSv2\nmode: enforce\nmx: mx1.example.test\nmax_age: 86400\n"),
		want: all(I),
	},
}

func TestEmulate(t *testing.T) {
	impls := append([]string{ImplRFC}, Impls()...)
	for _, tc := range emulateCases {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.want) != len(impls) {
				t.Fatalf("test case must state all %d outcomes, has %d", len(impls), len(tc.want))
			}
			got := map[string]Verdict{ImplRFC: RFCReading(tc.in)}
			for _, v := range Emulate(tc.in) {
				got[v.Impl] = v
			}
			for _, impl := range impls {
				v, ok := got[impl]
				if !ok {
					t.Fatalf("no verdict for %s", impl)
				}
				if v.Outcome != tc.want[impl] {
					t.Errorf("%s: outcome %s, want %s (reason: %s)", impl, v.Outcome, tc.want[impl], v.Reason)
				}
				if v.Outcome != Policy && v.Reason == "" {
					t.Errorf("%s: %s without a reason", impl, v.Outcome)
				}
				if v.Outcome == Policy && impl != ImplRFC && !differs(v, got[ImplRFC]) && v.Reason != "" {
					t.Errorf("%s: reads the policy as the RFC does but gives reason %q", impl, v.Reason)
				}
			}
			for impl, r := range tc.read {
				v := got[impl]
				if v.Mode != r.mode || v.MaxAge != r.maxAge || !slices.Equal(v.MX, r.mx) {
					t.Errorf("%s: read mode=%q max_age=%d mx=%q, want mode=%q max_age=%d mx=%q",
						impl, v.Mode, v.MaxAge, v.MX, r.mode, r.maxAge, r.mx)
				}
			}
			for impl, rule := range tc.rules {
				if !slices.Contains(got[impl].Rules, rule) {
					t.Errorf("%s: rules %v, want %s among them (reason: %s)", impl, got[impl].Rules, rule, got[impl].Reason)
				}
			}
			for impl, s := range tc.why {
				if !strings.Contains(got[impl].Reason, s) {
					t.Errorf("%s: reason %q, want it to mention %q", impl, got[impl].Reason, s)
				}
			}
		})
	}
}

// TestHealthyNoDisagreements pins the world's policy: every implementation
// reads it exactly as RFC 8461 does (STS-POL-2, STS-FETCH-9, STS-TXT-8).
func TestHealthyNoDisagreements(t *testing.T) {
	in := healthy()
	if d := Disagreements(in); len(d) != 0 {
		t.Fatalf("disagreements on the healthy policy: %+v", d)
	}
	for _, v := range Emulate(in) {
		if v.Outcome != Policy || v.Mode != "enforce" || v.MaxAge != 86400 || !slices.Equal(v.MX, []string{"mx1.example.test"}) ||
			!v.Enforces || v.Reason != "" || v.Rules != nil || v.CacheFor != 86400 {
			t.Errorf("%s: %+v", v.Impl, v)
		}
	}
}

func TestDisagreements(t *testing.T) {
	cases := []struct {
		name string
		in   Input
		want []string
	}{
		{"STS-TXT-4 OPS-12 foreign TXT", withTXT(healthyTXT, "MS=ms12345"), []string{ImplGoMTASTS}},
		{"STS-SEND-14 testing", withBody("version: STSv1\nmode: testing\nmx: mx1.example.test\nmax_age: 86400\n"), []string{ImplPMSR, ImplTLSPol}},
		{"STS-POL-14 repeated max_age", withBody(policyWith("max_age: 604800\n")), []string{ImplGoMTASTS, ImplPMSR, ImplMailauth}},
		{"STS-FETCH-9 no Content-Type", withType(""), []string{ImplMox, ImplMailauth}},
		{"STS-POL-9 max_age 0", withBody("version: STSv1\nmode: none\nmax_age: 0\n"), []string{ImplChasquid}},
		{"STS-FETCH-5 404 (fetch error vs no policy)", withStatus(404), []string{ImplTLSPol}},
		{"STS-POL-3 blank line", withBody(healthyBody + "\n"), []string{ImplPMSR, ImplMailauth}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, v := range Disagreements(tc.in) {
				got = append(got, v.Impl)
				if v.Reason == "" || len(v.Rules) == 0 {
					t.Errorf("%s disagrees without reason or rules: %+v", v.Impl, v)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("disagreeing = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestGenericReason covers a disagreement no emulator names specifically:
// go-mtasts does not check mx syntax (STS-POL-16), so the RFC's reason is
// quoted.
func TestGenericReason(t *testing.T) {
	in := withBody("version: STSv1\nmode: enforce\nmx: mail*.example.test\nmax_age: 86400\n")
	for _, v := range Disagreements(in) {
		if v.Impl != ImplGoMTASTS {
			continue
		}
		if !strings.HasPrefix(v.Reason, "accepts what a strict RFC 8461 reader rejects") || !slices.Contains(v.Rules, "STS-POL-16") {
			t.Fatalf("go-mtasts: reason %q rules %v", v.Reason, v.Rules)
		}
		return
	}
	t.Fatal("go-mtasts does not disagree on mx mail*.example.test")
}

func TestRulesWellFormed(t *testing.T) {
	re := regexp.MustCompile(`^(STS-(TXT|FETCH|POL|SEND)-\d+|OPS-\d+)$`)
	for _, tc := range emulateCases {
		for _, v := range append(Emulate(tc.in), RFCReading(tc.in)) {
			for _, r := range v.Rules {
				if !re.MatchString(r) {
					t.Errorf("%s / %s: malformed rule id %q", tc.name, v.Impl, r)
				}
			}
		}
	}
}

// TestTLSPolCache: tlspol keeps a policy at most 30 days whatever max_age
// says (STS-SEND-5); that is not a different reading of max_age.
func TestTLSPolCache(t *testing.T) {
	in := withBody("version: STSv1\nmode: enforce\nmx: mx1.example.test\nmax_age: 31557600\n")
	for _, v := range Emulate(in) {
		want := int64(31557600)
		if v.Impl == ImplTLSPol {
			want = 30 * 24 * 3600
		}
		if v.CacheFor != want || v.MaxAge != 31557600 {
			t.Errorf("%s: max_age %d cache %d, want 31557600 / %d", v.Impl, v.MaxAge, v.CacheFor, want)
		}
	}
	if d := Disagreements(in); len(d) != 0 {
		t.Errorf("disagreements: %+v", d)
	}
}

func TestImplsOrder(t *testing.T) {
	want := []string{"mox", "go-mtasts", "pmsr", "tlspol", "mailauth", "chasquid"}
	if got := Impls(); !slices.Equal(got, want) {
		t.Fatalf("Impls() = %v, want %v", got, want)
	}
	for i, v := range Emulate(healthy()) {
		if v.Impl != want[i] {
			t.Errorf("Emulate()[%d].Impl = %s, want %s", i, v.Impl, want[i])
		}
	}
	if RFCReading(healthy()).Impl != "rfc8461" {
		t.Error("RFCReading is not named rfc8461")
	}
}

func TestMatchMX(t *testing.T) {
	one := []string{ImplRFC, ImplMox, ImplGoMTASTS, ImplChasquid}
	anyDepth := []string{ImplPMSR, ImplTLSPol, ImplMailauth}
	cases := []struct {
		name          string
		pattern, host string
		match         []string // implementations that match; all others must not
	}{
		{"STS-POL-15 one label", "*.example.test", "mx1.example.test", append(one, anyDepth...)},
		{"STS-POL-15 two labels: any-depth matchers only", "*.example.test", "a.b.example.test", anyDepth},
		{"STS-POL-15 the base name itself", "*.example.test", "example.test", nil},
		{"OPS-6 Microsoft DANE MX two labels below", "*.mx.microsoft", "icewolf-li.h-v1.mx.microsoft", anyDepth},
		{"STS-SEND-9 exact, case-insensitive", "mx1.example.test", "MX1.Example.TEST", append(one, anyDepth...)},
		{"STS-SEND-9 trailing root dot on the host: mailauth does not strip it", "mx1.example.test", "mx1.example.test.", append(one, ImplPMSR, ImplTLSPol)},
		{"STS-SEND-9 trailing dot on a wildcard host", "*.example.test", "mx1.example.test.", append(one, ImplPMSR, ImplTLSPol)},
		{"STS-POL-10 trailing dot on the pattern: go-mtasts strips it (Postfix assumed to)", "mx1.example.test.", "mx1.example.test", []string{ImplGoMTASTS, ImplPMSR, ImplTLSPol}},
		{"STS-POL-15 different name", "mx1.example.test", "mx2.example.test", nil},
		{"empty host", "*.example.test", "", nil},
		{"STS-POL-16 bare star", "*", "example", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, impl := range append([]string{ImplRFC}, Impls()...) {
				want := slices.Contains(tc.match, impl)
				if got := MatchMX(impl, tc.pattern, tc.host); got != want {
					t.Errorf("MatchMX(%s, %q, %q) = %t, want %t", impl, tc.pattern, tc.host, got, want)
				}
			}
		})
	}
	if MatchMX("postfix", "mx1.example.test", "mx1.example.test") {
		t.Error("an unknown implementation matched")
	}
}

// TestEmulateDoesNotModifyInput: emulators read Body and TXT, never write.
func TestEmulateDoesNotModifyInput(t *testing.T) {
	in := withBody("\uFEFFversion: STSv1\r\nmode: enforce\rmx: mx1.example.test\n\nmax_age: +1\n")
	body := slices.Clone(in.Body)
	txt := slices.Clone(in.TXT)
	Emulate(in)
	if !slices.Equal(in.Body, body) || !slices.Equal(in.TXT, txt) {
		t.Fatal("Emulate modified its input")
	}
}

// TestJSSplitCRLF pins mailauth's split against what /\r?\n/ does (STS-POL-2).
func TestJSSplitCRLF(t *testing.T) {
	cases := map[string][]string{
		"":          {""},
		"a\r\nb":    {"a", "b"},
		"a\r\r\nb":  {"a\r", "b"},
		"a\rb\n":    {"a\rb", ""},
		"a\r":       {"a\r"},
		"a\n\r\n":   {"a", "", ""},
		"\r\n\r\nx": {"", "", "x"},
	}
	for in, want := range cases {
		if got := jsSplitCRLF(in); !slices.Equal(got, want) {
			t.Errorf("jsSplitCRLF(%q) = %q, want %q", in, got, want)
		}
	}
}
