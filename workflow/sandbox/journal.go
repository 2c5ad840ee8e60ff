package sandbox

import (
	"fmt"
	"sync"

	"github.com/stspilot/stspilot/workflow"
)

// Journal is an in-memory workflow.Journal with the file journal's locking
// contract: one run per domain at a time. The demo forgets it on exit.
type Journal struct {
	mu      sync.Mutex
	mem     map[string]*workflow.Memory
	entries map[string][]workflow.Entry
	locked  map[string]string
}

// NewJournal returns an empty journal.
func NewJournal() *Journal {
	return &Journal{mem: map[string]*workflow.Memory{}, entries: map[string][]workflow.Entry{}, locked: map[string]string{}}
}

// Peek implements workflow.Journal.
func (j *Journal) Peek(domain string) (*workflow.Memory, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return cloneMemory(j.mem[domain]), nil
}

// History implements workflow.Journal.
func (j *Journal) History(domain string, n int) ([]workflow.Entry, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	e := j.entries[domain]
	if n > 0 && len(e) > n {
		e = e[len(e)-n:]
	}
	return append([]workflow.Entry(nil), e...), nil
}

// Begin implements workflow.Journal.
func (j *Journal) Begin(domain, command string, wf workflow.Workflow) (workflow.Txn, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if who, ok := j.locked[domain]; ok {
		return nil, fmt.Errorf("%s is locked by another run (%s)", domain, who)
	}
	j.locked[domain] = command + " " + string(wf)
	return &txn{j: j, domain: domain}, nil
}

type txn struct {
	j      *Journal
	domain string
	closed bool
}

func (t *txn) Memory() *workflow.Memory {
	m, _ := t.j.Peek(t.domain)
	return m
}

func (t *txn) Record(m *workflow.Memory, e workflow.Entry) error {
	t.j.mu.Lock()
	defer t.j.mu.Unlock()
	if t.closed {
		return fmt.Errorf("journal of %s: record after close", t.domain)
	}
	t.j.mem[t.domain] = cloneMemory(m)
	t.j.entries[t.domain] = append(t.j.entries[t.domain], e)
	return nil
}

func (t *txn) Close() error {
	t.j.mu.Lock()
	defer t.j.mu.Unlock()
	if !t.closed {
		t.closed = true
		delete(t.j.locked, t.domain)
	}
	return nil
}

// cloneMemory copies m deeply enough that the engine's later changes to
// its own copy never reach the journal.
func cloneMemory(m *workflow.Memory) *workflow.Memory {
	if m == nil {
		return nil
	}
	c := *m
	if m.Current != nil {
		cur := *m.Current
		cur.MX = append([]string(nil), m.Current.MX...)
		c.Current = &cur
	}
	if m.Intent != nil {
		in := *m.Intent
		in.Target.MX = append([]string(nil), m.Intent.Target.MX...)
		c.Intent = &in
	}
	if m.Teardown != nil {
		td := *m.Teardown
		c.Teardown = &td
	}
	return &c
}
