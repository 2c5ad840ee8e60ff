//go:build unix

package envfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ReadSecretFile takes what Docker and Kubernetes mount: a file owned by
// root or the running user, readable by others, behind a symbolic link;
// it trims the trailing line end and refuses what another user could have
// written or what is not one secret.
func TestReadSecretFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string, mode os.FileMode) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for body, want := range map[string]string{
		"tok-1\n":                          "tok-1",
		"tok-2\r\n":                        "tok-2",
		"tok-3":                            "tok-3",
		"tok-4\n\n":                        "tok-4",
		"  tok 5  \n":                      "  tok 5  ", // only line ends are trimmed here
		"line1\nline2\n":                   "line1\nline2",
		strings.Repeat("k", MaxSecretFile): strings.Repeat("k", MaxSecretFile),
	} {
		for _, mode := range []os.FileMode{0o600, 0o400, 0o644, 0o444, 0o640} {
			p := write("s", body, mode)
			if got, err := ReadSecretFile(p); err != nil || got != want {
				t.Errorf("%q mode %04o: %q, %v; want %q", body, mode, got, err, want)
			}
			os.Remove(p)
		}
	}
	// A Kubernetes secret volume: NAME -> ..data/NAME -> the file.
	data := filepath.Join(dir, "..2026_12_06")
	os.Mkdir(data, 0o755)
	os.WriteFile(filepath.Join(data, "token"), []byte("k8s-token\n"), 0o644)
	os.Symlink(filepath.Base(data), filepath.Join(dir, "..data"))
	os.Symlink(filepath.Join("..data", "token"), filepath.Join(dir, "token"))
	if got, err := ReadSecretFile(filepath.Join(dir, "token")); err != nil || got != "k8s-token" {
		t.Errorf("secret volume: %q, %v", got, err)
	}

	for name, c := range map[string]struct {
		body string
		mode os.FileMode
		want error
	}{
		"group-writable":  {"gw-secret\n", 0o620, ErrWritable},
		"other-writable":  {"ow-secret\n", 0o606, ErrWritable},
		"world-writable":  {"ww-secret\n", 0o666, ErrWritable},
		"empty":           {"", 0o600, ErrEmpty},
		"only line ends":  {"\n\r\n", 0o600, ErrEmpty},
		"blank":           {"  \n", 0o600, ErrEmpty},
		"binary":          {"bin\x00secret", 0o600, ErrBinary},
		"larger than cap": {strings.Repeat("x", MaxSecretFile+1), 0o600, ErrTooLarge},
	} {
		p := write(name, c.body, c.mode)
		got, err := ReadSecretFile(p)
		if !errors.Is(err, c.want) || got != "" {
			t.Errorf("%s: %q, %v; want %v", name, got, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: the content is in the error: %v", name, err)
		}
	}
	if _, err := ReadSecretFile(dir); !errors.Is(err, ErrNotRegular) {
		t.Errorf("directory: %v", err)
	}
	if _, err := ReadSecretFile(os.DevNull); !errors.Is(err, ErrNotRegular) {
		t.Errorf("device: %v", err)
	}
	if _, err := ReadSecretFile(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
}

// A secret file of another user is refused, by root too; root's own
// file (a Docker secret) is accepted.
func TestReadSecretFileOwner(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to give a file to another user")
	}
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte("root-secret\n"), 0o444); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadSecretFile(p); err != nil || got != "root-secret" {
		t.Fatalf("root's file: %q, %v", got, err)
	}
	if err := os.Chown(p, otherUID, otherUID); err != nil {
		t.Fatal(err)
	}
	_, err := ReadSecretFile(p)
	var oe *OwnerError
	if !errors.As(err, &oe) || oe.UID != otherUID || strings.Contains(err.Error(), "root-secret") {
		t.Errorf("file of uid %d: %v; want an *OwnerError", otherUID, err)
	}
}
