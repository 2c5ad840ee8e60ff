package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/stspilot/stspilot/checks"
	"github.com/stspilot/stspilot/dnsprovider"
	"github.com/stspilot/stspilot/internal/clock"
	"github.com/stspilot/stspilot/internal/duration"
	"github.com/stspilot/stspilot/internal/metricsrv"
	"github.com/stspilot/stspilot/tui/textout"
	"github.com/stspilot/stspilot/workflow"
	"github.com/stspilot/stspilot/workflow/journal"
	"github.com/stspilot/stspilot/workflow/watch"
)

// Bounds of watch's flags.
const (
	defaultWatchInterval = time.Hour
	minWatchInterval     = time.Second
	defaultHookTimeout   = time.Minute
)

// WatchOptions is everything `stspilot watch` needs.
type WatchOptions struct {
	CommonOptions // Resolvers validated

	DomainsOptions // Domains normalised
	Interval       time.Duration
	OnAlert        string // exec:CMD, or ""
	HookTimeout    time.Duration
	MetricsListen  string
	StateDir       string

	// Clock paces the watch (nil: the system clock); cycles, when set by
	// a test, ends it after that many wake-ups.
	Clock  clock.Clock
	cycles int
	// afterCycles, set by a test, is called with the metrics' address
	// once the cycles are done, before the metrics server stops.
	afterCycles func(metricsAddr string)
}

func newWatchCmd(f *factory, runF func(context.Context, *WatchOptions) error) *cobra.Command {
	o := &WatchOptions{CommonOptions: f.newCommon(), DomainsOptions: f.newDomainsOptions()}
	cmd := &cobra.Command{
		Use:     "watch [DOMAIN...]",
		Short:   "Re-check domains on an interval and report findings as they appear, change or clear",
		GroupID: groupDiagnose,
		Long: `Watch runs until stopped: it checks every domain (the arguments, -f FILE, or
with neither every domain of the journal) every --interval (jittered by up to a
tenth; the policy host at least as often as the strictest sender refetches it,
every 12 hours or sooner for a short max_age), --concurrency at a time.

When a finding appears, changes severity or clears, it prints one line; with
--json one stspilot.watch/v1 JSON line with "change" (appeared, changed,
cleared), the domain and the finding as check --json has it.

Besides check's findings it reports, from the journal's ledger (for a domain
without a journal, the live policy's max_age from now), an MX or policy-host
certificate that expires before the horizon of the enforce policy senders may
hold (mx.cert-expires-in-horizon, policy.cert-expires-in-horizon).

--on-alert exec:CMD runs CMD (under sh -c, in a process group of its own,
killed on exit, bounded by --hook-timeout) with the event's JSON line on stdin
and STSPILOT_DOMAIN, STSPILOT_CHANGE, STSPILOT_FINDING, STSPILOT_SEVERITY set,
for error findings and the alerts: the policy host failing for some sender, an
uncovered MX, a certificate expiring within the horizon, id drift, the
_mta-sts record gone while a policy is served. A failing hook is logged and
retried with backoff; it never stops the watch.

--metrics-listen ADDR serves Prometheus metrics on /metrics and /healthz
(docs/monitoring.md). SIGINT, SIGTERM or SIGHUP stops it (exit 130).`,
		Example: `  stspilot watch example.com example.org
  stspilot watch --json --interval 30m -f domains.txt
  stspilot watch --on-alert 'exec:mail -s "stspilot alert" hostmaster@example.com' --metrics-listen 127.0.0.1:9464`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Domains = args
			return runCommand(cmd, f, needResolvers|needConfig, o, runF, watchRun)
		},
	}
	fl := cmd.Flags()
	o.addFlags(cmd)
	fl.Var(duration.NewValue(&o.Interval, defaultWatchInterval), "interval", "re-check each domain every `DURATION`")
	fl.StringVar(&o.OnAlert, "on-alert", "", "run `exec:CMD` with each alert event on stdin")
	fl.Var(duration.NewValue(&o.HookTimeout, defaultHookTimeout), "hook-timeout", "stop an --on-alert command after `DURATION`")
	fl.StringVar(&o.MetricsListen, "metrics-listen", "", "serve Prometheus metrics on `ADDR` (/metrics, /healthz)")
	fl.StringVar(&o.StateDir, "state-dir", "", "journal `DIR`ectory (default $XDG_STATE_HOME/stspilot)")
	return cmd
}

