package smtpprobe_test

import (
	"context"
	"crypto/tls"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stspilot/stspilot/checks/certs"
	"github.com/stspilot/stspilot/checks/smtpprobe"
	"github.com/stspilot/stspilot/checks/smtpprobe/smtptest"
)

const mxHost = "mx1.example.test"

var loopback = netip.MustParseAddr("127.0.0.1")

// fixture holds one test CA and certificates issued from it.
type fixture struct {
	ca, other *smtptest.CA
	valid     tls.Certificate
}

func newFixture(t *testing.T) *fixture {
	ca := smtptest.NewCA(t, "Test Root")
	return &fixture{
		ca:    ca,
		other: smtptest.NewCA(t, "Unknown Root"),
		valid: ca.Issue(t, smtptest.Leaf{DNSNames: []string{mxHost}}),
	}
}

func (f *fixture) prober(srv *smtptest.Server) *smtpprobe.Prober {
	return &smtpprobe.Prober{Roots: f.ca.Pool(), Port: srv.Port(), Timeout: 10 * time.Second}
}

// TestProbe runs the probe against fake MX servers configured like the
// failures the engine reports (STS-SEND-8/10/11/21).
func TestProbe(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name   string
		srv    *smtptest.Server
		host   string // "" = mxHost
		stage  smtpprobe.Stage
		kind   string
		errHas string // substring of Err; "" when Err must be nil
		check  func(t *testing.T, r smtpprobe.Result, srv *smtptest.Server)
	}{
		{
			name:  "STS-SEND-8b-10-11 valid certificate, TLS 1.3, SNI is the MX name",
			srv:   &smtptest.Server{Hostname: mxHost, Cert: f.valid},
			stage: smtpprobe.StageDone,
			check: func(t *testing.T, r smtpprobe.Result, srv *smtptest.Server) {
				if !r.Cert.Valid() || r.Cert.ChainLen != 1 || !slices.Equal(r.Cert.DNSNames, []string{mxHost}) {
					t.Errorf("Cert = %+v, want valid for %s", r.Cert, mxHost)
				}
				if r.TLSVersion != tls.VersionTLS13 || r.CipherSuite == 0 {
					t.Errorf("TLSVersion, CipherSuite = %x, %x; want TLS 1.3 and a suite", r.TLSVersion, r.CipherSuite)
				}
				if r.BannerCode != 220 || r.Banner != mxHost+" ESMTP smtptest" {
					t.Errorf("banner = %d %q", r.BannerCode, r.Banner)
				}
				if want := []string{"PIPELINING", "SIZE", "8BITMIME", "STARTTLS"}; !slices.Equal(r.EHLO, want) {
					t.Errorf("EHLO = %q, want %q", r.EHLO, want)
				}
				if sni := srv.ServerNames(); !slices.Equal(sni, []string{mxHost}) {
					t.Errorf("SNI = %q, want [%s] (STS-SEND-11)", sni, mxHost)
				}
				want := []string{"EHLO stspilot.invalid", "STARTTLS", "TLS EHLO stspilot.invalid", "TLS QUIT"}
				if got := srv.Commands(); !slices.Equal(got, want) {
					t.Errorf("commands = %q, want %q", got, want)
				}
			},
		},
		{
			name:  "STS-SEND-9 trailing root dot is dropped for SNI and name matching",
			srv:   &smtptest.Server{Cert: f.valid},
			host:  mxHost + ".",
			stage: smtpprobe.StageDone,
			check: func(t *testing.T, r smtpprobe.Result, srv *smtptest.Server) {
				if !r.Cert.Valid() {
					t.Errorf("Cert = %+v, want valid", r.Cert)
				}
				if sni := srv.ServerNames(); !slices.Equal(sni, []string{mxHost}) {
					t.Errorf("SNI = %q, want [%s]", sni, mxHost)
				}
			},
		},
		{
			name:  "STS-SEND-10 wrong SAN",
			srv:   &smtptest.Server{Cert: f.ca.Issue(t, smtptest.Leaf{DNSNames: []string{"other.example.test"}})},
			stage: smtpprobe.StageDone,
			check: wantCert(certs.Name),
		},
		{
			name:  "STS-SEND-10 CN only, no SAN",
			srv:   &smtptest.Server{Cert: f.ca.Issue(t, smtptest.Leaf{CommonName: mxHost})},
			stage: smtpprobe.StageDone,
			check: wantCert(certs.Name),
		},
		{
			name:  "STS-SEND-10 wildcard SAN covers one label",
			srv:   &smtptest.Server{Cert: f.ca.Issue(t, smtptest.Leaf{DNSNames: []string{"*.example.test"}})},
			stage: smtpprobe.StageDone,
			check: wantCert(certs.OK),
		},
		{
			name: "STS-SEND-10 expired",
			srv: &smtptest.Server{Cert: f.ca.Issue(t, smtptest.Leaf{
				DNSNames:  []string{mxHost},
				NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour),
			})},
			stage: smtpprobe.StageDone,
			check: wantCert(certs.Expired),
		},
		{
			name:  "STS-SEND-10 untrusted issuer",
			srv:   &smtptest.Server{Cert: f.other.Issue(t, smtptest.Leaf{DNSNames: []string{mxHost}})},
			stage: smtpprobe.StageDone,
			check: wantCert(certs.Untrusted),
		},
		{
			name:   "STS-SEND-8b no STARTTLS",
			srv:    &smtptest.Server{NoSTARTTLS: true, Cert: f.valid},
			stage:  smtpprobe.StageEHLO,
			kind:   smtpprobe.KindProtocol,
			errHas: "does not offer STARTTLS",
			check: func(t *testing.T, r smtpprobe.Result, srv *smtptest.Server) {
				if r.STARTTLS || r.TLSVersion != 0 || !slices.Equal(r.EHLO, []string{"PIPELINING", "SIZE", "8BITMIME"}) {
					t.Errorf("STARTTLS, TLSVersion, EHLO = %v, %x, %q", r.STARTTLS, r.TLSVersion, r.EHLO)
				}
				if got := srv.Commands(); !slices.Equal(got, []string{"EHLO stspilot.invalid", "QUIT"}) {
					t.Errorf("commands = %q, want EHLO then QUIT", got)
				}
			},
		},
		{
			name:  "STS-SEND-21 TLS 1.0-only server is observed, not hidden",
			srv:   &smtptest.Server{Cert: f.valid, MaxVersion: tls.VersionTLS10},
			stage: smtpprobe.StageDone,
			check: wantVersion(tls.VersionTLS10),
		},
		{
			name:  "STS-SEND-21 TLS 1.1-only server is observed",
			srv:   &smtptest.Server{Cert: f.valid, MinVersion: tls.VersionTLS11, MaxVersion: tls.VersionTLS11},
			stage: smtpprobe.StageDone,
			check: wantVersion(tls.VersionTLS11),
		},
		{
			name:  "STS-SEND-21 TLS 1.2 server",
			srv:   &smtptest.Server{Cert: f.valid, MaxVersion: tls.VersionTLS12},
			stage: smtpprobe.StageDone,
			check: wantVersion(tls.VersionTLS12),
		},
		{
			name: "STS-SEND-21 RSA key exchange only server is observed",
			srv: &smtptest.Server{
				Cert:       f.ca.Issue(t, smtptest.Leaf{DNSNames: []string{mxHost}, RSA: true}),
				MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_RSA_WITH_AES_128_CBC_SHA},
			},
			stage: smtpprobe.StageDone,
			check: func(t *testing.T, r smtpprobe.Result, _ *smtptest.Server) {
				if r.CipherSuite != tls.TLS_RSA_WITH_AES_128_CBC_SHA || !r.Cert.Valid() {
					t.Errorf("CipherSuite, Cert = %s, %+v", tls.CipherSuiteName(r.CipherSuite), r.Cert)
				}
			},
		},
		{
			name: "STS-SEND-21 no common cipher suite",
			srv: &smtptest.Server{
				Cert: f.valid, MaxVersion: tls.VersionTLS12,
				CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_RC4_128_SHA},
			},
			stage:  smtpprobe.StageHandshake,
			kind:   smtpprobe.KindTLS,
			errHas: "no TLS version or cipher suite in common",
			check:  wantNoHandshake,
		},
		{
			name:   "STS-SEND-21 SSL 3.0-only server",
			srv:    &smtptest.Server{Hostile: smtptest.SSL3Only},
			stage:  smtpprobe.StageHandshake,
			kind:   smtpprobe.KindTLS,
			errHas: "only SSL 3.0 or older",
			check:  wantNoHandshake,
		},
		{
			name:   "server without a certificate aborts the handshake",
			srv:    &smtptest.Server{},
			stage:  smtpprobe.StageHandshake,
			kind:   smtpprobe.KindTLS,
			errHas: "TLS handshake failed",
			check:  wantNoHandshake,
		},
		{
			name:   "554 greeting is a protocol error with its code",
			srv:    &smtptest.Server{BannerCode: 554, BannerLines: []string{"5.7.1 no service here"}},
			stage:  smtpprobe.StageBanner,
			kind:   smtpprobe.KindProtocol,
			errHas: "554 5.7.1 no service here",
			check: func(t *testing.T, r smtpprobe.Result, srv *smtptest.Server) {
				if r.BannerCode != 554 || r.Banner != "5.7.1 no service here" {
					t.Errorf("banner = %d %q", r.BannerCode, r.Banner)
				}
				if got := srv.Commands(); !slices.Equal(got, []string{"QUIT"}) {
					t.Errorf("commands = %q, want QUIT only", got)
				}
			},
		},
		{
			name: "multi-line greeting and EHLO reply",
			srv: &smtptest.Server{
				Cert:        f.valid,
				BannerLines: []string{"mx1.example.test ESMTP first", "second line", "third line"},
				EHLOLines:   []string{"size 1000", "8bitmime", "AUTH PLAIN LOGIN", "X\x1b[31mBAD", "ENHANCEDSTATUSCODES"},
			},
			stage: smtpprobe.StageDone,
			check: func(t *testing.T, r smtpprobe.Result, _ *smtptest.Server) {
				if r.Banner != "mx1.example.test ESMTP first" {
					t.Errorf("Banner = %q, want the first line", r.Banner)
				}
				want := []string{"SIZE", "8BITMIME", "AUTH", "ENHANCEDSTATUSCODES", "STARTTLS"}
				if !slices.Equal(r.EHLO, want) {
					t.Errorf("EHLO = %q, want %q", r.EHLO, want)
				}
			},
		},
		{
			name:  "slow server within the deadline",
			srv:   &smtptest.Server{Cert: f.valid, Delay: 20 * time.Millisecond},
			stage: smtpprobe.StageDone,
			check: wantCert(certs.OK),
		},
		{
			name:   "hostile: endless greeting continuation lines",
			srv:    &smtptest.Server{Hostile: smtptest.EndlessBanner},
			stage:  smtpprobe.StageBanner,
			kind:   smtpprobe.KindProtocol,
			errHas: "more than 100 lines",
		},
		{
			name:   "hostile: greeting without a line ending",
			srv:    &smtptest.Server{Hostile: smtptest.NoCRLF},
			stage:  smtpprobe.StageBanner,
			kind:   smtpprobe.KindProtocol,
			errHas: "longer than 4096 bytes",
		},
		{
			name:   "hostile: 1 GiB of long lines hits the read cap",
			srv:    &smtptest.Server{Hostile: smtptest.Flood},
			stage:  smtpprobe.StageBanner,
			kind:   smtpprobe.KindProtocol,
			errHas: "more than 128 KiB",
		},
		{
			name:   "hostile: binary garbage",
			srv:    &smtptest.Server{Hostile: smtptest.Binary},
			stage:  smtpprobe.StageBanner,
			kind:   smtpprobe.KindProtocol,
			errHas: "the greeting: ",
			check: func(t *testing.T, r smtpprobe.Result, _ *smtptest.Server) {
				if strings.ContainsFunc(r.Err.Error(), func(c rune) bool { return c < ' ' || c == 0x7f }) {
					t.Errorf("Err carries control characters: %q", r.Err)
				}
			},
		},
		{
			name:   "hostile: data injected after the STARTTLS reply",
			srv:    &smtptest.Server{Hostile: smtptest.InjectAfterSTARTTLS},
			stage:  smtpprobe.StageSTARTTLS,
			kind:   smtpprobe.KindProtocol,
			errHas: "sent data after its reply to STARTTLS",
			check:  wantNoHandshake,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := tt.srv
			srv.Start(t)
			host := tt.host
			if host == "" {
				host = mxHost
			}
			r := f.prober(srv).Probe(t.Context(), host, loopback)
			srv.Close() // wait for the session to end: Commands is complete
			checkOutcome(t, r, tt.stage, tt.kind, tt.errHas)
			if r.Host != host || r.Addr != loopback || r.Elapsed <= 0 {
				t.Errorf("Host, Addr, Elapsed = %q, %v, %v", r.Host, r.Addr, r.Elapsed)
			}
			if tt.check != nil {
				tt.check(t, r, srv)
			}
			if srv.BytesWritten() >= smtptest.FloodBytes {
				t.Errorf("the probe read the whole flood (%d bytes)", srv.BytesWritten())
			}
		})
	}
}

