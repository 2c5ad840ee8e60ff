package workflow

import (
	"testing"

	"github.com/stspilot/stspilot/workflow/journal"
)

// The ledger learns the TTL of a replaced _mta-sts record only for the
// ids that record named, read as a record, not as text.
func TestLedgerTXTReplacedNamesIDsByRecord(t *testing.T) {
	const ttl = 300
	for _, tc := range []struct {
		name   string
		before string
		want   []string // ledger ids that get the TTL, of "abc", "xabc", "ab", "def"
	}{
		{"one record", "v=STSv1; id=abc;", []string{"abc"}},
		{"no trailing ';'", "v=STSv1; id=abc", []string{"abc"}},
		{"an extension after the id", "v=STSv1; id=abc; ext=1;", []string{"abc"}},
		{"two records joined", "v=STSv1; id=abc;" + stsRecordSep + "v=STSv1; id=def;", []string{"abc", "def"}},
		{"a second record that does not parse", "v=STSv1; id=abc;" + stsRecordSep + "v=STSv1; id=def; id=ab;", []string{"abc"}},
		// The traps of a match by substring.
		{"an id that ends another", "v=STSv1; id=xabc;", []string{"xabc"}},
		{"an id that starts another", "v=STSv1; id=abcd;", nil},
		{"id= inside an extension value", "v=STSv1; id=def; ext=xid=abc;", nil},
		{"id= as the tail of an extension", "v=STSv1; id=def; xid=abc", []string{"def"}},
		{"id= as the tail of an extension, then ';'", "v=STSv1; xid=abc; id=def;", []string{"def"}},
		{"two ids: the record does not parse", "v=STSv1; id=abc; id=def;", nil},
		{"not selected (no ';' after the tag)", "v=STSv1 id=abc;", nil},
		{"another version", "v=STSv2; id=abc;", nil},
		{"not a record", "id=abc;", nil},
		{"an invalid id", "v=STSv1; id=ab-c;", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ids := []string{"abc", "xabc", "ab", "def", ""}
			j := &journal.Journal{}
			for _, id := range ids {
				j.Ledger = append(j.Ledger, journal.LedgerPolicy{ID: id})
			}
			r := &run{j: j}
			r.ledgerTXTReplaced(tc.before, ttl)
			want := map[string]bool{}
			for _, id := range tc.want {
				want[id] = true
			}
			for _, lp := range j.Ledger {
				if got := lp.TXTTTL == ttl; got != want[lp.ID] {
					t.Errorf("%q replaced: the ledger policy %q has TXTTTL %d, want the TTL: %v", tc.before, lp.ID, lp.TXTTTL, want[lp.ID])
				}
			}
		})
	}
}

// No TTL (the provider did not say) or no record replaced teaches the
// ledger nothing.
func TestLedgerTXTReplacedNothingToLearn(t *testing.T) {
	for _, tc := range []struct {
		before string
		ttl    int64
	}{{"v=STSv1; id=abc;", 0}, {"v=STSv1; id=abc;", -1}, {"", 300}} {
		j := &journal.Journal{Ledger: []journal.LedgerPolicy{{ID: "abc", TXTTTL: 60}}}
		(&run{j: j}).ledgerTXTReplaced(tc.before, tc.ttl)
		if got := j.Ledger[0].TXTTTL; got != 60 {
			t.Errorf("before %q, ttl %d: TXTTTL became %d, want it left at 60", tc.before, tc.ttl, got)
		}
	}
}
