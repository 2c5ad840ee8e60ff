package tlsrpt

import (
	"bufio"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// lineWrapper breaks base64 into 76-character lines (RFC 2045).
type lineWrapper struct {
	w   io.Writer
	col int
}

func (l *lineWrapper) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		k := min(len(p), 76-l.col)
		if _, err := l.w.Write(p[:k]); err != nil {
			return 0, err
		}
		p, l.col = p[k:], l.col+k
		if l.col == 76 {
			if _, err := io.WriteString(l.w, "\r\n"); err != nil {
				return 0, err
			}
			l.col = 0
		}
	}
	return n, nil
}

// writeReportJSON streams a report of org with details failure-details
// (sending-mta-ip cycling over distinct addresses, each entry counting 1
// failed session) to w.
func writeReportJSON(w io.Writer, org, id string, details, distinct int) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, `{"organization-name":%q,"report-id":%q,"date-range":{"start-datetime":"2026-11-28T00:00:00Z","end-datetime":"2026-11-28T23:59:59Z"},`, org, id)
	fmt.Fprintf(bw, `"policies":[{"policy":{"policy-type":"sts","policy-string":["version: STSv1","mode: testing","mx: mx1.a.test","max_age: 86400"],"policy-domain":"a.test"},`)
	fmt.Fprintf(bw, `"summary":{"total-successful-session-count":1,"total-failure-session-count":%d},"failure-details":[`, details)
	for i := range details {
		if i > 0 {
			bw.WriteByte(',')
		}
		k := i % distinct
		fmt.Fprintf(bw, `{"result-type":"certificate-expired","sending-mta-ip":"198.51.%d.%d","receiving-mx-hostname":"mx1.a.test","receiving-ip":"192.0.2.25","failed-session-count":1,"additional-information":"see https://a.test/tlsrpt/%d"}`, k/250, k%250, k)
	}
	bw.WriteString("]}]}")
	return bw.Flush()
}

// writeManyPartMessage streams to path a multipart/report message with
// parts application/tlsrpt+gzip parts (base64) of details entries each,
// never holding a part in memory. It returns the file's size.
func writeManyPartMessage(tb testing.TB, path string, parts, details, distinct int) int64 {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 64<<10)
	const boundary = "----=_Part_stspilot"
	fmt.Fprintf(bw, "From: noreply-smtp-tls-reporting@google.com\r\nTo: tlsrpt@a.test\r\nSubject: Report Domain: a.test\r\nMIME-Version: 1.0\r\n"+
		"Content-Type: multipart/report; report-type=\"tlsrpt\"; boundary=%q\r\n\r\n--%s\r\nContent-Type: text/plain\r\n\r\nReports.\r\n", boundary, boundary)
	for p := range parts {
		fmt.Fprintf(bw, "--%s\r\nContent-Type: application/tlsrpt+gzip; name=\"r%d.json.gz\"\r\nContent-Transfer-Encoding: base64\r\n\r\n", boundary, p)
		lw := &lineWrapper{w: bw}
		enc := base64.NewEncoder(base64.StdEncoding, lw)
		zw, _ := gzip.NewWriterLevel(enc, gzip.BestSpeed)
		if err := writeReportJSON(zw, "Google Inc.", fmt.Sprintf("part-%d", p), details, distinct); err != nil {
			tb.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			tb.Fatal(err)
		}
		enc.Close()
		bw.WriteString("\r\n")
	}
	fmt.Fprintf(bw, "--%s--\r\n", boundary)
	if err := bw.Flush(); err != nil {
		tb.Fatal(err)
	}
	fi, _ := f.Stat()
	return fi.Size()
}

// Issue 14.3: a message of many large report parts is read one part at a
// time, each report's failure details folded as they stream: the live
// heap stays flat (the old reader held every part decoded and parsed at
// once: about 35 MB a part here) and every report is counted in full.
func TestReadManyPartMessageFlatMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes and reads a 55 MB (decoded) message")
	}
	const parts, details = 20, 15000
	path := filepath.Join(t.TempDir(), "many.eml")
	size := writeManyPartMessage(t, path, parts, details, 300)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	stop := heapPeak()
	n := 0
	var failed int64
	// No message cap here: this is about memory while everything is read.
	err := readFileEach(path, Options{MaxMessage: 1 << 40}, func(r *Report) {
		n++
		failed += r.Failures()
		if len(r.Policies[0].FailureDetails) != 300 {
			t.Errorf("%d entries kept, want the 300 distinct ones", len(r.Policies[0].FailureDetails))
		}
	})
	peak := stop()
	if err != nil || n != parts || failed != parts*details {
		t.Fatalf("%d reports, %d failed sessions, %v", n, failed, err)
	}
	growth := int64(peak) - int64(base)
	t.Logf("%d KiB file, %d parts of %d details: live heap grew by %d KiB at most", size>>10, parts, details, growth>>10)
	if growth > 48<<20 {
		t.Errorf("live heap grew by %d MiB reading one message: parts are held, not streamed", growth>>20)
	}
}

