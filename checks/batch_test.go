package checks

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
	"unicode/utf8"
)

var batchNow = time.Date(2026, 11, 28, 16, 33, 7, 0, time.UTC)

// gate is a fake check: every domain waits for its release channel (when
// it has one) or the context, and the fake records what ran and how many
// ran at once.
type gate struct {
	mu      sync.Mutex
	calls   []string
	running int
	maxRun  int
	release map[string]chan struct{}
}

func (g *gate) check(ctx context.Context, d string) *Report {
	g.mu.Lock()
	g.calls = append(g.calls, d)
	g.running++
	g.maxRun = max(g.maxRun, g.running)
	rel := g.release[d]
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.running--
		g.mu.Unlock()
	}()
	rep := &Report{Schema: SchemaVersion, Domain: d, CheckedAt: batchNow, Findings: []Finding{}}
	if rel != nil {
		select {
		case <-rel:
		case <-ctx.Done():
			rep.Error = "interrupted"
		}
	}
	if strings.HasPrefix(d, "nil") {
		return nil
	}
	return rep
}

func (g *gate) Calls() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.calls)
}

func domains(n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("d%03d.example", i))
	}
	return out
}

func batchOpts(g *gate, conc int) BatchOptions {
	return BatchOptions{Concurrency: conc, Check: g.check, Now: func() time.Time { return batchNow }}
}

// collect runs the batch to the end: the domains yielded, and the final
// error.
func collect(t *testing.T, seq iter.Seq2[*BatchResult, error]) ([]string, error) {
	t.Helper()
	var got []string
	var final error
	for r, err := range seq {
		if err != nil {
			if final != nil {
				t.Errorf("a second error after %v: %v", final, err)
			}
			final = err
			continue
		}
		if final != nil {
			t.Errorf("result %q after the final error", r.Report.Domain)
		}
		if r.Index != len(got) {
			t.Errorf("result %d has index %d", len(got), r.Index)
		}
		got = append(got, r.Report.Domain)
	}
	return got, final
}

// Results come in input order even when later domains finish first.
func TestBatchInputOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		in := []string{"a.example", "b.example", "c.example"}
		g := &gate{release: map[string]chan struct{}{}}
		for _, d := range in {
			g.release[d] = make(chan struct{})
		}
		var got []string
		done := make(chan struct{})
		go func() {
			got, _ = collect(t, Batch(t.Context(), Inputs(in...), batchOpts(g, 3)))
			close(done)
		}()
		synctest.Wait()
		close(g.release["c.example"])
		synctest.Wait()
		close(g.release["b.example"])
		synctest.Wait()
		close(g.release["a.example"])
		<-done
		if !slices.Equal(got, in) {
			t.Errorf("order %q, want %q", got, in)
		}
	})
}

