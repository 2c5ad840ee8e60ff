// Package senders emulates how real MTA-STS sender implementations read one
// domain's TXT record and policy bytes, so that stspilot can tell an operator
// which senders would reject or misread what they publish.
//
// Each implementation is a small emulator of its own parsing decisions,
// written from what docs/rules.md says of their sources (the STS-TXT,
// STS-FETCH, STS-POL and STS-SEND rules, and "Sender implementations"):
// mox, go-mtasts (foxcpp, used by maddy), pmsr (postfix-mta-sts-resolver),
// tlspol (postfix-tlspol), mailauth (postalsys) and chasquid. RFCReading is the
// reference: a strict RFC 8461 reader.
//
// Modelling rule: every emulator reproduces the behaviours docs/rules.md
// describes for it (its line splitting, key handling, which checks it skips or
// adds). Where docs/rules.md says nothing about a detail, the emulator behaves as
// the RFC does, and its doc comment says which details are assumed.
//
// Outcome conventions shared by every emulator:
//   - connect or TLS errors, timeouts, redirects, a rejected status and an
//     over-size body are FetchError;
//   - a response whose Content-Type or charset the implementation refuses, or
//     whose body it cannot parse or validate, is Invalid;
//   - a TXT set that yields no usable record is NoPolicy.
//
// The package uses only the standard library and never touches the network.
package senders

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Input is what a sender sees for one domain.
type Input struct {
	TXT         []string      // every TXT RR at _mta-sts.DOMAIN, character-strings already joined
	Fetched     bool          // false when the HTTPS fetch failed before any response (connect/TLS error)
	FetchError  string        // why, when !Fetched (e.g. "certificate has expired")
	Status      int           // HTTP status
	Redirect    bool          // 3xx with Location
	ContentType string        // raw header value ("" = header absent)
	Body        []byte        // the body as served; a capped read should keep 64 KiB + 1 bytes so caps show (go-mtasts and mailauth then parse only that)
	Elapsed     time.Duration // fetch duration (pmsr gives up after 4 s, tlspol 2 s x3, mailauth 15 s, others 60 s)
}

// Outcome is what an implementation makes of the input as a whole.
type Outcome string

// The outcomes, from best to worst.
const (
	Policy     Outcome = "policy"      // it has a usable policy
	NoPolicy   Outcome = "no-policy"   // it acts as if the domain had no MTA-STS
	FetchError Outcome = "fetch-error" // it tried and failed to fetch (a cached policy would be kept)
	Invalid    Outcome = "invalid"     // it fetched and rejected the policy
)

// Verdict is one implementation's reading of an Input.
type Verdict struct {
	Impl    string   // "mox", "go-mtasts", "pmsr", "tlspol", "mailauth", "chasquid" (or "rfc8461")
	Outcome Outcome  // what it makes of the input
	Mode    string   // mode as it reads it; "" unless Outcome == Policy
	MaxAge  int64    // max_age as it reads it; 0 unless Outcome == Policy
	MX      []string // mx patterns as it reads them; nil unless Outcome == Policy
	Reason  string   // why it rejected, or how its reading differs from the RFC's; "" when it reads the input exactly as RFC 8461 does
	Rules   []string // rule ids behind Reason
	// Enforces reports whether it would refuse delivery to an MX failing the
	// policy: only mode enforce, and never for pmsr/tlspol testing (STS-SEND-14).
	Enforces bool
	// CacheFor is how many seconds it would keep this policy cached: MaxAge,
	// except that tlspol keeps a policy at most 30 days (STS-SEND-5). 0 unless
	// Outcome == Policy.
	CacheFor int64
}

// Implementation names, in Emulate's order.
const (
	ImplMox      = "mox"
	ImplGoMTASTS = "go-mtasts"
	ImplPMSR     = "pmsr"
	ImplTLSPol   = "tlspol"
	ImplMailauth = "mailauth"
	ImplChasquid = "chasquid"
	// ImplRFC names the strict RFC 8461 reader (RFCReading); it is not in Impls.
	ImplRFC = "rfc8461"
)

// emulators lists every implementation in Emulate's fixed order.
var emulators = []struct {
	name string
	run  func(Input) Verdict
}{
	{ImplMox, emulateMox},
	{ImplGoMTASTS, emulateGoMTASTS},
	{ImplPMSR, emulatePMSR},
	{ImplTLSPol, emulateTLSPol},
	{ImplMailauth, emulateMailauth},
	{ImplChasquid, emulateChasquid},
}

// Impls lists the implementation names in Emulate's order.
func Impls() []string {
	names := make([]string, len(emulators))
	for i, e := range emulators {
		names[i] = e.name
	}
	return names
}

// Emulate runs every implementation on the same input, in Impls' order. A
// verdict that disagrees with RFCReading always carries a Reason.
func Emulate(in Input) []Verdict {
	rfc := RFCReading(in)
	out := make([]Verdict, len(emulators))
	for i, e := range emulators {
		v := e.run(in)
		if v.Reason == "" && differs(v, rfc) {
			explain(&v, rfc)
		}
		out[i] = v
	}
	return out
}

