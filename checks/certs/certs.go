// Package certs verifies a presented certificate chain the way an MTA-STS
// sender does (RFC 8461 §3.3 for the policy host, §4.2 for MX hosts): PKIX
// chain to a trusted root, a SAN dNSName matching the name (no CN fallback,
// wildcards one label deep), not expired. It classifies the failure so that
// callers can map it to a finding and a TLS-RPT result-type.
package certs

import (
	"crypto/x509"
	"errors"
	"strings"
	"time"

	"github.com/stspilot/stspilot/internal/domainname"
)

// Problem classifies why a chain is not acceptable. The zero value means valid.
type Problem string

// The problems, in the words of findings and JSON.
const (
	OK          Problem = ""
	Expired     Problem = "expired"       // leaf (or an intermediate) outside its validity period
	NotYetValid Problem = "not-yet-valid" // NotBefore in the future
	Name        Problem = "name"          // no SAN dNSName matches the host (CN is never used)
	Untrusted   Problem = "untrusted"     // unknown issuer, broken chain, bad usage
	NoCert      Problem = "no-certificate"
)

// Result is what Verify found. It is JSON-friendly so probes can embed it.
type Result struct {
	Problem  Problem   `json:"problem,omitempty"`
	Detail   string    `json:"detail,omitempty"`
	Subject  string    `json:"subject,omitempty"`
	Issuer   string    `json:"issuer,omitempty"`
	DNSNames []string  `json:"dns_names,omitempty"`
	NotAfter time.Time `json:"not_after,omitzero"`
	// ChainLen is the number of certificates the server presented.
	ChainLen int `json:"chain_len,omitempty"`
}

// Valid reports whether the chain passed every check.
func (r Result) Valid() bool { return r.Problem == OK }

// Verify checks the presented chain (leaf first) for host at time now against
// roots (nil means the system pool, which honours SSL_CERT_FILE and
// SSL_CERT_DIR). Expiry is reported before name and trust problems only when
// the chain would otherwise be acceptable at a time inside its validity, so
// that the finding names the real cause.
func Verify(chain []*x509.Certificate, host string, roots *x509.CertPool, now time.Time) Result {
	res, _ := verify(chain, host, roots, now)
	return res
}

// window is the time a verified chain stays valid: from the latest
// NotBefore to the earliest NotAfter of its certificates, root included.
type window struct{ from, until time.Time }

func (w window) holds(t time.Time) bool { return !t.Before(w.from) && !t.After(w.until) }

// verify is Verify, and also, when the chain verified (whatever the name),
// the window of the chain it built: at any time inside it Verify's answer
// is the same.
func verify(chain []*x509.Certificate, host string, roots *x509.CertPool, now time.Time) (Result, *window) {
	if len(chain) == 0 {
		return Result{Problem: NoCert, Detail: "the server presented no certificate"}, nil
	}
	leaf := chain[0]
	res := Result{
		Subject:  leaf.Subject.String(),
		Issuer:   leaf.Issuer.String(),
		DNSNames: append([]string(nil), leaf.DNSNames...),
		NotAfter: leaf.NotAfter,
		ChainLen: len(chain),
	}
	host = domainname.Fold(host)
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	opts := x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	built, err := leaf.Verify(opts)
	if err == nil {
		if nerr := leaf.VerifyHostname(host); nerr != nil {
			res.Problem, res.Detail = Name, nameDetail(leaf, host)
		}
		var w *window
		if len(built) > 0 {
			w = &window{from: built[0][0].NotBefore, until: built[0][0].NotAfter}
			for _, c := range built[0][1:] {
				if c.NotBefore.After(w.from) {
					w.from = c.NotBefore
				}
				if c.NotAfter.Before(w.until) {
					w.until = c.NotAfter
				}
			}
		}
		return res, w
	}
	var inv x509.CertificateInvalidError
	if errors.As(err, &inv) && inv.Reason == x509.Expired {
		// Expired or not yet valid: say which, but also whether the chain is
		// trusted and the name right inside its validity period.
		if now.Before(leaf.NotBefore) {
			res.Problem = NotYetValid
			res.Detail = "certificate is not valid before " + leaf.NotBefore.UTC().Format(time.RFC3339)
		} else {
			res.Problem = Expired
			res.Detail = "certificate expired " + expiredOf(chain, now).UTC().Format(time.RFC3339)
		}
		return res, nil
	}
	res.Problem = Untrusted
	res.Detail = err.Error()
	return res, nil
}

// expiredOf returns the earliest NotAfter in the chain that lies before now.
func expiredOf(chain []*x509.Certificate, now time.Time) time.Time {
	t := chain[0].NotAfter
	for _, c := range chain {
		if c.NotAfter.Before(now) && c.NotAfter.Before(t) {
			t = c.NotAfter
		}
	}
	return t
}

func nameDetail(leaf *x509.Certificate, host string) string {
	if len(leaf.DNSNames) == 0 {
		cn := leaf.Subject.CommonName
		if cn != "" {
			return "certificate has no subjectAltName dNSName (only CN=" + cn + ", which senders do not use) for " + host
		}
		return "certificate has no subjectAltName dNSName for " + host
	}
	return "certificate is valid for " + strings.Join(leaf.DNSNames, ", ") + ", not " + host
}
