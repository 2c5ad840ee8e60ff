package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stspilot/stspilot/checks"
	"github.com/stspilot/stspilot/checks/mtasts"
	"github.com/stspilot/stspilot/checks/tlsrpt"
	"github.com/stspilot/stspilot/dnsprovider"
	"github.com/stspilot/stspilot/dnsprovider/memory"
	"github.com/stspilot/stspilot/internal/domainname"
	"github.com/stspilot/stspilot/workflow"
)

// cannedWorld answers the engine's live reads from fields: the check
// report (MX hosts), what the webroot publisher wrote (served), and what
// the memory provider holds (published).
type cannedWorld struct {
	mx     []string
	served string
	prov   dnsprovider.Provider
}

func (w *cannedWorld) check(ctx context.Context, d string) *checks.Report {
	rep := &checks.Report{Schema: checks.SchemaVersion, Domain: d, Stage: "absent"}
	for _, h := range w.mx {
		rep.MX = append(rep.MX, checks.MXInfo{Host: h, Addrs: []checks.MXAddrInfo{{Addr: "192.0.2.1", STARTTLS: true, TLSVersion: "TLS1.3"}}})
	}
	set, _ := w.prov.ReadTXT(ctx, d, "_mta-sts."+d)
	rep.STS = &checks.STSInfo{Name: "_mta-sts." + d, Records: set.Values, TTL: uint32(set.TTL / time.Second)}
	for _, v := range set.Ours(dnsprovider.KindSTS) {
		rep.STS.ID = strings.TrimSuffix(strings.TrimPrefix(v, "v=STSv1; id="), ";")
	}
	rpt, _ := w.prov.ReadTXT(ctx, d, "_smtp._tls."+d)
	rep.TLSRPT = &checks.TLSRPTInfo{Name: "_smtp._tls." + d, Records: rpt.Values}
	if w.served != "" {
		rep.Policy = &checks.PolicyInfo{Host: "mta-sts." + d, Text: w.served, Mode: "testing", MaxAge: 86400, MX: w.mx}
		if rep.STS.ID != "" {
			rep.Stage = "testing"
		}
	}
	// The typed observations the engine reads; the fields above are their view.
	live := &checks.Live{
		Stage: rep.Stage, STS: checks.LiveRecord{Records: set.Values, ID: rep.STS.ID, TTL: set.TTL.Truncate(time.Second)},
		TLSRPT: checks.LiveRecord{Records: rpt.Values},
	}
	for _, h := range w.mx {
		live.MX = append(live.MX, checks.LiveMX{Host: h, Addrs: []checks.LiveMXAddr{{Addr: "192.0.2.1", TLS: checks.TLSOK, TLSVersion: "TLS1.3"}}})
	}
	if w.served != "" {
		live.Served = []byte(w.served)
		live.Policy = &mtasts.Policy{Version: "STSv1", Mode: mtasts.ModeTesting, MaxAge: 86400, MX: w.mx}
	}
	rep.Live = live
	return rep
}

type cannedServed struct{ w *cannedWorld }

func (s cannedServed) Check(_ context.Context, d string, want []byte) workflow.GateResult {
	return workflow.GateResult{Kind: workflow.GateServed, Open: string(want) == s.w.served, Reason: "canned"}
}

type cannedPublisher struct{ w *cannedWorld }

func (p cannedPublisher) Spec() string { return "webroot:/canned" }
func (p cannedPublisher) Publish(_ context.Context, _ string, b []byte) (workflow.Published, error) {
	changed := p.w.served != string(b)
	p.w.served = string(b)
	return workflow.Published{Where: "/canned", Changed: changed}, nil
}

func (p cannedPublisher) Remove(context.Context, string) (workflow.Published, error) {
	p.w.served = ""
	return workflow.Published{Where: "/canned", Changed: true}, nil
}

type cannedPublished struct{ w *cannedWorld }

func (p cannedPublished) Check(ctx context.Context, zone, name string, want func(dnsprovider.TXTSet) bool) workflow.GateResult {
	set, _ := p.w.prov.ReadTXT(ctx, zone, name)
	return workflow.GateResult{Kind: workflow.GatePublished, Open: want(set), Reason: set.String()}
}