func checkOutcome(t *testing.T, r smtpprobe.Result, stage smtpprobe.Stage, kind, errHas string) {
	t.Helper()
	if r.Stage != stage || r.Kind != kind {
		t.Errorf("Stage, Kind = %q, %q; want %q, %q (Err: %v)", r.Stage, r.Kind, stage, kind, r.Err)
	}
	switch {
	case errHas == "" && r.Err != nil:
		t.Errorf("Err = %v, want nil", r.Err)
	case errHas != "" && (r.Err == nil || !strings.Contains(r.Err.Error(), errHas)):
		t.Errorf("Err = %v, want it to contain %q", r.Err, errHas)
	}
	if (r.Err == nil) != (r.Stage == smtpprobe.StageDone) {
		t.Errorf("Err = %v with Stage %q: Err must be nil exactly when done", r.Err, r.Stage)
	}
}

func wantCert(p certs.Problem) func(*testing.T, smtpprobe.Result, *smtptest.Server) {
	return func(t *testing.T, r smtpprobe.Result, _ *smtptest.Server) {
		t.Helper()
		if r.Cert.Problem != p || r.TLSVersion == 0 || !r.STARTTLS {
			t.Errorf("Cert.Problem = %q (%s), TLSVersion %x; want %q after a handshake", r.Cert.Problem, r.Cert.Detail, r.TLSVersion, p)
		}
	}
}

