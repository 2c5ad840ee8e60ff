package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stspilot/stspilot/checks"
	"github.com/stspilot/stspilot/internal/dnsclient"
	"github.com/stspilot/stspilot/internal/duration"
	"github.com/stspilot/stspilot/tui/textout"
)

// Bounds of --concurrency. Each domain's check already runs its own probes
// in parallel (dozens of sockets), so the ceiling is modest.
const (
	defaultConcurrency = 8
	maxConcurrency     = 256
	// maxLineLen caps one line of -f FILE; longer lines are reported as
	// invalid and skipped, never buffered whole.
	maxLineLen = 4096
)

// CheckOptions is everything `stspilot check` needs. RunE fills it from the
// command line and validates it; checkRun does the work.
type CheckOptions struct {
	CommonOptions // Resolvers validated; Timeout positive
	DomainsOptions
}

// DomainsOptions is what check and watch share: the domains to check,
// from the arguments and -f FILE, how many at once, and the factory's
// checker.
type DomainsOptions struct {
	Domains     []string // as typed on the command line (watch's validate normalises them)
	File        string   // -f: one domain a line; "-" is stdin
	Concurrency int

	// RunCheck checks one normalised domain; Normalize validates input.
	// Both come from the factory (checks.Run, domainname.Normalize).
	RunCheck  func(ctx context.Context, domain string, opt checks.Options) *checks.Report
	Normalize func(string) (string, error)
}

func (f *factory) newDomainsOptions() DomainsOptions {
	return DomainsOptions{RunCheck: f.RunCheck, Normalize: f.Normalize}
}

// addFlags adds -f and --concurrency to cmd.
func (d *DomainsOptions) addFlags(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVarP(&d.File, "file", "f", "", "read domains from `FILE`, one a line (# comments; - for stdin)")
	fl.IntVar(&d.Concurrency, "concurrency", defaultConcurrency, "check up to `N` domains at once")
}

// checkConcurrency validates --concurrency.
func (d *DomainsOptions) checkConcurrency() error {
	if d.Concurrency < 1 || d.Concurrency > maxConcurrency {
		return usageErrorf("--concurrency must be between 1 and %d, not %d", maxConcurrency, d.Concurrency)
	}
	return nil
}

// openFile opens -f FILE: nil when there is none, in (named "stdin") for
// "-". The caller calls done when it has read it.
func (d *DomainsOptions) openFile(in io.Reader) (r io.Reader, name string, done func(), err error) {
	switch d.File {
	case "":
		return nil, "", func() {}, nil
	case "-":
		return in, "stdin", func() {}, nil
	}
	fh, err := os.Open(d.File)
	if err != nil {
		return nil, "", nil, &exitError{exitFailure, fmt.Errorf("-f: %w", err)}
	}
	return fh, d.File, func() { _ = fh.Close() }, nil
}

func newCheckCmd(f *factory, runF func(context.Context, *CheckOptions) error) *cobra.Command {
	opts := &CheckOptions{CommonOptions: f.newCommon(), DomainsOptions: f.newDomainsOptions()}
	cmd := &cobra.Command{
		Use:     "check [DOMAIN...]",
		Short:   "Diagnose MTA-STS and TLS-RPT of domains, live and read-only",
		GroupID: groupDiagnose,
		Long: `Check reads a domain's MTA-STS and TLS-RPT deployment the way sending mail
servers do: the _mta-sts TXT record, the policy file from every address of the
policy host, every MX host's STARTTLS and certificate, and the _smtp._tls
record. It changes nothing and needs no credentials.

Domains come from the arguments and from -f FILE (one domain a line; blank
lines and # comments are skipped; "-" reads stdin). They are checked
--concurrency at a time and reported in input order, each as soon as it and
every domain before it are done.

Exit status: 0 when no domain has an error finding (warnings are fine), 4 when
some domain has errors, 1 when some domain could not be checked (1 beats 4),
2 for usage errors, 130 when interrupted. See "stspilot help exit-codes".`,
		Example: `  stspilot check example.com
  stspilot check --resolver 9.9.9.9 --resolver [2620:fe::fe]:53 example.com example.org
  stspilot check --json -f domains.txt | jq -c 'select(.findings[].severity == "error")'`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Domains = args
			return runCommand(cmd, f, needResolvers, opts, runF, checkRun)
		},
	}
	opts.addFlags(cmd)
	return cmd
}

func (opts *CheckOptions) validate() error {
	if len(opts.Domains) == 0 && opts.File == "" {
		return usageErrorf("give at least one domain, or -f FILE with one domain a line")
	}
	if err := opts.checkConcurrency(); err != nil {
		return err
	}
	if opts.Timeout <= 0 {
		return usageErrorf("--timeout must be positive, not %s", duration.Format(opts.Timeout))
	}
	// Domains typed as arguments are checked before any network traffic:
	// a typo is a usage error, not a failed check.
	for _, d := range opts.Domains {
		if _, err := opts.Normalize(d); err != nil {
			return &usageError{err}
		}
	}
	return nil
}

// parseResolvers validates --resolver values and adds the default port,
// with the one parser of DNS server addresses (dnsclient.ParseServer):
// "192.0.2.53", "192.0.2.53:5353", "2001:db8::53", "[2001:db8::53]:5353".
// Anything else, a host name included, is a usage error: a resolver given
// by name would itself need a resolver, and would hide which server was
// asked.
func parseResolvers(in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	for _, s := range in {
		r, err := dnsclient.ParseServer(s)
		if err != nil {
			return nil, usageErrorf("--resolver: %v", err)
		}
		out = append(out, r)
	}
	return out, nil
}

