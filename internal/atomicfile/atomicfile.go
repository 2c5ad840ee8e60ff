// Package atomicfile replaces files so that a reader sees the old bytes or
// the new ones, never a mix, and a crash leaves one of the two whole.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Stage names a step of Write, for the test hook of WriteHook.
type Stage string

// The stages of Write, in order: chmod and write the temporary file,
// fsync it, rename it over the destination.
const (
	StageWrite  Stage = "write"
	StageSync   Stage = "sync"
	StageRename Stage = "rename"
)

// TempPattern is the os.CreateTemp pattern of the temporary file of path:
// ".BASE.tmp-*" in path's directory. A caller that owns the directory may
// remove leftovers of an interrupted Write with it (when no Write runs).
func TempPattern(path string) string {
	return "." + filepath.Base(path) + ".tmp-*"
}

// Write replaces path with data: a temporary file in the same directory
// (TempPattern) is given mode perm (exactly, whatever the umask), written,
// fsynced and renamed over path, then the directory is fsynced. A failure
// before the rename leaves path as it was and removes the temporary file.
// The rename replaces a symbolic link at path with the file; it never
// writes through it into the link's target. Errors name path.
func Write(path string, data []byte, perm fs.FileMode) error {
	return WriteHook(path, data, perm, nil)
}

// fill gives the new file f its mode, then data, fsyncs and closes it;
// it closes f whatever fails.
func fill(f *os.File, data []byte, perm fs.FileMode) error {
	err := f.Chmod(perm)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// WriteHook is Write with hook run before each stage; an error from hook
// aborts the write there as that stage's failure would. Tests use it to
// simulate a crash or a full disk.
func WriteHook(path string, data []byte, perm fs.FileMode, hook func(Stage) error) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, TempPattern(path))
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	name := tmp.Name()
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(name)
		}
	}()
	step := func(s Stage, f func() error) error {
		if hook != nil {
			if err := hook(s); err != nil {
				return err
			}
		}
		return f()
	}
	if err := step(StageWrite, func() error {
		// The mode first: the data never sits in a file with another mode.
		if err := tmp.Chmod(perm); err != nil {
			return err
		}
		_, err := tmp.Write(data)
		return err
	}); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := step(StageSync, tmp.Sync); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := step(StageRename, func() error { return os.Rename(name, path) }); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	done = true
	if err := SyncDir(dir); err != nil {
		return fmt.Errorf("%s written, but syncing its directory failed: %w", path, err)
	}
	return nil
}

// WriteNew creates path with data, never replacing anything: the data is
// written to a temporary file (TempPattern), fsynced, then hard-linked to
// path, which fails when path exists; the temporary name is removed and
// the directory fsynced. A reader sees no file or the whole of it. When
// path exists, the error wraps fs.ErrExist and nothing was written. On a
// file system without hard links it falls back to creating path with
// O_EXCL and writing into it (still never replacing; a reader may then
// see it while it is written).
func WriteNew(path string, data []byte, perm fs.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, TempPattern(path))
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	name := tmp.Name()
	defer os.Remove(name)
	if err := fill(tmp, data, perm); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Link(name, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("writing %s: %w", path, fs.ErrExist)
		}
		var le *os.LinkError
		if !errors.As(err, &le) {
			return fmt.Errorf("writing %s: %w", path, err)
		}
		// No hard links here (EPERM, ENOTSUP, EXDEV...): O_EXCL.
		if err := writeExcl(path, data, perm); err != nil {
			return err
		}
	}
	if err := SyncDir(dir); err != nil {
		return fmt.Errorf("%s written, but syncing its directory failed: %w", path, err)
	}
	return nil
}

func writeExcl(path string, data []byte, perm fs.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("writing %s: %w", path, fs.ErrExist)
		}
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := fill(f, data, perm); err != nil {
		// Never leave a partial file under the final name.
		os.Remove(path)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