// At most Concurrency checks run at once; with the first domain stuck, no
// more than the window (4×Concurrency by default) is started, and nothing
// is yielded; once it is released, everything comes out.
func TestBatchBounded(t *testing.T) {
	for _, tt := range []struct {
		conc, window    int
		pulled, checked int
	}{
		{3, 0, 12, 12},
		{1, 0, 2, 1}, // the one worker is stuck on the first, the second waits for it
		{4, 5, 5, 5},
		{4, 2, 4, 4}, // never below the concurrency
	} {
		t.Run(fmt.Sprintf("concurrency %d window %d", tt.conc, tt.window), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				in := domains(100)
				// The first two checks hold until released: with more than
				// one worker both are running at once when the batch stalls
				// (an overlap the scheduler cannot take away).
				g := &gate{release: map[string]chan struct{}{in[0]: make(chan struct{}), in[1]: make(chan struct{})}}
				opt := batchOpts(g, tt.conc)
				opt.Window = tt.window
				var yielded, pulled int
				var mu sync.Mutex
				counted := func(yield func(BatchInput, error) bool) {
					for in := range Inputs(in...) {
						mu.Lock()
						pulled++
						mu.Unlock()
						if !yield(in, nil) {
							return
						}
					}
				}
				done := make(chan struct{})
				go func() {
					defer close(done)
					for _, err := range Batch(t.Context(), counted, opt) {
						if err != nil {
							t.Errorf("error %v", err)
						}
						mu.Lock()
						yielded++
						mu.Unlock()
					}
				}()
				synctest.Wait()
				if n := len(g.Calls()); n != tt.checked {
					t.Errorf("%d domains started while the first is pending, want %d", n, tt.checked)
				}
				mu.Lock()
				if pulled != tt.pulled {
					t.Errorf("%d inputs read while the first is pending, want the window of %d", pulled, tt.pulled)
				}
				if yielded != 0 {
					t.Errorf("%d yielded before the first finished", yielded)
				}
				mu.Unlock()
				if tt.conc > 1 {
					g.mu.Lock()
					if g.running != 2 {
						t.Errorf("%d checks running while the first two hold, want 2", g.running)
					}
					g.mu.Unlock()
				}
				close(g.release[in[0]])
				close(g.release[in[1]])
				<-done
				if yielded != 100 {
					t.Errorf("%d yielded, want 100", yielded)
				}
				if g.maxRun > tt.conc {
					t.Errorf("%d checks at once, want at most %d", g.maxRun, tt.conc)
				}
				if tt.conc > 1 && g.maxRun < 2 {
					t.Errorf("checks never overlapped")
				}
			})
		})
	}
}

// Cancelling the context ends the loop with the context's error at once,
// stops the checks in flight and leaves no goroutine behind (synctest
// fails a test whose goroutines outlive it blocked).
func TestBatchCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		in := domains(50)
		g := &gate{release: map[string]chan struct{}{}}
		for _, d := range in[1:] {
			g.release[d] = make(chan struct{}) // every domain but the first hangs
		}
		ctx, cancel := context.WithCancel(t.Context())
		var got []string
		var err error
		done := make(chan struct{})
		go func() {
			got, err = collect(t, Batch(ctx, Inputs(in...), batchOpts(g, 4)))
			close(done)
		}()
		synctest.Wait()
		cancel()
		<-done
		if !errors.Is(err, context.Canceled) {
			t.Errorf("final error %v, want context.Canceled", err)
		}
		if !slices.Equal(got, in[:1]) {
			t.Errorf("yielded %q, want only the first", got)
		}
		synctest.Wait()
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.running != 0 {
			t.Errorf("%d checks still running", g.running)
		}
	})
}

// Breaking out of the loop stops the workers and the producer: no check is
// left running, none starts later, and no goroutine is left behind.
func TestBatchBreak(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		in := domains(100)
		g := &gate{release: map[string]chan struct{}{}}
		for _, d := range in[3:] {
			g.release[d] = make(chan struct{}) // hang until cancelled
		}
		var got []string
		for r, err := range Batch(t.Context(), Inputs(in...), batchOpts(g, 4)) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, r.Domain)
			if len(got) == 2 {
				break
			}
		}
		started := len(g.Calls())
		synctest.Wait()
		g.mu.Lock()
		running := g.running
		g.mu.Unlock()
		if running != 0 {
			t.Errorf("%d checks still running after the break", running)
		}
		if n := len(g.Calls()); n != started {
			t.Errorf("%d checks started after the break", n-started)
		}
		if !slices.Equal(got, in[:2]) {
			t.Errorf("got %q", got)
		}
	})
}

// A break at the first result, with a long input and many workers, leaves
// no goroutine behind.
func TestBatchBreakNoLeak(t *testing.T) {
	g := &gate{}
	synctest.Test(t, func(t *testing.T) {
		for range Batch(t.Context(), Inputs(domains(1000)...), batchOpts(g, 16)) {
			break
		}
	}) // fails if a goroutine of the bubble is left blocked
}

