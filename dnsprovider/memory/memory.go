// Package memory is an in-memory libdns provider for tests and the demo.
// It behaves like a careful real provider: names relative to the zone,
// exact-match deletes, TTLs as given.
package memory

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/libdns/libdns"
)

// Provider holds zones in memory. The zero value is ready to use; it is
// safe for concurrent use.
type Provider struct {
	// Fail, when set, is called before each operation ("get", "append",
	// "delete") and a non-nil error is returned instead of doing it. Tests
	// use it to inject rate limits, outages and half-done writes.
	Fail func(op string) error
	// QuoteTXT makes GetRecords return TXT text wrapped in quotes, as some
	// APIs do, to exercise normalisation.
	QuoteTXT bool

	mu    sync.Mutex
	zones map[string][]libdns.RR // key: zone FQDN, lower case; names relative
}

func zkey(zone string) string { return strings.ToLower(strings.TrimSuffix(zone, ".")) + "." }

// relName makes a record name relative to zone ("@" for the apex).
func relName(name, zone string) string {
	if strings.HasSuffix(name, ".") {
		name = libdns.RelativeName(strings.ToLower(name), zkey(zone))
	}
	if name == "" {
		return "@"
	}
	return strings.ToLower(name)
}

func (p *Provider) fail(op string) error {
	if p.Fail != nil {
		return p.Fail(op)
	}
	return nil
}

// AddZone creates an empty zone (idempotent).
func (p *Provider) AddZone(zone string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.zones == nil {
		p.zones = map[string][]libdns.RR{}
	}
	if _, ok := p.zones[zkey(zone)]; !ok {
		p.zones[zkey(zone)] = []libdns.RR{}
	}
}

// Records returns a copy of the zone's records (names relative).
func (p *Provider) Records(zone string) []libdns.RR {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]libdns.RR(nil), p.zones[zkey(zone)]...)
}

// begin starts the operation op on zone for a libdns method: it honours
// ctx and Fail, then locks p and returns the zone's records. When it
// returns no error, the caller unlocks p.mu.
func (p *Provider) begin(ctx context.Context, op, zone string) ([]libdns.RR, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := p.fail(op); err != nil {
		return nil, err
	}
	p.mu.Lock()
	z, ok := p.zones[zkey(zone)]
	if !ok {
		p.mu.Unlock()
		return nil, fmt.Errorf("zone %s not found", zkey(zone))
	}
	return z, nil
}

// GetRecords implements libdns.RecordGetter.
func (p *Provider) GetRecords(ctx context.Context, zone string) ([]libdns.Record, error) {
	z, err := p.begin(ctx, "get", zone)
	if err != nil {
		return nil, err
	}
	defer p.mu.Unlock()
	out := make([]libdns.Record, 0, len(z))
	for _, rr := range z {
		if rr.Type == "TXT" {
			t := libdns.TXT{Name: rr.Name, TTL: rr.TTL, Text: rr.Data}
			if p.QuoteTXT {
				t.Text = fmt.Sprintf("%q", rr.Data)
			}
			out = append(out, t)
			continue
		}
		out = append(out, rr)
	}
	return out, nil
}

// change runs op on zone for a libdns method that changes it: begin, then
// for each of recs (as an RR, its name relative to the zone) apply, which
// returns the zone's records after it; they are kept up to the first error.
func (p *Provider) change(ctx context.Context, op, zone string, recs []libdns.Record, apply func(z []libdns.RR, r libdns.Record, rr libdns.RR) ([]libdns.RR, error)) error {
	z, err := p.begin(ctx, op, zone)
	if err != nil {
		return err
	}
	defer p.mu.Unlock()
	for _, r := range recs {
		rr := r.RR()
		rr.Name = relName(rr.Name, zone)
		if z, err = apply(z, r, rr); err != nil {
			return err
		}
		p.zones[zkey(zone)] = z
	}
	return nil
}

// AppendRecords implements libdns.RecordAppender. Adding a record that
// exists already (same name, type and data) is an error, as at most APIs.
func (p *Provider) AppendRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	var added []libdns.Record
	err := p.change(ctx, "append", zone, recs, func(z []libdns.RR, _ libdns.Record, rr libdns.RR) ([]libdns.RR, error) {
		for _, have := range z {
			if have.Name == rr.Name && have.Type == rr.Type && have.Data == rr.Data {
				return nil, fmt.Errorf("record %s %s %q already exists", rr.Name, rr.Type, rr.Data)
			}
		}
		added = append(added, rr)
		return append(z, rr), nil
	})
	return added, err
}

// DeleteRecords implements libdns.RecordDeleter: each input deletes the
// records of the same name, and of the same type and data where those are
// given. Deleting what is absent is not an error.
func (p *Provider) DeleteRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	var deleted []libdns.Record
	err := p.change(ctx, "delete", zone, recs, func(z []libdns.RR, r libdns.Record, rr libdns.RR) ([]libdns.RR, error) {
		if t, ok := r.(libdns.TXT); ok && p.QuoteTXT {
			rr.Data = unquote(t.Text)
		}
		kept := z[:0:0]
		for _, have := range z {
			if have.Name == rr.Name && (rr.Type == "" || have.Type == rr.Type) && (rr.Data == "" || have.Data == rr.Data) {
				deleted = append(deleted, have)
				continue
			}
			kept = append(kept, have)
		}
		return kept, nil
	})
	return deleted, err
}

func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		var out string
		if _, err := fmt.Sscanf(s, "%q", &out); err == nil {
			return out
		}
	}
	return s
}

// Interface guards.
var (
	_ libdns.RecordGetter   = (*Provider)(nil)
	_ libdns.RecordAppender = (*Provider)(nil)
	_ libdns.RecordDeleter  = (*Provider)(nil)
)
