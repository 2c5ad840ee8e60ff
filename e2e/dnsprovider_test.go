package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/libdns/libdns"
	"github.com/libdns/rfc2136"
	"github.com/miekg/dns"

	"github.com/stspilot/stspilot/dnsprovider"
	"github.com/stspilot/stspilot/dnsprovider/providertest"
)

// rfc2136Env is the provider's settings for the world's BIND, as an
// operator would export them; override changes some.
func rfc2136Env(env Env, override map[string]string) dnsprovider.Source {
	m := map[string]string{
		"RFC2136_SERVER":   env["WORLD_DNS"],
		"RFC2136_KEY_NAME": env["WORLD_TSIG_NAME"],
		"RFC2136_KEY_ALG":  env["WORLD_TSIG_ALG"],
		"RFC2136_KEY":      env["WORLD_TSIG_SECRET"],
	}
	for k, v := range override {
		m[k] = v
	}
	return dnsprovider.EnvSource(func(k string) (string, bool) { v, ok := m[k]; return v, ok })
}

func openRFC2136(t *testing.T, env Env, override map[string]string) dnsprovider.Provider {
	t.Helper()
	p, err := dnsprovider.Open("rfc2136", rfc2136Env(env, override), dnsprovider.Env{Resolvers: []string{env["WORLD_DNS"]}})
	if err != nil {
		t.Fatalf("Open rfc2136: %v", err)
	}
	return p
}

// worldResolver asks the world's BIND as the resolver, and every name
// server on port 53.
func worldResolver(env Env) *dnsprovider.Resolver {
	return &dnsprovider.Resolver{Servers: []string{env["WORLD_DNS"]}, Port: "53", Timeout: 5 * time.Second}
}

func uniq(t *testing.T) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// servedTXT asks BIND directly (no recursion, miekg/dns, not our client)
// for the TXT RRset at name, decoding the escaped strings miekg/dns holds.
func servedTXT(t testing.TB, name string) dnsprovider.TXTSet {
	set := dnsprovider.TXTSet{Name: dnsprovider.Fqdn(name)}
	for _, rr := range query(t, name, dns.TypeTXT) {
		txt, ok := rr.(*dns.TXT)
		if !ok {
			continue
		}
		var b strings.Builder
		for _, s := range txt.Txt {
			b.WriteString(unescapeTXT(s))
		}
		set.Values = append(set.Values, b.String())
		set.TTL = max(set.TTL, time.Duration(txt.Hdr.Ttl)*time.Second)
	}
	slices.Sort(set.Values)
	return set
}

// unescapeTXT undoes miekg/dns's presentation escapes (\X, \DDD).
func unescapeTXT(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b = append(b, s[i])
			continue
		}
		if i+3 < len(s) && isD(s[i+1]) && isD(s[i+2]) && isD(s[i+3]) {
			b = append(b, (s[i+1]-'0')*100+(s[i+2]-'0')*10+(s[i+3]-'0'))
			i += 3
			continue
		}
		b = append(b, s[i+1])
		i++
	}
	return string(b)
}

func isD(c byte) bool { return c >= '0' && c <= '9' }

// addForeign writes a TXT record behind the provider's back, with
// libdns/rfc2136 itself (as another tool would).
func addForeign(env Env, zone string) func(ctx context.Context, name, value string, ttl time.Duration) error {
	lib := &rfc2136.Provider{KeyName: env["WORLD_TSIG_NAME"], KeyAlg: env["WORLD_TSIG_ALG"], Key: env["WORLD_TSIG_SECRET"], Server: env["WORLD_DNS"]}
	return func(ctx context.Context, name, value string, ttl time.Duration) error {
		_, err := lib.AppendRecords(ctx, zone, []libdns.Record{libdns.TXT{Name: dnsprovider.Fqdn(name), TTL: ttl, Text: value}})
		return err
	}
}

// removeNamesWith deletes, with libdns/rfc2136 itself, every record of the
// zone whose owner name contains part.
func removeNamesWith(t *testing.T, env Env, zone, part string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	lib := &rfc2136.Provider{KeyName: env["WORLD_TSIG_NAME"], KeyAlg: env["WORLD_TSIG_ALG"], Key: env["WORLD_TSIG_SECRET"], Server: env["WORLD_DNS"]}
	recs, err := lib.GetRecords(ctx, zone)
	if err != nil {
		t.Errorf("cleaning up the suite's names: %v", err)
		return
	}
	var ours []libdns.Record
	for _, r := range recs {
		if strings.Contains(r.RR().Name, part) {
			ours = append(ours, r)
		}
	}
	if len(ours) == 0 {
		return
	}
	if _, err := lib.DeleteRecords(ctx, zone, ours); err != nil {
		t.Errorf("cleaning up the suite's %d records: %v", len(ours), err)
	}
}