// An input that is not a domain is a result with Error set, prefixed with
// where it came from; it is not checked. A nil report from the check is
// replaced by an error report; the input as typed is recorded.
func TestBatchInvalidAndContract(t *testing.T) {
	g := &gate{}
	in := func(yield func(BatchInput, error) bool) {
		_ = yield(BatchInput{Text: "Ok.Example."}, nil) &&
			yield(BatchInput{Text: "not a domain", Where: "list:2"}, nil) &&
			yield(BatchInput{Text: "nil.example"}, nil)
	}
	var reps []*Report
	for r, err := range Batch(context.Background(), in, batchOpts(g, 2)) {
		if err != nil {
			t.Fatal(err)
		}
		reps = append(reps, r.Report)
	}
	if len(reps) != 3 {
		t.Fatalf("%d results", len(reps))
	}
	if reps[0].Domain != "ok.example" || reps[0].Input != "Ok.Example." || reps[0].Error != "" {
		t.Errorf("first: %+v", reps[0])
	}
	if reps[1].Domain != "not a domain" || !strings.HasPrefix(reps[1].Error, "list:2: ") || !strings.Contains(reps[1].Error, "invalid domain name") ||
		reps[1].Schema != SchemaVersion || reps[1].Findings == nil || !reps[1].CheckedAt.Equal(batchNow) {
		t.Errorf("invalid: %+v", reps[1])
	}
	if reps[2].Domain != "nil.example" || !strings.Contains(reps[2].Error, "internal error") || reps[2].Findings == nil || reps[2].Schema != SchemaVersion {
		t.Errorf("nil report: %+v", reps[2])
	}
	if calls := g.Calls(); slices.Contains(calls, "not a domain") || len(calls) != 2 {
		t.Errorf("checked %q", calls)
	}
}

// An error from the input ends it: the inputs before it are yielded in
// order, then the error, once.
func TestBatchInputError(t *testing.T) {
	boom := errors.New("reading list: disk on fire")
	in := func(yield func(BatchInput, error) bool) {
		for _, d := range domains(5) {
			if !yield(BatchInput{Text: d}, nil) {
				return
			}
		}
		yield(BatchInput{}, boom)
	}
	got, err := collect(t, Batch(context.Background(), in, batchOpts(&gate{}, 3)))
	if !errors.Is(err, boom) || !slices.Equal(got, domains(5)) {
		t.Errorf("got %q, %v", got, err)
	}
	got, err = collect(t, Batch(context.Background(), Inputs(), batchOpts(&gate{}, 3)))
	if len(got) != 0 || err != nil {
		t.Errorf("empty input: %q, %v", got, err)
	}
}

// An input that is not a domain is recorded the same way whether it was
// checked alone (Run) or in a batch: clipped and with control characters
// escaped, so a hostile list cannot write a terminal escape into a report.
func TestBatchInvalidDomainAsRun(t *testing.T) {
	for _, text := range []string{
		"not a domain",
		"bad\x1b[31mred\x00.example",
		strings.Repeat("é", 200) + " x", // over 253 bytes, multi-byte
		"\xff\xfe not utf-8",
	} {
		in := func(yield func(BatchInput, error) bool) { yield(BatchInput{Text: text}, nil) }
		var got *Report
		for r, err := range Batch(context.Background(), in, batchOpts(&gate{}, 1)) {
			if err != nil {
				t.Fatal(err)
			}
			got = r.Report
		}
		want := Run(context.Background(), text, Options{})
		if got == nil || got.Domain != want.Domain || got.Error != want.Error {
			t.Errorf("%q: batch %+v, run %+v", text, got, want)
		}
		if strings.ContainsFunc(got.Domain, func(r rune) bool { return r < 0x20 || r == 0x7f }) || !utf8.ValidString(got.Domain) {
			t.Errorf("%q: domain %q keeps a control character or is not UTF-8", text, got.Domain)
		}
	}
}
