package serve

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// readStored returns the decompressed content of a stored report.
func readStored(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}

// storedFiles lists the regular files under dir (none when it is absent).
func storedFiles(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// storeBytes stores data as a report of domain, as Receive does once the
// report is read.
func storeBytes(rc *Receiver, m ReportMeta, domain string, data []byte) (string, bool, error) {
	rc.init()
	st, err := rc.disk.stage(rc.root(), domain)
	if err != nil {
		return "", false, err
	}
	defer st.discard()
	if _, err := st.Write(data); err != nil {
		return "", false, err
	}
	if err := st.finish(); err != nil {
		return "", false, err
	}
	return rc.store(context.Background(), m, domain, st)
}

// boundsHandler serves a.test (and b.test) with rc as receiver.
func boundsHandler(t *testing.T, rc *Receiver) (*Handler, string) {
	t.Helper()
	state := t.TempDir()
	publish(t, state, "a.test", []byte(policyA))
	publish(t, state, "b.test", []byte(policyA))
	rc.StateDir = state
	if rc.Validate == nil {
		rc.Validate = Validate
	}
	return &Handler{Policies: NewPolicies(state), Receiver: rc, RUAPath: "/tlsrpt", ReportTimeout: DefaultReportTimeout}, state
}

func postTo(h http.Handler, host, ctype string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "https://"+host+"/tlsrpt", bytes.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// Issue 14.2: reports are taken on mta-sts.D of a served D only, about D
// (or a subdomain of it), and stored under D.
func TestReceiveHostAndDomain(t *testing.T) {
	h, state := boundsHandler(t, &Receiver{})
	about := func(d string) []byte {
		return []byte(strings.Replace(sampleReport, `"policy-domain": "a.test"`, `"policy-domain": "`+d+`"`, 1))
	}
	for _, tc := range []struct {
		name, host string
		body       []byte
		want       int
	}{
		{"unknown host", "mta-sts.unknown.org", about("google.com"), 404},
		{"unserved domain's host", "mta-sts.c.test", sampleReport2(), 404},
		{"not an mta-sts host", "a.test", sampleReport2(), 404},
		{"bare mta-sts", "mta-sts.", sampleReport2(), 404},
		{"another domain's report", "mta-sts.a.test", about("google.com"), 403},
		{"a served neighbour's report", "mta-sts.a.test", about("b.test"), 403},
		{"a suffix that is no subdomain", "mta-sts.a.test", about("xa.test"), 403},
		{"no policy-domain", "mta-sts.a.test", []byte(strings.Replace(sampleReport, `"policy-domain": "a.test", `, "", 1)), 403},
	} {
		rec := postTo(h, tc.host, "application/tlsrpt+json", tc.body)
		if rec.Code != tc.want || strings.TrimSpace(rec.Body.String()) == "" {
			t.Errorf("%s: %d %q, want %d with a reason", tc.name, rec.Code, rec.Body, tc.want)
		}
	}
	if files := storedFiles(t, filepath.Join(state, ReportsDir)); len(files) != 0 {
		t.Fatalf("refused reports were stored: %v", files)
	}
	for _, tc := range []struct{ host, domain, dir string }{
		{"MTA-STS.A.TEST:443", "a.test", "a.test"},
		{"mta-sts.a.test", "sub.a.test", "a.test"},
		{"mta-sts.b.test.", "B.TEST.", "b.test"},
	} {
		rec := postTo(h, tc.host, "application/tlsrpt+json", about(tc.domain))
		if rec.Code != http.StatusCreated {
			t.Errorf("%s about %s: %d %s", tc.host, tc.domain, rec.Code, rec.Body)
			continue
		}
		got := storedFiles(t, filepath.Join(state, ReportsDir, tc.dir))
		found := false
		for _, f := range got {
			if b, err := readStored(f); err == nil && string(b) == string(about(tc.domain)) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s about %s: not stored under %s: %v", tc.host, tc.domain, tc.dir, got)
		}
	}
}

func sampleReport2() []byte { return []byte(sampleReport) }

// A full receiver answers 503 with Retry-After at once; a slot freed is
// taken again. Policy fetches never wait for it.
func TestReceiveBusy(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 2)
	rc := &Receiver{MaxInFlight: 2, Validate: func(r io.Reader, limit int64) (ReportMeta, error) {
		entered <- struct{}{}
		<-release
		return Validate(r, limit)
	}}
	h, _ := boundsHandler(t, rc)
	var wg sync.WaitGroup
	codes := make(chan int, 2)
	for i := range 2 {
		body := strings.Replace(sampleReport, "5326", string(rune('1'+i))+"5326", 1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes <- postTo(h, "mta-sts.a.test", "application/tlsrpt+json", []byte(body)).Code
		}()
	}
	<-entered
	<-entered
	rec := postTo(h, "mta-sts.a.test", "application/tlsrpt+json", []byte(sampleReport))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Errorf("a third report while two are read: %d, Retry-After %q; want 503 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
	}
	get := httptest.NewRequest(http.MethodGet, "https://mta-sts.a.test/.well-known/mta-sts.txt", nil)
	grec := httptest.NewRecorder()
	h.ServeHTTP(grec, get)
	if grec.Code != http.StatusOK || grec.Body.String() != policyA {
		t.Errorf("policy fetch while the receiver is full: %d", grec.Code)
	}
	close(release)
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != http.StatusCreated {
			t.Errorf("a report holding a slot: %d, want 201", c)
		}
	}
	if rec := postTo(h, "mta-sts.a.test", "application/tlsrpt+json", []byte(sampleReport)); rec.Code != http.StatusCreated {
		t.Errorf("once the slots are free: %d %s", rec.Code, rec.Body)
	}
}

