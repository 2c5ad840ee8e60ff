package tlsrpt

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/stspilot/stspilot/internal/domainname"
	"github.com/stspilot/stspilot/internal/printable"
	"github.com/stspilot/stspilot/internal/satcount"
)

// The streaming report parser. A report is read token by token
// (json.Decoder.Token), one failure-details entry at a time, so that
// memory does not grow with the report: identical failure details are
// folded into one entry as they stream by (their counts added), and past
// maxDetails distinct entries in a report the rest are added up under
// coarser keys (see foldKey). What is kept of a report is bounded whatever
// the input; the input is bounded by the caller's cap (ParseReport's
// limit, a message's MaxMessage) and never held whole.

// Bounds of one parsed report.
const (
	// maxPolicies caps the policies[] entries of a report; a real one has
	// a handful (one per policy and domain).
	maxPolicies = 1000
	// maxPolicyLines caps the lines of a policy-string and the names of
	// an mx-host (a real policy has a few).
	maxPolicyLines = 1000
	// maxDetails is how many distinct failure-details entries a report
	// keeps as they are; past it, new ones are folded under coarser keys:
	// first without the addresses, helo and additional information (up
	// to maxDetails*3/2 entries), then also without MX and reason code
	// (up to maxDetails*2), then all under OtherKey (one per policy).
	maxDetails = 1000
)

// guardReader is what the JSON decoder reads through: it counts the
// bytes against the report's limit and the message's budget, refuses
// nesting deeper than MaxDepth as the bytes pass (brackets outside
// strings), and remembers the source's own errors (gzip, I/O) so that
// they are not taken for JSON syntax errors.
type guardReader struct {
	r      io.Reader
	limit  int64 // < 0: none
	n      int64
	budget *messageBudget
	depth  int
	lex    JSONLexer
	// err is the guard's refusal (size, depth), srcErr the source's
	// error other than io.EOF.
	err, srcErr error
	tooLarge    bool
}

func (g *guardReader) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	n, err := g.r.Read(p)
	for i, c := range p[:n] {
		if g.lex.InString(c) {
			continue
		}
		switch c {
		case '{', '[':
			g.depth++
			if g.depth > MaxDepth {
				g.err = fmt.Errorf("%w: deeper than %d levels (RPT-JSON-13)", ErrTooDeep, MaxDepth)
				return i, g.err
			}
		case '}', ']':
			g.depth--
		}
	}
	g.n += int64(n)
	if g.limit >= 0 && g.n > g.limit {
		g.err, g.tooLarge = ErrTooLarge, true
		return n, g.err
	}
	if g.budget != nil {
		g.budget.left -= int64(n)
		if g.budget.left < 0 {
			g.err = fmt.Errorf("%w: the reports of this message decode to more than %d bytes in all; the rest of it is not read", ErrTooLarge, g.budget.max)
			return n, g.err
		}
	}
	if err != nil && err != io.EOF {
		g.srcErr = err
	}
	return n, err
}

// JSONLexer follows JSON text a byte at a time just far enough to tell
// the bytes of its strings from the rest: the one piece of lexing that a
// guard over a stream of report JSON needs (guardReader here counting
// brackets, the report receiver's in workflow/serve folding blanks and
// capping strings), so that no string content is taken for structure.
// Its zero value is outside any string.
type JSONLexer struct{ inStr, esc bool }

// InString takes the next byte c and reports whether it belongs to a
// string past its opening quote: its content, escapes included, and its
// closing quote. An opening quote returns false (it starts the string).
func (l *JSONLexer) InString(c byte) bool {
	if !l.inStr {
		l.inStr = c == '"'
		return false
	}
	switch {
	case l.esc:
		l.esc = false
	case c == '\\':
		l.esc = true
	case c == '"':
		l.inStr = false
	}
	return true
}

// messageBudget is the decoded bytes the reports of one message may
// still take (Options.MaxMessage).
type messageBudget struct{ left, max int64 }

func (b *messageBudget) spent() bool { return b != nil && b.left < 0 }

