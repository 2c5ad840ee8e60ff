package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/spf13/cobra"

	"github.com/stspilot/stspilot/checks"
)

// parseCheck runs the command line through cobra and the check command's
// validation, capturing the options instead of checking anything.
func parseCheck(t *testing.T, f *factory, args ...string) (*CheckOptions, int, string) {
	t.Helper()
	var got *CheckOptions
	root := rootWith(f, func(f *factory) *cobra.Command {
		return newCheckCmd(f, func(_ context.Context, o *CheckOptions) error {
			got = o
			return nil
		})
	})
	code := executeRoot(context.Background(), f, root, args)
	return got, code, f.IO.ErrOut.(*strings.Builder).String()
}

func TestCheckFlags(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		wantCode  int
		wantErr   string // in stderr
		resolvers []string
		conc      int
		timeout   time.Duration
		file      string
	}{
		{
			name: "defaults", args: []string{"check", "example.com"},
			resolvers: []string{}, conc: 8, timeout: 30 * time.Second,
		},
		{
			name: "ipv4 default port", args: []string{"check", "--resolver", "192.0.2.53", "example.com"},
			resolvers: []string{"192.0.2.53:53"}, conc: 8, timeout: 30 * time.Second,
		},
		{
			name: "ipv4 with port", args: []string{"check", "--resolver", "127.0.0.1:5353", "example.com"},
			resolvers: []string{"127.0.0.1:5353"}, conc: 8, timeout: 30 * time.Second,
		},
		{
			name: "bare ipv6", args: []string{"check", "--resolver", "2001:db8::53", "example.com"},
			resolvers: []string{"[2001:db8::53]:53"}, conc: 8, timeout: 30 * time.Second,
		},
		{
			name: "bracketed ipv6 no port", args: []string{"check", "--resolver", "[::1]", "example.com"},
			resolvers: []string{"[::1]:53"}, conc: 8, timeout: 30 * time.Second,
		},
		{
			name: "bracketed ipv6 with port", args: []string{"check", "--resolver", "[::1]:5353", "example.com"},
			resolvers: []string{"[::1]:5353"}, conc: 8, timeout: 30 * time.Second,
		},
		{
			name: "ipv6 loopback with port", args: []string{"check", "--resolver", "[::1]:53", "example.com"},
			resolvers: []string{"[::1]:53"}, conc: 8, timeout: 30 * time.Second,
		},
		{
			name: "repeatable, in order, flag before command", args: []string{"--resolver", "127.0.0.2", "check", "--resolver", "127.0.0.3:54", "example.com"},
			resolvers: []string{"127.0.0.2:53", "127.0.0.3:54"}, conc: 8, timeout: 30 * time.Second,
		},
		{
			name: "timeout and concurrency", args: []string{"check", "--timeout", "5s", "--concurrency", "1", "example.com"},
			resolvers: []string{}, conc: 1, timeout: 5 * time.Second,
		},
		{
			name: "max concurrency", args: []string{"check", "--concurrency", "256", "example.com"},
			resolvers: []string{}, conc: 256, timeout: 30 * time.Second,
		},
		{
			name: "file only", args: []string{"check", "-f", "-"},
			resolvers: []string{}, conc: 8, timeout: 30 * time.Second, file: "-",
		},

		// Host names are refused (issue 12): a resolver given by name would
		// need DNS itself, and checks and dnsprovider refused them later,
		// blaming the domain instead of the flag.
		{name: "host name", args: []string{"check", "--resolver", "ns1.example.net:53", "example.com"}, wantCode: 2, wantErr: "IP address with an optional port"},
		{name: "resolver localhost", args: []string{"check", "--resolver", "localhost", "example.com"}, wantCode: 2, wantErr: "IP address with an optional port"},
		{name: "resolver dns.quad9.net", args: []string{"check", "--resolver", "dns.quad9.net", "example.com"}, wantCode: 2, wantErr: "host name, not an IP address"},
		{name: "resolver empty", args: []string{"check", "--resolver", "", "example.com"}, wantCode: 2, wantErr: "--resolver"},
		{name: "resolver port zero", args: []string{"check", "--resolver", "127.0.0.1:0", "example.com"}, wantCode: 2, wantErr: "port"},
		{name: "resolver port too big", args: []string{"check", "--resolver", "127.0.0.1:65536", "example.com"}, wantCode: 2, wantErr: "port"},
		{name: "resolver port not a number", args: []string{"check", "--resolver", "127.0.0.1:dns", "example.com"}, wantCode: 2, wantErr: "port"},
		{name: "resolver trailing colon", args: []string{"check", "--resolver", "127.0.0.1:", "example.com"}, wantCode: 2, wantErr: "port"},
		{name: "resolver ipv6 with port needs brackets", args: []string{"check", "--resolver", "::1:53:x", "example.com"}, wantCode: 2, wantErr: "brackets"},
		{name: "resolver unclosed bracket", args: []string{"check", "--resolver", "[::1", "example.com"}, wantCode: 2, wantErr: "]"},
		{name: "resolver ipv4 in brackets", args: []string{"check", "--resolver", "[127.0.0.1]:53", "example.com"}, wantCode: 2, wantErr: "IPv6"},
		{name: "resolver junk after bracket", args: []string{"check", "--resolver", "[::1]53", "example.com"}, wantCode: 2, wantErr: "[IPv6]:PORT"},
		{name: "resolver bad host", args: []string{"check", "--resolver", "dns_server:53", "example.com"}, wantCode: 2, wantErr: "host name"},
		{name: "resolver no host", args: []string{"check", "--resolver", ":53", "example.com"}, wantCode: 2, wantErr: "host name"},
		{name: "concurrency zero", args: []string{"check", "--concurrency", "0", "example.com"}, wantCode: 2, wantErr: "--concurrency"},
		{name: "concurrency negative", args: []string{"check", "--concurrency=-3", "example.com"}, wantCode: 2, wantErr: "--concurrency"},
		{name: "concurrency too high", args: []string{"check", "--concurrency", "257", "example.com"}, wantCode: 2, wantErr: "--concurrency"},
		{name: "concurrency not a number", args: []string{"check", "--concurrency", "many", "example.com"}, wantCode: 2, wantErr: `--concurrency takes a whole number, not "many"`},
		{name: "timeout zero", args: []string{"check", "--timeout", "0s", "example.com"}, wantCode: 2, wantErr: "--timeout"},
		{name: "timeout not a duration", args: []string{"check", "--timeout", "30", "example.com"}, wantCode: 2, wantErr: "invalid argument"},
		{name: "no domain", args: []string{"check"}, wantCode: 2, wantErr: "at least one domain"},
		{name: "invalid single domain is a usage error", args: []string{"check", "not a domain"}, wantCode: 2, wantErr: "invalid domain name"},
		{name: "one invalid among arguments is a usage error", args: []string{"check", "example.com", "localhost"}, wantCode: 2, wantErr: "localhost"},
		{name: "unknown flag", args: []string{"check", "--nope", "example.com"}, wantCode: 2, wantErr: "unknown flag"},
		{name: "-f without value", args: []string{"check", "-f"}, wantCode: 2, wantErr: "needs an argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, _, _ := testFactory("", &fakeChecker{})
			got, code, stderr := parseCheck(t, f, tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d (stderr %q)", code, tt.wantCode, stderr)
			}
			if tt.wantCode != 0 {
				if got != nil {
					t.Errorf("runF ran despite a usage error")
				}
				if !strings.Contains(stderr, tt.wantErr) {
					t.Errorf("stderr %q does not mention %q", stderr, tt.wantErr)
				}
				if !strings.Contains(stderr, "--help") {
					t.Errorf("usage error without a pointer to --help: %q", stderr)
				}
				return
			}
			if got == nil {
				t.Fatal("runF did not run")
			}
			if !slices.Equal(got.Resolvers, tt.resolvers) {
				t.Errorf("Resolvers = %q, want %q", got.Resolvers, tt.resolvers)
			}
			if got.Concurrency != tt.conc || got.Timeout != tt.timeout || got.File != tt.file {
				t.Errorf("Concurrency, Timeout, File = %d, %s, %q; want %d, %s, %q", got.Concurrency, got.Timeout, got.File, tt.conc, tt.timeout, tt.file)
			}
		})
	}
}

