package tlsrpt

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stspilot/stspilot/internal/printable"
	"github.com/stspilot/stspilot/internal/satcount"
)

// Limits of report parsing (RPT-JSON-13: report content is untrusted).
const (
	// DefaultMaxReport caps one report's JSON, after decompression. RFC
	// 8460 notes that receivers commonly reject reports over about 10 MB
	// (RPT-DEL-1); a decompressed report may be a few times that.
	DefaultMaxReport = 32 << 20
	// MaxDepth is the deepest JSON nesting a report may have. A valid
	// report nests 4 levels (report, policies, entry, failure-details
	// entry); 32 leaves room for extensions and stops stack-eating input.
	MaxDepth = 32
	// maxWarnings bounds Report.Warnings.
	maxWarnings = 20
)

// Errors a caller may tell apart with errors.Is.
var (
	// ErrTooLarge: the input (or its decompressed stream) is over the limit.
	ErrTooLarge = errors.New("over the size limit")
	// ErrTooDeep: the JSON nests deeper than MaxDepth.
	ErrTooDeep = errors.New("JSON nests too deep")
	// ErrNotReport: the input is not a TLS-RPT report (not JSON, or
	// JSON without the members every report has).
	ErrNotReport = errors.New("not a TLS-RPT report")
)

// Policy types of RPT-JSON-4.
const (
	PolicySTS           = "sts"
	PolicyTLSA          = "tlsa"
	PolicyNoPolicyFound = "no-policy-found"
)

// Result types of RPT-TYPE-1..11. Others are kept as they come: the
// registry grows by Expert Review.
const (
	ResultSTARTTLSNotSupported    = "starttls-not-supported"
	ResultCertificateHostMismatch = "certificate-host-mismatch"
	ResultCertificateExpired      = "certificate-expired"
	ResultCertificateNotTrusted   = "certificate-not-trusted"
	ResultValidationFailure       = "validation-failure"
	ResultTLSAInvalid             = "tlsa-invalid"
	ResultDNSSECInvalid           = "dnssec-invalid"
	ResultDANERequired            = "dane-required"
	ResultSTSPolicyFetchError     = "sts-policy-fetch-error"
	ResultSTSPolicyInvalid        = "sts-policy-invalid"
	ResultSTSWebPKIInvalid        = "sts-webpki-invalid"
)

// ResultTypes are the result types registered by RFC 8460 (RPT-TYPE-1..11).
var ResultTypes = []string{
	ResultSTARTTLSNotSupported, ResultCertificateHostMismatch, ResultCertificateExpired,
	ResultCertificateNotTrusted, ResultValidationFailure, ResultTLSAInvalid,
	ResultDNSSECInvalid, ResultDANERequired, ResultSTSPolicyFetchError,
	ResultSTSPolicyInvalid, ResultSTSWebPKIInvalid,
}

// KnownResultType reports whether t is one of ResultTypes.
func KnownResultType(t string) bool {
	return slices.Contains(ResultTypes, t)
}

// Report is one RFC 8460 aggregate report (RPT-JSON-2). JSON tags are the
// RFC's member names, so a Report marshals back to the wire shape.
type Report struct {
	OrganizationName string    `json:"organization-name"`
	DateRange        DateRange `json:"date-range"`
	ContactInfo      string    `json:"contact-info,omitempty"`
	ReportID         string    `json:"report-id"`
	Policies         []Result  `json:"policies"`
	// Warnings are the deviations from RFC 8460 the parser tolerated
	// (mx-host as a string, a count written as a string, an end-datetime
	// that is not a day boundary, ...). Not part of the wire format.
	Warnings []string `json:"-"`
}

// DateRange is the period a report covers (RPT-JSON-2, RPT-JSON-11).
type DateRange struct {
	Start time.Time `json:"start-datetime"`
	End   time.Time `json:"end-datetime"`
}

