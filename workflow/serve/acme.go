package serve

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/stspilot/stspilot/internal/txtrecord"
)

// ACMEOptions configure certificates from an ACME CA.
type ACMEOptions struct {
	// CA is the directory URL ("" = Let's Encrypt production).
	CA string
	// Email is the account's contact address (optional).
	Email string
	// CARoot is a PEM file of roots to trust for the CA's own HTTPS
	// endpoint (a test CA such as Pebble); "" = the system's roots.
	CARoot string
	// Dir holds the account, keys and certificates (created 0700):
	// STATE/acme, or a directory of serve's user's own.
	Dir string
	// ListenHost and TLSALPNPort are where the CA's validator connects for
	// TLS-ALPN-01 (default: any address, port 443): the serve listener
	// itself answers the challenge through TLSConfig.
	ListenHost  string
	TLSALPNPort int
	// Log receives certmagic's warnings and errors (nil: discarded).
	Log io.Writer
}

// ACME obtains and renews certificates for mta-sts.DOMAIN of every domain
// with a served policy, and for no other name: there is no on-demand
// issuance, so a client's SNI cannot make serve ask the CA for anything.
type ACME struct {
	cfg      *certmagic.Config
	policies *Policies

	mu      sync.Mutex
	managed []string
}

// ErrCARoots wraps a failure to read the roots trusted for the ACME CA's
// own HTTPS.
var ErrCARoots = errors.New("the ACME CA's roots")

// NewACME builds certificate management over certmagic with TLS-ALPN-01
// (HTTP-01 is off: serve listens for HTTPS only).
func NewACME(o ACMEOptions, policies *Policies) (*ACME, error) {
	if o.Dir == "" {
		return nil, errors.New("acme: no directory")
	}
	logger := zap.NewNop()
	if o.Log != nil {
		enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
		logger = zap.New(zapcore.NewCore(enc, zapcore.AddSync(o.Log), zapcore.WarnLevel))
	}
	var roots *x509.CertPool
	if o.CARoot != "" {
		pem, _, err := readFile(osFiles{}, o.CARoot, 1<<20)
		if err != nil {
			return nil, fmt.Errorf("acme: %w: %w", ErrCARoots, err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("acme: %w: %s holds no PEM certificate", ErrCARoots, o.CARoot)
		}
	}
	storage := o.Dir
	if err := os.MkdirAll(storage, 0o700); err != nil {
		return nil, fmt.Errorf("acme: %w", err)
	}
	var cfg *certmagic.Config
	cache := certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert: func(certmagic.Certificate) (*certmagic.Config, error) { return cfg, nil },
		Logger:           logger,
	})
	cfg = certmagic.New(cache, certmagic.Config{
		Storage: &certmagic.FileStorage{Path: storage},
		Logger:  logger,
	})
	ca := o.CA
	if ca == "" {
		ca = certmagic.LetsEncryptProductionCA
	}
	issuer := certmagic.NewACMEIssuer(cfg, certmagic.ACMEIssuer{
		CA:                   ca,
		Email:                o.Email,
		Agreed:               true,
		DisableHTTPChallenge: true,
		ListenHost:           o.ListenHost,
		AltTLSALPNPort:       o.TLSALPNPort,
		TrustedRoots:         roots,
		Logger:               logger,
		CertObtainTimeout:    5 * time.Minute,
	})
	cfg.Issuers = []certmagic.Issuer{issuer}
	return &ACME{cfg: cfg, policies: policies}, nil
}

// TLSConfig serves the managed certificates and answers TLS-ALPN-01.
func (a *ACME) TLSConfig() *tls.Config {
	tc := a.cfg.TLSConfig()
	tc.NextProtos = []string{"http/1.1", "acme-tls/1"}
	tc.MinVersion = tls.VersionTLS12
	return tc
}

// Managed lists the names under management.
func (a *ACME) Managed() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.managed)
}

// Sync manages mta-sts.DOMAIN for every domain with a served policy that is
// not managed yet. With wait it obtains them before returning (ManageSync),
// else in the background (ManageAsync).
func (a *ACME) Sync(ctx context.Context, wait bool) error {
	ds, err := a.policies.Domains()
	if err != nil {
		return err
	}
	a.mu.Lock()
	var add []string
	for _, d := range ds {
		n := txtrecord.PolicyHost(d)
		if !slices.Contains(a.managed, n) {
			add = append(add, n)
		}
	}
	a.mu.Unlock()
	if len(add) == 0 {
		return nil
	}
	if wait {
		err = a.cfg.ManageSync(ctx, add)
	} else {
		err = a.cfg.ManageAsync(ctx, add)
	}
	if err != nil {
		return fmt.Errorf("acme: %w", err)
	}
	a.mu.Lock()
	a.managed = append(a.managed, add...)
	slices.Sort(a.managed)
	a.mu.Unlock()
	return nil
}

// Watch calls Sync every interval until ctx ends, so that a domain a
// workflow starts serving gets its certificate without a restart; errors
// go to report.
func (a *ACME) Watch(ctx context.Context, interval time.Duration, report func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := a.Sync(ctx, false); err != nil && report != nil {
				report(err)
			}
		}
	}
}
