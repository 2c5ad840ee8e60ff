package tlsrpt

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"strings"

	"github.com/stspilot/stspilot/internal/txtrecord"
)

const (
	// version is the exact, case-sensitive start of a record (RPT-REC-2).
	version = string(txtrecord.KindTLSRPT)
	// rptPrefix is what a joined TXT record must start with for a reporter
	// to consider it (RPT-REC-7).
	rptPrefix = version + ";"
)

// RecordName returns the name of the TLS-RPT TXT record of domain:
// "_smtp._tls.<domain>" (RPT-REC-1). A trailing dot on domain is dropped.
func RecordName(domain string) string { return txtrecord.TLSRPTName(domain) }

// SelectRecords sorts joined TXT records found at _smtp._tls.<domain> by the
// ownership rule the DNS providers use too (txtrecord.Kind.Classify).
// Joining the character-strings of each RR with nothing in between
// (RPT-REC-8) is the caller's job.
//   - rpt: those starting with exactly "v=TLSRPTv1;" (RPT-REC-7), the only
//     ones a compliant reporter considers; the domain has TLS-RPT only when
//     there is exactly one;
//   - near: near misses that a compliant reporter drops although their
//     author meant TLS-RPT: "v=TLSRPTv1" followed by spaces or tabs and then
//     ";" (mox accepts this), with no ";" at all, with a prefix that differs
//     only in case, or with spaces or tabs in front;
//   - foreign: everything else (SPF strings, verification tokens, ...).
//
// Order is kept within each list.
func SelectRecords(records []string) (rpt, near, foreign []string) {
	return txtrecord.KindTLSRPT.Select(records)
}

// Record is one parsed _smtp._tls TXT record.
type Record struct {
	Raw string
	// RUA holds the report destinations in order, from every rua field
	// (RPT-REC-5), as written, including those with problems. Empty items
	// (a stray comma) are left out.
	RUA []string
	// Fields holds every field in order, v and rua included, with values as
	// written.
	Fields []Field
}

// Field is one name=value pair of a record: the record model's
// (txtrecord), which the MTA-STS parser shares.
type Field = txtrecord.Field

// MultipleRUA reports whether r has more than one report destination
// (RPT-REC-5). Microsoft sends reports only to the first one (OPS-3).
func MultipleRUA(r Record) bool { return len(r.RUA) > 1 }

// ParseRecord parses one joined record with the grammar of RPT-REC-2:
//
//	^v=TLSRPTv1([ \t]*;[ \t]*(rua=URI([ \t]*,[ \t]*URI)*|ext-name=ext-value))+([ \t]*;[ \t]*)?$
//
// Errors: a bad or wrongly-cased prefix, whitespace before the first ';'
// (the record is then dropped by compliant reporters, RPT-REC-7), no field,
// empty fields, whitespace around '=', non-ASCII or control characters, no
// rua (RPT-REC-3), an empty URI, and every destination that is not a valid
// mailto: or https: URI with '!' and ';' percent-encoded (RPT-REC-4).
// Warnings: more than one destination (RPT-REC-5), malformed extension
// fields (RPT-REC-6), a scheme not in lower case.
//
// RPT-REC-9: a destination may be in any domain, so none is checked against
// the policy domain.
//
// Parsing goes on after a problem where it can, so that RUA and Fields hold
// what a lenient reader would see.
func ParseRecord(s string) (Record, []txtrecord.Problem) {
	rec := Record{Raw: s}
	var ps problems
	if i := strings.IndexFunc(s, func(r rune) bool { return r >= 0x7f || r < 0x20 && r != '\t' }); i >= 0 {
		ps.err("RPT-REC-2", "the record contains non-ASCII or control characters (%s); it must be printable US-ASCII", q(s[i:]))
	}

	rest, ok := parsePrefix(s, &ps)
	if !ok {
		return rec, ps.result()
	}
	rec.Fields = append(rec.Fields, Field{Name: "v", Value: "TLSRPTv1"})

	// lead is what lies between "v=TLSRPTv1" and the first ';'.
	lead, fields, issue := txtrecord.SplitLead(rest)
	switch issue {
	case txtrecord.LeadBlank:
		ps.err("RPT-REC-7", "whitespace before the first ';' (%s): compliant reporters consider only records starting with exactly \"v=TLSRPTv1;\" (mox accepts it)", q(version+lead+";"))
	case txtrecord.LeadUnseparated:
		ps.err("RPT-REC-2", "fields must be separated by ';': write %s", q(rptPrefix+" "+strings.TrimLeft(rest, " \t")))
	case txtrecord.LeadJunk:
		ps.err("RPT-REC-2", "unexpected text %s right after \"v=TLSRPTv1\"; the record must begin with exactly \"v=TLSRPTv1;\"", q(lead))
	}
	// One trailing delimiter is allowed.
	fields = txtrecord.DropTrailingDelimiter(fields)
	if len(fields) == 0 {
		ps.err("RPT-REC-2", "the record %s has no fields after \"v=TLSRPTv1\"; it needs at least \"; rua=mailto:...\"", q(s))
	}
	ruaFields := parseFields(&rec, fields, &ps)

	switch {
	case ruaFields == 0:
		ps.err("RPT-REC-3", "the record %s has no rua field%s; add \"rua=mailto:\" followed by the address that should receive reports", q(s), txtrecord.CaseHint(rec.Fields, "rua"))
	case MultipleRUA(rec):
		detail := ""
		if ruaFields > 1 {
			detail = fmt.Sprintf(" in %d rua fields", ruaFields)
		}
		if dup := firstDuplicate(rec.RUA); dup != "" {
			detail += ", " + q(dup) + " more than once"
		}
		ps.warn("RPT-REC-5", "the record lists %d report destinations%s; Microsoft sends reports only to the first rua (OPS-3): put the one you read first, or keep just that one", len(rec.RUA), detail)
	}
	return rec, ps.result()
}

