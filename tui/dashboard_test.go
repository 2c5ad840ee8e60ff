package tui

import (
	"strings"
	"testing"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/stspilot/stspilot/checks"
	"github.com/stspilot/stspilot/tui/textout"
)

// TestProbeMarksAgreeWithFindings: a probe's mark is its findings' (no ✓
// on an MX with an mx.cert-name error, no ✗ on the policy host that is
// not there yet when nothing is wrong), probes are named one way, and the
// grid takes the rows it is given, counting the rest in words.
func TestProbeMarksAgreeWithFindings(t *testing.T) {
	lipgloss.SetColorProfile(termenv.Ascii)
	c := &common{domain: "demo.test", width: 80, height: 24, st: newStyles(), keys: newKeyMap()}
	d := newDash(c)
	d.probes = []probeRow{
		{name: "dns:_mta-sts.demo.test TXT", done: true, ok: true},
		{name: "dns:_smtp._tls.demo.test TXT", done: true, ok: true},
		{name: "https:127.0.0.1", done: true},
		{name: "smtp:mx1.demo.test/127.0.0.1", done: true, ok: true},
		{name: "smtp:mx2.demo.test/127.0.0.2", done: true, ok: true},
	}
	d.rep = &checks.Report{Findings: []checks.Finding{
		{ID: "mx.cert-name", Severity: checks.SevError, Subject: "mx1.demo.test (127.0.0.1)"},
		{ID: "tlsrpt.missing", Severity: checks.SevWarn, Subject: "_smtp._tls.demo.test"},
	}}
	g := d.grid(10)
	for _, want := range []string{
		"✓ dns:_mta-sts.demo.test TXT", "! dns:_smtp._tls.demo.test TXT",
		"· https:mta-sts.demo.test/127.0.0.1",
		"✗ smtp:mx1.demo.test/127.0.0.1", "✓ smtp:mx2.demo.test/127.0.0.2",
	} {
		if !strings.Contains(g, want) {
			t.Errorf("grid lacks %q:\n%s", want, g)
		}
	}
	if g := d.grid(2); strings.Count(g, "\n") != 2 || !strings.Contains(g, "… and 3 more probes") {
		t.Errorf("two rows for five probes:\n%s", g)
	}
	if g := d.grid(3); strings.Contains(g, "more") {
		t.Errorf("three rows hold five probes:\n%s", g)
	}
	if textout.Plural(1, "more probe") != "1 more probe" || textout.Plural(2, "error") != "2 errors" || inParens(0) != "(now)" {
		t.Error("plurals")
	}
	// Before the check is done, a failed probe is a failure.
	d.rep = nil
	if g := d.grid(10); !strings.Contains(g, "✗ https:mta-sts.demo.test/127.0.0.1") {
		t.Errorf("a failed probe during the check:\n%s", g)
	}
}

// TestOneTimeOneFormat: the engine's timestamps read as the screen's own,
// and its countdowns, stale once drawn, give way to the screen's.
func TestOneTimeOneFormat(t *testing.T) {
	in := "the 14d soak of testing@86400 (live since 2030-01-01T00:00:00Z, from the journal) ends at 2030-01-15T00:00:00Z (in 13d 22h)"
	got := dropCountdown(stamps(in))
	want := "the 14d soak of testing@86400 (live since 2030-01-01 00:00 UTC, from the journal) ends at 2030-01-15 00:00 UTC"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}
