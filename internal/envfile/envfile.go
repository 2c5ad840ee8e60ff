// Package envfile reads the small settings files of stspilot: one
// `KEY=value` (or `KEY = value`) a line, `#` comments and blank lines
// skipped, a value optionally in single or double quotes (taken
// literally). The config file and the credentials file are both this
// format; each says which keys it takes.
//
// Errors name a line and at most a key, never a value: a credentials file
// holds secrets.
package envfile

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/stspilot/stspilot/internal/printable"
)

// Syntax is what one kind of file accepts beyond the common format.
type Syntax struct {
	// Export allows an optional leading "export " on a line, so that a
	// shell can source the file too.
	Export bool
	// Key says whether a key is allowed (nil: IsEnvName).
	Key func(string) bool
	// Want describes a good line for errors about a bad one: "NAME=value".
	Want string
	// NameKey says the file holds no secrets, so an error about a key the
	// syntax refuses may quote that key (clipped). Never set it for a file
	// that may hold secrets: the text before "=" can be part of one.
	NameKey bool
}

// maxNamedKey is how much of a refused key an error quotes.
const maxNamedKey = 40

// LineError is a bad line: Line counts from 1. Msg names at most a key.
type LineError struct {
	Line int
	Msg  string
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// ErrBinary is content with a NUL byte: not a text file.
var ErrBinary = errors.New("binary content (NUL byte)")

// Parse reads data, at most a file's worth (callers cap what they read:
// see ReadFile), into keys and values. A line without "=", or whose key
// the syntax refuses, a quote that does not close at the end of the value
// and a key set twice are a *LineError; a NUL byte anywhere is ErrBinary.
// Lines end in "\n" or "\r\n"; space around keys and values is trimmed.
func Parse(data []byte, syn Syntax) (map[string]string, error) {
	if bytes.IndexByte(data, 0) >= 0 {
		return nil, ErrBinary
	}
	valid := syn.Key
	if valid == nil {
		valid = IsEnvName
	}
	want := syn.Want
	if want == "" {
		want = "NAME=value"
	}
	vals := map[string]string{}
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line) // and the "\r" of "\r\n"
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if syn.Export {
			line = strings.TrimPrefix(line, "export ")
		}
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if !ok || !valid(k) {
			msg := "want " + want
			if ok && k != "" && syn.NameKey {
				msg = fmt.Sprintf("unknown key %q; %s", printable.Shorten(k, maxNamedKey, "..."), msg)
			}
			return nil, &LineError{Line: n + 1, Msg: msg}
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') {
			if v[len(v)-1] != v[0] {
				return nil, &LineError{Line: n + 1, Msg: "unterminated quote in the value of " + k}
			}
			v = v[1 : len(v)-1]
		}
		if _, dup := vals[k]; dup {
			return nil, &LineError{Line: n + 1, Msg: k + " is set twice"}
		}
		vals[k] = v
	}
	return vals, nil
}

// IsEnvName says whether k is an environment variable name: letters,
// digits and underscores, not starting with a digit.
func IsEnvName(k string) bool {
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
