package dnsprovider

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// secretFile writes body to a fresh file of the given mode and returns
// its path.
func secretFile(t *testing.T, body string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// The aliases issue 15 asks for, with lego's meanings, in the documented
// order.
func TestLegoAliases(t *testing.T) {
	want := map[string][]string{
		"CLOUDFLARE_API_TOKEN":  {"CLOUDFLARE_DNS_API_TOKEN", "CF_DNS_API_TOKEN"},
		"CLOUDFLARE_ZONE_TOKEN": {"CLOUDFLARE_ZONE_API_TOKEN", "CF_ZONE_API_TOKEN"},
		"RFC2136_SERVER":        {"RFC2136_NAMESERVER"},
		"RFC2136_KEY_NAME":      {"RFC2136_TSIG_KEY"},
		"RFC2136_KEY_ALG":       {"RFC2136_TSIG_ALGORITHM"},
		"RFC2136_KEY":           {"RFC2136_TSIG_SECRET"},
	}
	for _, p := range Providers(true) {
		for _, s := range p.Settings {
			if !slices.Equal(s.Aliases, want[s.Env]) {
				t.Errorf("%s: aliases %q, want %q", s.Env, s.Aliases, want[s.Env])
			}
		}
	}
	cf, _ := Lookup("cloudflare")
	if got := cf.Settings[0].Vars(); !slices.Equal(got, []string{"CLOUDFLARE_API_TOKEN", "CLOUDFLARE_API_TOKEN_FILE", "CLOUDFLARE_DNS_API_TOKEN", "CLOUDFLARE_DNS_API_TOKEN_FILE", "CF_DNS_API_TOKEN", "CF_DNS_API_TOKEN_FILE"}) {
		t.Errorf("lookup order: %q", got)
	}
	rf, _ := Lookup("rfc2136")
	if got := rf.Settings[0].Vars(); !slices.Equal(got, []string{"RFC2136_SERVER", "RFC2136_NAMESERVER"}) {
		t.Errorf("a setting that is not secret has no NAME_FILE: %q", got)
	}
}

// Every alias (and every NAME_FILE of a secret) of every provider supplies
// its setting alone, and LookupSetting names it.
func TestEachAliasSuppliesItsSetting(t *testing.T) {
	for _, p := range Providers(true) {
		for _, s := range p.Settings {
			for _, sv := range s.vars() {
				val := "value-of-" + strings.ToLower(sv.name)
				given := val
				if sv.file {
					given = secretFile(t, val+"\n", 0o600)
				}
				got, from, err := LookupSetting(s, envOf(map[string]string{sv.name: given}))
				if err != nil || got != val || from != sv.name {
					t.Errorf("%s alone: %q from %q, %v", sv.name, got, from, err)
				}
			}
			if _, from, err := LookupSetting(s, envOf(nil)); from != "" || err != nil {
				t.Errorf("%s unset: from %q, %v", s.Env, from, err)
			}
		}
	}
}

// An operator's lego environment opens the provider unchanged: the
// Cloudflare token under either lego name (from a file too), and the
// RFC 2136 settings with lego's names and meanings (RFC2136_TSIG_KEY is the
// key's name, the algorithm with its trailing dot, the server without a
// port).
func TestLegoEnvironmentWorks(t *testing.T) {
	for _, env := range []map[string]string{
		{"CF_DNS_API_TOKEN": "cf-tok"},
		{"CLOUDFLARE_DNS_API_TOKEN": "cf-tok"},
		{"CF_DNS_API_TOKEN_FILE": secretFile(t, "cf-tok\n", 0o644)},
		{"CLOUDFLARE_API_TOKEN": "cf-tok", "CF_DNS_API_TOKEN": " cf-tok "}, // the same value: fine
	} {
		info, _ := Lookup("cloudflare")
		v, err := Resolve(info, envOf(env))
		if err != nil || v["api_token"] != "cf-tok" {
			t.Errorf("%v: %q, %v", keys(env), v["api_token"], err)
		}
		if _, err := Open("cloudflare", envOf(env), Env{}); err != nil {
			t.Errorf("open with %v: %v", keys(env), err)
		}
	}

	lego := map[string]string{
		"RFC2136_NAMESERVER":     "127.0.0.1",
		"RFC2136_TSIG_KEY":       "example.com",
		"RFC2136_TSIG_ALGORITHM": "hmac-sha512.",
		"RFC2136_TSIG_SECRET":    testKey,
	}
	info, _ := Lookup("rfc2136")
	v, err := Resolve(info, envOf(lego))
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewRFC2136Config(v)
	if err != nil || c.Server != "127.0.0.1:53" || c.KeyName != "example.com." || c.KeyAlg != "hmac-sha512." || c.Key != testKey {
		t.Errorf("lego's rfc2136 environment: %+v, %v", c, err)
	}
	lego["RFC2136_NAMESERVER"] = "ns1.example.test:5353"
	if v, _ := Resolve(info, envOf(lego)); v["server"] != "ns1.example.test:5353" {
		t.Errorf("host:port: %q", v["server"])
	}
	delete(lego, "RFC2136_TSIG_SECRET")
	lego["RFC2136_TSIG_SECRET_FILE"] = secretFile(t, testKey+"\n", 0o400)
	if _, err := Open("rfc2136", envOf(lego), Env{}); err != nil {
		t.Errorf("RFC2136_TSIG_SECRET_FILE: %v", err)
	}

	// The provider's own errors name the variable as the operator set it.
	lego["RFC2136_NAMESERVER"] = "ns1.example.test:0"
	_, err = Open("rfc2136", envOf(lego), Env{})
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "RFC2136_SERVER is set as RFC2136_NAMESERVER") || strings.Contains(err.Error(), "RFC2136_KEY is set") || strings.Contains(err.Error(), testKey) {
		t.Errorf("bad RFC2136_NAMESERVER: %v", err)
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Two variables of one setting that hold different values are refused
// with an error naming both and neither value, whichever pair it is and
// wherever each is set (the environment does not silently win over an
// alias in the credentials file).
func TestAliasConflicts(t *testing.T) {
	info, _ := Lookup("cloudflare")
	fileA := secretFile(t, "tok-from-file-a\n", 0o600)
	for _, c := range []struct {
		env, file map[string]string
		names     [2]string
	}{
		{env: map[string]string{"CLOUDFLARE_API_TOKEN": "tok-one", "CF_DNS_API_TOKEN": "tok-two"}, names: [2]string{"CLOUDFLARE_API_TOKEN", "CF_DNS_API_TOKEN"}},
		{env: map[string]string{"CLOUDFLARE_DNS_API_TOKEN": "tok-one", "CF_DNS_API_TOKEN": "tok-two"}, names: [2]string{"CLOUDFLARE_DNS_API_TOKEN", "CF_DNS_API_TOKEN"}},
		{env: map[string]string{"CF_DNS_API_TOKEN": "tok-one", "CF_DNS_API_TOKEN_FILE": fileA}, names: [2]string{"CF_DNS_API_TOKEN", "CF_DNS_API_TOKEN_FILE"}},
		{env: map[string]string{"CLOUDFLARE_API_TOKEN_FILE": fileA, "CF_DNS_API_TOKEN": "tok-two"}, names: [2]string{"CLOUDFLARE_API_TOKEN_FILE", "CF_DNS_API_TOKEN"}},
		{env: map[string]string{"CF_DNS_API_TOKEN": "tok-one"}, file: map[string]string{"CLOUDFLARE_API_TOKEN": "tok-two"}, names: [2]string{"CLOUDFLARE_API_TOKEN", "CF_DNS_API_TOKEN"}},
	} {
		src := Chain(envOf(c.env), &FileSource{Path: "creds", vals: c.file})
		_, err := Resolve(info, src)
		msg := ""
		if err != nil {
			msg = err.Error()
		}
		if !errors.Is(err, ErrConfig) || !strings.HasPrefix(msg, "cloudflare: ") || !strings.Contains(msg, c.names[0]+" and "+c.names[1]) {
			t.Errorf("%v + file %v: %v; want an ErrConfig naming %s and %s", keys(c.env), keys(c.file), err, c.names[0], c.names[1])
		}
		for _, secret := range []string{"tok-one", "tok-two", "tok-from-file-a", fileA} {
			if strings.Contains(msg, secret) {
				t.Errorf("the error holds %q: %s", secret, msg)
			}
		}
		if _, err := Open("cloudflare", src, Env{}); !errors.Is(err, ErrConfig) {
			t.Errorf("Open: %v", err)
		}
	}
	// The same value everywhere is no conflict; the first name supplies it.
	same := envOf(map[string]string{"CF_DNS_API_TOKEN": "tok", "CLOUDFLARE_API_TOKEN_FILE": secretFile(t, "tok\r\n", 0o600), "CLOUDFLARE_API_TOKEN": "tok"})
	if v, from, err := LookupSetting(info.Settings[0], same); err != nil || v != "tok" || from != "CLOUDFLARE_API_TOKEN" {
		t.Errorf("equal values: %q from %q, %v", v, from, err)
	}
}

// NAME_FILE is read through envfile's checks: a file others may write, a
// missing one, a directory, an empty one or one too large is refused with
// ErrConfig naming the variable, never the path (a secret put there by
// mistake would be the path) or the content.
func TestSecretFileRefusals(t *testing.T) {
	info, _ := Lookup("cloudflare")
	dir := t.TempDir()
	for name, path := range map[string]string{
		"group-writable": secretFile(t, "tok-gw\n", 0o660),
		"other-writable": secretFile(t, "tok-ow\n", 0o606),
		"missing":        filepath.Join(dir, "tok-missing"),
		"a directory":    dir,
		"empty":          secretFile(t, "\n", 0o600),
		"too large":      secretFile(t, "tok-"+strings.Repeat("x", 70<<10), 0o600),
		"a secret":       "tok-put-here-by-mistake",
	} {
		_, err := Resolve(info, envOf(map[string]string{"CF_DNS_API_TOKEN_FILE": path}))
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "CF_DNS_API_TOKEN_FILE") {
			t.Errorf("%s: %v; want ErrConfig naming CF_DNS_API_TOKEN_FILE", name, err)
			continue
		}
		if strings.Contains(err.Error(), "tok-") || strings.Contains(err.Error(), dir) {
			t.Errorf("%s: the error holds the path or the content: %v", name, err)
		}
		t.Logf("%s: %v", name, err)
	}
	// Readable by others is fine (Kubernetes mounts secrets 0644).
	if _, err := Resolve(info, envOf(map[string]string{"CF_DNS_API_TOKEN_FILE": secretFile(t, "tok\n", 0o644)})); err != nil {
		t.Errorf("0644: %v", err)
	}
}

// A NAME_FILE owned by another user is refused, by root too; root's own
// is accepted (Docker's secrets are root's).
func TestSecretFileOwner(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to give a file to another user")
	}
	info, _ := Lookup("rfc2136")
	p := secretFile(t, testKey+"\n", 0o444)
	env := map[string]string{"RFC2136_SERVER": "127.0.0.1", "RFC2136_KEY_NAME": "k", "RFC2136_KEY_FILE": p}
	if v, err := Resolve(info, envOf(env)); err != nil || v["key"] != testKey {
		t.Fatalf("root's file: %v", err)
	}
	if err := os.Chown(p, 54321, 54321); err != nil {
		t.Fatal(err)
	}
	_, err := Resolve(info, envOf(env))
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "RFC2136_KEY_FILE") || !strings.Contains(err.Error(), "owned by uid 54321") || strings.Contains(err.Error(), testKey) || strings.Contains(err.Error(), p) {
		t.Errorf("file of uid 54321: %v", err)
	}
}

