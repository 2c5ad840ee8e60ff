package printable

import "testing"

func TestClip(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"example.org", 80, "example.org"},
		{"a\x00b\x7fc", 80, `a\x00b\x7fc`},
		{"abcdef", 3, "abc…"},
		{"", 3, ""},
	} {
		if got := Clip(c.in, c.n); got != c.want {
			t.Errorf("Clip(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}
