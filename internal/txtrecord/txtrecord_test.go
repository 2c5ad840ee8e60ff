package txtrecord

import (
	"slices"
	"strings"
	"testing"
)

// classifyCases is the table of the ownership rule. The checks
// (checks/mtasts, checks/tlsrpt) and the DNS providers are tested against
// the same expectations elsewhere.
var classifyCases = []struct {
	k    Kind
	in   string
	want Class
}{
	// STS-TXT-4: only "v=STSv1;" exactly is selected.
	{KindSTS, "v=STSv1; id=1", Selected},
	{KindSTS, "v=STSv1;id=6", Selected},
	{KindSTS, "v=STSv1;", Selected},
	// STS-TXT-14: space before the first ';' (mox and tlspol accept it).
	{KindSTS, "v=STSv1 ; id=2", NearMiss},
	{KindSTS, "v=STSv1\t;id=3", NearMiss},
	// No ';' at all (pmsr keeps it).
	{KindSTS, "v=STSv1 id=4", NearMiss},
	{KindSTS, "v=STSv1", NearMiss},
	// Case variants (mailauth matches case-insensitively).
	{KindSTS, "V=STSv1; id=5", NearMiss},
	{KindSTS, "v=stsv1", NearMiss},
	// Another version, text before the first ';', leading space: foreign.
	{KindSTS, "v=STSv10; id=7", Foreign},
	{KindSTS, "v=STSv10 not ours", Foreign},
	{KindSTS, "v=STSv1x", Foreign},
	{KindSTS, "v=STSv1 x; id=1", Foreign},
	{KindSTS, " v=STSv1; id=8", Foreign},
	{KindSTS, "v=spf1 -all", Foreign},
	{KindSTS, "google-site-verification=abc", Foreign},
	{KindSTS, "v=TLSRPTv1; rua=mailto:x@example.test", Foreign},
	{KindSTS, "", Foreign},

	// RPT-REC-7: only "v=TLSRPTv1;" exactly is selected.
	{KindTLSRPT, "v=TLSRPTv1; rua=mailto:a@b.c", Selected},
	{KindTLSRPT, "v=TLSRPTv1;rua=mailto:d@e.f", Selected},
	{KindTLSRPT, "v=TLSRPTv1 ; rua=mailto:a@b.c", NearMiss}, // mox accepts
	{KindTLSRPT, "v=TLSRPTv1 rua=mailto:a@b.c", NearMiss},
	{KindTLSRPT, "v=tlsrptv1; rua=mailto:a@b.c", NearMiss},
	{KindTLSRPT, "v=TLSRPTv1", NearMiss},
	{KindTLSRPT, " v=TLSRPTv1; rua=mailto:a@b.c", NearMiss}, // its author meant TLS-RPT
	{KindTLSRPT, "\tV=TLSRPTV1", NearMiss},
	{KindTLSRPT, "v=TLSRPTv10; rua=mailto:a@b.c", Foreign},
	{KindTLSRPT, "v=TLSRPTv1x", Foreign},
	{KindTLSRPT, "v=STSv1; id=1", Foreign},
	{KindTLSRPT, "google-site-verification=abc123", Foreign},
	{KindTLSRPT, "", Foreign},

	{"", "v=STSv1; id=1", Foreign},
}

func TestClassify(t *testing.T) {
	for _, tc := range classifyCases {
		if got := tc.k.Classify(tc.in); got != tc.want {
			t.Errorf("%s.Classify(%q) = %s, want %s", tc.k, tc.in, got, tc.want)
		}
		if got := tc.k.Matches(tc.in); got != (tc.want != Foreign) {
			t.Errorf("%s.Matches(%q) = %v, want %v", tc.k, tc.in, got, tc.want != Foreign)
		}
	}
}

