// Package testca is a throwaway certificate authority kept in memory: a
// root (or an intermediate under it) that issues server certificates for
// loopback worlds. The tests use it, and so does the sandbox behind
// `stspilot demo`, whose checks trust nothing but its pool.
//
//	ca, err := testca.New(testca.Options{Name: "example root"})
//	cert, err := ca.Issue(testca.Leaf{Names: []string{"mx1.example.test"}})
//	roots := ca.Pool()
//
// Every leaf can be shaped for the failures a check must catch: a validity
// window in the past or the future (expired, not yet valid), names the
// host does not have, a subject common name without SANs, an RSA key, a
// chain with or without its issuers, or an issuer no pool trusts (a second
// CA). Key generation and signing only fail when the system's random
// source does; the error is returned, never a panic.
//
// The package imports nothing else of the module, so every layer may use it.
package testca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// KeyType selects the key algorithm of a certificate.
type KeyType int

// The key types.
const (
	ECDSA KeyType = iota // ECDSA P-256 (the default)
	RSA                  // RSA 2048
)

// Options shape a CA certificate.
type Options struct {
	// Name is the subject common name; "" = "stspilot throwaway CA".
	Name string
	// Organization, when set, is the subject's organization.
	Organization string
	// NotBefore and NotAfter bound its validity; zero = a day before
	// Now, ten years after Now.
	NotBefore, NotAfter time.Time
	// Now is the time the defaults count from; zero = the wall clock.
	Now time.Time
}

// CA is a certificate authority: a certificate and its key, plus the
// certificates above it when it is an intermediate.
type CA struct {
	// Cert is the CA's own certificate.
	Cert *x509.Certificate
	// Key signs what the CA issues.
	Key crypto.Signer
	// chain is Cert.Raw followed by every issuer up to the root.
	chain [][]byte
}

// New creates a self-signed root.
func New(o Options) (*CA, error) {
	return newCA(o, nil)
}

// Intermediate creates a CA certificate signed by ca. Leaves it issues
// with Leaf.Chain carry the intermediate and ca's chain.
func (ca *CA) Intermediate(o Options) (*CA, error) {
	return newCA(o, ca)
}

func newCA(o Options, parent *CA) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("testca: CA key: %w", err)
	}
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	if o.Name == "" {
		o.Name = "stspilot throwaway CA"
	}
	if o.NotBefore.IsZero() {
		o.NotBefore = now.Add(-24 * time.Hour)
	}
	if o.NotAfter.IsZero() {
		o.NotAfter = now.Add(10 * 365 * 24 * time.Hour)
	}
	sn, err := serial()
	if err != nil {
		return nil, err
	}
	subject := pkix.Name{CommonName: o.Name}
	if o.Organization != "" {
		subject.Organization = []string{o.Organization}
	}
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               subject,
		NotBefore:             o.NotBefore,
		NotAfter:              o.NotAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	issuer, signer := tmpl, crypto.Signer(key)
	if parent != nil {
		issuer, signer = parent.Cert, parent.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, &key.PublicKey, signer)
	if err != nil {
		return nil, fmt.Errorf("testca: CA certificate %q: %w", o.Name, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("testca: CA certificate %q: %w", o.Name, err)
	}
	ca := &CA{Cert: cert, Key: key, chain: [][]byte{der}}
	if parent != nil {
		ca.chain = append(ca.chain, parent.chain...)
	}
	return ca, nil
}

