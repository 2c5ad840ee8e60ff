package envfile

import (
	"errors"
	"fmt"
	"io/fs"
)

// ErrOwner is a file owned by someone other than the running user and
// root: that user could change what it says.
var ErrOwner = errors.New("is owned by another user")

// ErrWritable is a file that users other than its owner may write to
// (group or others have the write bit).
var ErrWritable = errors.New("is writable by group or others")

// OwnerError is an ErrOwner refusal with the uids involved, for messages.
type OwnerError struct {
	// UID owns the file; Self is the running user.
	UID, Self int
}

func (e *OwnerError) Error() string {
	return fmt.Sprintf("%v (uid %d, not uid %d or root)", ErrOwner, e.UID, e.Self)
}

func (e *OwnerError) Unwrap() error { return ErrOwner }

// CheckOwner refuses, with an *OwnerError, a file that neither the running
// user nor root owns, the rule OpenSSH applies to its configuration and
// keys. Where files carry no owner uid (not Unix) it accepts every file.
// Use it as (or in) ReadOptions.Check.
func CheckOwner(fi fs.FileInfo) error {
	uid, self, ok := owner(fi)
	if !ok || uid == 0 || uid == self {
		return nil
	}
	return &OwnerError{UID: uid, Self: self}
}

// CheckTrusted is CheckOwner plus ErrWritable for a file that group or
// others may write: what such a file says may be acted on as if the
// running user had typed it (a command to run, say).
func CheckTrusted(fi fs.FileInfo) error {
	if err := CheckOwner(fi); err != nil {
		return err
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return ErrWritable
	}
	return nil
}