func TestSelectKeepsOrder(t *testing.T) {
	in := []string{"v=STSv1; id=1", "v=spf1 -all", "v=STSv1 ; id=2", "v=STSv1;id=3", "V=STSv1"}
	sel, near, foreign := KindSTS.Select(in)
	if !slices.Equal(sel, []string{"v=STSv1; id=1", "v=STSv1;id=3"}) ||
		!slices.Equal(near, []string{"v=STSv1 ; id=2", "V=STSv1"}) ||
		!slices.Equal(foreign, []string{"v=spf1 -all"}) {
		t.Errorf("Select = %q / %q / %q", sel, near, foreign)
	}
}

func TestNames(t *testing.T) {
	for got, want := range map[string]string{
		STSName("example.com"):     "_mta-sts.example.com",
		STSName("example.com."):    "_mta-sts.example.com",
		TLSRPTName("example.com."): "_smtp._tls.example.com", // RPT-REC-1
		PolicyHost("example.com"):  "mta-sts.example.com",
		PolicyURL("example.com"):   "https://mta-sts.example.com/.well-known/mta-sts.txt", // STS-FETCH-1
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

func TestSTSRecordRoundTrip(t *testing.T) {
	for _, r := range []STSRecord{
		{ID: "20261101090000abcdefgh"},
		{ID: "1"},
		{ID: strings.Repeat("a", 32)},
		{ID: "x1", Ext: []Field{{Name: "ext-a", Value: "b:c"}, {Name: "e.2", Value: "%41"}}},
	} {
		s := r.String()
		if KindSTS.Classify(s) != Selected {
			t.Errorf("%q is not selected (STS-TXT-4)", s)
		}
		got, err := ParseSTS(s)
		if err != nil {
			t.Errorf("ParseSTS(%q): %v", s, err)
			continue
		}
		if got.ID != r.ID || !slices.Equal(got.Ext, r.Ext) {
			t.Errorf("ParseSTS(%q) = %+v, want %+v", s, got, r)
		}
		if again := got.String(); again != s {
			t.Errorf("format of parse: %q, want %q", again, s)
		}
	}
	if s := (STSRecord{ID: "abc"}).String(); s != "v=STSv1; id=abc;" {
		t.Errorf("canonical form %q", s)
	}
}

func TestTLSRPTRecordRoundTrip(t *testing.T) {
	for _, r := range []TLSRPTRecord{
		{RUA: []string{"mailto:tlsrpt@example.com"}},
		{RUA: []string{"mailto:a@b.c", "https://r.example/tlsrpt"}},
		{RUA: []string{"mailto:a@b.c"}, Ext: []Field{{Name: "x", Value: "y"}}},
	} {
		s := r.String()
		if KindTLSRPT.Classify(s) != Selected {
			t.Errorf("%q is not selected (RPT-REC-7)", s)
		}
		got, err := ParseTLSRPT(s)
		if err != nil {
			t.Errorf("ParseTLSRPT(%q): %v", s, err)
			continue
		}
		if !slices.Equal(got.RUA, r.RUA) || !slices.Equal(got.Ext, r.Ext) {
			t.Errorf("ParseTLSRPT(%q) = %+v, want %+v", s, got, r)
		}
		if again := got.String(); again != s {
			t.Errorf("format of parse: %q, want %q", again, s)
		}
	}
	if s := (TLSRPTRecord{RUA: []string{"mailto:a@b.c", "mailto:d@e.f"}}).String(); s != "v=TLSRPTv1; rua=mailto:a@b.c,mailto:d@e.f" {
		t.Errorf("canonical form %q", s)
	}
}

func TestParseSTSRejects(t *testing.T) {
	for _, s := range []string{
		"v=STSv1 ; id=1",           // STS-TXT-14: not selected
		"V=STSv1; id=1",            // STS-TXT-8
		"v=STSv1;",                 // STS-TXT-8: no field
		"v=STSv1; id=1;;",          // empty field
		"v=STSv1; id=a-b",          // STS-TXT-9
		"v=STSv1; id=",             // STS-TXT-9
		"v=STSv1; x=1",             // STS-TXT-9: no id
		"v=STSv1; id=1; id=2",      // STS-TXT-12
		"v=STSv1; id = 1",          // STS-TXT-14
		"v=STSv1; id=1 ",           // STS-TXT-14: trailing space
		"v=STSv1; id=1 x=2",        // STS-TXT-8
		"v=STSv1; id=1; _x=2",      // STS-TXT-11
		"v=STSv1; id=1; x=a=b",     // STS-TXT-11
		"v=STSv1; id=1; x=caf\xc3", // STS-TXT-8: non-ASCII
	} {
		if r, err := ParseSTS(s); err == nil {
			t.Errorf("ParseSTS(%q) = %+v, want an error", s, r)
		}
	}
	for s, id := range map[string]string{
		"v=STSv1;id=1":             "1",
		"v=STSv1; id=1;":           "1",
		"v=STSv1;\tid=1 ;  x=y ; ": "1",
	} {
		if r, err := ParseSTS(s); err != nil || r.ID != id {
			t.Errorf("ParseSTS(%q) = %+v, %v, want id %q", s, r, err, id)
		}
	}
}

func TestParseTLSRPTRejects(t *testing.T) {
	for _, s := range []string{
		" v=TLSRPTv1; rua=mailto:a@b.c",     // RPT-REC-7
		"v=TLSRPTv1 ; rua=mailto:a@b.c",     // RPT-REC-7
		"v=TLSRPTv1;",                       // RPT-REC-2
		"v=TLSRPTv1; x=y",                   // RPT-REC-3: no rua
		"v=TLSRPTv1; rua=",                  // RPT-REC-3
		"v=TLSRPTv1; rua=mailto:a@b.c,",     // RPT-REC-3: stray comma
		"v=TLSRPTv1; rua = mailto:a@b.c",    // RPT-REC-2
		"v=TLSRPTv1; rua=mailto:a@b.c x",    // RPT-REC-3
		"v=TLSRPTv1; rua=mailto:a@b.c; _=1", // RPT-REC-6
	} {
		if r, err := ParseTLSRPT(s); err == nil {
			t.Errorf("ParseTLSRPT(%q) = %+v, want an error", s, r)
		}
	}
	// RPT-REC-5: destinations of every rua field, in order.
	r, err := ParseTLSRPT("v=TLSRPTv1; rua=mailto:a@b.c , https://r.example/x; rua=mailto:d@e.f;")
	if err != nil || !slices.Equal(r.RUA, []string{"mailto:a@b.c", "https://r.example/x", "mailto:d@e.f"}) {
		t.Errorf("got %+v, %v", r, err)
	}
}

func TestSplitRUA(t *testing.T) {
	if got := SplitRUA(" mailto:a@b.c ,, https://r.example/x,"); !slices.Equal(got, []string{"mailto:a@b.c", "https://r.example/x"}) {
		t.Errorf("SplitRUA = %q", got)
	}
	if got := SplitRUA(""); got != nil {
		t.Errorf("SplitRUA(\"\") = %q", got)
	}
}

func TestCutVersion(t *testing.T) {
	for _, tc := range []struct {
		in    string
		k     Kind
		rest  string
		issue PrefixIssue
	}{
		{"v=STSv1; id=1", KindSTS, "; id=1", PrefixOK},
		{"  v=STSv1;", KindSTS, ";", PrefixLeadingSpace},         // STS-TXT-14
		{"V=stsV1;", KindSTS, ";", PrefixCase},                   // STS-TXT-8
		{"v = STSv1;", KindSTS, ";", PrefixSpaceAroundEq},        // STS-TXT-14
		{"v= TLSRPTv1;x", KindTLSRPT, ";x", PrefixSpaceAroundEq}, // RPT-REC-2
		{"v=spf1", KindSTS, "", PrefixMissing},
		{"v=STSv1", KindTLSRPT, "", PrefixMissing},
	} {
		rest, issue := CutVersion(tc.in, tc.k)
		if rest != tc.rest || issue != tc.issue {
			t.Errorf("CutVersion(%q, %s) = %q, %d; want %q, %d", tc.in, tc.k, rest, issue, tc.rest, tc.issue)
		}
	}
}

// STS-TXT-11, STS-POL-13, RPT-REC-6.
func TestExtGrammar(t *testing.T) {
	for s, want := range map[string]bool{
		"a": true, "A1._-": true, strings.Repeat("a", 32): true,
		"": false, "_a": false, "-a": false, strings.Repeat("a", 33): false, "a b": false, "é": false,
	} {
		if got := ValidExtName(s); got != want {
			t.Errorf("ValidExtName(%q) = %v", s, got)
		}
	}
	for s, want := range map[string]bool{
		"x": true, "b:c": true, "!~": true,
		"": false, "a b": false, "a;b": false, "a=b": false, "\x7f": false, "é": false,
	} {
		if got := ValidExtValue(s); got != want {
			t.Errorf("ValidExtValue(%q) = %v", s, got)
		}
	}
	// STS-TXT-9
	for s, want := range map[string]bool{"1": true, strings.Repeat("Z", 32): true, "": false, strings.Repeat("1", 33): false, "a-b": false} {
		if got := ValidSTSID(s); got != want {
			t.Errorf("ValidSTSID(%q) = %v", s, got)
		}
	}
}

func TestQuote(t *testing.T) {
	if got := Quote("a\x00b"); got != `"a\x00b"` {
		t.Errorf("Quote = %s", got)
	}
	long := strings.Repeat("é", MaxQuoted+5)
	if got := Quote(long); !strings.HasSuffix(got, "…") || strings.Count(got, "é") != MaxQuoted {
		t.Errorf("Quote(long) = %s", got)
	}
}

func TestProblem(t *testing.T) {
	ps := []Problem{
		{Rule: "STS-POL-3", Line: 3, Severity: SevError, Message: "empty line"},
		{Rule: "RPT-REC-5", Severity: SevWarn, Message: "two"},
	}
	if got := ps[0].String(); got != "line 3: STS-POL-3 (error): empty line" {
		t.Errorf("String = %q", got)
	}
	if got := ps[1].String(); got != "RPT-REC-5 (warn): two" {
		t.Errorf("String = %q", got)
	}
	if got := Errors(ps); len(got) != 1 || got[0] != ps[0] {
		t.Errorf("Errors = %v", got)
	}
}

func TestErrors(t *testing.T) {
	ps := []Problem{{Rule: "A", Severity: SevWarn}, {Rule: "B", Severity: SevError}, {Rule: "C", Severity: SevWarn}, {Rule: "D", Severity: SevError}}
	got := Errors(ps)
	if len(got) != 2 || got[0].Rule != "B" || got[1].Rule != "D" {
		t.Errorf("Errors = %v", got)
	}
	if Errors(nil) != nil {
		t.Errorf("Errors(nil) should be nil")
	}
}

func TestSplitLead(t *testing.T) {
	for _, c := range []struct {
		rest   string
		lead   string
		fields []string
		issue  LeadIssue
	}{
		{"; id=1", "", []string{" id=1"}, LeadNone},
		{"  ", "  ", nil, LeadNone},
		{" ; id=1", " ", []string{" id=1"}, LeadBlank},
		{" id=1; x=2", " id=1", []string{" id=1", " x=2"}, LeadUnseparated},
		{"x; id=1", "x", []string{" id=1"}, LeadJunk},
	} {
		lead, fields, issue := SplitLead(c.rest)
		if lead != c.lead || !slices.Equal(fields, c.fields) || issue != c.issue {
			t.Errorf("SplitLead(%q) = %q, %q, %d; want %q, %q, %d", c.rest, lead, fields, issue, c.lead, c.fields, c.issue)
		}
	}
}

func TestCaseHint(t *testing.T) {
	fs := []Field{{Name: "v", Value: "STSv1"}, {Name: "ID", Value: "1"}}
	if got, want := CaseHint(fs, "id"), ` (field names are case-sensitive: "ID" is not "id")`; got != want {
		t.Errorf("CaseHint(id) = %q, want %q", got, want)
	}
	if got := CaseHint(fs, "rua"); got != "" {
		t.Errorf("CaseHint(rua) = %q, want none", got)
	}
}
