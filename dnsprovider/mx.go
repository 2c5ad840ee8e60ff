package dnsprovider

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/libdns/libdns"
)

// MX is one MX record: a preference and an exchange host (absolute, lower
// case, with a trailing dot).
type MX struct {
	Pref uint16 `json:"pref"`
	Host string `json:"host"`
}

// String renders the record's data as a zone file does: "10 mx1.example.".
func (m MX) String() string { return fmt.Sprintf("%d %s", m.Pref, Fqdn(m.Host)) }

// MXSet is the MX RRset at one name.
type MXSet struct {
	// Name is the absolute owner name, lower case, with a trailing dot.
	Name string `json:"name"`
	// Records are sorted by preference, then host, so sets compare with
	// Equal.
	Records []MX `json:"records"`
	// TTL is the largest TTL among the records, 0 when there are none.
	TTL time.Duration `json:"ttl"`
}

// Hosts are the exchange hosts of the set, without the trailing dot, in
// the set's order.
func (s MXSet) Hosts() []string {
	out := make([]string, 0, len(s.Records))
	for _, r := range s.Records {
		out = append(out, strings.TrimSuffix(r.Host, "."))
	}
	return out
}

// Equal reports whether both sets hold the same records (TTL aside).
func (s MXSet) Equal(o MXSet) bool { return slices.Equal(s.Records, o.Records) }

// String renders the set for humans.
func (s MXSet) String() string {
	if len(s.Records) == 0 {
		return s.Name + ": no MX record"
	}
	q := make([]string, len(s.Records))
	for i, r := range s.Records {
		q[i] = r.String()
	}
	return fmt.Sprintf("%s: MX %s (TTL %s)", s.Name, strings.Join(q, ", "), s.TTL)
}

// ZoneLines renders the set as zone-file lines with ttl.
func (s MXSet) ZoneLines(ttl time.Duration) string {
	lines := make([]string, len(s.Records))
	for i, r := range s.Records {
		lines[i] = fmt.Sprintf("%s %d IN MX %s", Fqdn(s.Name), int(ttl/time.Second), r)
	}
	return strings.Join(lines, "\n")
}

// NormalizeMX returns recs with hosts absolute and lower case, sorted and
// without duplicates; it fails on an empty host or a host that is not a
// name.
func NormalizeMX(recs []MX) ([]MX, error) {
	out := make([]MX, 0, len(recs))
	for _, r := range recs {
		h := strings.TrimSpace(r.Host)
		if h == "" || h == "." || strings.ContainsAny(h, " \t\"\\;()") {
			return nil, fmt.Errorf("MX host %q is not a host name", r.Host)
		}
		out = append(out, MX{Pref: r.Pref, Host: Fqdn(h)})
	}
	sortMX(out)
	return slices.Compact(out), nil
}

func sortMX(recs []MX) {
	slices.SortFunc(recs, func(a, b MX) int {
		return cmp.Or(cmp.Compare(a.Pref, b.Pref), cmp.Compare(a.Host, b.Host))
	})
}

// MXChange is the outcome of an MX write.
type MXChange struct {
	Before MXSet `json:"before"`
	After  MXSet `json:"after"`
	// ReplacedTTL is the TTL of the MX RRset before the change, 0 when
	// there was none: resolvers may hand out the old set that long after.
	ReplacedTTL time.Duration `json:"replaced_ttl"`
	// Changed is false when the zone already held what was asked.
	Changed bool `json:"changed"`
	// Manual: nothing was written; the operator publishes Record by hand.
	Manual bool `json:"manual,omitempty"`
	// Record is the new RRset as zone-file lines (with the deletions).
	Record string `json:"record"`
}

// MXProvider is what a provider that can also change a domain's MX RRset
// implements (the mx-migrate workflow; docs/design.md invariant 5 allows
// this one name, in that workflow only). Like SetOurs, SetMX touches
// nothing but the MX records at name: every other record of the name is
// left as it was.
type MXProvider interface {
	// ReadMX returns the MX RRset at name.
	ReadMX(ctx context.Context, zone, name string) (MXSet, error)
	// SetMX makes the MX RRset at name exactly want (idempotent). ttl <= 0
	// keeps the TTL of the RRset replaced, or DefaultTTL. A write that
	// fails after changing something returns a *MXPartialError.
	SetMX(ctx context.Context, zone, name string, want []MX, ttl time.Duration) (MXChange, error)
}

// MXOf returns p's MX reader and writer, ok=false when p cannot write MX
// records.
func MXOf(p Provider) (MXProvider, bool) {
	m, ok := p.(MXProvider)
	return m, ok
}