// parsePrefix checks the "v=TLSRPTv1" prefix. When the prefix is broken in
// a recognisable way it reports an error and still returns the rest so that
// parsing can go on; ok is false only when nothing recognisable is there.
func parsePrefix(s string, ps *problems) (rest string, ok bool) {
	rest, issue := txtrecord.CutVersion(s, txtrecord.KindTLSRPT)
	if issue != txtrecord.PrefixOK {
		ps.err("RPT-REC-2", "%s", issue.Message(s, txtrecord.KindTLSRPT))
	}
	return rest, issue != txtrecord.PrefixMissing
}

// parseFields checks each field (the text between two ';') and returns how
// many rua fields there were.
func parseFields(rec *Record, segs []string, ps *problems) (ruaFields int) {
	afterRUA := false // the previous field was rua
	for _, seg := range segs {
		f := strings.Trim(seg, " \t")
		if f == "" {
			ps.err("RPT-REC-2", "empty field (two ';' in a row, or a ';' too many) in %s", q(rec.Raw))
			afterRUA = false
			continue
		}
		name, value, found := strings.Cut(f, "=")
		if afterRUA && (!found || strings.ContainsAny(name, "/:@?&%#")) {
			// Most likely the rest of a URI cut at an unencoded ';'.
			ps.err("RPT-REC-4", "%s follows a rua field but is not a field; if it belongs to the URI before it, the ';' must be percent-encoded as %%3B", q(f))
			continue
		}
		afterRUA = false
		if !found {
			ps.err("RPT-REC-2", "field %s has no '='; fields are name=value", q(f))
			continue
		}
		if n, v := strings.TrimRight(name, " \t"), strings.TrimLeft(value, " \t"); n != name || v != value {
			ps.err("RPT-REC-2", "whitespace around '=' in %s; write %s", q(f), q(n+"="+v))
			name, value = n, v
		}
		rec.Fields = append(rec.Fields, Field{Name: name, Value: value})
		if name == "rua" {
			ruaFields++
			afterRUA = true
			parseRUA(rec, value, ps)
			continue
		}
		// An extension field (RPT-REC-6): reporters ignore it, but a
		// malformed one breaks the grammar.
		switch {
		case !validExtName(name):
			ps.warn("RPT-REC-6", "field name %s is malformed (a letter or digit, then up to 31 letters, digits, '_', '-' or '.'); strict parsers such as mox reject the whole record", q(name))
		case !validExtValue(value):
			ps.warn("RPT-REC-6", "value %s of field %s is malformed (printable ASCII without '=', ';' or spaces); strict parsers such as mox reject the whole record", q(value), q(name))
		}
	}
	return ruaFields
}

// ParseRUA checks the value of one rua field on its own (what an operator
// gives: "mailto:a@b.c" or "mailto:a@b.c,https://r.example/x") the way
// ParseRecord checks it inside a record, and returns the destinations in
// order, including those with problems (RPT-REC-3/4). A ';' in value is part
// of a URI, where it must be percent-encoded, never a field separator: the
// value cannot smuggle a field into the record built from it.
func ParseRUA(value string) ([]string, []txtrecord.Problem) {
	var rec Record
	var ps problems
	parseRUA(&rec, value, &ps)
	return rec.RUA, ps.result()
}

