package loopback

import (
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestListenPairUnderLoad: with many TCP ports of 127.0.0.1 held (and
// more opened and closed all the while), the kernel's UDP pick lands on a
// port TCP cannot bind now and then -- the `bind: address already in use`
// the sandbox's DNS failed with. ListenPair must never fail: it retries.
func TestListenPairUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("holds thousands of ports")
	}
	var held []net.Listener
	for range 3000 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			break // out of descriptors: hold what we have
		}
		held = append(held, l)
	}
	t.Cleanup(func() {
		for _, l := range held {
			l.Close()
		}
	})
	// Churn: goroutines opening and closing TCP ports meanwhile.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				var ls []net.Listener
				for range 50 {
					if l, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
						ls = append(ls, l)
					}
				}
				time.Sleep(time.Millisecond)
				for _, l := range ls {
					l.Close()
				}
			}
		})
	}
	var retries atomic.Int64
	old := retried
	retried = func() { retries.Add(1) }
	t.Cleanup(func() { retried = old })

	const iterations = 500
	for i := range iterations {
		p, err := ListenPair("127.0.0.1")
		if err != nil {
			close(stop)
			wg.Wait()
			t.Fatalf("iteration %d: %v", i, err)
		}
		if p.Port() != p.TCP.Addr().(*net.TCPAddr).Port {
			t.Fatalf("UDP port %d, TCP port %d", p.Port(), p.TCP.Addr().(*net.TCPAddr).Port)
		}
		p.Close()
	}
	close(stop)
	wg.Wait()
	t.Logf("%d pairs with %d TCP ports held: %d fresh tries", iterations, len(held), retries.Load())
	if len(held) >= 2000 && retries.Load() == 0 {
		t.Errorf("no TCP bind failed in %d pairs with %d ports held: the test did not exercise the retry", iterations, len(held))
	}
}

func TestListenPairsOnePort(t *testing.T) {
	ps, err := ListenPairs("127.0.0.1", "127.0.0.2")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, p := range ps {
			p.Close()
		}
	}()
	if len(ps) != 2 || ps[0].Port() != ps[1].Port() || ps[1].Addr() != net.JoinHostPort("127.0.0.2", strconv.Itoa(ps[0].Port())) {
		t.Fatalf("pairs %v", ps)
	}
	ls, err := ListenTCP("127.0.0.1", "127.0.0.2")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	if len(ls) != 2 || ls[0].Addr().(*net.TCPAddr).Port != ls[1].Addr().(*net.TCPAddr).Port {
		t.Fatalf("listeners %v %v", ls[0].Addr(), ls[1].Addr())
	}
}

// TestListenPairRefusesQuickly: an address that cannot be bound at all
// fails at once, not after PortTries tries.
func TestListenPairRefusesQuickly(t *testing.T) {
	var retries atomic.Int64
	old := retried
	retried = func() { retries.Add(1) }
	t.Cleanup(func() { retried = old })
	if _, err := ListenPair("192.0.2.1"); err == nil {
		t.Fatal("bound a TEST-NET address that is not ours")
	}
	if retries.Load() != 0 {
		t.Fatalf("%d retries for an unbindable address", retries.Load())
	}
	// A later host that cannot be bound exhausts the tries with an error.
	if _, err := ListenTCP("127.0.0.1", "192.0.2.1"); err == nil {
		t.Fatal("bound a TEST-NET address that is not ours")
	}
}
