package journal

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stspilot/stspilot/internal/atomicfile"
	"github.com/stspilot/stspilot/internal/domainname"
)

// The journal's history is kept small enough to be read whole by moving
// its oldest completed entries to an archive beside it: DOMAIN.archive.jsonl,
// one JSON line per entry after a header line, oldest first
// (docs/journal.md). Only entries move: the ledger, the policy, the
// intent, the windows and the pending entries (everything the engine reads
// to decide) stay in the journal, which is never written over MaxSize.

const (
	// RotateSize is the size past which Save moves the oldest completed
	// entries to the archive, until the journal is at most a quarter of
	// it: far below MaxSize, the cap no journal is ever written over.
	RotateSize = 1 << 20
	// ArchiveSize is the size past which the archive file is renamed to
	// DOMAIN.archive.1.jsonl (the older ones shifting by one) and a new
	// one begins.
	ArchiveSize = 4 << 20
	// ArchiveKeep is how many older archive files are kept
	// (DOMAIN.archive.1.jsonl, the newer, to DOMAIN.archive.3.jsonl); the
	// oldest is removed as another one is started.
	ArchiveKeep = 3
	// ArchiveSchema names the archive's format, in its header line.
	ArchiveSchema = "stspilot.archive/v1"

	archiveSuffix = ".archive.jsonl"
)

// The sizes in force: the constants, except in tests, which lower them so
// that their inputs stay kilobytes (SetLimitsForTest).
var (
	rotateSize  int64 = RotateSize
	archiveSize int64 = ArchiveSize
)

// SetLimitsForTest sets the journal cap, the rotation size and the
// archive size in force (0 keeps one as it is) and returns the function
// that restores them. Only tests call it, so that a journal near its cap
// is kilobytes, not megabytes.
func SetLimitsForTest(maxBytes, rotateBytes, archiveBytes int64) (restore func()) {
	om, or, oa := maxSize, rotateSize, archiveSize
	if maxBytes > 0 {
		maxSize = maxBytes
	}
	if rotateBytes > 0 {
		rotateSize = rotateBytes
	}
	if archiveBytes > 0 {
		archiveSize = archiveBytes
	}
	return func() { maxSize, rotateSize, archiveSize = om, or, oa }
}

// RotateAt is the journal size in force past which Save moves history to
// the archive (RotateSize, unless a test lowered it).
func RotateAt() int64 { return rotateSize }

// Size is the number of bytes j takes in its file (0 when it is invalid).
func Size(j *Journal) int64 {
	if j == nil {
		return 0
	}
	c := *j
	b, err := encode(&c)
	if err != nil {
		return 0
	}
	return int64(len(b))
}

// archiveHeader is the first line of an archive file.
type archiveHeader struct {
	Schema string `json:"schema"`
	Domain string `json:"domain"`
}

// ArchivePath is the current archive file of domain; older ones are
// ArchivePath with ".archive.N.jsonl", N from 1 (the newer) to
// ArchiveKeep.
func (s *Store) ArchivePath(domain string) (string, error) {
	d, err := domainname.Normalize(domain)
	if err != nil {
		return "", err
	}
	return s.archivePath(d, 0), nil
}

func (s *Store) archivePath(d string, n int) string {
	if n == 0 {
		return filepath.Join(s.dir, d+archiveSuffix)
	}
	return filepath.Join(s.dir, d+".archive."+strconv.Itoa(n)+".jsonl")
}