// RFCReading is the verdict of a strict RFC 8461 reader, with the RFC's
// suggested limits (60 s, 64 KiB, STS-FETCH-10) and its SHOULD on the media
// type (STS-FETCH-9) applied.
func RFCReading(in Input) Verdict { return emulateRFC(in) }

// Disagreements returns, in Impls' order, the verdicts whose outcome differs
// from RFCReading's, or whose reading of mode, max_age, mx or enforcement
// does. mx patterns compare case-insensitively (STS-SEND-9).
func Disagreements(in Input) []Verdict {
	rfc := RFCReading(in)
	var out []Verdict
	for _, v := range Emulate(in) {
		if differs(v, rfc) {
			out = append(out, v)
		}
	}
	return out
}

// differs reports whether v's outcome or reading differs from the RFC's.
func differs(v, rfc Verdict) bool {
	if v.Outcome != rfc.Outcome {
		return true
	}
	if v.Outcome != Policy {
		return false
	}
	return v.Mode != rfc.Mode || v.MaxAge != rfc.MaxAge || v.Enforces != rfc.Enforces ||
		!slices.EqualFunc(v.MX, rfc.MX, strings.EqualFold)
}

// explain fills in a generic Reason for a disagreeing verdict whose emulator
// did not name a specific quirk.
func explain(v *Verdict, rfc Verdict) {
	switch {
	case v.Outcome == Policy && rfc.Outcome != Policy:
		v.Reason = "accepts what a strict RFC 8461 reader rejects: " + rfc.Reason
		v.Rules = rfc.Rules
	case v.Outcome == Policy:
		var d []string
		if v.Mode != rfc.Mode {
			d = append(d, fmt.Sprintf("mode %q (RFC: %q)", v.Mode, rfc.Mode))
		}
		if v.MaxAge != rfc.MaxAge {
			d = append(d, fmt.Sprintf("max_age %d (RFC: %d)", v.MaxAge, rfc.MaxAge))
		}
		if !slices.EqualFunc(v.MX, rfc.MX, strings.EqualFold) {
			d = append(d, fmt.Sprintf("mx %q (RFC: %q)", v.MX, rfc.MX))
		}
		if v.Enforces != rfc.Enforces {
			d = append(d, fmt.Sprintf("enforces=%t (RFC: %t)", v.Enforces, rfc.Enforces))
		}
		v.Reason = "reads " + strings.Join(d, ", ")
	default:
		v.Reason = fmt.Sprintf("ends in %s where a strict RFC 8461 reader ends in %s", v.Outcome, rfc.Outcome)
	}
}

// builder accumulates one verdict: notes about quirks that made the reading
// differ from the RFC's, then either a rejection or an accepted policy.
type builder struct {
	v     Verdict
	notes []string
	rules []string
}

func newBuilder(impl string) *builder { return &builder{v: Verdict{Impl: impl}} }

// note records a quirk that made this implementation read the input
// differently from RFC 8461 while still going on.
func (b *builder) note(reason string, rules ...string) {
	if !slices.Contains(b.notes, reason) {
		b.notes = append(b.notes, reason)
	}
	b.addRules(rules)
}

func (b *builder) addRules(rules []string) {
	for _, r := range rules {
		if !slices.Contains(b.rules, r) {
			b.rules = append(b.rules, r)
		}
	}
}

// fail ends the verdict with outcome o; earlier notes are dropped, since the
// rejection is what matters. It returns false so callers can `return b.fail(...)`.
func (b *builder) fail(o Outcome, reason string, rules ...string) bool {
	b.v.Outcome = o
	b.v.Reason = reason
	b.v.Rules = slices.Clone(rules)
	return false
}

// accept ends the verdict with a usable policy.
func (b *builder) accept(mode string, maxAge int64, mx []string) {
	b.v.Outcome = Policy
	b.v.Mode = mode
	b.v.MaxAge = maxAge
	b.v.MX = mx
	b.v.Enforces = mode == "enforce"
	b.v.CacheFor = max(maxAge, 0)
	if len(b.notes) > 0 {
		b.v.Reason = strings.Join(b.notes, "; ")
		b.v.Rules = b.rules
	}
}

// acceptUnbounded is accept for the readers that set no upper bound on
// max_age (go-mtasts, mox): one above the RFC's is noted, then taken.
// It returns true, as a reader does when it accepts.
func (b *builder) acceptUnbounded(mode string, maxAge int64, mx []string) bool {
	if maxAge > rfcMaxAge {
		b.note(fmt.Sprintf("accepts max_age %d, over 31557600 (no upper bound)", maxAge), "STS-POL-9")
	}
	b.accept(mode, maxAge, mx)
	return true
}

// maxBody is the 64 KiB body cap the RFC suggests (STS-FETCH-10).
const maxBody = 64 << 10

// rfcMaxAge is the largest max_age RFC 8461 allows (STS-POL-9).
const rfcMaxAge = 31557600

// statusRule is how an implementation treats the HTTP status.
type statusRule int

