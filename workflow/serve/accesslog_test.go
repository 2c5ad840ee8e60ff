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
