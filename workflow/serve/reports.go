package serve

import (
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"log"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/stspilot/stspilot/checks/tlsrpt"
	"github.com/stspilot/stspilot/internal/atomicfile"
	"github.com/stspilot/stspilot/internal/domainname"
)

// ReportsDir is the directory under the state directory where received
// TLS-RPT reports are stored: STATE/reports/DOMAIN/ORG/REPORTID.json.gz.
// `stspilot reports` and the evidence gate read it recursively.
const ReportsDir = "reports"

// Modes of stored reports: serve's user writes them, its group (stspilot,
// docs/serve.md) reads them, so the operator's `stspilot reports` and
// evidence gate can; others nothing.
const (
	reportDirMode  = 0o750
	reportFileMode = 0o640
)

// reportExt is the stored reports' extension: gzip of the report's JSON
// as it was received (decompressed, then compressed again).
const reportExt = ".json.gz"

// Default bounds of the receiver.
const (
	// DefaultMaxReportBody caps the request body as sent (compressed or not).
	DefaultMaxReportBody = 4 << 20
	// DefaultMaxReportJSON caps the JSON after decompression: a gzip bomb
	// is cut off here, as it is read (nothing holds the JSON whole).
	DefaultMaxReportJSON = 16 << 20
	// DefaultMaxReportsInFlight caps the reports processed at once, over
	// all clients; one more is answered 503 at once, not queued.
	DefaultMaxReportsInFlight = 4
	// DefaultReportsQuota caps the bytes of the reports directory (the
	// stored, compressed reports); past it POSTs are answered 507.
	DefaultReportsQuota = 1 << 30
	// DefaultReportTimeout bounds one report's processing from its
	// arrival; a report not stored by then is not stored at all.
	DefaultReportTimeout = 20 * time.Second
	// maxReportString caps one JSON string of a report (a name, an id,
	// a policy line): none is legitimately near it, and the parser holds
	// a string whole.
	maxReportString = 256 << 10
	// reportRetryAfter is the Retry-After of a 503 (receiver busy), in
	// seconds.
	reportRetryAfter = "30"
)

// ReportMeta is what the receiver needs of a validated report.
type ReportMeta struct {
	// Org is the organization-name, ReportID the report-id (RPT-JSON-2).
	Org, ReportID string
	// Domains are the policy-domain of each policies[] entry (RPT-JSON-6),
	// "" for an entry without one.
	Domains []string
}

// ReportValidator parses a report's JSON, read from r (at most limit
// bytes), and says whether it is a TLS-RPT report; the receiver stores
// nothing it rejects. It must read r to the end of the report's JSON.
type ReportValidator func(r io.Reader, limit int64) (ReportMeta, error)

// Receiver takes TLS-RPT reports over HTTPS (RPT-DEL-8): POST with
// Content-Type application/tlsrpt+gzip or application/tlsrpt+json, on the
// host mta-sts.DOMAIN of a served DOMAIN, about that domain.
//
// Its bounds hold across requests: at most MaxInFlight reports are read
// at once (one more is answered 503 with Retry-After, at once), each is
// decompressed and parsed as it arrives and never held whole (MaxJSON
// bytes decoded at most, no JSON string over 256 KiB, runs of blanks
// between tokens never buffered), stored gzip-compressed, and the
// reports directory holds at most Quota bytes (507 past it).
type Receiver struct {
	StateDir string
	// Dir is the reports directory ("" = StateDir/reports).
	Dir string
	// Validate checks the decompressed JSON (required).
	Validate ReportValidator
	// MaxBody and MaxJSON cap the body and the decompressed JSON
	// (defaults DefaultMaxReportBody, DefaultMaxReportJSON).
	MaxBody, MaxJSON int64
	// MaxInFlight caps the reports processed at once (default
	// DefaultMaxReportsInFlight).
	MaxInFlight int
	// Quota caps the bytes under Dir (default DefaultReportsQuota).
	Quota int64
	// ErrorLog is told, at most once a minute, that the quota is reached
	// (nil: not told).
	ErrorLog *log.Logger

	initOnce sync.Once
	slots    chan struct{}
	disk     *diskQuota
}

