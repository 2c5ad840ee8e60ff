package txtrecord

import (
	"errors"
	"fmt"
	"strings"
)

// STSRecord is the value of an _mta-sts TXT record (RFC 8461 §3.1).
type STSRecord struct {
	// ID is the policy id: 1 to 32 ASCII letters or digits (STS-TXT-9).
	ID string
	// Ext holds the extension fields in order (STS-TXT-11).
	Ext []Field
}

// String returns the canonical record, what stspilot writes:
// "v=STSv1; id=<id>;" followed by " name=value;" for each extension. It does
// not check the values: ParseSTS of the result succeeds when they are valid.
// Splitting it into 255-byte character-strings is the DNS layer's job.
func (r STSRecord) String() string {
	var b strings.Builder
	b.WriteString(string(KindSTS) + "; id=" + r.ID + ";")
	for _, f := range r.Ext {
		b.WriteString(" " + f.Name + "=" + f.Value + ";")
	}
	return b.String()
}

// TLSRPTRecord is the value of an _smtp._tls TXT record (RFC 8460 §3).
type TLSRPTRecord struct {
	// RUA holds the report destinations in order (RPT-REC-3, RPT-REC-5).
	RUA []string
	// Ext holds the extension fields in order (RPT-REC-6).
	Ext []Field
}

// String returns the canonical record, what stspilot writes:
// "v=TLSRPTv1; rua=<uri>[,<uri>...]" followed by "; name=value" for each
// extension. It does not check the values: ParseTLSRPT of the result
// succeeds when they are valid (checks/tlsrpt checks the URIs themselves,
// RPT-REC-4).
func (r TLSRPTRecord) String() string {
	var b strings.Builder
	b.WriteString(string(KindTLSRPT) + "; rua=" + strings.Join(r.RUA, ","))
	for _, f := range r.Ext {
		b.WriteString("; " + f.Name + "=" + f.Value)
	}
	return b.String()
}

// SplitRUA splits the value of a rua field at ',' into URIs, with the space
// or tab around each removed and empty items (a stray comma) left out
// (RPT-REC-3).
func SplitRUA(value string) []string {
	var out []string
	for item := range strings.SplitSeq(value, ",") {
		if u := strings.Trim(item, " \t"); u != "" {
			out = append(out, u)
		}
	}
	return out
}

// ParseSTS reads a well-formed MTA-STS record into its values. It is strict:
// the record must be selected (start with exactly "v=STSv1;"), every field
// must be name=value with no space inside, there must be exactly one valid
// id, and extensions must follow STS-TXT-11. checks/mtasts.ParseRecord is
// the diagnosing parser that says what is wrong with a record that fails.
func ParseSTS(s string) (STSRecord, error) {
	var r STSRecord
	fields, err := selectedFields(s, KindSTS)
	if err != nil {
		return r, err
	}
	if t := strings.TrimRight(s, " \t"); t != s && !strings.HasSuffix(t, ";") {
		return r, errors.New("space after the last field")
	}
	ids := 0
	for _, f := range fields {
		switch {
		case f.Name == "id":
			if !ValidSTSID(f.Value) {
				return r, fmt.Errorf("id %s is not 1 to 32 letters or digits", Quote(f.Value))
			}
			ids++
			r.ID = f.Value
		case !ValidExtName(f.Name) || !ValidExtValue(f.Value):
			return r, fmt.Errorf("malformed extension field %s", Quote(f.Name+"="+f.Value))
		default:
			r.Ext = append(r.Ext, f)
		}
	}
	if ids != 1 {
		return STSRecord{}, fmt.Errorf("%d id fields, want exactly one", ids)
	}
	return r, nil
}

// ParseTLSRPT reads a well-formed TLS-RPT record into its values. It is
// strict about the grammar: the record must be selected (start with exactly
// "v=TLSRPTv1;"), every field must be name=value with no space around '=',
// there must be at least one rua field, rua values hold no empty item or
// space, and extensions must follow RPT-REC-6. The destinations of every
// rua field are collected in order; their URI syntax is not checked here
// (checks/tlsrpt.ParseRecord does, RPT-REC-4).
func ParseTLSRPT(s string) (TLSRPTRecord, error) {
	var r TLSRPTRecord
	fields, err := selectedFields(s, KindTLSRPT)
	if err != nil {
		return r, err
	}
	ruas := 0
	for _, f := range fields {
		if f.Name != "rua" {
			if !ValidExtName(f.Name) || !ValidExtValue(f.Value) {
				return r, fmt.Errorf("malformed extension field %s", Quote(f.Name+"="+f.Value))
			}
			r.Ext = append(r.Ext, f)
			continue
		}
		ruas++
		for item := range strings.SplitSeq(f.Value, ",") {
			u := strings.Trim(item, " \t")
			if u == "" || strings.ContainsAny(u, " \t") {
				return r, fmt.Errorf("rua %s has an empty or blank URI", Quote(f.Value))
			}
			r.RUA = append(r.RUA, u)
		}
	}
	if ruas == 0 {
		return TLSRPTRecord{}, errors.New("no rua field")
	}
	return r, nil
}

// selectedFields checks that s is a selected record of kind k made only of
// printable ASCII and returns its fields after the version tag, each
// name=value with the space or tab around the field removed.
func selectedFields(s string, k Kind) ([]Field, error) {
	if k.Classify(s) != Selected {
		return nil, fmt.Errorf("%s does not start with %q", Quote(s), string(k)+";")
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c >= 0x7f {
			return nil, fmt.Errorf("%s holds a character outside printable ASCII", Quote(s))
		}
	}
	rest, _ := CutVersion(s, k)
	_, segs := SplitFields(rest)
	segs = DropTrailingDelimiter(segs)
	if len(segs) == 0 {
		return nil, fmt.Errorf("%s has no field", Quote(s))
	}
	out := make([]Field, 0, len(segs))
	for _, seg := range segs {
		f := strings.Trim(seg, " \t")
		name, value, ok := strings.Cut(f, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("field %s is not name=value", Quote(f))
		}
		if strings.ContainsAny(name, " \t") || strings.HasPrefix(value, " ") || strings.HasPrefix(value, "\t") {
			return nil, fmt.Errorf("field %s has space around '='", Quote(f))
		}
		if k == KindSTS && strings.ContainsAny(value, " \t") {
			return nil, fmt.Errorf("field %s holds a space", Quote(f))
		}
		out = append(out, Field{Name: name, Value: value})
	}
	return out, nil
}
