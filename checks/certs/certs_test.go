package certs

import (
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/stspilot/stspilot/internal/testca"
)

type issuer struct{ *testca.CA }

func newCA(t *testing.T, name string) issuer {
	t.Helper()
	return issuer{testca.MustNew(t, testca.Options{Name: name})}
}

func (ca issuer) leaf(t *testing.T, cn string, sans []string, nb, na time.Time) *x509.Certificate {
	t.Helper()
	return ca.MustIssue(t, testca.Leaf{Names: sans, CommonName: cn, NotBefore: nb, NotAfter: na}).Leaf
}

func TestVerify(t *testing.T) {
	now := time.Now()
	ca := newCA(t, "test root")
	other := newCA(t, "other root")
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	year := now.Add(365 * 24 * time.Hour)
	cases := []struct {
		name   string // rule ids in the name
		chain  []*x509.Certificate
		host   string
		want   Problem
		detail string
	}{
		{"STS-SEND-10 valid", []*x509.Certificate{ca.leaf(t, "mx1", []string{"mx1.example.test"}, now.Add(-time.Hour), year)}, "mx1.example.test", OK, ""},
		{"STS-SEND-9 case and trailing dot", []*x509.Certificate{ca.leaf(t, "mx1", []string{"mx1.example.test"}, now.Add(-time.Hour), year)}, "MX1.Example.Test.", OK, ""},
		{"STS-SEND-10 wildcard one label", []*x509.Certificate{ca.leaf(t, "w", []string{"*.mail.protection.outlook.com"}, now.Add(-time.Hour), year)}, "contoso-com.mail.protection.outlook.com", OK, ""},
		{"STS-SEND-10 wildcard two labels", []*x509.Certificate{ca.leaf(t, "w", []string{"*.example.test"}, now.Add(-time.Hour), year)}, "a.b.example.test", Name, "not a.b.example.test"},
		{"STS-SEND-10 wrong SAN", []*x509.Certificate{ca.leaf(t, "wrong", []string{"wrong.example.test"}, now.Add(-time.Hour), year)}, "mx2.example.test", Name, "valid for wrong.example.test"},
		{"STS-SEND-10 CN only", []*x509.Certificate{ca.leaf(t, "mx1.example.test", nil, now.Add(-time.Hour), year)}, "mx1.example.test", Name, "only CN=mx1.example.test"},
		{"STS-FETCH-3 expired", []*x509.Certificate{ca.leaf(t, "e", []string{"mta-sts.example.test"}, now.Add(-60*24*time.Hour), now.Add(-30*24*time.Hour))}, "mta-sts.example.test", Expired, "expired"},
		{"STS-FETCH-3 not yet valid", []*x509.Certificate{ca.leaf(t, "f", []string{"mta-sts.example.test"}, now.Add(24*time.Hour), year)}, "mta-sts.example.test", NotYetValid, "not valid before"},
		{"STS-FETCH-3 untrusted issuer", []*x509.Certificate{other.leaf(t, "u", []string{"mta-sts.example.test"}, now.Add(-time.Hour), year)}, "mta-sts.example.test", Untrusted, "unknown authority"},
		{"no certificate", nil, "mx1.example.test", NoCert, "no certificate"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Verify(c.chain, c.host, roots, now)
			if got.Problem != c.want {
				t.Fatalf("problem = %q (%s), want %q", got.Problem, got.Detail, c.want)
			}
			if c.detail != "" && !strings.Contains(got.Detail, c.detail) {
				t.Fatalf("detail %q does not mention %q", got.Detail, c.detail)
			}
			if c.want == OK && !got.Valid() {
				t.Fatal("Valid() false for a valid chain")
			}
			if len(c.chain) > 0 && !got.NotAfter.Equal(c.chain[0].NotAfter) {
				t.Fatalf("NotAfter %v, want %v", got.NotAfter, c.chain[0].NotAfter)
			}
		})
	}
}

func TestVerifyUsesIntermediates(t *testing.T) {
	now := time.Now()
	root := newCA(t, "root")
	inter := issuer{root.MustIntermediate(t, testca.Options{
		Name:      "intermediate",
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
	})}
	ic := inter.Cert
	leaf := inter.leaf(t, "mx", []string{"mx.example.test"}, now.Add(-time.Hour), now.Add(time.Hour))
	roots := x509.NewCertPool()
	roots.AddCert(root.Cert)
	if got := Verify([]*x509.Certificate{leaf, ic}, "mx.example.test", roots, now); !got.Valid() {
		t.Fatalf("chain with intermediate rejected: %+v", got)
	}
	if got := Verify([]*x509.Certificate{leaf}, "mx.example.test", roots, now); got.Problem != Untrusted {
		t.Fatalf("chain without its intermediate: %q, want untrusted", got.Problem)
	}
}
