package serve

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/stspilot/stspilot/internal/domainname"
)

// FileCerts serves certificates loaded from PEM files. With one pair, it
// serves that certificate for every name (the Host header then picks the
// policy); with several, the SNI picks the pair whose certificate names
// it, and a name none of them covers fails the handshake.
type FileCerts struct {
	certs []*tls.Certificate
}

// ErrCertKeyCount is LoadFileCerts' error when the certificate and key
// files do not pair up one to one.
var ErrCertKeyCount = errors.New("every certificate file needs its key file")

// LoadFileCerts loads certificate/key file pairs (certFiles[i] with
// keyFiles[i]).
func LoadFileCerts(certFiles, keyFiles []string) (*FileCerts, error) {
	if len(certFiles) == 0 || len(certFiles) != len(keyFiles) {
		return nil, fmt.Errorf("serve: %w (got %d certificates and %d keys)", ErrCertKeyCount, len(certFiles), len(keyFiles))
	}
	fc := &FileCerts{}
	for i := range certFiles {
		c, err := tls.LoadX509KeyPair(certFiles[i], keyFiles[i])
		if err != nil {
			// The error of LoadX509KeyPair never carries key material.
			return nil, fmt.Errorf("serve: certificate %s with key %s: %w", certFiles[i], keyFiles[i], err)
		}
		if c.Leaf == nil {
			if c.Leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
				return nil, fmt.Errorf("serve: certificate %s: %w", certFiles[i], err)
			}
		}
		fc.certs = append(fc.certs, &c)
	}
	return fc, nil
}

// GetCertificate implements tls.Config.GetCertificate.
func (fc *FileCerts) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if len(fc.certs) == 1 || hello.ServerName == "" {
		return fc.certs[0], nil
	}
	name := domainname.Fold(hello.ServerName)
	for _, c := range fc.certs {
		if c.Leaf.VerifyHostname(name) == nil {
			return c, nil
		}
	}
	return nil, errors.New("no certificate for this server name")
}

// TLSConfig is a server TLS configuration over fc.
func (fc *FileCerts) TLSConfig() *tls.Config {
	return &tls.Config{GetCertificate: fc.GetCertificate, MinVersion: tls.VersionTLS12}
}

// Names lists the DNS names the certificates cover.
func (fc *FileCerts) Names() []string {
	var ns []string
	for _, c := range fc.certs {
		ns = append(ns, c.Leaf.DNSNames...)
	}
	return ns
}
