package textout

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/stspilot/stspilot/checks"
)

// JSON lines: exactly one object per line per report, schema first, and each
// line decodes back to the report it came from.
func TestJSONLines(t *testing.T) {
	reps := []*checks.Report{brokenEnforce(), healthy(), notChecked()}
	var b strings.Builder
	j := NewJSONLines(&b)
	for _, r := range reps {
		if err := j.Report(r); err != nil {
			t.Fatal(err)
		}
	}
	out := b.String()
	if !strings.HasSuffix(out, "\n") {
		t.Error("last line not terminated")
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(reps) {
		t.Fatalf("%d lines for %d reports (a multi-line policy text must stay escaped)", len(lines), len(reps))
	}
	for i, l := range lines {
		if !strings.HasPrefix(l, `{"schema":"stspilot.check/v1","domain":`) {
			t.Errorf("line %d does not start with schema then domain: %.70s", i+1, l)
		}
		var got checks.Report
		if err := json.Unmarshal([]byte(l), &got); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if !reflect.DeepEqual(&got, reps[i]) {
			t.Errorf("line %d does not round-trip:\n got %+v\nwant %+v", i+1, got, *reps[i])
		}
	}
	if !strings.Contains(lines[0], `"fix":"publish a new id: _mta-sts.example.com TXT \"v=STSv1; id=20261128163307zyxwvuts\""`) {
		t.Error("fix not readable in JSON")
	}
	if strings.Contains(out, `\u003c`) || strings.Contains(out, `\u0026`) {
		t.Error("HTML escaping in JSON output")
	}
	if !strings.Contains(lines[2], `"error":"could not check down.example`) || !strings.Contains(lines[2], `"findings":[]`) {
		t.Errorf("error report: %s", lines[2])
	}
	// docs/json.md: stage is left out when error is set, and present otherwise.
	if strings.Contains(lines[2], `"stage"`) {
		t.Errorf("error report has a stage: %s", lines[2])
	}
	if !strings.Contains(lines[0], `"stage":"`) || !strings.Contains(lines[1], `"stage":"`) {
		t.Error("a checked report lost its stage")
	}
}

func TestWrap(t *testing.T) {
	tests := []struct {
		text  string
		width int
		want  []string
	}{
		{"one two three", 7, []string{"one two", "three"}},
		{"", 10, []string{""}},
		{"a\nb c", 10, []string{"a", "b c"}},
		// host names are not split at hyphens
		{"see backup-mx.example.net now", 10, []string{"see", "backup-mx.example.net", "now"}},
		// quoted records stay on one line
		{`set x TXT "v=STSv1; id=1" ok`, 12, []string{"set x TXT", `"v=STSv1; id=1"`, "ok"}},
		// an unbalanced quote does not glue the rest of the paragraph
		{`a "b c d e f g h i j`, 8, []string{`a "b c d`, "e f g h", "i j"}},
		// runs of spaces survive where the line does not break there
		{"ok   192.0.2.1  200", 40, []string{"ok   192.0.2.1  200"}},
		{"ok   192.0.2.1  200", 14, []string{"ok   192.0.2.1", "200"}},
		{"  leading", 20, []string{"  leading"}},
		{"  leading words", 9, []string{"  leading", "words"}},
		{"x", 0, []string{"x"}},
	}
	for _, tt := range tests {
		if got := wrap(tt.text, tt.width); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("wrap(%q, %d) = %q, want %q", tt.text, tt.width, got, tt.want)
		}
	}
}

// TestWrapIndents: the screens' Wrap indents continuation lines and never
// splits a URL, a host name or a timestamp at a hyphen.
func TestWrapIndents(t *testing.T) {
	tests := []struct {
		text  string
		width int
		want  []string
	}{
		{
			"fetch https://mta-sts.demo-domain.test/.well-known/mta-sts.txt failed", 30,
			[]string{"fetch", "  https://mta-sts.demo-domain.test/.well-known/mta-sts.txt", "  failed"},
		},
		{
			"senders keep mx backup-mx.demo.test until 2030-01-17 00:00 UTC", 24,
			[]string{"senders keep mx", "  backup-mx.demo.test", "  until", "  2030-01-17 00:00 UTC"},
		},
		{
			"     + a-very-long-host-name.test b", 20,
			[]string{"     +", "       a-very-long-host-name.test", "       b"},
		},
		{"a b\nc d", 3, []string{"a b", "c d"}},
	}
	for _, tt := range tests {
		if got := Wrap(tt.text, tt.width, 2); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Wrap(%q, %d, 2) = %q, want %q", tt.text, tt.width, got, tt.want)
		}
	}
}

