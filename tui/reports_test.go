package tui

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDashboardReports: with report paths (--reports), the dashboard shows
// the TLS-RPT summary of the domain: reports, sessions, failures, and the
// top cause; reports about other domains are not counted.
func TestDashboardReports(t *testing.T) {
	w := newWorld(t)
	dir := t.TempDir()
	day := w.clock.Now().UTC().Add(-48 * time.Hour).Format("2006-01-02")
	report := func(name, domain string, ok, failed int) {
		body := fmt.Sprintf(`{"organization-name":"Sender-A","date-range":{"start-datetime":"%sT00:00:00Z","end-datetime":"%sT23:59:59Z"},
"contact-info":"tlsrpt@sender-a.example","report-id":"%s",
"policies":[{"policy":{"policy-type":"sts","policy-string":["version: STSv1","mode: testing","mx: mx1.%s","max_age: 86400"],"policy-domain":"%s","mx-host":["mx1.%s"]},
"summary":{"total-successful-session-count":%d,"total-failure-session-count":%d},
"failure-details":[{"result-type":"certificate-host-mismatch","sending-mta-ip":"192.0.2.9","receiving-mx-hostname":"mx1.%s","failed-session-count":%d}]}]}`,
			day, day, name, domain, domain, domain, ok, failed, domain, failed)
		if err := os.WriteFile(filepath.Join(dir, name+".json"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	report("r1", w.sb.Domain, 90, 7)
	report("r2", "other.example", 10, 500)
	w.opts.Reports = []string{dir}
	d := drive(t, NewModel(context.Background(), w.opts))
	d.ready()
	d.screen("the reports summary", "Reports", "1 report", "97 sessions", "7 failed", "certificate-host-mismatch")
	for i, l := range strings.Split(d.m.View(), "\n") {
		if w := ansiWidth(l); w > 80 {
			t.Errorf("line %d is %d columns wide: %q", i, w, l)
		}
	}
	if n := strings.Count(d.m.View(), "\n") + 1; n > 24 {
		t.Errorf("the dashboard with reports is %d lines high at 80x24", n)
	}
	t.Log("\n" + d.m.View())
}
