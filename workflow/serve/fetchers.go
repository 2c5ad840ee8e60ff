package serve

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"time"

	"github.com/stspilot/stspilot/internal/envfile"
	"github.com/stspilot/stspilot/workflow"
)

// LiveFetchers reads serve's access log at logPath for the senders that
// fetched st's live policy id since it was published: what status and the
// wizard show (StatusReport.Fetchers). It is nil without a live id; its
// Log is "" when no log is configured (logPath "" or "-", stderr, which
// cannot be read back), and Error says why a configured log could not be
// read. It reads the file: the wizard calls it inside a command.
func LiveFetchers(st *workflow.StatusReport, logPath string) *workflow.LiveFetchers {
	if st == nil || st.Policy == nil || st.Policy.ID == "" {
		return nil
	}
	lf := &workflow.LiveFetchers{ID: st.Policy.ID, Since: st.LiveSince}
	if logPath == "" || logPath == "-" {
		return lf
	}
	lf.Log = logPath
	var since time.Time
	if st.LiveSince != nil {
		since = *st.LiveSince
	}
	got, err := ReadFetchers(logPath, st.Domain, st.Policy.ID, since)
	if err != nil {
		lf.Error = err.Error()
		return lf
	}
	lf.Truncated = got.Truncated
	for _, c := range SenderClasses() {
		if n := got.Counts[c]; n > 0 {
			if lf.Senders == nil {
				lf.Senders = map[string]int{}
			}
			lf.Senders[c.String()] = n
		}
	}
	return lf
}

// MaxAccessLogRead caps how much of an access log ReadFetchers reads: the
// last 64 MiB.
const MaxAccessLogRead = 64 << 20

// Fetchers is what the access log says about one policy id of one domain:
// the 200 answers to its fetches since a time, by sender class.
type Fetchers struct {
	Counts [numSenderClasses]int
	// Truncated: the log is larger than the part read (its end).
	Truncated bool
}

// ReadFetchers reads the access log at path (its last MaxAccessLogRead
// bytes; lines over 64 KiB and lines that are not entries are skipped) and
// counts the policy fetches of domain answered 200 with id since since.
func ReadFetchers(path, domain, id string, since time.Time) (Fetchers, error) {
	var out Fetchers
	f, fi, err := envfile.Open(path, envfile.OpenOptions{})
	if err != nil {
		return out, openLogError(path, err)
	}
	defer f.Close()
	var r io.Reader = f
	if fi.Size() > MaxAccessLogRead {
		if _, err := f.Seek(fi.Size()-MaxAccessLogRead, io.SeekStart); err != nil {
			return out, err
		}
		out.Truncated = true
		r = io.LimitReader(f, MaxAccessLogRead)
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	first := out.Truncated // the first line of a tail is likely cut
	for {
		if !sc.Scan() {
			if errors.Is(sc.Err(), bufio.ErrTooLong) {
				// skip the over-long line and go on
				sc = bufio.NewScanner(skipLine(r))
				sc.Buffer(make([]byte, 0, 4096), 64<<10)
				continue
			}
			break
		}
		if first {
			first = false
			continue
		}
		var e struct {
			Time      time.Time `json:"time"`
			Status    int       `json:"status"`
			UserAgent string    `json:"user_agent"`
			Domain    string    `json:"domain"`
			PolicyID  string    `json:"policy_id"`
		}
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.Status != 200 || e.Domain != domain || e.PolicyID != id || e.Time.Before(since) {
			continue
		}
		out.Counts[ClassifySender(e.UserAgent)]++
	}
	return out, sc.Err()
}

// openLogError words a refusal of envfile.Open as ReadFetchers always
// has: "PATH is not a regular file" for a FIFO, a directory or a file
// swapped under the path, and "open PATH: ..." for a file that cannot be
// looked at (missing, a directory that cannot be searched), as os.Open
// said it.
func openLogError(path string, err error) error {
	if errors.Is(err, envfile.ErrNotRegular) {
		return errors.New(path + " is not a regular file")
	}
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Op == "stat" {
		return &fs.PathError{Op: "open", Path: pe.Path, Err: pe.Err}
	}
	return err
}

// skipLine reads r up to and past the next newline and returns it.
func skipLine(r io.Reader) io.Reader {
	br := bufio.NewReader(r)
	for {
		_, err := br.ReadSlice('\n')
		if !errors.Is(err, bufio.ErrBufferFull) {
			return br
		}
	}
}
