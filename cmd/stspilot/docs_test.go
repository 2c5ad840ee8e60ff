package main

import (
	"encoding/json"
	"os"
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
