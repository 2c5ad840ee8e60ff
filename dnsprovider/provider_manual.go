package dnsprovider

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

var manualInfo = Info{
	Name:        "manual",
	Title:       "Manual (you edit the zone)",
	Description: "writes nothing: shows the exact record to publish or remove, reads the zone's authoritative servers and waits until every one answers it",
	Docs:        "https://github.com/stspilot/stspilot/blob/main/docs/providers.md#manual",
	Manual:      true,
	HTTPClient:  HTTPNone,
}

func openManual(_ Values, _ []string, env Env) (Provider, error) {
	return NewManual(NewResolver(env)), nil
}

// NewManual returns the manual provider: it reads through q (the zone's
// NS set, then every authoritative server directly) and writes nothing.
func NewManual(q *Resolver) Provider {
	if q == nil {
		q = &Resolver{}
	}
	return &manualProvider{q: q}
}

type manualProvider struct{ q *Resolver }

func (m *manualProvider) Name() string { return "manual" }

func (m *manualProvider) errf(format string, a ...any) error {
	return fmt.Errorf("manual: "+format, a...)
}

// ReadTXT returns what the zone's authoritative servers answer: the RRset
// most of them agree on. It fails when none answers authoritatively.
func (m *manualProvider) ReadTXT(ctx context.Context, zone, name string) (TXTSet, error) {
	res, err := ReadAuthoritative(ctx, m.q, zone, name, nil)
	if err != nil {
		return TXTSet{}, &providerError{provider: "manual", msg: err.Error(), class: ctxClass(err)}
	}
	set, ok := res.Answer()
	if !ok {
		return TXTSet{}, m.errf("no authoritative server of %s answered for %s: %s", res.Zone, res.Name, res.Summary())
	}
	return set, nil
}

// ctxClass returns the context error err wraps, for providerError.
func ctxClass(err error) error {
	for _, c := range []error{context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, c) {
			return c
		}
	}
	return nil
}

// current starts a Change of SetOurs or DeleteOurs at name: Before is
// what the servers answer now, and ours its records of kind.
func (m *manualProvider) current(ctx context.Context, zone, name string, kind Kind) (Change, []string, error) {
	if _, err := relativeName(zone, name); err != nil {
		return Change{}, nil, m.errf("%v", err)
	}
	before, err := m.ReadTXT(ctx, zone, name)
	if err != nil {
		return Change{}, nil, err
	}
	return Change{Before: before, Manual: true}, before.Ours(kind), nil
}

// SetOurs writes nothing. Change.Record is the zone-file line to publish,
// with the records of kind to remove (if any) listed after it; Before is
// what the servers answer now; After is what the zone must hold once the
// operator is done; Changed says whether that differs from Before.
func (m *manualProvider) SetOurs(ctx context.Context, zone, name string, kind Kind, value string, ttl time.Duration) (Change, error) {
	if !writable(kind, value) {
		return Change{}, m.errf("refusing to show %q at %s: it does not start with %s;", value, Fqdn(name), kind)
	}
	ch, ours, err := m.current(ctx, zone, name, kind)
	if err != nil {
		return Change{}, err
	}
	before := ch.Before
	if len(ours) > 0 {
		ch.ReplacedTTL = before.TTL // TTLs of one RRset are equal (RFC 2181 §5.2)
	}
	ttl = newTTL(ttl, ch.ReplacedTTL)
	ch.After = TXTSet{Name: before.Name, Values: append(before.Foreign(kind), value), TTL: ttl}
	slices.Sort(ch.After.Values)
	ch.Changed = !(len(ours) == 1 && ours[0] == value && before.TTL == ttl)
	lines := []string{zoneLine(name, ttl, value)}
	for _, o := range ours {
		if o != value {
			lines = append(lines, "; and delete: "+zoneLine(name, before.TTL, o))
		}
	}
	ch.Record = strings.Join(lines, "\n")
	return ch, nil
}

// DeleteOurs writes nothing. Change.Record lists the records to delete as
// zone-file lines.
func (m *manualProvider) DeleteOurs(ctx context.Context, zone, name string, kind Kind) (Change, error) {
	ch, ours, err := m.current(ctx, zone, name, kind)
	if err != nil {
		return Change{}, err
	}
	before := ch.Before
	ch.After = TXTSet{Name: before.Name, Values: before.Foreign(kind), TTL: before.TTL}
	if len(ch.After.Values) == 0 {
		ch.After.TTL = 0
	}
	if len(ours) == 0 {
		ch.Record = fmt.Sprintf("; nothing to delete: %s has no TXT record that starts with %s", Fqdn(name), kind)
		return ch, nil
	}
	ch.Changed = true
	ch.ReplacedTTL = before.TTL
	lines := make([]string, len(ours))
	for i, o := range ours {
		lines[i] = "; delete: " + zoneLine(name, before.TTL, o)
	}
	ch.Record = strings.Join(lines, "\n")
	return ch, nil
}

var _ Provider = (*manualProvider)(nil)