// rotate returns j with its oldest completed entries moved to the archive
// (written before it returns) and that journal's bytes. It moves entries
// up to the first pending one, until the journal is at most a quarter of
// the rotation size. j itself is left as it is: the caller takes the
// rotated entries only once the journal is written, so a failure in
// between leaves the entries in the journal and, at worst, in the archive
// too.
func (h *Handle) rotate(j *Journal) (*Journal, []byte, error) {
	full, err := encode(j)
	if err != nil {
		return nil, nil, err
	}
	excess := int64(len(full)) - rotateSize/4
	var moved int64
	n := 0
	for n < len(j.Entries) && moved < excess && j.Entries[n].Status != Pending {
		b, _ := json.MarshalIndent(j.Entries[n], "    ", "  ")
		moved += int64(len(b)) + 6 // the indentation and the comma
		n++
	}
	if n == 0 {
		return nil, nil, errors.New("journal: no completed entry to move to the archive")
	}
	if err = h.s.appendArchive(h.domain, j.Entries[:n]); err != nil {
		return nil, nil, err
	}
	r := *j
	r.Entries = slices.Clone(j.Entries[n:])
	a := Archive{}
	if j.Archive != nil {
		a = *j.Archive
	}
	a.Entries += n
	a.LastID = j.Entries[n-1].ID
	a.At = Stamp(h.s.now())
	r.Archive = &a
	data, err := encode(&r)
	if err != nil {
		return nil, nil, err
	}
	return &r, data, nil
}

// appendArchive adds entries to the archive of d: the current file is
// read, the entries it does not hold yet appended, and the whole replaced
// atomically (mode 0600). A line that would take the file past the
// archive size starts a new file first, the current one becoming
// DOMAIN.archive.1.jsonl. The hook sees the stages as "archive-write",
// "archive-sync" and "archive-rename".
//
// It is idempotent: a rotation killed after it wrote the archive and
// before the journal dropped the entries leaves them in both, and the
// next rotation moves them again. An entry already in an archive file
// (the same id, run, kind, name and start: archiveKey) is not added
// again, whichever file holds it (the killed rotation may have started a
// new file); one the current file holds in an older form (a repetition
// was folded into it since) is replaced there by the journal's.
func (s *Store) appendArchive(d string, entries []Entry) error {
	path := s.archivePath(d, 0)
	hb, _ := json.Marshal(archiveHeader{Schema: ArchiveSchema, Domain: d})
	header := append(hb, '\n')
	cur, err := readArchive(path, d)
	if err != nil {
		return err
	}
	// have are the current file's lines by entry; older the entries of
	// the older files (those that cannot be read are a matter for
	// Archived: they hold nothing to skip).
	have := map[archiveKey][]byte{}
	if cur == nil {
		cur = slices.Clone(header)
	} else {
		eachArchived(cur, func(k archiveKey, line []byte) { have[k] = line })
	}
	older := map[archiveKey]bool{}
	for n := 1; n <= ArchiveKeep; n++ {
		if data, err := readArchive(s.archivePath(d, n), d); err == nil {
			eachArchived(data, func(k archiveKey, _ []byte) { older[k] = true })
		}
	}
	dirty := false
	for _, e := range entries {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(e); err != nil {
			return fmt.Errorf("journal: archive: %w", err)
		}
		line := b.Bytes()
		k := keyOf(e)
		if old, ok := have[k]; ok {
			// Archived by a rotation killed before the journal was
			// written; a repetition may have been folded in since.
			if !bytes.Equal(old, line) {
				cur = bytes.Replace(cur, append([]byte("\n"), old...), append([]byte("\n"), line...), 1)
				have[k], dirty = line, true
			}
			continue
		}
		if older[k] {
			continue // archived by a killed rotation, before a new file
		}
		if int64(len(cur)+len(line)) > archiveSize && len(cur) > len(header) {
			if dirty {
				if err := s.writeAtomic(path, cur, "archive"); err != nil {
					return err
				}
			}
			if err := s.shiftArchives(d); err != nil {
				return err
			}
			for k := range have {
				older[k] = true
			}
			clear(have)
			cur = slices.Clone(header) // dirty again below
		}
		cur = append(cur, line...)
		have[k], dirty = line, true
	}
	if !dirty {
		return nil
	}
	return s.writeAtomic(path, cur, "archive")
}

// archiveKey is what tells an entry from every other, however often
// repetitions are folded into it: its id, run, kind, name and start (a
// journal begun again after a quarantine reuses ids, not starts).
type archiveKey struct {
	ID      int
	Run     string
	Kind    Kind
	Name    string
	Started int64
}

