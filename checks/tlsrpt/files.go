package tlsrpt

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/stspilot/stspilot/internal/envfile"
)

// Limits of reading files.
const (
	// DefaultMaxFile caps one file as stored (a .json.gz, an .eml with a
	// base64 report of up to ~10 MB, RPT-DEL-1).
	DefaultMaxFile = 32 << 20
	// maxMIMEDepth caps nested multiparts and forwarded messages.
	maxMIMEDepth = 8
	// maxMIMEParts caps the parts of one message.
	maxMIMEParts = 100
	// DefaultMaxMessage caps the decoded reports of one message, all
	// parts together: two reports at DefaultMaxReport (a real message
	// carries one report, RPT-DEL-3).
	DefaultMaxMessage = 2 * DefaultMaxReport
)

// ErrNoReport says a message or file holds no TLS-RPT report.
var ErrNoReport = errors.New("no TLS-RPT report in it")

// Options are the caps of reading report files.
type Options struct {
	// MaxFile caps a file as stored (<= 0: DefaultMaxFile).
	MaxFile int64
	// MaxReport caps one report's JSON after decompression (<= 0:
	// DefaultMaxReport): a gzip bomb stops there.
	MaxReport int64
	// MaxMessage caps the decoded JSON of all the reports of one mail
	// message together (<= 0: DefaultMaxMessage): a message of many
	// large parts stops there, with ErrTooLarge, and the rest of it is
	// not read.
	MaxMessage int64

	// Rank weighs a copy of a report for Walk when the stored copies of
	// one report (same organisation and report-id) differ: the copy with
	// the highest rank is the one handed on (nil: (*Report).Failures).
	// Callers rank by the failures they would count, so that a forged
	// copy can only add failures, never hide them.
	Rank func(*Report) int64
	// Conflict, when set, is told about each report whose copies differ,
	// just before Walk hands on the copy it chose.
	Conflict func(Conflict)
}

// Conflict is a report (one organisation and report-id) read in copies
// whose contents differ: a report re-sent with other numbers, or a forgery.
// Walk counts one copy, the one of the highest rank (Options.Rank; equal
// ranks: the same copy whatever the order of the files).
type Conflict struct {
	Organization string `json:"organization"`
	ReportID     string `json:"report_id"`
	// Copies is how many differing contents were read (at most 100).
	Copies int `json:"copies"`
	// Path is the file of the copy counted; Rank its rank (failed
	// sessions, unless the caller ranks otherwise) and LowestRank the
	// rank of the copy with the fewest.
	Path       string `json:"path"`
	Rank       int64  `json:"rank"`
	LowestRank int64  `json:"lowest_rank"`
}

func (o Options) maxFile() int64 {
	if o.MaxFile <= 0 {
		return DefaultMaxFile
	}
	return o.MaxFile
}

// FileError is what went wrong with one file; it never stops the others.
type FileError struct {
	Path string
	Err  error
}

func (e *FileError) Error() string { return e.Path + ": " + e.Err.Error() }
func (e *FileError) Unwrap() error { return e.Err }

// Kind is how a file is read.
type Kind string

// File kinds.
const (
	KindJSON    Kind = "json"    // application/tlsrpt+json
	KindGzip    Kind = "gzip"    // application/tlsrpt+gzip
	KindMessage Kind = "message" // RFC 5322 message (.eml, a Maildir file)
	KindOther   Kind = ""        // none of these
)

// Sniff says how to read a file from its name and its first bytes: the
// gzip magic (RPT-DEL-12) or a .gz name is gzip; a .json name or a first
// non-blank '{' is JSON; a .eml name or a first line that is a header
// field is a message.
func Sniff(name string, head []byte) Kind {
	lower := strings.ToLower(name)
	switch {
	case len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b:
		return KindGzip
	case strings.HasSuffix(lower, ".gz"):
		return KindGzip
	case strings.HasSuffix(lower, ".json"):
		return KindJSON
	case strings.HasSuffix(lower, ".eml"):
		return KindMessage
	}
	t := bytes.TrimLeft(head, " \t\r\n\ufeff")
	t = bytes.TrimPrefix(t, []byte("\xef\xbb\xbf"))
	if len(t) > 0 && t[0] == '{' {
		return KindJSON
	}
	if looksLikeHeader(head) {
		return KindMessage
	}
	return KindOther
}

