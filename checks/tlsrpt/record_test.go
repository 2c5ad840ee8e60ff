package tlsrpt

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stspilot/stspilot/internal/txtrecord"
)

// summary renders problems as "RULE/severity" in order, for exact
// comparison.
func summary(ps []txtrecord.Problem) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Rule + "/" + p.Severity
	}
	return out
}

func TestRecordName(t *testing.T) {
	// RPT-REC-1
	for in, want := range map[string]string{
		"example.com":  "_smtp._tls.example.com",
		"example.com.": "_smtp._tls.example.com",
	} {
		if got := RecordName(in); got != want {
			t.Errorf("RecordName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSelectRecords(t *testing.T) {
	in := []string{
		"v=TLSRPTv1; rua=mailto:a@b.c",    // RPT-REC-7: kept
		"v=spf1 -all",                     // foreign
		"v=TLSRPTv1 ; rua=mailto:a@b.c",   // near: space before ';' (mox accepts)
		"v=TLSRPTv1 rua=mailto:a@b.c",     // near: no ';' at all
		"v=tlsrptv1; rua=mailto:a@b.c",    // near: wrong case
		"v=TLSRPTv1;rua=mailto:d@e.f",     // kept
		"v=TLSRPTv1",                      // near: no ';'
		"v=TLSRPTv10; rua=mailto:a@b.c",   // foreign: another version
		"v=TLSRPTv1x",                     // foreign
		" v=TLSRPTv1; rua=mailto:a@b.c",   // near: leading space
		"google-site-verification=abc123", // foreign
		"",                                // foreign
	}
	rpt, near, foreign := SelectRecords(in)
	wantRPT := []string{in[0], in[5]}
	wantNear := []string{in[2], in[3], in[4], in[6], in[9]}
	wantForeign := []string{in[1], in[7], in[8], in[10], in[11]}
	if !slices.Equal(rpt, wantRPT) {
		t.Errorf("rpt = %q, want %q", rpt, wantRPT)
	}
	if !slices.Equal(near, wantNear) {
		t.Errorf("near = %q, want %q", near, wantNear)
	}
	if !slices.Equal(foreign, wantForeign) {
		t.Errorf("foreign = %q, want %q", foreign, wantForeign)
	}
}

func TestParseRecord(t *testing.T) {
	cases := []struct {
		name   string
		in     string
		rua    []string
		probs  []string // summary(problems), exactly
		scheme int      // len(SchemeProblems(problems))
		msg    string   // if set, some message contains it
	}{
		// Valid records.
		{
			name: "RPT-REC-2 minimal", in: "v=TLSRPTv1; rua=mailto:tlsrpt@example.com",
			rua: []string{"mailto:tlsrpt@example.com"},
		},
		{
			name: "RPT-REC-2 trailing delimiter", in: "v=TLSRPTv1;rua=mailto:a@b.c;",
			rua: []string{"mailto:a@b.c"},
		},
		{
			name: "RPT-REC-2 tabs and spaces around delimiters", in: "v=TLSRPTv1;\t rua=mailto:a@b.c \t;  ",
			rua: []string{"mailto:a@b.c"},
		},
		{
			name: "RPT-REC-4 https destination", in: "v=TLSRPTv1; rua=https://reports.example.com/v1/tlsrpt",
			rua: []string{"https://reports.example.com/v1/tlsrpt"},
		},
		{
			name: "RPT-REC-4 https with IPv6 literal and port", in: "v=TLSRPTv1; rua=https://[2001:db8::1]:8443/r",
			rua: []string{"https://[2001:db8::1]:8443/r"},
		},
		{
			name: "RPT-REC-4 mailto with hfields", in: "v=TLSRPTv1; rua=mailto:a@b.c?subject=TLS%20report",
			rua: []string{"mailto:a@b.c?subject=TLS%20report"},
		},
		{
			name: "RPT-REC-4 percent-encoded bang", in: "v=TLSRPTv1; rua=mailto:a%21b@b.c",
			rua: []string{"mailto:a%21b@b.c"},
		},
		{
			name: "RPT-REC-6 extension field ignored", in: "v=TLSRPTv1; rua=mailto:a@b.c; x-foo.bar_1=ba:z/",
			rua: []string{"mailto:a@b.c"},
		},
		{
			name: "RPT-REC-9 destination in another domain", in: "v=TLSRPTv1; rua=mailto:reports@provider.example",
			rua: []string{"mailto:reports@provider.example"},
		},

		// RPT-REC-5: several destinations.
		{
			name: "RPT-REC-3/5 two URIs, spaces and tabs around comma",
			in:   "v=TLSRPTv1; rua=mailto:a@b.c , \thttps://r.example/x",
			rua:  []string{"mailto:a@b.c", "https://r.example/x"}, probs: []string{"RPT-REC-5/warn"}, msg: "only to the first",
		},
		{
			name: "RPT-REC-5 two rua fields merged",
			in:   "v=TLSRPTv1; rua=mailto:a@b.c; rua=mailto:d@e.f",
			rua:  []string{"mailto:a@b.c", "mailto:d@e.f"}, probs: []string{"RPT-REC-5/warn"}, msg: "in 2 rua fields",
		},
		{
			name: "RPT-REC-5 same URI twice",
			in:   "v=TLSRPTv1; rua=mailto:a@b.c,mailto:a@b.c",
			rua:  []string{"mailto:a@b.c", "mailto:a@b.c"}, probs: []string{"RPT-REC-5/warn"}, msg: "more than once",
		},

		// RPT-REC-4: schemes.
		{
			name: "RPT-REC-4 http", in: "v=TLSRPTv1; rua=http://reports.example.com/tlsrpt",
			rua: []string{"http://reports.example.com/tlsrpt"}, probs: []string{"RPT-REC-4/error"}, scheme: 1,
			msg: `"https://reports.example.com/tlsrpt"`,
		},
		{
			name: "RPT-REC-4 ftp", in: "v=TLSRPTv1; rua=ftp://r.example/x",
			rua: []string{"ftp://r.example/x"}, probs: []string{"RPT-REC-4/error"}, scheme: 1, msg: `"ftp:"`,
		},
		{
			name: "RPT-REC-4 bare address", in: "v=TLSRPTv1; rua=tls@example.com",
			rua: []string{"tls@example.com"}, probs: []string{"RPT-REC-4/error"}, scheme: 1, msg: `"mailto:tls@example.com"`,
		},
		{
			name: "RPT-REC-4 bare host and path", in: "v=TLSRPTv1; rua=reports.example.com/tlsrpt",
			rua: []string{"reports.example.com/tlsrpt"}, probs: []string{"RPT-REC-4/error"}, scheme: 1,
			msg: `"https://reports.example.com/tlsrpt"`,
		},
		{
			name: "RPT-REC-4 not a URI", in: "v=TLSRPTv1; rua=tlsrpt",
			rua: []string{"tlsrpt"}, probs: []string{"RPT-REC-4/error"}, scheme: 1,
		},
		{
			name: "RPT-REC-4 upper-case scheme", in: "v=TLSRPTv1; rua=MAILTO:a@b.c",
			rua: []string{"MAILTO:a@b.c"}, probs: []string{"RPT-REC-4/warn"}, scheme: 1, msg: `"mailto:"`,
		},
		{
			name: "RPT-REC-4/5 one good, one http",
			in:   "v=TLSRPTv1; rua=mailto:a@b.c,http://r.example/",
			rua:  []string{"mailto:a@b.c", "http://r.example/"}, probs: []string{"RPT-REC-4/error", "RPT-REC-5/warn"}, scheme: 1,
		},

		// RPT-REC-4: encoding and URI shape.
		{
			name: "RPT-REC-4 DMARC size suffix", in: "v=TLSRPTv1; rua=mailto:a@b.c!10m",
			rua: []string{"mailto:a@b.c!10m"}, probs: []string{"RPT-REC-4/error"}, msg: "%21",
		},
		{
			name: "RPT-REC-4 unencoded semicolon in https path", in: "v=TLSRPTv1; rua=https://r.example/a;b",
			rua: []string{"https://r.example/a"}, probs: []string{"RPT-REC-4/error"}, msg: "%3B",
		},
		{
			name: "RPT-REC-4 unencoded semicolon before a query", in: "v=TLSRPTv1; rua=https://r.example/a;b/c?d=e",
			rua: []string{"https://r.example/a"}, probs: []string{"RPT-REC-4/error"}, msg: `"b/c?d=e"`,
		},
		{
			name: "RPT-REC-4 mailto without @", in: "v=TLSRPTv1; rua=mailto:tlsrpt",
			rua: []string{"mailto:tlsrpt"}, probs: []string{"RPT-REC-4/error"}, msg: "no '@'",
		},
		{
			name: "RPT-REC-4 mailto with two @", in: "v=TLSRPTv1; rua=mailto:a@b@c.d",
			rua: []string{"mailto:a@b@c.d"}, probs: []string{"RPT-REC-4/error"}, msg: "more than one '@'",
		},
		{
			name: "RPT-REC-4 mailto with encoded comma (two addresses)", in: "v=TLSRPTv1; rua=mailto:a@b.c%2Cd@e.f",
			rua: []string{"mailto:a@b.c%2Cd@e.f"}, probs: []string{"RPT-REC-4/error"}, msg: "more than one '@'",
		},
		{
			name: "RPT-REC-4 mailto without domain", in: "v=TLSRPTv1; rua=mailto:a@",
			rua: []string{"mailto:a@"}, probs: []string{"RPT-REC-4/error"}, msg: "invalid domain",
		},
		{
			name: "RPT-REC-4 mailto with bad domain", in: "v=TLSRPTv1; rua=mailto:a@-b.c",
			rua: []string{"mailto:a@-b.c"}, probs: []string{"RPT-REC-4/error"}, msg: `"-b.c"`,
		},
		{
			name: "RPT-REC-4 mailto without local part", in: "v=TLSRPTv1; rua=mailto:@b.c",
			rua: []string{"mailto:@b.c"}, probs: []string{"RPT-REC-4/error"}, msg: "local part",
		},
		{
			name: "RPT-REC-4 empty mailto", in: "v=TLSRPTv1; rua=mailto:",
			rua: []string{"mailto:"}, probs: []string{"RPT-REC-4/error"}, msg: "no address",
		},
		{
			name: "RPT-REC-4 mailto with slashes", in: "v=TLSRPTv1; rua=mailto://a@b.c",
			rua: []string{"mailto://a@b.c"}, probs: []string{"RPT-REC-4/error"}, msg: `"mailto:a@b.c"`,
		},
		{
			name: "RPT-REC-4 https without host", in: "v=TLSRPTv1; rua=https:r.example/x",
			rua: []string{"https:r.example/x"}, probs: []string{"RPT-REC-4/error"}, msg: "no host",
		},
		{
			name: "RPT-REC-4 https with bad host", in: "v=TLSRPTv1; rua=https://r_x.example/",
			rua: []string{"https://r_x.example/"}, probs: []string{"RPT-REC-4/error"}, msg: `"r_x.example"`,
		},
		{
			name: "RPT-REC-4 https with bad port", in: "v=TLSRPTv1; rua=https://r.example:99999/",
			rua: []string{"https://r.example:99999/"}, probs: []string{"RPT-REC-4/error"},
		},
		{
			name: "RPT-REC-4 broken percent-escape", in: "v=TLSRPTv1; rua=https://r.example/%zz",
			rua: []string{"https://r.example/%zz"}, probs: []string{"RPT-REC-4/error"}, msg: `"%zz"`,
		},
		{
			name: "RPT-REC-4 character not allowed in a URI", in: "v=TLSRPTv1; rua=https://r.example/<x>",
			rua: []string{"https://r.example/<x>"}, probs: []string{"RPT-REC-4/error"}, msg: `"<"`,
		},

		// RPT-REC-3: rua presence and list shape.
		{
			name: "RPT-REC-3 no rua", in: "v=TLSRPTv1; foo=bar",
			probs: []string{"RPT-REC-3/error"},
		},
		{
			name: "RPT-REC-3 rua in upper case is an extension", in: "v=TLSRPTv1; RUA=mailto:a@b.c",
			probs: []string{"RPT-REC-3/error"}, msg: "case-sensitive",
		},
		{
			name: "RPT-REC-3 empty rua", in: "v=TLSRPTv1; rua=",
			probs: []string{"RPT-REC-3/error"}, msg: "empty",
		},
		{
			name: "RPT-REC-3 stray comma", in: "v=TLSRPTv1; rua=mailto:a@b.c,",
			rua: []string{"mailto:a@b.c"}, probs: []string{"RPT-REC-3/error"}, msg: "stray comma",
		},
		{
			name: "RPT-REC-3 URIs separated by a space", in: "v=TLSRPTv1; rua=mailto:a@b.c mailto:d@e.f",
			rua: []string{"mailto:a@b.c mailto:d@e.f"}, probs: []string{"RPT-REC-3/error"}, msg: "separate URIs with ','",
		},

		// RPT-REC-2 / RPT-REC-7: prefix and grammar.
		{
			name: "RPT-REC-2 lower-case version", in: "v=tlsrptv1; rua=mailto:a@b.c",
			rua: []string{"mailto:a@b.c"}, probs: []string{"RPT-REC-2/error"}, msg: "case-sensitive",
		},
		{
			name: "RPT-REC-7 space before first semicolon", in: "v=TLSRPTv1 ; rua=mailto:a@b.c",
			rua: []string{"mailto:a@b.c"}, probs: []string{"RPT-REC-7/error"}, msg: `"v=TLSRPTv1 ;"`,
		},
		{
			name: "RPT-REC-2 leading space", in: " v=TLSRPTv1; rua=mailto:a@b.c",
			rua: []string{"mailto:a@b.c"}, probs: []string{"RPT-REC-2/error"},
		},
		{
			name: "RPT-REC-2 spaces around = in version", in: "v = TLSRPTv1; rua=mailto:a@b.c",
			rua: []string{"mailto:a@b.c"}, probs: []string{"RPT-REC-2/error"},
		},
		{
			name: "RPT-REC-2 no semicolon", in: "v=TLSRPTv1 rua=mailto:a@b.c",
			rua: []string{"mailto:a@b.c"}, probs: []string{"RPT-REC-2/error"}, msg: `"v=TLSRPTv1; rua=mailto:a@b.c"`,
		},
		{
			name: "RPT-REC-2 version only", in: "v=TLSRPTv1",
			probs: []string{"RPT-REC-2/error", "RPT-REC-3/error"},
		},
		{
			name: "RPT-REC-2 version and delimiter only", in: "v=TLSRPTv1;",
			probs: []string{"RPT-REC-2/error", "RPT-REC-3/error"},
		},
		{
			name: "RPT-REC-2 other version", in: "v=TLSRPTv10; rua=mailto:a@b.c",
			rua: []string{"mailto:a@b.c"}, probs: []string{"RPT-REC-2/error"}, msg: `"0"`,
		},
		{
			name: "RPT-REC-2 not a TLS-RPT record", in: "v=STSv1; id=1",
			probs: []string{"RPT-REC-2/error"},
		},
		{
			name: "RPT-REC-2 empty", in: "",
			probs: []string{"RPT-REC-2/error"},
		},
		{
			name: "RPT-REC-2 spaces around =", in: "v=TLSRPTv1; rua = mailto:a@b.c",
			rua: []string{"mailto:a@b.c"}, probs: []string{"RPT-REC-2/error"}, msg: `"rua=mailto:a@b.c"`,
		},
		{
			name: "RPT-REC-2 empty field", in: "v=TLSRPTv1;; rua=mailto:a@b.c",
			rua: []string{"mailto:a@b.c"}, probs: []string{"RPT-REC-2/error"}, msg: "empty field",
		},
		{
			name: "RPT-REC-2 field without =", in: "v=TLSRPTv1; foo; rua=mailto:a@b.c",
			rua: []string{"mailto:a@b.c"}, probs: []string{"RPT-REC-2/error"}, msg: `"foo"`,
		},
		{
			name: "RPT-REC-2 non-ASCII", in: "v=TLSRPTv1; rua=mailto:tls@exämple.com",
			rua: []string{"mailto:tls@exämple.com"}, probs: []string{"RPT-REC-2/error", "RPT-REC-4/error"},
		},
		{
			name: "RPT-REC-2 binary", in: "v=TLSRPTv1; rua=mailto:a@b.c\x00\xff\x01",
			rua: []string{"mailto:a@b.c\x00\xff\x01"}, probs: []string{"RPT-REC-2/error", "RPT-REC-4/error"}, msg: `\x00`,
		},

		// RPT-REC-6: extension fields.
		{
			name: "RPT-REC-6 malformed extension name", in: "v=TLSRPTv1; rua=mailto:a@b.c; _x=1",
			rua: []string{"mailto:a@b.c"}, probs: []string{"RPT-REC-6/warn"}, msg: `"_x"`,
		},
		{
			name: "RPT-REC-6 extension name too long", in: "v=TLSRPTv1; rua=mailto:a@b.c; " + strings.Repeat("a", 33) + "=1",
			rua: []string{"mailto:a@b.c"}, probs: []string{"RPT-REC-6/warn"},
		},
		{
			name: "RPT-REC-6 extension value with =", in: "v=TLSRPTv1; x=a=b; rua=mailto:a@b.c",
			rua: []string{"mailto:a@b.c"}, probs: []string{"RPT-REC-6/warn"}, msg: `"a=b"`,
		},
		{
			name: "RPT-REC-6 empty extension value", in: "v=TLSRPTv1; x=; rua=mailto:a@b.c",
			rua: []string{"mailto:a@b.c"}, probs: []string{"RPT-REC-6/warn"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec, ps := ParseRecord(c.in)
			if rec.Raw != c.in {
				t.Errorf("Raw = %q, want the input", rec.Raw)
			}
			if !slices.Equal(rec.RUA, c.rua) {
				t.Errorf("RUA = %q, want %q", rec.RUA, c.rua)
			}
			if got := summary(ps); !slices.Equal(got, c.probs) {
				t.Errorf("problems = %v, want %v\n%v", got, c.probs, ps)
			}
			if got := len(SchemeProblems(ps)); got != c.scheme {
				t.Errorf("%d scheme problems, want %d\n%v", got, c.scheme, ps)
			}
			if c.msg != "" && !slices.ContainsFunc(ps, func(p txtrecord.Problem) bool { return strings.Contains(p.Message, c.msg) }) {
				t.Errorf("no message contains %q\n%v", c.msg, ps)
			}
			checkMessages(t, ps)
		})
	}
}

// checkMessages: every message is one printable line naming what is wrong.
func checkMessages(t *testing.T, ps []txtrecord.Problem) {
	t.Helper()
	for _, p := range ps {
		if p.Message == "" || !utf8.ValidString(p.Message) || strings.ContainsAny(p.Message, "\x00\r\n\t") {
			t.Errorf("bad message %q", p.Message)
		}
		if len(p.Message) > 600 {
			t.Errorf("message of %d bytes: %.80q...", len(p.Message), p.Message)
		}
	}
}

func TestParseRecordFields(t *testing.T) {
	// RPT-REC-5/6: Fields keeps every field in order, values as written.
	rec, ps := ParseRecord("v=TLSRPTv1; rua=mailto:a@b.c; ext=1; rua=https://r.example/x;")
	if len(ps) != 1 || ps[0].Rule != "RPT-REC-5" {
		t.Fatalf("problems = %v, want one RPT-REC-5", ps)
	}
	want := []Field{{Name: "v", Value: "TLSRPTv1"}, {Name: "rua", Value: "mailto:a@b.c"}, {Name: "ext", Value: "1"}, {Name: "rua", Value: "https://r.example/x"}}
	if !slices.Equal(rec.Fields, want) {
		t.Errorf("Fields = %q, want %q", rec.Fields, want)
	}
	if !MultipleRUA(rec) {
		t.Error("MultipleRUA = false for two destinations")
	}
}

func TestMultipleRUA(t *testing.T) {
	// RPT-REC-5, OPS-3
	for _, c := range []struct {
		rua  []string
		want bool
	}{
		{nil, false},
		{[]string{"mailto:a@b.c"}, false},
		{[]string{"mailto:a@b.c", "mailto:d@e.f"}, true},
	} {
		if got := MultipleRUA(Record{RUA: c.rua}); got != c.want {
			t.Errorf("MultipleRUA(%q) = %v, want %v", c.rua, got, c.want)
		}
	}
}

func TestParseRecordLarge(t *testing.T) {
	// RPT-REC-6: a 64 KiB extension value is well-formed and harmless.
	big := "v=TLSRPTv1; rua=mailto:a@b.c; x=" + strings.Repeat("a", 64<<10)
	rec, ps := ParseRecord(big)
	if len(ps) != 0 || !slices.Equal(rec.RUA, []string{"mailto:a@b.c"}) {
		t.Errorf("64 KiB extension: RUA %q, problems %v", rec.RUA, ps)
	}

	// RPT-REC-4: 64 KiB of bad destinations gives a capped, readable list.
	var b strings.Builder
	b.WriteString("v=TLSRPTv1; rua=mailto:a@b.c")
	for b.Len() < 64<<10 {
		b.WriteString(",http://r.example/")
	}
	rec, ps = ParseRecord(b.String())
	if len(ps) != maxProblems+1 {
		t.Fatalf("%d problems, want %d (capped plus a summary)", len(ps), maxProblems+1)
	}
	last := ps[len(ps)-1]
	if last.Rule != "RPT-REC-4" || last.Severity != txtrecord.SevError || !strings.Contains(last.Message, "more problems") {
		t.Errorf("summary problem = %v", last)
	}
	// Every bad URI is a scheme problem, the summary included; the
	// RPT-REC-5 warning is among those left out.
	if n := len(SchemeProblems(ps)); n != len(ps) {
		t.Errorf("%d scheme problems of %d", n, len(ps))
	}
	if len(rec.RUA) < 3000 {
		t.Errorf("only %d destinations kept", len(rec.RUA))
	}
	checkMessages(t, ps)
}

func TestRender(t *testing.T) {
	ok := []struct {
		rua  []string
		want string
	}{
		{[]string{"mailto:tlsrpt@example.com"}, "v=TLSRPTv1; rua=mailto:tlsrpt@example.com"},
		{[]string{"mailto:a@b.c", "https://r.example/v1"}, "v=TLSRPTv1; rua=mailto:a@b.c,https://r.example/v1"},
		{[]string{"mailto:a%21b@b.c", "https://r.example/a%3Bb%2Cc%21"}, "v=TLSRPTv1; rua=mailto:a%21b@b.c,https://r.example/a%3Bb%2Cc%21"},
	}
	for _, c := range ok {
		got, err := Render(c.rua)
		if err != nil || got != c.want {
			t.Errorf("Render(%q) = %q, %v; want %q", c.rua, got, err, c.want)
			continue
		}
		rec, ps := ParseRecord(got)
		if len(ps) > 0 && !(len(c.rua) > 1 && len(ps) == 1 && ps[0].Rule == "RPT-REC-5") {
			t.Errorf("Render(%q) parses with problems %v", c.rua, ps)
		}
		if !slices.Equal(rec.RUA, c.rua) {
			t.Errorf("Render(%q) parses back to %q", c.rua, rec.RUA)
		}
	}

	bad := []struct {
		name string
		rua  []string
	}{
		{"RPT-REC-3 none", nil},
		{"RPT-REC-3 empty URI", []string{""}},
		{"RPT-REC-4 http", []string{"http://r.example/"}},
		{"RPT-REC-4 bare address", []string{"tls@example.com"}},
		{"RPT-REC-4 comma", []string{"mailto:a@b.c,d@e.f"}},
		{"RPT-REC-4 semicolon", []string{"https://r.example/a;b"}},
		{"RPT-REC-4 bang", []string{"mailto:a@b.c!10m"}},
		{"RPT-REC-3 surrounding space", []string{" mailto:a@b.c"}},
		{"RPT-REC-4 second URI bad", []string{"mailto:a@b.c", "ftp://r.example/"}},
		{"RPT-REC-4 newline", []string{"mailto:a@b.c\n"}},
	}
	for _, c := range bad {
		if got, err := Render(c.rua); err == nil {
			t.Errorf("%s: Render(%q) = %q, want an error", c.name, c.rua, got)
		}
	}
}

func FuzzParseRecord(f *testing.F) {
	for _, s := range []string{
		"v=TLSRPTv1; rua=mailto:tlsrpt@example.com",
		"v=TLSRPTv1;rua=mailto:a@b.c;",
		"v=TLSRPTv1; rua=mailto:a@b.c , https://r.example/x; rua=mailto:d@e.f",
		"v=TLSRPTv1; rua=http://r.example/x",
		"v=TLSRPTv1; rua=tls@example.com",
		"v=tlsrptv1; rua=mailto:a@b.c!10m",
		"v=TLSRPTv1 ; rua=https://r.example/a;b; x=1",
		"v=TLSRPTv1; rua=mailto:a%2Cb@c.d?subject=x%20y; ext=v",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rec, ps := ParseRecord(s)
		if rec.Raw != s {
			t.Fatalf("Raw = %q", rec.Raw)
		}
		if len(ps) > maxProblems+1 {
			t.Fatalf("%d problems, more than the cap", len(ps))
		}
		for _, p := range ps {
			if !strings.HasPrefix(p.Rule, "RPT-REC-") || (p.Severity != txtrecord.SevError && p.Severity != txtrecord.SevWarn) {
				t.Fatalf("bad problem %v", p)
			}
		}
		checkMessages(t, ps)
		if MultipleRUA(rec) != (len(rec.RUA) > 1) {
			t.Fatal("MultipleRUA disagrees with RUA")
		}

		rpt, near, foreign := SelectRecords([]string{s})
		if len(rpt)+len(near)+len(foreign) != 1 {
			t.Fatalf("SelectRecords split one record into %d/%d/%d", len(rpt), len(near), len(foreign))
		}
		if len(txtrecord.Errors(ps)) > 0 {
			return
		}
		// An error-free record is selected (RPT-REC-7) and has a destination
		// (RPT-REC-3).
		if len(rpt) != 1 {
			t.Fatalf("error-free record %q not selected", s)
		}
		if len(rec.RUA) == 0 {
			t.Fatalf("error-free record %q has no destination", s)
		}
		// Property: its destinations render to a record that parses back to
		// the same destinations, without errors.
		out, err := Render(rec.RUA)
		if err != nil {
			t.Fatalf("Render(%q) of error-free record %q: %v", rec.RUA, s, err)
		}
		rec2, ps2 := ParseRecord(out)
		if errs := txtrecord.Errors(ps2); len(errs) > 0 {
			t.Fatalf("Render output %q has errors %v", out, errs)
		}
		if !slices.Equal(rec2.RUA, rec.RUA) {
			t.Fatalf("Render output %q parses to %q, want %q", out, rec2.RUA, rec.RUA)
		}
	})
}
