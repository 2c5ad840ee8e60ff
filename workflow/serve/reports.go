package serve

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/stspilot/stspilot/checks/tlsrpt"
	"github.com/stspilot/stspilot/internal/atomicfile"
)

// ReportsDir is the directory under the state directory where received
// TLS-RPT reports are stored: STATE/reports/ORG/REPORTID.json. `stspilot
// reports` and the evidence gate read it recursively.
const ReportsDir = "reports"

// Modes of stored reports: serve's user writes them, its group (stspilot,
// docs/serve.md) reads them, so the operator's `stspilot reports` and
// evidence gate can; others nothing.
const (
	reportDirMode  = 0o750
	reportFileMode = 0o640
)

// Default caps of a POSTed report.
const (
	// DefaultMaxReportBody caps the request body as sent (compressed or not).
	DefaultMaxReportBody = 4 << 20
	// DefaultMaxReportJSON caps the JSON after decompression: a gzip bomb
	// is cut off here, not in memory.
	DefaultMaxReportJSON = 32 << 20
)

// ReportMeta is what the receiver needs of a validated report.
type ReportMeta struct {
	// Org is the organization-name, ReportID the report-id (RPT-JSON-2).
	Org, ReportID string
}

// ReportValidator parses a report's JSON and says whether it is a TLS-RPT
// report; the receiver stores nothing it rejects.
type ReportValidator func(data []byte) (ReportMeta, error)

// Receiver takes TLS-RPT reports over HTTPS (RPT-DEL-8): POST with
// Content-Type application/tlsrpt+gzip or application/tlsrpt+json.
type Receiver struct {
	StateDir string
	// Dir is the reports directory ("" = StateDir/reports).
	Dir string
	// Validate checks the decompressed JSON (required).
	Validate ReportValidator
	// MaxBody and MaxJSON cap the body and the decompressed JSON
	// (defaults DefaultMaxReportBody, DefaultMaxReportJSON).
	MaxBody, MaxJSON int64
}

// receiveError is a refusal with its status and a reason for the client.
type receiveError struct {
	status int
	reason string
}

func (e *receiveError) Error() string { return e.reason }

func refuse(status int, format string, a ...any) error {
	return &receiveError{status: status, reason: fmt.Sprintf(format, a...)}
}

// Receive reads, validates and stores one report; it returns the stored
// path relative to the reports directory's parent (reports/ORG/NAME) and
// whether it was new (a report already stored with the same bytes is a
// success, not a new file).
func (rc *Receiver) Receive(r *http.Request) (rel string, created bool, err error) {
	maxBody, maxJSON := rc.MaxBody, rc.MaxJSON
	if maxBody <= 0 {
		maxBody = DefaultMaxReportBody
	}
	if maxJSON <= 0 {
		maxJSON = DefaultMaxReportJSON
	}
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
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return "", false, refuse(http.StatusRequestEntityTooLarge, "body over the limit of %d bytes", maxBody)
		}
		return "", false, refuse(http.StatusBadRequest, "reading the body: %v", err)
	}
	data := body
	if gz {
		if len(body) < 2 || body[0] != 0x1f || body[1] != 0x8b {
			return "", false, refuse(http.StatusBadRequest, "application/tlsrpt+gzip body does not start with the gzip magic bytes 1f 8b (RFC 8460 section 6.5)")
		}
		zr, zerr := gzip.NewReader(bytes.NewReader(body))
		if zerr != nil {
			return "", false, refuse(http.StatusBadRequest, "gzip: %v", zerr)
		}
		data, err = io.ReadAll(io.LimitReader(zr, maxJSON+1))
		if err != nil {
			return "", false, refuse(http.StatusBadRequest, "gzip: %v", err)
		}
		if int64(len(data)) > maxJSON {
			return "", false, refuse(http.StatusRequestEntityTooLarge, "report over %d bytes once decompressed", maxJSON)
		}
	} else if int64(len(data)) > maxJSON {
		return "", false, refuse(http.StatusRequestEntityTooLarge, "report over %d bytes", maxJSON)
	}
	if rc.Validate == nil {
		return "", false, refuse(http.StatusInternalServerError, "no report parser configured")
	}
	meta, err := rc.Validate(data)
	if err != nil {
		return "", false, refuse(http.StatusBadRequest, "not a TLS-RPT report: %s", clip(err.Error(), 300))
	}
	return rc.store(meta, data)
}

// store keeps data under STATE/reports/ORG/, never overwriting or losing
// a stored report: the first body of a report-id is REPORTID.json, other
// bodies of the same id go beside it as REPORTID-HASH.json (RPT-DEL-10:
// the body is authoritative, two different bodies are two copies, and
// the reports reader decides which one counts). Each name is created
// atomically and only when absent (atomicfile.WriteNew: link without
// replace), so concurrent POSTs cannot clobber each other; a body
// already stored under one of its names is answered as stored (created
// false). A name that cannot be compared (unreadable) is an error, never
// taken for absent.
func (rc *Receiver) store(meta ReportMeta, data []byte) (string, bool, error) {
	org := safeName(meta.Org)
	id := safeName(meta.ReportID)
	root := rc.Dir
	if root == "" {
		root = filepath.Join(rc.StateDir, ReportsDir)
	}
	dir := filepath.Join(root, org)
	if err := os.MkdirAll(dir, reportDirMode); err != nil {
		return "", false, err
	}
	sum := sha256.Sum256(data)
	h := hex.EncodeToString(sum[:])
	// The short hash is the usual second name; the full one is there in
	// case two bodies share the short one.
	for _, name := range []string{id + ".json", id + "-" + h[:12] + ".json", id + "-" + h + ".json"} {
		path := filepath.Join(dir, name)
		rel := filepath.Join(filepath.Base(root), org, name)
		for try := 0; try < 2; try++ {
			same, exists, err := sameContent(path, data)
			if err != nil {
				return "", false, err
			}
			if same {
				return rel, false, nil
			}
			if exists {
				break // other bytes: the next name
			}
			err = atomicfile.WriteNew(path, data, reportFileMode)
			if err == nil {
				return rel, true, nil
			}
			if !errors.Is(err, fs.ErrExist) {
				return "", false, err
			}
			// Another request created it meanwhile: compare again.
		}
	}
	return "", false, fmt.Errorf("report %s/%s: every name for this body holds other bytes", org, id)
}

// sameContent says whether path holds exactly data (same) and whether
// anything is there at all (exists). Only "no such file" is absence;
// every other error is returned.
func sameContent(path string, data []byte) (same, exists bool, err error) {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, false, nil
	}
	if err != nil {
		return false, false, err
	}
	if !fi.Mode().IsRegular() || fi.Size() != int64(len(data)) {
		return false, true, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return false, true, err
	}
	defer f.Close()
	old, err := io.ReadAll(io.LimitReader(f, int64(len(data))+1))
	if err != nil {
		return false, true, err
	}
	return bytes.Equal(old, data), true, nil
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

// Validate is the receiver's default check: checks/tlsrpt's report parser
// (RPT-JSON-1..13), the one `stspilot reports` and the evidence gate use,
// so that what the receiver stores is what they can read.
func Validate(data []byte) (ReportMeta, error) {
	r, err := tlsrpt.Parse(data)
	if err != nil {
		return ReportMeta{}, err
	}
	return ReportMeta{Org: r.OrganizationName, ReportID: r.ReportID}, nil
}
