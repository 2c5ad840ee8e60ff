package envfile

import (
	"bytes"
	"errors"
	"strings"
)

// MaxSecretFile caps what ReadSecretFile reads: a token or key, not a
// document.
const MaxSecretFile = 64 << 10

// ErrEmpty is a secret file with nothing in it but white space.
var ErrEmpty = errors.New("is empty")

// ReadSecretFile reads one secret from the file at path, the way a
// NAME_FILE variable names it (Docker's /run/secrets/NAME, a Kubernetes
// secret volume): a regular file, symbolic links followed (a Kubernetes
// volume's files are links into its current data), that the running user
// or root owns and that neither group nor others may write (CheckTrusted;
// reading is allowed them, as those volumes' 0644 default does), at most
// MaxSecretFile bytes, read once. Trailing line ends ("\n", "\r\n") are
// trimmed, nothing else. Refusals are ErrNotRegular, ErrOwner (an
// *OwnerError), ErrWritable, ErrTooLarge, ErrBinary and ErrEmpty; a
// missing file wraps fs.ErrNotExist. No error holds the content.
func ReadSecretFile(path string) (string, error) {
	data, err := ReadFile(path, ReadOptions{Max: MaxSecretFile, Check: CheckTrusted})
	if err != nil {
		return "", err
	}
	if bytes.IndexByte(data, 0) >= 0 {
		return "", ErrBinary
	}
	v := strings.TrimRight(string(data), "\r\n")
	if strings.TrimSpace(v) == "" {
		return "", ErrEmpty
	}
	return v, nil
}
