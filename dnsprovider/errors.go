package dnsprovider

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/stspilot/stspilot/internal/redact"
)

// Sentinel classes of provider errors, for errors.Is.
var (
	// ErrAuth: the provider refused the credentials.
	ErrAuth = errors.New("authentication failed")
	// ErrTransient: rate limited (HTTP 429) or a server error (5xx); retried.
	ErrTransient = errors.New("temporary provider failure")
	// ErrConfig: a setting is missing or malformed, or the config file is unsafe.
	ErrConfig = errors.New("provider configuration")
)

// redactor replaces known secret values in error text (internal/redact,
// which the --debug log uses too).
type redactor struct{ secrets []string }

func (r redactor) clean(s string) string { return redact.String(s, r.secrets) }

// providerError is what every provider error becomes: the provider's name,
// a redacted message and a class. It deliberately does not unwrap to the
// provider's own error, whose text may hold a secret; it unwraps to its
// class and to context errors only.
type providerError struct {
	provider string
	msg      string
	class    error // ErrAuth, ErrTransient, context.Canceled, ... or nil
	// inFlight: the write was given up on while its request may still
	// reach the provider (an *inFlightError).
	inFlight bool
}

// inFlightError is a write given up on at its deadline whose request
// could not be stopped and may still change the zone: a zone read back
// unchanged right after it proves nothing.
type inFlightError struct{ err error }

func (e *inFlightError) Error() string { return e.err.Error() }
func (e *inFlightError) Unwrap() error { return e.err }

// mayStillLand reports whether err is a write that may still change the
// zone after it was given up on.
func mayStillLand(err error) bool {
	var pe *providerError
	if errors.As(err, &pe) {
		return pe.inFlight
	}
	var fe *inFlightError
	return errors.As(err, &fe)
}

func (e *providerError) Error() string { return e.provider + ": " + e.msg }
func (e *providerError) Unwrap() error { return e.class }

var (
	reAuth      = regexp.MustCompile(`(?i)\b(401|403)\b|unauthori[sz]ed|forbidden|bad authentication|authentication error|invalid (api )?token|badsig|badkey|access ?denied|invalidclienttokenid|signaturedoesnotmatch|notauth`)
	reTransient = regexp.MustCompile(`(?i)\b(429|5\d\d)\b|too many requests|rate ?limit|throttl|servfail|service unavailable|bad gateway|gateway timeout`)
)

// wrapErr turns a provider's error into a *providerError. authHint names
// the variables to check when the provider refused the credentials.
func wrapErr(provider string, r redactor, err error, authHint string) error {
	if err == nil {
		return nil
	}
	var pe *providerError
	if errors.As(err, &pe) {
		return err
	}
	var pa *PartialError
	if errors.As(err, &pa) {
		return err
	}
	msg := r.clean(err.Error())
	var fe *inFlightError
	e := &providerError{provider: provider, msg: msg, inFlight: errors.As(err, &fe)}
	switch {
	case errors.Is(err, context.Canceled):
		e.class = context.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		e.class = context.DeadlineExceeded
	case errors.Is(err, ErrConfig):
		// A factory's own validation (a malformed URL, a half-given key pair).
		e.class = ErrConfig
	case errors.Is(err, errTooLarge) || strings.Contains(msg, errTooLarge.Error()):
		// Our size cap (some libraries format it away with %v): the same
		// answer again, never transient, whatever the words around it.
	case errors.Is(err, ErrTransient):
		// A failure our own client classed as transient.
		e.class = ErrTransient
	case reAuth.MatchString(msg):
		e.class = ErrAuth
		if authHint != "" {
			e.msg = fmt.Sprintf("authentication failed (check %s): %s", authHint, msg)
		}
	case reTransient.MatchString(msg):
		e.class = ErrTransient
	}
	return e
}

// PartialError reports a write that failed after it may have changed the
// zone, with what the zone holds now (read back after the failure).
type PartialError struct {
	Provider string
	Op       string // "set" or "delete"
	Name     string
	Err      error  // redacted, names the provider
	Now      TXTSet // read back; Values is nil when even that failed
	ReadErr  error  // why Now could not be read, if it could not
}

func (e *PartialError) Error() string {
	return fmt.Sprintf("%s: %s %s failed half-way: %v; the zone now holds %s", e.Provider, e.Op, e.Name, e.Err, heldNow(e.Now, e.ReadErr))
}

// heldNow says what a partial error's zone holds now: the set read back,
// or why reading it back failed.
func heldNow(now fmt.Stringer, readErr error) string {
	if readErr != nil {
		return "unknown, reading it back failed: " + readErr.Error()
	}
	return now.String()
}

func (e *PartialError) Unwrap() error { return e.Err }

// retryPolicy bounds retries of transient failures.
type retryPolicy struct {
	first, max time.Duration
	attempts   int
}

var defaultRetry = retryPolicy{first: 500 * time.Millisecond, max: 8 * time.Second, attempts: 6}

// retry runs op until it succeeds, fails with anything but ErrTransient,
// runs out of attempts, or the next wait would pass ctx's deadline.
func retry(ctx context.Context, p retryPolicy, op func() error) error {
	wait := p.first
	for attempt := 1; ; attempt++ {
		err := op()
		if err == nil || !errors.Is(err, ErrTransient) || attempt >= p.attempts {
			return err
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait = min(wait*2, p.max)
	}
}
