// Package smtptest runs a small in-process SMTP server with STARTTLS on
// loopback, for tests of MX probes: configurable certificate, TLS versions,
// greeting, per-reply delay, and hostile behaviours (floods, stalls, missing
// line endings, an SSL 3.0-only TLS stack). The server is internal/loopback's
// SMTP, which the sandbox of `stspilot demo` runs too.
//
//	ca := smtptest.NewCA(t, "Test CA")
//	srv := &smtptest.Server{Hostname: "mx1.example.test",
//		Cert: ca.Issue(t, smtptest.Leaf{DNSNames: []string{"mx1.example.test"}})}
//	srv.Start(t) // stopped by t.Cleanup
//	p := smtpprobe.Prober{Roots: ca.Pool(), Port: srv.Port()}
package smtptest

import "github.com/stspilot/stspilot/internal/loopback"

// Server is a fake MX. Set the fields, then call Start; do not change them
// afterwards.
type Server = loopback.SMTP

// Hostile selects a misbehaviour in place of a normal session.
type Hostile = loopback.Hostile

// The behaviours of a Server (internal/loopback's).
const (
	Polite              = loopback.Polite              // a normal, RFC 5321 conforming server
	Silent              = loopback.Silent              // accept the connection, never send anything
	EndlessBanner       = loopback.EndlessBanner       // "220-..." continuation lines, up to FloodBytes
	NoCRLF              = loopback.NoCRLF              // "220 " then bytes without a line ending, up to FloodBytes
	Flood               = loopback.Flood               // long "220-" lines, up to FloodBytes
	Binary              = loopback.Binary              // pseudo-random bytes, up to FloodBytes
	StallAfterBanner    = loopback.StallAfterBanner    // greet, then read and never answer
	SSL3Only            = loopback.SSL3Only            // answer the ClientHello with an SSL 3.0 ServerHello
	InjectAfterSTARTTLS = loopback.InjectAfterSTARTTLS // send an extra reply in the same packet as the STARTTLS 220
)

// FloodBytes is how much the flooding modes send at most: 1 GiB.
const FloodBytes = loopback.FloodBytes
