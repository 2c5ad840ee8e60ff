package dnsprobe

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// SystemServers is dnsclient.ReadResolvConf (whose tests hold the
// resolv.conf cases) with dnsprobe's prefix and sentinels.
func TestSystemServers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(path, []byte("nameserver\t127.0.0.53 # systemd-resolved\r\nnameserver ::1\nnameserver localhost\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := SystemServers(path); err != nil || !slices.Equal(got, []string{"127.0.0.53:53", "[::1]:53"}) {
		t.Errorf("SystemServers = %q, %v", got, err)
	}
	if err := os.WriteFile(path, []byte("# nothing\nsearch example.com\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := SystemServers(path); !errors.Is(err, ErrNoServers) || !strings.HasPrefix(err.Error(), "dnsprobe: ") {
		t.Errorf("no nameserver: err = %v, want ErrNoServers", err)
	}
	if _, err := SystemServers(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: err = %v", err)
	}
}