// isGzip: head starts with the gzip magic (RFC 1952, RPT-DEL-12).
func isGzip(head []byte) bool { return len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b }

// looksLikeHeader: the first line is "Name: value" with a field name of
// printable ASCII (RFC 5322 §2.2), or an mbox "From " line.
func looksLikeHeader(head []byte) bool {
	if bytes.HasPrefix(head, []byte("From ")) {
		return true
	}
	line, _, _ := bytes.Cut(head, []byte("\n"))
	name, _, ok := bytes.Cut(line, []byte(":"))
	if !ok || len(name) == 0 || len(name) > 76 {
		return false
	}
	for _, c := range name {
		if c < 33 || c > 126 {
			return false
		}
	}
	return true
}

// ReadFile reads the reports of one file: .json, .json.gz (or any gzip)
// or a message (.eml, a Maildir file). A file of none of these kinds
// fails with ErrNoReport; so does a message without a TLS-RPT part. A
// message may hold several reports; the ones that parse are returned
// with the error of the others. Walk does not collect them: it reads
// each report as its part is parsed.
func ReadFile(path string, opt Options) ([]*Report, error) {
	var out []*Report
	err := readFileEach(path, opt, func(r *Report) { out = append(out, r) })
	return out, err
}

// openReport opens a report file (openReportFile; tests count the opens).
var openReport = openReportFile

// openReportFile opens a report file with envfile.Open: a FIFO or a file
// swapped under the path is refused, never blocked on.
func openReportFile(path string) (*os.File, fs.FileInfo, error) {
	return envfile.Open(path, envfile.OpenOptions{})
}

// readFileEach is ReadFile handing each report to fn as it is parsed,
// holding one at a time.
func readFileEach(path string, opt Options, fn func(*Report)) error {
	f, st, err := openReport(path)
	if err != nil {
		var pe *fs.PathError
		switch {
		case errors.Is(err, envfile.ErrNotRegular):
			return errors.New("not a regular file")
		case errors.As(err, &pe) && pe.Op == "stat":
			return pe.Err // the look at the path: FileError names it
		}
		return err
	}
	defer f.Close()
	if st.Size() > opt.maxFile() {
		return fmt.Errorf("file of %d bytes is %w of %d bytes", st.Size(), ErrTooLarge, opt.maxFile())
	}
	br := bufio.NewReaderSize(io.LimitReader(f, opt.maxFile()+1), 4096)
	head, _ := br.Peek(512)
	kind := Sniff(path, head)
	if kind == KindGzip && !isGzip(head) {
		// Named .gz but not gzip: say so, rather than what parsing the
		// bytes as JSON would say.
		return fmt.Errorf("%w: not gzip (a .gz name, but the file does not start with the gzip bytes 1f 8b)", ErrNotReport)
	}
	switch kind {
	case KindGzip, KindJSON:
		r, err := ParseReport(br, opt.MaxReport)
		if err != nil {
			return err
		}
		fn(r)
		return nil
	case KindMessage:
		return parseMessageEach(br, opt, fn)
	}
	return fmt.Errorf("%w: neither JSON, gzip nor a mail message", ErrNoReport)
}

// ParseMessage reads the TLS-RPT reports of one mail message (RPT-DEL-3):
// a multipart/report (report-type=tlsrpt) whose application/tlsrpt+gzip
// or application/tlsrpt+json parts hold the reports, base64 or
// quoted-printable encoded. It also takes the report as the whole body,
// parts typed application/gzip, application/json or
// application/octet-stream with a .json or .gz file name, and forwarded
// messages (message/rfc822). r is read to its end; the caller caps it.
func ParseMessage(r io.Reader, opt Options) ([]*Report, error) {
	var out []*Report
	err := parseMessageEach(r, opt, func(rep *Report) { out = append(out, rep) })
	return out, err
}

// parseMessageEach is ParseMessage handing each report to fn as its part
// is parsed: one report at a time in memory, the parts' decoded JSON
// bounded by Options.MaxMessage in all.
func parseMessageEach(r io.Reader, opt Options, fn func(*Report)) error {
	msg, err := mail.ReadMessage(bufio.NewReader(r))
	if err != nil {
		return fmt.Errorf("mail message: %w", err)
	}
	maxMsg := opt.MaxMessage
	if maxMsg <= 0 {
		maxMsg = DefaultMaxMessage
	}
	w := &mimeWalk{opt: opt, fn: fn, budget: &messageBudget{left: maxMsg, max: maxMsg}}
	w.entity(textproto.MIMEHeader(msg.Header), msg.Body, 0)
	switch {
	case w.n == 0 && len(w.errs) == 0:
		return fmt.Errorf("%w: no application/tlsrpt+gzip or application/tlsrpt+json part", ErrNoReport)
	case len(w.errs) > 0:
		return errors.Join(w.errs...)
	}
	return nil
}