func keyOf(e Entry) archiveKey {
	return archiveKey{ID: e.ID, Run: e.Run, Kind: e.Kind, Name: e.Name, Started: e.Started.UnixNano()}
}

// eachArchived hands fn the key and the line (with its newline) of each
// entry of an archive file's data; the header and lines that do not
// parse are passed over.
func eachArchived(data []byte, fn func(archiveKey, []byte)) {
	first := true
	for l := range bytes.Lines(data) {
		if first {
			first = false
			continue
		}
		var e struct {
			ID      int       `json:"id"`
			Run     string    `json:"run"`
			Kind    Kind      `json:"kind"`
			Name    string    `json:"name"`
			Started time.Time `json:"started"`
		}
		if json.Unmarshal(l, &e) == nil {
			fn(archiveKey{ID: e.ID, Run: e.Run, Kind: e.Kind, Name: e.Name, Started: e.Started.UnixNano()}, l)
		}
	}
}

// shiftArchives renames the archive files one up (the current one to .1),
// removing the oldest beyond ArchiveKeep.
func (s *Store) shiftArchives(d string) error {
	if err := os.Remove(s.archivePath(d, ArchiveKeep)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("journal: archive: %w", err)
	}
	for n := ArchiveKeep - 1; n >= 0; n-- {
		if err := os.Rename(s.archivePath(d, n), s.archivePath(d, n+1)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("journal: archive: %w", err)
		}
	}
	if err := atomicfile.SyncDir(s.dir); err != nil {
		return fmt.Errorf("journal: archive: %w", err)
	}
	return nil
}

// readArchive reads an archive file of d: nil when there is none. A file
// that is not a regular file, too large, or not an archive of d is an
// error: it is never overwritten.
func readArchive(path, d string) ([]byte, error) {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("journal: archive: %w", err)
	}
	// One file holds at most the archive size, or one journal's entries.
	limit := archiveSize + maxSize
	switch {
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("journal: archive %s is not a regular file; it was left untouched", path)
	case fi.Size() > limit:
		return nil, fmt.Errorf("journal: archive %s is %d bytes, above the %d-byte limit; it was left untouched", path, fi.Size(), limit)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|openNoFollow, 0)
	if err != nil {
		return nil, fmt.Errorf("journal: archive: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("journal: archive: %w", err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("journal: archive %s is above the %d-byte limit; it was left untouched", path, limit)
	}
	first, _, _ := bytes.Cut(data, []byte("\n"))
	var h archiveHeader
	if json.Unmarshal(first, &h) != nil || h.Schema != ArchiveSchema || h.Domain != d || len(data) == 0 || data[len(data)-1] != '\n' {
		return nil, fmt.Errorf("journal: %s is not a whole %s archive of %s; it was left untouched", path, ArchiveSchema, d)
	}
	return data, nil
}

// Archived returns the entries moved out of domain's journal, oldest
// first, from every archive file kept. An entry a failed Save archived
// twice (as older stspilot did) is returned once, in its newest form.
func (s *Store) Archived(domain string) ([]Entry, error) {
	d, err := domainname.Normalize(domain)
	if err != nil {
		return nil, err
	}
	var out []Entry
	at := map[archiveKey]int{} // where each entry is in out
	for n := ArchiveKeep; n >= 0; n-- {
		data, err := readArchive(s.archivePath(d, n), d)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, int(maxSize)+1)
		for first := true; sc.Scan(); first = false {
			if first || strings.TrimSpace(sc.Text()) == "" {
				continue
			}
			var e Entry
			dec := json.NewDecoder(strings.NewReader(sc.Text()))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&e); err != nil {
				return nil, fmt.Errorf("journal: archive %s: %v", s.archivePath(d, n), jsonErr(err))
			}
			if i, ok := at[keyOf(e)]; ok {
				out[i] = e // a newer form, archived again
				continue
			}
			at[keyOf(e)] = len(out)
			out = append(out, e)
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("journal: archive %s: %w", s.archivePath(d, n), err)
		}
	}
	return out, nil
}
