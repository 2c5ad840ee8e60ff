package mtasts

import (
	"cmp"
	"slices"
	"strings"
	"testing"

	"github.com/stspilot/stspilot/internal/txtrecord"
)

func TestJoinTXT_STS_TXT_3(t *testing.T) {
	for _, tc := range []struct {
		strs []string
		want string
	}{
		{nil, ""},
		{[]string{"v=STSv1; id=1"}, "v=STSv1; id=1"},
		// joined with nothing in between, not even a space
		{[]string{"v=STSv1;", " id=20240101"}, "v=STSv1; id=20240101"},
		{[]string{"v=STS", "v1;id=", "abc"}, "v=STSv1;id=abc"},
	} {
		if got := JoinTXT(tc.strs); got != tc.want {
			t.Errorf("JoinTXT(%q) = %q, want %q", tc.strs, got, tc.want)
		}
	}
}

func TestSelectRecords_STS_TXT_4(t *testing.T) {
	in := []string{
		"v=STSv1; id=1",                // sts
		"v=spf1 -all",                  // foreign
		"v=STSv1 ; id=2",               // near: STS-TXT-14, mox and tlspol accept
		"v=STSv1\t;id=3",               // near
		"v=STSv1 id=4",                 // near: no ';' (pmsr keeps it)
		"v=STSv1",                      // near: no ';'
		"V=STSv1; id=5",                // near: mailauth matches case-insensitively
		"google-site-verification=abc", // foreign
		"v=STSv1;id=6",                 // sts
		"v=STSv10; id=7",               // foreign: another version, has ';'
		" v=STSv1; id=8",               // foreign: leading space fails every prefix test
		"",                             // foreign
	}
	sts, near, foreign := SelectRecords(in)
	wantSTS := []string{"v=STSv1; id=1", "v=STSv1;id=6"}
	wantNear := []string{"v=STSv1 ; id=2", "v=STSv1\t;id=3", "v=STSv1 id=4", "v=STSv1", "V=STSv1; id=5"}
	wantForeign := []string{"v=spf1 -all", "google-site-verification=abc", "v=STSv10; id=7", " v=STSv1; id=8", ""}
	if !slices.Equal(sts, wantSTS) {
		t.Errorf("sts = %q, want %q", sts, wantSTS)
	}
	if !slices.Equal(near, wantNear) {
		t.Errorf("near = %q, want %q", near, wantNear)
	}
	if !slices.Equal(foreign, wantForeign) {
		t.Errorf("foreign = %q, want %q", foreign, wantForeign)
	}
}

func TestValidID_STS_TXT_9(t *testing.T) {
	for id, want := range map[string]bool{
		"1":                                 true,
		"20240101T000000Z":                  true,
		"abcdefghijklmnopqrstuvwxyz012345":  true,  // 32
		"abcdefghijklmnopqrstuvwxyz0123456": false, // 33
		"":                                  false,
		"2024-01-01":                        false,
		"a:b":                               false,
		"a.b":                               false,
		"a_b":                               false,
		"a+b":                               false,
		"a b":                               false,
		"é":                                 false,
	} {
		if got := ValidID(id); got != want {
			t.Errorf("ValidID(%q) = %v, want %v", id, got, want)
		}
	}
}

// pk is a problem's identity for table comparisons.
type pk struct {
	Rule string
	Line int
	Sev  string
}

func keys(ps []txtrecord.Problem) []pk {
	out := make([]pk, 0, len(ps))
	for _, p := range ps {
		out = append(out, pk{p.Rule, p.Line, p.Severity})
	}
	return out
}

func byKey(a, b pk) int {
	return cmp.Or(strings.Compare(a.Rule, b.Rule), cmp.Compare(a.Line, b.Line), strings.Compare(a.Sev, b.Sev))
}

// sameProblems reports whether got has exactly the problems in want, in any
// order.
func sameProblems(got []txtrecord.Problem, want []pk) bool {
	g, w := keys(got), slices.Clone(want)
	slices.SortFunc(g, byKey)
	slices.SortFunc(w, byKey)
	return slices.Equal(g, w)
}

