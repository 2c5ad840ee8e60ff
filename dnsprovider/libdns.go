package dnsprovider

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/libdns/libdns"
)

// LibdnsProvider is what a libdns provider must implement to be adapted.
type LibdnsProvider interface {
	libdns.RecordGetter
	libdns.RecordAppender
	libdns.RecordDeleter
}

// LibdnsOptions tunes [FromLibdns] to one provider's quirks.
type LibdnsOptions struct {
	// Escaped says the provider returns TXT text in escaped presentation
	// form (libdns/rfc2136: `a \"b\"`).
	Escaped bool
	// Secrets are values to strip from every error text.
	Secrets []string
	// AuthHint names the settings to check when credentials are refused,
	// e.g. "CLOUDFLARE_API_TOKEN".
	AuthHint string
}

// FromLibdns adapts a libdns provider to [Provider]. Writes go through
// AppendRecords and exact DeleteRecords of our record only, so foreign
// records are never rewritten (libdns SetRecords would rewrite the whole
// RRset, and some providers do not round-trip quotes).
func FromLibdns(name string, p LibdnsProvider, opt LibdnsOptions) Provider {
	return &libdnsAdapter{name: name, p: p, opt: opt, red: redactor{secrets: opt.Secrets}, retry: defaultRetry}
}

type libdnsAdapter struct {
	name  string
	p     LibdnsProvider
	opt   LibdnsOptions
	red   redactor
	retry retryPolicy
}

func (a *libdnsAdapter) Name() string { return a.name }

func (a *libdnsAdapter) err(e error) error { return wrapErr(a.name, a.red, e, a.opt.AuthHint) }

// rawRecord is one record as the provider returned it, kept so that a
// delete sends the provider its own representation, with its value as we
// compare it (a normalised TXT text, an MX) and its TTL.
type rawRecord[V any] struct {
	rec libdns.Record
	val V
	ttl time.Duration
}

// rawTXT is one TXT record as the provider returned it.
type rawTXT = rawRecord[string]

// readRRset gets every record of zone (retried, logged) and returns those
// of type typ ("TXT", "MX") at name, each with its value as parse reads it
// (ok false: not one of the set), and the largest TTL among them.
func readRRset[V any](ctx context.Context, a *libdnsAdapter, zone, name, typ string, parse func(libdns.Record) (v V, ok bool, err error)) ([]rawRecord[V], time.Duration, error) {
	rel, err := relativeName(zone, name)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", a.name, err)
	}
	var all []libdns.Record
	err = retry(ctx, a.retry, func() error {
		var e error
		start := time.Now()
		all, e = a.p.GetRecords(ctx, zoneArg(zone))
		a.logCall(ctx, "get", zone, start, len(all), e)
		return a.err(e)
	})
	if err != nil {
		return nil, 0, err
	}
	var out []rawRecord[V]
	var maxTTL time.Duration
	for _, r := range all {
		rr := r.RR()
		if !strings.EqualFold(rr.Type, typ) || !sameRelName(rr.Name, rel, zone) {
			continue
		}
		v, ok, err := parse(r)
		if err != nil {
			return nil, 0, err
		}
		if ok {
			out = append(out, rawRecord[V]{rec: r, val: v, ttl: rr.TTL})
			maxTTL = max(maxTTL, rr.TTL)
		}
	}
	return out, maxTTL, nil
}

func (a *libdnsAdapter) read(ctx context.Context, zone, name string) (TXTSet, []rawTXT, error) {
	raws, ttl, err := readRRset(ctx, a, zone, name, "TXT", func(r libdns.Record) (string, bool, error) {
		text := r.RR().Data
		if t, ok := r.(libdns.TXT); ok {
			text = t.Text
		}
		return NormalizeTXT(text, a.opt.Escaped), true, nil
	})
	if err != nil {
		return TXTSet{}, nil, err
	}
	set := TXTSet{Name: Fqdn(name), TTL: ttl}
	for _, r := range raws {
		set.Values = append(set.Values, r.val)
	}
	slices.Sort(set.Values)
	return set, raws, nil
}

// zoneArg is the zone as libdns providers expect it: with the trailing dot.
func zoneArg(zone string) string { return Fqdn(zone) }

