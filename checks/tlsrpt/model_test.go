package tlsrpt

import (
	"slices"
	"strings"
	"testing"

	"github.com/stspilot/stspilot/internal/txtrecord"
)

// modelAgrees fails when ParseRecord and the record model that stspilot
// writes through (txtrecord) disagree about s: an error-free selected
// record (RPT-REC-7) with well-formed extensions (RPT-REC-6) must be
// readable by the model with the same destinations (RPT-REC-5), and what
// the model reads has no grammar error here (RPT-REC-2/3; the URI rules of
// RPT-REC-4 are this package's alone).
func modelAgrees(t *testing.T, s string) {
	t.Helper()
	rec, ps := ParseRecord(s)
	m, err := txtrecord.ParseTLSRPT(s)
	if err == nil {
		for _, p := range txtrecord.Errors(ps) {
			if p.Rule != "RPT-REC-4" && !strings.Contains(p.Message, "more problems") {
				t.Fatalf("txtrecord.ParseTLSRPT(%q) accepts it, ParseRecord reports %v", s, p)
			}
		}
		if !slices.Equal(rec.RUA, m.RUA) {
			t.Fatalf("ParseRecord(%q).RUA = %q, model %q", s, rec.RUA, m.RUA)
		}
		return
	}
	six := slices.ContainsFunc(ps, func(p txtrecord.Problem) bool { return p.Rule == "RPT-REC-6" })
	if len(txtrecord.Errors(ps)) == 0 && strings.HasPrefix(s, rptPrefix) && !six {
		t.Fatalf("ParseRecord(%q) reports no error, txtrecord.ParseTLSRPT: %v", s, err)
	}
}

// TestModelAgrees_RPT_REC_2: what Render and the model write parses back
// without problems to the same destinations.
func TestModelAgrees_RPT_REC_2(t *testing.T) {
	for _, rua := range [][]string{{"mailto:tlsrpt@example.com"}, {"mailto:a@b.c", "https://r.example/x"}} {
		s, err := Render(rua)
		if err != nil {
			t.Fatal(err)
		}
		if want := (txtrecord.TLSRPTRecord{RUA: rua}).String(); s != want {
			t.Errorf("Render(%q) = %q, model %q", rua, s, want)
		}
		rec, ps := ParseRecord(s)
		if len(txtrecord.Errors(ps)) > 0 || !slices.Equal(rec.RUA, rua) {
			t.Errorf("ParseRecord(%q) = %q, %v", s, rec.RUA, ps)
		}
	}
	for _, s := range modelSeeds {
		modelAgrees(t, s)
	}
}

var modelSeeds = []string{
	"v=TLSRPTv1; rua=mailto:a@b.c", "v=TLSRPTv1;rua=mailto:a@b.c;", "v=TLSRPTv1; rua=mailto:a@b.c, https://r.example/x",
	"v=TLSRPTv1; rua=mailto:a@b.c; rua=mailto:d@e.f", "v=TLSRPTv1 ; rua=mailto:a@b.c", "v=TLSRPTv1; rua = mailto:a@b.c",
	"v=TLSRPTv1; rua=mailto:a@b.c,", "v=TLSRPTv1; rua=http://r.example/", "v=TLSRPTv1; rua=mailto:a@b.c; x=y; _z=1",
	"v=TLSRPTv1; RUA=mailto:a@b.c", "v=TLSRPTv1;\trua=mailto:a@b.c\t;\t", "v=TLSRPTv1; rua=mailto:a@b.c;;",
}

func FuzzModelAgrees(f *testing.F) {
	for _, s := range modelSeeds {
		f.Add(s)
	}
	f.Fuzz(modelAgrees)
}

// TestParseRUA_RPT_REC_3_4: a rua value on its own is checked like the rua
// field of a record, and a ';' never ends it.
func TestParseRUA_RPT_REC_3_4(t *testing.T) {
	for _, tc := range []struct {
		in    string
		rua   []string
		rules []string
	}{
		{"mailto:a@b.c", []string{"mailto:a@b.c"}, nil},
		{"mailto:a@b.c , https://r.example/x", []string{"mailto:a@b.c", "https://r.example/x"}, nil},
		{"", nil, []string{"RPT-REC-3"}},
		{"mailto:a@b.c,", []string{"mailto:a@b.c"}, []string{"RPT-REC-3"}},
		{"http://r.example/", []string{"http://r.example/"}, []string{"RPT-REC-4"}},
		{"mailto:a@b.c; x=y", []string{"mailto:a@b.c; x=y"}, []string{"RPT-REC-3"}},
		{"mailto:a@b.c;x=y", []string{"mailto:a@b.c;x=y"}, []string{"RPT-REC-4"}},
	} {
		rua, ps := ParseRUA(tc.in)
		var rules []string
		for _, p := range txtrecord.Errors(ps) {
			rules = append(rules, p.Rule)
		}
		if !slices.Equal(rua, tc.rua) || !slices.Equal(rules, tc.rules) {
			t.Errorf("ParseRUA(%q) = %q, %v; want %q, %v", tc.in, rua, ps, tc.rua, tc.rules)
		}
	}
}
