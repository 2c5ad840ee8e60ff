// Package loopback holds the in-process servers of the loopback worlds
// that the tests and the sandbox behind `stspilot demo` run: an
// authoritative DNS server (DNS, Zone), an HTTPS policy host (ServeHTTPS)
// and a STARTTLS MX (SMTP), plus the one way to bind a UDP and a TCP
// socket on the same port without racing other programs for it
// (ListenPair). Every server listens on 127.0.0.0/8 only.
//
// The package imports nothing else of the module but internal/ packages,
// so every layer may use it.
package loopback