// --json turns prompting off even when stdin and stdout are terminals
// (style practice 5); without it, two terminals may prompt, and
// STSPILOT_NO_PROMPT turns it off as well.
func TestJSONDisablesPrompting(t *testing.T) {
	for _, tt := range []struct {
		name       string
		args       []string
		tty        bool
		noPromptEv bool
		want       bool
	}{
		{"terminal", []string{"check", "example.com"}, true, false, true},
		{"terminal --json", []string{"check", "--json", "example.com"}, true, false, false},
		{"--json before the command", []string{"--json", "check", "example.com"}, true, false, false},
		{"no terminal", []string{"check", "example.com"}, false, false, false},
		{"STSPILOT_NO_PROMPT", []string{"check", "example.com"}, true, true, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, _, _ := testFactory("", &fakeChecker{})
			f.IO.SetStdinTTY(tt.tty)
			f.IO.SetStdoutTTY(tt.tty)
			if tt.noPromptEv {
				// as newIOStreams reads it from the environment
				f.IO = newIOStreams(f.IO.In, f.IO.Out, f.IO.ErrOut, func(k string) string {
					if k == envNoPrompt {
						return "1"
					}
					return ""
				})
				f.IO.SetStdinTTY(tt.tty)
				f.IO.SetStdoutTTY(tt.tty)
			}
			got, code, stderr := parseCheck(t, f, tt.args...)
			if code != 0 || got == nil {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			if p := got.IO.CanPrompt(); p != tt.want {
				t.Errorf("CanPrompt() = %v, want %v", p, tt.want)
			}
			if slices.Contains(tt.args, "--json") != got.JSON {
				t.Errorf("JSON = %v", got.JSON)
			}
		})
	}
}

