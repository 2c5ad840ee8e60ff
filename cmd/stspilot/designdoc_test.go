package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stspilot/stspilot/checks"
	"github.com/stspilot/stspilot/workflow/sandbox"
)

// docs/design.md lists every finding of the catalogue, and every switch of
// the demo with the field failure it belongs to, as the README does.
func TestDesignDocListsFindingsAndSwitches(t *testing.T) {
	design, err := os.ReadFile("../../docs/design.md")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range checks.IDs() {
		if !strings.Contains(string(design), "`"+id+"`") {
			t.Errorf("docs/design.md does not list the finding %s", id)
		}
	}
	rows := map[int]string{}
	for _, line := range strings.Split(string(design), "\n") {
		var n int
		if _, err := fmt.Sscanf(line, "| %d ", &n); err == nil && strings.Contains(line, "`") {
			rows[n] = line // the last table with numbered rows: the switches
		}
	}
	for _, b := range sandbox.Breaks {
		name := "`" + string(b.Name) + "`"
		if !strings.Contains(rows[b.Failure], name) {
			t.Errorf("docs/design.md does not list %s under field failure %d", b.Name, b.Failure)
		}
		if !strings.Contains(string(readme), name) {
			t.Errorf("README.md does not name the demo switch %s", b.Name)
		}
	}
	if len(sandbox.Breaks) != 11 || !strings.Contains(string(design), "Eleven switches") {
		t.Errorf("%d demo switches: docs/design.md and the README say eleven", len(sandbox.Breaks))
	}
}

// findingCtor is a finding built in Go source: a Finding literal's
// ID: "area.name", or the catalogue's newFinding("area.name", ...).
var findingCtor = regexp.MustCompile(`(?:\bID:\s*|\bnewFinding\()"([a-z0-9-]+\.[a-z0-9-]+)"`)

// Every finding id built anywhere in the tree's code (tests aside, which
// build unknown ids on purpose) is in the one catalogue, with its severity,
// rules and why: no front end shows a finding of its own.
func TestBuiltFindingIDsInCatalog(t *testing.T) {
	built := 0
	code := func(path string) bool { return filepath.Ext(path) == ".go" && !strings.HasSuffix(path, "_test.go") }
	eachTreeFile(t, code, func(path string, data []byte) {
		for n, line := range strings.Split(string(data), "\n") {
			for _, m := range findingCtor.FindAllStringSubmatch(line, -1) {
				built++
				if _, ok := checks.Catalog[m[1]]; !ok {
					t.Errorf("%s:%d builds the finding %s, which is not in the catalogue (checks/catalog.go)", path, n+1, m[1])
				}
			}
		}
	})
	if built < 40 {
		t.Errorf("only %d findings built in the tree: the pattern is broken", built)
	}
}