// receiveError is a refusal with its status and a reason for the client.
type receiveError struct {
	status int
	reason string
	// retryAfter, when set, is the Retry-After header (seconds).
	retryAfter string
}

func (e *receiveError) Error() string { return e.reason }

func refuse(status int, format string, a ...any) error {
	return &receiveError{status: status, reason: fmt.Sprintf(format, a...)}
}

func (rc *Receiver) init() {
	rc.initOnce.Do(func() {
		n := rc.MaxInFlight
		if n <= 0 {
			n = DefaultMaxReportsInFlight
		}
		rc.slots = make(chan struct{}, n)
		q := rc.Quota
		if q <= 0 {
			q = DefaultReportsQuota
		}
		rc.disk = &diskQuota{root: rc.root(), max: q, log: rc.ErrorLog}
	})
}

func (rc *Receiver) root() string {
	if rc.Dir != "" {
		return rc.Dir
	}
	return filepath.Join(rc.StateDir, ReportsDir)
}

func (rc *Receiver) limits() (maxBody, maxJSON int64) {
	maxBody, maxJSON = rc.MaxBody, rc.MaxJSON
	if maxBody <= 0 {
		maxBody = DefaultMaxReportBody
	}
	if maxJSON <= 0 {
		maxJSON = DefaultMaxReportJSON
	}
	return maxBody, maxJSON
}

// Receive reads, validates and stores one report POSTed for domain (the
// D of the Host mta-sts.D, a served domain, normalised); it returns the
// stored path relative to the reports directory's parent
// (reports/DOMAIN/ORG/NAME) and whether it was new (a report already
// stored with the same content is a success, not a new file). It stores
// nothing once r's context is done: a client gone, or the deadline of
// the report passed.
func (rc *Receiver) Receive(r *http.Request, domain string) (rel string, created bool, err error) {
	rc.init()
	maxBody, maxJSON := rc.limits()
	mt, _, perr := mime.ParseMediaType(r.Header.Get("Content-Type"))
	gz := false
	switch {
	case perr != nil:
		return "", false, refuse(http.StatusUnsupportedMediaType, "Content-Type must be application/tlsrpt+gzip or application/tlsrpt+json (RFC 8460 section 5.4)")
	case mt == "application/tlsrpt+gzip":
		gz = true
	case mt == "application/tlsrpt+json":
	default:
		return "", false, refuse(http.StatusUnsupportedMediaType, "Content-Type %q is not application/tlsrpt+gzip or application/tlsrpt+json (RFC 8460 section 5.4)", clip(mt, 100))
	}
	if r.ContentLength > maxBody {
		return "", false, refuse(http.StatusRequestEntityTooLarge, "body of %d bytes is over the limit of %d", r.ContentLength, maxBody)
	}
	if rc.Validate == nil {
		return "", false, refuse(http.StatusInternalServerError, "no report parser configured")
	}
	// A slot, or 503 at once: reports never queue (and policy fetches
	// never touch this).
	select {
	case rc.slots <- struct{}{}:
		defer func() { <-rc.slots }()
	default:
		return "", false, &receiveError{status: http.StatusServiceUnavailable, reason: "too many reports in progress; try again later", retryAfter: reportRetryAfter}
	}
	if err := rc.disk.room(); err != nil {
		return "", false, err
	}
	return rc.receive(r.Context(), r.Body, gz, domain, maxBody, maxJSON)
}