// parseRUA splits a rua value into URIs (RPT-REC-3) and checks each one.
func parseRUA(rec *Record, value string, ps *problems) {
	if value == "" {
		ps.err("RPT-REC-3", "the rua field is empty; it needs at least one mailto: or https: URI")
		return
	}
	for item := range strings.SplitSeq(value, ",") {
		u := strings.Trim(item, " \t")
		if u == "" {
			ps.err("RPT-REC-3", "empty URI in %s (a stray comma); URIs are separated by single commas", q("rua="+value))
			continue
		}
		rec.RUA = append(rec.RUA, u)
		for _, p := range uriProblems(u) {
			ps.add(p)
		}
	}
}

func firstDuplicate(ss []string) string {
	seen := make(map[string]bool, len(ss))
	for _, s := range ss {
		if seen[s] {
			return s
		}
		seen[s] = true
	}
	return ""
}

// Render returns the canonical record for the given destinations, in order:
// "v=TLSRPTv1; rua=<uri>[,<uri>...]". Each URI must be a valid mailto: or
// https: URI (RPT-REC-4) with ',', '!' and ';' percent-encoded; there must be
// at least one. A scheme in upper case is accepted as is, and so is a URI
// given twice, so that the destinations of any record ParseRecord accepts
// render back unchanged.
//
// Splitting the result into 255-byte character-strings is the DNS layer's
// job.
func Render(rua []string) (string, error) {
	if len(rua) == 0 {
		return "", errors.New("a TLS-RPT record needs at least one rua URI (RPT-REC-3)")
	}
	for _, u := range rua {
		if u == "" {
			return "", errors.New("empty rua URI (RPT-REC-3)")
		}
		for _, p := range uriProblems(u) {
			if p.Severity == txtrecord.SevError {
				return "", fmt.Errorf("%s: %s", p.Rule, p.Message)
			}
		}
	}
	return txtrecord.TLSRPTRecord{RUA: rua}.String(), nil
}

