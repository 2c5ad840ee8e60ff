package dnsprovider

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestManualProvider: the manual provider reads the authoritative servers,
// writes nothing, and hands back the exact record to publish or delete.
func TestManualProvider(t *testing.T) {
	z := exampleZone(t, oldSTS)
	ns1 := &fakeServer{fill: serveZones(z)}
	q, _ := world(t, z, map[string]*fakeServer{"127.0.0.2": ns1})
	info, ok := Lookup("manual")
	if !ok || !info.Manual || len(info.Settings) != 0 {
		t.Fatalf("registry: %+v %v", info, ok)
	}
	p, err := Open("manual", EnvSource(func(string) (string, bool) { return "", false }), Env{Resolvers: q.Servers, Port: q.Port})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	name := "_mta-sts.example.test"

	got, err := p.ReadTXT(ctx, "example.test", name)
	if err != nil || !slices.Equal(got.Values, []string{"google-site-verification=abc", oldSTS}) || got.TTL != 600*time.Second {
		t.Fatalf("ReadTXT = %s, %v", got, err)
	}

	ch, err := p.SetOurs(ctx, "example.test", name, KindSTS, newSTS, 0)
	if err != nil {
		t.Fatal(err)
	}
	wantLine := `_mta-sts.example.test. 600 IN TXT "` + newSTS + `"`
	if !ch.Manual || !ch.Changed || ch.ReplacedTTL != 600*time.Second || !strings.HasPrefix(ch.Record, wantLine+"\n") ||
		!strings.Contains(ch.Record, "delete: _mta-sts.example.test. 600 IN TXT \""+oldSTS+"\"") {
		t.Errorf("SetOurs = %+v", ch)
	}
	if !slices.Equal(ch.After.Values, []string{"google-site-verification=abc", newSTS}) || !ch.Before.Equal(got) {
		t.Errorf("SetOurs before %s after %s", ch.Before, ch.After)
	}
	// What the zone already holds is not a change.
	ch, err = p.SetOurs(ctx, "example.test", name, KindSTS, oldSTS, 600*time.Second)
	if err != nil || ch.Changed || ch.Record != `_mta-sts.example.test. 600 IN TXT "`+oldSTS+`"` {
		t.Errorf("SetOurs of the current value: %+v %v", ch, err)
	}
	// Another TTL is a change.
	if ch, _ = p.SetOurs(ctx, "example.test", name, KindSTS, oldSTS, time.Hour); !ch.Changed || !strings.HasPrefix(ch.Record, "_mta-sts.example.test. 3600 IN TXT") {
		t.Errorf("SetOurs with a new TTL: %+v", ch)
	}
	if _, err := p.SetOurs(ctx, "example.test", name, KindSTS, "google-site-verification=x", 0); err == nil || !strings.HasPrefix(err.Error(), "manual: ") {
		t.Errorf("foreign value: %v", err)
	}

	ch, err = p.DeleteOurs(ctx, "example.test", name, KindSTS)
	if err != nil || !ch.Manual || !ch.Changed || ch.Record != `; delete: _mta-sts.example.test. 600 IN TXT "`+oldSTS+`"` ||
		!slices.Equal(ch.After.Values, []string{"google-site-verification=abc"}) {
		t.Errorf("DeleteOurs = %+v %v", ch, err)
	}
	ch, err = p.DeleteOurs(ctx, "example.test", "_mta-sts.fresh.example.test", KindSTS)
	if err != nil || ch.Changed {
		t.Errorf("DeleteOurs of nothing = %+v %v", ch, err)
	}
	if n := ns1.updates.Load(); n != 0 {
		t.Errorf("the manual provider sent %d updates", n)
	}
	if ns1.queries.Load() == 0 {
		t.Error("ns1 was never asked: ReadTXT did not read the authoritative servers")
	}

	cctx, ccancel := context.WithCancel(context.Background())
	ccancel()
	if _, err := p.ReadTXT(cctx, "example.test", name); !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "manual: ") {
		t.Errorf("canceled: %v", err)
	}
}

