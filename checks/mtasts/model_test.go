package mtasts

import (
	"slices"
	"strings"
	"testing"

	"github.com/stspilot/stspilot/internal/txtrecord"
)

// modelAgrees fails when ParseRecord and the record model that stspilot
// writes through (txtrecord) disagree about s: a record the model reads
// must be error-free here with the same id and fields, and an error-free
// selected record (STS-TXT-4) with one id (STS-TXT-12) must be readable
// by the model.
func modelAgrees(t *testing.T, s string) {
	t.Helper()
	rec, ps := ParseRecord(s)
	m, err := txtrecord.ParseSTS(s)
	if err == nil {
		if errs := txtrecord.Errors(ps); len(errs) > 0 {
			t.Fatalf("txtrecord.ParseSTS(%q) accepts it, ParseRecord reports %v", s, errs)
		}
		if rec.ID != m.ID {
			t.Fatalf("ParseRecord(%q).ID = %q, model %q", s, rec.ID, m.ID)
		}
		var ext []Field
		for _, f := range rec.Fields[1:] {
			if f.Name != "id" {
				ext = append(ext, f)
			}
		}
		var mext []Field
		for _, f := range m.Ext {
			mext = append(mext, Field(f))
		}
		if !slices.Equal(ext, mext) {
			t.Fatalf("ParseRecord(%q) extensions %q, model %q", s, ext, mext)
		}
		return
	}
	twelve := slices.ContainsFunc(ps, func(p txtrecord.Problem) bool { return p.Rule == "STS-TXT-12" })
	if len(txtrecord.Errors(ps)) == 0 && strings.HasPrefix(s, "v=STSv1;") && !twelve {
		t.Fatalf("ParseRecord(%q) reports no error, txtrecord.ParseSTS: %v", s, err)
	}
}

// TestModelAgrees_STS_TXT_8: the canonical records stspilot writes parse
// without problems, and the diagnosing parser and the model agree.
func TestModelAgrees_STS_TXT_8(t *testing.T) {
	for _, r := range []txtrecord.STSRecord{
		{ID: "20261101090000abcdefgh"},
		{ID: "1", Ext: []txtrecord.Field{{Name: "x-a", Value: "b:c"}}},
	} {
		s := r.String()
		if _, ps := ParseRecord(s); len(ps) > 0 {
			t.Errorf("ParseRecord(%q) = %v, want no problem", s, ps)
		}
		if sts, _, _ := SelectRecords([]string{s}); len(sts) != 1 {
			t.Errorf("SelectRecords(%q) does not select it (STS-TXT-4)", s)
		}
	}
	for _, s := range modelSeeds {
		modelAgrees(t, s)
	}
}

var modelSeeds = []string{
	"v=STSv1; id=1", "v=STSv1;id=1;", "v=STSv1; id=1; id=2", "v=STSv1 ; id=1",
	"v=STSv1; id=1 ", "v=STSv1; id=1;  ", "v=STSv1; id = 1", "v=STSv1; id=1; x=y",
	"v=STSv1; id=1; _x=y", "v=STSv1; ID=1", "v=STSv1;\tid=1\t;\t", "v=STSv1; id=1;;",
}

func FuzzModelAgrees(f *testing.F) {
	for _, s := range modelSeeds {
		f.Add(s)
	}
	f.Fuzz(modelAgrees)
}