func (o *WatchOptions) validate() error {
	if err := o.checkConcurrency(); err != nil {
		return err
	}
	if o.Interval < minWatchInterval {
		return usageErrorf("--interval must be at least 1s, not %s", duration.Format(o.Interval))
	}
	if o.Timeout <= 0 {
		return usageErrorf("--timeout must be positive, not %s", duration.Format(o.Timeout))
	}
	if o.HookTimeout <= 0 {
		return usageErrorf("--hook-timeout must be positive, not %s", duration.Format(o.HookTimeout))
	}
	if err := validListen("--metrics-listen", o.MetricsListen); err != nil {
		return err
	}
	if o.OnAlert != "" {
		cmd, ok := strings.CutPrefix(o.OnAlert, "exec:")
		if !ok || strings.TrimSpace(cmd) == "" {
			return usageErrorf("--on-alert takes exec:CMD, e.g. --on-alert 'exec:/usr/local/bin/page-oncall'")
		}
	}
	for i, d := range o.Domains {
		n, err := o.Normalize(d)
		if err != nil {
			return &usageError{err}
		}
		o.Domains[i] = n
	}
	return nil
}

// watchDomains is the list to watch: the arguments and -f FILE, or every
// domain of the journal; invalid lines of the file are reported and
// skipped, duplicates dropped.
func (o *WatchOptions) watchDomains(st *journal.Store) ([]string, error) {
	out := slices.Clone(o.Domains)
	r, name, done, err := o.openFile(o.IO.In)
	if err != nil {
		return nil, err
	}
	defer done()
	if r != nil {
		err := readDomains(r, name, func(input, where string) bool {
			d, err := o.Normalize(input)
			if err != nil {
				fmt.Fprintf(o.IO.ErrOut, "stspilot watch: %s: %v (skipped)\n", where, err)
				return true
			}
			out = append(out, d)
			return true
		})
		if err != nil {
			return nil, &exitError{exitFailure, err}
		}
	}
	if len(o.Domains) == 0 && o.File == "" && st != nil {
		ds, err := st.Domains()
		if err != nil && !errors.Is(err, fs.ErrNotExist) { // no state directory yet: no domain
			return nil, &exitError{exitFailure, fmt.Errorf("listing the journal's domains: %w", err)}
		}
		out = ds
	}
	seen := map[string]bool{}
	uniq := out[:0]
	for _, d := range out {
		if !seen[d] {
			seen[d] = true
			uniq = append(uniq, d)
		}
	}
	if len(uniq) == 0 {
		if len(o.Domains) == 0 && o.File == "" {
			return nil, usageErrorf("the journal knows no domain: give domains to watch, or -f FILE")
		}
		return nil, usageErrorf("no domain to watch")
	}
	return uniq, nil
}