func TestStreamsColor(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, tt := range []struct {
		name string
		env  map[string]string
		tty  bool
		want bool
	}{
		{"terminal", nil, true, true},
		{"pipe", nil, false, false},
		{"NO_COLOR", map[string]string{"NO_COLOR": "1"}, true, false},
		{"empty NO_COLOR does not count", map[string]string{"NO_COLOR": ""}, true, true},
		{"TERM=dumb", map[string]string{"TERM": "dumb"}, true, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newIOStreams(strings.NewReader(""), &strings.Builder{}, &strings.Builder{}, env(tt.env))
			if s.IsStdoutTTY() || s.IsStdinTTY() || s.IsStderrTTY() {
				t.Fatal("a strings.Builder is not a terminal")
			}
			s.SetStdoutTTY(tt.tty)
			if got := s.ColorEnabled(); got != tt.want {
				t.Errorf("ColorEnabled() = %v, want %v", got, tt.want)
			}
			if s.Width() != defaultWidth {
				t.Errorf("Width() = %d without a terminal, want %d", s.Width(), defaultWidth)
			}
		})
	}
}

// -f: one domain a line, # comments (whole-line and trailing), blank lines,
// CRLF, a byte-order mark and surrounding spaces are handled; "-" is stdin;
// arguments come first.
func TestCheckFileParsing(t *testing.T) {
	const list = "\ufeff# customer domains\r\nalpha.example\r\n\n   beta.example   # the big one\n\t\n#gamma.example\nDELTA.example.\nepsilon.example"
	want := []string{"arg.example", "alpha.example", "beta.example", "delta.example", "epsilon.example"}

	t.Run("stdin", func(t *testing.T) {
		fc := &fakeChecker{}
		code, out, stderr := runCmd(t, fc, list, "check", "--json", "--concurrency", "1", "arg.example", "-f", "-")
		if code != 0 {
			t.Fatalf("exit %d, stderr %q", code, stderr)
		}
		if got := fc.Calls(); !slices.Equal(got, want) {
			t.Errorf("checked %q, want %q", got, want)
		}
		reps := decodeLines(t, out)
		if len(reps) != len(want) {
			t.Fatalf("%d reports, want %d", len(reps), len(want))
		}
		if reps[3].Input != "DELTA.example." {
			t.Errorf("input as typed not kept: %q", reps[3].Input)
		}
	})
	t.Run("file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "domains.txt")
		if err := os.WriteFile(path, []byte(list), 0o600); err != nil {
			t.Fatal(err)
		}
		fc := &fakeChecker{}
		code, _, stderr := runCmd(t, fc, "", "check", "--json", "arg.example", "-f", path)
		if code != 0 {
			t.Fatalf("exit %d, stderr %q", code, stderr)
		}
		got := fc.Calls()
		slices.Sort(got)
		w := slices.Clone(want)
		slices.Sort(w)
		if !slices.Equal(got, w) {
			t.Errorf("checked %q, want %q", got, w)
		}
	})
	t.Run("missing file exits 1", func(t *testing.T) {
		code, out, stderr := runCmd(t, &fakeChecker{}, "", "check", "-f", filepath.Join(t.TempDir(), "nope.txt"))
		if code != 1 || out != "" || !strings.Contains(stderr, "nope.txt") {
			t.Errorf("exit %d, stdout %q, stderr %q", code, out, stderr)
		}
	})
	t.Run("only comments is a usage error", func(t *testing.T) {
		code, _, stderr := runCmd(t, &fakeChecker{}, "# nothing\n\n", "check", "-f", "-")
		if code != 2 || !strings.Contains(stderr, "stdin lists no domains") {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
	})
}

