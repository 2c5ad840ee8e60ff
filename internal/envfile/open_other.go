//go:build !unix

package envfile

import "io/fs"

const (
	openNonBlock = 0
	openNoFollow = 0
)

// owner: files carry no owner uid here.
func owner(fs.FileInfo) (uid, self int, ok bool) { return 0, 0, false }
