package smtptest

import (
	"crypto/tls"
	"crypto/x509"
	"testing"
	"time"

	"github.com/stspilot/stspilot/internal/testca"
)

// CA is a throwaway certificate authority for tests (internal/testca's,
// with this package's defaults).
type CA struct {
	Cert *x509.Certificate
	ca   *testca.CA
}

// NewCA creates a self-signed root named name, valid from a day ago for ten
// years.
func NewCA(t testing.TB, name string) *CA {
	t.Helper()
	ca := testca.MustNew(t, testca.Options{Name: name, Organization: "smtptest"})
	return &CA{Cert: ca.Cert, ca: ca}
}

// Pool returns a pool holding only this CA, for Prober.Roots.
func (ca *CA) Pool() *x509.CertPool { return ca.ca.Pool() }

// Leaf describes a server certificate to issue.
type Leaf struct {
	DNSNames   []string
	CommonName string    // "" = none; senders never use it (STS-SEND-10)
	NotBefore  time.Time // zero = an hour ago
	NotAfter   time.Time // zero = in 90 days
	RSA        bool      // RSA 2048 key instead of ECDSA P-256 (for RSA key exchange suites)
}

// Issue signs a server certificate (serverAuth) and returns it ready for
// Server.Cert, with the chain [leaf].
func (ca *CA) Issue(t testing.TB, l Leaf) tls.Certificate {
	t.Helper()
	key := testca.ECDSA
	if l.RSA {
		key = testca.RSA
	}
	return ca.ca.MustIssue(t, testca.Leaf{
		Names: l.DNSNames, CommonName: l.CommonName,
		NotBefore: l.NotBefore, NotAfter: l.NotAfter, Key: key,
	})
}
