package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An unknown key in the config file is a usage error that names the file,
// the line and the key, so a typo is found at once.
func TestConfigUnknownKeyNamed(t *testing.T) {
	p := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(p, []byte("ladder = testing@60:1m,enforce@60\nprovder = rfc2136\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(p, true)
	if err == nil || exitCode(err) != exitUsage {
		t.Fatalf("loadConfig = %v, %v; want a usage error", cfg, err)
	}
	want := "config file " + p + ", line 2: unknown key \"provder\"; want KEY = VALUE with KEY one of"
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q\ndoes not start %q", err, want)
	}
}

// docs/config.md has a row for every key the config file accepts.
func TestConfigDocCoversKeys(t *testing.T) {
	doc, err := os.ReadFile("../../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	for k := range configKeys {
		if !strings.Contains(string(doc), "| `"+k+"` |") {
			t.Errorf("docs/config.md has no row for the key %s", k)
		}
		if !strings.Contains(configSyntax.Want, k) {
			t.Errorf("configSyntax.Want does not list %s", k)
		}
	}
}
