// Package dnsprovider writes and verifies the two TXT records stspilot owns,
// _mta-sts (RFC 8461) and _smtp._tls (RFC 8460), through DNS providers.
//
// Every provider sits behind the narrow [Provider] interface. The libdns
// providers (cloudflare, rfc2136, route53, ...) share one adapter,
// [FromLibdns], which implements the invariant "touch only our names"
// (docs/design.md, invariant 5): it adds and deletes only the records of the
// [Kind] (see [TXTSet.Ours]) and never writes a foreign TXT record of the
// same name. The registry ([Providers], [Open]) says which providers exist,
// which settings each needs and which of those are secret. After a write,
// [WaitPropagated] asks every authoritative name server of the zone until
// each serves the new RRset (the published gate).
package dnsprovider

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stspilot/stspilot/internal/txtrecord"
)

// DefaultTTL is the TTL of a new record when the caller gives none and no
// record of ours is being replaced. libdns/rfc2136 writes TTL 0 for a record
// without a TTL, so an explicit TTL is always sent.
const DefaultTTL = 300 * time.Second

// newTTL is the TTL to write a record with: asked when it is > 0, else
// replaced (that of the records the write replaces) when it is > 0, else
// DefaultTTL.
func newTTL(asked, replaced time.Duration) time.Duration {
	switch {
	case asked > 0:
		return asked
	case replaced > 0:
		return replaced
	}
	return DefaultTTL
}

// Kind names one of our records by its version tag. It is the one
// ownership rule of txtrecord.Kind: the checks report by the same
// classification (Classify: selected, near miss, foreign) that the
// providers replace and delete by (Matches: selected or near miss).
type Kind = txtrecord.Kind

const (
	// KindSTS is the _mta-sts record, "v=STSv1; id=..." (RFC 8461 §3.1).
	KindSTS = txtrecord.KindSTS
	// KindTLSRPT is the _smtp._tls record, "v=TLSRPTv1; rua=..." (RFC 8460 §3).
	KindTLSRPT = txtrecord.KindTLSRPT
)

// writable reports whether value may be written as our record of kind: it
// must be one compliant readers select, starting with exactly the version
// tag and ';' (RFC 8461 §3.1, RFC 8460 §3).
func writable(kind Kind, value string) bool { return kind.Classify(value) == txtrecord.Selected }

// TXTSet is the TXT RRset at one name as a provider (or a name server) holds it.
type TXTSet struct {
	// Name is the absolute owner name, lower case, with a trailing dot.
	Name string `json:"name"`
	// Values holds one entry per TXT record: its character-strings joined,
	// quoting and escapes removed. Sorted, so sets compare with slices.Equal.
	Values []string `json:"values"`
	// TTL is the largest TTL among the records, 0 when there are none.
	TTL time.Duration `json:"ttl"`
}

// Ours returns the values of kind k: those compliant readers select and the
// near misses of one (see txtrecord.Kind.Classify). SetOurs and DeleteOurs
// replace and remove exactly these.
func (s TXTSet) Ours(k Kind) []string {
	var out []string
	for _, v := range s.Values {
		if k.Matches(v) {
			out = append(out, v)
		}
	}
	return out
}

// Foreign returns the values that are not of kind k, which no write touches.
func (s TXTSet) Foreign(k Kind) []string {
	var out []string
	for _, v := range s.Values {
		if !k.Matches(v) {
			out = append(out, v)
		}
	}
	return out
}

// String renders the set for humans: `name: "v1", "v2" (TTL 5m0s)`.
func (s TXTSet) String() string {
	if len(s.Values) == 0 {
		return s.Name + ": no TXT record"
	}
	q := make([]string, len(s.Values))
	for i, v := range s.Values {
		q[i] = fmt.Sprintf("%q", v)
	}
	return fmt.Sprintf("%s: %s (TTL %s)", s.Name, strings.Join(q, ", "), s.TTL)
}

// Equal reports whether both sets hold the same values (TTL aside).
func (s TXTSet) Equal(o TXTSet) bool { return slices.Equal(s.Values, o.Values) }

// Change is the outcome of a write.
type Change struct {
	Before TXTSet `json:"before"`
	After  TXTSet `json:"after"`
	// ReplacedTTL is the TTL of our record before the change, 0 when there
	// was none. Resolvers may serve the old record that long after the
	// change: it is part of a rollback's risk window.
	ReplacedTTL time.Duration `json:"replaced_ttl"`
	// Changed is false when the zone already held what was asked.
	Changed bool `json:"changed"`
	// Manual is true when nothing was written: the operator must publish
	// Record by hand (the manual provider) and the published gate decides.
	Manual bool `json:"manual,omitempty"`
	// Record is our record as a zone-file line, or the deletion to make.
	Record string `json:"record"`
}

// Provider reads and writes the TXT records stspilot owns.
//
// Names: zone is the zone apex (see [FindZone]) and name an absolute name
// inside it, each with or without the trailing dot; case does not matter.
// The zone is the one the provider manages, which for a policy domain
// inside a larger zone (fresh.example.test in example.test) is the larger one.
//
// Contract:
//   - Every call honours ctx: it returns when ctx is done, and callers give
//     ctx a deadline. Transient provider failures (HTTP 429, 5xx) are
//     retried with backoff within that deadline.
//   - Implementations are safe for concurrent use, but two writes to the
//     same name at once have no defined order: callers serialise them.
//   - SetOurs and DeleteOurs are idempotent: repeating a call that
//     succeeded changes nothing and reports Changed=false.
//   - They touch only records of the given kind at that name: every other
//     TXT record of the name is left as it was, never rewritten.
//   - A write that fails after changing something returns a
//     *[PartialError] holding what the zone holds now.
//   - Errors start with the provider's name and never contain a secret.
type Provider interface {
	// Name is the registry name ("cloudflare", "memory", ...).
	Name() string
	// ReadTXT returns the TXT RRset at name.
	ReadTXT(ctx context.Context, zone, name string) (TXTSet, error)
	// SetOurs makes the record of kind at name exactly value, removing any
	// other record of that kind there. ttl <= 0 keeps the TTL of the record
	// replaced, or DefaultTTL. value must match kind.
	SetOurs(ctx context.Context, zone, name string, kind Kind, value string, ttl time.Duration) (Change, error)
	// DeleteOurs removes every record of kind at name.
	DeleteOurs(ctx context.Context, zone, name string, kind Kind) (Change, error)
}

// Fqdn returns name lower-cased with exactly one trailing dot.
func Fqdn(name string) string {
	return strings.ToLower(strings.TrimSuffix(strings.TrimSpace(name), ".")) + "."
}

// relativeName returns name relative to zone as libdns wants it ("@" for
// the apex), or an error when name is not inside zone.
func relativeName(zone, name string) (string, error) {
	z, n := Fqdn(zone), Fqdn(name)
	if n == z {
		return "@", nil
	}
	if z == "." {
		return strings.TrimSuffix(n, "."), nil
	}
	if !strings.HasSuffix(n, "."+z) {
		return "", fmt.Errorf("%s is not inside zone %s", n, z)
	}
	return strings.TrimSuffix(n, "."+z), nil
}

// zoneLine renders one TXT record in zone-file syntax, split into
// 255-byte strings.
func zoneLine(name string, ttl time.Duration, value string) string {
	return fmt.Sprintf("%s %d IN TXT %s", Fqdn(name), int(ttl/time.Second), QuoteTXT(value))
}
