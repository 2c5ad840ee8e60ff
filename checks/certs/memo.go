package certs

import (
	"bytes"
	"crypto/x509"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Memo verifies chains as Verify does and remembers the last few chains
// that verified: the same chain presented again (the same bytes, for the
// same name and roots) at a time inside the validity of the chain it
// built is answered without verifying it again, as Verify would answer
// then. A check fetches the policy from each address twice, as a sender
// and as a browser, over two connections that present the same chain; a
// Memo for the check verifies it once. Each handshake is still the
// server's proof that it holds the key (crypto/tls checks the handshake
// signature every time). Concurrent calls for one chain wait for one
// verification. The zero Memo is ready to use; safe for concurrent use.
type Memo struct {
	mu      sync.Mutex
	entries []*memoEntry // oldest first, at most memoSize
	// verified counts the chains really verified (for tests).
	verified atomic.Int64
}

const memoSize = 4

type memoEntry struct {
	host  string
	roots *x509.CertPool
	ders  [][]byte
	done  chan struct{} // closed once res and win are set
	res   Result
	win   *window // nil: not verified (not to be reused)
}

func (e *memoEntry) is(chain []*x509.Certificate, host string, roots *x509.CertPool) bool {
	if e.host != host || e.roots != roots || len(e.ders) != len(chain) {
		return false
	}
	for i, c := range chain {
		if !bytes.Equal(e.ders[i], c.Raw) {
			return false
		}
	}
	return true
}

// Verify is Verify through the memo.
func (m *Memo) Verify(chain []*x509.Certificate, host string, roots *x509.CertPool, now time.Time) Result {
	if m == nil || len(chain) == 0 {
		return Verify(chain, host, roots, now)
	}
	m.mu.Lock()
	for _, e := range m.entries {
		if !e.is(chain, host, roots) {
			continue
		}
		m.mu.Unlock()
		<-e.done
		if e.win != nil && e.win.holds(now) {
			return e.res.clone()
		}
		m.verified.Add(1)
		return Verify(chain, host, roots, now)
	}
	e := &memoEntry{host: host, roots: roots, done: make(chan struct{})}
	for _, c := range chain {
		e.ders = append(e.ders, c.Raw)
	}
	if len(m.entries) == memoSize {
		m.entries = slices.Delete(m.entries, 0, 1)
	}
	m.entries = append(m.entries, e)
	m.mu.Unlock()
	m.verified.Add(1)
	res, win := verify(chain, host, roots, now)
	e.res, e.win = res.clone(), win
	close(e.done)
	return res
}

// Verified is how many chains the memo has verified (the others it
// answered from memory).
func (m *Memo) Verified() int64 { return m.verified.Load() }

// clone is r with a DNSNames of its own.
func (r Result) clone() Result {
	r.DNSNames = slices.Clone(r.DNSNames)
	return r
}