// sameRelName compares a libdns record name (relative, "@", or absolute
// with a dot) with our relative name.
func sameRelName(got, rel, zone string) bool {
	if strings.HasSuffix(got, ".") {
		got = libdns.RelativeName(Fqdn(got), Fqdn(zone))
	}
	if got == "" {
		got = "@"
	}
	return strings.EqualFold(got, rel)
}

func (a *libdnsAdapter) ReadTXT(ctx context.Context, zone, name string) (TXTSet, error) {
	set, _, err := a.read(ctx, zone, name)
	return set, err
}

func (a *libdnsAdapter) SetOurs(ctx context.Context, zone, name string, kind Kind, value string, ttl time.Duration) (Change, error) {
	if !writable(kind, value) {
		return Change{}, fmt.Errorf("%s: refusing to write %q at %s: it does not start with %s;", a.name, value, Fqdn(name), kind)
	}
	rel, err := relativeName(zone, name)
	if err != nil {
		return Change{}, fmt.Errorf("%s: %w", a.name, err)
	}
	before, raws, err := a.read(ctx, zone, name)
	if err != nil {
		return Change{}, err
	}
	ch := Change{Before: before}
	var old []rawTXT
	present := false
	for _, r := range raws {
		if kind.Matches(r.val) {
			old = append(old, r)
			ch.ReplacedTTL = max(ch.ReplacedTTL, r.ttl)
			if r.val == value && (ttl <= 0 || r.ttl == ttl) {
				present = true
			}
		}
	}
	ttl = newTTL(ttl, ch.ReplacedTTL)
	ch.Record = zoneLine(name, ttl, value)
	if present && len(old) == 1 {
		ch.After = before
		return ch, nil
	}
	ch.Changed = true
	// Delete first the records of ours that must go and that would clash
	// with the new one (same text, other TTL); then add ours, then delete
	// the rest, so the name is never without a record of ours.
	var clash, rest []libdns.Record
	for _, r := range old {
		switch {
		case r.val == value && present:
			// kept
		case r.val == value:
			clash = append(clash, r.rec)
		default:
			rest = append(rest, r.rec)
		}
	}
	var add []libdns.Record
	if !present {
		add = []libdns.Record{libdns.TXT{Name: rel, TTL: ttl, Text: value}}
	}
	// Replacing a record of ours is one atomic change where the provider
	// can: never two records of ours, never none.
	steps := a.writeSteps(ctx, zone, clash, add, rest, len(old) > 0)
	return a.runSteps(ctx, zone, name, "set", ch, steps, func(after TXTSet) bool {
		ours := after.Ours(kind)
		return len(ours) == 1 && ours[0] == value && slices.Equal(after.Foreign(kind), before.Foreign(kind))
	})
}

// writeSteps are the writes that delete clash, add add and delete rest, in
// that order, so that a name never lacks the records being replaced: one
// ReplaceRecords call when atomic is true and the provider has it, else a
// delete, an append and a delete, each left out when it has no records.
func (a *libdnsAdapter) writeSteps(ctx context.Context, zone string, clash, add, rest []libdns.Record, atomic bool) []func() error {
	if rp, ok := a.p.(replacer); ok && atomic {
		del := append(clash, rest...)
		return []func() error{func() error { return a.err(rp.ReplaceRecords(ctx, zoneArg(zone), del, add)) }}
	}
	var steps []func() error
	if len(clash) > 0 {
		steps = append(steps, a.deleteStep(ctx, zone, clash))
	}
	if len(add) > 0 {
		steps = append(steps, a.appendStep(ctx, zone, add))
	}
	if len(rest) > 0 {
		steps = append(steps, a.deleteStep(ctx, zone, rest))
	}
	return steps
}

func (a *libdnsAdapter) appendStep(ctx context.Context, zone string, recs []libdns.Record) func() error {
	return a.writeStep(ctx, zone, "append", a.p.AppendRecords, recs)
}

func (a *libdnsAdapter) deleteStep(ctx context.Context, zone string, recs []libdns.Record) func() error {
	return a.writeStep(ctx, zone, "delete", a.p.DeleteRecords, recs)
}