// Day is the UTC day a report covers: the day of its start (RPT-JSON-11:
// one whole UTC day, ending at 23:59:59Z or at the next 00:00:00Z).
func (d DateRange) Day() time.Time {
	s := d.Start.UTC()
	return time.Date(s.Year(), s.Month(), s.Day(), 0, 0, 0, 0, time.UTC)
}

// EndExclusive is the end of the range as an exclusive bound: an end of
// 23:59:59 (any fraction) counts as the next second's 00:00:00.
func (d DateRange) EndExclusive() time.Time {
	e := d.End.UTC()
	if e.Hour() == 23 && e.Minute() == 59 && e.Second() == 59 {
		return e.Truncate(time.Second).Add(time.Second)
	}
	return e
}

// Result is one entry of policies[] (RPT-JSON-3): the policy a sender
// applied, how many sessions succeeded and failed under it, and the
// failures in detail.
type Result struct {
	Policy         Policy          `json:"policy"`
	Summary        Summary         `json:"summary"`
	FailureDetails []FailureDetail `json:"failure-details,omitempty"`
}

// Policy is what the sender saw (RPT-JSON-4..7).
type Policy struct {
	// Type is sts, tlsa or no-policy-found (others kept as they come).
	Type string `json:"policy-type"`
	// String is the policy as lines: for sts one element per policy line
	// ("mode: testing", "mx: mx1.example.com", ...). Missing: nil.
	String []string `json:"policy-string,omitempty"`
	// Domain is the policy domain (A-label).
	Domain string `json:"policy-domain"`
	// MXHost are the policy's mx patterns; a bare string (the RFC's own
	// example, erratum E6241) becomes one element.
	MXHost []string `json:"mx-host,omitempty"`
}

// Text is the policy text the report carries, one line per element of
// String joined with CRLF, as RFC 8461 §3.2 writes the policy file; ""
// when the report carries none.
func (p Policy) Text() string { return strings.Join(p.String, "\r\n") }

