package tui

import (
	"reflect"
	"strings"
	"testing"
)

// A labelled line's continuation lines align under the text after its
// label; other lines continue 2 columns in; the mark is never shown; a
// host name or timestamp is never split.
func TestWrapLinesHangsUnderTheLabel(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
		w    int
		want []string
	}{
		{
			"labelled", labelled("  why:  ") + "the certificate must carry the MX host name", 30,
			[]string{"  why:  the certificate must", "        carry the MX host name"},
		},
		{
			"a padded label and a timestamp", labelled("Next   ") + "promote: the soak ends at 2030-01-15 00:00 UTC now", 36,
			[]string{"Next   promote: the soak ends at", "       2030-01-15 00:00 UTC now"},
		},
		{
			"a host name wider than the screen", labelled("fix:  ") + "see mx1.a-very-long-host-name.example.test", 30,
			[]string{"fix:  see", "mx1.a-very-long-host-name.exam", "ple.test"}, // only a word wider than the screen is cut
		},
		{
			"a host name that fits the screen but not after the label", labelled("fix:  ") + "see mx1.a-long-host-name.example.test", 35,
			[]string{"fix:  see", "  mx1.a-long-host-name.example.test"},
		},
		{
			"fits: the mark is only removed", labelled("key:  ") + "o plans the rollout", 80,
			[]string{"key:  o plans the rollout"},
		},
		{
			"unlabelled", "  the certificate must carry the MX host name", 30,
			[]string{"  the certificate must carry", "    the MX host name"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := wrapLines(tc.body, tc.w)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("wrapLines(%q, %d) = %q, want %q", tc.body, tc.w, got, tc.want)
			}
			for _, l := range got {
				if strings.Contains(l, hangMark) {
					t.Errorf("the label mark reached the screen: %q", l)
				}
			}
		})
	}
}
