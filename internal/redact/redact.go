// Package redact removes secret values (provider tokens, passwords, keys)
// from text: provider error messages and the --debug log.
package redact

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
)

// Mark replaces each secret.
const Mark = "[redacted]"

// MinLen is the shortest value treated as a secret: shorter "secrets"
// would shred ordinary text.
const MinLen = 4

// String returns s with every secret of at least MinLen bytes replaced by
// Mark. Longer secrets go first, so a secret that contains another is
// removed whole.
func String(s string, secrets []string) string {
	if len(secrets) > 1 {
		secrets = slices.Clone(secrets)
		slices.SortFunc(secrets, func(a, b string) int { return len(b) - len(a) })
	}
	for _, sec := range secrets {
		if len(sec) >= MinLen {
			s = strings.ReplaceAll(s, sec, Mark)
		}
	}
	return s
}

// Set is a growing set of secrets, safe for concurrent use: the debug log
// learns the secrets of the environment at start and those of each
// provider when it is opened.
type Set struct {
	mu      sync.RWMutex
	secrets []string
}

// Default is the process's set: dnsprovider adds the secret settings of
// every provider it opens, and the --debug log redacts with it.
var Default = &Set{}

// Add adds secrets; values shorter than MinLen are ignored.
func (s *Set) Add(secrets ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sec := range secrets {
		if len(sec) >= MinLen && !slices.Contains(s.secrets, sec) {
			s.secrets = append(s.secrets, sec)
		}
	}
}

// String returns str without the secrets of s.
func (s *Set) String(str string) string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return String(str, s.secrets)
}

// ReplaceAttr is a slog.HandlerOptions.ReplaceAttr that redacts every
// attribute a handler writes, the message included: strings, errors,
// Stringers and any other value as formatted by fmt. Numbers, booleans,
// times and durations pass unchanged (they hold no secret text).
func (s *Set) ReplaceAttr(_ []string, a slog.Attr) slog.Attr {
	switch a.Value.Kind() {
	case slog.KindString:
		a.Value = slog.StringValue(s.String(a.Value.String()))
	case slog.KindAny:
		var text string
		switch v := a.Value.Any().(type) {
		case error:
			text = v.Error()
		case fmt.Stringer:
			text = v.String()
		default:
			text = fmt.Sprint(v)
		}
		a.Value = slog.StringValue(s.String(text))
	}
	return a
}