// cannedFactory returns a factory whose engine runs on the canned world
// with a file journal in a temporary directory.
func cannedFactory(t *testing.T, w *cannedWorld) (*factory, *strings.Builder, *strings.Builder) {
	m := &memory.Provider{}
	m.AddZone("example.test")
	w.prov = dnsprovider.FromLibdns("memory", m, dnsprovider.LibdnsOptions{})
	state := t.TempDir()
	f, out, errOut := testFactory("", &fakeChecker{})
	f.Normalize = domainname.Normalize
	f.NewEngine = func(ctx context.Context, o *WorkflowOptions) (*workflow.Engine, error) {
		fj, err := workflow.OpenFileJournal(state)
		if err != nil {
			return nil, err
		}
		lad := workflow.DefaultLadder.Clone()
		if o.Ladder != "" {
			if lad, err = workflow.ParseLadder(o.Ladder); err != nil {
				return nil, &usageError{err}
			}
		}
		var ev workflow.EvidenceFunc
		if len(o.Reports) > 0 {
			ev = workflow.ReportsEvidence(o.Reports, tlsrpt.Options{})
		}
		return workflow.New(workflow.Config{
			Provider: w.prov, Publisher: cannedPublisher{w}, Journal: fj, Ladder: lad, Zone: "example.test",
			Check: w.check, Served: cannedServed{w}, Published: cannedPublished{w}, Poll: time.Millisecond, Evidence: ev,
		})
	}
	return f, out, errOut
}

func outcomeOf(t *testing.T, stdout string) map[string]any {
	t.Helper()
	var last map[string]any
	for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("not a JSON line: %q", l)
		}
		if ev["schema"] != "stspilot.event/v2" {
			t.Fatalf("no schema: %q", l)
		}
		if ev["event"] == "outcome" {
			last, _ = ev["outcome"].(map[string]any)
		}
	}
	if last == nil {
		t.Fatalf("no outcome event in:\n%s", stdout)
	}
	return last
}

// TestWorkflowExitCodes: done 0, pending 3, refused 5, usage 2, through
// the real command tree and the real engine on a canned world.
func TestWorkflowExitCodes(t *testing.T) {
	w := &cannedWorld{mx: []string{"mx1.example.test"}}
	f, out, errOut := cannedFactory(t, w)
	run := func(args ...string) int {
		out.Reset()
		errOut.Reset()
		return execute(context.Background(), f, args)
	}
	if c := run("rollout", "example.test", "--rua", "mailto:r@example.test"); c != exitUsage || !strings.Contains(errOut.String(), "--yes") {
		t.Fatalf("rollout without --yes off a terminal: exit %d, %q", c, errOut.String())
	}
	if c := run("rollout", "example.test", "--yes", "--json"); c != exitUsage || !strings.Contains(errOut.String(), "--rua") {
		t.Fatalf("rollout without --rua: exit %d, %q", c, errOut.String())
	}
	if c := run("rollout", "example.test", "--yes", "--json", "--rua", "mailto:r@example.test"); c != exitOK {
		t.Fatalf("rollout: exit %d\n%s\n%s", c, out, errOut)
	}
	if o := outcomeOf(t, out.String()); o["status"] != "done" || !strings.Contains(w.served, "mode: testing") {
		t.Fatalf("rollout outcome %v, served %q", o, w.served)
	}
	// The soak of the first rung is closed: pending, with next_at.
	if c := run("promote", "example.test", "--yes", "--json", "--without-reports"); c != exitPending {
		t.Fatalf("promote: exit %d\n%s", c, out)
	}
	if o := outcomeOf(t, out.String()); o["status"] != "pending" || o["next_at"] == nil {
		t.Fatalf("promote outcome %v", o)
	}
	if c := run("plan", "promote", "example.test", "--json", "--without-reports"); c != exitPending {
		t.Fatalf("plan promote: exit %d\n%s", c, out)
	}
	// Without --without-reports and no reports: refused, with the override named.
	if c := run("promote", "example.test", "--yes", "--ladder", "testing@86400:0s,enforce@86400"); c != exitRefused || !strings.Contains(out.String(), "--without-reports") {
		t.Fatalf("promote without evidence: exit %d\n%s", c, out)
	}
	if c := run("rollback", "example.test", "--yes", "--to", "nowhere"); c != exitUsage {
		t.Fatalf("rollback --to nowhere: exit %d", c)
	}
	if c := run("plan", "sideways", "example.test"); c != exitUsage {
		t.Fatalf("plan sideways: exit %d", c)
	}
	if c := run("status", "example.test", "--json"); c != exitOK {
		t.Fatalf("status: exit %d\n%s%s", c, out, errOut)
	}
	var st workflow.StatusReport
	if err := json.Unmarshal([]byte(out.String()), &st); err != nil || st.Schema != workflow.StatusSchema || st.Stage != workflow.StageTesting || st.Next != workflow.Promote || len(st.History) == 0 {
		t.Fatalf("status: %v %+v", err, st)
	}
}

