package mtasts

import (
	"slices"
	"strings"

	"github.com/stspilot/stspilot/internal/txtrecord"
)

// JoinTXT joins the character-strings of one TXT RR in order, with nothing
// in between (STS-TXT-3).
func JoinTXT(strs []string) string { return strings.Join(strs, "") }

// SelectRecords sorts joined TXT records found at _mta-sts.<domain> by the
// ownership rule the DNS providers use too (txtrecord.Kind.Classify):
//   - sts: those starting with exactly "v=STSv1;" (STS-TXT-4), the only ones a
//     compliant sender considers;
//   - near: near misses that some implementations accept (STS-TXT-4/14):
//     "v=STSv1" followed by spaces or tabs and then ";" (mox, tlspol), or
//     with no ";" at all and nothing or a space or tab after the tag
//     (pmsr), or a prefix that differs only in case (mailauth matches
//     "v=STSv1" case-insensitively);
//   - foreign: everything else (SPF strings, verification tokens, another
//     version such as "v=STSv10", ...).
//
// Order is kept within each list.
func SelectRecords(records []string) (sts, near, foreign []string) {
	return txtrecord.KindSTS.Select(records)
}

// Record is one parsed _mta-sts TXT record.
type Record struct {
	Raw    string
	ID     string  // value of the first id field ("" if none or invalid)
	Fields []Field // in order, including v
}

// Field is one name=value pair of a TXT record, or one extension line of a
// policy: the record model's (txtrecord), which the TLS-RPT parser shares.
type Field = txtrecord.Field

// ValidID reports whether id is a valid MTA-STS id: 1 to 32 ASCII letters or
// digits (STS-TXT-9).
func ValidID(id string) bool { return txtrecord.ValidSTSID(id) }

// ParseRecord parses one joined record with the grammar of STS-TXT-8:
//
//	^v=STSv1([ \t]*;[ \t]*(id=[A-Za-z0-9]{1,32}|ext-name=ext-value))+([ \t]*;[ \t]*)?$
//
// with at least one id field. Errors: a bad prefix, no field, a missing or
// invalid id (a field named id that fails STS-TXT-9 is an error, never an
// extension), non-ASCII text, malformed extension fields (STS-TXT-11),
// whitespace around '=' or inside a field. Warnings: a repeated id
// (STS-TXT-12) and whitespace before the first ';' (STS-TXT-14, which makes
// the record fail the selection of STS-TXT-4 at compliant senders).
//
// Parsing goes on after a problem where it can, so that Fields and ID hold
// what a lenient reader would see.
func ParseRecord(s string) (Record, []txtrecord.Problem) {
	rec := Record{Raw: s}
	var ps problems
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			ps.err("STS-TXT-8", 0, "the record contains non-ASCII text (%s); it must be US-ASCII", q(s))
			break
		}
	}

	rest, ok := recordPrefix(s, &ps)
	if !ok {
		return rec, ps
	}
	rec.Fields = append(rec.Fields, Field{Name: "v", Value: "STSv1"})

	// lead is what lies between "v=STSv1" and the first ';'.
	lead, fields, issue := txtrecord.SplitLead(rest)
	switch issue {
	case txtrecord.LeadBlank:
		ps.warn("STS-TXT-14", 0, "whitespace before the first ';' (%s): the grammar allows it, but compliant senders select only records starting with exactly \"v=STSv1;\"", q("v=STSv1"+lead+";"))
	case txtrecord.LeadUnseparated:
		ps.err("STS-TXT-8", 0, "fields must be separated by ';': write %s", q("v=STSv1; "+strings.TrimLeft(rest, " \t")))
	case txtrecord.LeadJunk:
		ps.err("STS-TXT-8", 0, "unexpected text %s right after \"v=STSv1\"; the record must begin with exactly \"v=STSv1;\"", q(lead))
	}
	// One trailing delimiter is allowed.
	fields = txtrecord.DropTrailingDelimiter(fields)
	if len(fields) == 0 {
		ps.err("STS-TXT-8", 0, "the record %s has no fields after \"v=STSv1\"; it needs at least \"; id=...\"", q(s))
	}
	parseRecordFields(&rec, fields, &ps)
	if t := strings.TrimRight(s, " \t"); t != s && !strings.HasSuffix(t, ";") && len(fields) > 0 {
		ps.err("STS-TXT-14", 0, "trailing whitespace after the last field of %s; whitespace is allowed only around ';', and mox rejects the record", q(s))
	}

	ids := 0
	for _, f := range rec.Fields {
		if f.Name == "id" {
			ids++
		}
	}
	switch {
	case ids == 0:
		ps.err("STS-TXT-9", 0, "the record %s has no id field%s; add \"id=\" followed by 1 to 32 letters or digits", q(s), txtrecord.CaseHint(rec.Fields, "id"))
	case ids > 1:
		ps.warn("STS-TXT-12", 0, "the record has %d id fields; senders disagree on which one counts (mox takes the first, go-mtasts and pmsr the last): keep one", ids)
	}
	return rec, ps
}

