//go:build unix

package envfile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// otherUID owns the files of another user in these tests: no account
// needs to exist for it.
const otherUID = 54321

// A file of another user is refused (as root too, like OpenSSH); root's
// own and the running user's files are accepted.
func TestCheckOwner(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to give a file to another user")
	}
	dir := t.TempDir()
	mine := filepath.Join(dir, "mine")
	theirs := filepath.Join(dir, "theirs")
	for _, p := range []string{mine, theirs} {
		if err := os.WriteFile(p, []byte("A=1\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(theirs, otherUID, otherUID); err != nil {
		t.Fatal(err)
	}
	if data, err := ReadFile(mine, ReadOptions{Max: 100, Check: CheckOwner}); err != nil || string(data) != "A=1\n" {
		t.Errorf("own file: %q, %v", data, err)
	}
	_, err := ReadFile(theirs, ReadOptions{Max: 100, Check: CheckOwner})
	var oe *OwnerError
	if !errors.Is(err, ErrOwner) || !errors.As(err, &oe) || oe.UID != otherUID || oe.Self != 0 {
		t.Errorf("file of uid %d: %v; want an *OwnerError", otherUID, err)
	}
	if _, err := ReadFile(theirs, ReadOptions{Max: 100, Check: CheckTrusted}); !errors.Is(err, ErrOwner) {
		t.Errorf("CheckTrusted, file of uid %d: %v", otherUID, err)
	}
}

// CheckTrusted also refuses a file that group or others may write.
func TestCheckTrustedMode(t *testing.T) {
	dir := t.TempDir()
	for mode, want := range map[os.FileMode]error{
		0o600: nil, 0o644: nil, 0o400: nil, 0o755: nil,
		0o620: ErrWritable, 0o602: ErrWritable, 0o666: ErrWritable, 0o660: ErrWritable,
	} {
		p := filepath.Join(dir, mode.String())
		if err := os.WriteFile(p, []byte("A=1\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadFile(p, ReadOptions{Max: 100, Check: CheckTrusted}); !errors.Is(err, want) || (want == nil) != (err == nil) {
			t.Errorf("mode %04o: %v; want %v", mode, err, want)
		}
	}
}
