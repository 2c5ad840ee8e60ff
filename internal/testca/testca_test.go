package testca

import (
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func verify(c tls.Certificate, roots *x509.CertPool, host string, now time.Time) error {
	inter := x509.NewCertPool()
	for _, der := range c.Certificate[1:] {
		ic, err := x509.ParseCertificate(der)
		if err != nil {
			return err
		}
		inter.AddCert(ic)
	}
	_, err := c.Leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: roots, Intermediates: inter, CurrentTime: now})
	return err
}

func TestIssueShapes(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	ca := MustNew(t, Options{Name: "root", Now: now})
	other := MustNew(t, Options{Name: "other", Now: now})
	host := "mx1.example.test"
	tests := []struct {
		name string
		ca   *CA
		leaf Leaf
		ok   bool
	}{
		{"good", ca, Leaf{Names: []string{host}, Now: now}, true},
		{"expired", ca, Leaf{Names: []string{host}, NotBefore: now.Add(-90 * day), NotAfter: now.Add(-day)}, false},
		{"not yet valid", ca, Leaf{Names: []string{host}, NotBefore: now.Add(day), NotAfter: now.Add(90 * day)}, false},
		{"wrong name", ca, Leaf{Names: []string{"mail.elsewhere.test"}, Now: now}, false},
		{"CN only", ca, Leaf{CommonName: host, Now: now}, false},
		{"untrusted issuer", other, Leaf{Names: []string{host}, Now: now}, false},
		{"RSA", ca, Leaf{Names: []string{host}, Now: now, Key: RSA}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.ca.MustIssue(t, tt.leaf)
			if err := verify(c, ca.Pool(), host, now); (err == nil) != tt.ok {
				t.Fatalf("verify = %v, want ok=%v", err, tt.ok)
			}
		})
	}
	if _, ok := ca.MustIssue(t, Leaf{Names: []string{host}, Key: RSA}).PrivateKey.(*rsa.PrivateKey); !ok {
		t.Fatal("Key: RSA did not make an RSA key")
	}
	ip := ca.MustIssue(t, Leaf{Names: []string{"127.0.0.9", host}})
	if len(ip.Leaf.IPAddresses) != 1 || !ip.Leaf.IPAddresses[0].Equal(net.ParseIP("127.0.0.9")) || len(ip.Leaf.DNSNames) != 1 {
		t.Fatalf("IP SAN: %v %v", ip.Leaf.IPAddresses, ip.Leaf.DNSNames)
	}
}

func TestIntermediateChain(t *testing.T) {
	root := MustNew(t, Options{Name: "root"})
	inter := root.MustIntermediate(t, Options{Name: "intermediate"})
	host := "mx.example.test"
	with := inter.MustIssue(t, Leaf{Names: []string{host}, Chain: true})
	if len(with.Certificate) != 3 {
		t.Fatalf("chain of %d certificates, want leaf, intermediate, root", len(with.Certificate))
	}
	if err := verify(with, inter.Pool(), host, time.Now()); err != nil {
		t.Fatalf("chain with the intermediate: %v", err)
	}
	alone := inter.MustIssue(t, Leaf{Names: []string{host}})
	if err := verify(alone, root.Pool(), host, time.Now()); err == nil {
		t.Fatal("a leaf without its intermediate verified")
	}
}

func TestPEMRoundTrip(t *testing.T) {
	dir := t.TempDir()
	ca := MustNew(t, Options{})
	cf, kf := ca.MustWritePEM(t, dir, Leaf{Names: []string{"mta-sts.example.test"}})
	if _, err := tls.LoadX509KeyPair(cf, kf); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(kf); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v %v", st.Mode(), err)
	}
	caFile := filepath.Join(dir, "ca.pem")
	if err := ca.WriteCertPEM(caFile); err != nil {
		t.Fatal(err)
	}
	// A CA loaded back from PEM issues leaves the original pool trusts.
	keyPEM, err := KeyPEM(tls.Certificate{PrivateKey: ca.Key})
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := Load(ca.CertPEM(), keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	c := loaded.MustIssue(t, Leaf{Names: []string{"x.example.test"}})
	if err := verify(c, ca.Pool(), "x.example.test", time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := Load([]byte("junk"), keyPEM); err == nil {
		t.Fatal("Load accepted junk")
	}
	if _, err := Load(ca.CertPEM(), []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")); err == nil {
		t.Fatal("Load accepted a bad key")
	}
}