// schemeRE is the URI scheme grammar of RFC 3986.
var schemeRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*$`)

// uriProblems returns what is wrong with one rua URI (RPT-REC-3/4). u is
// non-empty and has no surrounding whitespace.
func uriProblems(u string) []txtrecord.Problem {
	var ps []txtrecord.Problem
	add := func(sev string, scheme bool, rule, format string, args ...any) []txtrecord.Problem {
		return append(ps, txtrecord.Problem{Rule: rule, Severity: sev, Message: fmt.Sprintf(format, args...), Scheme: scheme})
	}
	if strings.ContainsAny(u, " \t") {
		return add(txtrecord.SevError, false, "RPT-REC-3", "%s contains whitespace; separate URIs with ','", q(u))
	}
	for i := 0; i < len(u); i++ {
		c := u[i]
		switch {
		case c == ',' || c == ';':
			// Only Render sees these: ParseRecord splits at them.
			return add(txtrecord.SevError, false, "RPT-REC-4", "%s contains %q, which must be percent-encoded as %%%02X", q(u), c, c)
		case c < 0x21 || c >= 0x7f || strings.IndexByte(`"<>\^{|}`+"`", c) >= 0:
			return add(txtrecord.SevError, false, "RPT-REC-4", "%s contains %s, which is not allowed in a URI", q(u), q(u[i:i+1]))
		}
	}

	scheme, rest, found := strings.Cut(u, ":")
	if !found || !schemeRE.MatchString(scheme) {
		switch {
		case strings.Contains(u, "@"):
			return add(txtrecord.SevError, true, "RPT-REC-4", "%s has no scheme; a mail destination must be written %s", q(u), q("mailto:"+u))
		case strings.Contains(u, "."):
			return add(txtrecord.SevError, true, "RPT-REC-4", "%s has no scheme; an HTTPS destination must be written %s", q(u), q("https://"+strings.TrimPrefix(u, "//")))
		default:
			return add(txtrecord.SevError, true, "RPT-REC-4", "%s is not a URI; write a mailto: or https: URI", q(u))
		}
	}
	lower := strings.ToLower(scheme)
	switch lower {
	case "mailto", "https":
		if scheme != lower {
			ps = add(txtrecord.SevWarn, true, "RPT-REC-4", "%s writes the scheme %s in upper case; write %s, which every reporter recognises", q(u), q(scheme+":"), q(lower+":"))
		}
	case "http":
		return add(txtrecord.SevError, true, "RPT-REC-4", "%s uses http:, which TLS-RPT does not allow; only mailto: and https: are defined: write %s", q(u), q("https:"+rest))
	default:
		return add(txtrecord.SevError, true, "RPT-REC-4", "%s uses the scheme %s; only mailto: and https: are defined", q(u), q(scheme+":"))
	}

	if i := strings.IndexByte(u, '!'); i >= 0 {
		hint := ""
		if dmarcSizeRE.MatchString(u[i:]) {
			hint = " (TLS-RPT has no DMARC-style size limit such as \"!10m\": drop it)"
		}
		return add(txtrecord.SevError, false, "RPT-REC-4", "%s contains '!', which must be percent-encoded as %%21%s", q(u), hint)
	}
	if msg := pctProblem(rest); msg != "" {
		return add(txtrecord.SevError, false, "RPT-REC-4", "%s %s", q(u), msg)
	}
	if lower == "mailto" {
		if msg := mailtoProblem(rest); msg != "" {
			return add(txtrecord.SevError, false, "RPT-REC-4", "%s %s", q(u), msg)
		}
		return ps
	}
	if msg := httpsProblem(u); msg != "" {
		return add(txtrecord.SevError, false, "RPT-REC-4", "%s %s", q(u), msg)
	}
	return ps
}

// dmarcSizeRE matches a DMARC rua size limit such as "!10m".
var dmarcSizeRE = regexp.MustCompile(`^![0-9]+[kmgtKMGT]?$`)

// pctProblem checks that every '%' starts a %XX escape.
func pctProblem(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && (i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2])) {
			end := min(i+3, len(s))
			return fmt.Sprintf("has a broken percent-escape %s; write '%%' as %%25", q(s[i:end]))
		}
	}
	return ""
}

// mailtoProblem checks the part after "mailto:": one addr-spec with exactly
// one '@' and a domain, optionally followed by "?hfields".
func mailtoProblem(rest string) string {
	addr, _, _ := strings.Cut(rest, "?")
	if addr == "" {
		return "has no address after \"mailto:\""
	}
	if strings.HasPrefix(addr, "//") {
		return "has '//' after \"mailto:\"; write " + q("mailto:"+strings.TrimLeft(addr, "/"))
	}
	addr, err := url.PathUnescape(addr) // escapes were checked by pctProblem
	if err != nil {
		return "has a broken percent-escape"
	}
	switch n := strings.Count(addr, "@"); {
	case n == 0:
		return "has no '@': write an address such as \"mailto:tlsrpt@example.com\""
	case n > 1 && !strings.HasPrefix(addr, `"`):
		return "has more than one '@'; give one address per URI and separate URIs with ','"
	}
	at := strings.LastIndexByte(addr, '@')
	local, domain := addr[:at], addr[at+1:]
	if !validLocalPart(local) {
		return "has an invalid local part " + q(local)
	}
	if !validHostname(domain, false) {
		return "has an invalid domain " + q(domain)
	}
	return ""
}

// httpsProblem checks an https: URI: it must parse as a URL with a host.
func httpsProblem(u string) string {
	pu, err := url.Parse(u)
	if err != nil {
		return "is not a valid URL"
	}
	if pu.Opaque != "" || pu.Host == "" {
		return "has no host; write it as \"https://host/path\""
	}
	h := pu.Hostname()
	if _, err := netip.ParseAddr(h); err == nil {
		return ""
	}
	if !validHostname(h, true) {
		return "has an invalid host " + q(h)
	}
	if p := pu.Port(); p != "" && !validPort(p) {
		return "has an invalid port " + q(p)
	}
	return ""
}

func validPort(p string) bool {
	n := 0
	for i := 0; i < len(p); i++ {
		if !isDigit(p[i]) {
			return false
		}
		n = n*10 + int(p[i]-'0')
		if n > 65535 {
			return false
		}
	}
	return n > 0
}

// validHostname: dot-separated labels of 1 to 63 letters, digits and '-',
// not starting or ending with '-', 253 characters at most. A trailing dot is
// allowed only when trailingDot is set.
func validHostname(h string, trailingDot bool) bool {
	if trailingDot {
		h = strings.TrimSuffix(h, ".")
	}
	if h == "" || len(h) > 253 {
		return false
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !isAlnum(c) && c != '-' {
				return false
			}
		}
	}
	return true
}

// validLocalPart: a dot-atom or a quoted string (RFC 5322 addr-spec).
func validLocalPart(s string) bool {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		for i := 1; i < len(s)-1; i++ {
			if c := s[i]; c < 0x20 || c >= 0x7f {
				return false
			}
		}
		return true
	}
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '.' && strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) < 0 {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isHex(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

var (
	isAlnum       = txtrecord.IsAlnum
	validExtName  = txtrecord.ValidExtName
	validExtValue = txtrecord.ValidExtValue
)
