package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/stspilot/stspilot/checks"
	"github.com/stspilot/stspilot/internal/domainname"
)

// fixedNow is the clock of every test report.
var fixedNow = time.Date(2026, 11, 28, 16, 33, 7, 0, time.UTC)

// fakeNormalize stands in for domainname.Normalize, which is written
// concurrently: lower-case, no trailing dot, at least two labels, no spaces
// or slashes. Errors wrap domainname.ErrInvalid like the real one.
func fakeNormalize(in string) (string, error) {
	s := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(in), "."))
	if s == "" || !strings.Contains(s, ".") || strings.ContainsAny(s, " \t/:@") || strings.Contains(s, "..") || len(s) > 244 {
		return "", fmt.Errorf("%w %q", domainname.ErrInvalid, in)
	}
	return s, nil
}

// fakeChecker answers RunCheck from a table keyed by domain: "err" domains
// get error findings, "warn" domains warnings, "fail" domains Report.Error.
// It records every call.
type fakeChecker struct {
	mu      sync.Mutex
	calls   []string
	opts    []checks.Options
	running int
	maxRun  int
	// block, when set, is waited on by every call (or the context).
	block chan struct{}
	// started receives the domain of each call as it starts, when set.
	started chan string
	// delay gives a per-domain release channel, to finish out of order.
	release map[string]chan struct{}
}

func (c *fakeChecker) run(ctx context.Context, domain string, opt checks.Options) *checks.Report {
	c.mu.Lock()
	c.calls = append(c.calls, domain)
	c.opts = append(c.opts, opt)
	c.running++
	c.maxRun = max(c.maxRun, c.running)
	rel := c.release[domain]
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.running--
		c.mu.Unlock()
	}()
	if c.started != nil {
		c.started <- domain
	}
	rep := &checks.Report{Schema: checks.SchemaVersion, Domain: domain, CheckedAt: fixedNow, Stage: "enforce", Findings: []checks.Finding{}}
	wait := func(ch chan struct{}) bool {
		select {
		case <-ch:
			return true
		case <-ctx.Done():
			rep.Error = "interrupted"
			return false
		}
	}
	if c.block != nil && !wait(c.block) {
		return rep
	}
	if rel != nil && !wait(rel) {
		return rep
	}
	switch {
	case strings.HasPrefix(domain, "err"):
		rep.Findings = append(rep.Findings, checks.Finding{ID: "mx.uncovered", Severity: checks.SevError, Area: "mx", Subject: "mx2." + domain})
	case strings.HasPrefix(domain, "warn"):
		rep.Findings = append(rep.Findings, checks.Finding{ID: "tlsrpt.missing", Severity: checks.SevWarn, Area: "tlsrpt"})
	case strings.HasPrefix(domain, "fail"):
		rep.Error = "could not check " + domain + ": no DNS answer"
	case strings.HasPrefix(domain, "nil"):
		return nil
	}
	return rep
}

func (c *fakeChecker) Calls() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.calls...)
}

// testFactory wires test streams and the fake checker.
func testFactory(stdin string, fc *fakeChecker) (*factory, *strings.Builder, *strings.Builder) {
	io, out, errOut := testStreams(stdin)
	return &factory{IO: io, RunCheck: fc.run, Normalize: fakeNormalize, Now: func() time.Time { return fixedNow }}, out, errOut
}

// runCmd runs args through the real command tree and returns the exit
// code, stdout and stderr.
func runCmd(t *testing.T, fc *fakeChecker, stdin string, args ...string) (int, string, string) {
	t.Helper()
	f, out, errOut := testFactory(stdin, fc)
	code := execute(context.Background(), f, args)
	return code, out.String(), errOut.String()
}

// rootWith is the command tree of f with cmd in place of the command of the
// same name: a test builds cmd with a runF that captures the options.
func rootWith(f *factory, cmd func(*factory) *cobra.Command) *cobra.Command {
	root := newRootCmd(f)
	c := cmd(f)
	for _, old := range root.Commands() {
		if old.Name() == c.Name() {
			root.RemoveCommand(old)
		}
	}
	root.AddCommand(c)
	return root
}
