package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stspilot/stspilot/internal/metricsrv"
	"github.com/stspilot/stspilot/workflow/journal"
	"github.com/stspilot/stspilot/workflow/serve"
)

// acmeSyncInterval is how often serve looks for domains that started using
// the serve publisher, to get their certificates.
const acmeSyncInterval = 10 * time.Second

// ServeOptions is everything `stspilot serve` needs.
type ServeOptions struct {
	CommonOptions

	Listen           []string
	TLSCerts, TLSKey []string
	ACME             bool
	ACMECA           string
	ACMEEmail        string
	ACMECARoot       string
	RUAPath          string
	StateDir         string
	ReportsDir       string // "" = STATE/reports
	ReportsQuotaMiB  int64  // MiB the stored reports may take
	ACMEDir          string // "" = STATE/acme
	AccessLog        string // file, or "-" for stderr
	MetricsListen    string // "" = no metrics
}

func newServeCmd(f *factory, runF func(context.Context, *ServeOptions) error) *cobra.Command {
	o := &ServeOptions{CommonOptions: f.newCommon()}
	cmd := &cobra.Command{
		Use:     "serve",
		Short:   "Built-in MTA-STS policy host and TLS-RPT HTTPS receiver",
		GroupID: groupRun,
		Long: `Serve is an HTTPS policy host that senders cannot trip over: for every domain
whose workflows use --publish serve, it answers
https://mta-sts.DOMAIN/.well-known/mta-sts.txt with status 200, Content-Type
text/plain and the exact bytes the workflow published, never a redirect; any
other path or host gets 404. It picks the domain by Host header and SNI, and
picks up what workflows publish without a restart. HTTP/1.1 only, with
per-client and global connection caps (see docs/serve.md).

Certificates come from files (--tls-cert/--tls-key, repeatable: one pair for
all names, or the pair whose certificate names the SNI), or from an ACME CA
(--acme, TLS-ALPN-01 on the listening port) for the mta-sts names of the
served domains only, never for other names.

It reads STATE/publish only (each domain's policy and its id file), never a
journal, so it may run as another user in the group of STATE/publish; see
docs/serve.md for the user and group set-up.

It also takes TLS-RPT reports (rua=https://mta-sts.DOMAIN/tlsrpt): POST with
Content-Type application/tlsrpt+gzip or application/tlsrpt+json, validated and
stored under --reports-dir (default STATE/reports), where "stspilot reports"
reads them: only on mta-sts.DOMAIN of a served DOMAIN and about that domain, a
few at a time, 16 MiB decompressed at most, within --reports-quota.

The access log (JSON lines, --access-log, default stderr) records every
request with the sender's User-Agent and the policy id it was served.
SIGINT, SIGTERM or SIGHUP stops it gracefully (exit 130).`,
		Example: `  stspilot serve --tls-cert /etc/ssl/mta-sts.pem --tls-key /etc/ssl/mta-sts.key
  stspilot serve --acme --acme-email hostmaster@example.com --access-log /var/log/stspilot/access.log
  stspilot rollout example.com --publish serve --provider cloudflare`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf("serve takes no arguments (got %q): it serves every domain published with --publish serve", args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.prepare(cmd, &o.CommonOptions, needConfig); err != nil {
				return err
			}
			if v := o.Config["access_log"]; v != "" && !cmd.Flags().Changed("access-log") {
				o.AccessLog = v
			}
			if err := o.validate(); err != nil {
				return err
			}
			return runOr(cmd.Context(), o, runF, serveRun)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&o.Listen, "listen", []string{":443"}, "`ADDR` to listen on for HTTPS (repeatable)")
	fl.StringArrayVar(&o.TLSCerts, "tls-cert", nil, "certificate chain `FILE` (PEM; repeatable, paired with --tls-key in order)")
	fl.StringArrayVar(&o.TLSKey, "tls-key", nil, "private key `FILE` of the --tls-cert in the same position")
	fl.BoolVar(&o.ACME, "acme", false, "get certificates for mta-sts.DOMAIN of the served domains from an ACME CA")
	fl.StringVar(&o.ACMECA, "acme-ca", "", "ACME directory `URL` (default Let's Encrypt)")
	fl.StringVar(&o.ACMEEmail, "acme-email", "", "contact `ADDRESS` for the ACME account")
	fl.StringVar(&o.ACMECARoot, "acme-ca-root", "", "PEM `FILE` of roots to trust for the ACME CA's own HTTPS (a test CA such as Pebble)")
	fl.StringVar(&o.RUAPath, "rua-path", serve.DefaultRUAPath, "`PATH` that takes TLS-RPT reports by POST (\"-\" turns the receiver off)")
	fl.StringVar(&o.StateDir, "state-dir", "", "state `DIR` the workflows publish into (default $XDG_STATE_HOME/stspilot)")
	fl.StringVar(&o.ReportsDir, "reports-dir", "", "`DIR` to store received reports in, writable by serve's user (default STATE/reports)")
	fl.Int64Var(&o.ReportsQuotaMiB, "reports-quota", serve.DefaultReportsQuota>>20, "`MIB` the reports directory may hold; past it reports are refused (507)")
	fl.StringVar(&o.ACMEDir, "acme-dir", "", "`DIR` for the ACME account, keys and certificates, writable by serve's user (default STATE/acme)")
	fl.StringVar(&o.AccessLog, "access-log", "-", "access log `FILE` (JSON lines; - is stderr; config key access_log)")
	fl.StringVar(&o.MetricsListen, "metrics-listen", "", "serve Prometheus metrics on `ADDR` (/metrics, /healthz; docs/monitoring.md)")
	return cmd
}

func (o *ServeOptions) validate() error {
	if len(o.Listen) == 0 {
		return usageErrorf("give at least one --listen ADDR")
	}
	for _, a := range o.Listen {
		if _, port, err := net.SplitHostPort(a); err != nil || port == "" {
			return usageErrorf("--listen %q: want HOST:PORT or :PORT", a)
		}
	}
	switch {
	case o.ACME && len(o.TLSCerts) > 0:
		return usageErrorf("give either --acme or --tls-cert/--tls-key, not both")
	case !o.ACME && len(o.TLSCerts) == 0:
		return usageErrorf("serve needs certificates: --tls-cert FILE --tls-key FILE, or --acme")
	case len(o.TLSCerts) != len(o.TLSKey):
		return usageErrorf("give one --tls-key per --tls-cert (got %d and %d)", len(o.TLSCerts), len(o.TLSKey))
	case !o.ACME && (o.ACMECA != "" || o.ACMEEmail != "" || o.ACMECARoot != ""):
		return usageErrorf("--acme-ca, --acme-email and --acme-ca-root need --acme")
	case o.ReportsQuotaMiB <= 0 || o.ReportsQuotaMiB > 1<<30:
		return usageErrorf("--reports-quota %d: want a number of MiB from 1 to %d", o.ReportsQuotaMiB, 1<<30)
	case o.RUAPath != "-" && !strings.HasPrefix(o.RUAPath, "/"):
		return usageErrorf("--rua-path %q must start with /", o.RUAPath)
	}
	return validListen("--metrics-listen", o.MetricsListen)
}

// serveDirs are the directories serve uses: the state directory (of which
// it reads STATE/publish, and STATE/serve of the earlier layout, only), and
// the two it writes.
type serveDirs struct {
	state, reports, acme string
}

// dirs resolves the directories without creating the state directory:
// serve may run as a user that cannot, and must not create a journal
// directory.
func (o *ServeOptions) dirs() (serveDirs, error) {
	state, err := journal.AbsDir(o.StateDir)
	if err != nil {
		return serveDirs{}, err
	}
	var sd serveDirs
	for _, p := range []struct {
		dst  *string
		v, d string
	}{{&sd.state, state, ""}, {&sd.reports, o.ReportsDir, filepath.Join(state, serve.ReportsDir)}, {&sd.acme, o.ACMEDir, filepath.Join(state, "acme")}} {
		v := p.v
		if v == "" {
			v = p.d
		}
		abs, err := filepath.Abs(v)
		if err != nil {
			return serveDirs{}, err
		}
		*p.dst = abs
	}
	return sd, nil
}

// Serve's garbage collector: under keep-alive load the default (GOGC=100)
// spent about 7% of serve's CPU collecting the per-request garbage of
// net/http; at 400 it spends a quarter of that, for about 10 MiB more
// resident memory at 30,000 requests/s. The soft limit keeps the heap of a
// server full of connections (1,024 by default) from growing 5 times its
// live size. GOGC and GOMEMLIMIT in the environment win.
const (
	serveGCPercent   = 400
	serveMemoryLimit = 256 << 20
)

func tuneServeGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(serveGCPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(serveMemoryLimit)
	}
}