// TestResolverFlagEveryCommand: --resolver takes an IP address with an
// optional port, and anything else is a usage error (exit 2) before any
// command runs, with a sentence saying what is wanted, instead of a
// failed run that blames the domain's name servers (issue 12).
func TestResolverFlagEveryCommand(t *testing.T) {
	w := &cannedWorld{mx: []string{"mx1.example.test"}}
	f, out, errOut := cannedFactory(t, w)
	run := func(args ...string) int {
		out.Reset()
		errOut.Reset()
		return execute(context.Background(), f, args)
	}
	for _, cmd := range [][]string{
		{"status", "example.test", "--json"},
		{"plan", "rollout", "example.test", "--json"},
		{"rollout", "example.test", "--yes", "--json", "--rua", "mailto:r@example.test"},
		{"promote", "example.test", "--yes", "--json", "--without-reports"},
		{"rollback", "example.test", "--yes", "--json"},
		{"teardown", "example.test", "--yes", "--json"},
		{"check", "example.test"},
		{"providers"},
	} {
		for _, bad := range []string{"localhost", "dns.quad9.net", "dns.quad9.net:53", "", "127.0.0.1:0"} {
			args := append([]string{"--resolver", bad}, cmd...)
			if c := run(args...); c != exitUsage || !strings.Contains(errOut.String(), "IP address with an optional port") || !strings.Contains(errOut.String(), "--resolver") {
				t.Errorf("%q: exit %d, want %d with a sentence naming the flag and what it wants; stderr %q", args, c, exitUsage, errOut.String())
			}
			if out.Len() != 0 {
				t.Errorf("%q: printed %q on stdout", args, out.String())
			}
		}
	}
	if w.served != "" {
		t.Errorf("a command ran despite the bad --resolver: served %q", w.served)
	}
	// Valid addresses are accepted (the canned world asks no resolver).
	for _, good := range []string{"127.0.0.1:5353", "[::1]:53"} {
		if c := run("status", "example.test", "--json", "--resolver", good); c != exitOK {
			t.Errorf("--resolver %s: exit %d, %s", good, c, errOut.String())
		}
	}
}

// TestWorkflowNoMXRefused: rollout of a domain without MX is refused (5).
func TestWorkflowNoMXRefused(t *testing.T) {
	w := &cannedWorld{}
	f, out, _ := cannedFactory(t, w)
	if c := execute(context.Background(), f, []string{"rollout", "example.test", "--yes", "--rua", "mailto:r@example.test"}); c != exitRefused || !strings.Contains(out.String(), "no MX") {
		t.Fatalf("exit %d\n%s", c, out)
	}
	if w.served != "" {
		t.Error("a refused rollout published a policy")
	}
}

// TestWorkflowPrompt: on a terminal the plan is shown and "n" changes
// nothing; a destructive plan needs the word yes.
func TestWorkflowPrompt(t *testing.T) {
	w := &cannedWorld{mx: []string{"mx1.example.test"}}
	f, out, errOut := cannedFactory(t, w)
	f.IO.In = strings.NewReader("n\n")
	f.IO.SetStdinTTY(true)
	f.IO.SetStdoutTTY(true)
	f.IO.SetNoColor(true)
	c := execute(context.Background(), f, []string{"rollout", "example.test", "--rua", "mailto:r@example.test"})
	if c != exitRefused || w.served != "" || !strings.Contains(errOut.String(), "Apply these changes?") || !strings.Contains(out.String(), "mode: testing") {
		t.Fatalf("answer n: exit %d served %q\n%s\n%s", c, w.served, out, errOut)
	}
	f.IO.In = strings.NewReader("y\n")
	if c := execute(context.Background(), f, []string{"rollout", "example.test", "--rua", "mailto:r@example.test"}); c != exitOK || w.served == "" {
		t.Fatalf("answer y: exit %d\n%s\n%s", c, out, errOut)
	}
}