func TestReadDomainsLongLine(t *testing.T) {
	in := "a.example\n" + strings.Repeat("x", maxLineLen*3) + "\nb.example\n# " + strings.Repeat("y", maxLineLen*2) + "\nc.example"
	var got []string
	err := readDomains(strings.NewReader(in), "list", func(input, where string) bool {
		got = append(got, fmt.Sprintf("%s@%s", truncate(input, 12), where))
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a.example@list:1", "xxxxxxxxxxxx…@list:2", "b.example@list:3", "c.example@list:5"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// An invalid line inside -f is a per-domain error (exit 1 at the end); the
// other domains are still checked and the error is a JSON object too.
func TestCheckInvalidLineInFile(t *testing.T) {
	fc := &fakeChecker{}
	code, out, stderr := runCmd(t, fc, "one.example\nnot a domain\ntwo.example\n", "check", "--json", "-f", "-")
	if code != 1 {
		t.Fatalf("exit %d, want 1; stderr %q", code, stderr)
	}
	if got := fc.Calls(); len(got) != 2 {
		t.Errorf("checked %q, want the two valid domains", got)
	}
	reps := decodeLines(t, out)
	if len(reps) != 3 {
		t.Fatalf("%d reports, want 3", len(reps))
	}
	if reps[1].Domain != "not a domain" || !strings.Contains(reps[1].Error, "stdin:2") || !strings.Contains(reps[1].Error, "invalid domain name") {
		t.Errorf("invalid line report = %+v", reps[1])
	}
	if !strings.Contains(stderr, "1 of 3 domains could not be checked") {
		t.Errorf("stderr %q", stderr)
	}
}

// Exit codes of check: 0 with warnings only, 4 with error findings, 1 when a
// domain could not be checked, and 1 beats 4.
func TestCheckExitCodes(t *testing.T) {
	for _, tt := range []struct {
		domains []string
		want    int
	}{
		{[]string{"ok.example"}, 0},
		{[]string{"warn.example"}, 0},
		{[]string{"ok.example", "warn.example"}, 0},
		{[]string{"err.example"}, 4},
		{[]string{"ok.example", "err.example", "warn.example"}, 4},
		{[]string{"fail.example"}, 1},
		{[]string{"err.example", "fail.example"}, 1},
		{[]string{"fail.example", "err.example"}, 1},
		{[]string{"nil.example"}, 1}, // an engine breaking its contract is a failed check, not a panic
	} {
		for _, mode := range []string{"human", "json"} {
			t.Run(strings.Join(tt.domains, ",")+"/"+mode, func(t *testing.T) {
				args := append([]string{"check"}, tt.domains...)
				if mode == "json" {
					args = append(args, "--json")
				}
				code, out, stderr := runCmd(t, &fakeChecker{}, "", args...)
				if code != tt.want {
					t.Errorf("exit %d, want %d; stderr %q", code, tt.want, stderr)
				}
				for _, d := range tt.domains {
					if !strings.Contains(out, d) {
						t.Errorf("stdout does not mention %s", d)
					}
				}
			})
		}
	}
}

// Options handed to the engine: resolvers normalised, the timeout, nil
// roots, the normalised domain.
func TestCheckPassesOptions(t *testing.T) {
	fc := &fakeChecker{}
	code, _, stderr := runCmd(t, fc, "", "check", "--resolver", "127.0.0.53", "--resolver", "[::1]:5300", "--timeout", "7s", "Example.COM.")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if len(fc.opts) != 1 {
		t.Fatalf("%d calls", len(fc.opts))
	}
	o := fc.opts[0]
	if !slices.Equal(o.Resolvers, []string{"127.0.0.53:53", "[::1]:5300"}) || o.Timeout != 7*time.Second || o.Roots != nil {
		t.Errorf("options = %+v", o)
	}
	if fc.calls[0] != "example.com" {
		t.Errorf("engine got %q, want the normalised domain", fc.calls[0])
	}
}

// --json: stdout is JSON lines only, one object per domain, in input order,
// schema first, even when domains fail or are invalid; nothing human leaks.
func TestCheckJSONLinesOnly(t *testing.T) {
	fc := &fakeChecker{}
	code, out, _ := runCmd(t, fc, "bad line here\nfail.example\n", "check", "--json", "ok.example", "err.example", "warn.example", "nil.example", "-f", "-")
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	want := []string{"ok.example", "err.example", "warn.example", "nil.example", "bad line here", "fail.example"}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), out)
	}
	for i, l := range lines {
		if !strings.HasPrefix(l, `{"schema":"`+checks.SchemaVersion+`",`) {
			t.Errorf("line %d does not start with the schema: %.60s", i+1, l)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %d is not JSON: %v: %s", i+1, err, l)
		}
		if m["domain"] != want[i] {
			t.Errorf("line %d is %v, want %s", i+1, m["domain"], want[i])
		}
		if _, ok := m["findings"].([]any); !ok {
			t.Errorf("line %d: findings is %T, want a list", i+1, m["findings"])
		}
	}
	if strings.Contains(out, "\x1b") {
		t.Error("escape sequence in JSON output")
	}
}