const (
	only200        statusRule = iota // anything but 200 is a fetch failure
	any2xx                           // mailauth: any 2xx is a policy response
	non200NoPolicy                   // tlspol: anything but 200 means "no policy"
)

// fetchProfile is the part of an implementation's HTTPS fetch that the input
// can exercise (STS-FETCH-5, -6, -9, -10).
type fetchProfile struct {
	timeout     time.Duration
	timeoutText string     // how the timeout reads in a reason, e.g. "4 s"
	bodyCap     int        // bytes; 0 = no cap
	checkType   bool       // requires Content-Type text/plain (missing = fail)
	status      statusRule // how the status is judged
}

// check runs the fetch stage; false means the verdict is final.
func (p fetchProfile) check(in Input, b *builder) bool {
	if !in.Fetched {
		msg := "policy fetch failed"
		if in.FetchError != "" {
			msg += ": " + in.FetchError
		}
		return b.fail(FetchError, msg, "STS-FETCH-11")
	}
	if in.Elapsed >= p.timeout {
		return b.fail(FetchError, fmt.Sprintf("fetch took %s, it gives up after %s", in.Elapsed, p.timeoutText),
			"STS-FETCH-10", "OPS-8")
	}
	if in.Redirect {
		return b.fail(FetchError, fmt.Sprintf("HTTP %d redirect: redirects are never followed", in.Status), "STS-FETCH-6")
	}
	switch p.status {
	case any2xx:
		if in.Status < 200 || in.Status > 299 {
			return b.fail(FetchError, fmt.Sprintf("HTTP status %d is not 2xx", in.Status), "STS-FETCH-5")
		}
		if in.Status != 200 {
			b.note(fmt.Sprintf("accepts HTTP status %d as a policy response (RFC: only 200)", in.Status), "STS-FETCH-5")
		}
	case non200NoPolicy:
		if in.Status != 200 {
			return b.fail(NoPolicy, fmt.Sprintf("HTTP status %d makes it treat the domain as having no policy", in.Status),
				"STS-FETCH-5")
		}
	default:
		if in.Status != 200 {
			return b.fail(FetchError, fmt.Sprintf("HTTP status %d is not 200", in.Status), "STS-FETCH-5")
		}
	}
	switch {
	case isTextPlain(in.ContentType):
		// Fine for everyone.
	case p.checkType:
		return b.fail(Invalid, "Content-Type "+describeType(in.ContentType)+" is not text/plain", "STS-FETCH-9")
	default:
		b.note("does not check Content-Type ("+describeType(in.ContentType)+")", "STS-FETCH-9")
	}
	if len(in.Body) > maxBody {
		if p.bodyCap > 0 && len(in.Body) > p.bodyCap {
			return b.fail(FetchError, fmt.Sprintf("body of %d bytes is over its %d-byte cap", len(in.Body), p.bodyCap),
				"STS-FETCH-10", "STS-POL-19")
		}
		b.note(fmt.Sprintf("reads a body of %d bytes, over the 64 KiB the RFC suggests", len(in.Body)),
			"STS-FETCH-10", "STS-POL-19")
	}
	return true
}

// mediaType returns the lower-cased media type of a Content-Type value, with
// parameters dropped.
func mediaType(ct string) string {
	t, _, _ := strings.Cut(ct, ";")
	return strings.ToLower(strings.TrimSpace(t))
}

func isTextPlain(ct string) bool { return mediaType(ct) == "text/plain" }

func describeType(ct string) string {
	if ct == "" {
		return "header absent"
	}
	return fmt.Sprintf("%q", ct)
}

// charsetParam returns the lower-cased charset parameter of a Content-Type
// value, or "" when there is none.
func charsetParam(ct string) string {
	_, params, _ := strings.Cut(ct, ";")
	for p := range strings.SplitSeq(params, ";") {
		k, v, ok := strings.Cut(p, "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "charset") {
			return strings.ToLower(strings.Trim(strings.TrimSpace(v), `"`))
		}
	}
	return ""
}

// noteLaxID notes an id the reader takes although it is not 1-32 letters
// or digits (STS-TXT-9): those that do not check the id's charset.
func noteLaxID(b *builder, id string) {
	if !reID.MatchString(id) {
		b.note(fmt.Sprintf("accepts TXT id %q, which is not 1-32 letters or digits", clip(id)), "STS-TXT-9")
	}
}

// selectOne returns the one TXT record keep accepts, or fails the verdict
// with NoPolicy unless exactly one is accepted (STS-TXT-4, STS-TXT-5).
func selectOne(b *builder, txt []string, keep func(string) bool, what string) (string, bool) {
	var sel []string
	for _, t := range txt {
		if keep(t) {
			sel = append(sel, t)
		}
	}
	switch len(sel) {
	case 1:
		return sel[0], true
	case 0:
		return "", b.fail(NoPolicy, "no TXT record at _mta-sts starts with "+what, "STS-TXT-4", "STS-TXT-5")
	default:
		return "", b.fail(NoPolicy, fmt.Sprintf("%d TXT records at _mta-sts start with %s", len(sel), what), "STS-TXT-5")
	}
}
