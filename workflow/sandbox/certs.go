package sandbox

import (
	"crypto/tls"
	"fmt"
	"time"

	"github.com/stspilot/stspilot/internal/testca"
)

// newCA makes the sandbox's throwaway certificate authority; it lives in
// memory only and is trusted by nothing but the sandbox's own checks.
func newCA(now time.Time) (*testca.CA, error) {
	return testca.New(testca.Options{
		Name:      "stspilot sandbox root (throwaway)",
		NotBefore: now.Add(-24 * time.Hour), NotAfter: now.Add(20 * 365 * 24 * time.Hour),
	})
}

// leaf issues a server certificate for names valid from notBefore to
// notAfter, its chain ending with the sandbox root.
func leaf(ca *testca.CA, names []string, notBefore, notAfter time.Time) (*tls.Certificate, error) {
	c, err := ca.Issue(testca.Leaf{Names: names, CommonName: names[0], NotBefore: notBefore, NotAfter: notAfter, Chain: true})
	if err != nil {
		return nil, fmt.Errorf("sandbox: certificate for %s: %w", names[0], err)
	}
	return &c, nil
}