// A labelled line's continuation lines align under the text after the
// label, never splitting a URL, host name or timestamp, and never more
// than half the width in.
func TestWrapHanging(t *testing.T) {
	tests := []struct {
		text        string
		width, hang int
		want        []string
	}{
		{
			"  why:  the certificate must carry the MX host name", 30, 8,
			[]string{"  why:  the certificate must", "        carry the MX host name"},
		},
		{
			"Next   promote: the soak ends at 2030-01-15 00:00 UTC now", 36, 7,
			[]string{"Next   promote: the soak ends at", "       2030-01-15 00:00 UTC now"},
		},
		{
			"fix:  serve https://mta-sts.example-domain.test/.well-known/mta-sts.txt", 40, 6,
			[]string{"fix:  serve", "https://mta-sts.example-domain.test/.well-known/mta-sts.txt"},
		},
		{
			"a-long-label:    one two three", 20, 17,
			[]string{"a-long-label:    one", "          two three"},
		},
		{"key:  a b\nc d", 6, 6, []string{"key:", "   a b", "c d"}},
		{
			"why:  see https://mta-sts.example.test/mta-sts.txt now", 42, 6,
			[]string{"why:  see", "  https://mta-sts.example.test/mta-sts.txt", "      now"},
		},
	}
	for _, tt := range tests {
		if got := WrapHanging(tt.text, tt.width, tt.hang); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("WrapHanging(%q, %d, %d) = %q, want %q", tt.text, tt.width, tt.hang, got, tt.want)
		}
	}
}

func FuzzWrap(f *testing.F) {
	for _, s := range []string{
		"one two three", `a "b c" d`, "x\ny z", "é 漢字 ab\u00a0cd", `"""`, "\t\t a",
		// URLs, host names and timestamps: never split at a hyphen
		"see https://mta-sts.example-domain.test/.well-known/mta-sts.txt now",
		"mx backup-mx-01.example-domain.test until 2030-01-17 00:00 UTC whatever",
		"  cached until 2030-01-17T00:00:00Z by smtp-relay.mail-host.test",
	} {
		f.Add(s, 10)
		f.Add(s, 23)
	}
	f.Fuzz(func(t *testing.T, s string, width int) {
		width = width%200 + 1
		if width < 1 {
			width = -width + 1
		}
		lines := wrap(s, width)
		wrapped := Wrap(s, width, 2)
		if len(wrapped) != len(lines) && !strings.ContainsAny(s, " \t") {
			t.Fatalf("indentation re-wrapped a text without spaces: %q -> %q", s, wrapped)
		}
		// no word is ever split: each word of each line is a word of s
		words := map[string]bool{}
		for _, w := range strings.Fields(strings.ToValidUTF8(s, "\uFFFD")) {
			words[w] = true
		}
		for _, l := range append(wrapped, WrapHanging(s, width, width/3)...) {
			for _, w := range strings.Fields(l) {
				if !words[w] && !strings.Contains(s, `"`) {
					t.Fatalf("Wrap split a word: %q in %q", w, wrapped)
				}
			}
		}
		if len(lines) < strings.Count(s, "\n")+1 {
			t.Fatalf("%d lines for %d paragraphs", len(lines), strings.Count(s, "\n")+1)
		}
		for _, l := range lines {
			// a line over the width holds one word (after the paragraph's
			// own indentation), or a quoted run that must not be broken
			words := strings.FieldsFunc(l, func(r rune) bool { return r == ' ' })
			if widthOf(l) > width && len(words) > 1 && !strings.Contains(l, `"`) {
				t.Fatalf("line %q wider than %d", l, width)
			}
		}
		// no non-space text is lost or reordered
		norm := func(x string) string { return strings.Join(strings.Fields(strings.ReplaceAll(x, "\n", " ")), " ") }
		if norm(strings.Join(lines, "\n")) != norm(strings.ToValidUTF8(s, "\uFFFD")) {
			t.Fatalf("text changed: %q -> %q", s, lines)
		}
	})
}
