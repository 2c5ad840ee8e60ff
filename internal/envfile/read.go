package envfile

import (
	"errors"
	"io"
	"io/fs"
	"os"
)

// Refusals of ReadFile, before a byte of the file is read.
var (
	ErrSymlink    = errors.New("is a symbolic link")
	ErrNotRegular = errors.New("is not a regular file")
	ErrTooLarge   = errors.New("is too large")
)

// ReadOptions says what ReadFile accepts.
type ReadOptions struct {
	// Max is the most bytes read; a larger file is ErrTooLarge.
	Max int64
	// NoSymlink refuses a symbolic link at the path (ErrSymlink) rather
	// than following it: the target's owner and mode are not what the
	// operator checked.
	NoSymlink bool
	// Devices accepts a character device besides a regular file:
	// "/dev/null" as an empty file.
	Devices bool
	// Check, when set, vets the opened file before it is read (its mode,
	// say); its error is returned as is.
	Check func(fs.FileInfo) error
}

// ReadFile reads a settings file, capped at o.Max bytes. It looks at the
// path before opening it, so that a FIFO, socket, directory or device (or
// with NoSymlink a symbolic link) is refused without blocking on it, then
// checks that the file opened is the one looked at, so a swap in between
// is caught too. Refusals are ErrSymlink, ErrNotRegular, ErrTooLarge and
// Check's error; a missing file wraps fs.ErrNotExist; other errors are
// those of the file system (*fs.PathError).
func ReadFile(path string, o ReadOptions) ([]byte, error) {
	stat := os.Stat
	if o.NoSymlink {
		stat = os.Lstat
	}
	before, err := stat(path)
	if err != nil {
		return nil, err
	}
	if before.Mode()&fs.ModeSymlink != 0 {
		return nil, ErrSymlink
	}
	if !o.accepts(before) {
		return nil, ErrNotRegular
	}
	flags := os.O_RDONLY | openNonBlock
	if o.NoSymlink {
		flags |= openNoFollow
	}
	f, err := os.OpenFile(path, flags, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !o.accepts(st) || !os.SameFile(before, st) {
		return nil, ErrNotRegular
	}
	if o.Check != nil {
		if cerr := o.Check(st); cerr != nil {
			return nil, cerr
		}
	}
	data, err := io.ReadAll(io.LimitReader(f, o.Max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > o.Max {
		return nil, ErrTooLarge
	}
	return data, nil
}

func (o ReadOptions) accepts(fi fs.FileInfo) bool {
	m := fi.Mode()
	return m.IsRegular() || o.Devices && m&fs.ModeCharDevice != 0
}