// The credentials file keeps working, and may hold lego's names and
// NAME_FILE too.
func TestCredentialsFileWithAliases(t *testing.T) {
	tok := secretFile(t, "tok-in-file\n", 0o600)
	creds := secretFile(t, "CF_DNS_API_TOKEN=tok-a\nCLOUDFLARE_ZONE_API_TOKEN_FILE="+tok+"\nRFC2136_KEY="+testKey+"\n", 0o600)
	f, err := LoadCredentials(creds)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := Lookup("cloudflare")
	v, err := Resolve(info, Chain(envOf(nil), f))
	if err != nil || v["api_token"] != "tok-a" || v["zone_token"] != "tok-in-file" {
		t.Errorf("%v, %v", v, err)
	}
	if got := SecretValues(f); !slices.Contains(got, "tok-a") || !slices.Contains(got, "tok-in-file") || !slices.Contains(got, testKey) {
		t.Errorf("SecretValues: %d values, missing one", len(got))
	}
}

// SecretValues, what the debug log redacts, holds the secrets given under
// any name, the content of a NAME_FILE, and the value of a NAME_FILE that
// cannot be read (a secret put there by mistake).
func TestSecretValuesAliasesAndFiles(t *testing.T) {
	src := envOf(map[string]string{
		"CF_DNS_API_TOKEN":         "sv-alias",
		"RFC2136_TSIG_SECRET_FILE": secretFile(t, "sv-file\n", 0o600),
		"CF_ZONE_API_TOKEN_FILE":   "sv-misplaced",
		"RFC2136_TSIG_KEY":         "not-secret-key-name",
	})
	got := SecretValues(src)
	for _, want := range []string{"sv-alias", "sv-file", "sv-misplaced"} {
		if !slices.Contains(got, want) {
			t.Errorf("SecretValues lacks %q", want)
		}
	}
	if slices.Contains(got, "not-secret-key-name") {
		t.Error("a setting that is not secret is in SecretValues")
	}
}