type mimeWalk struct {
	opt    Options
	fn     func(*Report)
	n      int // reports handed on
	errs   []error
	parts  int
	budget *messageBudget
}

func (w *mimeWalk) entity(h textproto.MIMEHeader, body io.Reader, depth int) {
	if w.budget.spent() {
		return // the message is over MaxMessage: read no further
	}
	if depth > maxMIMEDepth {
		w.errs = append(w.errs, fmt.Errorf("MIME parts nested deeper than %d", maxMIMEDepth))
		return
	}
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		mt = "text/plain" // RFC 2045 §5.2: the default
	}
	switch {
	case strings.HasPrefix(mt, "multipart/"):
		if params["boundary"] == "" {
			w.errs = append(w.errs, fmt.Errorf("%s without a boundary", mt))
			return
		}
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return
			}
			if err != nil {
				w.errs = append(w.errs, fmt.Errorf("MIME: %v", err))
				return
			}
			w.parts++
			if w.parts > maxMIMEParts {
				w.errs = append(w.errs, fmt.Errorf("more than %d MIME parts", maxMIMEParts))
				return
			}
			w.entity(p.Header, p, depth+1)
			if w.budget.spent() {
				return
			}
		}
	case mt == "message/rfc822":
		msg, err := mail.ReadMessage(bufio.NewReader(decodeCTE(h, body)))
		if err != nil {
			w.errs = append(w.errs, fmt.Errorf("forwarded message: %v", err))
			return
		}
		w.entity(textproto.MIMEHeader(msg.Header), msg.Body, depth+1)
	case isReportPart(mt, h, params):
		r, err := parseReport(decodeCTE(h, body), w.opt.MaxReport, w.budget)
		if err != nil {
			w.errs = append(w.errs, fmt.Errorf("%s part: %w", mt, err))
			return
		}
		w.n++
		w.fn(r)
	}
}

// isReportPart: a part typed application/tlsrpt+gzip or +json (RPT-DEL-3,
// RPT-DEL-12), or a generic type with a report's file name (RPT-DEL-2).
func isReportPart(mt string, h textproto.MIMEHeader, params map[string]string) bool {
	switch mt {
	case "application/tlsrpt+gzip", "application/tlsrpt+json":
		return true
	case "application/gzip", "application/x-gzip", "application/json", "application/octet-stream":
		name := params["name"]
		if _, dp, err := mime.ParseMediaType(h.Get("Content-Disposition")); err == nil && dp["filename"] != "" {
			name = dp["filename"]
		}
		name = strings.ToLower(name)
		return strings.HasSuffix(name, ".json") || strings.HasSuffix(name, ".gz")
	}
	return false
}

// decodeCTE undoes the part's Content-Transfer-Encoding.
func decodeCTE(h textproto.MIMEHeader, body io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding"))) {
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, &base64Filter{r: body})
	case "quoted-printable":
		return quotedprintable.NewReader(body)
	}
	return body
}

// base64Filter drops what base64.NewDecoder does not skip itself (spaces,
// tabs), so folded or indented base64 decodes.
type base64Filter struct{ r io.Reader }