// TestRFC2136Conformance runs the provider conformance suite against
// rfc2136 on the world's BIND: what the provider reads must be what BIND
// serves, foreign records of the same name survive (invariant 5).
func TestRFC2136Conformance(t *testing.T) {
	env := needWorld(t)
	prefix := "e2e" + uniq(t)
	// The suite leaves its records (TXT and MX RRsets it may not empty) in
	// the world's zone: remove every record under this run's names, so the
	// zone stays what the world's table says (TestWorldZoneMatchesTable).
	t.Cleanup(func() { removeNamesWith(t, env, env["WORLD_ZONE"], "-"+prefix+"-") })
	providertest.Run(t, providertest.Harness{
		Provider:   openRFC2136(t, env, nil),
		Zone:       env["WORLD_ZONE"],
		Prefix:     prefix,
		AddForeign: addForeign(env, env["WORLD_ZONE"]),
		Served: func(ctx context.Context, name string) (dnsprovider.TXTSet, error) {
			return servedTXT(t, name), nil
		},
		ServedMX: func(ctx context.Context, name string) (dnsprovider.MXSet, error) {
			return servedMX(t, name), nil
		},
	})
}

// servedMX is the MX RRset BIND answers for name.
func servedMX(t testing.TB, name string) dnsprovider.MXSet {
	set := dnsprovider.MXSet{Name: dnsprovider.Fqdn(name)}
	var recs []dnsprovider.MX
	for _, rr := range query(t, name, dns.TypeMX) {
		if mx, ok := rr.(*dns.MX); ok {
			recs = append(recs, dnsprovider.MX{Pref: mx.Preference, Host: mx.Mx})
			set.TTL = max(set.TTL, time.Duration(mx.Hdr.Ttl)*time.Second)
		}
	}
	set.Records, _ = dnsprovider.NormalizeMX(recs)
	return set
}

