package sandbox

import (
	"bytes"
	"context"
	"sync"

	"github.com/stspilot/stspilot/workflow"
)

// Publisher is an in-memory workflow.Publisher: the sandbox's policy host
// serves what it holds.
type Publisher struct {
	mu    sync.Mutex
	files map[string][]byte
}

// Spec implements workflow.Publisher.
func (p *Publisher) Spec() string { return "sandbox" }

// Publish implements workflow.Publisher.
func (p *Publisher) Publish(ctx context.Context, domain string, policy []byte) (workflow.Published, error) {
	if err := ctx.Err(); err != nil {
		return workflow.Published{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.files == nil {
		p.files = map[string][]byte{}
	}
	old, ok := p.files[domain]
	changed := !ok || !bytes.Equal(old, policy)
	p.files[domain] = bytes.Clone(policy)
	return workflow.Published{Where: "the sandbox policy host of " + domain, Changed: changed}, nil
}

// Remove implements workflow.Publisher.
func (p *Publisher) Remove(ctx context.Context, domain string) (workflow.Published, error) {
	if err := ctx.Err(); err != nil {
		return workflow.Published{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.files[domain]
	delete(p.files, domain)
	return workflow.Published{Where: "the sandbox policy host of " + domain, Changed: ok}, nil
}

// File returns what is published for domain (nil: nothing).
func (p *Publisher) File(domain string) []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return bytes.Clone(p.files[domain])
}

// set replaces the file behind the engine's back (the drift failure).
func (p *Publisher) set(domain string, b []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.files == nil {
		p.files = map[string][]byte{}
	}
	p.files[domain] = bytes.Clone(b)
}