func wantVersion(v uint16) func(*testing.T, smtpprobe.Result, *smtptest.Server) {
	return func(t *testing.T, r smtpprobe.Result, _ *smtptest.Server) {
		t.Helper()
		if r.TLSVersion != v || !r.Cert.Valid() {
			t.Errorf("TLSVersion = %s, Cert = %+v; want %s and a valid certificate",
				smtpprobe.TLSVersionName(r.TLSVersion), r.Cert, smtpprobe.TLSVersionName(v))
		}
	}
}

func wantNoHandshake(t *testing.T, r smtpprobe.Result, _ *smtptest.Server) {
	t.Helper()
	if !r.STARTTLS || r.TLSVersion != 0 || r.CipherSuite != 0 || r.Cert.ChainLen != 0 {
		t.Errorf("STARTTLS, TLSVersion, CipherSuite, Cert = %v, %x, %x, %+v; want STARTTLS offered and no handshake",
			r.STARTTLS, r.TLSVersion, r.CipherSuite, r.Cert)
	}
}

// TestProbeStalls covers servers that stop answering: the probe's own
// deadline ends it, with Kind "timeout" at the stage that stalled.
func TestProbeStalls(t *testing.T) {
	for _, tt := range []struct {
		name    string
		hostile smtptest.Hostile
		stage   smtpprobe.Stage
		code    int
	}{
		{"silent after accept", smtptest.Silent, smtpprobe.StageBanner, 0},
		{"stalls after the greeting", smtptest.StallAfterBanner, smtpprobe.StageEHLO, 220},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := &smtptest.Server{Hostile: tt.hostile}
			srv.Start(t)
			p := &smtpprobe.Prober{Port: srv.Port(), Timeout: 300 * time.Millisecond}
			r := p.Probe(t.Context(), mxHost, loopback)
			checkOutcome(t, r, tt.stage, smtpprobe.KindTimeout, "deadline")
			if r.BannerCode != tt.code {
				t.Errorf("BannerCode = %d, want %d", r.BannerCode, tt.code)
			}
		})
	}
}

