package sandbox

import (
	"bytes"
	"context"
	"sync"

	"github.com/stspilot/stspilot/workflow"
)

// Publisher is an in-memory workflow.Publisher: the sandbox's policy host
// serves what it holds. Like serve's publisher it keeps the policy id
// beside the bytes (workflow.IDPublisher), so that the policy host's
// access log names the id it served.
type Publisher struct {
	mu    sync.Mutex
	files map[string][]byte
	ids   map[string]idOf
}

// idOf is the id the engine gave with policy: it holds only while the
// file is those bytes (serve believes an id file only for the bytes whose
// hash it gives).
type idOf struct {
	id     string
	policy []byte
}

// Spec implements workflow.Publisher.
func (p *Publisher) Spec() string { return "sandbox" }

// Publish implements workflow.Publisher.
func (p *Publisher) Publish(ctx context.Context, domain string, policy []byte) (workflow.Published, error) {
	return p.PublishID(ctx, domain, policy, "")
}

// PublishID implements workflow.IDPublisher: Publish, keeping id ("": none)
// beside the bytes.
func (p *Publisher) PublishID(ctx context.Context, domain string, policy []byte, id string) (workflow.Published, error) {
	if err := ctx.Err(); err != nil {
		return workflow.Published{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.files == nil {
		p.files, p.ids = map[string][]byte{}, map[string]idOf{}
	}
	old, ok := p.files[domain]
	changed := !ok || !bytes.Equal(old, policy)
	p.files[domain] = bytes.Clone(policy)
	p.ids[domain] = idOf{id: id, policy: p.files[domain]}
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
	delete(p.ids, domain)
	return workflow.Published{Where: "the sandbox policy host of " + domain, Changed: ok}, nil
}

// File returns what is published for domain (nil: nothing).
func (p *Publisher) File(domain string) []byte {
	b, _ := p.Served(domain)
	return b
}

// Served returns what is published for domain (nil: nothing) and the id
// the engine published it with ("" when it gave none, or when the file
// was changed behind its back since).
func (p *Publisher) Served(domain string) (policy []byte, id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.files[domain]
	if i, ok := p.ids[domain]; ok && bytes.Equal(i.policy, b) {
		id = i.id
	}
	return bytes.Clone(b), id
}

// set replaces the file behind the engine's back (the drift failure).
func (p *Publisher) set(domain string, b []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.files == nil {
		p.files, p.ids = map[string][]byte{}, map[string]idOf{}
	}
	p.files[domain] = bytes.Clone(b)
}
