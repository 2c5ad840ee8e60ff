package serve

import (
	"io"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// AccessEntry is one line of the access log (JSON lines): which sender
// fetched which policy id, and what every other client got.
type AccessEntry struct {
	Time   time.Time `json:"time"`
	Remote string    `json:"remote"`
	Proto  string    `json:"proto"`
	Host   string    `json:"host"`
	SNI    string    `json:"sni,omitempty"`
	Method string    `json:"method"`
	Path   string    `json:"path"`
	Status int       `json:"status"`
	Bytes  int64     `json:"bytes"`
	// UserAgent identifies the sender's MTA-STS implementation
	// (STS-FETCH-14); clipped to 256 bytes.
	UserAgent string `json:"user_agent"`
	// Domain and PolicyID say which policy was served (policy fetches only).
	Domain   string `json:"domain,omitempty"`
	PolicyID string `json:"policy_id,omitempty"`
	// Report is the stored report's path relative to the state directory
	// (TLS-RPT POSTs only), Reason why a request was refused.
	Report     string  `json:"report,omitempty"`
	Reason     string  `json:"reason,omitempty"`
	DurationMS float64 `json:"duration_ms"`

	// counts is the served policy's fetch counter, reports its domain's
	// report counter (a report request): for the metrics, never logged.
	counts  *FetchCounts
	reports *ReportCounts
}

// AccessLog writes AccessEntry values as JSON lines; safe for concurrent use.
// A nil *AccessLog logs nothing.
//
// A line is on its writer when Log returns, as a sender's answer goes out
// after it: the tests read the log right after a fetch. Under
// load the lines of concurrent requests are written together (a group
// commit): while one Log writes, the others append their lines and the
// next writer takes them all in one write, so that a busy server makes far
// fewer write calls than requests, and none waits for more than the write
// in progress and its own. A line is encoded without reflection
// (appendJSON), the same bytes encoding/json writes.
//
// A batched log (NewBatchedAccessLog) takes the write off the requests'
// path altogether.
type AccessLog struct {
	w io.Writer

	mu   sync.Mutex // guards pend, seq and the batched log's fields
	pend []byte     // lines not yet written
	seq  uint64     // lines appended to pend so far

	wmu   sync.Mutex // held while writing; guards done and spare
	done  uint64     // lines written (or dropped on a write error) so far
	spare []byte     // the last batch's buffer, for the next pend

	// The batched log's writer: wake tells it that pend has lines
	// (woken: told already), room that pend has room again.
	wake     chan struct{}
	woken    bool
	room     *sync.Cond
	delay    time.Duration
	closing  bool
	waits    int // times a Log waited for room (for tests)
	stop     chan struct{}
	finished chan struct{}
}

// NewAccessLog logs to w.
func NewAccessLog(w io.Writer) *AccessLog { return &AccessLog{w: w} }

// DefaultAccessLogDelay is how long serve's batched access log gathers
// lines before it writes them.
const DefaultAccessLogDelay = 2 * time.Millisecond

// maxPendingLog caps the lines a batched log holds unwritten; past it Log
// waits for the writer, so a stalled file slows requests down rather than
// growing the buffer or losing lines.
const maxPendingLog = 1 << 20

// NewBatchedAccessLog logs to w from a goroutine of its own: Log appends
// the line to a buffer and returns, and the writer writes what gathered
// within delay of the first line in one write. Requests never wait for the
// log's file, and a busy server makes a few hundred writes a second
// instead of one per request or two; a line reaches w at most about delay
// after its request. Close writes the rest and stops the writer.
func NewBatchedAccessLog(w io.Writer, delay time.Duration) *AccessLog {
	l := &AccessLog{w: w, wake: make(chan struct{}, 1), delay: delay, stop: make(chan struct{}), finished: make(chan struct{})}
	l.room = sync.NewCond(&l.mu)
	go l.writer()
	return l
}

// writer is the batched log's goroutine.
func (l *AccessLog) writer() {
	defer close(l.finished)
	for {
		select {
		case <-l.wake:
		case <-l.stop:
			l.writePending()
			return
		}
		// Let the lines of the requests in flight gather.
		t := time.NewTimer(l.delay)
		select {
		case <-t.C:
		case <-l.stop:
			t.Stop()
		}
		l.writePending()
	}
}

// writePending writes the batched log's pending lines.
func (l *AccessLog) writePending() {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.flush(true)
}

// flush takes every pending line and writes them in one write; the caller
// holds wmu. A batched log's flush also rearms the writer's wake-up and
// lets the requests waiting for room go on.
func (l *AccessLog) flush(batched bool) {
	l.mu.Lock()
	batch, n := l.pend, l.seq
	l.pend = l.spare[:0]
	if batched {
		l.woken = false
		l.room.Broadcast()
	}
	l.mu.Unlock()
	if len(batch) > 0 {
		_, _ = l.w.Write(batch)
	}
	l.done = n
	if cap(batch) <= maxSpareBatch {
		l.spare = batch
	} else {
		l.spare = nil
	}
}

// Close writes a batched log's pending lines and stops its writer; later
// lines are written as an unbatched log writes them. It does nothing to an
// unbatched log.
func (l *AccessLog) Close() {
	if l == nil || l.stop == nil {
		return
	}
	l.mu.Lock()
	closed := l.closing
	l.closing = true
	l.room.Broadcast()
	l.mu.Unlock()
	if !closed {
		close(l.stop)
	}
	<-l.finished
}

// maxSpareBatch caps the batch buffer kept between writes.
const maxSpareBatch = 256 << 10

var linePool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// Log writes e; write errors are dropped (the log must not stop serving).
func (l *AccessLog) Log(e AccessEntry) {
	if l == nil || l.w == nil {
		return
	}
	e.UserAgent = clip(e.UserAgent, 256)
	e.Host = clip(e.Host, 256)
	e.Path = clip(e.Path, 512)
	e.SNI = clip(e.SNI, 256)
	bp := linePool.Get().(*[]byte)
	b, ok := e.appendJSON((*bp)[:0])
	if !ok {
		linePool.Put(bp)
		return
	}
	b = append(b, '\n')
	l.mu.Lock()
	if l.wake != nil && !l.closing {
		for len(l.pend) >= maxPendingLog && !l.closing {
			l.waits++
			l.room.Wait()
		}
		if !l.closing {
			l.pend = append(l.pend, b...)
			l.seq++
			wake := !l.woken
			l.woken = true
			l.mu.Unlock()
			*bp = b
			linePool.Put(bp)
			if wake {
				l.wake <- struct{}{} // never blocks: one token per woken
			}
			return
		}
	}
	l.pend = append(l.pend, b...)
	l.seq++
	mine := l.seq
	l.mu.Unlock()
	*bp = b
	linePool.Put(bp)

	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.done >= mine {
		return // an earlier writer took this line along
	}
	l.flush(false)
}

// appendJSON appends e as encoding/json marshals it (HTML-safe escaping,
// invalid UTF-8 as U+FFFD, RFC 3339 time); ok is false when
// encoding/json would fail (a time outside years 0-9999, a non-finite
// duration).
func (e *AccessEntry) appendJSON(b []byte) ([]byte, bool) {
	if y := e.Time.Year(); y < 0 || y > 9999 || math.IsNaN(e.DurationMS) || math.IsInf(e.DurationMS, 0) {
		return b, false
	}
	b = append(b, `{"time":"`...)
	b = e.Time.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","remote":`...)
	b = appendJSONString(b, e.Remote)
	b = append(b, `,"proto":`...)
	b = appendJSONString(b, e.Proto)
	b = append(b, `,"host":`...)
	b = appendJSONString(b, e.Host)
	if e.SNI != "" {
		b = append(b, `,"sni":`...)
		b = appendJSONString(b, e.SNI)
	}
	b = append(b, `,"method":`...)
	b = appendJSONString(b, e.Method)
	b = append(b, `,"path":`...)
	b = appendJSONString(b, e.Path)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(e.Status), 10)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, e.Bytes, 10)
	b = append(b, `,"user_agent":`...)
	b = appendJSONString(b, e.UserAgent)
	for _, f := range [...]struct{ key, v string }{
		{`,"domain":`, e.Domain}, {`,"policy_id":`, e.PolicyID}, {`,"report":`, e.Report}, {`,"reason":`, e.Reason},
	} {
		if f.v != "" {
			b = append(b, f.key...)
			b = appendJSONString(b, f.v)
		}
	}
	b = append(b, `,"duration_ms":`...)
	b = appendJSONFloat(b, e.DurationMS)
	return append(b, '}'), true
}

const hexDigits = "0123456789abcdef"

// appendJSONString is encoding/json's string encoding with HTML escaping.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendJSONFloat is encoding/json's float64 encoding.
func appendJSONFloat(b []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 to e-9, as encoding/json writes it
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// clip cuts s to at most n bytes of valid UTF-8.
func clip(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
