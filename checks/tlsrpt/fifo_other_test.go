//go:build !unix

package tlsrpt

import "errors"

func mkfifo(string) error { return errors.New("unsupported") }
