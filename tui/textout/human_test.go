package textout

import (
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"github.com/stspilot/stspilot/checks"
	"github.com/stspilot/stspilot/internal/golden"
)

// The golden file check_plain.golden is written by go generate (see
// internal/golden): the test that compares it is the one that writes it.
//
//go:generate go test -tags stspilot_update -run ^TestHumanGolden$ .

func render(t *testing.T, opt Options, reps ...*checks.Report) string {
	t.Helper()
	var b strings.Builder
	h := NewHuman(&b, opt)
	for _, r := range reps {
		if err := h.Report(r); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// indexes returns the position of each needle in s, failing on a missing one.
func indexes(t *testing.T, s string, needles ...string) []int {
	t.Helper()
	var out []int
	for _, n := range needles {
		i := strings.Index(s, n)
		if i < 0 {
			t.Fatalf("output lacks %q:\n%s", n, s)
		}
		out = append(out, i)
	}
	return out
}

func assertOrder(t *testing.T, s string, needles ...string) {
	t.Helper()
	idx := indexes(t, s, needles...)
	for i := 1; i < len(idx); i++ {
		if idx[i] < idx[i-1] {
			t.Errorf("%q comes before %q", needles[i], needles[i-1])
		}
	}
}

// Sections come in the order an operator fixes things (the seven field
// failures of docs/design.md): TXT record, policy host, MX coverage, MX TLS, id sync
// (STS-TXT-10), mode and max_age (STS-POL-9), TLS-RPT, removal; unknown
// areas last.
func TestHumanSectionOrder(t *testing.T) {
	out := render(t, Options{}, brokenEnforce())
	assertOrder(t, out,
		"example.com", "stage: enforce", "6 errors, 4 warnings",
		"\nDNS\n",
		"\nTXT record (_mta-sts)\n",
		"\nPolicy host (mta-sts)\n",
		"\nMX coverage\n",
		"\nMX TLS\n",
		"\nPolicy id sync\n",
		"\nMode and max_age\n",
		"\nTLS-RPT (_smtp._tls)\n",
		"\nRemoval\n",
		"\nfuture\n",
		"\nSeen\n",
	)
	// Within an area, errors first, then warnings, then info.
	assertOrder(t, out, "WARN   sts-record.foreign-txt", "INFO   sts-record.id-scheme")
	// id-drift and max-age findings live in the policy area but get their own
	// sections; the rest of the policy area stays under the policy host.
	assertOrder(t, out, "Policy host (mta-sts)", "policy.content-type", "MX coverage", "Policy id sync", "policy.id-drift", "Mode and max_age", "policy.max-age-low")
}

func TestGroupFindingsSeverityOrder(t *testing.T) {
	fs := []checks.Finding{
		{ID: "a.info", Severity: checks.SevInfo, Area: "mx"},
		{ID: "b.warn", Severity: checks.SevWarn, Area: "mx"},
		{ID: "c.err", Severity: checks.SevError, Area: "mx"},
		{ID: "d.warn", Severity: checks.SevWarn, Area: "mx"},
		{ID: "e.err", Severity: checks.SevError, Area: "mx"},
		{ID: "f.x", Severity: checks.SevError, Area: "zzz"},
		{ID: "g.y", Severity: checks.SevError, Area: "aaa"},
		{ID: "h.z", Severity: checks.SevWarn, Area: "sts"},
	}
	var got []string
	for _, s := range groupFindings(fs) {
		got = append(got, s.key+":")
		for _, f := range s.findings {
			got = append(got, f.ID)
		}
	}
	want := "sts: h.z mx: c.err e.err b.warn d.warn a.info zzz: f.x aaa: g.y"
	if strings.Join(got, " ") != want {
		t.Errorf("got  %s\nwant %s", strings.Join(got, " "), want)
	}
}

// Every part of a finding is shown: severity, id, subject, observed, why,
// senders, fix, rules, TLS-RPT result-type (docs/design.md, "Findings and the seven field failures").
func TestHumanFindingFields(t *testing.T) {
	out := render(t, Options{}, brokenEnforce())
	block := out[strings.Index(out, "ERROR  mx.starttls-missing"):]
	block = block[:strings.Index(block, "\n\n")]
	assertOrder(t, block,
		"ERROR  mx.starttls-missing  backup-mx.example.net/198.51.100.7",
		"observed  EHLO reply lists no STARTTLS",
		"why       under enforce senders will not deliver to this MX",
		"senders   Google, Microsoft 365",
		"fix       enable STARTTLS on backup-mx.example.net",
		"rules     STS-SEND-8",
		"tls-rpt   result-type starttls-not-supported",
	)
}

// Fixes are set off so they can be copied: a trailing TXT record and the
// lines of a policy file each stand alone on their line, unwrapped, even
// when the terminal is narrower than they are.
func TestHumanFixIsCopyable(t *testing.T) {
	out := render(t, Options{Width: 40}, brokenEnforce())
	for _, want := range []string{
		"\n    fix       publish a new id:\n                _mta-sts.example.com TXT \"v=STSv1; id=20261128163307zyxwvuts\"\n",
		"\n                version: STSv1\n                mode: enforce\n                mx: mx1.example.com\n                mx: backup-mx.example.net\n                max_age: 604800\n",
		// a fix that is only a record goes on the fix line itself
		"\n    fix       _smtp._tls.example.com TXT \"v=TLSRPTv1; rua=mailto:tlsrpt@example.com\"\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

// A finding's typed action is printed as the command that carries it
// out, on a line of its own after the fix; a record action adds nothing
// (the fix is the record).
func TestHumanActionCommand(t *testing.T) {
	r := brokenEnforce()
	r.Findings = []checks.Finding{
		{
			ID: "teardown.orphan-policy", Severity: checks.SevError, Area: "teardown", Subject: "_mta-sts.example.com",
			Observed: "no record", Why: "cached", Fix: "publish a mode: none policy", Action: &checks.Action{Workflow: "teardown"},
		},
		{
			ID: "sts-record.syntax", Severity: checks.SevError, Area: "sts", Subject: "_mta-sts.example.com", Observed: "bad", Why: "ignored",
			Fix:    `_mta-sts.example.com TXT "v=STSv1; id=1"`,
			Action: &checks.Action{Record: &checks.ActionRecord{Name: "_mta-sts.example.com", Type: "TXT", Value: "v=STSv1; id=1"}},
		},
	}
	out := render(t, Options{Width: 80}, r)
	if !strings.Contains(out, "    fix       publish a mode: none policy\n    run       stspilot teardown example.com\n") {
		t.Errorf("the teardown action is not printed as its command:\n%s", out)
	}
	if strings.Count(out, "    run ") != 1 {
		t.Errorf("a record action printed a command:\n%s", out)
	}
}

func TestSplitFix(t *testing.T) {
	tests := []struct {
		fix   string
		prose string
		block []string
	}{
		{"enable STARTTLS", "enable STARTTLS", nil},
		{`_mta-sts.example.com TXT "v=STSv1; id=1"`, "", []string{`_mta-sts.example.com TXT "v=STSv1; id=1"`}},
		{`keep exactly: _mta-sts.example.com TXT "v=STSv1; id=1"`, "keep exactly:", []string{`_mta-sts.example.com TXT "v=STSv1; id=1"`}},
		// a record in the middle stays in the prose and is repeated to copy
		{
			`publish _mta-sts.d.example TXT "v=STSv1; id=<id>" (stspilot rollout d.example)`,
			`publish _mta-sts.d.example TXT "v=STSv1; id=<id>" (stspilot rollout d.example)`,
			[]string{`_mta-sts.d.example TXT "v=STSv1; id=<id>"`},
		},
		// escaped quotes inside the record (Go %q)
		{`set: a.example TXT "say \"hi\""`, "set:", []string{`a.example TXT "say \"hi\""`}},
		// unterminated quote: no record
		{`set: a.example TXT "v=STSv1; id=1`, `set: a.example TXT "v=STSv1; id=1`, nil},
		// "TXT" not after a name
		{`no TXT "record" here`, `no TXT "record" here`, nil},
		{"serve this:\nversion: STSv1\nmode: none\n", "serve this:", []string{"version: STSv1", "mode: none"}},
		{"", "", nil},
	}
	for _, tt := range tests {
		prose, block := splitFix(tt.fix)
		if prose != tt.prose || strings.Join(block, "|") != strings.Join(tt.block, "|") {
			t.Errorf("splitFix(%q) = %q, %q; want %q, %q", tt.fix, prose, block, tt.prose, tt.block)
		}
	}
}

// The "seen" summary: the TXT record and id (stspilot's scheme, and that the
// served bytes do not match: STS-TXT-10), policy mode/max_age/mx, each
// address's fetch, each MX with addresses and TLS, the rua, and which sender
// implementations disagree.
func TestHumanSeen(t *testing.T) {
	out := render(t, Options{}, brokenEnforce())
	seen := out[strings.Index(out, "\nSeen\n"):]
	assertOrder(t, seen,
		"TXT       _mta-sts.example.com  TTL 300",
		`"v=STSv1; id=20261101090000abcdefgh"`,
		"is in stspilot's scheme",
		"does NOT match",
		"policy    https://mta-sts.example.com/.well-known/mta-sts.txt",
		"mode enforce, max_age 3600 (1h)",
		"mx mx1.example.com",
		"ok   192.0.2.10    200, text/plain, 67 bytes",
		// identical sender and browser fetches make one line; different
		// ones (a bot filter, STS-FETCH-14) one line each
		"FAIL 2001:db8::10  as a mail sender, 403, text/html, 512 bytes",
		"ok   2001:db8::10  as a browser, 200, text/plain, 67 bytes",
		"FAIL 2001:db8::11  connect: connection refused",
		"MX         10 mx1.example.com  ok   covered by mx1.example.com",
		"ok   192.0.2.25  STARTTLS TLS1.3",
		"100 backup-mx.example.net  FAIL not covered by any mx pattern",
		"FAIL 198.51.100.7  no STARTTLS",
		"TLS-RPT   _smtp._tls.example.com",
		"rua mailto:tlsrpt@example.com",
		"senders   3 implementations disagree:",
		"ok   policy mode enforce max_age 3600: Google, mox",
		"FAIL cannot fetch the policy: postfix-tlspol (timeout after 2s)",
	)

	out = render(t, Options{}, healthy())
	assertOrder(t, out, "healthy.example  stage: testing", "ok   healthy: no problems found",
		"id abc123 is opaque", "both implementations agree:", "policy mode testing max_age 86400: Google, mox")
	if strings.Contains(out, "\nTXT record (_mta-sts)\n") {
		t.Error("a section heading without findings")
	}

	r := healthy()
	r.STS.ID = "20261128163307abcdefgh"
	r.STS.IDScheme = &checks.IDScheme{Hash: "abcdefgh", Matches: ptr(true)}
	if strings.Count(out, "192.0.2.") != 2 {
		t.Errorf("addresses repeated or missing in the healthy report:\n%s", out)
	}
	if out := render(t, Options{}, r); !strings.Contains(out, "ok   the served policy matches the id's hash") {
		t.Errorf("matching id not said:\n%s", out)
	}
	r.STS.IDScheme.Matches = nil
	if out := render(t, Options{}, r); !strings.Contains(out, "unknown") {
		t.Errorf("unknown match not said:\n%s", out)
	}
}

func TestHumanNotChecked(t *testing.T) {
	out := render(t, Options{}, notChecked())
	assertOrder(t, out, "down.example", "FAIL not checked: could not check down.example: no DNS answer")
	if strings.Contains(out, "Seen") {
		t.Error("a Seen section for a domain that was not checked")
	}
}

func TestHumanVerdict(t *testing.T) {
	f := func(sev checks.Severity) checks.Finding { return checks.Finding{ID: "x.y", Severity: sev, Area: "mx"} }
	tests := []struct {
		stage string
		fs    []checks.Finding
		err   string
		sev   checks.Severity
		want  string
	}{
		{"enforce", nil, "", checks.SevInfo, "healthy"},
		{"enforce", []checks.Finding{f(checks.SevInfo)}, "", checks.SevInfo, "healthy"},
		{"testing", []checks.Finding{f(checks.SevWarn), f(checks.SevWarn)}, "", checks.SevWarn, "no errors, 2 warnings"},
		{"enforce", []checks.Finding{f(checks.SevError), f(checks.SevWarn)}, "", checks.SevError, "1 error, 1 warning: senders that enforce this policy may refuse mail"},
		{"testing", []checks.Finding{f(checks.SevError)}, "", checks.SevError, "under enforce they would refuse mail"},
		{"broken", []checks.Finding{f(checks.SevError), f(checks.SevError)}, "", checks.SevError, "2 errors: senders cannot use"},
		{"broken", []checks.Finding{f(checks.SevWarn)}, "", checks.SevWarn, "1 warning: senders cannot use"},
		{"absent", []checks.Finding{f(checks.SevError)}, "", checks.SevError, "fix these before the next step"},
		{"", nil, "boom", checks.SevError, "not checked: boom"},
	}
	for _, tt := range tests {
		sev, text := verdict(&checks.Report{Stage: checks.Stage(tt.stage), Findings: tt.fs, Error: tt.err})
		if sev != tt.sev || !strings.Contains(text, tt.want) {
			t.Errorf("verdict(%s, %d findings, %q) = %s %q; want %s ~%q", tt.stage, len(tt.fs), tt.err, sev, text, tt.sev, tt.want)
		}
	}
}

var escape = regexp.MustCompile("\x1b")

// With colour off not one escape sequence is written, icons or not; with
// colour on there are some (so the first check can fail).
func TestHumanColour(t *testing.T) {
	all := []*checks.Report{brokenEnforce(), healthy(), notChecked()}
	for _, icons := range []bool{false, true} {
		var b strings.Builder
		h := NewHuman(&b, Options{Icons: icons})
		for _, r := range all {
			if err := h.Report(r); err != nil {
				t.Fatal(err)
			}
		}
		if err := h.Totals(Totals{Healthy: 1, Errors: 1, Failed: 1}); err != nil {
			t.Fatal(err)
		}
		if escape.MatchString(b.String()) {
			t.Errorf("icons=%v: escape sequence with colour off", icons)
		}
	}
	out := render(t, Options{Color: true, Icons: true}, brokenEnforce())
	if !escape.MatchString(out) {
		t.Error("no escape sequence with colour on")
	}
	if ansi.Strip(out) == out {
		t.Error("colour on changed nothing")
	}
	// Plain output is ASCII apart from the data: no icons, no box drawing.
	plain := render(t, Options{}, brokenEnforce(), healthy())
	for _, r := range []string{"✓", "✗", "─", "•"} {
		if strings.Contains(plain, r) {
			t.Errorf("plain output contains %q", r)
		}
	}
}

// Text from servers (banners, errors, records) cannot inject escape
// sequences or other control characters into the terminal.
func TestHumanCleansControlCharacters(t *testing.T) {
	r := healthy()
	r.MX[0].Addrs[0].Error = "421 \x1b[2J\x1b]0;pwned\x07 bye\r"
	r.STS.Records = []string{"v=STSv1; id=1\x1b[31m"}
	r.Findings = []checks.Finding{{ID: "x.y", Severity: checks.SevWarn, Area: "mx", Observed: "bad \xff\xfe bytes\tand tab", Fix: "line one\nline \u009b two", Subject: "a \u202etxt.exe and \u2066isolate\u2069 \u2028"}}
	out := render(t, Options{}, r)
	if escape.MatchString(out) || strings.ContainsAny(out, "\x07\r\u009b\t\u202e\u2066\u2069\u2028") {
		t.Errorf("control characters reached the output:\n%q", out)
	}
	for _, want := range []string{`421 \x1b[2J\x1b]0;pwned\x07 bye\x0d`, `id=1\x1b[31m`, "bad \uFFFD\uFFFD bytes and tab", `line \x9b two`, `a \u202etxt.exe and \u2066isolate\u2069 \u2028`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if r.MX[0].Addrs[0].Error != "421 \x1b[2J\x1b]0;pwned\x07 bye\r" {
		t.Error("rendering changed the caller's report")
	}
}

// Prose wraps to the width; only lines meant to be copied (fix blocks,
// quoted records) and lines holding one unbreakable word after their label
// may run past it.
func TestHumanWraps(t *testing.T) {
	reps := []*checks.Report{brokenEnforce(), healthy(), notChecked()}
	copyable := map[string]bool{}
	for _, r := range reps {
		for _, f := range r.Findings {
			_, block := splitFix(f.Fix)
			for _, l := range block {
				copyable[l] = true
			}
		}
	}
	for _, width := range []int{40, 60, 80, 100, 132} {
		out := render(t, Options{Width: width}, reps...)
		for _, l := range strings.Split(out, "\n") {
			if ansi.StringWidth(l) <= width {
				continue
			}
			trimmed := strings.TrimSpace(l)
			fields := strings.Fields(trimmed)
			if copyable[trimmed] || strings.HasPrefix(trimmed, `"`) || len(fields) <= 2 ||
				(fields[0] == "fix" && copyable[strings.TrimSpace(strings.TrimPrefix(trimmed, "fix"))]) {
				continue
			}
			t.Errorf("width %d: line of %d cells: %q", width, ansi.StringWidth(l), l)
		}
	}
	if got := NewHuman(&strings.Builder{}, Options{Width: 5}).width; got != minWidth {
		t.Errorf("width 5 gives %d, want the minimum %d", got, minWidth)
	}
	if got := NewHuman(&strings.Builder{}, Options{}).width; got != DefaultWidth {
		t.Errorf("no width gives %d, want %d", got, DefaultWidth)
	}
}

func TestHumanTotals(t *testing.T) {
	var b strings.Builder
	h := NewHuman(&b, Options{})
	if err := h.Totals(Totals{Healthy: 2, Warnings: 0, Errors: 3, Failed: 1}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "6 domains checked: 2 healthy, 3 with errors, 1 not checked\n") {
		t.Errorf("totals %q", b.String())
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestHumanWriteError(t *testing.T) {
	if err := NewHuman(failWriter{}, Options{}).Report(healthy()); err == nil {
		t.Error("a write error was swallowed")
	}
	if err := NewHuman(&strings.Builder{}, Options{}).Report(nil); err != nil {
		t.Error(err)
	}
}

// One exact rendering, plain at 80 columns: the layout itself is reviewed
// through this file. Regenerate with `go generate ./tui/textout`.
func TestHumanGolden(t *testing.T) {
	var b strings.Builder
	h := NewHuman(&b, Options{Width: 80})
	for _, r := range []*checks.Report{brokenEnforce(), healthy(), notChecked()} {
		if err := h.Report(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.Totals(Totals{Healthy: 1, Errors: 1, Failed: 1}); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "check_plain.golden"), []byte(b.String()))
}