// writeStep is a step of runSteps: one call of write (the provider's
// AppendRecords or DeleteRecords, logged as op) with recs.
func (a *libdnsAdapter) writeStep(ctx context.Context, zone, op string, write func(context.Context, string, []libdns.Record) ([]libdns.Record, error), recs []libdns.Record) func() error {
	return func() error {
		start := time.Now()
		_, e := write(ctx, zoneArg(zone), recs)
		a.logCall(ctx, op, zone, start, len(recs), e)
		return a.err(e)
	}
}

// logCall writes one debug line per provider API call (stspilot --debug):
// the error as redacted by a.err, never the provider's own text.
func (a *libdnsAdapter) logCall(ctx context.Context, op, zone string, start time.Time, records int, err error) {
	if !slog.Default().Enabled(ctx, slog.LevelDebug) {
		return
	}
	args := []any{"provider", a.name, "op", op, "zone", zone, "records", records, "took", time.Since(start).Round(time.Microsecond)}
	if err != nil {
		args = append(args, "err", a.err(err))
	}
	slog.DebugContext(ctx, "dns provider call", args...)
}

// runSteps runs the TXT writes of op (set, delete) and checks the name
// read back with ok; see runWrites. Its partial error is a *PartialError.
func (a *libdnsAdapter) runSteps(ctx context.Context, zone, name, op string, ch Change, steps []func() error, ok func(TXTSet) bool) (Change, error) {
	read := func(ctx context.Context) (TXTSet, error) {
		s, _, err := a.read(ctx, zone, name)
		return s, err
	}
	after, err := runWrites(ctx, a.retry, steps, ch.Before, read, ok, func(err error, now TXTSet, readErr error) error {
		return &PartialError{Provider: a.name, Op: op, Name: Fqdn(name), Err: err, Now: now, ReadErr: readErr}
	})
	if after != nil {
		ch.After = *after
	}
	return ch, err
}

// runWrites runs the writes in order, each retried when transient, then
// reads the name back and checks it with ok. A first step that failed is
// returned as it is when the name reads back as before and the write cannot
// still land (a timeout can hide a write that happened, and a write still
// in flight may land after any read-back). Any other failure, or a
// read-back that does not hold what was asked, is the error partial makes
// of it, with what the zone holds now (read on a fresh short context: the
// caller's may be what failed). after is what was read back, nil when the
// writes failed or the read-back did.
func runWrites[S interface{ Equal(S) bool }](ctx context.Context, p retryPolicy, steps []func() error, before S, read func(context.Context) (S, error), ok func(S) bool, partial func(err error, now S, readErr error) error) (after *S, _ error) {
	for i, step := range steps {
		if err := retry(ctx, p, step); err != nil {
			if i == 0 && !mayStillLand(err) {
				if now, rerr := read(ctx); rerr == nil && now.Equal(before) {
					return nil, err
				}
			}
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
			now, rerr := read(rctx)
			cancel()
			return nil, partial(err, now, rerr)
		}
	}
	now, err := read(ctx)
	if err != nil {
		var none S
		return nil, partial(fmt.Errorf("reading back after the write: %w", err), none, err)
	}
	if !ok(now) {
		return &now, partial(errors.New("the provider accepted the change but the zone does not hold it"), now, nil)
	}
	return &now, nil
}

func (a *libdnsAdapter) DeleteOurs(ctx context.Context, zone, name string, kind Kind) (Change, error) {
	before, raws, err := a.read(ctx, zone, name)
	if err != nil {
		return Change{}, err
	}
	ch := Change{Before: before, After: before, Record: fmt.Sprintf("delete the TXT record of %s that starts with %s", Fqdn(name), kind)}
	var del []libdns.Record
	for _, r := range raws {
		if kind.Matches(r.val) {
			del = append(del, r.rec)
			ch.ReplacedTTL = max(ch.ReplacedTTL, r.ttl)
		}
	}
	if len(del) == 0 {
		return ch, nil
	}
	ch.Changed = true
	return a.runSteps(ctx, zone, name, "delete", ch, []func() error{a.deleteStep(ctx, zone, del)}, func(after TXTSet) bool {
		return len(after.Ours(kind)) == 0 && slices.Equal(after.Foreign(kind), before.Foreign(kind))
	})
}
