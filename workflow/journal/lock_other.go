//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package journal

import (
	"errors"
	"fmt"
	"os"
)

const openNoFollow = 0

var errLocked = errors.New("locked")

// tryLock: this platform has no flock here, so journals cannot be locked
// and Lock says so rather than run unlocked.
func tryLock(*os.File) error {
	return fmt.Errorf("one writer per domain needs flock: %w", errors.ErrUnsupported)
}

func unlock(*os.File) error { return nil }