func TestParseRecord(t *testing.T) {
	const E, W = txtrecord.SevError, txtrecord.SevWarn
	for _, tc := range []struct {
		name   string
		rec    string
		want   []pk
		wantID string
	}{
		{"STS-TXT-8 minimal", "v=STSv1; id=20240101T000000Z", nil, "20240101T000000Z"},
		{"STS-TXT-8 no spaces", "v=STSv1;id=abc", nil, "abc"},
		{"STS-TXT-8 trailing delimiter", "v=STSv1; id=abc; ", nil, "abc"},
		{"STS-TXT-8 tabs around ;", "v=STSv1;\tid=abc\t;\t", nil, "abc"},
		{"STS-TXT-11 extension field", "v=STSv1; id=abc; ext_1.a-b=x:y/z", nil, "abc"},
		{"STS-TXT-8 id not first", "v=STSv1; foo=bar; id=abc", nil, "abc"},
		{"STS-TXT-8 prefix case", "V=STSv1; id=abc", []pk{{"STS-TXT-8", 0, E}}, "abc"},
		{"STS-TXT-8 other version", "v=STSv2; id=abc", []pk{{"STS-TXT-8", 0, E}}, ""},
		{"STS-TXT-8 text after v=STSv1", "v=STSv10; id=abc", []pk{{"STS-TXT-8", 0, E}}, "abc"},
		{"STS-TXT-8 nothing after v", "v=STSv1", []pk{{"STS-TXT-8", 0, E}, {"STS-TXT-9", 0, E}}, ""},
		{"STS-TXT-8 only delimiter", "v=STSv1;", []pk{{"STS-TXT-8", 0, E}, {"STS-TXT-9", 0, E}}, ""},
		{"STS-TXT-8 space instead of ;", "v=STSv1 id=abc", []pk{{"STS-TXT-8", 0, E}}, "abc"},
		{"STS-TXT-8 double delimiter", "v=STSv1; id=abc;; x=y", []pk{{"STS-TXT-8", 0, E}}, "abc"},
		{"STS-TXT-8 two trailing delimiters", "v=STSv1; id=abc;;", []pk{{"STS-TXT-8", 0, E}}, "abc"},
		{"STS-TXT-8 field without =", "v=STSv1; id=abc; foo", []pk{{"STS-TXT-8", 0, E}}, "abc"},
		{"STS-TXT-8 whitespace inside field", "v=STSv1; id=abc def", []pk{{"STS-TXT-8", 0, E}, {"STS-TXT-9", 0, E}}, ""},
		{"STS-TXT-8 non-ASCII", "v=STSv1; id=abc; x=caf\u00e9", []pk{{"STS-TXT-8", 0, E}, {"STS-TXT-11", 0, E}}, "abc"},
		{"STS-TXT-9 missing id", "v=STSv1; foo=bar", []pk{{"STS-TXT-9", 0, E}}, ""},
		{"STS-TXT-9 id is case-sensitive", "v=STSv1; ID=abc", []pk{{"STS-TXT-9", 0, E}}, ""},
		{"STS-TXT-9 id with dashes is not an extension", "v=STSv1; id=2024-01-01", []pk{{"STS-TXT-9", 0, E}}, ""},
		{"STS-TXT-9 empty id", "v=STSv1; id=", []pk{{"STS-TXT-9", 0, E}}, ""},
		{"STS-TXT-9 id of 33 characters", "v=STSv1; id=" + strings.Repeat("a", 33), []pk{{"STS-TXT-9", 0, E}}, ""},
		{"STS-TXT-9 id of 32 characters", "v=STSv1; id=" + strings.Repeat("a", 32), nil, strings.Repeat("a", 32)},
		{"STS-TXT-11 bad extension name", "v=STSv1; id=abc; _x=1", []pk{{"STS-TXT-11", 0, E}}, "abc"},
		{"STS-TXT-11 extension name too long", "v=STSv1; id=abc; " + strings.Repeat("n", 33) + "=1", []pk{{"STS-TXT-11", 0, E}}, "abc"},
		{"STS-TXT-11 extension value with =", "v=STSv1; id=abc; x=a=b", []pk{{"STS-TXT-11", 0, E}}, "abc"},
		{"STS-TXT-11 empty extension value", "v=STSv1; id=abc; x=", []pk{{"STS-TXT-11", 0, E}}, "abc"},
		{"STS-TXT-12 repeated id", "v=STSv1; id=abc; id=def", []pk{{"STS-TXT-12", 0, W}}, "abc"},
		{"STS-TXT-12 first id invalid", "v=STSv1; id=a-b; id=def", []pk{{"STS-TXT-9", 0, E}, {"STS-TXT-12", 0, W}}, ""},
		{"STS-TXT-14 space before first ;", "v=STSv1 ; id=abc", []pk{{"STS-TXT-14", 0, W}}, "abc"},
		{"STS-TXT-14 spaces around =", "v=STSv1; id = abc", []pk{{"STS-TXT-14", 0, E}}, "abc"},
		{"STS-TXT-14 trailing whitespace", "v=STSv1; id=abc ", []pk{{"STS-TXT-14", 0, E}}, "abc"},
		{"STS-TXT-14 trailing whitespace after delimiter", "v=STSv1; id=abc;\t", nil, "abc"},
		{"STS-TXT-14 space before v", " v=STSv1; id=abc", []pk{{"STS-TXT-14", 0, E}}, "abc"},
		{"STS-TXT-14 spaces around = in v", "v = STSv1; id=abc", []pk{{"STS-TXT-14", 0, E}}, "abc"},
		{"STS-TXT-4 SPF record", "v=spf1 -all", []pk{{"STS-TXT-8", 0, E}}, ""},
		{"STS-TXT-4 empty", "", []pk{{"STS-TXT-8", 0, E}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec, ps := ParseRecord(tc.rec)
			if !sameProblems(ps, tc.want) {
				t.Errorf("ParseRecord(%q) problems = %v, want %v", tc.rec, ps, tc.want)
			}
			if rec.ID != tc.wantID {
				t.Errorf("ID = %q, want %q", rec.ID, tc.wantID)
			}
			if rec.Raw != tc.rec {
				t.Errorf("Raw = %q, want %q", rec.Raw, tc.rec)
			}
			for _, p := range ps {
				if p.Message == "" || p.Line != 0 {
					t.Errorf("problem %+v: want a message and line 0", p)
				}
			}
		})
	}
}

func TestParseRecordFields_STS_TXT_8(t *testing.T) {
	rec, ps := ParseRecord("v=STSv1; id=abc; ext=1;")
	if len(ps) != 0 {
		t.Fatalf("problems: %v", ps)
	}
	want := []Field{{Name: "v", Value: "STSv1"}, {Name: "id", Value: "abc"}, {Name: "ext", Value: "1"}}
	if !slices.Equal(rec.Fields, want) {
		t.Errorf("Fields = %v, want %v", rec.Fields, want)
	}
}

func TestParseRecordMessageNamesText_STS_TXT_9(t *testing.T) {
	_, ps := ParseRecord("v=STSv1; id=2024-01-01")
	if len(ps) != 1 || !strings.Contains(ps[0].Message, `"2024-01-01"`) {
		t.Errorf("want one problem quoting the id, got %v", ps)
	}
}
