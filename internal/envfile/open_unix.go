//go:build unix

package envfile

import "syscall"

// openNonBlock keeps the open of a FIFO swapped in after the stat from
// blocking (the stat after the open then refuses it); it changes nothing
// for a regular file.
const openNonBlock = syscall.O_NONBLOCK

// openNoFollow refuses to open through a symbolic link.
const openNoFollow = syscall.O_NOFOLLOW
