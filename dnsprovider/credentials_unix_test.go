//go:build unix

package dnsprovider_test

import (
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/stspilot/stspilot/dnsprovider"
)

func mkfifo(path string) error { return syscall.Mkfifo(path, 0o600) }

// A 0600 credentials file owned by another user is refused, by root too:
// that user could put their own token (or resolver settings) in it. The
// error names the owner, never a value.
func TestLoadCredentialsRefusesAnotherUsersFile(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to give a file to another user")
	}
	p := credFile(t, "CLOUDFLARE_API_TOKEN=planted-token\n", 0o600)
	if _, err := dnsprovider.LoadCredentials(p); err != nil {
		t.Fatalf("root's own file: %v", err)
	}
	const other = 54321
	if err := os.Chown(p, other, other); err != nil {
		t.Fatal(err)
	}
	_, err := dnsprovider.LoadCredentials(p)
	if !errors.Is(err, dnsprovider.ErrConfig) || !strings.Contains(err.Error(), "owned by uid 54321") {
		t.Errorf("file of uid %d: %v; want ErrConfig naming the owner", other, err)
	}
	if err != nil && strings.Contains(err.Error(), "planted-token") {
		t.Error("the value is in the error")
	}
	if _, err := dnsprovider.DefaultCredentials(p); !errors.Is(err, dnsprovider.ErrConfig) {
		t.Errorf("default path, file of uid %d: %v", other, err)
	}
}