// Whitespace padding and long strings are refused by the caps as they
// are read; a padded report under the cap is stored whole, compressed.
func TestReceivePaddingBombs(t *testing.T) {
	h, state := boundsHandler(t, &Receiver{MaxJSON: 1 << 20})
	pad := func(where string, n int) []byte {
		s := sampleReport
		switch where {
		case "end":
			s += strings.Repeat(" ", n)
		case "between":
			s = strings.Replace(s, `"report-id"`, strings.Repeat("\n", n)+`"report-id"`, 1)
		case "string":
			s = strings.Replace(s, `"sts-reporting@company-x.example"`, `"sts-reporting@company-x.example`+strings.Repeat(" ", n)+`"`, 1)
		}
		return gz(t, []byte(s))
	}
	for _, where := range []string{"end", "between", "string"} {
		if rec := postTo(h, "mta-sts.a.test", "application/tlsrpt+gzip", pad(where, 2<<20)); rec.Code != http.StatusRequestEntityTooLarge {
			t.Errorf("2 MiB of padding %s: %d %s, want 413", where, rec.Code, rec.Body)
		}
	}
	// A string over 256 KiB, well under the 1 MiB cap.
	if rec := postTo(h, "mta-sts.a.test", "application/tlsrpt+gzip", pad("string", 300<<10)); rec.Code != http.StatusRequestEntityTooLarge || !strings.Contains(rec.Body.String(), "string") {
		t.Errorf("a 300 KiB string: %d %s, want 413 naming the string", rec.Code, rec.Body)
	}
	if files := storedFiles(t, filepath.Join(state, ReportsDir)); len(files) != 0 {
		t.Fatalf("refused reports were stored: %v", files)
	}
	// Under the caps (1 MiB decoded, 256 KiB a string): stored as sent.
	for i, where := range []string{"end", "between"} {
		body := pad(where, 900<<10+i)
		rec := postTo(h, "mta-sts.a.test", "application/tlsrpt+gzip", body)
		if rec.Code != http.StatusCreated {
			t.Fatalf("900 KiB of padding %s: %d %s", where, rec.Code, rec.Body)
		}
	}
	if rec := postTo(h, "mta-sts.a.test", "application/tlsrpt+gzip", pad("string", 200<<10)); rec.Code != http.StatusCreated {
		t.Fatalf("a 200 KiB string: %d %s", rec.Code, rec.Body)
	}
	var total int64
	for _, f := range storedFiles(t, filepath.Join(state, ReportsDir)) {
		fi, _ := os.Stat(f)
		total += fi.Size()
		if !strings.HasSuffix(f, ".json.gz") || strings.HasPrefix(filepath.Base(f), ".") {
			t.Errorf("stored as %s", f)
		}
	}
	if total > 64<<10 {
		t.Errorf("three padded reports take %d bytes on disk, want them compressed", total)
	}
}

// The quota: a report that would pass it is refused with 507 and not
// kept; the refusal is logged once; reports removed make room again.
func TestReceiveQuota(t *testing.T) {
	logBuf := &syncBuffer{}
	rc := &Receiver{Quota: 4 << 10}
	rc.ErrorLog = logger(logBuf)
	h, state := boundsHandler(t, rc)
	// Incompressible contact-info: about 3 KiB compressed each.
	noise := func(seed byte) []byte {
		b := make([]byte, 4<<10)
		x := uint32(seed) + 1
		for i := range b {
			x = x*1664525 + 1013904223
			b[i] = 'a' + byte(x>>24)%26
		}
		return []byte(strings.Replace(sampleReport, "sts-reporting@company-x.example", string(b), 1))
	}
	if rec := postTo(h, "mta-sts.a.test", "application/tlsrpt+json", noise(1)); rec.Code != http.StatusCreated {
		t.Fatalf("first report: %d %s", rec.Code, rec.Body)
	}
	for i := range 3 {
		if rec := postTo(h, "mta-sts.a.test", "application/tlsrpt+json", noise(byte(2+i))); rec.Code != http.StatusInsufficientStorage {
			t.Errorf("report %d past the quota: %d %s, want 507", i+2, rec.Code, rec.Body)
		}
	}
	files := storedFiles(t, filepath.Join(state, ReportsDir))
	var total int64
	for _, f := range files {
		fi, _ := os.Stat(f)
		total += fi.Size()
	}
	if len(files) != 1 || total > 4<<10 {
		t.Errorf("past the quota of 4 KiB: %d files, %d bytes: %v", len(files), total, files)
	}
	if n := strings.Count(logBuf.String(), "quota"); n != 1 {
		t.Errorf("the full quota was logged %d times, want once:\n%s", n, logBuf)
	}
	// The operator removes the report; a minute later there is room.
	os.Remove(files[0])
	defer setNow(now().Add(2 * quotaInterval))()
	if rec := postTo(h, "mta-sts.a.test", "application/tlsrpt+json", noise(9)); rec.Code != http.StatusCreated {
		t.Errorf("after the stored report was removed: %d %s", rec.Code, rec.Body)
	}
}

