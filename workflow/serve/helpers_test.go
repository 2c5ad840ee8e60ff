package serve

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stspilot/stspilot/internal/testca"
	"github.com/stspilot/stspilot/workflow"
	"github.com/stspilot/stspilot/workflow/journal"
)

// testCA is a throwaway CA that issues leaf certificates for loopback tests.
type testCA struct {
	*testca.CA
	pool *x509.CertPool
}

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	ca := testca.MustNew(t, testca.Options{
		Name:      "stspilot serve test CA",
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
	})
	return &testCA{CA: ca, pool: ca.Pool()}
}

// issue writes a leaf for names into dir and returns its cert and key files.
func (ca *testCA) issue(t testing.TB, dir string, names ...string) (certFile, keyFile string) {
	t.Helper()
	return ca.MustWritePEM(t, dir, testca.Leaf{Names: names, CommonName: names[0], NotAfter: time.Now().Add(24 * time.Hour)})
}

// publish puts policy for domain where the serve publisher would.
func publish(t testing.TB, state, domain string, policy []byte) {
	t.Helper()
	if _, err := (&workflow.Serve{StateDir: state}).Publish(context.Background(), domain, policy); err != nil {
		t.Fatal(err)
	}
}

// publishID puts policy for domain with its id where the serve publisher
// would, as a workflow's publish step does.
func publishID(t testing.TB, state, domain string, policy []byte, id string) {
	t.Helper()
	if _, err := (&workflow.Serve{StateDir: state}).PublishID(context.Background(), domain, policy, id); err != nil {
		t.Fatal(err)
	}
}

// setJournalPolicy gives domain a journal whose live policy is text with id.
func setJournalPolicy(t testing.TB, state, domain, text, id string) {
	t.Helper()
	s, err := journal.Open(state)
	if err != nil {
		t.Fatal(err)
	}
	h, err := s.Lock(domain)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	j, err := h.Load()
	if err != nil {
		t.Fatal(err)
	}
	if j == nil {
		if j, err = journal.New(domain); err != nil {
			t.Fatal(err)
		}
	}
	j.Policy = &journal.Policy{Text: text, ID: id, PolicyTerms: journal.PolicyTerms{Mode: "testing", MaxAge: 86400, MX: []string{"mx1." + domain}}}
	if err := h.Save(j); err != nil {
		t.Fatal(err)
	}
}

// syncBuffer is a concurrency-safe bytes.Buffer for the access log.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// running is a Server on a loopback listener.
type running struct {
	addr string
	srv  *Server
	ca   *testCA
	done chan error
	stop context.CancelFunc
}

// start runs a TLS server on 127.0.0.1 with cfg; certs are issued by a
// fresh CA for names (one pair per group).
func start(t testing.TB, cfg Config, groups ...[]string) *running {
	t.Helper()
	ca := newTestCA(t)
	dir := t.TempDir()
	var cf, kf []string
	for _, g := range groups {
		c, k := ca.issue(t, dir, g...)
		cf, kf = append(cf, c), append(kf, k)
	}
	fc, err := LoadFileCerts(cf, kf)
	if err != nil {
		t.Fatal(err)
	}
	cfg.TLS = fc.TLSConfig()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{addr: ln.Addr().String(), srv: s, ca: ca, done: make(chan error, 1), stop: cancel}
	go func() { r.done <- s.Serve(ctx, []net.Listener{ln}) }()
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	return r
}

// client is an HTTPS client that dials the server whatever the URL's host,
// trusting the test CA; h2 selects HTTP/2.
func (r *running) client(h2 bool) *http.Client {
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: r.ca.pool},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, r.addr)
		},
		ForceAttemptHTTP2: h2,
	}
	if !h2 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	return &http.Client{
		Transport: tr,
		Timeout:   10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

type serveRemover struct{ state string }

func (s *serveRemover) remove(domain string) (workflow.Published, error) {
	return (&workflow.Serve{StateDir: s.state}).Remove(context.Background(), domain)
}