func watchRun(ctx context.Context, o *WatchOptions) error {
	st, err := journal.OpenExisting(o.StateDir)
	if err != nil {
		return err
	}
	domains, err := o.watchDomains(st)
	if err != nil {
		return err
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	copt := checks.Options{Resolvers: o.Resolvers, Timeout: o.Timeout}

	var outMu sync.Mutex
	logf := func(format string, args ...any) {
		outMu.Lock()
		defer outMu.Unlock()
		fmt.Fprintf(o.IO.ErrOut, "stspilot watch: "+format+"\n", args...)
	}

	var hook *watch.Hook
	if command, ok := strings.CutPrefix(o.OnAlert, "exec:"); ok {
		scrub := dnsprovider.SecretVars() // lego's names and NAME_FILE too
		hook = watch.StartHook(ctx, watch.HookConfig{
			Run: func(ctx context.Context, e watch.Event, stdin []byte) error {
				return workflow.RunHook(ctx, command, scrub, watch.Env(e), stdin, o.HookTimeout)
			},
			Log: func(msg string) { logf("%s", msg) },
		})
		defer hook.Close()
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var metrics *watch.Metrics
	var metricsAddr string
	if o.MetricsListen != "" {
		reg := metricsrv.NewRegistry()
		metrics = watch.NewMetrics(reg)
		addr, stop, err := startMetrics(ctx, o.MetricsListen, reg, logf)
		if err != nil {
			return err
		}
		defer stop()
		metricsAddr = addr
	}
	var writeErr error
	cfg := watch.Config{
		Domains:     domains,
		Interval:    o.Interval,
		Concurrency: o.Concurrency,
		Clock:       o.Clock,
		Cycles:      o.cycles,
		Seed:        uint64(now().UnixNano()),
		Check:       func(ctx context.Context, d string) *checks.Report { return o.RunCheck(ctx, d, copt) },
		Horizon:     journalHorizon(st),
		Checked: func(c watch.Checked) {
			if metrics != nil {
				metrics.Observe(c)
			}
			if c.Report.Error != "" {
				logf("%s could not be checked: %s", c.Domain, c.Report.Error)
			}
		},
		Event: func(e watch.Event) {
			outMu.Lock()
			if err := textout.WatchEvent(o.IO.Out, e, o.JSON); err != nil && writeErr == nil {
				writeErr = err // stdout is gone: stop watching
				cancel()
			}
			outMu.Unlock()
			if hook != nil && e.Alert {
				hook.Send(e)
			}
		},
	}
	logf("watching %s every %s", textout.Plural(len(domains), "domain"), duration.Format(o.Interval))
	if err := watch.Run(ctx, cfg); err != nil {
		return err
	}
	if o.afterCycles != nil {
		o.afterCycles(metricsAddr)
	}
	outMu.Lock()
	defer outMu.Unlock()
	if writeErr != nil {
		return &exitError{exitFailure, fmt.Errorf("writing the events: %w", writeErr)}
	}
	if o.cycles > 0 {
		return nil
	}
	return context.Canceled // only an interrupt ends a watch
}

// journalHorizon reads the horizon of a domain from its journal's ledger
// (workflow.Horizon), by mode, and from the live policy
// (watch.HorizonFromReport), whichever is later: a policy served now may
// be held for its max_age from now even when the ledger does not know it
// (put back by hand after a teardown) or has it replaced. A domain without
// a journal or ledger has the live policy's alone.
func journalHorizon(st *journal.Store) func(string, *checks.Report, time.Time) watch.Horizon {
	return func(domain string, rep *checks.Report, now time.Time) watch.Horizon {
		live := watch.HorizonFromReport(rep, now)
		if st == nil {
			return live
		}
		j, err := st.Peek(domain)
		if err != nil || j == nil || len(j.Ledger) == 0 {
			return live
		}
		h := watch.Horizon{}
		for _, c := range workflow.Horizon(j, now).Policies {
			if c.Mode == "none" {
				continue
			}
			if c.Until.After(h[c.Mode]) {
				h[c.Mode] = c.Until
			}
		}
		for mode, t := range live {
			if t.After(h[mode]) {
				h[mode] = t
			}
		}
		return h
	}
}

// startMetrics listens on addr (a usage error when it cannot) and serves
// /metrics and /healthz until ctx ends; stop waits for the server.
func startMetrics(ctx context.Context, addr string, reg *prometheus.Registry, logf func(string, ...any)) (bound string, stop func(), err error) {
	ln, err := metricsrv.Listen(addr)
	if err != nil {
		return "", nil, &exitError{exitFailure, fmt.Errorf("--metrics-listen: %w", err)}
	}
	logf("metrics on http://%s/metrics", ln.Addr())
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := metricsrv.Serve(ctx, ln, reg); err != nil {
			logf("metrics: %v", err)
		}
	}()
	return ln.Addr().String(), func() { cancel(); <-done }, nil
}

// validListen checks an optional HOST:PORT flag value.
func validListen(flag, addr string) error {
	if addr == "" {
		return nil
	}
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
		return usageErrorf("%s %q: want HOST:PORT or :PORT", flag, addr)
	}
	return nil
}
