package main

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/stspilot/stspilot/tui/textout"
	"github.com/stspilot/stspilot/workflow"
)

// workflowJSONFields returns every JSON field name reachable from t through
// the types of package workflow and its subpackages (the check report's
// types are documented, and tested, with stspilot.check/v1).
func workflowJSONFields(t reflect.Type, seen map[reflect.Type]bool, out map[string]bool) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || seen[t] || !strings.HasPrefix(t.PkgPath(), "github.com/stspilot/stspilot/workflow") {
		return
	}
	seen[t] = true
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name != "" {
			out[name] = true
		}
		workflowJSONFields(f.Type, seen, out)
	}
}

// docs/json.md names every field of the workflow events and of status
// (in either of their two sections)
// (a field added to workflow.Event or workflow.StatusReport without a word
// in the doc fails here), and the schema versions the code writes.
func TestJSONDocCoversEventsAndStatus(t *testing.T) {
	data, err := os.ReadFile("../../docs/json.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	section := func(title string) string {
		i := strings.Index(doc, "\n# "+title)
		if i < 0 {
			t.Fatalf("docs/json.md has no section %q", title)
		}
		rest := doc[i+1:]
		if j := strings.Index(rest[1:], "\n# "); j >= 0 {
			rest = rest[:j+1]
		}
		return rest
	}
	// The two sections describe shared objects once (a policy, a refusal,
	// the horizon) and point at each other, so fields are looked up in both.
	both := section("Workflow commands with `--json`") + section("`stspilot status --json`")
	for _, c := range []struct {
		title, schema string
		v             any
	}{
		{"Workflow commands with `--json`", textout.EventSchema, workflow.Event{}},
		{"`stspilot status --json`", workflow.StatusSchema, workflow.StatusReport{}},
	} {
		if s := section(c.title); !strings.Contains(s, c.schema) {
			t.Errorf("docs/json.md, %s: does not name %s", c.title, c.schema)
		}
		fields := map[string]bool{}
		workflowJSONFields(reflect.TypeOf(c.v), map[reflect.Type]bool{}, fields)
		if len(fields) < 15 {
			t.Fatalf("%s: only %d fields found: the walk is broken", c.title, len(fields))
		}
		for name := range fields {
			if !strings.Contains(both, "`"+name+"`") {
				t.Errorf("docs/json.md, %s: no word on the field %q", c.title, name)
			}
		}
	}
}
