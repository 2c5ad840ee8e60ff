package envfile

import (
	"errors"
	"io"
	"io/fs"
)

// ErrTooLarge is a file over ReadOptions.Max.
var ErrTooLarge = errors.New("is too large")

// ReadOptions says what ReadFile accepts.
type ReadOptions struct {
	// Max is the most bytes read; a larger file is ErrTooLarge.
	Max int64
	// NoSymlink refuses a symbolic link at the path (ErrSymlink): see
	// OpenOptions.NoSymlink.
	NoSymlink bool
	// Devices accepts a character device too: see OpenOptions.Devices.
	Devices bool
	// Check, when set, vets the opened file before it is read: see
	// OpenOptions.Check.
	Check func(fs.FileInfo) error
}

// ReadFile reads a settings file, capped at o.Max bytes. It opens the file
// with Open, so that a FIFO, socket, directory or device (or with
// NoSymlink a symbolic link), or a file swapped under the path, is refused
// without blocking on it. Refusals are ErrSymlink, ErrNotRegular,
// ErrTooLarge and Check's error; a missing file wraps fs.ErrNotExist;
// other errors are those of the file system (*fs.PathError).
func ReadFile(path string, o ReadOptions) ([]byte, error) {
	f, _, err := Open(path, OpenOptions{NoSymlink: o.NoSymlink, Devices: o.Devices, Check: o.Check})
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, o.Max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > o.Max {
		return nil, ErrTooLarge
	}
	return data, nil
}
