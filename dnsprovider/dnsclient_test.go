package dnsprovider

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// silentServer counts the UDP queries it gets and answers none.
func silentServer(t *testing.T) (addr string, queries *atomic.Int32) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	// The goroutine counts into n, not into the result variable, which
	// the return statement writes while the goroutine may read it.
	n := new(atomic.Int32)
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
			n.Add(1)
		}
	}()
	return pc.LocalAddr().String(), n
}

// settled is n once it reached want or a moment passed: the server may
// read the last query an instant after the exchange gave up.
func settled(n *atomic.Int32, want int32) int32 {
	for end := time.Now().Add(time.Second); n.Load() < want && time.Now().Before(end); {
		time.Sleep(5 * time.Millisecond)
	}
	return n.Load()
}

// The system resolvers are asked as resolv.conf's options timeout:N and
// attempts:N say; resolvers given explicitly, and a Timeout set, are not
// changed by them.
func TestResolvConfOptions(t *testing.T) {
	ask := func(r *Resolver) (time.Duration, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		start := time.Now()
		_, err := r.query(ctx, "a.example.test", dns.TypeA)
		return time.Since(start), err
	}
	conf := func(server, options string) string {
		path := filepath.Join(t.TempDir(), "resolv.conf")
		if err := os.WriteFile(path, []byte("nameserver "+server+"\noptions rotate "+options+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}

	// attempts:4 sets the tries; the Timeout set bounds the whole query.
	addr, n := silentServer(t)
	if _, err := ask(&Resolver{ResolvConf: conf(addr, "timeout:30 attempts:4"), Timeout: 400 * time.Millisecond}); err == nil {
		t.Fatal("a silent server answered")
	}
	if got := settled(n, 4); got != 4 {
		t.Errorf("attempts:4: %d queries sent, want 4", got)
	}

	// timeout:1 attempts:1, no Timeout set: one query, given one second.
	addr, n = silentServer(t)
	took, err := ask(&Resolver{ResolvConf: conf(addr, "timeout:1 attempts:1")})
	if err == nil || took < 900*time.Millisecond || took > 2500*time.Millisecond || settled(n, 1) != 1 {
		t.Errorf("timeout:1 attempts:1: %d queries, took %v, err %v; want 1 query, about 1s", n.Load(), took, err)
	}

	// Resolvers given explicitly get the defaults' tries.
	addr, n = silentServer(t)
	if _, err := ask(&Resolver{Servers: []string{addr}, ResolvConf: conf("127.0.0.1", "attempts:5"), Timeout: 300 * time.Millisecond}); err == nil {
		t.Fatal("a silent server answered")
	}
	if got := settled(n, 2); got != 2 {
		t.Errorf("explicit resolvers: %d queries sent, want the default 2", got)
	}
}
