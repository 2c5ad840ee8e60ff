package tui

import (
	"context"
	"sync"
	"testing"

	"github.com/stspilot/stspilot/checks"
)

// BenchmarkDashboardView: rendering must stay cheap, since the wizard
// redraws on every spinner frame while checks run.
func BenchmarkDashboardView(b *testing.B) {
	w := newWorld(b)
	m := NewModel(context.Background(), w.opts)
	ctx := context.Background()
	st, err := w.e.Status(ctx, w.sb.Domain)
	if err != nil {
		b.Fatal(err)
	}
	m.dash.st = st
	var mu sync.Mutex
	var evs []checks.ProbeEvent
	m.dash.rep = w.opts.Check(ctx, w.sb.Domain, func(ev checks.ProbeEvent) {
		mu.Lock()
		defer mu.Unlock()
		evs = append(evs, ev)
	})
	for _, ev := range evs {
		m.dash, _ = m.dash.update(probeMsg{gen: m.dash.gen, ev: ev})
	}
	if len(m.dash.probes) == 0 {
		b.Fatal("no probes to render")
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = m.View()
	}
}
