package envfile

import (
	"errors"
	"io/fs"
	"os"
)

// Refusals of Open (and so of ReadFile), before a byte of the file is read.
var (
	ErrSymlink    = errors.New("is a symbolic link")
	ErrNotRegular = errors.New("is not a regular file")
)

// OpenOptions says what Open accepts.
type OpenOptions struct {
	// NoSymlink refuses a symbolic link at the path (ErrSymlink) rather
	// than following it: the target's owner and mode are not what the
	// operator checked.
	NoSymlink bool
	// Devices accepts a character device besides a regular file:
	// "/dev/null" as an empty file.
	Devices bool
	// Check, when set, vets the opened file before Open returns it (its
	// mode, say); its error is returned as is.
	Check func(fs.FileInfo) error
}

// testHookBeforeOpen, when set, runs between Open's look at the path and
// its open: tests swap the file there.
var testHookBeforeOpen func(path string)

// Open opens an untrusted local file for reading, the one way the tree
// does so. It looks at the path before opening it, so that a FIFO,
// socket, directory or device (or with NoSymlink a symbolic link) is
// refused without blocking on it; it opens without blocking (a FIFO
// swapped in after the look cannot hang the open) and then checks that
// the file opened is a regular file (or an accepted device) and the one
// looked at, so a swap in between is refused too. It returns the open
// file, which the caller closes, and its information.
//
// Refusals are ErrSymlink, ErrNotRegular (a swap as well) and Check's
// error. A missing file wraps fs.ErrNotExist. Other errors are those of
// the file system, *fs.PathError: Op is "stat" or "lstat" when the path
// could not be looked at, "open" when it could not be opened.
func Open(path string, o OpenOptions) (*os.File, fs.FileInfo, error) {
	stat := os.Stat
	if o.NoSymlink {
		stat = os.Lstat
	}
	before, err := stat(path)
	if err != nil {
		return nil, nil, err
	}
	if before.Mode()&fs.ModeSymlink != 0 {
		return nil, nil, ErrSymlink
	}
	if !o.accepts(before) {
		return nil, nil, ErrNotRegular
	}
	if testHookBeforeOpen != nil {
		testHookBeforeOpen(path)
	}
	flags := os.O_RDONLY | openNonBlock
	if o.NoSymlink {
		flags |= openNoFollow
	}
	f, err := os.OpenFile(path, flags, 0)
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err == nil && (!o.accepts(st) || !os.SameFile(before, st)) {
		err = ErrNotRegular
	}
	if err == nil && o.Check != nil {
		err = o.Check(st)
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, st, nil
}

func (o OpenOptions) accepts(fi fs.FileInfo) bool {
	m := fi.Mode()
	return m.IsRegular() || o.Devices && m&fs.ModeCharDevice != 0
}