// parseReport reads one report from r, gzip (by its magic bytes) or
// JSON, streaming: at most limit bytes of JSON (<= 0: DefaultMaxReport),
// counted against budget too when it is not nil.
func parseReport(r io.Reader, limit int64, budget *messageBudget) (*Report, error) {
	if limit <= 0 {
		limit = DefaultMaxReport
	}
	br := bufio.NewReader(r)
	head, _ := br.Peek(2)
	gz := isGzip(head)
	var src io.Reader = br
	if gz {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		defer zr.Close()
		src = zr
	}
	g := &guardReader{r: src, limit: limit, budget: budget}
	rep, err := parseJSON(g)
	if err != nil && g.err == nil && g.srcErr == nil {
		// Input over the limit is refused as such, whatever else is
		// wrong with it (as if it had been read whole first): read on,
		// without keeping anything, to the limit at most.
		_, _ = io.Copy(io.Discard, g)
	}
	switch {
	case g.tooLarge && gz:
		return nil, fmt.Errorf("gzip: decompressed %w of %d bytes", ErrTooLarge, limit)
	case g.tooLarge:
		return nil, fmt.Errorf("%w of %d bytes", ErrTooLarge, limit)
	case g.err != nil:
		return nil, g.err
	case g.srcErr != nil && gz:
		if errors.Is(g.srcErr, io.ErrUnexpectedEOF) {
			return nil, errors.New("gzip: truncated stream")
		}
		return nil, fmt.Errorf("gzip: %w", g.srcErr)
	case g.srcErr != nil:
		return nil, g.srcErr
	case err != nil:
		return nil, err
	}
	return rep, nil
}

// parser is the state of one report's streaming parse.
type parser struct {
	dec *json.Decoder
	// pws are the warnings about policies[] (the report's own come first).
	pws warnings
	// details counts the distinct failure-details entries kept in the
	// report; folded is set once entries were folded past maxDetails.
	details int
	folded  bool
}

func notReport(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrNotReport}, a...)...)
}

// jsonErr is a JSON error past the first token: the input ending there
// is truncated, not empty.
func jsonErr(err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return notReport("JSON: %s", jsonError(err))
}

// memberErr is a decoding error of a member value.
func memberErr(name string, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return jsonErr(err)
	}
	return notReport("JSON: %s: %s", name, jsonError(err))
}

func tokenKind(tok any) string {
	switch t := tok.(type) {
	case json.Delim:
		if t == '[' {
			return "array"
		}
		return "object"
	case string:
		return "string"
	case json.Number, float64:
		return "number"
	case bool:
		return "boolean"
	case nil:
		return "null"
	}
	return "value"
}

