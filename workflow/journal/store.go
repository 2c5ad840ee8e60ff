package journal

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/stspilot/stspilot/internal/atomicfile"
	"github.com/stspilot/stspilot/internal/domainname"
	"github.com/stspilot/stspilot/internal/printable"
	"github.com/stspilot/stspilot/internal/xdg"
)

// Store is a state directory of journals: DOMAIN.json (the journal) and
// DOMAIN.lock (its lock file) per domain. A Store is safe for concurrent
// use; a Handle is not.
type Store struct {
	dir string
	// Command describes this process in lock files ("stspilot promote").
	// Open sets it from the program name and its first argument only,
	// never from flags (they could carry anything).
	Command string
	// Now is the clock for lock times, run ids and quarantine names.
	Now func() time.Time
	// hook, for tests, runs before each stage of an atomic write ("write",
	// "sync", "rename") and before the lock file is written ("lock"); an
	// error aborts the write there.
	hook func(stage string) error
}

// ErrNoStateDir is DefaultDir's error when neither XDG_STATE_HOME nor HOME
// is set. It names no flag: the front ends say how to give a directory.
var ErrNoStateDir = errors.New("journal: no state directory: set XDG_STATE_HOME or HOME")

// DefaultDir is $XDG_STATE_HOME/stspilot, else ~/.local/state/stspilot
// (xdg.StateDir: a relative XDG_STATE_HOME is ignored).
func DefaultDir() (string, error) {
	d, err := xdg.StateDir(nil)
	if err != nil {
		return "", ErrNoStateDir
	}
	return d, nil
}

// AbsDir is the absolute path of the state directory dir (DefaultDir
// when dir is ""): the directory Open and OpenExisting use, and the one
// the serve publisher writes into.
func AbsDir(dir string) (string, error) {
	if dir == "" {
		d, err := DefaultDir()
		if err != nil {
			return "", err
		}
		dir = d
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("journal: state directory %s: %w", dir, err)
	}
	return abs, nil
}

// Open returns the Store in dir (DefaultDir when dir is ""), creating the
// directory with mode 0700 when it does not exist. An existing directory
// keeps its mode: teams may keep it in a shared repository.
func Open(dir string) (*Store, error) {
	abs, err := AbsDir(dir)
	if err != nil {
		return nil, err
	}
	if err = os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("journal: state directory: %w", err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("journal: state directory: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("journal: state directory %s is not a directory", abs)
	}
	return &Store{dir: abs, Command: defaultCommand(os.Args), Now: time.Now}, nil
}

// Dir is the state directory's absolute path.
func (s *Store) Dir() string { return s.dir }

func (s *Store) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

// Path is the journal file of domain.
func (s *Store) Path(domain string) (string, error) {
	d, err := domainname.Normalize(domain)
	if err != nil {
		return "", err
	}
	return filepath.Join(s.dir, d+".json"), nil
}

// Domains lists the domains that have a journal file, sorted.
func (s *Store) Domains() ([]string, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	var ds []string
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || !e.Type().IsRegular() {
			continue
		}
		if d, err := domainname.Normalize(name); err == nil && d == name {
			ds = append(ds, d)
		}
	}
	slices.Sort(ds)
	return ds, nil
}

// Peek reads the journal of domain without taking its lock, for status
// and planning. It returns nil and no error when the domain has no
// journal. A concurrent Save never shows through half-written: Save
// replaces the file by rename, so Peek reads the old or the new document.
// Errors: *CorruptError, *SchemaError, or an I/O error.
func (s *Store) Peek(domain string) (*Journal, error) {
	d, err := domainname.Normalize(domain)
	if err != nil {
		return nil, err
	}
	return s.read(d)
}

