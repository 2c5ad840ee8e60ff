//go:build !unix

package dnsprovider_test

import "errors"

func mkfifo(string) error { return errors.New("no FIFOs here") }
