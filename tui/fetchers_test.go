package tui

import (
	"context"
	"strings"
	"testing"
)

// TestDashboardFetchers: the dashboard says, from serve's access log (a
// real file), which senders fetched the live id since it went live, beside
// the TLS-RPT summary, within 80x24; without a configured log it says so
// in words, and a log that cannot be read says why.
func TestDashboardFetchers(t *testing.T) {
	t.Run("log", func(t *testing.T) {
		w := newWorld(t)
		fetchedLog(t, w)
		w.opts.Reports = []string{t.TempDir()}
		d := drive(t, NewModel(context.Background(), w.opts))
		d.ready()
		d.screen("the fetchers line", "Fetched", "google 2, microsoft 1 since it went live")
		for i, l := range strings.Split(d.m.View(), "\n") {
			if w := ansiWidth(l); w > 80 {
				t.Errorf("line %d is %d columns wide: %q", i, w, l)
			}
		}
		if n := strings.Count(d.m.View(), "\n") + 1; n > 24 {
			t.Errorf("the dashboard with fetchers and reports is %d lines high at 80x24", n)
		}
	})
	t.Run("none configured", func(t *testing.T) {
		w := newWorld(t)
		rolledOut(t, w)
		d := drive(t, NewModel(context.Background(), w.opts))
		d.ready()
		d.screen("no access log", "Fetched", "not known: no serve access log configured (config key access_log)")
	})
	t.Run("unreadable", func(t *testing.T) {
		w := newWorld(t)
		rolledOut(t, w)
		w.opts.AccessLog = t.TempDir() // a directory
		d := drive(t, NewModel(context.Background(), w.opts))
		d.ready()
		d.screen("why the log was not read", "Fetched", "not known: ")
		if lf := d.m.dash.st.Fetchers; lf == nil || !strings.Contains(lf.Error, "not a regular file") {
			t.Errorf("fetchers of a directory: %+v", lf)
		}
	})
	t.Run("nothing live", func(t *testing.T) {
		w := newWorld(t)
		w.opts.AccessLog = t.TempDir()
		d := drive(t, NewModel(context.Background(), w.opts))
		d.ready()
		if strings.Contains(d.m.View(), "Fetched") {
			t.Errorf("a fetchers line without a live id:\n%s", d.m.View())
		}
	})
}