// TestRFC2136QuotesAndBackslashes: a record of ours holding quotes and a
// backslash (left by another tool) is really deleted when ours is set, and a
// foreign one with the same characters is left exactly as it was.
// libdns/rfc2136 on its own deletes nothing in that case: it reads TXT text
// back in escaped form, and an exact delete with that text matches no record
// (see NewRFC2136 in dnsprovider).
func TestRFC2136QuotesAndBackslashes(t *testing.T) {
	env := needWorld(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	zone := env["WORLD_ZONE"]
	name := "_mta-sts.quotes-" + uniq(t) + "." + zone
	add := addForeign(env, zone)
	oursOld := `v=STSv1; id="q\1";`
	foreign := `say "hi" \ there`
	for _, v := range []string{oursOld, foreign} {
		if err := add(ctx, name, v, 600*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	both := []string{oursOld, foreign}
	slices.Sort(both)
	if got := servedTXT(t, name); !slices.Equal(got.Values, both) {
		t.Fatalf("setup: BIND serves %q", got.Values)
	}
	p := openRFC2136(t, env, nil)
	if got, err := p.ReadTXT(ctx, zone, name); err != nil || !slices.Equal(got.Values, both) {
		t.Fatalf("ReadTXT = %q, %v: the provider does not read the raw text", got.Values, err)
	}
	ch, err := p.SetOurs(ctx, zone, name, dnsprovider.KindSTS, "v=STSv1; id=clean1;", 0)
	if err != nil {
		t.Fatalf("SetOurs: %v", err)
	}
	want := []string{foreign, "v=STSv1; id=clean1;"}
	slices.Sort(want)
	if got := servedTXT(t, name); !slices.Equal(got.Values, want) || !slices.Equal(ch.After.Values, want) {
		t.Errorf("BIND serves %q, Change.After %q; want %q", got.Values, ch.After.Values, want)
	}
	if _, err := p.DeleteOurs(ctx, zone, name, dnsprovider.KindSTS); err != nil {
		t.Fatal(err)
	}
	if got := servedTXT(t, name); !slices.Equal(got.Values, []string{foreign}) {
		t.Errorf("after delete BIND serves %q", got.Values)
	}
}

// TestRFC2136WrongKey: a key BIND does not know is ErrAuth, and the error
// names the variables to check, never a secret.
func TestRFC2136WrongKey(t *testing.T) {
	env := needWorld(t)
	wrong := base64.StdEncoding.EncodeToString([]byte("not the world's key, 32 bytes!!!"))
	p := openRFC2136(t, env, map[string]string{"RFC2136_KEY": wrong})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	name := "_mta-sts.wrongkey-" + uniq(t) + "." + env["WORLD_ZONE"]
	_, rerr := p.ReadTXT(ctx, env["WORLD_ZONE"], name)
	_, serr := p.SetOurs(ctx, env["WORLD_ZONE"], name, dnsprovider.KindSTS, "v=STSv1; id=w1;", 0)
	for _, err := range []error{rerr, serr} {
		if err == nil {
			t.Fatal("a wrong key was accepted")
		}
		t.Logf("wrong key: %v", err)
		msg := err.Error()
		if !errors.Is(err, dnsprovider.ErrAuth) || !strings.HasPrefix(msg, "rfc2136: ") ||
			!strings.Contains(msg, "RFC2136_KEY_NAME") || !reKeyVar.MatchString(msg) {
			t.Errorf("err = %v; want ErrAuth naming RFC2136_KEY_NAME and RFC2136_KEY", err)
		}
		if strings.Contains(msg, wrong) || strings.Contains(msg, env["WORLD_TSIG_SECRET"]) {
			t.Errorf("a secret is in the error: %v", err)
		}
		if strings.Contains(msg, "not a zone apex") {
			t.Errorf("a wrong key was taken for a wrong zone: %v", err)
		}
	}
	if got := servedTXT(t, name); len(got.Values) != 0 {
		t.Errorf("the refused write changed the zone: %q", got.Values)
	}
}

// reKeyVar matches the variable RFC2136_KEY itself (not _KEY_NAME or _KEY_ALG).
var reKeyVar = regexp.MustCompile(`RFC2136_KEY([^_A-Z]|$)`)

// TestRFC2136NotApex: giving a name inside the zone as the zone (BIND
// answers NOTAUTH, read as "bad authentication") says which zone to use.
func TestRFC2136NotApex(t *testing.T) {
	env := needWorld(t)
	p := openRFC2136(t, env, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sub := "fresh." + env["WORLD_ZONE"]
	_, err := p.SetOurs(ctx, sub, "_mta-sts."+sub, dnsprovider.KindSTS, "v=STSv1; id=n1;", 0)
	if err == nil {
		t.Fatal("a write to a zone that is not an apex succeeded")
	}
	t.Logf("not an apex: %v", err)
	if !errors.Is(err, dnsprovider.ErrConfig) || errors.Is(err, dnsprovider.ErrAuth) ||
		!strings.Contains(err.Error(), "not a zone apex") || !strings.Contains(err.Error(), "inside the zone "+env["WORLD_ZONE"]+".") {
		t.Errorf("err = %v; want ErrConfig saying the zone is %s", err, env["WORLD_ZONE"])
	}
}

// TestFindZoneWorld: zone discovery through the world's BIND, for names in
// the zone, a name that does not exist, and names in the delegated child.
func TestFindZoneWorld(t *testing.T) {
	env := needWorld(t)
	child := env["WORLD_CHILD_ZONE"]
	if child == "" {
		t.Fatal("world.env has no WORLD_CHILD_ZONE: e2e/world is older than this test")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	q := worldResolver(env)
	zone := dnsprovider.Fqdn(env["WORLD_ZONE"])
	for name, want := range map[string]string{
		env["WORLD_ZONE"]:                     zone,
		"_mta-sts." + env["WORLD_ZONE"]:       zone,
		"_mta-sts.fresh." + env["WORLD_ZONE"]: zone,
		"_mta-sts." + child:                   dnsprovider.Fqdn(child),
		"_smtp._tls.nothing." + child:         dnsprovider.Fqdn(child),
		child:                                 dnsprovider.Fqdn(child),
	} {
		if got, err := dnsprovider.FindZone(ctx, q, name); err != nil || got != want {
			t.Errorf("FindZone(%s) = %q, %v; want %q", name, got, err, want)
		}
	}
	// The zone found is the one rfc2136 can write.
	p := openRFC2136(t, env, nil)
	name := "_mta-sts.child-" + uniq(t) + "." + child
	z, err := dnsprovider.FindZone(ctx, q, name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.SetOurs(ctx, z, name, dnsprovider.KindSTS, "v=STSv1; id=child1;", 0); err != nil {
		t.Fatalf("SetOurs in the child zone: %v", err)
	}
	res, err := dnsprovider.WaitPropagated(ctx, dnsprovider.PropagationOptions{Resolver: q, Interval: 200 * time.Millisecond}, z, name,
		func(s dnsprovider.TXTSet) bool { return slices.Equal(s.Values, []string{"v=STSv1; id=child1;"}) })
	if err != nil || len(res.Servers) != 1 || res.Servers[0].NS != "ns1."+dnsprovider.Fqdn(child) {
		t.Errorf("published gate in the child zone: %+v, %v", res.Servers, err)
	}
}

// TestWaitPropagatedWorld: the published gate against BIND: it sees the old
// record (and its TTL) until the write, then the new one.
func TestWaitPropagatedWorld(t *testing.T) {
	env := needWorld(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	zone := env["WORLD_ZONE"]
	name := "_mta-sts.gate-" + uniq(t) + "." + zone
	p := openRFC2136(t, env, nil)
	if _, err := p.SetOurs(ctx, zone, name, dnsprovider.KindSTS, "v=STSv1; id=old1;", 900*time.Second); err != nil {
		t.Fatal(err)
	}
	newVal := "v=STSv1; id=new2;"
	want := func(s dnsprovider.TXTSet) bool { return slices.Contains(s.Values, newVal) }

	// Not there yet: a short wait fails and names the server and what it answers.
	sctx, scancel := context.WithTimeout(ctx, 700*time.Millisecond)
	_, err := dnsprovider.WaitPropagated(sctx, dnsprovider.PropagationOptions{Resolver: worldResolver(env), Interval: 100 * time.Millisecond}, zone, name, want)
	scancel()
	if !errors.Is(err, dnsprovider.ErrNotPropagated) || !strings.Contains(err.Error(), "ns1."+zone+". ("+env["WORLD_DNS_IP"]+") mismatch") || !strings.Contains(err.Error(), "id=old1;") {
		t.Errorf("before the write: %v", err)
	}

	// Write once the gate has seen the old record; the gate then opens.
	sawOld := make(chan struct{})
	type out struct {
		res dnsprovider.Result
		err error
	}
	done := make(chan out, 1)
	go func() {
		once := false
		r, err := dnsprovider.WaitPropagated(ctx, dnsprovider.PropagationOptions{
			Resolver: worldResolver(env), Interval: 100 * time.Millisecond,
			Progress: func(s dnsprovider.ServerStatus) {
				if s.State == dnsprovider.ServerMismatch && !once {
					once = true
					close(sawOld)
				}
			},
		}, zone, name, want)
		done <- out{r, err}
	}()
	select {
	case <-sawOld:
	case <-ctx.Done():
		t.Fatal("the gate never reported the old record")
	}
	if _, err := p.SetOurs(ctx, zone, name, dnsprovider.KindSTS, newVal, 0); err != nil {
		t.Fatal(err)
	}
	o := <-done
	if o.err != nil || !o.res.Done() {
		t.Fatalf("after the write: %v %s", o.err, o.res.Summary())
	}
	if o.res.OldTTL != 900*time.Second || o.res.Polls < 2 {
		t.Errorf("OldTTL = %s, polls = %d; want 15m0s and at least 2", o.res.OldTTL, o.res.Polls)
	}
	s := o.res.Servers[0]
	if s.NS != "ns1."+dnsprovider.Fqdn(zone) || s.Addr.String() != env["WORLD_DNS_IP"] || s.Answer.TTL != 900*time.Second {
		t.Errorf("server status %+v", s)
	}

	// The manual provider reads the same through the authoritative servers.
	mp, err := dnsprovider.Open("manual", dnsprovider.EnvSource(func(string) (string, bool) { return "", false }), dnsprovider.Env{Resolvers: []string{env["WORLD_DNS"]}, Port: "53"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := mp.ReadTXT(ctx, zone, name)
	if err != nil || !slices.Equal(got.Values, []string{newVal}) {
		t.Errorf("manual ReadTXT = %s, %v", got, err)
	}
	ch, err := mp.SetOurs(ctx, zone, name, dnsprovider.KindSTS, newVal, 0)
	if err != nil || ch.Changed || !ch.Manual || ch.Record != dnsprovider.Fqdn(name)+` 900 IN TXT "`+newVal+`"` {
		t.Errorf("manual SetOurs of what is served: %+v %v", ch, err)
	}
}
