package serve

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of the server's bounds. A policy fetch is one small GET; a
// report is one POST of at most a few MiB: nothing legitimate needs more.
// A sender fetches once per connection; a benchmark reuses its connections
// back to back: neither needs a keep-alive connection to wait long for its
// next request.
const (
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultWriteTimeout      = 30 * time.Second
	DefaultIdleTimeout       = 5 * time.Second
	DefaultMaxHeaderBytes    = 16 << 10
	DefaultMaxConns          = 1024
	DefaultMaxConnsPerClient = 64
	DefaultShutdownTimeout   = 10 * time.Second
	DefaultRUAPath           = "/tlsrpt"
)

// Config configures a Server. Zero values take the defaults above.
type Config struct {
	// StateDir is the state directory: serve reads the policies of
	// StateDir/publish (and of StateDir/serve, the earlier layout) and
	// nothing else of it, and stores reports under StateDir/reports
	// unless ReportsDir says otherwise.
	StateDir string
	// ReportsDir is where received reports are stored ("" =
	// StateDir/reports): a directory serve's user may write.
	ReportsDir string
	// Policies replaces NewPolicies(StateDir) (to share it with ACME).
	Policies *Policies
	// TLS must offer certificates (GetCertificate or Certificates); nil
	// serves plain HTTP, for tests and for a TLS-terminating proxy in front.
	TLS *tls.Config
	// RUAPath is where reports are POSTed ("" = DefaultRUAPath; "-" = off).
	RUAPath string
	// Validate checks POSTed reports (default Validate: checks/tlsrpt).
	Validate ReportValidator
	// MaxReportBody and MaxReportJSON cap a report as sent and
	// decompressed, MaxReportsInFlight the reports processed at once (one
	// more: 503), ReportsQuota the bytes of the reports directory (past
	// it: 507) (see Receiver). ReportTimeout bounds a report's processing
	// (default DefaultReportTimeout, and never past two thirds of
	// WriteTimeout, so that the answer can still be written).
	MaxReportBody, MaxReportJSON int64
	MaxReportsInFlight           int
	ReportsQuota                 int64
	ReportTimeout                time.Duration
	// Log receives the access log (nil: none).
	Log *AccessLog
	// Metrics exports the counts (NewMetrics; nil: none): the fetches and
	// reports its Policies count and this Server's refused connections.
	Metrics *Metrics
	// Logger receives the rate-limited lines about refused connections
	// (nil: none).
	Logger *slog.Logger
	// ErrorLog receives the HTTP server's own errors (TLS handshake
	// failures, ...); nil discards them.
	ErrorLog *log.Logger

	// ReadHeaderTimeout bounds the TLS handshake and each request's
	// headers, and also the time from accepting a connection to the end of
	// its first request's headers. IdleTimeout is how long a kept-alive
	// connection waits for its next request.
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout, ShutdownTimeout time.Duration
	MaxHeaderBytes                                                             int
	// MaxConns caps open connections over all listeners; at the cap a new
	// connection evicts the oldest idle keep-alive connection.
	MaxConns int
	// MaxConnsPerClient caps open connections from one IPv4 address or
	// one IPv6 /64; a further one evicts that client's oldest idle
	// connection, or is closed when none of its connections is idle.
	MaxConnsPerClient int

	// noFastPath has net/http answer every request (for the tests that
	// compare the fast path with it).
	noFastPath bool
}

// Server is the policy host and report receiver on one or more listeners.
type Server struct {
	cfg     Config
	handler *Handler
	srv     *http.Server
	conns   *connTracker

	// The fast path (fastpath.go): its connections, the listener that
	// hands connections to srv, the handshakes' context, and whether a
	// shutdown began.
	fast     fastConns
	handoff  *handoffListener
	hsCtx    context.Context
	hsCancel context.CancelFunc
	closing  atomic.Bool
	// handedOff counts the connections handed to srv (for tests).
	handedOff atomic.Int64
}

