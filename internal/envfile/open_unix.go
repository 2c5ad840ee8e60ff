//go:build unix

package envfile

import (
	"io/fs"
	"os"
	"syscall"
)

// openNonBlock keeps the open of a FIFO swapped in after the stat from
// blocking (the stat after the open then refuses it); it changes nothing
// for a regular file.
const openNonBlock = syscall.O_NONBLOCK

// openNoFollow refuses to open through a symbolic link.
const openNoFollow = syscall.O_NOFOLLOW

// owner returns the uid owning fi and the running user's uid; ok is false
// when fi carries no owner.
func owner(fi fs.FileInfo) (uid, self int, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return int(st.Uid), os.Getuid(), true
}