// TestManualNoAuthoritativeAnswer: when every server is lame, ReadTXT
// fails and says which.
func TestManualNoAuthoritativeAnswer(t *testing.T) {
	z := exampleZone(t, oldSTS)
	q, _ := world(t, z, map[string]*fakeServer{"127.0.0.2": {}, "::1": {}, "127.0.0.3": {}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := NewManual(q).ReadTXT(ctx, "example.test", "_mta-sts.example.test")
	if err == nil || !strings.Contains(err.Error(), "127.0.0.3) lame: answered REFUSED") {
		t.Errorf("err = %v", err)
	}
}

func envOf(m map[string]string) Source {
	return EnvSource(func(k string) (string, bool) { v, ok := m[k]; return v, ok })
}

const testKey = "c2VjcmV0LXRzaWcta2V5LWZvci10ZXN0cy0xMjM0NTY=" // base64, 32 bytes

func TestRFC2136Settings(t *testing.T) {
	base := map[string]string{"RFC2136_SERVER": "127.0.0.53", "RFC2136_KEY_NAME": "stspilot-key", "RFC2136_KEY": testKey}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range base {
			m[a] = b
		}
		if v == "<unset>" {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	info, ok := Lookup("rfc2136")
	if !ok || !slices.Equal(info.SecretEnv(), []string{"RFC2136_KEY"}) || info.Module == "" {
		t.Fatalf("registry: %+v", info)
	}
	v, err := Resolve(info, envOf(base))
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewRFC2136Config(v)
	if err != nil || c.Server != "127.0.0.53:53" || c.KeyName != "stspilot-key." || c.KeyAlg != "hmac-sha256." || c.Key != testKey {
		t.Errorf("defaults: %+v %v", c, err)
	}
	good := map[string][2]string{
		"v6 bare":     {"RFC2136_SERVER", "::1"},
		"v6 brackets": {"RFC2136_SERVER", "[::1]:5353"},
		"host:port":   {"RFC2136_SERVER", "ns1.example.test:53"},
		"sha512 caps": {"RFC2136_KEY_ALG", "HMAC-SHA512"},
		"alg dot":     {"RFC2136_KEY_ALG", "hmac-sha1."},
	}
	for n, kv := range good {
		v, err := Resolve(info, envOf(with(kv[0], kv[1])))
		if err == nil {
			_, err = NewRFC2136Config(v)
		}
		if err != nil {
			t.Errorf("%s: %v", n, err)
		}
	}
	bad := map[string][2]string{
		"no server":                {"RFC2136_SERVER", "<unset>"},
		"bad port":                 {"RFC2136_SERVER", "127.0.0.53:99999"},
		"v6 no brackets with port": {"RFC2136_SERVER", "[::1:53"},
		"md5":                      {"RFC2136_KEY_ALG", "hmac-md5"},
		"unknown alg":              {"RFC2136_KEY_ALG", "sha256"},
		"key name":                 {"RFC2136_KEY_NAME", "a..b"},
		"not base64":               {"RFC2136_KEY", "not*base64*SECRETVALUE"},
		"no key":                   {"RFC2136_KEY", "<unset>"},
	}
	for n, kv := range bad {
		p, err := Open("rfc2136", envOf(with(kv[0], kv[1])), Env{})
		if err == nil {
			t.Errorf("%s: Open accepted it: %v", n, p)
			continue
		}
		if !errors.Is(err, ErrConfig) || !strings.HasPrefix(err.Error(), "rfc2136: ") || !strings.Contains(err.Error(), kv[0]) {
			t.Errorf("%s: err = %v; want an ErrConfig that starts with rfc2136: and names %s", n, err, kv[0])
		}
		if strings.Contains(err.Error(), "SECRETVALUE") || strings.Contains(err.Error(), testKey) {
			t.Errorf("%s: the key is in the error: %v", n, err)
		}
	}
}

// TestRFC2136Unreachable: a server that does not answer gives an error
// that starts with the provider's name, within the caller's deadline.
func TestRFC2136Unreachable(t *testing.T) {
	v := Values{"server": "127.0.0.1:1", "key_name": "k", "key_alg": "hmac-sha256", "key": testKey}
	c, err := NewRFC2136Config(v)
	if err != nil {
		t.Fatal(err)
	}
	p := NewRFC2136(c, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err = p.ReadTXT(ctx, "example.test", "_mta-sts.example.test")
	if err == nil || !strings.HasPrefix(err.Error(), "rfc2136: ") || strings.Contains(err.Error(), testKey) {
		t.Errorf("err = %v", err)
	}
}