// ---------------------------------------------------------------- running

// checkRun checks every domain with checks.Batch (bounded concurrency, input
// order, a window of 4×concurrency domains in flight) and prints each report
// as it comes out: output is reproducible run to run and lines up with the
// input, memory stays flat however long the list is, and the file itself is
// read lazily.
func checkRun(ctx context.Context, opts *CheckOptions) error {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(checks.BatchGCPercent)
	}
	file, name, done, err := opts.openFile(opts.IO.In)
	if err != nil {
		return err
	}
	defer done()

	var human *textout.Human
	var jsonw *textout.JSONLines
	if opts.JSON {
		jsonw = textout.NewJSONLines(opts.IO.Out)
	} else {
		human = textout.NewHuman(opts.IO.Out, textout.Options{
			Color: opts.IO.ColorEnabled(),
			Icons: opts.IO.IsStdoutTTY(),
			Width: opts.IO.Width(),
		})
	}
	status := &statusLine{w: opts.IO.ErrOut, on: !opts.JSON && opts.IO.IsStderrTTY()}

	copt := checks.Options{Resolvers: opts.Resolvers, Timeout: opts.Timeout}
	batch := checks.Batch(ctx, domainInputs(opts.Domains, file, name), checks.BatchOptions{
		Concurrency: opts.Concurrency,
		Check:       func(ctx context.Context, d string) *checks.Report { return opts.RunCheck(ctx, d, copt) },
		Normalize:   opts.Normalize,
		Now:         opts.Now,
	})

	status.show("checking…")
	var t textout.Totals
	var runErr error
	printed := 0
	for r, err := range batch {
		if err != nil {
			runErr = err // the input's read error, or ctx's
			break
		}
		printed++
		rep := r.Report
		switch {
		case rep.Error != "":
			t.Failed++
		case rep.HasErrors():
			t.Errors++
		case rep.Worst() == checks.SevWarn:
			t.Warnings++
		default:
			t.Healthy++
		}
		status.clear()
		var werr error
		if jsonw != nil {
			werr = jsonw.Report(rep)
		} else {
			werr = human.Report(rep)
		}
		if werr != nil { // stdout is gone: stop the checks, write nothing more
			return &exitError{exitFailure, fmt.Errorf("writing the results: %w", werr)}
		}
		status.show(fmt.Sprintf("checking… %d done", printed))
	}
	status.clear()

	switch {
	case ctx.Err() != nil:
		return context.Canceled
	case runErr != nil:
		return &exitError{exitFailure, runErr}
	case printed == 0:
		return usageErrorf("%s lists no domains", name)
	}
	if human != nil && printed > 1 {
		if err := human.Totals(t); err != nil {
			return &exitError{exitFailure, fmt.Errorf("writing the results: %w", err)}
		}
	}
	switch {
	case t.Failed > 0:
		return &exitError{exitFailure, fmt.Errorf("%d of %s could not be checked", t.Failed, textout.Plural(printed, "domain"))}
	case t.Errors > 0:
		return &exitError{code: exitFindings} // the report says it all
	}
	return nil
}

// domainInputs is the batch's input: the arguments, then the lines of file
// (when not nil), then the file's read error, if any.
func domainInputs(args []string, file io.Reader, name string) iter.Seq2[checks.BatchInput, error] {
	return func(yield func(checks.BatchInput, error) bool) {
		for _, d := range args {
			if !yield(checks.BatchInput{Text: d}, nil) {
				return
			}
		}
		if file == nil {
			return
		}
		stopped := false
		err := readDomains(file, name, func(input, where string) bool {
			stopped = !yield(checks.BatchInput{Text: input, Where: where}, nil)
			return !stopped
		})
		if err != nil && !stopped {
			yield(checks.BatchInput{}, err)
		}
	}
}

// readDomains calls emit for each domain line of r: text up to a # is the
// domain, blank lines are skipped, a UTF-8 byte order mark is ignored. A
// line longer than maxLineLen is passed on truncated (it fails validation
// as a per-domain error) and the rest of it is skipped. It stops when emit
// returns false.
func readDomains(r io.Reader, name string, emit func(input, where string) bool) error {
	br := bufio.NewReaderSize(r, maxLineLen)
	for n := 1; ; n++ {
		line, err := br.ReadSlice('\n')
		text := string(line)
		for errors.Is(err, bufio.ErrBufferFull) { // skip the rest of an over-long line
			_, err = br.ReadSlice('\n')
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("reading %s: %w", name, err)
		}
		if n == 1 {
			text = strings.TrimPrefix(text, "\ufeff")
		}
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		text = strings.TrimSpace(text)
		if text != "" && !emit(text, name+":"+strconv.Itoa(n)) {
			return nil
		}
		if err == io.EOF {
			return nil
		}
	}
}

// statusLine is a one-line progress note on a terminal's stderr, erased
// before each report is printed and at the end. Off, it writes nothing.
type statusLine struct {
	w     io.Writer
	on    bool
	shown bool
}

func (s *statusLine) show(text string) {
	if s.on {
		fmt.Fprint(s.w, "\r\x1b[K"+text)
		s.shown = true
	}
}

func (s *statusLine) clear() {
	if s.on && s.shown {
		fmt.Fprint(s.w, "\r\x1b[K")
		s.shown = false
	}
}