func serveRun(ctx context.Context, o *ServeOptions) error {
	tuneServeGC()
	dirs, err := o.dirs()
	if err != nil {
		return err
	}
	state := dirs.state
	logw := o.IO.ErrOut
	if o.AccessLog != "-" && o.AccessLog != "" {
		var lf *os.File
		lf, err = os.OpenFile(o.AccessLog, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
		if err != nil {
			return fmt.Errorf("--access-log: %w", err)
		}
		defer lf.Close()
		logw = lf
	}
	// Off the requests' path: a line is written within a few
	// milliseconds, the lines of a busy second in a few hundred writes.
	accessLog := serve.NewBatchedAccessLog(logw, serve.DefaultAccessLogDelay)
	defer accessLog.Close()
	policies := serve.NewPolicies(state)
	policies.Warn = func(msg string) { fmt.Fprintf(o.IO.ErrOut, "stspilot serve: warning: %s\n", msg) }
	cfg := serve.Config{
		StateDir:   state,
		ReportsDir: dirs.reports,
		// The quota counts the reports directory's files.
		ReportsQuota: o.ReportsQuotaMiB << 20,
		Policies:     policies,
		RUAPath:      o.RUAPath,
		Log:          accessLog,
		ErrorLog:     log.New(o.IO.ErrOut, "serve: ", 0),
		// Connections refused or closed by the limits: a line per
		// reason a minute at most, with their count.
		Logger: slog.New(slog.NewTextHandler(o.IO.ErrOut, nil)),
	}
	if o.RUAPath != "-" {
		// Found at start rather than at the first report: the reports
		// directory must be serve's user's to write.
		if err = mkdirReports(dirs); err != nil {
			return fmt.Errorf("reports directory: %w (give serve's user a directory of its own with --reports-dir; docs/serve.md)", err)
		}
		if err = writable(dirs.reports); err != nil {
			return fmt.Errorf("reports directory %s is not writable by this user: %w (--reports-dir; docs/serve.md)", dirs.reports, err)
		}
	}
	var acme *serve.ACME
	if o.ACME {
		host, port, _ := net.SplitHostPort(o.Listen[0])
		p, _ := strconv.Atoi(port)
		acme, err = serve.NewACME(serve.ACMEOptions{
			CA: o.ACMECA, Email: o.ACMEEmail, CARoot: o.ACMECARoot, Dir: dirs.acme,
			ListenHost: host, TLSALPNPort: p, Log: o.IO.ErrOut,
		}, policies)
		if err != nil {
			return err
		}
		cfg.TLS = acme.TLSConfig()
	} else {
		var fc *serve.FileCerts
		fc, err = serve.LoadFileCerts(o.TLSCerts, o.TLSKey)
		if err != nil {
			return &usageError{err}
		}
		cfg.TLS = fc.TLSConfig()
	}
	if o.MetricsListen != "" {
		reg := metricsrv.NewRegistry()
		cfg.Metrics = serve.NewMetrics(reg, policies)
		_, stop, merr := startMetrics(ctx, o.MetricsListen, reg, func(format string, args ...any) {
			fmt.Fprintf(o.IO.ErrOut, "stspilot serve: "+format+"\n", args...)
		})
		if merr != nil {
			return merr
		}
		defer stop()
	}
	srv, err := serve.New(cfg)
	if err != nil {
		return err
	}
	lns, err := serve.Listen(o.Listen)
	if err != nil {
		return err
	}
	domains, err := policies.Domains()
	if err != nil {
		return fmt.Errorf("reading the publish directory: %w (serve's user must be in its group; docs/serve.md)", err)
	}
	for _, d := range domains {
		// Now rather than at the first fetch: a warning about a policy
		// of the earlier layout, or an unreadable one.
		if _, lerr := policies.Lookup(d); lerr != nil {
			fmt.Fprintf(o.IO.ErrOut, "stspilot serve: warning: %v\n", lerr)
		}
	}
	var addrs []string
	for _, ln := range lns {
		addrs = append(addrs, ln.Addr().String())
	}
	fmt.Fprintf(o.IO.ErrOut, "stspilot serve: listening on %s; %d domain(s) published with --publish serve in %s\n",
		strings.Join(addrs, ", "), len(domains), policies.Dir)
	if acme != nil {
		if err := acme.Sync(ctx, false); err != nil {
			fmt.Fprintf(o.IO.ErrOut, "stspilot serve: %v\n", err)
		}
		go acme.Watch(ctx, acmeSyncInterval, func(err error) { fmt.Fprintf(o.IO.ErrOut, "stspilot serve: %v\n", err) })
	}
	return srv.Serve(ctx, lns)
}

// writable checks that this user may create files in dir.
func writable(dir string) error {
	f, err := os.CreateTemp(dir, ".stspilot-serve-check-*")
	if err != nil {
		return err
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// mkdirReports creates the reports directory (0750) when missing: under
// the state directory, which it creates 0700 like every command; a
// directory given with --reports-dir must have its parent already.
func mkdirReports(d serveDirs) error {
	if fi, err := os.Stat(d.reports); err == nil && fi.IsDir() {
		return nil
	}
	if filepath.Dir(d.reports) == d.state {
		if err := os.MkdirAll(d.state, 0o700); err != nil {
			return err
		}
	}
	if err := os.Mkdir(d.reports, 0o750); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return nil
}
