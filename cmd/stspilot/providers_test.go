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
			t.Setenv(s.Env, "")
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
	if !conf["inwx"] || conf["cloudflare"] || !conf["route53"] {
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