// The decoded size of one message is bounded in all (Options.MaxMessage):
// past it the rest of the message is not read and the error says so.
func TestReadMessageBudget(t *testing.T) {
	path := filepath.Join(t.TempDir(), "many.eml")
	writeManyPartMessage(t, path, 10, 2000, 10) // ~450 KB decoded a part
	n := 0
	err := readFileEach(path, Options{MaxMessage: 1 << 20}, func(*Report) { n++ })
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "the rest of it is not read") || n == 0 || n > 3 {
		t.Fatalf("%d reports, %v", n, err)
	}
	if strings.Count(err.Error(), "part:") != 1 {
		t.Errorf("parts after the budget were read: %v", err)
	}
	// The default is generous enough for the whole of it.
	n = 0
	if err := readFileEach(path, Options{}, func(*Report) { n++ }); err != nil || n != 10 {
		t.Errorf("default cap: %d reports, %v", n, err)
	}
}

// Identical failure details fold into one entry with their counts added;
// past maxDetails distinct entries the rest fold under coarser keys,
// with a warning, and no session is lost.
func TestParseFoldsDetails(t *testing.T) {
	var b strings.Builder
	writeReportJSON(&b, "o", "r", 3000, 3000)
	r, err := Parse([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	det := r.Policies[0].FailureDetails
	if len(det) > foldLevels[len(foldLevels)-1]+1 || len(det) < maxDetails || r.Failures() != 3000 || !hasWarning(r, "distinct entries") {
		t.Fatalf("%d entries, %d failures, warnings %q", len(det), r.Failures(), r.Warnings)
	}
	if det[maxDetails].SendingMTAIP != OtherKey || det[maxDetails].ReceivingMXHostname != "mx1.a.test" || det[0].SendingMTAIP == OtherKey {
		t.Errorf("folding levels: %+v / %+v", det[0], det[maxDetails])
	}
	b.Reset()
	writeReportJSON(&b, "o", "r", 500, 7)
	r, err = Parse([]byte(b.String()))
	if err != nil || len(r.Policies[0].FailureDetails) != 7 || r.Failures() != 500 || hasWarning(r, "distinct entries") {
		t.Fatalf("identical entries: %v %+v", err, r)
	}
	// Folding is stable: a folded report parses back to itself.
	b.Reset()
	writeReportJSON(&b, "o", "r", 3000, 3000)
	r, _ = Parse([]byte(b.String()))
	again, err := Parse(mustMarshal(t, r))
	if err != nil || len(again.Policies[0].FailureDetails) != len(r.Policies[0].FailureDetails) || again.Failures() != 3000 {
		t.Errorf("re-parse: %v, %d entries", err, len(again.Policies[0].FailureDetails))
	}
}

// Unbounded arrays of a report are refused, not held.
func TestParseBounds(t *testing.T) {
	valid := `"organization-name":"o","report-id":"r","date-range":{"start-datetime":"2026-01-01T00:00:00Z","end-datetime":"2026-01-01T23:59:59Z"}`
	many := strings.Repeat(`{"policy":{"policy-type":"sts"}},`, maxPolicies) + `{"policy":{"policy-type":"sts"}}`
	lines := strings.Repeat(`"mx: a",`, maxPolicyLines) + `"mx: b"`
	for name, in := range map[string]string{
		"policies":      `{` + valid + `,"policies":[` + many + `]}`,
		"policy-string": `{` + valid + `,"policies":[{"policy":{"policy-type":"sts","policy-string":[` + lines + `]}}]}`,
	} {
		if _, err := Parse([]byte(in)); !errors.Is(err, ErrNotReport) || !strings.Contains(err.Error(), "more than") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// BenchmarkReadManyPartMessage reads a message of 10 parts of 50,000
// failure details each (~150 MB of JSON): MB/s of decoded JSON and the
// peak live heap, which stays flat however many parts and details.
func BenchmarkReadManyPartMessage(b *testing.B) {
	path := filepath.Join(b.TempDir(), "many.eml")
	writeManyPartMessage(b, path, 10, 50000, 100000)
	var decoded byteCounter
	writeReportJSON(&decoded, "Google Inc.", "part-0", 50000, 100000)
	b.SetBytes(10 * decoded.n)
	b.ReportAllocs()
	runtime.GC()
	stop := heapPeak()
	for range b.N {
		n := 0
		if err := readFileEach(path, Options{MaxMessage: 1 << 40}, func(*Report) { n++ }); err != nil || n != 10 {
			b.Fatalf("%d reports, %v", n, err)
		}
	}
	b.ReportMetric(float64(stop())/(1<<20), "peak-heap-MB")
}

// byteCounter counts what is written to it.
type byteCounter struct{ n int64 }

func (c *byteCounter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

func mustMarshal(t testing.TB, r *Report) []byte {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestJSONLexer: brackets, quotes and backslashes inside strings, escaped
// ones included, are string bytes; an opening quote is not, a closing one
// is.
func TestJSONLexer(t *testing.T) {
	in := `{"a\"{[\\":"}]"}[`
	// One mark a byte of in: s in a string, _ outside.
	want := "__ssssssss__sss__"
	if len(in) != len(want) {
		t.Fatalf("test input %q and marks %q differ in length", in, want)
	}
	var l JSONLexer
	got := make([]byte, len(in))
	for i := range len(in) {
		got[i] = '_'
		if l.InString(in[i]) {
			got[i] = 's'
		}
	}
	if string(got) != want {
		t.Errorf("InString over %s = %s, want %s", in, got, want)
	}
}
