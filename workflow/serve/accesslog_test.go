package serve

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"
)

// The access log encodes its lines by hand; they must be the bytes
// encoding/json writes, for every string a client can send.
func TestAccessLogLineIsEncodingJSON(t *testing.T) {
	odd := []string{
		"", "plain", `quote " back \ slash`, "<script>&amp;</script>", "ctl \x00\x01\x1f\x7f \b\f\n\r\t",
		"bad utf8 \xff\xfe \xc3", "sep \u2028 \u2029 é 日本 😀", strings.Repeat("x", 300),
	}
	at := time.Date(2026, 12, 6, 19, 30, 1, 123456789, time.UTC)
	var es []AccessEntry
	for i, s := range odd {
		es = append(es, AccessEntry{
			Time: at.Add(time.Duration(i) * time.Nanosecond * 7), Remote: s, Proto: "HTTP/1.1", Host: s, SNI: s,
			Method: s, Path: s, Status: 200 + i, Bytes: int64(i) * 1000, UserAgent: s, Domain: s, PolicyID: s, Report: s, Reason: s,
			DurationMS: float64(i) * 0.137,
		})
	}
	es = append(es, AccessEntry{Time: at.Truncate(time.Second)}, AccessEntry{Time: at.In(time.FixedZone("x", 3600)), DurationMS: 1e-9},
		AccessEntry{DurationMS: 1e22}, AccessEntry{DurationMS: -3.5}, AccessEntry{DurationMS: 12345.678})
	for _, e := range es {
		checkLine(t, e)
	}
}

func checkLine(t *testing.T, e AccessEntry) {
	t.Helper()
	want, err := json.Marshal(e)
	got, ok := e.appendJSON(nil)
	if (err == nil) != ok {
		t.Fatalf("%+v: encoding/json error %v, appendJSON ok %v", e, err, ok)
	}
	if ok && !bytes.Equal(got, want) {
		t.Errorf("appendJSON:\n got %s\nwant %s", got, want)
	}
}

func FuzzAccessLogLine(f *testing.F) {
	f.Add("Mozilla/5.0", "/.well-known/mta-sts.txt", int64(0), 0.5)
	f.Add("a\xffb<\u2028>", "\x00", int64(-1), 1e-7)
	f.Fuzz(func(t *testing.T, s, p string, ns int64, d float64) {
		if math.IsNaN(d) || math.IsInf(d, 0) {
			return
		}
		checkLine(t, AccessEntry{
			Time: time.Unix(0, ns).UTC(), Remote: s, Host: p, SNI: s, Method: p, Path: p, UserAgent: s,
			Domain: p, Reason: s, Status: int(ns % 600), Bytes: ns, DurationMS: d,
		})
	})
}

// Concurrent requests' lines are written together, each whole, each once,
// and each before its Log returns.
func TestAccessLogGroupCommit(t *testing.T) {
	var buf syncBuffer
	cw := &countWrites{w: &buf}
	l := NewAccessLog(cw)
	const workers, per = 8, 100
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range per {
				ua := fmt.Sprintf("w%d-%d", w, i)
				l.Log(AccessEntry{Time: time.Now().UTC(), Status: 200, UserAgent: ua})
				if !strings.Contains(buf.String(), `"user_agent":"`+ua+`"`) {
					t.Errorf("line of %s not written when Log returned", ua)
					return
				}
			}
		})
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != workers*per {
		t.Fatalf("%d lines, want %d", len(lines), workers*per)
	}
	seen := map[string]bool{}
	for _, ln := range lines {
		var e AccessEntry
		if err := json.Unmarshal([]byte(ln), &e); err != nil {
			t.Fatalf("line %q: %v", ln, err)
		}
		if seen[e.UserAgent] {
			t.Fatalf("line of %s written twice", e.UserAgent)
		}
		seen[e.UserAgent] = true
	}
	t.Logf("%d lines in %d writes", len(lines), cw.n)
}

type countWrites struct {
	mu sync.Mutex
	w  *syncBuffer
	n  int
}

func (c *countWrites) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	return c.w.Write(p)
}

// A batched log writes every line once and whole, each goroutine's in the
// order it logged them; Close writes what is left, and a line logged after
// Close is still written.
func TestBatchedAccessLog(t *testing.T) {
	var buf syncBuffer
	l := NewBatchedAccessLog(&buf, time.Millisecond)
	const goroutines, lines = 8, 300
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range lines {
				l.Log(AccessEntry{Remote: fmt.Sprint(g), Bytes: int64(i), Status: 200})
			}
		})
	}
	wg.Wait()
	l.Close()
	l.Log(AccessEntry{Remote: "after close"})
	next := map[string]int64{}
	all := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	for _, line := range all[:len(all)-1] {
		var e AccessEntry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		if e.Bytes != next[e.Remote] {
			t.Fatalf("goroutine %s: line %d after %d", e.Remote, e.Bytes, next[e.Remote]-1)
		}
		next[e.Remote]++
	}
	for g := range goroutines {
		if n := next[fmt.Sprint(g)]; n != lines {
			t.Errorf("goroutine %d: %d lines written, want %d", g, n, lines)
		}
	}
	if !strings.Contains(all[len(all)-1], `"remote":"after close"`) {
		t.Errorf("last line %q, want the one logged after Close", all[len(all)-1])
	}
}

// stuckWriter's Write blocks until release is closed.
type stuckWriter struct {
	entered chan struct{}
	release chan struct{}
	mu      sync.Mutex
	n       int
}

func (w *stuckWriter) Write(p []byte) (int, error) {
	select {
	case w.entered <- struct{}{}:
	default:
	}
	<-w.release
	w.mu.Lock()
	w.n += strings.Count(string(p), "\n")
	w.mu.Unlock()
	return len(p), nil
}

// While its file is stuck, a batched log holds at most maxPendingLog bytes
// (and a line) and Log waits, rather than growing or dropping lines; once
// the file takes writes again every line is written.
func TestBatchedAccessLogIsBounded(t *testing.T) {
	w := &stuckWriter{entered: make(chan struct{}, 1), release: make(chan struct{})}
	l := NewBatchedAccessLog(w, 0)
	e := AccessEntry{UserAgent: strings.Repeat("u", 200), Status: 200}
	line, _ := e.appendJSON(nil)
	n := 3 * maxPendingLog / len(line)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range n {
			l.Log(e)
		}
	}()
	<-w.entered
	deadline := time.Now().Add(20 * time.Second)
	for {
		l.mu.Lock()
		waits, pending := l.waits, len(l.pend)
		l.mu.Unlock()
		if waits > 0 {
			if pending > maxPendingLog+len(line)+1 {
				t.Errorf("%d bytes pending while the file is stuck, want at most %d", pending, maxPendingLog+len(line)+1)
			}
			break
		}
		select {
		case <-done:
			t.Fatalf("%d lines logged without waiting while the file was stuck", n)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("Log never waited for the stuck file")
		}
		time.Sleep(time.Millisecond)
	}
	close(w.release)
	<-done
	l.Close()
	if w.n != n {
		t.Errorf("%d lines written, want %d", w.n, n)
	}
}