// register refuses an alias that is not a variable name, ends in _FILE,
// or names a variable another setting of the provider already has.
func TestRegisterRefusesBadAliases(t *testing.T) {
	saved := slices.Clone(registry)
	t.Cleanup(func() { registry = saved })
	for name, s := range map[string][]Setting{
		"not a name":              {{Name: "a", Env: "ZZTEST_A", Aliases: []string{"BAD NAME"}}},
		"a _FILE":                 {{Name: "a", Env: "ZZTEST_A", Aliases: []string{"X_FILE"}}},
		"twice":                   {{Name: "a", Env: "ZZTEST_A", Aliases: []string{"X"}}, {Name: "b", Env: "ZZTEST_B", Aliases: []string{"X"}}},
		"an Env":                  {{Name: "a", Env: "ZZTEST_A", Aliases: []string{"ZZTEST_B"}}, {Name: "b", Env: "ZZTEST_B"}},
		"a NAME_FILE of a secret": {{Name: "a", Env: "ZZTEST_A", Secret: true}, {Name: "b", Env: "ZZTEST_B", Aliases: []string{"ZZTEST_A_FILE"}}},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: registered", name)
				}
			}()
			register(Info{Name: "zztest", HTTPClient: HTTPNone, Settings: s}, nil)
		}()
		registry = slices.Clone(saved)
	}
}