// Field is the value of the first line "key: value" of the policy string
// (RFC 8461 keys: version, mode, max_age, mx); ok is false when absent.
func (p Policy) Field(key string) (string, bool) {
	for _, l := range p.String {
		k, v, found := strings.Cut(l, ":")
		if found && strings.EqualFold(strings.TrimSpace(k), key) {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}

// Mode is the policy string's mode ("" when absent).
func (p Policy) Mode() string { m, _ := p.Field("mode"); return m }

// MaxAge is the policy string's max_age (-1 when absent or not a number).
func (p Policy) MaxAge() int64 {
	v, ok := p.Field("max_age")
	if !ok {
		return -1
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return -1
	}
	return n
}

// Patterns are the mx patterns of the policy: the mx lines of the policy
// string, else MXHost.
func (p Policy) Patterns() []string {
	var out []string
	for _, l := range p.String {
		k, v, found := strings.Cut(l, ":")
		if found && strings.EqualFold(strings.TrimSpace(k), "mx") {
			out = append(out, strings.TrimSpace(v))
		}
	}
	if len(out) == 0 {
		out = append(out, p.MXHost...)
	}
	return out
}

// Summary holds the session counts of one policy (RPT-JSON-8).
type Summary struct {
	Successful int64 `json:"total-successful-session-count"`
	Failure    int64 `json:"total-failure-session-count"`
}

// FailureDetail is one entry of failure-details[] (RPT-JSON-9). Every
// field but ResultType may be empty: real reporters leave them out or
// send "" (Google's sending-mta-ip, PR33).
type FailureDetail struct {
	ResultType            string `json:"result-type"`
	SendingMTAIP          string `json:"sending-mta-ip,omitempty"`
	ReceivingMXHostname   string `json:"receiving-mx-hostname,omitempty"`
	ReceivingMXHelo       string `json:"receiving-mx-helo,omitempty"`
	ReceivingIP           string `json:"receiving-ip,omitempty"`
	FailedSessionCount    int64  `json:"failed-session-count"`
	AdditionalInformation string `json:"additional-information,omitempty"`
	FailureReasonCode     string `json:"failure-reason-code,omitempty"`
}

// Key identifies a report for de-duplication: the same report-id from the
// same organisation is one report however many times it arrived (by mail
// and HTTPS, to two rua destinations, RPT-REC-5).
func (r *Report) Key() string {
	return strings.ToLower(strings.TrimSpace(r.OrganizationName)) + "\x00" + strings.TrimSpace(r.ReportID)
}

// Sessions returns the report's total successful and failed sessions
// (sums saturate at satcount.Max, never wrap around).
func (r *Report) Sessions() (ok, failed int64) {
	for _, p := range r.Policies {
		ok = satcount.Add(ok, p.Summary.Successful)
		failed = satcount.Add(failed, p.Summary.Failure)
	}
	return ok, failed
}

// Failures is the failed sessions a policies[] entry reports: its
// summary's count, or the sum of its failure details when that is more
// (a report may detail failures its summary leaves out).
func (p Result) Failures() int64 {
	var d int64
	for _, f := range p.FailureDetails {
		d = satcount.Add(d, f.FailedSessionCount)
	}
	return max(p.Summary.Failure, d)
}

// Failures is the failed sessions of the whole report (Result.Failures
// of every entry, saturating): the default rank of Walk among differing
// copies of one report.
func (r *Report) Failures() int64 {
	var n int64
	for _, p := range r.Policies {
		n = satcount.Add(n, p.Failures())
	}
	return n
}

// Parse parses one report's JSON (RPT-JSON-1..11). It is tolerant where
// real reporters deviate and says so in Report.Warnings:
//   - mx-host as a string or an array (RPT-JSON-7, E6241);
//   - any failure-details field missing or empty (RPT-JSON-9);
//   - policy-string missing (no-policy-found);
//   - numbers written as strings ("12");
//   - unknown policy and result types, kept as they come (RPT-TYPE);
//   - end-datetime at 23:59:59Z or at the next 00:00:00Z (RPT-JSON-11);
//   - invalid UTF-8, replaced by U+FFFD.
//
// It refuses, with an error wrapping ErrNotReport: anything but one JSON
// object; a missing or empty organization-name or report-id; a missing or
// unreadable date-range; a missing policies array; a policy without
// policy-type; negative counts; more than 1,000 policies[] entries or
// policy-string lines. JSON nested deeper than MaxDepth fails with
// ErrTooDeep before it is decoded. Parse never panics.
//
// Failure details are folded as they are read: entries that differ only
// in failed-session-count become one (counts added, saturating), and
// past 1,000 distinct entries in a report the rest are added up under
// coarser keys, their addresses, helo and additional information (then
// MX and reason code, then result type) replaced by OtherKey, with a
// warning. No failed session is lost; memory stays bounded.
func Parse(data []byte) (*Report, error) {
	if err := checkDepth(data, MaxDepth); err != nil {
		return nil, err
	}
	if !utf8.Valid(data) {
		data = bytes.ToValidUTF8(data, []byte("\uFFFD"))
	}
	return parseJSON(bytes.NewReader(data))
}

// ParseReport reads one report from r: gzip (recognised by its first
// bytes 1f 8b, RPT-DEL-12) or JSON, at most limit bytes of JSON after
// decompression (limit <= 0: DefaultMaxReport). It streams: the JSON is
// parsed as it is read (and decompressed), never held whole, and
// failure-details are folded as they pass (see Parse), so that memory
// stays small whatever the report. Over the limit it fails with
// ErrTooLarge without reading further. A receiver can hand it a request
// body as it arrives.
func ParseReport(r io.Reader, limit int64) (*Report, error) {
	return parseReport(r, limit, nil)
}

// ReadJSON returns the report bytes of r: r's content decompressed when it
// starts with the gzip magic bytes, else as is; at most limit bytes
// (limit <= 0: DefaultMaxReport), else ErrTooLarge.
func ReadJSON(r io.Reader, limit int64) ([]byte, error) {
	if limit <= 0 {
		limit = DefaultMaxReport
	}
	br := bufio.NewReader(r)
	head, _ := br.Peek(2)
	if isGzip(head) {
		return DecodeGzip(br, limit)
	}
	return readCapped(br, limit)
}

// DecodeGzip decompresses r (one or more gzip members) and returns at most
// limit bytes (limit <= 0: DefaultMaxReport); a longer stream fails with
// ErrTooLarge, a truncated or corrupt one with the gzip error.
func DecodeGzip(r io.Reader, limit int64) ([]byte, error) {
	if limit <= 0 {
		limit = DefaultMaxReport
	}
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	defer zr.Close()
	data, err := readCapped(zr, limit)
	if err != nil {
		if errors.Is(err, ErrTooLarge) {
			return nil, fmt.Errorf("gzip: decompressed %w of %d bytes", ErrTooLarge, limit)
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, errors.New("gzip: truncated stream")
		}
		return nil, fmt.Errorf("gzip: %w", err)
	}
	return data, nil
}

// readCapped reads all of r, failing with ErrTooLarge past limit bytes.
func readCapped(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w of %d bytes", ErrTooLarge, limit)
	}
	return data, nil
}

// checkDepth fails with ErrTooDeep when data nests arrays and objects
// deeper than maxDepth, looking only at brackets outside strings.
func checkDepth(data []byte, maxDepth int) error {
	depth, inStr, esc := 0, false, false
	for _, c := range data {
		switch {
		case inStr:
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
		case c == '"':
			inStr = true
		case c == '{' || c == '[':
			depth++
			if depth > maxDepth {
				return fmt.Errorf("%w: deeper than %d levels (RPT-JSON-13)", ErrTooDeep, maxDepth)
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return nil
}

func jsonError(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s at byte %d", se.Error(), se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field != "" {
			return fmt.Sprintf("%s is a JSON %s, not a %s", te.Field, te.Value, te.Type)
		}
		return fmt.Sprintf("a JSON %s where a %s belongs", te.Value, te.Type)
	}
	if errors.Is(err, io.EOF) {
		return "empty input"
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return "truncated"
	}
	return printable.Shorten(err.Error(), 200, "...")
}

// The wire shapes: every member optional and loosely typed, so that the
// parser (stream.go) can say exactly what is missing and tolerate what
// real reporters send.
type wireDateRange struct {
	Start flexString `json:"start-datetime"`
	End   flexString `json:"end-datetime"`
}

type wirePolicy struct {
	Type   flexString  `json:"policy-type"`
	String flexStrings `json:"policy-string"`
	Domain flexString  `json:"policy-domain"`
	MXHost flexStrings `json:"mx-host"`
}

type wireSummary struct {
	OK   *flexInt `json:"total-successful-session-count"`
	Fail *flexInt `json:"total-failure-session-count"`
}

type wireDetail struct {
	ResultType   flexString `json:"result-type"`
	SendingIP    flexString `json:"sending-mta-ip"`
	MXHostname   flexString `json:"receiving-mx-hostname"`
	MXHelo       flexString `json:"receiving-mx-helo"`
	ReceivingIP  flexString `json:"receiving-ip"`
	Count        *flexInt   `json:"failed-session-count"`
	AddInfo      flexString `json:"additional-information"`
	AddInfoURI   flexString `json:"additional-info-uri"`
	ReasonCode   flexString `json:"failure-reason-code"`
	ReasonCodeUS flexString `json:"failure_reason_code"`
}

// flexString takes a string, a number or a boolean (kept as written), or
// null (empty). Anything else is a type error.
type flexString struct {
	s      string
	quoted bool // was a JSON string
}

func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*f = flexString{}
	case b[0] == '"':
		s, err := unquote(b)
		if err != nil {
			return err
		}
		*f = flexString{s: s, quoted: true}
	case b[0] == '{' || b[0] == '[':
		return errors.New("an object or array where a string belongs")
	default:
		*f = flexString{s: string(b)}
	}
	return nil
}