// parseJSON parses one report's JSON from r (Parse's rules).
func parseJSON(r io.Reader) (*Report, error) {
	p := &parser{dec: json.NewDecoder(r)}
	p.dec.UseNumber()
	tok, err := p.dec.Token()
	if err != nil {
		return nil, notReport("JSON: %s", jsonError(err)) // "empty input" at io.EOF
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, notReport("JSON: a JSON %s where a report object belongs", tokenKind(tok))
	}
	var org, id, contact flexString
	var haveOrg, haveID bool
	var dr *wireDateRange
	var policies []Result
	err = p.members(func(key string) (err error) {
		switch {
		case strings.EqualFold(key, "organization-name"):
			org, haveOrg = flexString{}, true
			return p.decode(key, &org)
		case strings.EqualFold(key, "report-id"):
			id, haveID = flexString{}, true
			return p.decode(key, &id)
		case strings.EqualFold(key, "contact-info"):
			contact = flexString{}
			return p.decode(key, &contact)
		case strings.EqualFold(key, "date-range"):
			dr = nil
			return p.decode(key, &dr)
		case strings.EqualFold(key, "policies"):
			// A repeated member: the last one counts, as in encoding/json.
			p.details, p.folded, p.pws = 0, false, warnings{}
			policies, err = p.policies()
			return err
		}
		return p.skip()
	})
	if err != nil {
		return nil, err
	}
	if _, err = p.dec.Token(); err != io.EOF {
		return nil, notReport("more than one JSON value (RPT-JSON-1)")
	}

	var ws warnings
	r2 := &Report{}
	switch {
	case !haveOrg || strings.TrimSpace(org.s) == "":
		return nil, notReport("organization-name missing (RPT-JSON-2)")
	case !haveID || strings.TrimSpace(id.s) == "":
		return nil, notReport("report-id missing (RPT-JSON-2)")
	case dr == nil:
		return nil, notReport("date-range missing (RPT-JSON-2)")
	case policies == nil:
		return nil, notReport("policies missing (RPT-JSON-3)")
	}
	r2.OrganizationName = strings.TrimSpace(org.s)
	r2.ReportID = strings.TrimSpace(id.s)
	r2.ContactInfo = strings.TrimSpace(contact.s)
	start, strict1, err := parseTime(dr.Start.s)
	if err != nil {
		return nil, notReport("date-range start-datetime: %v", err)
	}
	end, strict2, err := parseTime(dr.End.s)
	if err != nil {
		return nil, notReport("date-range end-datetime: %v", err)
	}
	if !strict1 || !strict2 {
		ws.add("date-range is not in RFC 3339 form (RPT-JSON-2)")
	}
	if _, err := time.Parse(time.DateOnly, strings.TrimSpace(dr.End.s)); err == nil {
		// A bare date as the end is that whole day: the range ends at
		// the next midnight, so that a failure late that day is not read
		// as before a soak that began during it.
		end = end.Add(24 * time.Hour)
	}
	r2.DateRange = DateRange{Start: start, End: end}
	if r2.DateRange.EndExclusive().Before(start) {
		return nil, notReport("date-range ends before it starts")
	}
	if ex := r2.DateRange.EndExclusive(); !start.Equal(r2.DateRange.Day()) || !ex.Equal(r2.DateRange.Day().Add(24*time.Hour)) {
		ws.add("date-range %s..%s is not one whole UTC day (RPT-JSON-11)", start.Format(time.RFC3339), end.Format(time.RFC3339))
	}
	if p.folded {
		ws.add("failure-details: more than %d distinct entries; the rest are added up with fields replaced by %s", maxDetails, OtherKey)
	}
	for _, w := range p.pws.w {
		ws.add("%s", w)
	}
	r2.Policies = policies
	r2.Warnings = ws.w
	return r2, nil
}

// key reads an object member's name.
func (p *parser) key() (string, error) {
	tok, err := p.dec.Token()
	if err != nil {
		return "", jsonErr(err)
	}
	k, ok := tok.(string)
	if !ok {
		return "", notReport("JSON: a member name expected")
	}
	return k, nil
}

// members reads the members of the object whose '{' was just read, up to
// and including its '}': each member's name, then f, which reads (or
// skips) its value. It stops at the first error.
func (p *parser) members(f func(key string) error) error {
	for p.dec.More() {
		key, err := p.key()
		if err != nil {
			return err
		}
		if err := f(key); err != nil {
			return err
		}
	}
	return p.close()
}

// decode decodes the next value (a small one: a string, a number, the
// date-range or summary object) into v.
func (p *parser) decode(name string, v any) error {
	if err := p.dec.Decode(v); err != nil {
		return memberErr(name, err)
	}
	return nil
}

// skip reads past the next value, token by token.
func (p *parser) skip() error {
	depth := 0
	for {
		tok, err := p.dec.Token()
		if err != nil {
			return jsonErr(err)
		}
		if d, ok := tok.(json.Delim); ok {
			if d == '{' || d == '[' {
				depth++
			} else {
				depth--
			}
		}
		if depth == 0 {
			return nil
		}
	}
}

// open reads the next token: the opening delimiter want (true), null
// (false), or anything else (an error naming what).
func (p *parser) open(want json.Delim, what string) (bool, error) {
	tok, err := p.dec.Token()
	if err != nil {
		return false, jsonErr(err)
	}
	if tok == nil {
		return false, nil
	}
	if d, ok := tok.(json.Delim); ok && d == want {
		return true, nil
	}
	kind := "an array"
	if want == '{' {
		kind = "an object"
	}
	return false, notReport("JSON: %s is a JSON %s, not %s", what, tokenKind(tok), kind)
}

// close reads the closing delimiter of an object or array.
func (p *parser) close() error {
	if _, err := p.dec.Token(); err != nil {
		return jsonErr(err)
	}
	return nil
}

