package txtrecord

import (
	"strings"
	"testing"
)

// FuzzClassify: the rule never panics, selected means the exact prefix
// (STS-TXT-4, RPT-REC-7), and whatever ParseSTS/ParseTLSRPT accept formats
// back to a record that parses to the same values.
func FuzzClassify(f *testing.F) {
	for _, tc := range classifyCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, k := range []Kind{KindSTS, KindTLSRPT} {
			c := k.Classify(s)
			if (c == Selected) != strings.HasPrefix(s, string(k)+";") {
				t.Fatalf("%s.Classify(%q) = %s", k, s, c)
			}
		}
		if r, err := ParseSTS(s); err == nil {
			r2, err := ParseSTS(r.String())
			if err != nil || r2.ID != r.ID || len(r2.Ext) != len(r.Ext) {
				t.Fatalf("ParseSTS(%q) = %+v, but its String %q parses to %+v, %v", s, r, r.String(), r2, err)
			}
		}
		if r, err := ParseTLSRPT(s); err == nil {
			r2, err := ParseTLSRPT(r.String())
			if err != nil || len(r2.RUA) != len(r.RUA) || r2.String() != r.String() {
				t.Fatalf("ParseTLSRPT(%q) = %+v, but its String %q parses to %+v, %v", s, r, r.String(), r2, err)
			}
		}
	})
}
