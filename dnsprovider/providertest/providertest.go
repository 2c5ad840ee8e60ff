// Package providertest is the conformance suite every dnsprovider.Provider
// must pass: set, read back, re-set idempotently, foreign records of the
// same name preserved, delete only ours, long values split and joined
// (docs/design.md invariant 5). It runs against the in-memory provider, the fake
// Cloudflare API and rfc2136 on the real BIND9 of the test world.
package providertest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stspilot/stspilot/dnsprovider"
)

// Harness is what the suite needs besides the provider.
type Harness struct {
	Provider dnsprovider.Provider
	// Zone is the zone apex the provider manages.
	Zone string
	// Prefix makes the suite's names unique to this run (e.g. the test name
	// and a random suffix), so runs against a shared zone do not collide.
	Prefix string
	// AddForeign puts a TXT record at name behind the provider's back (the
	// way another tool or a person would), for the suite to check that it
	// survives. value is the unquoted text.
	AddForeign func(ctx context.Context, name, value string, ttl time.Duration) error
	// Served, when set, reads what the zone's authoritative server answers
	// for name (a DNS query), to check that what the provider reads is what
	// the world sees. Nil for providers without a server (memory, fakes).
	Served func(ctx context.Context, name string) (dnsprovider.TXTSet, error)
	// ServedMX, when set, reads the MX RRset the zone's authoritative
	// server answers for name.
	ServedMX func(ctx context.Context, name string) (dnsprovider.MXSet, error)
	// Timeout bounds each subtest; 0 means 30s.
	Timeout time.Duration
}

var seq atomic.Int64

// name returns a fresh absolute name inside the zone for one subtest.
func (h Harness) name(label string) string {
	return fmt.Sprintf("%s-%s-%d.%s", label, h.Prefix, seq.Add(1), strings.TrimSuffix(dnsprovider.Fqdn(h.Zone), "."))
}

// readServed reads the RRset at name with read (the provider's method
// called op) and, when served is set, checks that the zone's authoritative
// server answers the same set.
func readServed[S interface{ Equal(S) bool }](ctx context.Context, t *testing.T, op, zone, name string,
	read func(ctx context.Context, zone, name string) (S, error), served func(ctx context.Context, name string) (S, error),
) S {
	t.Helper()
	got, err := read(ctx, zone, name)
	if err != nil {
		t.Fatalf("%s(%s): %v", op, name, err)
	}
	if served != nil {
		s, err := served(ctx, name)
		if err != nil {
			t.Fatalf("%s(%s): what the server serves: %v", op, name, err)
		}
		if !s.Equal(got) {
			t.Errorf("the provider reads %v but the server serves %v", got, s)
		}
	}
	return got
}