// unquote decodes a JSON string literal. The decoder has checked its
// syntax; one without escapes in valid UTF-8 is its own content, which
// saves encoding/json's round trip for almost every string of a report.
func unquote(b []byte) (string, error) {
	if len(b) >= 2 && b[len(b)-1] == '"' && bytes.IndexByte(b[1:len(b)-1], '\\') < 0 && utf8.Valid(b) {
		return string(b[1 : len(b)-1]), nil
	}
	var s string
	err := json.Unmarshal(b, &s)
	return s, err
}

// flexStrings takes an array of strings, one string, or null. Elements
// that are not strings are written as their JSON text.
type flexStrings struct {
	v       []string
	present bool
	wasBare bool // a bare string, not an array
}

func (f *flexStrings) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	*f = flexStrings{present: true}
	switch {
	case string(b) == "null":
		f.present = false
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		f.v, f.wasBare = []string{s}, true
	case len(b) > 0 && b[0] == '[':
		var raw []flexString
		if err := json.Unmarshal(b, &raw); err != nil {
			return errors.New("an array holding something other than strings")
		}
		for _, r := range raw {
			f.v = append(f.v, r.s)
		}
	default:
		return errors.New("neither a string nor an array of strings")
	}
	return nil
}

// flexInt takes a JSON integer or a string holding one. An integer past
// the range of int64 (2^63 failed sessions, 1e30) is still a count: it
// saturates at satcount.Max (saturated), and a negative one at
// math.MinInt64 (refused as negative), rather than failing the report.
type flexInt struct {
	n         int64
	quoted    bool
	saturated bool
}