// policies reads policies[]: nil when null (missing), else the entries.
func (p *parser) policies() ([]Result, error) {
	ok, err := p.open('[', "policies")
	if err != nil || !ok {
		return nil, err
	}
	out := []Result{}
	for i := 0; p.dec.More(); i++ {
		if i >= maxPolicies {
			return nil, notReport("more than %d policies entries", maxPolicies)
		}
		res, err := p.policy(i)
		if err != nil {
			return nil, err
		}
		out = append(out, res)
	}
	return out, p.close()
}

// policy reads policies[i] (RPT-JSON-3..9).
func (p *parser) policy(i int) (Result, error) {
	var res Result
	ok, err := p.open('{', fmt.Sprintf("policies[%d]", i))
	if err != nil {
		return res, err
	}
	if !ok {
		return res, notReport("policies[%d]: policy missing (RPT-JSON-3)", i)
	}
	var pol *wirePolicy
	var sum *wireSummary
	var haveSummary bool
	var ws warnings // the details' warnings, after the policy's own
	fold := map[FailureDetail]int{}
	err = p.members(func(key string) (err error) {
		switch {
		case strings.EqualFold(key, "policy"):
			pol, err = p.policyObj(i)
			return err
		case strings.EqualFold(key, "summary"):
			sum, haveSummary = nil, true
			return p.decode(key, &sum)
		case strings.EqualFold(key, "failure-details"):
			// A repeated member: the last one counts.
			p.details -= len(res.FailureDetails)
			res.FailureDetails, ws = nil, warnings{}
			clear(fold)
			return p.failureDetails(i, &res, fold, &ws)
		}
		return p.skip()
	})
	if err != nil {
		return res, err
	}
	switch {
	case pol == nil:
		return res, notReport("policies[%d]: policy missing (RPT-JSON-3)", i)
	case strings.TrimSpace(pol.Type.s) == "":
		return res, notReport("policies[%d]: policy-type missing (RPT-JSON-4)", i)
	}
	res.Policy.Type = strings.TrimSpace(pol.Type.s)
	for _, known := range []string{PolicySTS, PolicyTLSA, PolicyNoPolicyFound} {
		if res.Policy.Type != known && strings.EqualFold(res.Policy.Type, known) {
			// "STS" is sts: an entry of the current policy must not
			// pass for one of an unknown type.
			p.pws.add("policies[%d]: policy-type %q taken as %q (RPT-JSON-4)", i, res.Policy.Type, known)
			res.Policy.Type = known
		}
	}
	res.Policy.Domain = domainname.FoldIDN(strings.TrimSpace(pol.Domain.s))
	lines, split, err := policyLines(pol.String.v)
	if err != nil {
		return res, notReport("policies[%d]: %v", i, err)
	}
	res.Policy.String = lines
	res.Policy.MXHost = pol.MXHost.v
	if res.Policy.Type != PolicySTS && res.Policy.Type != PolicyTLSA && res.Policy.Type != PolicyNoPolicyFound {
		p.pws.add("policies[%d]: unknown policy-type %q kept as is (RPT-JSON-4)", i, printable.Shorten(res.Policy.Type, 40, "..."))
	}
	if res.Policy.Domain == "" {
		p.pws.add("policies[%d]: policy-domain missing (RPT-JSON-6)", i)
	}
	if res.Policy.Type == PolicySTS && !pol.String.present {
		p.pws.add("policies[%d]: policy-string missing (RPT-JSON-5)", i)
	}
	if pol.String.wasBare {
		p.pws.add("policies[%d]: policy-string is a string, not an array (RPT-JSON-5)", i)
	}
	if split {
		p.pws.add("policies[%d]: policy-string holds several lines in one string, taken one per line (RPT-JSON-5)", i)
	}
	if pol.MXHost.wasBare {
		p.pws.add("policies[%d]: mx-host is a string, not an array (RPT-JSON-7, erratum E6241)", i)
	}
	if !haveSummary || sum == nil {
		p.pws.add("policies[%d]: summary missing, counted as 0 sessions (RPT-JSON-8)", i)
	} else {
		for _, c := range []struct {
			f    *flexInt
			name string
			dst  *int64
		}{{sum.OK, "total-successful-session-count", &res.Summary.Successful}, {sum.Fail, "total-failure-session-count", &res.Summary.Failure}} {
			switch {
			case c.f == nil:
				p.pws.add("policies[%d]: %s missing, counted as 0 (RPT-JSON-8)", i, c.name)
			case c.f.n < 0:
				return res, notReport("policies[%d]: %s is negative", i, c.name)
			default:
				if c.f.quoted {
					p.pws.add("policies[%d]: %s is a string, not a number (RPT-JSON-8)", i, c.name)
				}
				if c.f.saturated {
					p.pws.add("policies[%d]: %s is past %d, counted as %d", i, c.name, satcount.Max, satcount.Max)
				}
				*c.dst = c.f.n
			}
		}
	}
	for _, w := range ws.w {
		p.pws.add("%s", w)
	}
	return res, nil
}