// receive streams body into the parser and, at once, into a compressed
// temporary file, then links that file under its name.
func (rc *Receiver) receive(ctx context.Context, body io.Reader, gz bool, domain string, maxBody, maxJSON int64) (string, bool, error) {
	raw := &ctxReader{ctx: ctx, r: &capReader{r: body, max: maxBody}}
	var src io.Reader = raw
	if gz {
		br := bufio.NewReader(raw)
		if head, _ := br.Peek(2); len(head) < 2 || head[0] != 0x1f || head[1] != 0x8b {
			if err := raw.failure(maxBody, false); err != nil {
				return "", false, err
			}
			return "", false, refuse(http.StatusBadRequest, "application/tlsrpt+gzip body does not start with the gzip magic bytes 1f 8b (RFC 8460 section 6.5)")
		}
		zr, err := gzip.NewReader(br)
		if err != nil {
			if ferr := raw.failure(maxBody, false); ferr != nil {
				return "", false, ferr
			}
			return "", false, refuse(http.StatusBadRequest, "gzip: %v", err)
		}
		defer zr.Close()
		src = zr
	}
	decoded := &capReader{r: src, max: maxJSON}
	st, err := rc.disk.stage(rc.root(), domain)
	if err != nil {
		return "", false, err
	}
	defer st.discard()
	guard := &jsonGuard{r: io.TeeReader(decoded, st), maxString: maxReportString}
	meta, verr := rc.Validate(guard, maxJSON)
	if verr == nil {
		// The rest (blanks after the report) is part of the body: hashed
		// and stored, within the caps.
		_, verr = io.Copy(io.Discard, io.TeeReader(decoded, st))
	}
	// Why reading stopped, most telling first.
	if err := raw.failure(maxBody, true); err != nil {
		return "", false, err
	}
	switch {
	case decoded.over:
		what := "report over %d bytes"
		if gz {
			what = "report over %d bytes once decompressed"
		}
		return "", false, refuse(http.StatusRequestEntityTooLarge, what, maxJSON)
	case st.err != nil:
		return "", false, st.err
	case guard.err != nil:
		return "", false, refuse(http.StatusRequestEntityTooLarge, "%v", guard.err)
	case gz && decoded.err != nil:
		if errors.Is(decoded.err, io.ErrUnexpectedEOF) {
			return "", false, refuse(http.StatusBadRequest, "gzip: truncated stream")
		}
		return "", false, refuse(http.StatusBadRequest, "gzip: %v", decoded.err)
	case verr != nil:
		return "", false, refuse(http.StatusBadRequest, "not a TLS-RPT report: %s", clip(verr.Error(), 300))
	}
	if err := checkDomains(meta.Domains, domain); err != nil {
		return "", false, err
	}
	if err := st.finish(); err != nil {
		return "", false, err
	}
	if err := ctx.Err(); err != nil {
		return "", false, refuseCtx(ctx)
	}
	return rc.store(ctx, meta, domain, st)
}

// refuseCtx is the answer to a request whose context ended: its client
// is gone or its deadline passed; nothing was stored.
func refuseCtx(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &receiveError{status: http.StatusServiceUnavailable, reason: "the report took too long to arrive and be read; nothing was stored", retryAfter: reportRetryAfter}
	}
	return &receiveError{status: http.StatusServiceUnavailable, reason: "the request was cancelled; nothing was stored", retryAfter: reportRetryAfter}
}

// checkDomains refuses a report that is not about domain: every
// policies[] entry must name domain or a subdomain of it as its
// policy-domain.
func checkDomains(domains []string, domain string) error {
	if len(domains) == 0 {
		return refuse(http.StatusForbidden, "the report names no policy-domain; this receiver takes reports about %s only", domain)
	}
	for _, d := range domains {
		n, err := domainname.Normalize(d)
		if err != nil || (n != domain && !strings.HasSuffix(n, "."+domain)) {
			return refuse(http.StatusForbidden, "the report is about %q; this receiver takes reports about %s (and its subdomains) only", clip(d, 100), domain)
		}
	}
	return nil
}

