package dnsprovider_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stspilot/stspilot/dnsprovider"
)

func credFile(t *testing.T, body string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "credentials")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadCredentialsParses(t *testing.T) {
	body := "# stspilot credentials\n" +
		"\n" +
		"CLOUDFLARE_API_TOKEN=plain-token\r\n" +
		"  export DESEC_TOKEN = \"double quoted # not a comment\"  \n" +
		"\t# indented comment\n" +
		"GANDI_BEARER_TOKEN='single \"quoted\"'\n" +
		"PORKBUN_API_KEY=a=b=c\n" +
		"EMPTY=\n" +
		"ONE_CHAR=\"\n"
	src, err := dnsprovider.LoadCredentials(credFile(t, body, 0o600))
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"CLOUDFLARE_API_TOKEN": "plain-token",
		"DESEC_TOKEN":          "double quoted # not a comment",
		"GANDI_BEARER_TOKEN":   `single "quoted"`,
		"PORKBUN_API_KEY":      "a=b=c",
		"EMPTY":                "",
		"ONE_CHAR":             `"`,
	} {
		if got, ok := src.Lookup(k); !ok || got != want {
			t.Errorf("%s = %q, %v; want %q", k, got, ok, want)
		}
	}
	if _, ok := src.Lookup("NOPE"); ok {
		t.Error("an absent key was found")
	}
	// 0400 is stricter than 0600: fine.
	if _, err := dnsprovider.LoadCredentials(credFile(t, "A=1\n", 0o400)); err != nil {
		t.Errorf("mode 0400: %v", err)
	}
	// The environment wins over the file; a blank value in the
	// environment does not hide the file's.
	env := dnsprovider.EnvSource(func(k string) (string, bool) {
		return map[string]string{"CLOUDFLARE_API_TOKEN": "from-env", "DESEC_TOKEN": "  "}[k], k != "NONE"
	})
	c := dnsprovider.Chain(env, src)
	if v, _ := c.Lookup("CLOUDFLARE_API_TOKEN"); v != "from-env" {
		t.Errorf("chain: %q", v)
	}
	if v, _ := c.Lookup("DESEC_TOKEN"); v != "double quoted # not a comment" {
		t.Errorf("chain with a blank env value: %q", v)
	}
	if w := c.Where(); !strings.Contains(w, "the environment") || !strings.Contains(w, "credentials") {
		t.Errorf("Where = %q", w)
	}
}

// Unsafe files are refused before they are read, with ErrConfig and the
// command that fixes them.
func TestLoadCredentialsRefusesUnsafeFiles(t *testing.T) {
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660, 0o606, 0o700 | 0o004} {
		p := credFile(t, "CLOUDFLARE_API_TOKEN=world-readable-token\n", mode)
		_, err := dnsprovider.LoadCredentials(p)
		if !errors.Is(err, dnsprovider.ErrConfig) || !strings.Contains(err.Error(), "chmod 600 "+p) {
			t.Errorf("mode %04o: err = %v, want ErrConfig naming chmod 600", mode, err)
		}
		if err != nil && strings.Contains(err.Error(), "world-readable-token") {
			t.Errorf("mode %04o: the value is in the error", mode)
		}
	}
	dir := t.TempDir()
	target := credFile(t, "A=1\n", 0o600)
	link := filepath.Join(dir, "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if _, err := dnsprovider.LoadCredentials(link); !errors.Is(err, dnsprovider.ErrConfig) || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("symlink: %v", err)
	}
	sub := filepath.Join(dir, "adir")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := dnsprovider.LoadCredentials(sub); !errors.Is(err, dnsprovider.ErrConfig) || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: %v", err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := mkfifo(fifo); err == nil {
		if _, err := dnsprovider.LoadCredentials(fifo); !errors.Is(err, dnsprovider.ErrConfig) {
			t.Errorf("fifo: %v", err)
		}
	}
	if _, err := dnsprovider.LoadCredentials(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
	if _, err := dnsprovider.DefaultCredentials(filepath.Join(dir, "missing")); !errors.Is(err, dnsprovider.ErrNoCredentialsFile) {
		t.Errorf("missing default: %v", err)
	}
	if _, err := dnsprovider.DefaultCredentials(""); !errors.Is(err, dnsprovider.ErrNoCredentialsFile) {
		t.Errorf("no default path: %v", err)
	}
	if _, err := dnsprovider.DefaultCredentials(link); !errors.Is(err, dnsprovider.ErrConfig) {
		t.Errorf("a default path that is a symlink: %v", err)
	}
	big := credFile(t, "A="+strings.Repeat("x", 70<<10)+"\n", 0o600)
	if _, err := dnsprovider.LoadCredentials(big); !errors.Is(err, dnsprovider.ErrConfig) || strings.Contains(err.Error(), "xxxx") {
		t.Errorf("oversized: %v", err)
	}
}

// Bad content is ErrConfig naming the file and the line, never a value.
func TestLoadCredentialsBadLines(t *testing.T) {
	for _, tc := range []struct {
		body, want string
	}{
		{"A=1\nsecret-without-equals-sign\n", "line 2: want NAME=value"},
		{"A=1\n\n# c\nmy-key=secretvalue1\n", "line 4: want NAME=value"},
		{"1ABC=secretvalue2\n", "line 1: want NAME=value"},
		{"=secretvalue3\n", "line 1: want NAME=value"},
		{"A='secretvalue4\n", "line 1: unterminated quote in the value of A"},
		{"A=\"secretvalue5'\n", "line 1: unterminated quote in the value of A"},
		{"A=secretvalue6\nB=2\nA=secretvalue7\n", "line 3: A is set twice"},
		{"A=secret\x00value8\n", "binary content (NUL byte)"},
	} {
		p := credFile(t, tc.body, 0o600)
		_, err := dnsprovider.LoadCredentials(p)
		if !errors.Is(err, dnsprovider.ErrConfig) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%q: err = %v, want ErrConfig with %q and the path", tc.body, err, tc.want)
			continue
		}
		if regexp.MustCompile(`secret-?\w*value\d?|secret-without`).MatchString(err.Error()) {
			t.Errorf("%q: a value is in the error %q", tc.body, err)
		}
	}
}
