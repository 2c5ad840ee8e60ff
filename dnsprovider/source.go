package dnsprovider

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
)

// Source is where provider settings come from: the environment, a
// credentials file, or both (environment first).
type Source interface {
	// Lookup returns the value of the variable key ("CLOUDFLARE_API_TOKEN").
	Lookup(key string) (string, bool)
	// Where describes the source for error messages ("the environment").
	Where() string
}

// EnvSource reads the process environment (os.LookupEnv), or any lookup
// function with the same shape in tests.
type EnvSource func(string) (string, bool)

func (e EnvSource) Lookup(k string) (string, bool) { return e(k) }
func (e EnvSource) Where() string                  { return "the environment" }

// FileSource is a parsed credentials file.
type FileSource struct {
	Path string
	vals map[string]string
}

func (f *FileSource) Lookup(k string) (string, bool) {
	if f == nil {
		return "", false
	}
	v, ok := f.vals[k]
	return v, ok
}

func (f *FileSource) Where() string {
	if f == nil {
		return "a credentials file"
	}
	return f.Path
}

// Chain looks keys up in each source in turn; the first that has a
// non-empty value wins.
func Chain(srcs ...Source) Source { return chain(srcs) }

type chain []Source

func (c chain) Lookup(k string) (string, bool) {
	for _, s := range c {
		if s == nil {
			continue
		}
		if v, ok := s.Lookup(k); ok && strings.TrimSpace(v) != "" {
			return v, true
		}
	}
	return "", false
}

func (c chain) Where() string {
	var w []string
	for _, s := range c {
		if s != nil {
			w = append(w, s.Where())
		}
	}
	return strings.Join(w, " or ")
}

// maxCredentialsFile caps what LoadCredentials reads.
const maxCredentialsFile = 64 << 10

// LoadCredentials reads a credentials file: lines `NAME=value` with the
// variable names of the environment (`CLOUDFLARE_API_TOKEN=...`), blank
// lines and `#` comments ignored, a value optionally in single or double
// quotes, an optional leading `export `. The file must be a regular file
// that only its owner can read or write (mode 0600 or stricter), not a
// symbolic link; anything else is refused with ErrConfig, before a byte of
// it is read.
// A missing file is an error wrapping fs.ErrNotExist.
// Errors name the file and the line, never a value.
func LoadCredentials(path string) (*FileSource, error) {
	// A symbolic link is refused: its target's owner and mode are not
	// what the operator checked. Lstat, then compare with the file opened,
	// so a swap between the two is caught too.
	lst, err := os.Lstat(path)
	if err != nil {
		return nil, fmt.Errorf("credentials file: %w", err)
	}
	if lst.Mode()&fs.ModeSymlink != 0 {
		return nil, fmt.Errorf("%w: credentials file %s is a symbolic link; give the file itself", ErrConfig, path)
	}
	if !lst.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: credentials file %s is not a regular file", ErrConfig, path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("credentials file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("credentials file: %w", err)
	}
	if !st.Mode().IsRegular() || !os.SameFile(lst, st) {
		return nil, fmt.Errorf("%w: credentials file %s is not a regular file", ErrConfig, path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%w: credentials file %s has mode %04o; it holds secrets, so it must be 0600 (chmod 600 %s)", ErrConfig, path, perm, path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxCredentialsFile+1))
	if err != nil {
		return nil, fmt.Errorf("credentials file %s: %w", path, err)
	}
	if len(data) > maxCredentialsFile {
		return nil, fmt.Errorf("%w: credentials file %s is larger than %d bytes", ErrConfig, path, maxCredentialsFile)
	}
	vals, err := parseCredentials(data)
	if err != nil {
		return nil, fmt.Errorf("%w: credentials file %s: %v", ErrConfig, path, err)
	}
	return &FileSource{Path: path, vals: vals}, nil
}

// ErrNoCredentialsFile is returned by DefaultCredentials when no file exists
// at the default path; callers then use the environment alone.
var ErrNoCredentialsFile = errors.New("no credentials file")

// DefaultCredentials loads the file at path if it exists; a missing file
// yields ErrNoCredentialsFile (not a failure for callers).
func DefaultCredentials(path string) (*FileSource, error) {
	if path == "" {
		return nil, ErrNoCredentialsFile
	}
	fs_, err := LoadCredentials(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoCredentialsFile
	}
	return fs_, err
}

func parseCredentials(data []byte) (map[string]string, error) {
	if bytes.IndexByte(data, 0) >= 0 {
		return nil, errors.New("binary content (NUL byte)")
	}
	vals := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxCredentialsFile)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(strings.TrimSuffix(sc.Text(), "\r"))
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if !ok || !validEnvName(k) {
			return nil, fmt.Errorf("line %d: want NAME=value", n)
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') {
			if v[len(v)-1] != v[0] {
				return nil, fmt.Errorf("line %d: unterminated quote in the value of %s", n, k)
			}
			v = v[1 : len(v)-1]
		}
		if _, dup := vals[k]; dup {
			return nil, fmt.Errorf("line %d: %s is set twice", n, k)
		}
		vals[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return vals, nil
}

func validEnvName(k string) bool {
	if k == "" {
		return false
	}
	for i, c := range k {
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
