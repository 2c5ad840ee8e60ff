package serve

import (
	"compress/gzip"
	"crypto/sha256"
	"io/fs"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// diskQuota bounds the bytes of the reports directory. The usage is
// found by walking the directory once, then kept up to date by the
// receiver: a report's bytes are reserved as they are written (so that
// concurrent reports cannot together pass the quota) and count as used
// once linked. While the quota is reached the directory is walked again
// at most once a minute (an operator may have removed reports), and the
// refusal is logged at most once a minute.
type diskQuota struct {
	root string
	max  int64
	log  *log.Logger

	mu               sync.Mutex
	scanned          bool
	used, pending    int64
	lastScan, logged time.Time
	// hit is set by a refusal since the last walk.
	hit bool
}

// incomingPrefix starts the names of reports being received (readers
// skip names starting with a dot).
const incomingPrefix = ".incoming-"

// quotaInterval is how often a full quota is looked at again and logged.
const quotaInterval = time.Minute

// refusalLocked logs (once a minute) and returns the refusal of a full
// quota; q.mu held.
func (q *diskQuota) refusalLocked() error {
	q.hit = true
	if t := now(); q.log != nil && t.Sub(q.logged) >= quotaInterval {
		q.logged = t
		q.log.Printf("reports directory %s holds %d bytes, its quota is %d: reports are refused (507 Insufficient Storage) until some are removed", q.root, q.used+q.pending, q.max)
	}
	return &receiveError{status: http.StatusInsufficientStorage, reason: "the reports directory is full; try again later"}
}

// room refuses a new report when the quota is reached.
func (q *diskQuota) room() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if t := now(); !q.scanned || (q.hit && t.Sub(q.lastScan) >= quotaInterval) {
		q.scanLocked(t)
	}
	if q.used+q.pending < q.max {
		return nil
	}
	return q.refusalLocked()
}

// staleIncoming is the age past which a temporary file of a report is
// a leftover (of a crash): a report in flight is far younger
// (ReportTimeout).
const staleIncoming = time.Hour

// scanLocked sums the sizes of the regular files under root, removing
// leftover temporary files; q.mu held.
func (q *diskQuota) scanLocked(t time.Time) {
	var used int64
	_ = filepath.WalkDir(q.root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		if strings.HasPrefix(d.Name(), incomingPrefix) && t.Sub(fi.ModTime()) > staleIncoming && os.Remove(path) == nil {
			return nil
		}
		used += fi.Size()
		return nil
	})
	// Temporary files of reports in flight are in the walk and in
	// pending: the walk counts them once, as used; keep pending apart.
	q.used, q.scanned, q.lastScan, q.hit = max(used-q.pending, 0), true, t, false
}

// reserve takes n more bytes for a report being written, or refuses.
func (q *diskQuota) reserve(n int64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.used+q.pending+n > q.max {
		return q.refusalLocked()
	}
	q.pending += n
	return nil
}

// commit turns n reserved bytes into used ones (a report stored).
func (q *diskQuota) commit(n int64) {
	q.mu.Lock()
	q.pending -= n
	q.used += n
	q.mu.Unlock()
}

// release gives back n reserved bytes (a report not stored).
func (q *diskQuota) release(n int64) {
	q.mu.Lock()
	q.pending -= n
	q.mu.Unlock()
}

// quotaWriter writes to w what the quota allows.
type quotaWriter struct {
	q *diskQuota
	w *os.File
	n int64 // reserved and written
}

func (w *quotaWriter) Write(p []byte) (int, error) {
	if err := w.q.reserve(int64(len(p))); err != nil {
		return 0, err
	}
	n, err := w.w.Write(p)
	w.n += int64(len(p))
	return n, err
}

// stage opens a report's temporary file in root/domain (the directory
// its name will be linked in is not known before the report is read).
func (q *diskQuota) stage(root, domain string) (*stagedReport, error) {
	dir := filepath.Join(root, domain)
	if err := os.MkdirAll(dir, reportDirMode); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, incomingPrefix+"*"+reportExt)
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(reportFileMode); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	cw := &quotaWriter{q: q, w: f}
	zw, _ := gzip.NewWriterLevel(cw, gzip.DefaultCompression)
	return &stagedReport{q: q, f: f, cw: cw, zw: zw, hash: sha256.New()}, nil
}