// policyLines is a policy-string one line per element (RPT-JSON-5): an
// element holding line breaks (the whole policy as one text, as a bare
// string or in an array) becomes its non-empty lines, so that the policy
// it names is read (Policy.Field, SamePolicy) rather than taken for a
// line without a key. split says whether any was; more than
// maxPolicyLines lines in all is an error.
func policyLines(v []string) (lines []string, split bool, err error) {
	for _, e := range v {
		if !strings.ContainsAny(e, "\r\n") {
			lines = append(lines, e)
		} else {
			split = true
			for l := range strings.FieldsFuncSeq(e, func(r rune) bool { return r == '\r' || r == '\n' }) {
				if strings.TrimSpace(l) != "" {
					lines = append(lines, l)
				}
				if len(lines) > maxPolicyLines {
					break
				}
			}
		}
		if len(lines) > maxPolicyLines {
			return nil, false, fmt.Errorf("policy-string: more than %d lines", maxPolicyLines)
		}
	}
	return lines, split, nil
}

// policyObj reads a policy object (RPT-JSON-4..7); nil when null.
func (p *parser) policyObj(i int) (*wirePolicy, error) {
	ok, err := p.open('{', fmt.Sprintf("policies[%d].policy", i))
	if err != nil || !ok {
		return nil, err
	}
	pol := &wirePolicy{}
	err = p.members(func(key string) (err error) {
		switch {
		case strings.EqualFold(key, "policy-type"):
			pol.Type = flexString{}
			return p.decode(key, &pol.Type)
		case strings.EqualFold(key, "policy-domain"):
			pol.Domain = flexString{}
			return p.decode(key, &pol.Domain)
		case strings.EqualFold(key, "policy-string"):
			pol.String, err = p.strings(key)
			return err
		case strings.EqualFold(key, "mx-host"):
			pol.MXHost, err = p.strings(key)
			return err
		}
		return p.skip()
	})
	if err != nil {
		return nil, err
	}
	return pol, nil
}

// strings reads a string or an array of strings (flexStrings' rules),
// at most maxPolicyLines of them.
func (p *parser) strings(name string) (flexStrings, error) {
	tok, err := p.dec.Token()
	if err != nil {
		return flexStrings{}, jsonErr(err)
	}
	switch t := tok.(type) {
	case nil:
		return flexStrings{}, nil
	case string:
		return flexStrings{v: []string{t}, present: true, wasBare: true}, nil
	case json.Delim:
		if t != '[' {
			break
		}
		f := flexStrings{present: true}
		for p.dec.More() {
			if len(f.v) >= maxPolicyLines {
				return f, notReport("%s: more than %d elements", name, maxPolicyLines)
			}
			tok, err := p.dec.Token()
			if err != nil {
				return f, jsonErr(err)
			}
			switch e := tok.(type) {
			case string:
				f.v = append(f.v, e)
			case json.Number:
				f.v = append(f.v, e.String())
			case bool:
				f.v = append(f.v, fmt.Sprint(e))
			case nil:
				f.v = append(f.v, "")
			default:
				return f, notReport("JSON: %s: an array holding something other than strings", name)
			}
		}
		return f, p.close()
	}
	return flexStrings{}, notReport("JSON: %s: neither a string nor an array of strings", name)
}

