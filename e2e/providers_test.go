package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stspilot/stspilot/dnsprovider"
)

// TestProvidersBinaryNeverPrintsSecrets runs the built binary's
// `providers` with the world's real TSIG secret in RFC2136_KEY, every other
// secret setting set to a unique sentinel in the environment, and a 0600
// credentials file holding more sentinels: no secret may reach stdout or
// stderr, and the JSON must say which variables are set and from where.
func TestProvidersBinaryNeverPrintsSecrets(t *testing.T) {
	env := needWorld(t)
	bin := stspilotBin(t)
	home := t.TempDir()
	credDir := filepath.Join(home, ".config", "stspilot")
	if err := os.MkdirAll(credDir, 0o700); err != nil {
		t.Fatal(err)
	}
	secrets := []string{env["WORLD_TSIG_SECRET"]}
	extra := []string{
		"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"RFC2136_SERVER=" + env["WORLD_DNS"], "RFC2136_KEY_NAME=" + env["WORLD_TSIG_NAME"], "RFC2136_KEY=" + env["WORLD_TSIG_SECRET"],
	}
	var file strings.Builder
	for i, p := range dnsprovider.Providers(false) {
		for j, s := range p.Settings {
			if !s.Secret || s.Env == "RFC2136_KEY" {
				continue
			}
			v := fmt.Sprintf("E2EsentinelEnv%02d%02d", i, j)
			f := fmt.Sprintf("E2EsentinelFile%02d%02d", i, j)
			if j%2 == 0 {
				extra = append(extra, s.Env+"="+v)
			}
			fmt.Fprintf(&file, "%s=\"%s\"\n", s.Env, f)
			secrets = append(secrets, v, f)
		}
	}
	if err := os.WriteFile(filepath.Join(credDir, "credentials"), []byte(file.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	// The machine's own provider settings must not mix in, under any
	// of their names (lego's aliases, NAME_FILE) either.
	providerVar := map[string]bool{}
	for _, p := range dnsprovider.Providers(true) {
		for _, s := range p.Settings {
			for _, v := range s.Vars() {
				providerVar[v] = true
			}
		}
	}
	var base []string
	for _, kv := range childEnv("NO_COLOR=1") {
		k, _, _ := strings.Cut(kv, "=")
		if info, ok := dnsprovider.Lookup(strings.ToLower(strings.SplitN(k, "_", 2)[0])); providerVar[k] || ok && len(info.Settings) > 0 {
			continue
		}
		base = append(base, kv)
	}
	runBin := func(args ...string) (string, string, int) {
		ctx, cancel := context.WithTimeout(context.Background(), stspilotTime)
		defer cancel()
		out, errOut, code, err := run(ctx, append(base, extra...), bin, args...)
		if err != nil {
			t.Fatalf("stspilot %q: %v", args, err)
		}
		for _, s := range secrets {
			if strings.Contains(out+errOut, s) {
				t.Errorf("stspilot %q printed a secret (%.6s...)", args, s)
			}
		}
		return out, errOut, code
	}

	out, errOut, code := runBin("providers")
	if code != 0 || !strings.Contains(out, "rfc2136  ") || !strings.Contains(out, "RFC2136_KEY") || !strings.Contains(out, "set (environment)") {
		t.Errorf("providers: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = runBin("providers", "--json")
	if code != 0 {
		t.Fatalf("providers --json: exit %d: %s", code, errOut)
	}
	var doc struct {
		Schema    string `json:"schema"`
		Providers []struct {
			Name       string `json:"name"`
			Configured bool   `json:"configured"`
			Settings   []struct {
				Env    string `json:"env"`
				Secret bool   `json:"secret"`
				Set    bool   `json:"set"`
				Source string `json:"source"`
			} `json:"settings"`
		} `json:"providers"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || doc.Schema != "stspilot.providers/v1" {
		t.Fatalf("not a providers document (%v):\n%s", err, out)
	}
	for _, p := range doc.Providers {
		if p.Name == "rfc2136" && !p.Configured {
			t.Errorf("rfc2136 is not configured with the world's settings")
		}
		for j, s := range p.Settings {
			if !s.Secret || s.Env == "RFC2136_KEY" {
				continue
			}
			want := "file"
			if j%2 == 0 {
				want = "environment"
			}
			if !s.Set || s.Source != want {
				t.Errorf("%s: set=%v source=%q, want %s", s.Env, s.Set, s.Source, want)
			}
		}
	}
	// A credentials file anyone can read is refused, naming the fix and
	// no value.
	loose := filepath.Join(home, "loose")
	if err := os.WriteFile(loose, []byte(file.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(loose, 0o644)
	_, errOut, code = runBin("--credentials", loose, "providers")
	if code != 2 || !strings.Contains(errOut, "chmod 600") {
		t.Errorf("a 0644 credentials file: exit %d, stderr %q", code, errOut)
	}
}