// recordPrefix checks the "v=STSv1" prefix. When the prefix is broken in a
// recognisable way it reports an error and still returns the rest so that
// parsing can go on; ok is false only when nothing recognisable is there.
func recordPrefix(s string, ps *problems) (rest string, ok bool) {
	rest, issue := txtrecord.CutVersion(s, txtrecord.KindSTS)
	switch issue {
	case txtrecord.PrefixOK:
		return rest, true
	case txtrecord.PrefixLeadingSpace, txtrecord.PrefixSpaceAroundEq:
		ps.err("STS-TXT-14", 0, "%s", issue.Message(s, txtrecord.KindSTS))
	default:
		ps.err("STS-TXT-8", 0, "%s", issue.Message(s, txtrecord.KindSTS))
	}
	return rest, issue != txtrecord.PrefixMissing
}

// parseRecordFields checks each field (the text between two ';').
func parseRecordFields(rec *Record, segs []string, ps *problems) {
	for _, seg := range segs {
		f := strings.Trim(seg, " \t")
		if f == "" {
			ps.err("STS-TXT-8", 0, "empty field (two ';' in a row, or a ';' too many) in %s", q(rec.Raw))
			continue
		}
		name, value, found := strings.Cut(f, "=")
		if !found {
			ps.err("STS-TXT-8", 0, "field %s has no '='; fields are name=value", q(f))
			continue
		}
		if strings.ContainsAny(f, " \t") {
			n, v := strings.TrimRight(name, " \t"), strings.TrimLeft(value, " \t")
			if strings.ContainsAny(n, " \t") || strings.ContainsAny(v, " \t") {
				ps.err("STS-TXT-8", 0, "field %s contains whitespace; separate fields with ';'", q(f))
				continue
			}
			ps.err("STS-TXT-14", 0, "whitespace around '=' in %s; write %s", q(f), q(n+"="+v))
			name, value = n, v
		}
		if name == "id" {
			if !ValidID(value) {
				ps.err("STS-TXT-9", 0, "id %s is invalid: it must be 1 to 32 ASCII letters or digits (no '-', ':', '.', '_' or spaces)", q(value))
			} else if rec.ID == "" && !hasField(rec.Fields, "id") {
				rec.ID = value
			}
			rec.Fields = append(rec.Fields, Field{Name: name, Value: value})
			continue
		}
		if !validExtName(name) {
			ps.err("STS-TXT-11", 0, "field name %s is invalid: a letter or digit, then up to 31 letters, digits, '_', '-' or '.'", q(name))
		} else if !validTXTExtValue(value) {
			ps.err("STS-TXT-11", 0, "value of field %s is invalid: %s must be printable ASCII without '=', ';' or spaces", q(name), q(value))
		}
		rec.Fields = append(rec.Fields, Field{Name: name, Value: value})
	}
}

func hasField(fs []Field, name string) bool {
	return slices.ContainsFunc(fs, func(f Field) bool { return f.Name == name })
}

var (
	isAlnum          = txtrecord.IsAlnum
	validExtName     = txtrecord.ValidExtName
	validTXTExtValue = txtrecord.ValidExtValue
)