// failureDetails reads policies[i].failure-details one entry at a time
// into res, folding as it goes (see foldKey).
func (p *parser) failureDetails(i int, res *Result, fold map[FailureDetail]int, ws *warnings) error {
	ok, err := p.open('[', fmt.Sprintf("policies[%d].failure-details", i))
	if err != nil || !ok {
		return err
	}
	for j := 0; p.dec.More(); j++ {
		var wd *wireDetail
		if err := p.dec.Decode(&wd); err != nil {
			return memberErr(fmt.Sprintf("policies[%d].failure-details[%d]", i, j), err)
		}
		if wd == nil {
			continue
		}
		d := FailureDetail{
			ResultType:            strings.TrimSpace(wd.ResultType.s),
			SendingMTAIP:          strings.TrimSpace(wd.SendingIP.s),
			ReceivingMXHostname:   domainname.Fold(strings.TrimSpace(wd.MXHostname.s)),
			ReceivingMXHelo:       strings.TrimSpace(wd.MXHelo.s),
			ReceivingIP:           strings.TrimSpace(wd.ReceivingIP.s),
			AdditionalInformation: strings.TrimSpace(firstNonEmpty(wd.AddInfo.s, wd.AddInfoURI.s)),
			FailureReasonCode:     strings.TrimSpace(firstNonEmpty(wd.ReasonCode.s, wd.ReasonCodeUS.s)),
		}
		if d.ResultType == "" {
			ws.add("policies[%d].failure-details[%d]: result-type missing (RPT-JSON-9)", i, j)
			d.ResultType = "unknown"
		} else if !KnownResultType(d.ResultType) {
			ws.add("policies[%d].failure-details[%d]: unregistered result-type %q kept as is (RPT-TYPE)", i, j, printable.Shorten(d.ResultType, 40, "..."))
		}
		switch {
		case wd.Count == nil:
			ws.add("policies[%d].failure-details[%d]: failed-session-count missing, counted as 0 (RPT-JSON-9)", i, j)
		case wd.Count.n < 0:
			return notReport("policies[%d].failure-details[%d]: failed-session-count is negative", i, j)
		default:
			if wd.Count.quoted {
				ws.add("policies[%d].failure-details[%d]: failed-session-count is a string, not a number (RPT-JSON-9)", i, j)
			}
			if wd.Count.saturated {
				ws.add("policies[%d].failure-details[%d]: failed-session-count is past %d, counted as %d", i, j, satcount.Max, satcount.Max)
			}
			d.FailedSessionCount = wd.Count.n
		}
		p.fold(res, fold, d)
	}
	return p.close()
}

// foldLevels are the report-wide numbers of distinct entries under which
// a new entry may still be kept at each level of foldKey; the last level
// is always taken (one entry per policy).
var foldLevels = [...]int{maxDetails, maxDetails * 3 / 2, maxDetails * 2}

// foldKey is d without its count, made coarser by level: 0 as it is; 1
// without sending and receiving address, helo and additional
// information; 2 also without MX and reason code; 3 nothing but OtherKey.
func foldKey(d FailureDetail, level int) FailureDetail {
	d.FailedSessionCount = 0
	if level >= 1 {
		d.SendingMTAIP, d.ReceivingIP, d.ReceivingMXHelo, d.AdditionalInformation = OtherKey, OtherKey, OtherKey, OtherKey
	}
	if level >= 2 {
		d.ReceivingMXHostname, d.FailureReasonCode = OtherKey, OtherKey
	}
	if level >= 3 {
		d.ResultType = OtherKey
	}
	return d
}

// fold adds d to res: to the entry with the same fields when there is
// one, else as a new entry while the report keeps fewer than maxDetails,
// else under the first coarser key that has an entry or room.
func (p *parser) fold(res *Result, fold map[FailureDetail]int, d FailureDetail) {
	for level := 0; ; level++ {
		k := foldKey(d, level)
		if at, ok := fold[k]; ok {
			e := &res.FailureDetails[at]
			e.FailedSessionCount = satcount.Add(e.FailedSessionCount, d.FailedSessionCount)
			return
		}
		if level == len(foldLevels) || p.details < foldLevels[level] {
			if level > 0 {
				p.folded = true
			}
			k.FailedSessionCount = d.FailedSessionCount
			fold[foldKey(k, 0)] = len(res.FailureDetails)
			res.FailureDetails = append(res.FailureDetails, k)
			p.details++
			return
		}
	}
}