// TestProbeCancel: cancelling the caller's context ends a probe that would
// otherwise wait for its (long) deadline.
func TestProbeCancel(t *testing.T) {
	srv := &smtptest.Server{Hostile: smtptest.Silent}
	srv.Start(t)
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(100*time.Millisecond, cancel)
	p := &smtpprobe.Prober{Port: srv.Port(), Timeout: time.Hour}
	r := p.Probe(ctx, mxHost, loopback)
	if r.Kind != smtpprobe.KindTimeout || r.Err == nil || !strings.Contains(r.Err.Error(), "cancelled") {
		t.Errorf("Stage, Kind, Err = %q, %q, %v; want a cancelled timeout", r.Stage, r.Kind, r.Err)
	}
}

// TestProbeConnect: a refused connection and a filtered port must be told
// apart, because the engine explains that networks often block port 25.
func TestProbeConnect(t *testing.T) {
	t.Run("refused", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		r := (&smtpprobe.Prober{Port: port}).Probe(t.Context(), mxHost, loopback)
		checkOutcome(t, r, smtpprobe.StageConnect, smtpprobe.KindRefused, "refused")
	})
	t.Run("filtered", func(t *testing.T) {
		port := filteredPort(t)
		r := (&smtpprobe.Prober{Port: port, Timeout: 500 * time.Millisecond}).Probe(t.Context(), mxHost, loopback)
		checkOutcome(t, r, smtpprobe.StageConnect, smtpprobe.KindTimeout, "timed out")
	})
	t.Run("context already done", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		r := (&smtpprobe.Prober{Port: 1}).Probe(ctx, mxHost, loopback)
		checkOutcome(t, r, smtpprobe.StageConnect, smtpprobe.KindTimeout, "cancelled")
	})
	t.Run("no address", func(t *testing.T) {
		r := (&smtpprobe.Prober{}).Probe(t.Context(), mxHost, netip.Addr{})
		checkOutcome(t, r, smtpprobe.StageConnect, smtpprobe.KindUnreachable, "no address")
	})
}