// read loads the journal of the normalised domain d: (nil, nil) when there
// is none.
func (s *Store) read(d string) (*Journal, error) {
	path := filepath.Join(s.dir, d+".json")
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return nil, &CorruptError{Path: path, Reason: "it is a symbolic link; stspilot reads and writes only a regular file there"}
	case !fi.Mode().IsRegular():
		return nil, &CorruptError{Path: path, Reason: "it is not a regular file"}
	case fi.Size() > maxSize:
		return nil, &CorruptError{Path: path, Reason: fmt.Sprintf("it is %d bytes, above the %d-byte limit", fi.Size(), maxSize)}
	}
	f, err := os.OpenFile(path, os.O_RDONLY|openNoFollow, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil // removed since the Lstat (a quarantine)
	}
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSize+1))
	if err != nil {
		return nil, fmt.Errorf("journal: reading %s: %w", path, err)
	}
	if int64(len(data)) > maxSize {
		return nil, &CorruptError{Path: path, Reason: fmt.Sprintf("it is above the %d-byte limit", maxSize)}
	}
	j, err := Decode(data)
	var se *SchemaError
	if errors.As(err, &se) {
		se.Path = path
		return nil, se
	}
	if err != nil {
		return nil, &CorruptError{Path: path, Reason: err.Error()}
	}
	if j.Domain != d {
		return nil, &CorruptError{Path: path, Reason: fmt.Sprintf("it holds the journal of %s, not %s", j.Domain, d)}
	}
	return j, nil
}

// Holder is who holds a domain's lock, as its lock file records it.
type Holder struct {
	PID     int       `json:"pid"`
	Host    string    `json:"host"`
	Command string    `json:"command"`
	Since   time.Time `json:"since"`
}

// LockedError is a Lock refused because another run holds the domain.
// Holder is zero when the lock file did not say who.
type LockedError struct {
	Domain string
	Path   string
	Holder Holder
}

func (e *LockedError) Error() string {
	who := "another process (its lock file does not say which)"
	if e.Holder.PID != 0 {
		who = fmt.Sprintf("pid %d on %s", e.Holder.PID, e.Holder.Host)
		if e.Holder.Command != "" {
			who += " (" + e.Holder.Command + ")"
		}
		if !e.Holder.Since.IsZero() {
			who += " since " + e.Holder.Since.UTC().Format(time.RFC3339)
		}
	}
	return fmt.Sprintf("the journal of %s is locked by %s: another run is working on this domain; wait for it to finish (the lock frees itself when that process exits)", e.Domain, who)
}

// Lock takes the lock of domain's journal for this run: an exclusive,
// non-blocking flock on DOMAIN.lock, with the holder (pid, host, command,
// start time) written into the file. It fails at once with a *LockedError
// while another run holds it. A lock file left by a process that died
// holds no flock and is simply taken over. Lock also removes temporary
// files an interrupted Save left behind.
func (s *Store) Lock(domain string) (*Handle, error) {
	return s.LockAs(domain, s.Command)
}

// LockAs is Lock with the command recorded in the lock file given for
// this run ("stspilot promote"), leaving s.Command alone, so that one
// Store can serve several commands at once (the wizard).
func (s *Store) LockAs(domain, command string) (*Handle, error) {
	return s.LockAt(domain, command, s.now())
}