// Reports come out in input order even when later domains finish first.
func TestCheckInputOrder(t *testing.T) {
	fc := &fakeChecker{release: map[string]chan struct{}{
		"a.example": make(chan struct{}), "b.example": make(chan struct{}), "c.example": make(chan struct{}),
	}}
	fc.started = make(chan string, 3)
	f, out, _ := testFactory("", fc)
	done := make(chan int)
	go func() {
		done <- execute(context.Background(), f, []string{"check", "--json", "a.example", "b.example", "c.example"})
	}()
	for range 3 {
		<-fc.started
	}
	close(fc.release["c.example"])
	close(fc.release["b.example"])
	close(fc.release["a.example"])
	if code := <-done; code != 0 {
		t.Fatalf("exit %d", code)
	}
	var got []string
	for _, r := range decodeLines(t, out.String()) {
		got = append(got, r.Domain)
	}
	if !slices.Equal(got, []string{"a.example", "b.example", "c.example"}) {
		t.Errorf("order %q", got)
	}
}

// At most --concurrency checks run at once, and with the first domain stuck
// the pipeline starts no more than its window (4×concurrency) of domains:
// memory stays bounded however long the list is.
func TestCheckConcurrencyBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var lines []string
		for i := range 100 {
			lines = append(lines, fmt.Sprintf("d%03d.example", i))
		}
		first := lines[0]
		fc := &fakeChecker{release: map[string]chan struct{}{first: make(chan struct{})}}
		f, out, _ := testFactory(strings.Join(lines, "\n"), fc)
		done := make(chan int)
		go func() {
			done <- execute(context.Background(), f, []string{"check", "--json", "--concurrency", "3", "-f", "-"})
		}()
		synctest.Wait() // everything is blocked behind the first domain
		if n := len(fc.Calls()); n != 4*3 {
			t.Errorf("%d domains started while the first is pending, want the window of %d", n, 4*3)
		}
		if out.Len() != 0 {
			t.Errorf("printed before the first domain finished: %q", out.String())
		}
		close(fc.release[first])
		if code := <-done; code != 0 {
			t.Fatalf("exit %d", code)
		}
		if fc.maxRun > 3 {
			t.Errorf("%d checks ran at once, want at most 3", fc.maxRun)
		}
		if fc.maxRun < 2 {
			t.Errorf("checks never overlapped (max %d at once)", fc.maxRun)
		}
		if n := len(decodeLines(t, out.String())); n != 100 {
			t.Errorf("%d reports, want 100", n)
		}
	})
}