// TestProbeOptions covers HeloName and Now.
func TestProbeOptions(t *testing.T) {
	f := newFixture(t)
	t.Run("HeloName is sent", func(t *testing.T) {
		srv := &smtptest.Server{Cert: f.valid}
		srv.Start(t)
		p := f.prober(srv)
		p.HeloName = "probe.example.net"
		r := p.Probe(t.Context(), mxHost, loopback)
		srv.Close()
		checkOutcome(t, r, smtpprobe.StageDone, "", "")
		if got := srv.Commands(); len(got) == 0 || got[0] != "EHLO probe.example.net" {
			t.Errorf("commands = %q", got)
		}
	})
	t.Run("invalid HeloName is refused before connecting", func(t *testing.T) {
		srv := &smtptest.Server{Cert: f.valid}
		srv.Start(t)
		p := f.prober(srv)
		p.HeloName = "x\r\nMAIL FROM:<a@b>"
		r := p.Probe(t.Context(), mxHost, loopback)
		srv.Close()
		checkOutcome(t, r, smtpprobe.StageConnect, smtpprobe.KindProtocol, "invalid EHLO name")
		if got := srv.Commands(); len(got) != 0 {
			t.Errorf("commands = %q, want none", got)
		}
	})
	t.Run("STS-SEND-10 Now drives expiry", func(t *testing.T) {
		srv := &smtptest.Server{Cert: f.valid}
		srv.Start(t)
		p := f.prober(srv)
		p.Now = func() time.Time { return time.Now().AddDate(1, 0, 0) }
		r := p.Probe(t.Context(), mxHost, loopback)
		checkOutcome(t, r, smtpprobe.StageDone, "", "")
		if r.Cert.Problem != certs.Expired {
			t.Errorf("Cert.Problem = %q, want expired a year from now", r.Cert.Problem)
		}
	})
}

func TestTLSVersionName(t *testing.T) {
	for v, want := range map[uint16]string{
		0: "", 0x0300: "SSL 3.0", tls.VersionTLS10: "TLS 1.0", tls.VersionTLS11: "TLS 1.1",
		tls.VersionTLS12: "TLS 1.2", tls.VersionTLS13: "TLS 1.3", 0x7f1c: "0x7f1c",
	} {
		if got := smtpprobe.TLSVersionName(v); got != want {
			t.Errorf("TLSVersionName(%#x) = %q, want %q", v, got, want)
		}
	}
}