// Load makes a CA of a PEM certificate and its PEM private key (PKCS #8,
// PKCS #1 or SEC 1), such as a CA another program created on disk.
func Load(certPEM, keyPEM []byte) (*CA, error) {
	cb, _ := pem.Decode(certPEM)
	if cb == nil || cb.Type != "CERTIFICATE" {
		return nil, errors.New("testca: no PEM certificate")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("testca: CA certificate: %w", err)
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return nil, errors.New("testca: no PEM private key")
	}
	var key any
	switch kb.Type {
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(kb.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(kb.Bytes)
	default:
		key, err = x509.ParsePKCS8PrivateKey(kb.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("testca: CA key: %w", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("testca: CA key of type %T cannot sign", key)
	}
	return &CA{Cert: cert, Key: signer, chain: [][]byte{cert.Raw}}, nil
}

// Pool returns a new pool trusting only the root of ca (ca itself when it
// is a root).
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	root, err := x509.ParseCertificate(ca.chain[len(ca.chain)-1])
	if err != nil {
		root = ca.Cert
	}
	p.AddCert(root)
	return p
}

// CertPEM is the CA certificate in PEM.
func (ca *CA) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
}

// WriteCertPEM writes the CA certificate to path, for programs told to
// trust a CA file.
func (ca *CA) WriteCertPEM(path string) error {
	return os.WriteFile(path, ca.CertPEM(), 0o644)
}

// ClientConfig is a TLS client configuration trusting only ca's root.
func (ca *CA) ClientConfig() *tls.Config {
	return &tls.Config{RootCAs: ca.Pool()}
}

// Leaf describes a server certificate.
type Leaf struct {
	// Names are the subject alternative names: host names, or IP
	// addresses, which become IP SANs. None: a certificate without SANs
	// (only CommonName names a host, which senders ignore).
	Names []string
	// CommonName is the subject common name; "" = none.
	CommonName string
	// NotBefore and NotAfter bound the validity; zero = an hour before
	// Now, ninety days after Now. A window in the past makes an expired
	// certificate, one in the future a not-yet-valid one.
	NotBefore, NotAfter time.Time
	// Now is the time the defaults count from; zero = the wall clock.
	Now time.Time
	// Key is the key algorithm (default ECDSA P-256).
	Key KeyType
	// Chain appends the issuing CA and every CA above it, root included,
	// to the returned certificate chain; otherwise it is the leaf alone.
	Chain bool
}

// Issue signs a server certificate (serverAuth). The result is ready for
// tls.Config.Certificates; its Leaf field is set.
func (ca *CA) Issue(l Leaf) (tls.Certificate, error) {
	var key crypto.Signer
	var err error
	usage := x509.KeyUsageDigitalSignature
	switch l.Key {
	case RSA:
		key, err = rsa.GenerateKey(rand.Reader, 2048)
		usage |= x509.KeyUsageKeyEncipherment // for RSA key exchange suites
	default:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("testca: leaf key: %w", err)
	}
	now := l.Now
	if now.IsZero() {
		now = time.Now()
	}
	if l.NotBefore.IsZero() {
		l.NotBefore = now.Add(-time.Hour)
	}
	if l.NotAfter.IsZero() {
		l.NotAfter = now.Add(90 * 24 * time.Hour)
	}
	sn, err := serial()
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		Subject:      pkix.Name{CommonName: l.CommonName},
		NotBefore:    l.NotBefore,
		NotAfter:     l.NotAfter,
		KeyUsage:     usage,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range l.Names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("testca: leaf certificate %v: %w", l.Names, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("testca: leaf certificate %v: %w", l.Names, err)
	}
	chain := [][]byte{der}
	if l.Chain {
		chain = append(chain, ca.chain...)
	}
	return tls.Certificate{Certificate: chain, PrivateKey: key, Leaf: leaf}, nil
}

// ServerConfig is a TLS server configuration presenting certs.
func ServerConfig(certs ...tls.Certificate) *tls.Config {
	return &tls.Config{Certificates: certs}
}

// CertPEM is the certificate chain of c in PEM, leaf first.
func CertPEM(c tls.Certificate) []byte {
	var out []byte
	for _, der := range c.Certificate {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	return out
}

// KeyPEM is the private key of c in PEM (PKCS #8).
func KeyPEM(c tls.Certificate) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("testca: private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// WritePEM writes the chain of c to certFile and its key to keyFile
// (readable by the owner only), the files a server is given.
func WritePEM(c tls.Certificate, certFile, keyFile string) error {
	k, err := KeyPEM(c)
	if err != nil {
		return err
	}
	if err := os.WriteFile(certFile, CertPEM(c), 0o644); err != nil {
		return err
	}
	return os.WriteFile(keyFile, k, 0o600)
}

func serial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, fmt.Errorf("testca: serial number: %w", err)
	}
	return n, nil
}

// TB is the part of testing.TB the Must helpers use (the package does not
// import testing: it ships in the binary).
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
}

// MustNew is New for tests: an error ends the test.
func MustNew(tb TB, o Options) *CA {
	tb.Helper()
	ca, err := New(o)
	if err != nil {
		tb.Fatalf("%v", err)
	}
	return ca
}

// MustIntermediate is Intermediate for tests: an error ends the test.
func (ca *CA) MustIntermediate(tb TB, o Options) *CA {
	tb.Helper()
	c, err := ca.Intermediate(o)
	if err != nil {
		tb.Fatalf("%v", err)
	}
	return c
}

// MustIssue is Issue for tests: an error ends the test.
func (ca *CA) MustIssue(tb TB, l Leaf) tls.Certificate {
	tb.Helper()
	c, err := ca.Issue(l)
	if err != nil {
		tb.Fatalf("%v", err)
	}
	return c
}

// MustWritePEM issues a leaf and writes it into dir as NAME.crt and
// NAME.key, NAME being the first of l.Names; an error ends the test.
func (ca *CA) MustWritePEM(tb TB, dir string, l Leaf) (certFile, keyFile string) {
	tb.Helper()
	if len(l.Names) == 0 {
		tb.Fatalf("testca: MustWritePEM needs a name")
		return "", ""
	}
	c := ca.MustIssue(tb, l)
	certFile = filepath.Join(dir, l.Names[0]+".crt")
	keyFile = filepath.Join(dir, l.Names[0]+".key")
	if err := WritePEM(c, certFile, keyFile); err != nil {
		tb.Fatalf("%v", err)
	}
	return certFile, keyFile
}
