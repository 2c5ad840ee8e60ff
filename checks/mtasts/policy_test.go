package mtasts

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stspilot/stspilot/internal/txtrecord"
)

const (
	// Policies as the world serves them.
	googlePolicy = "version: STSv1\r\nmode: testing\r\nmx: smtp.google.com\r\nmx: aspmx.l.google.com\r\nmx: *.aspmx.l.google.com\r\nmx: *.googlemail.com\r\nmax_age: 86400\r\n"
	msPolicy     = "version: STSv1\r\nmode: enforce\r\nmx: *.mail.protection.outlook.com\r\nmax_age: 604800\r\n"
	lfPolicy     = "version: STSv1\nmode: enforce\nmx: mail.example.com\nmax_age: 86400\n"
)

// body builds a policy from lines joined by LF, with a final LF.
func body(lines ...string) string { return strings.Join(lines, "\n") + "\n" }

func TestParsePolicy(t *testing.T) {
	const E, W = txtrecord.SevError, txtrecord.SevWarn
	const (
		v  = "version: STSv1"
		me = "mode: enforce"
		mx = "mx: mail.example.com"
		ma = "max_age: 86400"
	)
	garbage := make([]byte, 512)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range garbage {
		garbage[i] = byte(r.UintN(256))
	}
	garbage[7] = 0

	for _, tc := range []struct {
		name string
		body string
		want []pk
		pol  *Policy // if set, the Policy read must equal it
	}{
		// valid policies
		{"STS-POL-2 world CRLF Google", googlePolicy, nil, &Policy{
			Version: "STSv1", Mode: ModeTesting, MaxAge: 86400,
			MX: []string{"smtp.google.com", "aspmx.l.google.com", "*.aspmx.l.google.com", "*.googlemail.com"},
		}},
		{"STS-POL-2 world CRLF Microsoft", msPolicy, nil, &Policy{
			Version: "STSv1", Mode: ModeEnforce, MaxAge: 604800,
			MX: []string{"*.mail.protection.outlook.com"},
		}},
		{"STS-POL-2 LF", lfPolicy, nil, nil},
		{"STS-POL-2 last line without terminator", strings.TrimSuffix(lfPolicy, "\n"), nil, nil},
		{"STS-POL-2 CRLF last line without terminator", strings.TrimSuffix(msPolicy, "\r\n"), nil, nil},
		{
			"STS-POL-4 whitespace after colon and at end of line", body(v, "mode:\tenforce  ", "mx:mail.example.com", "max_age: 86400\t"), nil,
			&Policy{Version: "STSv1", Mode: ModeEnforce, MaxAge: 86400, MX: []string{"mail.example.com"}},
		},
		{"STS-POL-7 version need not be first for the RFC", body(me, v, mx, ma), []pk{{"STS-POL-7", 2, W}}, nil},
		{
			"STS-POL-9 leading zeros", body(v, me, mx, "max_age: 0086400"), nil,
			&Policy{Version: "STSv1", Mode: ModeEnforce, MaxAge: 86400, MX: []string{"mail.example.com"}},
		},
		{"STS-POL-9 maximum", body(v, me, mx, "max_age: 31557600"), nil, nil},
		{"STS-POL-12 mode none without mx", body(v, "mode: none", ma), nil, &Policy{Version: "STSv1", Mode: ModeNone, MaxAge: 86400}},
		{"STS-POL-12 mode none with mx", body(v, "mode: none", mx, ma), nil, nil},
		{
			"STS-POL-13 extensions are kept", body(v, me, mx, ma, "x-note: hello w\u00f6rld", "ext.2_a: 1"), nil,
			&Policy{
				Version: "STSv1", Mode: ModeEnforce, MaxAge: 86400, MX: []string{"mail.example.com"},
				Extensions: []Field{{Name: "x-note", Value: "hello w\u00f6rld"}, {Name: "ext.2_a", Value: "1"}},
			},
		},
		{
			"STS-POL-14 mx lines add up", body(v, me, mx, "mx: *.example.net", "mx: mx2.example.com", ma), nil,
			&Policy{Version: "STSv1", Mode: ModeEnforce, MaxAge: 86400, MX: []string{"mail.example.com", "*.example.net", "mx2.example.com"}},
		},

		// STS-POL-1: key: value lines, no comments
		{"STS-POL-1 comment", body("#comment", v, me, mx, ma), []pk{{"STS-POL-1", 1, E}, {"STS-POL-7", 2, W}}, nil},
		{"STS-POL-1 comment after a field", body(v, me, "# our MX", mx, ma), []pk{{"STS-POL-1", 3, E}}, nil},
		{
			"STS-POL-1 comment at the end of a line", body(v, me, "mx: mail.example.com # primary", "max_age: 86400\t# one day", "x-a: 1 # kept"),
			[]pk{{"STS-POL-1", 3, E}, {"STS-POL-1", 4, E}},
			&Policy{Version: "STSv1", Mode: ModeEnforce, MaxAge: 86400, MX: []string{"mail.example.com"}, Extensions: []Field{{Name: "x-a", Value: "1 # kept"}}},
		},
		{"STS-POL-1 no colon", body(v, me, "mx mail.example.com", ma), []pk{{"STS-POL-1", 3, E}, {"STS-POL-6", 0, E}}, nil},
		{"STS-POL-1 empty key", body(v, me, mx, ma, ": x"), []pk{{"STS-POL-1", 5, E}}, nil},
		{"STS-POL-1 empty body", "", []pk{{"STS-POL-1", 0, E}, {"STS-POL-7", 0, E}, {"STS-POL-8", 0, E}, {"STS-POL-9", 0, E}, {"STS-POL-6", 0, E}}, nil},
		{"STS-POL-1 HTML page", "<!DOCTYPE html>\n<html><body>Not found</body></html>\n", []pk{{"STS-POL-1", 0, E}}, &Policy{}},

		// STS-POL-2: line endings
		{
			"STS-POL-2 lone CR", "version: STSv1\rmode: enforce\rmx: mail.example.com\rmax_age: 86400\r",
			[]pk{{"STS-POL-2", 1, E}},
			&Policy{Version: "STSv1", Mode: ModeEnforce, MaxAge: 86400, MX: []string{"mail.example.com"}},
		},
		{"STS-POL-2 mixed LF and CRLF", "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\nmax_age: 86400\r\n", []pk{{"STS-POL-2", 3, W}}, nil},
		{"STS-POL-2 line separator", body(v, me, mx+"\u2028mx: b.example.com", ma), []pk{{"STS-POL-2", 3, E}, {"STS-POL-11", 3, E}, {"STS-POL-10", 3, E}}, nil},
		{"STS-POL-2 vertical tab", body(v, me, mx, ma, "x-a: 1\v2"), []pk{{"STS-POL-2", 5, E}}, nil},

		// STS-POL-3: no empty lines
		{"STS-POL-3 trailing blank line", lfPolicy + "\n", []pk{{"STS-POL-3", 5, E}}, nil},
		{"STS-POL-3 trailing blank line CRLF", msPolicy + "\r\n", []pk{{"STS-POL-3", 5, E}}, nil},
		{"STS-POL-3 empty line inside", body(v, me, "", mx, ma), []pk{{"STS-POL-3", 3, E}}, nil},
		{"STS-POL-3 leading empty line", body("", v, me, mx, ma), []pk{{"STS-POL-3", 1, E}, {"STS-POL-7", 2, W}}, nil},
		{"STS-POL-3 whitespace-only line", body(v, me, " \t", mx, ma), []pk{{"STS-POL-3", 3, E}}, nil},

		// STS-POL-4: layout
		{
			"STS-POL-4 leading whitespace", body(v, "  mode: enforce", mx, ma),
			[]pk{{"STS-POL-4", 2, E}},
			&Policy{Version: "STSv1", Mode: ModeEnforce, MaxAge: 86400, MX: []string{"mail.example.com"}},
		},
		{"STS-POL-4 whitespace before colon", body(v, "mode : enforce", mx, ma), []pk{{"STS-POL-4", 2, E}}, nil},
		{"STS-POL-4 tab before colon", body(v, me, mx, "max_age\t: 86400"), []pk{{"STS-POL-4", 4, E}}, nil},
		{"STS-POL-4 extension value with colon", body(v, me, mx, ma, "x-report: https://example.com/r"), []pk{{"STS-POL-4", 5, W}}, nil},

		// STS-POL-5: case
		{
			"STS-POL-5 Mode: Enforce", body(v, "Mode: Enforce", mx, ma),
			[]pk{{"STS-POL-5", 2, E}, {"STS-POL-8", 2, E}},
			&Policy{Version: "STSv1", Mode: ModeEnforce, MaxAge: 86400, MX: []string{"mail.example.com"}},
		},
		{"STS-POL-5 key case only", body(v, me, mx, "MAX_AGE: 86400"), []pk{{"STS-POL-5", 4, E}}, nil},
		{"STS-POL-5 MX key", body(v, me, "MX: mail.example.com", ma), []pk{{"STS-POL-5", 3, E}}, nil},
		{
			"STS-POL-5 correct line wins over a miscased one", body(v, "Mode: testing", me, mx, ma),
			[]pk{{"STS-POL-5", 2, E}, {"STS-POL-14", 3, W}},
			&Policy{Version: "STSv1", Mode: ModeEnforce, MaxAge: 86400, MX: []string{"mail.example.com"}},
		},

		// STS-POL-6: required fields
		{"STS-POL-6 mx missing under enforce", body(v, me, ma), []pk{{"STS-POL-6", 0, E}}, nil},
		{"STS-POL-6 mx missing under testing", body(v, "mode: testing", ma), []pk{{"STS-POL-6", 0, E}}, nil},

		// STS-POL-7: version
		{"STS-POL-7 version missing", body(me, mx, ma), []pk{{"STS-POL-7", 0, E}}, nil},
		{"STS-POL-7 version STSv2", body("version: STSv2", me, mx, ma), []pk{{"STS-POL-7", 1, E}}, nil},
		{"STS-POL-7 version case", body("version: stsv1", me, mx, ma), []pk{{"STS-POL-7", 1, E}}, nil},

		// STS-POL-8: mode
		{"STS-POL-8 mode missing", body(v, mx, ma), []pk{{"STS-POL-8", 0, E}}, nil},
		{"STS-POL-8 mode invalid", body(v, "mode: enforcing", mx, ma), []pk{{"STS-POL-8", 2, E}}, nil},
		{"STS-POL-8 mode empty", body(v, "mode:", mx, ma), []pk{{"STS-POL-8", 2, E}}, nil},
		{"STS-POL-8 mode TESTING", body(v, "mode: TESTING", mx, ma), []pk{{"STS-POL-8", 2, E}}, nil},

		// STS-POL-9: max_age
		{"STS-POL-9 max_age missing", body(v, me, mx), []pk{{"STS-POL-9", 0, E}}, nil},
		{
			"STS-POL-9 max_age 40000000", body(v, me, mx, "max_age: 40000000"),
			[]pk{{"STS-POL-9", 4, E}},
			&Policy{Version: "STSv1", Mode: ModeEnforce, MaxAge: 40000000, MX: []string{"mail.example.com"}},
		},
		{
			"STS-POL-9 max_age +86400", body(v, me, mx, "max_age: +86400"),
			[]pk{{"STS-POL-9", 4, E}},
			&Policy{Version: "STSv1", Mode: ModeEnforce, MaxAge: 86400, MX: []string{"mail.example.com"}},
		},
		{"STS-POL-9 max_age -1", body(v, me, mx, "max_age: -1"), []pk{{"STS-POL-9", 4, E}}, nil},
		{
			"STS-POL-9 max_age 1d", body(v, me, mx, "max_age: 1d"),
			[]pk{{"STS-POL-9", 4, E}},
			&Policy{Version: "STSv1", Mode: ModeEnforce, MaxAge: 86400, MX: []string{"mail.example.com"}},
		},
		{"STS-POL-9 max_age 604800s", body(v, me, mx, "max_age: 604800s"), []pk{{"STS-POL-9", 4, E}}, nil},
		{"STS-POL-9 max_age decimal", body(v, me, mx, "max_age: 86400.0"), []pk{{"STS-POL-9", 4, E}}, nil},
		{"STS-POL-9 max_age 11 digits", body(v, me, mx, "max_age: 00000086400"), []pk{{"STS-POL-9", 4, E}}, nil},
		{"STS-POL-9 max_age huge", body(v, me, mx, "max_age: 99999999999999999999999"), []pk{{"STS-POL-9", 4, E}}, nil},
		{"STS-POL-9 max_age words", body(v, me, mx, "max_age: one week"), []pk{{"STS-POL-9", 4, E}}, nil},
		{"STS-POL-9 max_age empty", body(v, me, mx, "max_age:"), []pk{{"STS-POL-9", 4, E}}, nil},
		{
			"STS-POL-9 max_age 0 warns", body(v, me, mx, "max_age: 0"),
			[]pk{{"STS-POL-9", 4, W}},
			&Policy{Version: "STSv1", Mode: ModeEnforce, MaxAge: 0, MX: []string{"mail.example.com"}},
		},

		// STS-POL-10, -11, -16, -17: mx patterns
		{
			"STS-POL-11 comma-separated mx", body(v, me, "mx: mail.example.com, mx2.example.com", ma),
			[]pk{{"STS-POL-11", 3, E}},
			&Policy{Version: "STSv1", Mode: ModeEnforce, MaxAge: 86400, MX: []string{"mail.example.com", "mx2.example.com"}},
		},
		{"STS-POL-11 space-separated mx", body(v, me, "mx: mail.example.com mx2.example.com", ma), []pk{{"STS-POL-11", 3, E}}, nil},
		{
			"STS-POL-17 leading dot", body(v, me, "mx: .example.com", ma),
			[]pk{{"STS-POL-17", 3, E}},
			&Policy{Version: "STSv1", Mode: ModeEnforce, MaxAge: 86400, MX: []string{".example.com"}},
		},
		{"STS-POL-16 star inside label", body(v, me, "mx: mail*.example.com", ma), []pk{{"STS-POL-16", 3, E}}, nil},
		{"STS-POL-10 trailing dot", body(v, me, "mx: mail.example.com.", ma), []pk{{"STS-POL-10", 3, E}}, nil},
		{"STS-POL-10 underscore", body(v, me, "mx: mail_1.example.com", ma), []pk{{"STS-POL-10", 3, E}}, nil},
		{"STS-POL-10 empty mx", body(v, me, "mx:", ma), []pk{{"STS-POL-10", 3, E}, {"STS-POL-6", 0, E}}, nil},
		{"STS-POL-10 U-label", body(v, me, "mx: mail.b\u00fccher.example", ma), []pk{{"STS-POL-10", 3, E}}, nil},

		// STS-POL-13: extensions
		{"STS-POL-13 malformed extension key", body(v, me, mx, ma, "x report: 1"), []pk{{"STS-POL-13", 5, W}}, nil},
		{"STS-POL-13 extension key too long", body(v, me, mx, ma, strings.Repeat("k", 33)+": 1"), []pk{{"STS-POL-13", 5, W}}, nil},
		{"STS-POL-13 extension with empty value", body(v, me, mx, ma, "x-a:"), []pk{{"STS-POL-13", 5, W}}, nil},
		{"STS-POL-13 extension value with tab", body(v, me, mx, ma, "x-a: 1\t2"), []pk{{"STS-POL-13", 5, W}}, nil},

		// STS-POL-14: repeated keys
		{
			"STS-POL-14 repeated mode, first wins", body(v, me, "mode: testing", mx, ma),
			[]pk{{"STS-POL-14", 3, W}},
			&Policy{Version: "STSv1", Mode: ModeEnforce, MaxAge: 86400, MX: []string{"mail.example.com"}},
		},
		{
			"STS-POL-14 repeated max_age, first wins", body(v, me, mx, ma, "max_age: 604800"),
			[]pk{{"STS-POL-14", 5, W}},
			&Policy{Version: "STSv1", Mode: ModeEnforce, MaxAge: 86400, MX: []string{"mail.example.com"}},
		},
		{
			"STS-POL-14 repeated extension, first wins", body(v, me, mx, ma, "x-a: 1", "x-a: 2"),
			[]pk{{"STS-POL-14", 6, W}},
			&Policy{Version: "STSv1", Mode: ModeEnforce, MaxAge: 86400, MX: []string{"mail.example.com"}, Extensions: []Field{{Name: "x-a", Value: "1"}}},
		},

		// STS-POL-18: characters
		{
			"STS-POL-18 BOM", "\xef\xbb\xbf" + lfPolicy,
			[]pk{{"STS-POL-18", 1, E}},
			&Policy{Version: "STSv1", Mode: ModeEnforce, MaxAge: 86400, MX: []string{"mail.example.com"}},
		},
		{"STS-POL-18 non-ASCII key", body(v, me, mx, ma, "cl\u00e9: 1"), []pk{{"STS-POL-18", 5, E}}, nil},
		{"STS-POL-18 non-ASCII mode value", body(v, "mode: enforce\u00a0", mx, ma), []pk{{"STS-POL-18", 2, E}}, nil},
		{"STS-POL-18 control character", body(v, "mode: enf\x07orce", mx, ma), []pk{{"STS-POL-18", 2, E}, {"STS-POL-8", 2, E}}, nil},
		{"STS-POL-18 invalid UTF-8 in a text policy", body(v, me, mx, ma, "x-a: caf\xe9"), []pk{{"STS-POL-18", 5, E}}, nil},
		{"STS-POL-18 binary garbage", string(garbage), []pk{{"STS-POL-18", 0, E}}, &Policy{}},
		{"STS-POL-18 gzip body", "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03+K-*", []pk{{"STS-POL-18", 0, E}}, &Policy{}},
		{"STS-POL-18 UTF-16 from Notepad", "\xff\xfev\x00e\x00r\x00s\x00", []pk{{"STS-POL-18", 0, E}}, &Policy{}},
		{"STS-POL-18 UTF-16 without BOM", "v\x00e\x00r\x00s\x00", []pk{{"STS-POL-18", 0, E}}, &Policy{}},
		{"STS-POL-18 mostly control bytes", "\x01\x02\x03\x04\x05abc", []pk{{"STS-POL-18", 0, E}}, &Policy{}},

		// STS-POL-19: size
		{"STS-POL-19 70 KiB body", lfPolicy + "x-pad: " + strings.Repeat("a", 70<<10) + "\n", []pk{{"STS-POL-19", 0, E}}, nil},
		{"STS-POL-19 exactly 64 KiB is fine", lfPolicy + "x-pad: " + strings.Repeat("a", MaxBodySize-len(lfPolicy)-8) + "\n", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if strings.HasPrefix(tc.name, "STS-POL-19 exactly") && len(tc.body) != MaxBodySize {
				t.Fatalf("test body is %d bytes, want %d", len(tc.body), MaxBodySize)
			}
			p, ps := ParsePolicy([]byte(tc.body))
			if !sameProblems(ps, tc.want) {
				t.Errorf("problems = %v\nwant %v", ps, tc.want)
			}
			if tc.pol != nil && !equalPolicy(p, *tc.pol) {
				t.Errorf("policy = %+v, want %+v", p, *tc.pol)
			}
			lines := bytes.Count([]byte(tc.body), []byte("\n")) + bytes.Count([]byte(tc.body), []byte("\r")) + 1
			for _, x := range ps {
				if !strings.HasPrefix(x.Rule, "STS-") || x.Message == "" || x.Line < 0 || x.Line > lines ||
					(x.Severity != txtrecord.SevError && x.Severity != txtrecord.SevWarn) {
					t.Errorf("malformed problem %+v", x)
				}
			}
		})
	}
}