// New builds a Server from cfg.
func New(cfg Config) (*Server, error) {
	if cfg.StateDir == "" {
		return nil, errors.New("serve: no state directory")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	def(&cfg.ReadTimeout, DefaultReadTimeout)
	def(&cfg.WriteTimeout, DefaultWriteTimeout)
	def(&cfg.IdleTimeout, DefaultIdleTimeout)
	def(&cfg.ShutdownTimeout, DefaultShutdownTimeout)
	if cfg.MaxHeaderBytes <= 0 {
		cfg.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.MaxConnsPerClient <= 0 {
		cfg.MaxConnsPerClient = min(DefaultMaxConnsPerClient, cfg.MaxConns)
	}
	if cfg.RUAPath == "" {
		cfg.RUAPath = DefaultRUAPath
	}
	if cfg.Validate == nil {
		cfg.Validate = Validate
	}
	pol := cfg.Policies
	if pol == nil {
		pol = NewPolicies(cfg.StateDir)
	}
	h := &Handler{Policies: pol, Log: cfg.Log}
	if cfg.RUAPath != "-" {
		if cfg.RUAPath[0] != '/' {
			return nil, fmt.Errorf("serve: rua path %q must start with /", cfg.RUAPath)
		}
		h.RUAPath = cfg.RUAPath
		h.Receiver = &Receiver{
			StateDir: cfg.StateDir, Dir: cfg.ReportsDir, Validate: cfg.Validate,
			MaxBody: cfg.MaxReportBody, MaxJSON: cfg.MaxReportJSON, MaxInFlight: cfg.MaxReportsInFlight,
			Quota: cfg.ReportsQuota, ErrorLog: cfg.ErrorLog,
		}
		h.ReportTimeout = cfg.ReportTimeout
		if h.ReportTimeout <= 0 {
			h.ReportTimeout = DefaultReportTimeout
		}
		h.ReportTimeout = min(h.ReportTimeout, cfg.WriteTimeout*2/3)
	}
	var tc *tls.Config
	if cfg.TLS != nil {
		tc = cfg.TLS.Clone()
		if tc.MinVersion == 0 {
			tc.MinVersion = tls.VersionTLS12
		}
		// HTTP/1.1 only (see docs/serve.md): ALPN never offers h2.
		tc.NextProtos = slices.DeleteFunc(slices.Clone(tc.NextProtos), func(p string) bool { return p == "h2" })
		if !slices.Contains(tc.NextProtos, "http/1.1") {
			tc.NextProtos = append([]string{"http/1.1"}, tc.NextProtos...)
		}
	}
	errLog := cfg.ErrorLog
	if errLog == nil {
		errLog = log.New(discard{}, "", 0)
	}
	// Serve speaks HTTP/1.1 only. Senders fetch a policy over HTTP/1.1
	// (one small GET per connection), and Go's HTTP/2 server has no
	// per-stream header timeout: a HEADERS frame without END_HEADERS held
	// a connection until the idle timeout, and its streams make a
	// connection's idleness, which the connection caps rely on, a guess.
	protos := new(http.Protocols)
	protos.SetHTTP1(true)
	conns := newConnTracker(cfg.MaxConns, cfg.MaxConnsPerClient, cfg.ReadHeaderTimeout)
	conns.log = cfg.Logger
	if cfg.Metrics != nil {
		cfg.Metrics.conns.Store(conns)
	}
	srv := &http.Server{
		Handler:           h,
		TLSConfig:         tc,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		ErrorLog:          errLog,
		Protocols:         protos,
		ConnState:         conns.connState,
	}
	return &Server{cfg: cfg, handler: h, srv: srv, conns: conns}, nil
}

// Handler is the server's http.Handler (for tests and embedding).
func (s *Server) Handler() http.Handler { return s.handler }

// Policies is the server's policy reader.
func (s *Server) Policies() *Policies { return s.handler.Policies }

// Listen binds every address (":443", "127.0.0.1:8443").
func Listen(addrs []string) ([]net.Listener, error) {
	var lns []net.Listener
	for _, a := range addrs {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return nil, fmt.Errorf("serve: listen on %s: %w", a, err)
		}
		lns = append(lns, ln)
	}
	return lns, nil
}

// Serve serves on lns until ctx ends, then shuts down gracefully: it stops
// accepting, lets requests in flight finish for ShutdownTimeout, then
// closes what is left. It returns nil after a shutdown asked for by ctx.
func (s *Server) Serve(ctx context.Context, lns []net.Listener) error {
	if len(lns) == 0 {
		return errors.New("serve: no listener")
	}
	defer s.conns.flushLog()
	if s.srv.TLSConfig != nil && !s.cfg.noFastPath {
		return s.serveFast(ctx, lns)
	}
	errc := make(chan error, len(lns))
	var wg sync.WaitGroup
	for _, ln := range lns {
		ln := s.conns.listener(ln)
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if s.srv.TLSConfig != nil {
				err = s.srv.ServeTLS(ln, "", "")
			} else {
				err = s.srv.Serve(ln)
			}
			if !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	if serr := s.srv.Shutdown(sctx); serr != nil {
		s.srv.Close()
	}
	wg.Wait()
	return err
}

// serveFast is Serve with the fast path in front of net/http: the
// listeners' connections are served by serveTLS, which hands those it
// does not answer itself to srv.
func (s *Server) serveFast(ctx context.Context, lns []net.Listener) error {
	s.hsCtx, s.hsCancel = context.WithCancel(context.Background())
	defer s.hsCancel()
	s.fast.conns = map[*trackedConn]struct{}{}
	s.handoff = newHandoffListener(lns[0].Addr())
	errc := make(chan error, len(lns)+1)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := s.srv.Serve(s.handoff); !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	})
	tlns := make([]*trackedListener, len(lns))
	for i, ln := range lns {
		tlns[i] = s.conns.listener(ln)
		wg.Go(func() {
			if err := s.acceptTLS(tlns[i]); err != nil {
				errc <- err
			}
		})
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	s.closing.Store(true)
	for _, ln := range tlns {
		ln.Close()
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	var fwg sync.WaitGroup
	fwg.Go(func() { s.shutdownFast(sctx) })
	if serr := s.srv.Shutdown(sctx); serr != nil {
		s.srv.Close()
	}
	fwg.Wait()
	wg.Wait()
	return err
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