// Run runs the whole suite as subtests of t.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.Timeout == 0 {
		h.Timeout = 30 * time.Second
	}
	if h.Prefix == "" {
		h.Prefix = "ct"
	}
	p := h.Provider
	const kind = dnsprovider.KindSTS
	ctxFor := func(t *testing.T) context.Context {
		ctx, cancel := context.WithTimeout(context.Background(), h.Timeout)
		t.Cleanup(cancel)
		return ctx
	}
	read := func(t *testing.T, ctx context.Context, name string) dnsprovider.TXTSet {
		t.Helper()
		return readServed(ctx, t, "ReadTXT", h.Zone, name, p.ReadTXT, h.Served)
	}

	t.Run("SetReadBack", func(t *testing.T) {
		ctx := ctxFor(t)
		name := "_mta-sts." + h.name("set")
		val := "v=STSv1; id=20261129000000abcdefgh;"
		ch, err := p.SetOurs(ctx, h.Zone, name, kind, val, 300*time.Second)
		if err != nil {
			t.Fatalf("SetOurs: %v", err)
		}
		if !ch.Changed || len(ch.Before.Values) != 0 || ch.ReplacedTTL != 0 {
			t.Errorf("first set: changed=%v before=%s replaced=%s", ch.Changed, ch.Before, ch.ReplacedTTL)
		}
		got := read(t, ctx, name)
		if !slices.Equal(got.Values, []string{val}) || got.TTL != 300*time.Second {
			t.Errorf("read back %s, want %q with TTL 5m", got, val)
		}
		if !got.Equal(ch.After) {
			t.Errorf("Change.After %s differs from the read-back %s", ch.After, got)
		}
		if !strings.Contains(ch.Record, `"`+val+`"`) || !strings.Contains(ch.Record, " 300 IN TXT ") {
			t.Errorf("Change.Record = %q", ch.Record)
		}
		// Idempotent: the same value again changes nothing.
		ch, err = p.SetOurs(ctx, h.Zone, name, kind, val, 300*time.Second)
		if err != nil || ch.Changed {
			t.Errorf("re-set: changed=%v err=%v", ch.Changed, err)
		}
		if got2 := read(t, ctx, name); !got2.Equal(got) {
			t.Errorf("re-set changed the zone: %s -> %s", got, got2)
		}
	})

	t.Run("ReplaceKeepsForeign", func(t *testing.T) {
		ctx := ctxFor(t)
		name := "_mta-sts." + h.name("foreign")
		foreign := []string{"google-site-verification=abc123", "v=STSv10 not ours", "v=spf1 -all"}
		for _, f := range foreign {
			if err := h.AddForeign(ctx, name, f, time.Hour); err != nil {
				t.Fatalf("AddForeign: %v", err)
			}
		}
		if _, err := p.SetOurs(ctx, h.Zone, name, kind, "v=STSv1; id=old1;", 2*time.Hour); err != nil {
			t.Fatalf("SetOurs old: %v", err)
		}
		// ttl 0 keeps the TTL of the record replaced; the old TTL is reported.
		ch, err := p.SetOurs(ctx, h.Zone, name, kind, "v=STSv1; id=new2;", 0)
		if err != nil {
			t.Fatalf("SetOurs new: %v", err)
		}
		if ch.ReplacedTTL != 2*time.Hour {
			t.Errorf("ReplacedTTL = %s, want 2h", ch.ReplacedTTL)
		}
		got := read(t, ctx, name)
		want := append(slices.Clone(foreign), "v=STSv1; id=new2;")
		slices.Sort(want)
		if !slices.Equal(got.Values, want) {
			t.Errorf("after replace: %q, want %q", got.Values, want)
		}
		if !slices.Equal(got.Foreign(kind), sorted(foreign)) {
			t.Errorf("foreign records changed: %q", got.Foreign(kind))
		}
		// Delete only ours; the foreign records stay; deleting again is a no-op.
		ch, err = p.DeleteOurs(ctx, h.Zone, name, kind)
		if err != nil || !ch.Changed || ch.ReplacedTTL != 2*time.Hour {
			t.Fatalf("DeleteOurs: changed=%v replaced=%s err=%v", ch.Changed, ch.ReplacedTTL, err)
		}
		if got := read(t, ctx, name); !slices.Equal(got.Values, sorted(foreign)) {
			t.Errorf("after delete: %q, want only %q", got.Values, foreign)
		}
		ch, err = p.DeleteOurs(ctx, h.Zone, name, kind)
		if err != nil || ch.Changed {
			t.Errorf("second delete: changed=%v err=%v", ch.Changed, err)
		}
	})

	t.Run("DuplicatesOfOursCollapse", func(t *testing.T) {
		// Two STSv1 records (sts-record.multiple, left by another tool):
		// setting ours leaves exactly one.
		ctx := ctxFor(t)
		name := "_mta-sts." + h.name("dup")
		for _, v := range []string{"v=STSv1; id=a;", "v=STSv1; id=b;"} {
			if err := h.AddForeign(ctx, name, v, 600*time.Second); err != nil {
				t.Fatalf("AddForeign: %v", err)
			}
		}
		if _, err := p.SetOurs(ctx, h.Zone, name, kind, "v=STSv1; id=b;", 0); err != nil {
			t.Fatalf("SetOurs: %v", err)
		}
		if got := read(t, ctx, name); !slices.Equal(got.Values, []string{"v=STSv1; id=b;"}) {
			t.Errorf("got %q, want exactly one record of ours", got.Values)
		}
	})

	t.Run("LongValueSplit", func(t *testing.T) {
		ctx := ctxFor(t)
		name := "_smtp._tls." + h.name("long")
		long := "v=TLSRPTv1; rua=mailto:" + strings.Repeat("r", 300) + "@example.test"
		if _, err := p.SetOurs(ctx, h.Zone, name, dnsprovider.KindTLSRPT, long, 0); err != nil {
			t.Fatalf("SetOurs: %v", err)
		}
		got := read(t, ctx, name)
		if !slices.Equal(got.Values, []string{long}) {
			t.Errorf("long value came back as %q", got.Values)
		}
		if got.TTL != dnsprovider.DefaultTTL {
			t.Errorf("TTL of a new record without a TTL = %s, want %s (never 0)", got.TTL, dnsprovider.DefaultTTL)
		}
		if _, err := p.DeleteOurs(ctx, h.Zone, name, dnsprovider.KindTLSRPT); err != nil {
			t.Fatalf("DeleteOurs: %v", err)
		}
		if got := read(t, ctx, name); len(got.Values) != 0 {
			t.Errorf("after delete: %q", got.Values)
		}
	})

	t.Run("KindsAreSeparate", func(t *testing.T) {
		// A TLSRPT record is foreign to the STS kind and the reverse.
		ctx := ctxFor(t)
		name := "_mta-sts." + h.name("kinds")
		if err := h.AddForeign(ctx, name, "v=TLSRPTv1; rua=mailto:x@example.test", time.Hour); err != nil {
			t.Fatalf("AddForeign: %v", err)
		}
		if _, err := p.SetOurs(ctx, h.Zone, name, kind, "v=STSv1; id=k1;", 0); err != nil {
			t.Fatal(err)
		}
		if _, err := p.DeleteOurs(ctx, h.Zone, name, kind); err != nil {
			t.Fatal(err)
		}
		if got := read(t, ctx, name); !slices.Equal(got.Values, []string{"v=TLSRPTv1; rua=mailto:x@example.test"}) {
			t.Errorf("got %q", got.Values)
		}
	})

	t.Run("RefusesForeignValue", func(t *testing.T) {
		ctx := ctxFor(t)
		name := "_mta-sts." + h.name("refuse")
		if _, err := p.SetOurs(ctx, h.Zone, name, kind, "google-site-verification=x", 0); err == nil {
			t.Error("SetOurs wrote a value that is not of our kind")
		}
		if got := read(t, ctx, name); len(got.Values) != 0 {
			t.Errorf("the refused write changed the zone: %q", got.Values)
		}
	})

	t.Run("OutsideZone", func(t *testing.T) {
		ctx := ctxFor(t)
		_, err := p.SetOurs(ctx, h.Zone, "_mta-sts.elsewhere.invalid.", kind, "v=STSv1; id=z;", 0)
		if err == nil {
			t.Error("SetOurs accepted a name outside the zone")
		}
	})

	if mp, ok := dnsprovider.MXOf(p); ok {
		t.Run("MX", func(t *testing.T) { runMX(t, h, mp, ctxFor) })
	}

	t.Run("CanceledContext", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := p.ReadTXT(ctx, h.Zone, "_mta-sts."+h.name("cancel"))
		if err == nil {
			t.Fatal("ReadTXT on a canceled context succeeded")
		}
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want one that wraps context.Canceled", err)
		}
		if !strings.HasPrefix(err.Error(), p.Name()+": ") {
			t.Errorf("error %q does not start with the provider's name", err)
		}
	})
}

