package dnsprovider

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/stspilot/stspilot/internal/envfile"
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
// owned by the running user or root (as OpenSSH wants of its keys) that
// only its owner can read or write (mode 0600 or stricter), not a
// symbolic link; anything else is refused with ErrConfig, before a byte of
// it is read (envfile.ReadFile, envfile.Parse).
// A missing file is an error wrapping fs.ErrNotExist.
// Errors name the file and the line, never a value.
func LoadCredentials(path string) (*FileSource, error) {
	data, err := envfile.ReadFile(path, envfile.ReadOptions{
		Max:       maxCredentialsFile,
		NoSymlink: true,
		Check: func(st fs.FileInfo) error {
			var oe *envfile.OwnerError
			if err := envfile.CheckOwner(st); errors.As(err, &oe) {
				return fmt.Errorf("%w: credentials file %s is owned by uid %d; it holds secrets, so it must be owned by you (uid %d) or root", ErrConfig, path, oe.UID, oe.Self)
			}
			if perm := st.Mode().Perm(); perm&0o077 != 0 {
				return fmt.Errorf("%w: credentials file %s has mode %04o; it holds secrets, so it must be 0600 (chmod 600 %s)", ErrConfig, path, perm, path)
			}
			return nil
		},
	})
	switch {
	case errors.Is(err, envfile.ErrSymlink):
		return nil, fmt.Errorf("%w: credentials file %s is a symbolic link; give the file itself", ErrConfig, path)
	case errors.Is(err, envfile.ErrNotRegular):
		return nil, fmt.Errorf("%w: credentials file %s is not a regular file", ErrConfig, path)
	case errors.Is(err, envfile.ErrTooLarge):
		return nil, fmt.Errorf("%w: credentials file %s is larger than %d bytes", ErrConfig, path, maxCredentialsFile)
	case errors.Is(err, ErrConfig):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("credentials file: %w", err)
	}
	vals, err := envfile.Parse(data, credentialsSyntax)
	if err != nil {
		return nil, fmt.Errorf("%w: credentials file %s: %v", ErrConfig, path, err)
	}
	return &FileSource{Path: path, vals: vals}, nil
}

// credentialsSyntax: environment variable names, and a leading "export "
// so that a shell can source the file.
var credentialsSyntax = envfile.Syntax{Export: true, Key: envfile.IsEnvName, Want: "NAME=value"}

// ErrNoCredentialsFile is returned by DefaultCredentials when no file exists
// at the default path; callers then use the environment alone.
var ErrNoCredentialsFile = errors.New("no credentials file")

// DefaultCredentials loads the file at path if it exists; a missing file
// yields ErrNoCredentialsFile (not a failure for callers).
func DefaultCredentials(path string) (*FileSource, error) {
	if path == "" {
		return nil, ErrNoCredentialsFile
	}
	src, err := LoadCredentials(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoCredentialsFile
	}
	return src, err
}

// LookupSetting finds the value of s in src under each of its variables
// (Setting.Vars: Env, then its aliases, a secret's NAME_FILE after each
// NAME) and returns it with the variable that supplied it, from; from is
// empty when none of them has a non-blank value. Values are trimmed of
// space; a NAME_FILE is read once, with envfile.ReadSecretFile's checks.
// Two variables that both hold a value must hold the same one: otherwise
// the error names both, never a value; a NAME_FILE it refuses is named by
// its variable only, not its path. Errors wrap ErrConfig.
func LookupSetting(s Setting, src Source) (value, from string, err error) {
	for _, sv := range s.vars() {
		raw, ok := src.Lookup(sv.name)
		raw = strings.TrimSpace(raw)
		if !ok || raw == "" {
			continue
		}
		v := raw
		if sv.file {
			if v, err = readSecretVar(sv.name, raw); err != nil {
				return "", "", err
			}
			v = strings.TrimSpace(v)
		}
		switch {
		case from == "":
			value, from = v, sv.name
		case v != value:
			return "", "", fmt.Errorf("%w: %s and %s are both set, to different values (not shown): set only one of them", ErrConfig, from, sv.name)
		}
	}
	return value, from, nil
}

// readSecretVar reads the file that the variable name (a NAME_FILE) gives
// as path. Errors name the variable, never the content, and never the
// path either: a secret put in NAME_FILE by mistake would be the path.
func readSecretVar(name, path string) (string, error) {
	v, err := envfile.ReadSecretFile(path)
	if err == nil {
		return v, nil
	}
	var oe *envfile.OwnerError
	var pe *fs.PathError
	why := ""
	switch {
	case errors.As(err, &oe):
		why = fmt.Sprintf("is owned by uid %d; it holds a secret, so it must be owned by you (uid %d) or root", oe.UID, oe.Self)
	case errors.Is(err, envfile.ErrWritable):
		why = "is writable by group or others; it holds a secret, so only its owner may write to it (chmod go-w)"
	case errors.Is(err, envfile.ErrNotRegular):
		why = "is not a regular file"
	case errors.Is(err, envfile.ErrTooLarge):
		why = fmt.Sprintf("is larger than %d bytes", envfile.MaxSecretFile)
	case errors.Is(err, envfile.ErrBinary), errors.Is(err, envfile.ErrEmpty):
		why = err.Error()
	case errors.Is(err, fs.ErrNotExist):
		why = "does not exist (" + name + " holds the path of a file, not the value)"
	case errors.As(err, &pe):
		why = "cannot be read: " + pe.Op + ": " + pe.Err.Error()
	default:
		why = "cannot be read"
	}
	return "", fmt.Errorf("%w: the file that %s names %s", ErrConfig, name, why)
}
