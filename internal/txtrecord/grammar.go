package txtrecord

import (
	"strconv"
	"strings"

	"github.com/stspilot/stspilot/internal/printable"
)

// The grammar both records share: a version tag, then fields separated by
// ';' with optional space or tab around each ';', each field name=value,
// and extension fields with the same name and value syntax
// (RFC 8461 §3.1 sts-ext-name/sts-ext-value, RFC 8460 §3 tlsrpt-ext-name/
// tlsrpt-ext-value).

// Field is one name=value pair of a record (or one extension line of a
// policy).
type Field struct{ Name, Value string }

// CaseHint is what a message about a missing field adds when a field of
// fs has the name only in another case: ` (field names are case-sensitive:
// "RUA" is not "rua")`; "" when none has.
func CaseHint(fs []Field, name string) string {
	for _, f := range fs {
		if strings.EqualFold(f.Name, name) {
			return " (field names are case-sensitive: " + Quote(f.Name) + " is not " + strconv.Quote(name) + ")"
		}
	}
	return ""
}

// MaxQuoted is how many characters of offending text a message shows.
const MaxQuoted = 60

// Quote quotes offending text for a message: Go-quoted (so control bytes,
// invalid UTF-8 and odd spaces are escaped), cut to about MaxQuoted characters.
func Quote(s string) string {
	if p, cut := printable.RunePrefix(s, MaxQuoted); cut {
		return strconv.Quote(p) + "…"
	}
	return strconv.Quote(s)
}

// IsAlnum reports whether c is an ASCII letter or digit.
func IsAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// ValidExtName reports whether s is an extension field name: a letter or
// digit, then up to 31 letters, digits, '_', '-' or '.' (STS-TXT-11,
// STS-POL-13, RPT-REC-6).
func ValidExtName(s string) bool {
	if len(s) < 1 || len(s) > 32 || !IsAlnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !IsAlnum(c) && c != '_' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// ValidExtValue reports whether s is an extension field value: one or more
// of %x21-3A / %x3C / %x3E-7E, that is printable ASCII other than space,
// ';' and '=' (STS-TXT-11, RPT-REC-6).
func ValidExtValue(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == ';' || c == '=' {
			return false
		}
	}
	return true
}

// ValidSTSID reports whether id is a valid MTA-STS id: 1 to 32 ASCII letters
// or digits (STS-TXT-9).
func ValidSTSID(id string) bool {
	if len(id) < 1 || len(id) > 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if !IsAlnum(id[i]) {
			return false
		}
	}
	return true
}

// PrefixIssue says how the start of a record departs from the exact
// version tag; see CutVersion.
type PrefixIssue int

const (
	// PrefixOK means the record starts with the tag exactly.
	PrefixOK PrefixIssue = iota
	// PrefixLeadingSpace means space or tab before the tag.
	PrefixLeadingSpace
	// PrefixCase means the tag is in another case ("V=STSv1").
	PrefixCase
	// PrefixSpaceAroundEq means space or tab around its '=' ("v = STSv1").
	PrefixSpaceAroundEq
	// PrefixMissing means nothing recognisable is there; rest is "".
	PrefixMissing
)

// CutVersion cuts the version tag of kind k off the start of s and returns
// what follows it. When the tag is there but broken in a recognisable way
// (space in front, another case, space around '=') it says how and still
// returns the rest, so that a parser can report the problem and go on;
// PrefixMissing means nothing recognisable is there.
func CutVersion(s string, k Kind) (rest string, issue PrefixIssue) {
	tag := string(k)
	if strings.HasPrefix(s, tag) {
		return s[len(tag):], PrefixOK
	}
	trimmed := strings.TrimLeft(s, " \t")
	if trimmed != s && strings.HasPrefix(trimmed, tag) {
		return trimmed[len(tag):], PrefixLeadingSpace
	}
	if len(trimmed) >= len(tag) && strings.EqualFold(trimmed[:len(tag)], tag) {
		return trimmed[len(tag):], PrefixCase
	}
	// "v = STSv1", "v= STSv1", "v =STSv1"
	ver := k.version()
	if name, val, found := strings.Cut(trimmed, "="); found && strings.TrimRight(name, " \t") == "v" {
		after := strings.TrimLeft(val, " \t")
		if strings.HasPrefix(after, ver) && (name != "v" || after != val) {
			return after[len(ver):], PrefixSpaceAroundEq
		}
	}
	return "", PrefixMissing
}

// Message says in words how the start of record s departs from the
// version tag of kind k, as CutVersion found (issue); "" for PrefixOK.
// Both record checkers report it, each under its own rule.
func (i PrefixIssue) Message(s string, k Kind) string {
	tag := string(k)
	switch i {
	case PrefixLeadingSpace:
		return "whitespace before \"" + tag + "\" in " + Quote(s) + "; the record must begin with exactly \"" + tag + ";\""
	case PrefixCase:
		trimmed := strings.TrimLeft(s, " \t")
		return "the record begins with " + Quote(trimmed[:len(tag)]) + "; \"" + tag + "\" is case-sensitive"
	case PrefixSpaceAroundEq:
		return "whitespace around '=' in " + Quote(s) + "; write exactly \"" + tag + ";\""
	case PrefixMissing:
		return "the record " + Quote(s) + " does not begin with \"" + tag + ";\""
	}
	return ""
}

// SplitFields splits what follows the version tag at every ';': lead is the
// text between the tag and the first ';' ("" in a well-formed record) and
// fields the text between the ';' that follow, untrimmed.
func SplitFields(rest string) (lead string, fields []string) {
	segs := strings.Split(rest, ";")
	return segs[0], segs[1:]
}

// LeadIssue is what SplitLead found between the version tag and the
// first ';'.
type LeadIssue int

const (
	// LeadNone is nothing ("v=STSv1;"), or blanks that end the record.
	LeadNone LeadIssue = iota
	// LeadBlank is only spaces or tabs, then a ';' ("v=STSv1 ;"): the
	// grammar allows it, selection by an exact "v=STSv1;" does not.
	LeadBlank
	// LeadUnseparated is a blank, then text with no ';' before it
	// ("v=STSv1 id=1"); SplitLead makes that text the first field.
	LeadUnseparated
	// LeadJunk is other text right after the tag ("v=STSv1x;").
	LeadJunk
)

// SplitLead is SplitFields that also says what the lead is. For
// LeadUnseparated the lead is the first of fields too.
func SplitLead(rest string) (lead string, fields []string, issue LeadIssue) {
	lead, fields = SplitFields(rest)
	switch {
	case lead == "":
	case strings.Trim(lead, " \t") == "":
		if len(fields) > 0 {
			issue = LeadBlank
		}
	case lead[0] == ' ' || lead[0] == '\t':
		issue = LeadUnseparated
		fields = append([]string{lead}, fields...)
	default:
		issue = LeadJunk
	}
	return lead, fields, issue
}

// DropTrailingDelimiter removes the one empty (or blank) last field that a
// trailing ';' leaves, which both grammars allow.
func DropTrailingDelimiter(fields []string) []string {
	if n := len(fields); n > 0 && strings.Trim(fields[n-1], " \t") == "" {
		return fields[:n-1]
	}
	return fields
}
