package senders

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// FuzzEmulate checks, for any input: no panic, a deterministic result, the
// fixed order of Impls, verdicts that are internally consistent, a reason on
// every disagreement, and that every accepted mx pattern matches a host it
// describes (STS-POL-15). TXT records are the lines of txt.
func FuzzEmulate(f *testing.F) {
	for _, tc := range emulateCases {
		in := tc.in
		if len(in.Body) > 8<<10 {
			// The size caps are table-tested; big seeds only make the
			// fuzzer's minimisation crawl.
			continue
		}
		f.Add(strings.Join(in.TXT, "\n"), in.Fetched, in.Status, in.Redirect, in.ContentType, in.Body, int64(in.Elapsed/time.Millisecond))
	}
	f.Fuzz(func(t *testing.T, txt string, fetched bool, status int, redirect bool, ct string, body []byte, elapsedMS int64) {
		in := Input{
			Fetched: fetched, Status: status, Redirect: redirect, ContentType: ct, Body: body,
			Elapsed: time.Duration(elapsedMS) * time.Millisecond,
		}
		if txt != "" {
			in.TXT = strings.Split(txt, "\n")
		}
		if !fetched {
			in.FetchError = "connection refused"
		}
		got := Emulate(in)
		if again := Emulate(in); !reflect.DeepEqual(got, again) {
			t.Fatalf("not deterministic:\n%+v\n%+v", got, again)
		}
		rfc := RFCReading(in)
		if rfc.Impl != ImplRFC {
			t.Fatalf("RFCReading named %q", rfc.Impl)
		}
		impls := Impls()
		if len(got) != len(impls) {
			t.Fatalf("%d verdicts for %d implementations", len(got), len(impls))
		}
		for i, v := range append(got, rfc) {
			if i < len(impls) && v.Impl != impls[i] {
				t.Fatalf("verdict %d is %s, want %s", i, v.Impl, impls[i])
			}
			checkVerdict(t, v)
			if v.Impl != ImplRFC && differs(v, rfc) && v.Reason == "" {
				t.Errorf("%s disagrees with the RFC reading without a reason: %+v vs %+v", v.Impl, v, rfc)
			}
		}
		var want []Verdict
		for _, v := range got {
			if differs(v, rfc) {
				want = append(want, v)
			}
		}
		if d := Disagreements(in); !reflect.DeepEqual(d, want) {
			t.Fatalf("Disagreements = %+v, want %+v", d, want)
		}
	})
}

// checkVerdict checks the invariants every verdict keeps.
func checkVerdict(t *testing.T, v Verdict) {
	t.Helper()
	switch v.Outcome {
	case Policy:
		if !slices.Contains([]string{"enforce", "testing", "none"}, v.Mode) {
			t.Errorf("%s: policy with mode %q", v.Impl, v.Mode)
		}
		if v.Enforces != (v.Mode == "enforce") {
			t.Errorf("%s: enforces=%t with mode %s", v.Impl, v.Enforces, v.Mode)
		}
		if v.CacheFor < 0 || v.CacheFor > max(v.MaxAge, 0) {
			t.Errorf("%s: caches %d s for max_age %d", v.Impl, v.CacheFor, v.MaxAge)
		}
		if v.Mode != "none" && len(v.MX) == 0 {
			t.Errorf("%s: mode %s without mx", v.Impl, v.Mode)
		}
		for _, p := range v.MX {
			host := p
			if s, ok := strings.CutPrefix(p, "*."); ok {
				host = "a." + s
			}
			if host != "" && !MatchMX(v.Impl, p, host) {
				t.Errorf("%s: pattern %q does not match %q", v.Impl, p, host)
			}
		}
	case NoPolicy, FetchError, Invalid:
		if v.Mode != "" || v.MaxAge != 0 || v.MX != nil || v.Enforces || v.CacheFor != 0 {
			t.Errorf("%s: %s with a reading: %+v", v.Impl, v.Outcome, v)
		}
		if v.Reason == "" {
			t.Errorf("%s: %s without a reason", v.Impl, v.Outcome)
		}
	default:
		t.Errorf("%s: unknown outcome %q", v.Impl, v.Outcome)
	}
	if v.Reason != "" && len(v.Rules) == 0 {
		t.Errorf("%s: reason %q without rules", v.Impl, v.Reason)
	}
}
