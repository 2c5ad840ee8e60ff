package tui

import (
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/stspilot/stspilot/checks"
	"github.com/stspilot/stspilot/dnsprovider"
	"github.com/stspilot/stspilot/workflow"
	"github.com/stspilot/stspilot/workflow/journal"
	"github.com/stspilot/stspilot/workflow/sandbox"
)

// BenchmarkDashboardFrame is the wizard's frame time: one View of the
// dashboard with a full report (status, every probe of the live check,
// the findings of an injected MX certificate failure, the TLS-RPT summary)
// at 80x24 and at 200x60. The target is under 2 ms a frame; it reports
// ms/frame beside ns/op.
//
//	go test -run '^$' -bench DashboardFrame ./tui
func BenchmarkDashboardFrame(b *testing.B) {
	w := newWorld(b, sandbox.MXCertName)
	ctx := context.Background()
	st, err := w.e.Status(ctx, w.sb.Domain)
	if err != nil {
		b.Fatal(err)
	}
	var mu sync.Mutex
	var evs []checks.ProbeEvent
	rep := w.opts.Check(ctx, w.sb.Domain, func(ev checks.ProbeEvent) {
		mu.Lock()
		defer mu.Unlock()
		evs = append(evs, ev)
	})
	if len(rep.Findings) == 0 {
		b.Fatal("the injected failure gave no finding")
	}
	for _, size := range []struct{ w, h int }{{80, 24}, {200, 60}} {
		b.Run(fmt.Sprintf("%dx%d", size.w, size.h), func(b *testing.B) {
			m := NewModel(ctx, w.opts)
			m.Update(tea.WindowSizeMsg{Width: size.w, Height: size.h})
			m.dash.st = st
			for _, ev := range evs {
				m.dash, _ = m.dash.update(probeMsg{gen: m.dash.gen, ev: ev})
			}
			m.dash, _ = m.dash.update(checkDoneMsg{gen: m.dash.gen, rep: rep})
			m.findings.rep = rep
			m.dash.reports = []string{
				"Reports (14 days): 12 reports from 4 senders, 12,345 sessions, 97 failed (0.8%)",
				"  certificate-host-mismatch  97  mx1." + w.sb.Domain + "  (Sender-A, Sender-B)",
				"  last report 2029-12-31 23:59 UTC from Sender-C",
			}
			if len(m.dash.probes) == 0 || m.dash.rep == nil {
				b.Fatal("nothing to render")
			}
			v := m.View()
			if !strings.Contains(v, "mx.cert-name") {
				b.Fatalf("the frame lacks the finding:\n%s", v)
			}
			b.ReportAllocs()
			b.ResetTimer()
			t0 := time.Now()
			for b.Loop() {
				_ = m.View()
			}
			b.ReportMetric(float64(time.Since(t0).Microseconds())/1000/float64(b.N), "ms/frame")
		})
	}
}

// uiPath names the Model method on the caller's stack when it is Update,
// View or the program's Filter ("" when none is): work found there runs on
// Bubble Tea's event loop and freezes the screen.
func uiPath() string {
	pcs := make([]uintptr, 512)
	n := runtime.Callers(2, pcs)
	frames := runtime.CallersFrames(pcs[:n])
	for {
		f, more := frames.Next()
		for _, suffix := range []string{"tui.(*Model).Update", "tui.(*Model).View", "tui.Filter"} {
			if strings.HasSuffix(f.Function, suffix) {
				return suffix
			}
		}
		if !more {
			return ""
		}
	}
}

// ioGuard fails the test when an I/O boundary is called from Update or
// View.
type ioGuard struct {
	t     *testing.T
	mu    sync.Mutex
	calls map[string]int // boundary -> calls seen (off the UI path)
}

func (g *ioGuard) check(what string) {
	if where := uiPath(); where != "" {
		buf := make([]byte, 8<<10)
		buf = buf[:runtime.Stack(buf, false)]
		g.t.Errorf("%s ran inside %s: I/O belongs in a tea.Cmd\n%s", what, where, buf)
	}
	g.mu.Lock()
	g.calls[what]++
	g.mu.Unlock()
}

// snapshot copies the counts seen so far.
func (g *ioGuard) snapshot() map[string]int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return maps.Clone(g.calls)
}

type guardedProvider struct {
	dnsprovider.Provider
	g *ioGuard
}

func (p guardedProvider) ReadTXT(ctx context.Context, zone, name string) (dnsprovider.TXTSet, error) {
	p.g.check("DNS: ReadTXT")
	return p.Provider.ReadTXT(ctx, zone, name)
}

func (p guardedProvider) SetOurs(ctx context.Context, zone, name string, kind dnsprovider.Kind, value string, ttl time.Duration) (dnsprovider.Change, error) {
	p.g.check("DNS: SetOurs")
	return p.Provider.SetOurs(ctx, zone, name, kind, value, ttl)
}