// store links the staged report under REPORTS/DOMAIN/ORG/, never
// overwriting or losing a stored report: the first content of a report-id
// is REPORTID.json.gz, other contents of the same id go beside it as
// REPORTID-HASH.json.gz, HASH being of the decompressed report (RPT-DEL-10:
// the body is authoritative, two different bodies are two copies, and
// the reports reader decides which one counts). Each name is created
// atomically and only when absent (a link fails when the name is taken),
// so concurrent POSTs cannot clobber each other; a content already stored
// under one of its names is answered as stored (created false). A name
// that cannot be compared (unreadable) is an error, never taken for
// absent.
func (rc *Receiver) store(ctx context.Context, meta ReportMeta, domain string, st *stagedReport) (string, bool, error) {
	org := safeName(meta.Org)
	id := safeName(meta.ReportID)
	root := rc.root()
	dir := filepath.Join(root, domain, org)
	if err := os.MkdirAll(dir, reportDirMode); err != nil {
		return "", false, err
	}
	h := st.sum()
	// The short hash is the usual second name; the full one is there in
	// case two bodies share the short one.
	for _, name := range []string{id + reportExt, id + "-" + h[:12] + reportExt, id + "-" + h + reportExt} {
		path := filepath.Join(dir, name)
		rel := filepath.Join(filepath.Base(root), domain, org, name)
		for try := 0; try < 2; try++ {
			same, exists, err := sameReport(path, h, rc.MaxJSON)
			if err != nil {
				return "", false, err
			}
			if same {
				return rel, false, nil
			}
			if exists {
				break // other content: the next name
			}
			if ctx.Err() != nil {
				return "", false, refuseCtx(ctx)
			}
			err = st.link(path)
			if err == nil {
				return rel, true, nil
			}
			if !errors.Is(err, fs.ErrExist) {
				return "", false, err
			}
			// Another request created it meanwhile: compare again.
		}
	}
	return "", false, fmt.Errorf("report %s/%s/%s: every name for this content holds another", domain, org, id)
}

// sameReport says whether path holds a report whose decompressed content
// hashes to sum (same) and whether anything is there at all (exists).
// Only "no such file" is absence; every other error is returned.
func sameReport(path, sum string, maxJSON int64) (same, exists bool, err error) {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, false, nil
	}
	if err != nil {
		return false, false, err
	}
	if !fi.Mode().IsRegular() {
		return false, true, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return false, true, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		return false, true, nil // not ours: other content
	}
	if maxJSON <= 0 {
		maxJSON = DefaultMaxReportJSON
	}
	hh := sha256.New()
	n, err := io.Copy(hh, io.LimitReader(zr, maxJSON+1))
	if err != nil || n > maxJSON {
		return false, true, nil
	}
	return hex.EncodeToString(hh.Sum(nil)) == sum, true, nil
}

// stagedReport is a report on its way to the reports directory: its
// decompressed bytes are hashed and gzip-compressed into a temporary file
// (counted against the quota) as the parser reads them.
type stagedReport struct {
	q    *diskQuota
	f    *os.File
	cw   *quotaWriter
	zw   *gzip.Writer
	hash hash.Hash
	// err is the first failure to write (quota or disk).
	err  error
	done bool
}

func (s *stagedReport) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	s.hash.Write(p)
	if _, err := s.zw.Write(p); err != nil {
		s.err = s.writeErr(err)
		return 0, s.err
	}
	return len(p), nil
}

func (s *stagedReport) writeErr(err error) error {
	var re *receiveError
	if errors.As(err, &re) {
		return re
	}
	return fmt.Errorf("writing a report: %w", err)
}

// finish flushes and fsyncs the temporary file.
func (s *stagedReport) finish() error {
	if s.err != nil {
		return s.err
	}
	err := s.zw.Close()
	if err == nil {
		err = s.f.Sync()
	}
	if err != nil {
		s.err = s.writeErr(err)
	}
	return s.err
}

func (s *stagedReport) sum() string { return hex.EncodeToString(s.hash.Sum(nil)) }

// link gives the temporary file the name path, failing with fs.ErrExist
// when path is taken; its bytes then count as stored.
func (s *stagedReport) link(path string) error {
	err := os.Link(s.f.Name(), path)
	if err != nil {
		var le *os.LinkError
		if errors.Is(err, fs.ErrExist) || !errors.As(err, &le) {
			return err
		}
		// No hard links here (EPERM, ENOTSUP, EXDEV...): copy with O_EXCL.
		if err := s.copyExcl(path); err != nil {
			return err
		}
	}
	s.done = true
	s.q.commit(s.cw.n)
	if err := atomicfile.SyncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("%s written, but syncing its directory failed: %w", path, err)
	}
	return nil
}