// A host name in RFC2136_SERVER (or RFC2136_NAMESERVER) is resolved once,
// at the first call and within its deadline; every later call, the SOA
// query of an explanation included, goes to that address.
func TestRFC2136ResolvesHostOnce(t *testing.T) {
	zone := exampleZone(t, oldSTS)
	addr := tsigServer(t, zone)
	_, port, _ := net.SplitHostPort(addr)
	c, err := NewRFC2136Config(Values{"server": "ns1.example.test:" + port, "key_name": "stspilot-key", "key": testKey})
	if err != nil {
		t.Fatal(err)
	}
	z := newRFC2136Zone(c, nil)
	var lookups atomic.Int32
	z.lookup = func(ctx context.Context, network, host string) ([]netip.Addr, error) {
		lookups.Add(1)
		if _, ok := ctx.Deadline(); !ok || host != "ns1.example.test" {
			t.Errorf("lookup of %q, deadline %v", host, ok)
		}
		return []netip.Addr{netip.MustParseAddr("::ffff:127.0.0.1")}, nil
	}
	p := z.provider()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for range 3 {
		if got, err := p.ReadTXT(ctx, "example.test", "_mta-sts.example.test"); err != nil || !slices.Contains(got.Values, oldSTS) {
			t.Fatalf("ReadTXT: %q, %v", got.Values, err)
		}
	}
	// Not an apex: the refusal is explained by a SOA query, to the same
	// address.
	if _, err := p.ReadTXT(ctx, "fresh.example.test", "_mta-sts.fresh.example.test"); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "inside the zone example.test.") {
		t.Errorf("not an apex: %v", err)
	}
	if n := lookups.Load(); n != 1 {
		t.Errorf("%d lookups, want 1", n)
	}

	// A lookup that never answers holds the call only until its deadline.
	z = newRFC2136Zone(c, nil)
	z.lookup = func(ctx context.Context, _, _ string) ([]netip.Addr, error) {
		<-ctx.Done()
		return nil, &net.DNSError{Err: ctx.Err().Error(), IsTimeout: true}
	}
	short, cancel2 := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel2()
	// The lookup returns only when its context ends: DeadlineExceeded
	// says the call's deadline reached it (no wall-clock bound, which
	// fails by chance on a loaded machine).
	_, err = z.provider().ReadTXT(short, "example.test", "_mta-sts.example.test")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a stuck lookup: %v, want the call's deadline", err)
	}
	// A name with no address is the operator's to fix.
	z = newRFC2136Zone(c, nil)
	z.lookup = func(context.Context, string, string) ([]netip.Addr, error) {
		return nil, &net.DNSError{Err: "no such host", Name: "ns1.example.test", IsNotFound: true}
	}
	if _, err := z.provider().ReadTXT(ctx, "example.test", "_mta-sts.example.test"); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "ns1.example.test") || strings.Contains(err.Error(), testKey) {
		t.Errorf("no address: %v", err)
	}
	// An address needs no lookup.
	z = newRFC2136Zone(RFC2136Config{Server: addr, KeyName: c.KeyName, KeyAlg: c.KeyAlg, Key: c.Key}, nil)
	z.lookup = func(context.Context, string, string) ([]netip.Addr, error) {
		t.Error("an address was looked up")
		return nil, errors.New("no")
	}
	if _, err := z.provider().ReadTXT(ctx, "example.test", "_mta-sts.example.test"); err != nil {
		t.Errorf("address: %v", err)
	}
}

// An exec publisher or hook runs without the secrets under any of their
// names: SecretVars lists lego's names and every NAME_FILE too, and no
// variable that is not secret.
func TestSecretVarsCoverAliases(t *testing.T) {
	got := SecretVars()
	for _, want := range []string{"CLOUDFLARE_API_TOKEN", "CLOUDFLARE_API_TOKEN_FILE", "CF_DNS_API_TOKEN", "CF_DNS_API_TOKEN_FILE", "CLOUDFLARE_DNS_API_TOKEN", "CF_ZONE_API_TOKEN_FILE", "RFC2136_KEY", "RFC2136_KEY_FILE", "RFC2136_TSIG_SECRET", "RFC2136_TSIG_SECRET_FILE", "ROUTE53_SECRET_ACCESS_KEY_FILE"} {
		if !slices.Contains(got, want) {
			t.Errorf("SecretVars lacks %s", want)
		}
	}
	for _, not := range []string{"RFC2136_TSIG_KEY", "RFC2136_NAMESERVER", "ROUTE53_REGION"} {
		if slices.Contains(got, not) {
			t.Errorf("SecretVars holds %s, which is not secret", not)
		}
	}
}