func (p guardedProvider) DeleteOurs(ctx context.Context, zone, name string, kind dnsprovider.Kind) (dnsprovider.Change, error) {
	p.g.check("DNS: DeleteOurs")
	return p.Provider.DeleteOurs(ctx, zone, name, kind)
}

type guardedPublisher struct {
	workflow.Publisher
	g *ioGuard
}

func (p guardedPublisher) Publish(ctx context.Context, domain string, policy []byte) (workflow.Published, error) {
	p.g.check("publisher: Publish")
	return p.Publisher.Publish(ctx, domain, policy)
}

func (p guardedPublisher) Remove(ctx context.Context, domain string) (workflow.Published, error) {
	p.g.check("publisher: Remove")
	return p.Publisher.Remove(ctx, domain)
}

type guardedJournal struct {
	workflow.Journal
	g *ioGuard
}

func (j guardedJournal) Peek(domain string) (*journal.Journal, error) {
	j.g.check("journal: Peek")
	return j.Journal.Peek(domain)
}

func (j guardedJournal) Begin(domain, command string, now time.Time) (workflow.Txn, error) {
	j.g.check("journal: Begin")
	return j.Journal.Begin(domain, command, now)
}

type guardedServed struct {
	workflow.ServedGate
	g *ioGuard
}

func (s guardedServed) Check(ctx context.Context, domain string, want []byte) workflow.GateResult {
	s.g.check("served gate: HTTPS fetch")
	return s.ServedGate.Check(ctx, domain, want)
}

type guardedPublished struct {
	workflow.PublishedChecker
	g *ioGuard
}

func (p guardedPublished) Check(ctx context.Context, zone, name string, want func(dnsprovider.TXTSet) bool) workflow.GateResult {
	p.g.check("published gate: DNS queries")
	return p.PublishedChecker.Check(ctx, zone, name, want)
}

// TestNoIOInUpdateOrView: every way the wizard reaches the network or the
// disk (the live check, the engine's DNS provider, publisher, journal,
// gates and zone lookup, the demo's failure switches) fails the test when
// it is called with Model.Update, Model.View or Filter on the stack, while
// the wizard is walked through every screen: the dashboard's status and
// check, a rollout's plan, confirmation and apply, the findings screen,
// the switchboard injecting a failure, the MX screen and the plan of the
// target typed there, the rollback overlay, a promote
// waiting on its gate, a skip of the sandbox clock and a re-check.
// TestTUIIOOnlyInCmds covers what no boundary can be wrapped for.
func TestNoIOInUpdateOrView(t *testing.T) {
	g := &ioGuard{t: t, calls: map[string]int{}}
	w := newWorld(t)
	w.reconfigure(t, func(c *workflow.Config) {
		c.Provider = guardedProvider{c.Provider, g}
		c.Publisher = guardedPublisher{c.Publisher, g}
		c.Journal = guardedJournal{c.Journal, g}
		c.Served = guardedServed{c.Served, g}
		c.Published = guardedPublished{c.Published, g}
		if check := c.Check; check != nil {
			c.Check = func(ctx context.Context, domain string) *checks.Report {
				g.check("engine: live check")
				return check(ctx, domain)
			}
		}
		if fz := c.FindZone; fz != nil {
			c.FindZone = func(ctx context.Context, domain string) (string, error) {
				g.check("engine: zone lookup")
				return fz(ctx, domain)
			}
		}
		if ev := c.Evidence; ev != nil {
			c.Evidence = func(ctx context.Context, domain string, p *workflow.Policy, since time.Time) (workflow.GateResult, bool, error) {
				g.check("evidence gate: reports")
				return ev(ctx, domain, p, since)
			}
		}
	})
	check := w.opts.Check
	w.opts.Check = func(ctx context.Context, domain string, progress func(checks.ProbeEvent)) *checks.Report {
		g.check("wizard: live check (DNS, HTTPS, SMTP)")
		return check(ctx, domain, progress)
	}
	demo := *w.opts.Demo
	toggle := demo.Toggle
	demo.Toggle = func(name string) (bool, error) {
		g.check("demo: failure switch")
		return toggle(name)
	}
	w.opts.Demo = &demo

	d := drive(t, NewModel(context.Background(), w.opts))
	d.ready()
	// The dashboard at another size, and the rollback overlay, declined.
	d.send(tea.WindowSizeMsg{Width: 200, Height: 60})
	d.key("!")
	d.key("n")
	d.send(tea.WindowSizeMsg{Width: 80, Height: 24})
	rollout(d)
	d.key("enter")
	d.ready()
	// The switchboard: inject a failure and see it in the check.
	i := toggleBreak(d, sandbox.MXCertName)
	d.until("the injected failure in the check", func() bool { return !d.m.dash.running && hasFinding(d.m.dash.rep, "mx.cert-name") })
	d.key(string(breakKeys[i])) // heal it
	d.until("the failure healed", func() bool {
		return !d.m.breaks.items[i].On && !d.m.dash.running && !hasFinding(d.m.dash.rep, "mx.cert-name")
	})
	d.key("esc")
	d.key("f")
	d.key("esc")
	// The MX screen: a target typed and planned, then back.
	d.key("m")
	d.typeText("mx2." + w.sb.Domain + ":10")
	d.key("enter")
	d.until("the mx-migrate plan", func() bool { return d.m.state == stPlan || d.m.err != nil })
	d.key("esc")
	d.key("esc")
	// A promote that waits on its gate, a re-check, the clock skipped.
	d.key("p")
	d.until("the promote plan", func() bool { return d.m.state == stPlan })
	d.key("enter")
	d.key("y")
	d.until("the wait screen", func() bool { return d.m.state == stWait })
	n := d.m.wait.rechecks
	d.until("a re-check", func() bool { return d.m.wait.rechecks > n })
	gen := d.m.applyGen
	d.key("s")
	d.until("the promote to run again", func() bool { return d.m.applyGen > gen && d.m.apply.finished })
	d.key("enter")
	d.ready()

	// The walk reached every boundary, off the UI path. Commands the walk
	// started (a status refresh) may still be running and counting: read
	// the counts under the guard's lock.
	calls := g.snapshot()
	for _, what := range []string{
		"wizard: live check (DNS, HTTPS, SMTP)", "engine: live check", "evidence gate: reports", "DNS: SetOurs", "publisher: Publish",
		"journal: Peek", "journal: Begin", "served gate: HTTPS fetch", "published gate: DNS queries", "demo: failure switch",
	} {
		if calls[what] == 0 {
			t.Errorf("the walk never reached %s: the guard proved nothing about it", what)
		}
	}
	t.Logf("boundaries reached off the UI path: %v", calls)
}

