package textout

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stspilot/stspilot/checks/tlsrpt"
	"github.com/stspilot/stspilot/workflow"
)

// goDuration is how time.Duration writes itself ("720h0m0s", "5m0s",
// "1h30m0s"): never what people should read (internal/duration writes
// "30d", "5m", "1h 30m").
var goDuration = regexp.MustCompile(`[0-9]+h[0-9]+m[0-9]+s|\b[0-9]+m[0-9]+s\b`)

// TestNoGoDurations renders what stspilot shows people, from the
// fixtures and from events that carry durations (a risk window of 30
// days, a soak, a pending outcome, a status with a gate to wait for),
// and walks every golden file of textout and of the wizard (tui): none
// may print a duration the way Go does.
func TestNoGoDurations(t *testing.T) {
	now := time.Date(2026, 11, 28, 16, 33, 7, 0, time.UTC)
	next := now.Add(12*24*time.Hour + 4*time.Hour)
	var outs []string

	var b strings.Builder
	h := NewHuman(&b, Options{Width: 80})
	h.Report(brokenEnforce())
	h.Report(healthy())
	h.Report(notChecked())
	outs = append(outs, b.String())

	b.Reset()
	ev := NewEvents(&b, Options{Width: 80})
	risk := &workflow.RiskWindow{OldTXTTTL: 300, OldMaxAge: 2592000, OldMode: "enforce", TXTUntil: now.Add(5 * time.Minute), PolicyUntil: now.Add(720 * time.Hour)}
	ev.Event(workflow.Event{Time: now, Kind: workflow.EventRisk, Risk: risk, Message: risk.String()})
	gate := &workflow.GateResult{Kind: workflow.GateWindow, Reason: "the 14d soak of testing@86400 ends", NextAt: &next}
	ev.Event(workflow.Event{Time: now, Kind: workflow.EventOutcome, Outcome: &workflow.Outcome{Domain: "example.test", Status: workflow.StatusPending, Message: gate.Reason, NextAt: &next, Gate: gate}})
	ev.Status(&workflow.StatusReport{
		Domain: "example.test", Stage: workflow.StageNone, NextAt: &next,
		Teardown: &workflow.TeardownState{NoneSince: now, LastMaxAge: 1209600},
	})
	outs = append(outs, b.String())
	if !strings.Contains(outs[1], "for up to 5m") || !strings.Contains(outs[1], "(in 12d 4h)") {
		t.Errorf("durations not written for people:\n%s", outs[1])
	}

	b.Reset()
	WriteReports(&b, reportsFixture(), Options{Width: 80})
	outs = append(outs, b.String(), strings.Join(ReportsBrief(tlsrpt.DigestResult{Reports: 1}, 60), "\n"))

	for _, dir := range []string{"testdata", filepath.Join("..", "testdata")} {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".golden") {
				return err
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			outs = append(outs, p+":\n"+string(data))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(outs) < 6 {
		t.Fatalf("only %d outputs walked: no golden files found", len(outs))
	}
	for _, out := range outs {
		if m := goDuration.FindString(out); m != "" {
			t.Errorf("a Go duration %q in what people read:\n%s", m, out)
		}
	}
}