func (f *base64Filter) Read(p []byte) (int, error) {
	for {
		n, err := f.r.Read(p)
		j := 0
		for _, c := range p[:n] {
			if c != ' ' && c != '\t' {
				p[j] = c
				j++
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}

// WalkStats counts what Walk saw.
type WalkStats struct {
	// Files were read as reports (JSON, gzip, messages).
	Files int `json:"files"`
	// Reports were handed to the callback (each once).
	Reports int `json:"reports"`
	// Duplicates are reports seen again (same organisation and report-id).
	Duplicates int `json:"duplicates"`
	// Skipped are files in directories that hold no report (other mail,
	// other files).
	Skipped int `json:"skipped"`
	// Conflicts are reports whose copies differ (see Conflict); each is
	// counted once, by its copy of the highest rank.
	Conflicts int `json:"conflicts"`
}

// maxDistinctCopies caps the differing contents Walk tells apart per report.
const maxDistinctCopies = 100

// walkHold caps the reports Walk holds between its passes, as the size
// of their JSON in all: within it, the chosen copies are handed on from
// memory and their files are not read again.
var walkHold = 8 << 20

// walkPick is, per report key, the copy Walk will hand on.
type walkPick struct {
	file, idx    int // files[file], report idx in it
	rank, lowest int64
	fp           [16]byte
	// seen are the differing contents read (nil while there is one).
	seen [][16]byte
	// r is the copy, held while it fits walkHold (nil: read it again);
	// size is its JSON's.
	r    *Report
	size int
}

// fingerprint identifies a report's content (its parsed form, so that
// the same report as JSON, gzip or mail is one content), and the size of
// that form.
func fingerprint(r *Report) ([16]byte, int) {
	b, err := json.Marshal(r)
	if err != nil {
		b = []byte(r.Key())
	}
	h := sha256.Sum256(b)
	var fp [16]byte
	copy(fp[:], h[:16])
	return fp, len(b)
}

func reportKey(r *Report) [16]byte {
	k := sha256.Sum256([]byte(r.Key()))
	var key [16]byte
	copy(key[:], k[:16])
	return key
}

// Walk reads the reports under paths: files, plain directories and
// Maildir folders (cur/ and new/; tmp/ holds deliveries in progress and
// is left alone), recursively, without following symbolic links to
// directories. It hands each report to fn once (RPT-DEL-5: one report per
// organisation and report-id; the others are counted as duplicates).
// When the copies of a report differ, the one of the highest
// Options.Rank (by default the most failed sessions) is handed on, the
// same one whatever the order of the files, and the conflict is counted
// (WalkStats.Conflicts) and told to Options.Conflict.
//
// It reads each file once: it ranks every copy, keeping a few dozen
// bytes per report, the file names, and the chosen copies themselves
// while their JSON comes to at most 8 MiB in all; then it hands the
// chosen copies on, in the order of the files. Only a file holding a
// chosen copy past those 8 MiB is read again, in a second pass. Reports
// are parsed as a stream (see ParseReport), so memory does not grow with
// the size of the files or messages, only by a small record per report
// beyond the 8 MiB. A chosen copy that changed between the passes (a file
// moved or rewritten meanwhile) is an error of its file.
//
// A bad file never stops the rest: its error is collected. A file inside a
// directory that is no report at all (other mail, a README) is skipped;
// the same file named on the command line is an error. Files whose name
// starts with "." are skipped (temporary files, .DS_Store). Walk stops
// early only when ctx is done (its error is returned last).
func Walk(ctx context.Context, paths []string, opt Options, fn func(path string, r *Report)) (WalkStats, []*FileError) {
	var st WalkStats
	var errs []*FileError
	rank := opt.Rank
	if rank == nil {
		rank = (*Report).Failures
	}
	picks := map[[16]byte]*walkPick{}
	held := 0 // the JSON size of the copies held
	hold := func(p *walkPick, r *Report, size int) {
		if p.r != nil {
			held -= p.size
		}
		p.r, p.size = nil, size
		if held+size <= walkHold {
			p.r = r
			held += size
		}
	}
	var files []string // the files that hold reports, in walk order
	handle := func(path string, explicit bool) {
		file, idx := -1, 0
		err := readFileEach(path, opt, func(r *Report) {
			if file < 0 {
				file = len(files)
				files = append(files, path)
			}
			i := idx
			idx++
			key, rk := reportKey(r), rank(r)
			fp, size := fingerprint(r)
			p := picks[key]
			if p == nil {
				p = &walkPick{file: file, idx: i, rank: rk, lowest: rk, fp: fp}
				picks[key] = p
				hold(p, r, size)
				return
			}
			st.Duplicates++
			p.lowest = min(p.lowest, rk)
			switch {
			case p.seen == nil && fp != p.fp:
				p.seen = [][16]byte{p.fp, fp}
			case p.seen != nil && len(p.seen) < maxDistinctCopies && !slices.Contains(p.seen, fp):
				p.seen = append(p.seen, fp)
			}
			if rk > p.rank || rk == p.rank && bytes.Compare(fp[:], p.fp[:]) < 0 {
				p.file, p.idx, p.rank, p.fp = file, i, rk, fp
				hold(p, r, size)
			}
		})
		if !explicit && errors.Is(err, ErrNoReport) && idx == 0 {
			st.Skipped++
			return
		}
		st.Files++
		if err != nil {
			errs = append(errs, &FileError{Path: path, Err: err})
		}
	}
	for _, root := range paths {
		if ctx.Err() != nil {
			break
		}
		fi, err := os.Stat(root)
		if err != nil {
			errs = append(errs, &FileError{Path: root, Err: unwrapPathError(err)})
			continue
		}
		if !fi.IsDir() {
			handle(root, true)
			continue
		}
		walkRoot := root
		if lfi, lerr := os.Lstat(root); lerr == nil && lfi.Mode()&fs.ModeSymlink != 0 {
			// A symbolic link named as the root is followed (WalkDir
			// would not descend into it); links below it are not.
			walkRoot = root + string(filepath.Separator)
		}
		err = filepath.WalkDir(walkRoot, func(path string, d fs.DirEntry, err error) error {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err != nil {
				errs = append(errs, &FileError{Path: path, Err: unwrapPathError(err)})
				if d != nil && d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if d.IsDir() {
				if path != walkRoot && d.Name() == "tmp" && isMaildir(filepath.Dir(path)) {
					return fs.SkipDir
				}
				return nil
			}
			if strings.HasPrefix(d.Name(), ".") {
				return nil
			}
			if d.Type()&fs.ModeSymlink != 0 {
				if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() {
					st.Skipped++
					return nil
				}
			} else if !d.Type().IsRegular() {
				st.Skipped++
				return nil
			}
			handle(path, false)
			return nil
		})
		if err != nil && ctx.Err() == nil {
			errs = append(errs, &FileError{Path: root, Err: err})
		}
	}
	if ctx.Err() == nil {
		walkDeliver(ctx, files, picks, opt, &st, &errs, fn)
	}
	if ctx.Err() != nil {
		errs = append(errs, &FileError{Path: "", Err: ctx.Err()})
	}
	return st, errs
}

// walkDeliver hands the chosen copies on, in file order: those held from
// memory, the others read again from their files (Walk's second pass).
func walkDeliver(ctx context.Context, files []string, picks map[[16]byte]*walkPick, opt Options, st *WalkStats, errs *[]*FileError, fn func(string, *Report)) {
	want := make([][]*walkPick, len(files))
	for _, p := range picks {
		want[p.file] = append(want[p.file], p)
	}
	deliver := func(path string, p *walkPick, r *Report) {
		if p.seen != nil {
			st.Conflicts++
			if opt.Conflict != nil {
				c := Conflict{Organization: r.OrganizationName, ReportID: r.ReportID, Copies: len(p.seen)}
				c.Path, c.Rank, c.LowestRank = path, p.rank, p.lowest
				opt.Conflict(c)
			}
		}
		st.Reports++
		fn(path, r)
	}
	for file, ps := range want {
		if len(ps) == 0 {
			continue
		}
		if ctx.Err() != nil {
			return
		}
		path := files[file]
		slices.SortFunc(ps, func(a, b *walkPick) int { return a.idx - b.idx })
		if !slices.ContainsFunc(ps, func(p *walkPick) bool { return p.r == nil }) {
			for _, p := range ps {
				deliver(path, p, p.r)
			}
			continue
		}
		next, idx := 0, 0
		_ = readFileEach(path, opt, func(r *Report) {
			i := idx
			idx++
			if next >= len(ps) || ps[next].idx != i {
				return
			}
			p := ps[next]
			next++
			if p.r != nil {
				deliver(path, p, p.r)
				return
			}
			if fp, _ := fingerprint(r); fp != p.fp {
				*errs = append(*errs, &FileError{Path: path, Err: errors.New("changed while it was being read; read the reports again")})
				return
			}
			deliver(path, p, r)
		})
		if next < len(ps) {
			*errs = append(*errs, &FileError{Path: path, Err: errors.New("changed while it was being read; read the reports again")})
		}
	}
}

// isMaildir: dir has cur/ and new/ (Maildir layout).
func isMaildir(dir string) bool {
	for _, s := range []string{"cur", "new"} {
		if fi, err := os.Stat(filepath.Join(dir, s)); err != nil || !fi.IsDir() {
			return false
		}
	}
	return true
}

// unwrapPathError drops the path an *fs.PathError repeats, since
// FileError names it already.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
