package certs

import (
	"crypto/x509"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/stspilot/stspilot/internal/testca"
)

// A Memo answers every call exactly as Verify answers it, and verifies a
// chain that verified once only again when it is asked at a time outside
// the chain's validity (there Verify's answer changes), for another name
// or other roots, or about other bytes.
func TestMemoAnswersAsVerify(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	root := newCA(t, "root")
	inter := issuer{root.MustIntermediate(t, testca.Options{
		Name: "intermediate", NotBefore: now.Add(-time.Hour), NotAfter: now.Add(48 * time.Hour),
	})}
	leaf := inter.leaf(t, "mx", []string{"mx.example.test"}, now.Add(-time.Hour), now.Add(24*time.Hour))
	other := inter.leaf(t, "mx", []string{"mx.example.test"}, now.Add(-time.Hour), now.Add(24*time.Hour))
	roots, otherRoots := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(root.Cert)
	otherRoots.AddCert(newCA(t, "other").Cert)
	chain := []*x509.Certificate{leaf, inter.Cert}
	var m Memo
	steps := []struct {
		name     string
		chain    []*x509.Certificate
		host     string
		roots    *x509.CertPool
		at       time.Time
		verified int64 // m.verified after the step
	}{
		{"first", chain, "mx.example.test", roots, now, 1},
		{"again a second later", chain, "mx.example.test", roots, now.Add(time.Second), 1},
		{"again, another name", chain, "other.example.test", roots, now, 2},
		{"that name again", chain, "other.example.test", roots, now.Add(time.Minute), 2},
		{"after the leaf expired", chain, "mx.example.test", roots, now.Add(25 * time.Hour), 3},
		{"before the leaf's validity", chain, "mx.example.test", roots, now.Add(-2 * time.Hour), 4},
		{"other roots", chain, "mx.example.test", otherRoots, now, 5},
		{"other roots again: untrusted is not kept", chain, "mx.example.test", otherRoots, now, 6},
		{"another leaf", []*x509.Certificate{other, inter.Cert}, "mx.example.test", roots, now, 7},
		{"the leaf alone", []*x509.Certificate{leaf}, "mx.example.test", roots, now, 8},
	}
	for _, s := range steps {
		got := m.Verify(s.chain, s.host, s.roots, s.at)
		want := Verify(s.chain, s.host, s.roots, s.at)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: Memo %+v, Verify %+v", s.name, got, want)
		}
		if n := m.verified.Load(); n != s.verified {
			t.Errorf("%s: %d chains verified so far, want %d", s.name, n, s.verified)
		}
	}
}

// Concurrent calls for one chain get one verification and the same answer.
func TestMemoConcurrentCallsVerifyOnce(t *testing.T) {
	now := time.Now()
	ca := newCA(t, "root")
	chain := []*x509.Certificate{ca.leaf(t, "p", []string{"mta-sts.example.test"}, now.Add(-time.Hour), now.Add(time.Hour))}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	var m Memo
	var wg sync.WaitGroup
	results := make([]Result, 8)
	for i := range results {
		wg.Go(func() { results[i] = m.Verify(chain, "mta-sts.example.test", roots, now) })
	}
	wg.Wait()
	for _, r := range results {
		if !r.Valid() || !reflect.DeepEqual(r, results[0]) {
			t.Errorf("results differ or are not valid: %+v", results)
			break
		}
	}
	if n := m.verified.Load(); n != 1 {
		t.Errorf("%d verifications for one chain asked 8 times at once, want 1", n)
	}
}