func (f *flexInt) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	s := string(b)
	if s == "null" {
		*f = flexInt{}
		return nil
	}
	quoted := false
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		s, quoted = strings.TrimSpace(s), true
	}
	n, err := strconv.ParseInt(s, 10, 64)
	saturated := false
	switch {
	case err == nil:
	case errors.Is(err, strconv.ErrRange):
		// An integer past int64: ParseInt returns the bound it passed.
		saturated = n > 0
	default:
		// 12.0 and 1e3 are integers written oddly; 12.5 is not. Past
		// ±2^63 (1e30, or 1e400, out of float64's range too) the
		// value is an integer far out of int64's range.
		fl, ferr := strconv.ParseFloat(s, 64)
		switch {
		case ferr != nil && !errors.Is(ferr, strconv.ErrRange),
			ferr == nil && math.IsInf(fl, 0), fl != math.Trunc(fl):
			return fmt.Errorf("%s is not an integer", printable.Shorten(s, 40, "..."))
		case fl >= 1<<63:
			n, saturated = satcount.Max, true
		case fl < -(1 << 63):
			n = math.MinInt64
		default:
			n = int64(fl)
		}
	}
	*f = flexInt{n: n, quoted: quoted, saturated: saturated}
	return nil
}

type warnings struct{ w []string }

func (ws *warnings) add(format string, a ...any) {
	if len(ws.w) < maxWarnings {
		ws.w = append(ws.w, fmt.Sprintf(format, a...))
	} else if len(ws.w) == maxWarnings {
		ws.w = append(ws.w, "more deviations not listed")
	}
}

// timeLayouts are the date-time forms accepted: RFC 3339 (RPT-JSON-2),
// then forms seen from sloppy generators.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05",
	"2006-01-02",
}

func parseTime(s string) (time.Time, bool, error) {
	s = strings.TrimSpace(s)
	for i, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), i == 0, nil
		}
	}
	return time.Time{}, false, fmt.Errorf("%q is not an RFC 3339 date-time", printable.Shorten(s, 40, "..."))
}

func firstNonEmpty(a, b string) string {
	if strings.TrimSpace(a) != "" {
		return a
	}
	return b
}