// A cancelled context (what SIGINT does) stops the run with exit 130.
func TestCheckInterrupted(t *testing.T) {
	fc := &fakeChecker{block: make(chan struct{}), started: make(chan string, 10)}
	f, _, errOut := testFactory("", fc)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() { done <- execute(ctx, f, []string{"check", "a.example", "b.example"}) }()
	<-fc.started
	cancel()
	if code := <-done; code != 130 {
		t.Errorf("exit %d, want 130", code)
	}
	if !strings.Contains(errOut.String(), "interrupted") {
		t.Errorf("stderr %q", errOut.String())
	}
}

// A real SIGINT reaches run's signal context and the exit code is 130. The
// command is kept busy reading a -f - pipe that never ends, which also
// proves an interrupt does not wait for a blocked stdin.
func TestRunSIGINT(t *testing.T) {
	// Keep SIGINT caught for the whole test, so that a signal arriving
	// before run installs its handler, or after it removes it, cannot kill
	// the test binary.
	caught := make(chan os.Signal, 16)
	signal.Notify(caught, syscall.SIGINT)
	defer signal.Stop(caught)

	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	var out, errOut strings.Builder
	done := make(chan int)
	go func() { done <- run([]string{"check", "--json", "-f", "-"}, pr, &out, &errOut) }()
	// Signal until run returns: its handler may not be installed yet.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case code := <-done:
			if code != 130 {
				t.Errorf("exit %d, want 130; stderr %q", code, errOut.String())
			}
			if out.Len() != 0 {
				t.Errorf("stdout %q", out.String())
			}
			return
		case <-tick.C:
			if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// The human output ends with totals when several domains were checked.
func TestCheckHumanTotals(t *testing.T) {
	code, out, _ := runCmd(t, &fakeChecker{}, "", "check", "ok.example", "warn.example", "err.example", "fail.example")
	if code != 1 {
		t.Errorf("exit %d", code)
	}
	if !strings.Contains(out, "4 domains checked: 1 healthy, 1 with warnings, 1 with errors, 1 not checked") {
		t.Errorf("no totals line in:\n%s", out)
	}
	if strings.Contains(out, "\x1b") {
		t.Error("escape sequences without a terminal")
	}
	if i, j := strings.Index(out, "ok.example"), strings.Index(out, "fail.example"); i < 0 || j < i {
		t.Error("human output not in input order")
	}
}

func decodeLines(t *testing.T, out string) []checks.Report {
	t.Helper()
	var reps []checks.Report
	for i, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if l == "" {
			continue
		}
		var r checks.Report
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("line %d is not a report: %v: %q", i+1, err, l)
		}
		reps = append(reps, r)
	}
	return reps
}

// The progress note goes to stderr only when stderr is a terminal and the
// output is for people; it is erased before each report and at the end.
func TestCheckStatusLine(t *testing.T) {
	for _, tt := range []struct {
		name    string
		tty     bool
		args    []string
		wantErr bool
	}{
		{"terminal", true, []string{"check", "a.example", "b.example"}, true},
		{"terminal --json", true, []string{"check", "--json", "a.example"}, false},
		{"no terminal", false, []string{"check", "a.example"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, out, errOut := testFactory("", &fakeChecker{})
			f.IO.SetStderrTTY(tt.tty)
			if code := execute(context.Background(), f, tt.args); code != 0 {
				t.Fatalf("exit %d", code)
			}
			if got := errOut.String() != ""; got != tt.wantErr {
				t.Errorf("stderr %q", errOut.String())
			}
			if tt.wantErr && !strings.HasSuffix(errOut.String(), "\r\x1b[K") {
				t.Errorf("status line not erased at the end: %q", errOut.String())
			}
			if strings.Contains(out.String(), "\x1b") || strings.Contains(out.String(), "checking") {
				t.Errorf("status leaked into stdout: %q", out.String())
			}
		})
	}
}

// truncate shortens s to n bytes for test messages.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// check runs its batch with the garbage collector's target for batches
// (checks.BatchGCPercent) unless GOGC says otherwise.
func TestCheckSetsTheBatchGCPercent(t *testing.T) {
	if os.Getenv("GOGC") != "" {
		t.Skip("GOGC is set: check leaves the collector as the environment says")
	}
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	if code, _, stderr := runCmd(t, &fakeChecker{}, "", "check", "example.com"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if got := debug.SetGCPercent(100); got != checks.BatchGCPercent {
		t.Errorf("GC percent after check = %d, want %d", got, checks.BatchGCPercent)
	}
}