func TestEngineErrMapping(t *testing.T) {
	if exitCode(engineErr(errors.Join(workflow.ErrUsage, errors.New("x")))) != exitUsage {
		t.Error("ErrUsage is not a usage error")
	}
	if exitCode(engineErr(workflow.ErrPlanChanged)) != exitPending {
		t.Error("ErrPlanChanged is not pending")
	}
	if exitCode(engineErr(errors.New("network"))) != exitFailure {
		t.Error("a plain error is not a failure")
	}
}

func TestParseConfig(t *testing.T) {
	good := "# defaults\nladder = testing@60:1m,enforce@120\nprovider = rfc2136\n\nstate-dir = '/tmp/x'\n"
	cfg, err := parseConfig("c", []byte(good))
	if err != nil || cfg["ladder"] != "testing@60:1m,enforce@120" || cfg["provider"] != "rfc2136" || cfg["state-dir"] != "/tmp/x" {
		t.Fatalf("%v %v", cfg, err)
	}
	for _, bad := range []string{"nonsense\n", "token = secret\n", "ladder = a\nladder = b\n", "ladder = x\x00\n"} {
		if _, err := parseConfig("c", []byte(bad)); err == nil || exitCode(err) != exitUsage || strings.Contains(err.Error(), "secret") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// TestConfigLadderPrecedence: the config file's ladder applies when no
// flag gives one, and a flag beats it.
func TestConfigLadderPrecedence(t *testing.T) {
	w := &cannedWorld{mx: []string{"mx1.example.test"}}
	f, out, errOut := cannedFactory(t, w)
	dir := t.TempDir()
	cfgPath := dir + "/config"
	if err := os.WriteFile(cfgPath, []byte("ladder = testing@600:0s,enforce@700\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var got []string
	inner := f.NewEngine
	f.NewEngine = func(ctx context.Context, o *WorkflowOptions) (*workflow.Engine, error) {
		got = append(got, cmp.Or(o.Ladder, o.Config["ladder"]))
		return inner(ctx, o)
	}
	execute(context.Background(), f, []string{"plan", "rollout", "example.test", "--config", cfgPath, "--rua", "mailto:r@example.test"})
	execute(context.Background(), f, []string{"plan", "rollout", "example.test", "--config", cfgPath, "--ladder", "testing@900", "--rua", "mailto:r@example.test"})
	if len(got) != 2 || got[0] != "testing@600:0s,enforce@700" || got[1] != "testing@900" {
		t.Fatalf("ladders %q\n%s%s", got, out, errOut)
	}
	if c := execute(context.Background(), f, []string{"plan", "rollout", "example.test", "--config", dir + "/missing"}); c != exitUsage {
		t.Errorf("a missing --config file: exit %d", c)
	}
}

// TestStatusReports: status --reports plans the next promote with the
// evidence gate over those reports: an empty directory blocks it, saying
// there are no reports (rather than that none are configured).
func TestStatusReports(t *testing.T) {
	w := &cannedWorld{mx: []string{"mx1.example.test"}}
	f, out, errOut := cannedFactory(t, w)
	if c := execute(context.Background(), f, []string{"rollout", "example.test", "--yes", "--rua", "mailto:r@example.test", "--ladder", "testing@86400:0s,enforce@86400"}); c != exitOK {
		t.Fatalf("rollout: %d\n%s%s", c, out, errOut)
	}
	out.Reset()
	if c := execute(context.Background(), f, []string{"status", "example.test", "--json", "--reports", t.TempDir()}); c != exitOK {
		t.Fatalf("status: %d\n%s%s", c, out, errOut)
	}
	var st workflow.StatusReport
	if err := json.Unmarshal([]byte(out.String()), &st); err != nil {
		t.Fatal(err)
	}
	if st.Blocked == nil || !strings.Contains(st.Blocked.Reason, "no TLS-RPT reports since") || st.Blocked.Override != workflow.CodeWithoutReports {
		t.Fatalf("blocked: %+v", st.Blocked)
	}
}
