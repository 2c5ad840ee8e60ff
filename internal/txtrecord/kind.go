package txtrecord

import "strings"

// Kind names one of the two records by its version tag.
type Kind string

const (
	// KindSTS is the _mta-sts record, "v=STSv1; id=..." (RFC 8461 §3.1).
	KindSTS Kind = "v=STSv1"
	// KindTLSRPT is the _smtp._tls record, "v=TLSRPTv1; rua=..." (RFC 8460 §3).
	KindTLSRPT Kind = "v=TLSRPTv1"
)

// Class is what a TXT string is to a Kind.
type Class int

const (
	// Foreign is someone else's record (SPF, a verification token, another
	// version such as "v=STSv10"). Never touched, never reported on.
	Foreign Class = iota
	// NearMiss is meant as a record of the kind, but compliant readers drop it
	// because it does not start with exactly the tag and ';'
	// (STS-TXT-4/14, RPT-REC-7). The checks report it; the providers treat
	// it as ours, so that writing our record replaces it instead of leaving
	// a second record that lenient readers (mox) would also take.
	NearMiss
	// Selected starts with exactly the tag and ';', the only records a
	// compliant sender or reporter considers (RFC 8461 §3.1, RFC 8460 §3;
	// STS-TXT-4, RPT-REC-7).
	Selected
)

func (c Class) String() string {
	switch c {
	case Selected:
		return "selected"
	case NearMiss:
		return "near-miss"
	}
	return "foreign"
}

// Classify sorts one TXT value (the character-strings of one RR joined with
// nothing in between, STS-TXT-3, RPT-REC-8) for kind k. This is the one
// rule of which records are ours:
//
//   - Selected: it starts with exactly the tag followed by ';' ("v=STSv1;",
//     "v=TLSRPTv1;"). Both RFCs discard every other record before counting.
//   - NearMiss: after the tag, written in any case, comes optional space or
//     tab and then ';' ("v=STSv1 ;", mox and tlspol accept it), or no ';' at
//     all and nothing or space or tab right after the tag ("v=STSv1",
//     "v=STSv1 id=4": pmsr keeps it). Case variants ("V=STSv1;") count
//     because mailauth matches the tag case-insensitively. For TLS-RPT,
//     space or tab in front of the tag still makes a near miss (its author
//     meant TLS-RPT); for MTA-STS it does not, since no sender surveyed
//     trims it and the MTA-STS checks count what some sender takes.
//   - Foreign: everything else, including another version ("v=STSv10",
//     "v=TLSRPTv1x") and text between the tag and the first ';'.
//
// The empty Kind classifies everything as Foreign.
func (k Kind) Classify(value string) Class {
	tag := string(k)
	if tag == "" {
		return Foreign
	}
	if strings.HasPrefix(value, tag+";") {
		return Selected
	}
	r := value
	if k == KindTLSRPT {
		r = strings.TrimLeft(r, " \t")
	}
	if len(r) < len(tag) || !strings.EqualFold(r[:len(tag)], tag) {
		return Foreign
	}
	rest := r[len(tag):]
	if strings.HasPrefix(strings.TrimLeft(rest, " \t"), ";") {
		return NearMiss
	}
	if !strings.Contains(rest, ";") && (rest == "" || rest[0] == ' ' || rest[0] == '\t') {
		return NearMiss
	}
	return Foreign
}

// Matches reports whether value is a record of kind k, selected or a near
// miss: the records a provider replaces when it writes ours and removes
// when it deletes ours. Everything else at the name is foreign and left
// as it is.
func (k Kind) Matches(value string) bool { return k.Classify(value) != Foreign }

// Select sorts values for kind k into the selected records, the near misses
// and the foreign ones, keeping their order within each list.
func (k Kind) Select(values []string) (selected, near, foreign []string) {
	for _, v := range values {
		switch k.Classify(v) {
		case Selected:
			selected = append(selected, v)
		case NearMiss:
			near = append(near, v)
		default:
			foreign = append(foreign, v)
		}
	}
	return selected, near, foreign
}

// version is the part of the tag after "v=": "STSv1", "TLSRPTv1".
func (k Kind) version() string { return strings.TrimPrefix(string(k), "v=") }
