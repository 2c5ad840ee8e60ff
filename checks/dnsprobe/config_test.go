package dnsprobe

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
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

// SystemResolver asks the system's resolvers as resolv.conf's options say:
// attempts:N sends, within timeout:N per try.
func TestSystemResolver(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	var n atomic.Int32
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
			n.Add(1)
		}
	}()
	path := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(path, []byte("nameserver "+pc.LocalAddr().String()+"\noptions rotate timeout:1 attempts:3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := SystemResolver(path)
	if err != nil || !slices.Equal(r.Servers, []string{pc.LocalAddr().String()}) || r.PerQuery != 3*time.Second || r.Tries != 3 {
		t.Fatalf("SystemResolver = %+v, %v; want 3 tries of 1s", r, err)
	}
	r.PerQuery = 600 * time.Millisecond // keep the test short; Tries stays
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := r.Query(ctx, "a.example.test", dns.TypeA); !errors.Is(err, ErrTimeout) {
		t.Errorf("err = %v, want ErrTimeout", err)
	}
	for end := time.Now().Add(time.Second); n.Load() < 3 && time.Now().Before(end); {
		time.Sleep(5 * time.Millisecond)
	}
	if got := n.Load(); got != 3 {
		t.Errorf("%d queries sent, want attempts:3", got)
	}
	if err := os.WriteFile(path, []byte("nameserver 192.0.2.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r, err := SystemResolver(path); err != nil || r.PerQuery != 0 || r.Tries != 0 {
		t.Errorf("without options: %+v, %v; want the defaults", r, err)
	}
	if _, err := SystemResolver(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: err = %v", err)
	}
}