// MXPartialError reports an MX write that failed after it may have
// changed the zone, with what the zone holds now.
type MXPartialError struct {
	Provider string
	Name     string
	Err      error
	Now      MXSet
	ReadErr  error
}

func (e *MXPartialError) Error() string {
	return fmt.Sprintf("%s: set MX %s failed half-way: %v; the zone now holds %s", e.Provider, e.Name, e.Err, heldNow(e.Now, e.ReadErr))
}

func (e *MXPartialError) Unwrap() error { return e.Err }

// rawMX is one MX record as the provider returned it.
type rawMX = rawRecord[MX]

func (a *libdnsAdapter) readMX(ctx context.Context, zone, name string) (MXSet, []rawMX, error) {
	raws, ttl, err := readRRset(ctx, a, zone, name, "MX", func(r libdns.Record) (MX, bool, error) {
		m, ok := r.(libdns.MX)
		if !ok {
			rr := r.RR()
			p, err := rr.Parse()
			if err != nil {
				return MX{}, false, fmt.Errorf("%s: the MX record %q at %s: %v", a.name, rr.Data, Fqdn(name), err)
			}
			if m, ok = p.(libdns.MX); !ok {
				return MX{}, false, nil
			}
		}
		target := m.Target
		if !strings.HasSuffix(target, ".") {
			// A relative target is relative to the zone (libdns).
			target = libdns.AbsoluteName(target, zoneArg(zone))
		}
		return MX{Pref: m.Preference, Host: Fqdn(target)}, true, nil
	})
	if err != nil {
		return MXSet{}, nil, err
	}
	set := MXSet{Name: Fqdn(name), TTL: ttl}
	for _, r := range raws {
		set.Records = append(set.Records, r.val)
	}
	sortMX(set.Records)
	return set, raws, nil
}

// ReadMX implements MXProvider.
func (a *libdnsAdapter) ReadMX(ctx context.Context, zone, name string) (MXSet, error) {
	set, _, err := a.readMX(ctx, zone, name)
	return set, err
}

// SetMX implements MXProvider: records of want already present with the
// right TTL stay; the others are added before the old ones go, so that
// the name never has no MX (a provider with atomic replacement does it in
// one change).
func (a *libdnsAdapter) SetMX(ctx context.Context, zone, name string, want []MX, ttl time.Duration) (MXChange, error) {
	want, err := NormalizeMX(want)
	if err != nil {
		return MXChange{}, fmt.Errorf("%s: %w", a.name, err)
	}
	if len(want) == 0 {
		return MXChange{}, fmt.Errorf("%s: refusing to remove every MX record of %s", a.name, Fqdn(name))
	}
	rel, err := relativeName(zone, name)
	if err != nil {
		return MXChange{}, fmt.Errorf("%s: %w", a.name, err)
	}
	before, raws, err := a.readMX(ctx, zone, name)
	if err != nil {
		return MXChange{}, err
	}
	ch := MXChange{Before: before, ReplacedTTL: before.TTL}
	ttl = newTTL(ttl, before.TTL)
	ch.Record = MXSet{Name: Fqdn(name), Records: want}.ZoneLines(ttl)
	keep := map[MX]bool{}
	var clash, rest []libdns.Record
	for _, r := range raws {
		switch {
		case slices.Contains(want, r.val) && r.ttl == ttl && !keep[r.val]:
			keep[r.val] = true
		case slices.Contains(want, r.val):
			clash = append(clash, r.rec)
		default:
			rest = append(rest, r.rec)
		}
	}
	var add []libdns.Record
	for _, m := range want {
		if !keep[m] {
			add = append(add, libdns.MX{Name: rel, TTL: ttl, Preference: m.Pref, Target: m.Host})
		}
	}
	if len(add) == 0 && len(clash) == 0 && len(rest) == 0 {
		ch.After = before
		return ch, nil
	}
	ch.Changed = true
	ok := func(after MXSet) bool { return slices.Equal(after.Records, want) }
	steps := a.writeSteps(ctx, zone, clash, add, rest, true)
	read := func(ctx context.Context) (MXSet, error) {
		s, _, rerr := a.readMX(ctx, zone, name)
		return s, rerr
	}
	after, err := runWrites(ctx, a.retry, steps, before, read, ok, func(err error, now MXSet, readErr error) error {
		return &MXPartialError{Provider: a.name, Name: Fqdn(name), Err: err, Now: now, ReadErr: readErr}
	})
	if after != nil {
		ch.After = *after
	}
	return ch, err
}

var _ MXProvider = (*libdnsAdapter)(nil)