// TestTUIIOOnlyInCmds is the static half of TestNoIOInUpdateOrView, for
// what no wrapper can catch (a file read by the reports summary, a
// package the wizard might call directly, serve's access log read for the
// dashboard's fetchers): the tui package imports no
// package that does I/O (os, net, ...); every call of a workflow,
// workflow/serve, checks or dnsprovider function other than the few pure ones listed, and every
// call of a method that reaches the engine's I/O (Status, Plan, Apply,
// Check, Toggle, ...), sits inside a function literal (a tea.Cmd, or work
// a tea.Cmd starts), never in a method's own body.
func TestTUIIOOnlyInCmds(t *testing.T) {
	deniedImports := []string{
		"os", "os/exec", "net", "net/http", "net/url", "syscall", "io/ioutil", "io/fs", "path/filepath",
		"github.com/miekg/dns", "github.com/stspilot/stspilot/workflow/journal",
	}
	pure := map[string]bool{
		"workflow.ObserverFunc": true, "workflow.Workflow": true, // conversions
		"dnsprovider.Providers": true, // the registry's list, in memory
		"workflow.ParseMXSet":   true, // the MX screen's target, a string parsed
		"checks.TLSRPTFailures": true, // a finding filled from the catalogue
	}
	ioMethods := map[string]bool{
		"Status": true, "Plan": true, "Apply": true, "Check": true, "Toggle": true, "Peek": true,
		"Begin": true, "Publish": true, "Remove": true, "ReadTXT": true, "SetOurs": true, "DeleteOurs": true, "History": true,
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	audited := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		audited++
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if slices.Contains(deniedImports, p) || strings.Contains(p, "probe") {
				t.Errorf("%s imports %s: the wizard does I/O only through the engine and its Options, inside tea.Cmds", fset.Position(imp.Pos()), p)
			}
		}
		// Walk with a stack of enclosing function literals.
		var lits int
		var visit func(n ast.Node) bool
		visit = func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.FuncLit:
				lits++
				ast.Inspect(n.Body, visit)
				lits--
				return false
			case *ast.CallExpr:
				sel, ok := n.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				if id, ok := sel.X.(*ast.Ident); ok && (id.Name == "workflow" || id.Name == "checks" || id.Name == "dnsprovider" || id.Name == "serve") {
					if q := id.Name + "." + sel.Sel.Name; !pure[q] && lits == 0 {
						t.Errorf("%s: %s is called outside a tea.Cmd (a function literal): list it as pure here if it does no I/O", fset.Position(n.Pos()), q)
					}
					return true
				}
				if ioMethods[sel.Sel.Name] && lits == 0 {
					t.Errorf("%s: .%s(...) reaches the engine's I/O outside a tea.Cmd (a function literal)", fset.Position(n.Pos()), sel.Sel.Name)
				}
			}
			return true
		}
		for _, decl := range f.Decls {
			if fd, ok := decl.(*ast.FuncDecl); ok && fd.Body != nil {
				ast.Inspect(fd.Body, visit)
			}
		}
	}
	if audited == 0 {
		t.Fatal("no source file audited")
	}
}
