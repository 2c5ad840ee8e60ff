package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stspilot/stspilot/dnsprovider"
	"github.com/stspilot/stspilot/dnsprovider/providertest"
)

// isolateProviderEnv clears every provider variable and points the default
// credentials file into a fresh directory, so the machine's own settings
// never leak into a test. It returns that directory's stspilot folder.
func isolateProviderEnv(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	for _, p := range dnsprovider.Providers(true) {
		for _, s := range p.Settings {
			for _, v := range s.Vars() { // aliases and NAME_FILE too
				t.Setenv(v, "")
			}
		}
	}
	// The AWS SDK's own variables make route53 configured.
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "AWS_") {
			t.Setenv(name, "")
		}
	}
	return filepath.Join(home, ".config", "stspilot")
}

func writeCreds(t *testing.T, path, body string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func decodeProviders(t *testing.T, out string) providersDoc {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	var doc providersDoc
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("not a providers document: %v\n%s", err, out)
	}
	if dec.More() {
		t.Fatalf("more than one JSON document:\n%s", out)
	}
	return doc
}

// Flags reach the options: names, --json and the global --credentials.
func TestProvidersFlags(t *testing.T) {
	isolateProviderEnv(t)
	var got *ProvidersOptions
	f, _, _ := testFactory("", &fakeChecker{})
	f.global = &globalOptions{JSON: true, Credentials: "/x/creds"}
	cmd := newProvidersCmd(f, func(_ context.Context, o *ProvidersOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"cloudflare", "route53"})
	if err := cmd.Execute(); err != nil || got == nil {
		t.Fatalf("err %v, options %v", err, got)
	}
	if !got.JSON || got.Credentials != "/x/creds" || !slices.Equal(got.Names, []string{"cloudflare", "route53"}) || got.LookupEnv == nil {
		t.Errorf("options: json=%v credentials=%q names=%q", got.JSON, got.Credentials, got.Names)
	}

	code, out, errOut := runCmd(t, &fakeChecker{}, "", "providers", "nosuch")
	if code != 2 || out != "" || !strings.Contains(errOut, `unknown DNS provider "nosuch"`) || !strings.Contains(errOut, "cloudflare") {
		t.Errorf("unknown provider: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestProvidersHuman(t *testing.T) {
	dir := isolateProviderEnv(t)
	t.Setenv("CLOUDFLARE_API_TOKEN", "cf-value-never-printed")
	t.Setenv("DESEC_TOKEN", "   ") // blank counts as not set
	writeCreds(t, filepath.Join(dir, "credentials"), "# test\nPORKBUN_API_KEY=pk1_value_never_printed\nPORKBUN_API_SECRET_KEY='sk1_value_never_printed'\n", 0o600)
	code, out, errOut := runCmd(t, &fakeChecker{}, "", "providers")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	for _, p := range dnsprovider.Providers(false) {
		if !strings.Contains(out, p.Name+"  "+p.Title+"  (") || !strings.Contains(out, "docs: "+p.Docs) {
			t.Errorf("%s: header or docs missing", p.Name)
		}
		for _, s := range p.Settings {
			if !strings.Contains(out, "  "+s.Env+" ") {
				t.Errorf("%s is not listed", s.Env)
			}
		}
	}
	for _, want := range []string{
		"cloudflare  Cloudflare  (configured)",
		"CLOUDFLARE_API_TOKEN   secret, required  set (environment)",
		"CLOUDFLARE_ZONE_TOKEN  secret            not set",
		"desec  deSEC  (not configured)",
		"porkbun  Porkbun  (configured)",
		"PORKBUN_API_SECRET_KEY  secret, required  set (file)",
		"memory", // must NOT appear: checked below
	} {
		if want == "memory" {
			if strings.Contains(out, "memory  ") {
				t.Error("the hidden memory provider is listed")
			}
			continue
		}
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(out, "DESEC_TOKEN  secret, required  missing") {
		t.Errorf("a blank DESEC_TOKEN must show as missing:\n%s", out)
	}
	if !strings.Contains(out, "then from the credentials file "+filepath.Join(dir, "credentials")+".") {
		t.Errorf("the credentials file is not named:\n%s", out)
	}
	if strings.Contains(out, "never_printed") || strings.Contains(out, "cf-value") {
		t.Errorf("a value is printed:\n%s", out)
	}
}

func TestProvidersJSON(t *testing.T) {
	dir := isolateProviderEnv(t)
	t.Setenv("ROUTE53_REGION", "eu-west-1")
	creds := filepath.Join(dir, "other")
	writeCreds(t, creds, "export INWX_USERNAME=me\nINWX_PASSWORD=\"pw-never-printed\"\nROUTE53_REGION=us-east-2\n", 0o600)
	code, out, errOut := runCmd(t, &fakeChecker{}, "", "--json", "--credentials", creds, "providers")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	doc := decodeProviders(t, out)
	if doc.Schema != "stspilot.providers/v1" || doc.CredentialsFile != creds || !doc.CredentialsFileFound {
		t.Errorf("header: %+v", doc)
	}
	var names []string
	for _, p := range doc.Providers {
		names = append(names, p.Name)
	}
	if !slices.Equal(names, dnsprovider.Names()) {
		t.Errorf("providers %q, want %q", names, dnsprovider.Names())
	}
	byEnv := map[string]settingJSON{}
	conf := map[string]bool{}
	for _, p := range doc.Providers {
		conf[p.Name] = p.Configured
		info, _ := dnsprovider.Lookup(p.Name)
		if len(p.Settings) != len(info.Settings) || p.Docs != info.Docs || p.Module != info.Module {
			t.Errorf("%s: differs from the registry", p.Name)
		}
		for _, s := range p.Settings {
			byEnv[s.Env] = s
		}
	}
	if s := byEnv["INWX_PASSWORD"]; !s.Set || s.Source != "file" || !s.Secret || !s.Required {
		t.Errorf("INWX_PASSWORD: %+v", s)
	}
	if s := byEnv["ROUTE53_REGION"]; !s.Set || s.Source != "environment" {
		t.Errorf("ROUTE53_REGION (the environment wins over the file): %+v", s)
	}
	if s := byEnv["CLOUDFLARE_API_TOKEN"]; s.Set || s.Source != "" {
		t.Errorf("CLOUDFLARE_API_TOKEN: %+v", s)
	}
	// route53's region alone does not make it configured (issue #15).
	if !conf["inwx"] || conf["cloudflare"] || conf["route53"] {
		t.Errorf("configured: %v", conf)
	}
	if strings.Contains(out, "pw-never-printed") || strings.Contains(out, "eu-west-1") {
		t.Errorf("a value is in the JSON:\n%s", out)
	}

	// One provider asked for by name.
	code, out, _ = runCmd(t, &fakeChecker{}, "", "providers", "--json", "--credentials", creds, "inwx")
	if doc := decodeProviders(t, out); code != 0 || len(doc.Providers) != 1 || doc.Providers[0].Name != "inwx" {
		t.Errorf("exit %d: %s", code, out)
	}
}

// An unsafe or broken credentials file is refused, naming the file and
// the line but never a value; a missing default file is fine.
func TestProvidersCredentialsFileErrors(t *testing.T) {
	dir := isolateProviderEnv(t)
	path := filepath.Join(dir, "credentials")
	writeCreds(t, path, "CLOUDFLARE_API_TOKEN=value-in-open-file\n", 0o644)
	code, out, errOut := runCmd(t, &fakeChecker{}, "", "providers")
	if code != 2 || out != "" || !strings.Contains(errOut, "chmod 600 "+path) || strings.Contains(errOut, "value-in-open-file") {
		t.Errorf("mode 0644: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	writeCreds(t, path, "GOOD=1\nthis line has secret-looking-text-xyz\n", 0o600)
	code, _, errOut = runCmd(t, &fakeChecker{}, "", "providers")
	if code != 2 || !strings.Contains(errOut, "line 2") || strings.Contains(errOut, "secret-looking-text-xyz") {
		t.Errorf("bad line: exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = runCmd(t, &fakeChecker{}, "", "--credentials", filepath.Join(dir, "nope"), "providers")
	if code != 2 || !strings.Contains(errOut, "nope") {
		t.Errorf("missing --credentials file: exit %d, stderr %q", code, errOut)
	}
	os.Remove(path)
	code, out, errOut = runCmd(t, &fakeChecker{}, "", "providers")
	if code != 0 || !strings.Contains(out, "(absent)") {
		t.Errorf("no default file: exit %d, stderr %q", code, errOut)
	}
}

// TestProvidersNeverPrintSecrets sets every secret setting of every
// provider to a unique sentinel, in the environment and in a 0600
// credentials file, and fails if any sentinel reaches stdout or stderr of
// `providers` and `providers --json`, or the CLI's error output of a
// provider call that fails with the token echoed back (cloudflare, fake API).
func TestProvidersNeverPrintSecrets(t *testing.T) {
	dir := isolateProviderEnv(t)
	var sentinels []string
	var file strings.Builder
	for i, p := range dnsprovider.Providers(true) {
		for j, s := range p.Settings {
			if !s.Secret {
				continue
			}
			env := fmt.Sprintf("SNTLenv%02d%02dQzxv", i, j)
			fil := fmt.Sprintf("SNTLfil%02d%02dQzxv", i, j)
			t.Setenv(s.Env, env)
			// The file holds them too (under the same names, the
			// environment wins) and under the variables of another run
			// shape: quoted, with export.
			fmt.Fprintf(&file, "export %s='%s'\n", s.Env, fil)
			sentinels = append(sentinels, env, fil)
		}
	}
	if len(sentinels) < 20 {
		t.Fatalf("only %d secret settings found: is the registry empty?", len(sentinels)/2)
	}
	creds := filepath.Join(dir, "credentials")
	writeCreds(t, creds, file.String(), 0o600)
	check := func(what, text string) {
		t.Helper()
		for _, s := range sentinels {
			if strings.Contains(text, s) {
				t.Errorf("%s contains the secret %s:\n%s", what, s, text)
				return
			}
		}
	}
	for _, args := range [][]string{
		{"providers"},
		{"providers", "--json"},
		{"--credentials", creds, "providers"},
		{"--credentials", creds, "--json", "providers", "cloudflare", "route53", "rfc2136"},
	} {
		code, out, errOut := runCmd(t, &fakeChecker{}, "", args...)
		if code != 0 {
			t.Errorf("%q: exit %d: %s", args, code, errOut)
		}
		check(fmt.Sprintf("stdout of %q", args), out)
		check(fmt.Sprintf("stderr of %q", args), errOut)
	}
	// Only the file: every secret shows as set from the file.
	for _, p := range dnsprovider.Providers(true) {
		for _, s := range p.Settings {
			if s.Secret {
				t.Setenv(s.Env, "")
			}
		}
	}
	code, out, _ := runCmd(t, &fakeChecker{}, "", "--json", "providers")
	check("providers --json with the file alone", out)
	for _, p := range decodeProviders(t, out).Providers {
		for _, s := range p.Settings {
			if s.Secret && (!s.Set || s.Source != "file") {
				t.Errorf("exit %d: %s is not shown as set from the file", code, s.Env)
			}
		}
	}

	// A provider call that fails with the token echoed in the API's answer,
	// printed the way the CLI prints errors.
	token := sentinels[0]
	fake := providertest.NewCloudflareFake(t, token, "example.test")
	fake.Fail = func(r *http.Request) (int, string) {
		return 401, providertest.CloudflareError(10000, "Invalid API token "+strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
	}
	_, err := dnsprovider.NewCloudflare(token, sentinels[1], fake.Client()).ReadTXT(context.Background(), "example.test", "_mta-sts.example.test")
	if err == nil {
		t.Fatal("the refused call succeeded")
	}
	var stderr bytes.Buffer
	printError(&stderr, err, nil)
	if code := exitCode(err); code != exitFailure {
		t.Errorf("exit code %d for a provider failure", code)
	}
	if !strings.Contains(stderr.String(), "CLOUDFLARE_API_TOKEN") {
		t.Errorf("the error does not say which variable to check: %s", stderr.String())
	}
	check("the CLI error of a refused cloudflare call", stderr.String())
}

// `providers` names the variable that supplied each setting when it is
// not the setting's own (a lego alias, a NAME_FILE), in text and JSON;
// a setting whose variables disagree, or whose NAME_FILE is refused, is
// shown refused with the reason (never a value) and leaves its provider
// not configured.
func TestProvidersShowAliasSource(t *testing.T) {
	dir := isolateProviderEnv(t)
	tokFile := filepath.Join(t.TempDir(), "cf_token")
	writeCreds(t, tokFile, "tsig-from-file-never-printed\n", 0o644)
	t.Setenv("CF_DNS_API_TOKEN", "cf-alias-never-printed")
	t.Setenv("RFC2136_NAMESERVER", "ns1.example.test")
	t.Setenv("RFC2136_TSIG_SECRET_FILE", tokFile)
	writeCreds(t, filepath.Join(dir, "credentials"), "RFC2136_TSIG_KEY=stspilot-key\nDESEC_TOKEN=desec-never-printed\nDESEC_TOKEN_FILE="+tokFile+"\n", 0o600)

	code, out, errOut := runCmd(t, &fakeChecker{}, "", "providers", "cloudflare", "rfc2136", "desec")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	for _, want := range []string{
		"cloudflare  Cloudflare  (configured)",
		"set (environment, as CF_DNS_API_TOKEN)",
		"rfc2136  RFC 2136 dynamic update",
		"set (environment, as RFC2136_NAMESERVER)",
		"set (file, as RFC2136_TSIG_KEY)",
		"set (environment, as RFC2136_TSIG_SECRET_FILE)",
		"also read as CLOUDFLARE_DNS_API_TOKEN, CF_DNS_API_TOKEN",
		"desec  deSEC  (not configured)",
		"DESEC_TOKEN refused: provider configuration: DESEC_TOKEN and DESEC_TOKEN_FILE are both set, to different values",
		"NAME_FILE",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(out, "rfc2136  RFC 2136 dynamic update (BIND, Knot, PowerDNS, ...)  (configured)") {
		t.Errorf("rfc2136 from lego's names is not configured:\n%s", out)
	}
	if strings.Contains(out, "never-printed") || strings.Contains(out, "never_printed") {
		t.Errorf("a value is printed:\n%s", out)
	}

	code, out, _ = runCmd(t, &fakeChecker{}, "", "providers", "--json", "cloudflare", "rfc2136", "desec")
	doc := decodeProviders(t, out)
	by := map[string]settingJSON{}
	conf := map[string]bool{}
	for _, p := range doc.Providers {
		conf[p.Name] = p.Configured
		for _, s := range p.Settings {
			by[s.Env] = s
		}
	}
	for env, want := range map[string][2]string{
		"CLOUDFLARE_API_TOKEN": {"CF_DNS_API_TOKEN", "environment"},
		"RFC2136_SERVER":       {"RFC2136_NAMESERVER", "environment"},
		"RFC2136_KEY_NAME":     {"RFC2136_TSIG_KEY", "file"},
		"RFC2136_KEY":          {"RFC2136_TSIG_SECRET_FILE", "environment"},
	} {
		if s := by[env]; !s.Set || s.Var != want[0] || s.Source != want[1] || s.Error != "" {
			t.Errorf("%s: %+v; want set by %s in the %s", env, s, want[0], want[1])
		}
	}
	if s := by["RFC2136_KEY_ALG"]; s.Set || s.Var != "" || !slices.Equal(s.Aliases, []string{"RFC2136_TSIG_ALGORITHM"}) {
		t.Errorf("RFC2136_KEY_ALG: %+v", s)
	}
	if s := by["DESEC_TOKEN"]; s.Set || !strings.Contains(s.Error, "DESEC_TOKEN and DESEC_TOKEN_FILE") {
		t.Errorf("DESEC_TOKEN: %+v", s)
	}
	if code != 0 || !conf["cloudflare"] || !conf["rfc2136"] || conf["desec"] {
		t.Errorf("exit %d, configured: %v", code, conf)
	}
	if strings.Contains(out, "never-printed") || strings.Contains(out, tokFile) {
		t.Errorf("a value or the secret file's path is in the JSON:\n%s", out)
	}

	// A NAME_FILE that is refused: shown with the reason, not its path.
	os.Chmod(tokFile, 0o666)
	_, out, _ = runCmd(t, &fakeChecker{}, "", "providers", "rfc2136")
	if !strings.Contains(out, "rfc2136  RFC 2136 dynamic update (BIND, Knot, PowerDNS, ...)  (not configured)") ||
		!strings.Contains(out, "RFC2136_KEY refused: provider configuration: the file that RFC2136_TSIG_SECRET_FILE names is writable by group or others") ||
		strings.Contains(out, tokFile) {
		t.Errorf("group-writable secret file:\n%s", out)
	}
}

// route53's settings are all optional: it is not "configured" merely
// because none is required (TestProvidersRoute53Readiness has its rule).
func TestProvidersRoute53Configured(t *testing.T) {
	isolateProviderEnv(t)
	_, out, _ := runCmd(t, &fakeChecker{}, "", "providers", "route53", "manual")
	if !strings.Contains(out, "route53  Amazon Route 53  (not configured)") {
		t.Errorf("route53 with nothing set:\n%s", out)
	}
	if !strings.Contains(out, "manual  Manual (you edit the zone)  (configured)") {
		t.Errorf("manual needs nothing:\n%s", out)
	}
	t.Setenv("ROUTE53_PROFILE", "ops")
	_, out, _ = runCmd(t, &fakeChecker{}, "", "--json", "providers", "route53")
	if doc := decodeProviders(t, out); len(doc.Providers) != 1 || !doc.Providers[0].Configured {
		t.Errorf("route53 with ROUTE53_PROFILE: %s", out)
	}
}

// route53 is "(configured)" only when its settings make it usable: its
// key ID with its secret, or its profile, or the AWS chain's credentials
// in the environment (named in the output); its region alone is not, and a
// key ID without its secret is refused on its row with the reason. The
// environment is the options' LookupEnv, never the process's.
func TestProvidersRoute53Readiness(t *testing.T) {
	home := t.TempDir()
	const secretValue = "r53-secret-never-printed"
	for _, c := range []struct {
		name    string
		env     map[string]string
		file    string // the default credentials file, when not empty
		want    bool
		by      string // the human line naming the environment's variables
		refused string // the human line of a refused setting
	}{
		{name: "nothing"},
		{name: "region only", env: map[string]string{"ROUTE53_REGION": "eu-west-1"}},
		{
			name: "key id only", env: map[string]string{"ROUTE53_ACCESS_KEY_ID": "AKIAEXAMPLE"},
			refused: "ROUTE53_ACCESS_KEY_ID refused: provider configuration: ROUTE53_ACCESS_KEY_ID is set but ROUTE53_SECRET_ACCESS_KEY is missing",
		},
		{name: "key id and secret", env: map[string]string{"ROUTE53_ACCESS_KEY_ID": "AKIAEXAMPLE", "ROUTE53_SECRET_ACCESS_KEY": secretValue}, want: true},
		{name: "key id, secret in the file", env: map[string]string{"ROUTE53_ACCESS_KEY_ID": "AKIAEXAMPLE"}, file: "ROUTE53_SECRET_ACCESS_KEY=" + secretValue + "\n", want: true},
		{name: "profile", env: map[string]string{"ROUTE53_PROFILE": "ops-never-printed"}, want: true},
		{
			name: "AWS keys", env: map[string]string{"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": secretValue}, want: true,
			by: "configured by AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment",
		},
		{name: "AWS_PROFILE", env: map[string]string{"AWS_PROFILE": "ops-never-printed"}, want: true, by: "configured by AWS_PROFILE in the environment"},
		{
			name: "web identity", env: map[string]string{"AWS_WEB_IDENTITY_TOKEN_FILE": "/var/run/token", "AWS_ROLE_ARN": "arn:aws:iam::1:role/dns"}, want: true,
			by: "configured by AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN in the environment",
		},
		{
			name: "container", env: map[string]string{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/x"}, want: true,
			by: "configured by AWS_CONTAINER_CREDENTIALS_RELATIVE_URI in the environment",
		},
		// The SDK reads the process environment, not stspilot's file.
		{name: "AWS_PROFILE in the file", file: "AWS_PROFILE=ops-never-printed\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(home, strings.ReplaceAll(c.name, " ", "-"))
			env := map[string]string{"HOME": dir}
			for k, v := range c.env {
				env[k] = v
			}
			if c.file != "" {
				writeCreds(t, filepath.Join(dir, ".config", "stspilot", "credentials"), c.file, 0o600)
			}
			opts := &ProvidersOptions{Names: []string{"route53"}, LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
			doc, err := providersReport(opts)
			if err != nil {
				t.Fatal(err)
			}
			p := doc.Providers[0]
			if p.Configured != c.want {
				t.Errorf("configured %v, want %v", p.Configured, c.want)
			}
			var by string
			if len(p.ConfiguredBy) > 0 {
				by = "configured by " + strings.Join(p.ConfiguredBy, " and ") + " in the environment"
			}
			if by != c.by {
				t.Errorf("configured_by %q, want the line %q", p.ConfiguredBy, c.by)
			}
			for _, s := range p.Settings {
				_, inEnv := c.env[s.Env]
				if inEnv != (s.Set && s.Source == "environment") {
					t.Errorf("%s: %+v", s.Env, s)
				}
				if refused := c.refused != "" && strings.HasPrefix(c.refused, s.Env+" "); refused != (s.Error != "") {
					t.Errorf("%s: error %q", s.Env, s.Error)
				}
			}
			var human bytes.Buffer
			if err := writeProvidersHuman(&human, doc); err != nil {
				t.Fatal(err)
			}
			out := human.String()
			status := "(not configured)"
			if c.want {
				status = "(configured)"
			}
			for _, want := range []string{"route53  Amazon Route 53  " + status, c.by, c.refused} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			if c.by == "" && strings.Contains(out, "configured by") {
				t.Errorf("output names the environment:\n%s", out)
			}
			if c.refused == "" && strings.Contains(out, "refused") {
				t.Errorf("a setting is refused:\n%s", out)
			}
			raw, _ := json.Marshal(doc)
			if strings.Contains(out+string(raw), secretValue) || strings.Contains(out+string(raw), "AKIAEXAMPLE") || strings.Contains(out+string(raw), "never-printed") {
				t.Errorf("a value is printed:\n%s\n%s", out, raw)
			}
		})
	}
}

// TestProvidersNeverPrintAliasSecrets is TestProvidersNeverPrintSecrets
// for the other names: every alias of every secret set to its own
// sentinel (so each disagrees with the setting's own variable), every
// NAME_FILE naming a file that holds another, and one NAME_FILE holding a
// sentinel instead of a path. No sentinel, and no secret file's path,
// reaches the output of `providers` or the CLI's error of opening each
// provider.
func TestProvidersNeverPrintAliasSecrets(t *testing.T) {
	dir := isolateProviderEnv(t)
	files := t.TempDir()
	var sentinels []string
	misplaced := false
	n := 0
	for _, p := range dnsprovider.Providers(true) {
		for _, s := range p.Settings {
			if !s.Secret {
				continue
			}
			for _, v := range s.Vars() {
				n++
				val := fmt.Sprintf("SNTLals%03dQzxv", n)
				sentinels = append(sentinels, val)
				switch {
				case !strings.HasSuffix(v, dnsprovider.FileSuffix):
					t.Setenv(v, val)
				case !misplaced:
					misplaced = true
					t.Setenv(v, val) // a secret where its path belongs
				default:
					path := filepath.Join(files, fmt.Sprintf("SNTLpath%03d", n))
					writeCreds(t, path, val+"\n", 0o400)
					sentinels = append(sentinels, path)
					t.Setenv(v, path)
				}
			}
		}
	}
	if n < 40 {
		t.Fatalf("only %d secret variables: are the aliases and NAME_FILE forms missing?", n)
	}
	creds := filepath.Join(dir, "credentials")
	writeCreds(t, creds, "CF_ZONE_API_TOKEN=SNTLinfileQzxv\n", 0o600)
	sentinels = append(sentinels, "SNTLinfileQzxv")
	check := func(what, text string) {
		t.Helper()
		for _, s := range sentinels {
			if strings.Contains(text, s) {
				t.Errorf("%s contains %s:\n%s", what, s, text)
				return
			}
		}
	}
	for _, args := range [][]string{
		{"providers"},
		{"providers", "--json"},
		{"--credentials", creds, "--json", "providers", "cloudflare", "route53", "rfc2136"},
	} {
		code, out, errOut := runCmd(t, &fakeChecker{}, "", args...)
		if code != 0 {
			t.Errorf("%q: exit %d: %s", args, code, errOut)
		}
		check(fmt.Sprintf("stdout of %q", args), out)
		check(fmt.Sprintf("stderr of %q", args), errOut)
	}
	src := dnsprovider.Chain(dnsprovider.EnvSource(os.LookupEnv), mustCreds(t, creds))
	for _, name := range dnsprovider.Names() {
		_, err := dnsprovider.Open(name, src, dnsprovider.Env{})
		if err == nil {
			if name == "cloudflare" {
				t.Error("cloudflare opened with disagreeing tokens")
			}
			continue
		}
		var stderr bytes.Buffer
		printError(&stderr, err, nil)
		check("the CLI error of opening "+name, stderr.String())
	}
}

func mustCreds(t *testing.T, path string) *dnsprovider.FileSource {
	t.Helper()
	f, err := dnsprovider.LoadCredentials(path)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
