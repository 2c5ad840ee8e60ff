package workflow

import (
	"encoding/json"
	"strings"
	"testing"
)

// A plan without steps (refused before any step was planned) has
// "steps":[] in JSON, never null, whether marshalled as a value, through a
// pointer or inside an event; the other fields are unchanged.
func TestPlanJSONStepsNeverNull(t *testing.T) {
	p := &Plan{Domain: "example.com", Workflow: Promote, Rung: -1, Refusal: &Refusal{Reason: "drift", Override: "--adopt-live"}}
	for name, v := range map[string]any{"pointer": p, "value": *p, "event": Event{Kind: EventPlan, Plan: p}} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		s := string(b)
		if !strings.Contains(s, `"steps":[]`) || strings.Contains(s, `"steps":null`) {
			t.Errorf("%s: %s", name, s)
		}
		for _, want := range []string{`"domain":"example.com"`, `"workflow":"promote"`, `"rung":-1`, `"reason":"drift"`} {
			if !strings.Contains(s, want) {
				t.Errorf("%s: %s lacks %s", name, s, want)
			}
		}
	}
	p.Steps = []Step{{ID: "1", Kind: StepGate, Summary: "s"}}
	if b, _ := json.Marshal(p); !strings.Contains(string(b), `"steps":[{"id":"1"`) {
		t.Errorf("with a step: %s", b)
	}
	if p.Steps == nil || len(p.Steps) != 1 {
		t.Error("marshalling changed the plan")
	}
}