// BenchmarkProbeConcurrent probes 4 fake MX servers at once, each delaying
// every reply by 50 ms. A probe waits for 5 delayed replies (greeting, EHLO,
// STARTTLS, EHLO over TLS, QUIT), so "rtt/op" near 5 means the probes ran in
// parallel and near 20 that they were serialised (docs/design.md, Performance).
func BenchmarkProbeConcurrent(b *testing.B) {
	const delay = 50 * time.Millisecond
	ca := smtptest.NewCA(b, "Bench Root")
	var srvs []*smtptest.Server
	for i := range 4 {
		host := "mx" + string(rune('1'+i)) + ".example.test"
		s := &smtptest.Server{Hostname: host, Cert: ca.Issue(b, smtptest.Leaf{DNSNames: []string{host}}), Delay: delay}
		s.Start(b)
		srvs = append(srvs, s)
	}
	n, start := 0, time.Now()
	for b.Loop() {
		n++
		done := make(chan smtpprobe.Result, len(srvs))
		for _, s := range srvs {
			go func() {
				p := &smtpprobe.Prober{Roots: ca.Pool(), Port: s.Port()}
				done <- p.Probe(context.Background(), s.Hostname, loopback)
			}()
		}
		for range srvs {
			if r := <-done; r.Err != nil || !r.Cert.Valid() {
				b.Fatalf("probe %s: %v %+v", r.Host, r.Err, r.Cert)
			}
		}
	}
	b.ReportMetric(float64(time.Since(start))/float64(n)/float64(delay), "rtt/op")
}

// TestProbeCourtesy: with a Courtesy, Probe returns once the handshake is
// verified and the EHLO and QUIT that observe nothing follow in the
// background; Wait joins them, and cuts those still running once its
// context is done.
func TestProbeCourtesy(t *testing.T) {
	f := newFixture(t)
	t.Run("sent in the background and joined", func(t *testing.T) {
		srv := &smtptest.Server{Hostname: mxHost, Cert: f.valid}
		srv.Start(t)
		var c smtpprobe.Courtesy
		p := f.prober(srv)
		p.Courtesy = &c
		r := p.Probe(t.Context(), mxHost, loopback)
		checkOutcome(t, r, smtpprobe.StageDone, "", "")
		c.Wait(t.Context())
		if n := c.Running(); n != 0 {
			t.Errorf("%d courtesies still running after Wait", n)
		}
		want := []string{"EHLO stspilot.invalid", "STARTTLS", "TLS EHLO stspilot.invalid", "TLS QUIT"}
		if got := srv.Commands(); !slices.Equal(got, want) {
			t.Errorf("commands = %q, want %q", got, want)
		}
	})
	t.Run("QUIT after a refusal", func(t *testing.T) {
		srv := &smtptest.Server{NoSTARTTLS: true, Cert: f.valid}
		srv.Start(t)
		var c smtpprobe.Courtesy
		p := f.prober(srv)
		p.Courtesy = &c
		r := p.Probe(t.Context(), mxHost, loopback)
		checkOutcome(t, r, smtpprobe.StageEHLO, smtpprobe.KindProtocol, "does not offer STARTTLS")
		c.Wait(t.Context())
		if got := srv.Commands(); !slices.Equal(got, []string{"EHLO stspilot.invalid", "QUIT"}) {
			t.Errorf("commands = %q, want EHLO then QUIT", got)
		}
	})
	t.Run("an expired Wait cuts a stalled courtesy", func(t *testing.T) {
		// Every reply is late: the courtesy's EHLO is still unanswered
		// when Wait is called, so its QUIT is never sent.
		srv := &smtptest.Server{Hostname: mxHost, Cert: f.valid, Delay: 400 * time.Millisecond}
		srv.Start(t)
		var c smtpprobe.Courtesy
		p := f.prober(srv)
		p.Courtesy = &c
		r := p.Probe(t.Context(), mxHost, loopback)
		checkOutcome(t, r, smtpprobe.StageDone, "", "")
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		c.Wait(ctx)
		if n := c.Running(); n != 0 {
			t.Errorf("%d courtesies still running after Wait", n)
		}
		srv.Close()
		if got := srv.Commands(); slices.Contains(got, "TLS QUIT") {
			t.Errorf("commands = %q: the cut courtesy went on to QUIT", got)
		}
	})
	t.Run("a probe that never connected hands nothing over", func(t *testing.T) {
		srv := &smtptest.Server{Hostname: mxHost, Cert: f.valid}
		srv.Start(t)
		var c smtpprobe.Courtesy
		p := f.prober(srv)
		p.Courtesy = &c
		p.HeloName = "x y" // refused before connecting
		_ = p.Probe(t.Context(), mxHost, loopback)
		if n := c.Running(); n != 0 {
			t.Errorf("%d courtesies for a probe that never connected", n)
		}
	})
}
