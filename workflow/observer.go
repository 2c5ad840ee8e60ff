package workflow

import (
	"sync"
	"time"
)

// EventKind says what an Event reports.
type EventKind string

// The kinds of event, in the order a run sends them.
const (
	EventPlan     EventKind = "plan"      // the plan about to be applied (Plan set)
	EventStep     EventKind = "step"      // a step starts (Step set)
	EventStepDone EventKind = "step-done" // a step finished (Step, Changed, Message)
	EventStepSkip EventKind = "step-skip" // nothing to do: live state already holds it
	EventGate     EventKind = "gate"      // a gate was evaluated (Gate set)
	EventProgress EventKind = "progress"  // per-address progress of a gate (Target set)
	EventWarning  EventKind = "warning"   // something the operator should know (Message)
	EventManual   EventKind = "manual"    // the operator must act (Message holds the exact record or file)
	EventWait     EventKind = "wait"      // a waiting run sleeps until NextAt, then re-checks
	EventRefused  EventKind = "refused"   // the workflow refuses to go on (Refusal set)
	EventRisk     EventKind = "risk"      // rollback's remaining risk window (Risk set)
	EventJournal  EventKind = "journal"   // the journal was written (Message: entry id)
	EventOutcome  EventKind = "outcome"   // the last event of a run (Outcome set)
)

// Event is one thing the engine reports while it works. Text output, JSON
// lines and the wizard render the same events; the engine never prints.
type Event struct {
	Time    time.Time      `json:"time"`
	Kind    EventKind      `json:"event"`
	Domain  string         `json:"domain"`
	Step    *Step          `json:"step,omitempty"`
	Gate    *GateResult    `json:"gate,omitempty"`
	Target  *TargetStatus  `json:"target,omitempty"`
	Changed bool           `json:"changed,omitempty"`
	Message string         `json:"message,omitempty"`
	NextAt  *time.Time     `json:"next_at,omitempty"`
	Refusal *Refusal       `json:"refusal,omitempty"`
	Risk    *RiskWindow    `json:"risk,omitempty"`
	Plan    *Plan          `json:"plan,omitempty"`
	Outcome *Outcome       `json:"outcome,omitempty"`
	Extra   map[string]any `json:"extra,omitempty"`
}

// Observer receives the engine's events, in order, from one goroutine at a
// time. It must not block for long: the engine waits for it.
type Observer interface {
	Event(Event)
}

// ObserverFunc adapts a function to Observer.
type ObserverFunc func(Event)

func (f ObserverFunc) Event(e Event) { f(e) }

// Discard drops every event.
var Discard Observer = ObserverFunc(func(Event) {})

// Recorder keeps every event; tests and the wizard's history use it.
type Recorder struct {
	mu     sync.Mutex
	Events []Event
}

func (r *Recorder) Event(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Events = append(r.Events, e)
}

// Kinds returns the kinds of the events so far, for assertions.
func (r *Recorder) Kinds() []EventKind {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]EventKind, len(r.Events))
	for i, e := range r.Events {
		out[i] = e.Kind
	}
	return out
}

// serialObserver makes an Observer safe to call from several goroutines.
type serialObserver struct {
	mu sync.Mutex
	o  Observer
}

func (s *serialObserver) Event(e Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.o.Event(e)
}
