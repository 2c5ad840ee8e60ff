//go:build !unix

package envfile

const (
	openNonBlock = 0
	openNoFollow = 0
)