func equalPolicy(a, b Policy) bool {
	return a.Version == b.Version && a.Mode == b.Mode && a.MaxAge == b.MaxAge &&
		slices.Equal(a.MX, b.MX) && slices.Equal(a.Extensions, b.Extensions)
}

func TestParsePolicyMessages(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{"STS-POL-4 names the line", body("version: STSv1", "mode : enforce", "mx: a.example", "max_age: 1"), `"mode : enforce"`},
		{"STS-POL-17 hints at the wildcard", body("version: STSv1", "mode: enforce", "mx: .example.com", "max_age: 1"), `"*.example.com"`},
		{"STS-POL-9 converts units", body("version: STSv1", "mode: enforce", "mx: a.example", "max_age: 2w"), `max_age: 1209600`},
		{"STS-POL-18 escapes control characters", body("version: STSv1", "mode: enf\x07orce", "mx: a.example", "max_age: 1"), `\a`},
		{"STS-POL-10 suggests the A-label", body("version: STSv1", "mode: enforce", "mx: mail.b\u00fccher.example", "max_age: 1"), `"mail.xn--bcher-kva.example"`},
		{"STS-POL-18 names UTF-16", "\xff\xfev\x00", "UTF-16"},
		{"STS-POL-18 says binary", "\x00\x01\x02", "NUL bytes"},
		{"STS-POL-1 truncates long text", body("version: STSv1", "mode: enforce", "mx: a.example", "max_age: 1", "no colon "+strings.Repeat("x", 200)), `xxx"…`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, ps := ParsePolicy([]byte(tc.body))
			var all []string
			for _, p := range ps {
				all = append(all, p.Message)
				if strings.ContainsFunc(p.Message, func(r rune) bool { return r < 0x20 }) {
					t.Errorf("message holds a raw control character: %q", p.Message)
				}
				if len(p.Message) > 400 {
					t.Errorf("message is %d bytes long: %q", len(p.Message), p.Message)
				}
			}
			if !strings.Contains(strings.Join(all, "\n"), tc.want) {
				t.Errorf("no message contains %s:\n%s", tc.want, strings.Join(all, "\n"))
			}
		})
	}
}

// A large body of garbage lines gives a bounded, readable list.
func TestParsePolicyProblemCap_STS_POL_19(t *testing.T) {
	b := strings.Repeat("this is not a policy line\n", 3000)
	_, ps := ParsePolicy([]byte(b))
	if len(ps) != maxProblems {
		t.Fatalf("got %d problems, want %d", len(ps), maxProblems)
	}
	last := ps[len(ps)-1]
	if last.Severity != txtrecord.SevError || !strings.Contains(last.Message, "more problems") {
		t.Errorf("last problem = %+v, want a count of the rest", last)
	}
	if ps[0].Rule != "STS-POL-19" {
		t.Errorf("first problem = %+v, want the size error first", ps[0])
	}
}
