package main

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/stspilot/stspilot/dnsprovider"
)

// TestParseMXTo: --to is the whole set; preferences 10, 20, ... in the
// order given where left out; repeatable and comma-separated alike.
func TestParseMXTo(t *testing.T) {
	got, err := parseMXTo([]string{"mx1.new.example:5,MX2.new.example", "mx3.new.example."})
	if err != nil {
		t.Fatal(err)
	}
	want := []dnsprovider.MX{{Pref: 5, Host: "mx1.new.example"}, {Pref: 20, Host: "mx2.new.example"}, {Pref: 30, Host: "mx3.new.example"}}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for _, bad := range [][]string{nil, {""}, {"mx:x"}, {"mx.example:70000"}, {"localhost"}, {"a b.example"}} {
		if _, err := parseMXTo(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestMXMigrateUsage: mx-migrate without --to, or with a bad --switch,
// is a usage error (exit 2) that names the flag.
func TestMXMigrateUsage(t *testing.T) {
	// A run without --to builds the engine to name every missing flag at
	// once: keep it away from the user's config and journals.
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"mx-migrate", "example.com", "--yes"}, "--to HOST[:PREF]"},
		{[]string{"mx-migrate", "example.com", "--to", "mx.new.example", "--switch", "dns", "--yes"}, "--switch must be provider or manual"},
		{[]string{"plan", "mx-migrate", "example.com"}, "--to HOST[:PREF]"},
		{[]string{"mx-migrate", "example.com", "--to", "mx.new.example:x", "--yes"}, "preference"},
	} {
		f, out, errOut := testFactory("", &fakeChecker{})
		f.NewEngine = newEngine
		code := execute(context.Background(), f, tt.args)
		if code != exitUsage || out.String() != "" || !strings.Contains(errOut.String(), tt.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 and %q", tt.args, code, out, errOut, tt.want)
		}
	}
}