func (s *stagedReport) copyExcl(path string) error {
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, reportFileMode)
	if err != nil {
		return err
	}
	if _, err = s.f.Seek(0, io.SeekStart); err == nil {
		_, err = io.Copy(out, s.f)
	}
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path) // never a partial file under the final name
	}
	return err
}

// discard removes the temporary file; what was not linked no longer
// counts against the quota.
func (s *stagedReport) discard() {
	s.f.Close()
	os.Remove(s.f.Name())
	if !s.done {
		s.q.release(s.cw.n)
	}
}

// capReader reads at most max bytes of r; more is an error (over).
type capReader struct {
	r    io.Reader
	max  int64
	n    int64
	over bool
	err  error // r's error other than io.EOF
}

var errCapped = errors.New("over the size limit")

func (c *capReader) Read(p []byte) (int, error) {
	if c.over {
		return 0, errCapped
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.n > c.max {
		c.over = true
		n -= int(c.n - c.max)
		if n < 0 {
			n = 0
		}
		return n, errCapped
	}
	if err != nil && err != io.EOF && c.err == nil {
		c.err = err
	}
	return n, err
}

// ctxReader reads r until ctx ends.
type ctxReader struct {
	ctx context.Context
	r   *capReader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// failure is the refusal due to the body as sent, if any: over its cap,
// a context ended, or (when all) a failure to read it.
func (c *ctxReader) failure(maxBody int64, all bool) error {
	var mbe *http.MaxBytesError
	switch {
	case c.r.over || errors.As(c.r.err, &mbe):
		return refuse(http.StatusRequestEntityTooLarge, "body over the limit of %d bytes", maxBody)
	case c.ctx.Err() != nil:
		return refuseCtx(c.ctx)
	case all && c.r.err != nil:
		return refuse(http.StatusBadRequest, "reading the body: %v", c.r.err)
	}
	return nil
}

// jsonGuard is what the parser reads: r with each run of blanks between
// JSON tokens folded to one blank (the decoder would otherwise buffer the
// whole run: padding costs no memory), and any JSON string over maxString
// bytes refused.
type jsonGuard struct {
	r         io.Reader
	maxString int
	lex       tlsrpt.JSONLexer
	strLen    int
	blank     bool // the last byte passed on was a blank outside strings
	err       error
}

func (g *jsonGuard) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	for {
		n, err := g.r.Read(p)
		m := 0
		for _, c := range p[:n] {
			if g.lex.InString(c) {
				g.strLen++
				if g.strLen > g.maxString {
					g.err = fmt.Errorf("a JSON string over %d bytes", g.maxString)
					return m, g.err
				}
				p[m] = c
				m++
				continue
			}
			if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
				if g.blank {
					continue
				}
				g.blank = true
				p[m] = ' '
				m++
				continue
			}
			g.blank = false
			if c == '"' { // it opened a string
				g.strLen = 0
			}
			p[m] = c
			m++
		}
		if m > 0 || err != nil || n == 0 {
			return m, err
		}
	}
}

// Validate is the receiver's default check: checks/tlsrpt's streaming
// report parser (RPT-JSON-1..13), the one `stspilot reports` and the
// evidence gate use, so that what the receiver stores is what they can
// read.
func Validate(r io.Reader, limit int64) (ReportMeta, error) {
	rep, err := tlsrpt.ParseReport(r, limit)
	if err != nil {
		return ReportMeta{}, err
	}
	m := ReportMeta{Org: rep.OrganizationName, ReportID: rep.ReportID}
	for _, p := range rep.Policies {
		m.Domains = append(m.Domains, p.Policy.Domain)
	}
	return m, nil
}

// safeName maps s to a file name of letters, digits, '-', '_' and '.',
// not starting with a dot, at most 100 bytes; "" becomes "unknown".
func safeName(s string) string {
	var b strings.Builder
	for _, c := range s {
		if b.Len() >= 100 {
			break
		}
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
			b.WriteRune(c)
		default:
			b.WriteByte('_')
		}
	}
	out := strings.TrimLeft(b.String(), ".")
	if out == "" {
		return "unknown"
	}
	return out
}