// A report whose client is gone or whose deadline passed before it was
// stored is not stored.
func TestReceiveContextEnded(t *testing.T) {
	for _, name := range []string{"client gone", "deadline"} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			rc := &Receiver{Validate: func(r io.Reader, limit int64) (ReportMeta, error) {
				m, err := Validate(r, limit)
				cancel() // the report is read, and then the context ends
				return m, err
			}}
			h, state := boundsHandler(t, rc)
			if name == "deadline" {
				rc.Validate = Validate
				h.ReportTimeout = 1 // a nanosecond: passed once the body is read
			}
			req := httptest.NewRequest(http.MethodPost, "https://mta-sts.a.test/tlsrpt", bytes.NewReader([]byte(sampleReport))).WithContext(ctx)
			req.Header.Set("Content-Type", "application/tlsrpt+json")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code < 500 || rec.Code == http.StatusInternalServerError {
				t.Errorf("%d %s, want 503", rec.Code, rec.Body)
			}
			if files := storedFiles(t, filepath.Join(state, ReportsDir)); len(files) != 0 {
				t.Errorf("stored after the context ended: %v", files)
			}
		})
	}
}

func logger(w io.Writer) *log.Logger { return log.New(w, "", 0) }

// setNow moves the receiver's clock to t until the returned func runs.
func setNow(t time.Time) func() {
	old := now
	now = func() time.Time { return t }
	return func() { now = old }
}

// guarded parses b through the receiver's jsonGuard (blank runs folded).
func guarded(b []byte) (ReportMeta, error) {
	return Validate(&jsonGuard{r: bytes.NewReader(b), maxString: len(b) + 1}, 0)
}

// Folding blank runs changes nothing the parser sees: the corpus reads
// the same through the guard, padded or not.
func TestJSONGuardKeepsReports(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "checks", "tlsrpt", "testdata", "reports", "*.json"))
	if len(files) < 3 {
		t.Fatalf("corpus: %v", files)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		want, werr := Validate(bytes.NewReader(b), 0)
		for _, in := range [][]byte{b, bytes.ReplaceAll(b, []byte("\n"), []byte("\n \t\n\r\n   "))} {
			got, gerr := guarded(in)
			if (werr == nil) != (gerr == nil) || fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s: through the guard %+v %v, directly %+v %v", f, got, gerr, want, werr)
			}
		}
	}
}

func FuzzJSONGuard(f *testing.F) {
	f.Add([]byte(sampleReport))
	f.Add([]byte(`{"a" :  "b  \"  c"  ,  "d":[1 ,  2]}`))
	f.Add([]byte("  \x1f\x8b"))
	f.Fuzz(func(t *testing.T, b []byte) {
		want, werr := Validate(bytes.NewReader(b), 0)
		got, gerr := guarded(b)
		if (werr == nil) != (gerr == nil) || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%q: through the guard %+v %v, directly %+v %v", b, got, gerr, want, werr)
		}
	})
}

// A temporary file left by a crash is removed when the directory is
// measured, and does not count; a recent one (a report in flight) stays.
func TestReceiveRemovesLeftovers(t *testing.T) {
	h, state := boundsHandler(t, &Receiver{})
	dir := filepath.Join(state, ReportsDir, "a.test")
	os.MkdirAll(dir, 0o750)
	old, recent := filepath.Join(dir, ".incoming-1.json.gz"), filepath.Join(dir, ".incoming-2.json.gz")
	os.WriteFile(old, []byte("x"), 0o640)
	os.WriteFile(recent, []byte("x"), 0o640)
	long := time.Now().Add(-2 * staleIncoming)
	os.Chtimes(old, long, long)
	if rec := postTo(h, "mta-sts.a.test", "application/tlsrpt+json", []byte(sampleReport)); rec.Code != http.StatusCreated {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if _, err := os.Stat(old); err == nil {
		t.Errorf("the leftover is still there")
	}
	if _, err := os.Stat(recent); err != nil {
		t.Errorf("a recent temporary file was removed: %v", err)
	}
}