func sorted(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// runMX checks the MX read and write of a provider that has one: the
// RRset becomes exactly what was asked, idempotently, with the TTL kept
// when none is given; TXT records of the name and the MX RRset of other
// names are left alone (invariant 5).
// The hosts are mx1, mx2, mx3 and mx5 of the zone, which must have
// addresses where the server checks MX targets (BIND check-integrity).
func runMX(t *testing.T, h Harness, p dnsprovider.MXProvider, ctxFor func(*testing.T) context.Context) {
	ctx := ctxFor(t)
	name := h.name("mx")
	other := h.name("mxother")
	host := func(l string) string { return l + "." + dnsprovider.Fqdn(h.Zone) }
	readMX := func(name string) dnsprovider.MXSet {
		t.Helper()
		return readServed(ctx, t, "ReadMX", h.Zone, name, p.ReadMX, h.ServedMX)
	}
	if err := h.AddForeign(ctx, name, "v=spf1 -all", time.Hour); err != nil {
		t.Fatalf("AddForeign: %v", err)
	}
	if got := readMX(name); len(got.Records) != 0 {
		t.Fatalf("a fresh name has MX records: %s", got)
	}
	old := []dnsprovider.MX{{Pref: 20, Host: host("mx2")}, {Pref: 10, Host: host("mx1")}}
	ch, err := p.SetMX(ctx, h.Zone, name, old, 600*time.Second)
	if err != nil {
		t.Fatalf("SetMX: %v", err)
	}
	if !ch.Changed || len(ch.Before.Records) != 0 || !strings.Contains(ch.Record, " 600 IN MX 10 "+host("mx1")) {
		t.Errorf("first SetMX: changed=%v before=%s record=%q", ch.Changed, ch.Before, ch.Record)
	}
	want := []dnsprovider.MX{{Pref: 10, Host: host("mx1")}, {Pref: 20, Host: host("mx2")}}
	got := readMX(name)
	if !slices.Equal(got.Records, want) || got.TTL != 600*time.Second {
		t.Fatalf("read back %s, want %v with TTL 10m", got, want)
	}
	if !got.Equal(ch.After) {
		t.Errorf("MXChange.After %s differs from the read-back %s", ch.After, got)
	}
	if _, err = p.SetMX(ctx, h.Zone, other, []dnsprovider.MX{{Pref: 5, Host: host("mx3")}}, 300*time.Second); err != nil {
		t.Fatalf("SetMX other: %v", err)
	}
	// Idempotent.
	if again, aerr := p.SetMX(ctx, h.Zone, name, want, 600*time.Second); aerr != nil || again.Changed {
		t.Errorf("re-set: changed=%v err=%v", again.Changed, aerr)
	}
	// Replace, keeping the TTL of the replaced RRset.
	ch, err = p.SetMX(ctx, h.Zone, name, []dnsprovider.MX{{Pref: 10, Host: host("mx5")}}, 0)
	if err != nil {
		t.Fatalf("SetMX replace: %v", err)
	}
	if !ch.Changed || ch.ReplacedTTL != 600*time.Second || !slices.Equal(ch.Before.Records, want) {
		t.Errorf("replace: changed=%v replaced=%s before=%s", ch.Changed, ch.ReplacedTTL, ch.Before)
	}
	if got := readMX(name); !slices.Equal(got.Records, []dnsprovider.MX{{Pref: 10, Host: host("mx5")}}) || got.TTL != 600*time.Second {
		t.Errorf("after replace: %s", got)
	}
	// A TTL change alone is a change.
	if ch, err := p.SetMX(ctx, h.Zone, name, []dnsprovider.MX{{Pref: 10, Host: host("mx5")}}, 60*time.Second); err != nil || !ch.Changed {
		t.Errorf("TTL change: changed=%v err=%v", ch.Changed, err)
	}
	if got := readMX(name); got.TTL != 60*time.Second || len(got.Records) != 1 {
		t.Errorf("after the TTL change: %s", got)
	}
	// Nothing else moved.
	if got := readMX(other); !slices.Equal(got.Records, []dnsprovider.MX{{Pref: 5, Host: host("mx3")}}) {
		t.Errorf("the MX RRset of another name changed: %s", got)
	}
	if txt, err := h.Provider.ReadTXT(ctx, h.Zone, name); err != nil || !slices.Equal(txt.Values, []string{"v=spf1 -all"}) {
		t.Errorf("the TXT records of the name changed: %s (%v)", txt, err)
	}
	// Never an empty RRset, never outside the zone.
	if _, err := p.SetMX(ctx, h.Zone, name, nil, 0); err == nil {
		t.Error("SetMX removed every MX record")
	}
	if _, err := p.SetMX(ctx, h.Zone, "elsewhere.invalid.", want, 0); err == nil {
		t.Error("SetMX accepted a name outside the zone")
	}
}