// LockAt is LockAs for a run whose clock reads now: the lock file's
// "since" and the run id (Handle.Run) are taken from it, so that a run on
// an accelerated clock (the demo) journals one kind of time only.
func (s *Store) LockAt(domain, command string, now time.Time) (*Handle, error) {
	d, err := domainname.Normalize(domain)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(s.dir, d+".lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|openNoFollow, 0o600)
	if err != nil {
		return nil, fmt.Errorf("journal: lock file: %w", err)
	}
	if err := tryLock(f); err != nil {
		defer f.Close()
		if errors.Is(err, errLocked) {
			return nil, &LockedError{Domain: d, Path: path, Holder: readHolder(f)}
		}
		return nil, fmt.Errorf("journal: locking %s: %w", path, err)
	}
	host, _ := os.Hostname()
	h := &Handle{
		s:      s,
		domain: d,
		path:   filepath.Join(s.dir, d+".json"),
		lock:   f,
		holder: Holder{PID: os.Getpid(), Host: host, Command: sanitizeCommand(command), Since: Stamp(now)},
	}
	b, _ := json.Marshal(h.holder)
	b = append(b, '\n')
	if err := s.writeHolder(f, b); err != nil {
		_ = unlock(f)
		f.Close()
		return nil, fmt.Errorf("journal: writing lock file %s: %w", path, err)
	}
	s.removeTemps(d)
	return h, nil
}

// lockFile is what writeHolder needs of the lock file (an *os.File).
type lockFile interface {
	Truncate(size int64) error
	WriteAt(b []byte, off int64) (int, error)
	Sync() error
}

// writeHolder replaces the lock file's content with b, durably. Every
// step's error is returned: a lock whose holder could not be recorded is
// not taken.
func (s *Store) writeHolder(f lockFile, b []byte) error {
	if s.hook != nil {
		if err := s.hook("lock"); err != nil {
			return err
		}
	}
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.WriteAt(b, 0); err != nil {
		return err
	}
	return f.Sync()
}

// readHolder reads who holds a lock. The holder writes the file right
// after taking the flock, so an empty or partial file is read again a few
// times before giving up.
func readHolder(f *os.File) Holder {
	var h Holder
	for range 20 {
		b, err := io.ReadAll(io.LimitReader(io.NewSectionReader(f, 0, 64<<10), 64<<10))
		if err == nil && json.Unmarshal(b, &h) == nil && h.PID != 0 {
			h.Host, h.Command = clip(h.Host), clip(h.Command)
			return h
		}
		time.Sleep(5 * time.Millisecond)
	}
	return Holder{}
}

// removeTemps deletes the temporary files of interrupted Saves of d and
// of its archive (only under d's lock, so no Save of d is running).
func (s *Store) removeTemps(d string) {
	for _, name := range []string{d + ".json", d + archiveSuffix} {
		tmps, _ := filepath.Glob(filepath.Join(s.dir, atomicfile.TempPattern(name)))
		for _, t := range tmps {
			_ = os.Remove(t)
		}
	}
}

// Handle is one run's lock on a domain's journal. It is not safe for
// concurrent use. Close it when the run ends.
type Handle struct {
	s      *Store
	domain string
	path   string
	lock   *os.File
	holder Holder
	state  loadState
	err    error   // why Save is refused (state refused)
	base   []Entry // the entries on disk, for the append-only check
}

type loadState int

const (
	unread  loadState = iota // not loaded yet
	missing                  // no journal file
	loaded                   // the file holds base
	refused                  // the file could not be read: never overwrite it
)

// Domain is the normalised domain the handle locks.
func (h *Handle) Domain() string { return h.domain }

// Path is the journal file.
func (h *Handle) Path() string { return h.path }

// Holder is this run as the lock file records it.
func (h *Handle) Holder() Holder { return h.holder }

// Run identifies this run in entries and intents: the lock time and pid
// ("20261129T050102Z-4242"). Two runs share it only if one process locks
// the same domain twice within a second.
func (h *Handle) Run() string {
	return fmt.Sprintf("%s-%d", h.holder.Since.Format("20060102T150405Z"), h.holder.PID)
}

// Load reads the journal under the lock: nil and no error when the domain
// has none yet (start one with New). A *CorruptError or *SchemaError
// leaves the file untouched and makes Save refuse to write until
// Quarantine moves the file aside.
func (h *Handle) Load() (*Journal, error) {
	if h.lock == nil {
		return nil, errors.New("journal: Load after Close")
	}
	j, err := h.s.read(h.domain)
	switch {
	case err != nil:
		h.state, h.err, h.base = refused, err, nil
		return nil, err
	case j == nil:
		h.state, h.err, h.base = missing, nil, nil
		return nil, nil
	}
	h.state, h.err, h.base = loaded, nil, slices.Clone(j.Entries)
	return j, nil
}

// Save writes j atomically: a temporary file in the state directory,
// written, fsynced, renamed over the journal, and the directory fsynced;
// mode 0600. An interrupted Save leaves the previous journal whole. It
// refuses to write when the journal on disk could not be loaded, when j is
// invalid or belongs to another domain, and when j drops or rewrites an
// entry already saved (only a pending entry may be completed). Save sets
// j's Schema when empty and rounds its times to whole seconds in UTC.
func (h *Handle) Save(j *Journal) error {
	if h.lock == nil {
		return errors.New("journal: Save after Close")
	}
	if j == nil {
		return errors.New("journal: Save of a nil journal")
	}
	if h.state == unread {
		if _, err := h.Load(); err != nil {
			return fmt.Errorf("journal: not saving over %s: %w", h.path, err)
		}
	}
	if h.state == refused {
		return fmt.Errorf("journal: not saving over %s: %w", h.path, h.err)
	}
	if j.Schema == "" {
		j.Schema = Schema
	}
	if j.Domain != h.domain {
		return fmt.Errorf("journal: saving the journal of %q through the lock of %s", clip(j.Domain), h.domain)
	}
	j.normalizeTimes()
	if err := appendOnly(h.base, j.Entries); err != nil {
		return err
	}
	data, err := encode(j)
	if err != nil {
		return err
	}
	if int64(len(data)) > rotateSize {
		// Past the rotation size: the oldest history goes to the archive
		// first. When that fails, a journal still under the cap is
		// written whole: the rotation size is soft, the cap is not.
		rotated, rdata, rerr := h.rotate(j)
		switch {
		case rerr == nil:
			if err := h.s.writeAtomic(h.path, rdata, ""); err != nil {
				return err
			}
			j.Entries, j.Archive = rotated.Entries, rotated.Archive
			h.state, h.base = loaded, slices.Clone(j.Entries)
			return nil
		case int64(len(data)) > maxSize:
			return errors.Join(sizeError(j.Domain, len(data)), rerr)
		}
	}
	if int64(len(data)) > maxSize {
		return sizeError(j.Domain, len(data))
	}
	if err := h.s.writeAtomic(h.path, data, ""); err != nil {
		return err
	}
	h.state, h.base = loaded, slices.Clone(j.Entries)
	return nil
}

// appendOnly checks that next keeps every entry of prev: unchanged, a
// pending one completed (same id, kind, name and start), a completed one
// that a repetition was folded into (Fold: only its count, last_run and
// last_at grew), and the last one, saved pending, folded into an earlier
// one.
func appendOnly(prev, next []Entry) error {
	if n := len(prev); len(next) == n-1 && n >= 2 && prev[n-1].Status == Pending {
		for i := n - 2; i >= 0 && i >= n-2-foldBack; i-- {
			if folded(prev[i], next[i]) {
				prev = prev[:n-1]
				break
			}
		}
	}
	if len(next) < len(prev) {
		return fmt.Errorf("journal: entries are append-only: %d saved, %d now", len(prev), len(next))
	}
	for i, p := range prev {
		n := next[i]
		if n == p || p.Status != Pending && folded(p, n) {
			continue
		}
		if p.Status != Pending {
			return fmt.Errorf("journal: entries are append-only: entry %d (%s, %s) was changed after it was %s", p.ID, p.Kind, p.Name, p.Status)
		}
		if n.ID != p.ID || n.Kind != p.Kind || n.Name != p.Name || !n.Started.Equal(p.Started) {
			return fmt.Errorf("journal: entries are append-only: pending entry %d (%s, %s) may only be completed, not replaced", p.ID, p.Kind, p.Name)
		}
	}
	return nil
}

// folded reports whether n is p with more repetitions folded into it.
func folded(p, n Entry) bool {
	if n.Runs() <= p.Runs() {
		return false
	}
	q := n
	q.Count, q.LastRun, q.LastAt = p.Count, p.LastRun, p.LastAt
	return q == p
}

// Quarantine moves a journal that cannot be read aside, to
// DOMAIN.json.corrupt-TIMESTAMP, and returns the new path; the next Save
// then starts a new journal. It refuses when there is no journal, when
// the journal is valid, and when it is of a newer schema (upgrade instead).
func (h *Handle) Quarantine() (string, error) {
	if h.lock == nil {
		return "", errors.New("journal: Quarantine after Close")
	}
	j, err := h.s.read(h.domain)
	var ce *CorruptError
	switch {
	case err == nil && j == nil:
		return "", fmt.Errorf("journal: no journal of %s to quarantine", h.domain)
	case err == nil:
		return "", fmt.Errorf("journal: %s is a valid journal; nothing to quarantine", h.path)
	case !errors.As(err, &ce):
		return "", fmt.Errorf("journal: not quarantining: %w", err)
	}
	stamp := h.s.now().UTC().Format("20060102T150405Z")
	dst := h.path + ".corrupt-" + stamp
	for i := 2; ; i++ {
		if _, err := os.Lstat(dst); errors.Is(err, fs.ErrNotExist) {
			break
		}
		dst = fmt.Sprintf("%s.corrupt-%s-%d", h.path, stamp, i)
	}
	if err := os.Rename(h.path, dst); err != nil {
		return "", fmt.Errorf("journal: quarantine: %w", err)
	}
	if err := atomicfile.SyncDir(h.s.dir); err != nil {
		return dst, fmt.Errorf("journal: quarantined to %s, but syncing the directory failed: %w", dst, err)
	}
	h.state, h.err, h.base = missing, nil, nil
	return dst, nil
}

// Close releases the lock (and empties the lock file). It is safe to call
// twice.
func (h *Handle) Close() error {
	if h.lock == nil {
		return nil
	}
	f := h.lock
	h.lock = nil
	_ = f.Truncate(0)
	uerr := unlock(f)
	cerr := f.Close()
	return errors.Join(uerr, cerr)
}

// writeAtomic replaces path with data (atomicfile.Write, mode 0600). what
// names a file other than a journal ("archive"): its crash-hook stages are
// what-STAGE and its errors say "journal: what: ...".
func (s *Store) writeAtomic(path string, data []byte, what string) error {
	stage, errPrefix := "", "journal: "
	if what != "" {
		stage, errPrefix = what+"-", errPrefix+what+": "
	}
	var hook func(atomicfile.Stage) error
	if s.hook != nil {
		hook = func(st atomicfile.Stage) error { return s.hook(stage + string(st)) }
	}
	if err := atomicfile.WriteHook(path, data, 0o600, hook); err != nil {
		return fmt.Errorf("%s%w", errPrefix, err)
	}
	return nil
}

// defaultCommand is the program name and its first argument when that is
// not a flag ("stspilot promote"): enough to say what holds a lock,
// nothing a flag could carry.
func defaultCommand(args []string) string {
	cmd := "stspilot"
	if len(args) > 0 && args[0] != "" {
		cmd = filepath.Base(args[0])
	}
	if len(args) > 1 && args[1] != "" && !strings.HasPrefix(args[1], "-") {
		cmd += " " + args[1]
	}
	return sanitizeCommand(cmd)
}

// sanitizeCommand drops control characters (a lock file is shown in error
// messages on terminals) and clips the length.
func sanitizeCommand(cmd string) string {
	return strings.Map(func(r rune) rune {
		if printable.IsControl(r) {
			return -1
		}
		return r
	}, clip(cmd))
}

// OpenExisting is Open for readers that change nothing (status, plan,
// completion): it never creates the state directory. A directory that
// does not exist yet holds no journals: Peek returns nil and Domains
// none. Anything that writes through the Store fails.
func OpenExisting(dir string) (*Store, error) {
	abs, err := AbsDir(dir)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(abs); err == nil && !fi.IsDir() {
		return nil, fmt.Errorf("journal: state directory %s is not a directory", abs)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("journal: state directory: %w", err)
	}
	return &Store{dir: abs, Command: defaultCommand(os.Args), Now: time.Now}, nil
}
