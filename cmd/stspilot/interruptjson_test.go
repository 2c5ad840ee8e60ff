package main

import (
	"context"
	"testing"
)

// docs/json.md, "Many domains": on an interrupt, the lines already printed
// are complete reports of the first domains, the domain in flight and the
// later ones get no object at all (no "interrupted" error object), and the
// exit code is 130.
func TestCheckInterruptedJSONPrintsOnlyFinished(t *testing.T) {
	done := make(chan struct{})
	close(done)
	fc := &fakeChecker{started: make(chan string, 10), release: map[string]chan struct{}{
		"a.example": done,
		"b.example": make(chan struct{}), // never released
	}}
	f, out, _ := testFactory("", fc)
	ctx, cancel := context.WithCancel(context.Background())
	exit := make(chan int)
	go func() {
		exit <- execute(ctx, f, []string{"check", "--json", "--concurrency", "1", "a.example", "b.example", "c.example"})
	}()
	for d := range fc.started {
		if d == "b.example" {
			break
		}
	}
	cancel()
	if code := <-exit; code != 130 {
		t.Errorf("exit %d, want 130", code)
	}
	for _, r := range decodeLines(t, out.String()) {
		if r.Domain != "a.example" || r.Error != "" {
			t.Errorf("printed %s (error %q): only a.example, which finished, may be printed", r.Domain, r.Error)
		}
	}
}
