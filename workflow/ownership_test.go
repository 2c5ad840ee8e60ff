package workflow

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/libdns/libdns"

	"github.com/stspilot/stspilot/checks/mtasts"
	"github.com/stspilot/stspilot/checks/tlsrpt"
	"github.com/stspilot/stspilot/dnsprovider"
	"github.com/stspilot/stspilot/dnsprovider/memory"
)

// TestOwnershipAgrees: the checks (mtasts.SelectRecords, STS-TXT-4/14;
// tlsrpt.SelectRecords, RPT-REC-7) and the DNS provider (TXTSet.Ours,
// SetOurs, DeleteOurs) classify every TXT value at our names the same way.
// A value the checks select or call a near miss is the provider's to
// replace and delete; a foreign value is left alone by both.
func TestOwnershipAgrees(t *testing.T) {
	type class int
	const (
		foreign class = iota
		near
		ours
	)
	cases := []struct {
		kind dnsprovider.Kind
		in   string
		want class
	}{
		{dnsprovider.KindSTS, "v=STSv1; id=1;", ours},
		{dnsprovider.KindSTS, "v=STSv1;id=2", ours},
		{dnsprovider.KindSTS, "v=STSv1 ; id=3", near}, // STS-TXT-14
		{dnsprovider.KindSTS, "v=STSv1\t;id=4", near},
		{dnsprovider.KindSTS, "v=STSv1 id=5", near},
		{dnsprovider.KindSTS, "v=STSv1", near},
		{dnsprovider.KindSTS, "V=STSv1; id=6", near},
		{dnsprovider.KindSTS, "v=STSv10; id=7", foreign},
		{dnsprovider.KindSTS, "v=STSv10 not ours", foreign},
		{dnsprovider.KindSTS, "v=STSv1x", foreign},
		{dnsprovider.KindSTS, " v=STSv1; id=8", foreign},
		{dnsprovider.KindSTS, "v=spf1 -all", foreign},
		{dnsprovider.KindSTS, "google-site-verification=abc", foreign},
		{dnsprovider.KindSTS, "v=TLSRPTv1; rua=mailto:x@example.test", foreign},

		{dnsprovider.KindTLSRPT, "v=TLSRPTv1; rua=mailto:a@b.c", ours},
		{dnsprovider.KindTLSRPT, "v=TLSRPTv1 ; rua=mailto:a@b.c", near}, // RPT-REC-7
		{dnsprovider.KindTLSRPT, "v=TLSRPTv1 rua=mailto:a@b.c", near},
		{dnsprovider.KindTLSRPT, "v=tlsrptv1; rua=mailto:a@b.c", near},
		{dnsprovider.KindTLSRPT, "v=TLSRPTv1", near},
		{dnsprovider.KindTLSRPT, " v=TLSRPTv1; rua=mailto:a@b.c", near},
		{dnsprovider.KindTLSRPT, "v=TLSRPTv10; rua=mailto:a@b.c", foreign},
		{dnsprovider.KindTLSRPT, "v=TLSRPTv1x", foreign},
		{dnsprovider.KindTLSRPT, "v=STSv1; id=1", foreign},
		{dnsprovider.KindTLSRPT, "google-site-verification=abc123", foreign},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i, tc := range cases {
		sel := mtasts.SelectRecords
		label, write := "_mta-sts", "v=STSv1; id=new;"
		if tc.kind == dnsprovider.KindTLSRPT {
			sel = tlsrpt.SelectRecords
			label, write = "_smtp._tls", "v=TLSRPTv1; rua=mailto:new@example.test"
		}
		s, n, f := sel([]string{tc.in})
		checks := map[bool]class{true: ours}[len(s) == 1]
		if len(n) == 1 {
			checks = near
		}
		if len(s)+len(n)+len(f) != 1 {
			t.Fatalf("%q: the checks lost it", tc.in)
		}
		if checks != tc.want {
			t.Errorf("%s %q: checks say %d, want %d", tc.kind, tc.in, checks, tc.want)
		}
		set := dnsprovider.TXTSet{Values: []string{tc.in}}
		if got := len(set.Ours(tc.kind)) == 1; got != (tc.want != foreign) || tc.kind.Matches(tc.in) != got {
			t.Errorf("%s %q: provider says ours=%v, want %v", tc.kind, tc.in, got, tc.want != foreign)
		}

		// The provider acts on it accordingly: SetOurs replaces ours and
		// near misses, DeleteOurs removes them, foreign values stay.
		m := &memory.Provider{}
		m.AddZone("example.test")
		if _, err := m.AppendRecords(ctx, "example.test.", []libdns.Record{libdns.TXT{Name: label, TTL: time.Hour, Text: tc.in}}); err != nil {
			t.Fatal(err)
		}
		p := dnsprovider.FromLibdns("memory", m, dnsprovider.LibdnsOptions{})
		name := label + ".example.test"
		ch, err := p.SetOurs(ctx, "example.test", name, tc.kind, write, 0)
		if err != nil {
			t.Fatalf("case %d: SetOurs: %v", i, err)
		}
		want := []string{write}
		if tc.want == foreign {
			want = append(want, tc.in)
			slices.Sort(want)
		}
		if !slices.Equal(ch.After.Values, want) {
			t.Errorf("%s %q: after SetOurs %q, want %q", tc.kind, tc.in, ch.After.Values, want)
		}
		ch, err = p.DeleteOurs(ctx, "example.test", name, tc.kind)
		if err != nil {
			t.Fatalf("case %d: DeleteOurs: %v", i, err)
		}
		if want := map[bool][]string{true: {tc.in}}[tc.want == foreign]; !slices.Equal(ch.After.Values, want) {
			t.Errorf("%s %q: after DeleteOurs %q, want %q", tc.kind, tc.in, ch.After.Values, want)
		}
		// Writing a near miss or a foreign value as ours is refused.
		if _, err := p.SetOurs(ctx, "example.test", name, tc.kind, tc.in, 0); (err == nil) != (tc.want == ours) {
			t.Errorf("%s: SetOurs(%q) err = %v", tc.kind, tc.in, err)
		}
	}
}
