package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/stspilot/stspilot/checks"
)

// jsonFields returns every JSON field name reachable from t.
func jsonFields(t reflect.Type, seen map[reflect.Type]bool, out map[string]bool) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || seen[t] || t.PkgPath() != reflect.TypeOf(checks.Report{}).PkgPath() {
		return
	}
	seen[t] = true
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		out[name] = true
		jsonFields(f.Type, seen, out)
	}
}

// docs/json.md documents every field of the schema (a field added to
// checks.Report without its row fails here), and its examples are reports.
func TestJSONDocCoversSchema(t *testing.T) {
	doc, err := os.ReadFile("../../docs/json.md")
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]bool{}
	jsonFields(reflect.TypeOf(checks.Report{}), map[reflect.Type]bool{}, fields)
	if len(fields) < 40 {
		t.Fatalf("only %d fields found: the walk is broken", len(fields))
	}
	for name := range fields {
		if !strings.Contains(string(doc), "| `"+name+"` |") {
			t.Errorf("docs/json.md has no row for %q", name)
		}
	}
	if !strings.Contains(string(doc), checks.SchemaVersion) {
		t.Errorf("docs/json.md does not name %s", checks.SchemaVersion)
	}
	blocks := regexp.MustCompile("(?s)```json\n(.*?)```").FindAllStringSubmatch(string(doc), -1)
	if len(blocks) < 2 {
		t.Fatalf("%d JSON examples", len(blocks))
	}
	for i, b := range blocks {
		if !strings.Contains(b[1], checks.SchemaVersion) {
			continue // another command's schema, tested with it
		}
		dec := json.NewDecoder(strings.NewReader(b[1]))
		dec.DisallowUnknownFields()
		var r checks.Report
		if err := dec.Decode(&r); err != nil {
			t.Errorf("example %d is not a report: %v", i+1, err)
		}
		if r.Schema != checks.SchemaVersion || r.Findings == nil {
			t.Errorf("example %d: schema %q, findings %v", i+1, r.Schema, r.Findings)
		}
	}
}

// serveUnit returns the ini block after the line naming
// /etc/systemd/system/stspilot-serve.service in a doc, without that line.
func serveUnit(t *testing.T, doc string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", doc))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "/etc/systemd/system/stspilot-serve.service")
	if i < 0 {
		t.Fatalf("docs/%s has no stspilot-serve.service unit", doc)
	}
	s = s[i:]
	start := strings.Index(s, "[Unit]")
	if start < 0 {
		t.Fatalf("docs/%s: no [Unit] after the unit's name", doc)
	}
	end := strings.Index(s[start:], "```")
	if end < 0 {
		t.Fatalf("docs/%s: the unit's fence does not close", doc)
	}
	return s[start : start+end]
}

// docs/monitoring.md shows serve's unit with metrics on; it must be
// docs/serve.md's unit with that flag added and nothing else changed, so
// an operator who copies either gets the same hardening.
func TestMonitoringServeUnitIsServeDocs(t *testing.T) {
	serve, mon := serveUnit(t, "serve.md"), serveUnit(t, "monitoring.md")
	want := strings.Replace(serve, "access.log\n", "access.log \\\n    --metrics-listen 127.0.0.1:9465\n", 1)
	if want == serve {
		t.Fatal("docs/serve.md's unit has no --access-log line to add --metrics-listen after")
	}
	if mon != want {
		t.Errorf("docs/monitoring.md's serve unit is not docs/serve.md's with --metrics-listen added:\n--- monitoring.md\n%s--- want\n%s", mon, want)
	}
}
