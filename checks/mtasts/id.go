package mtasts

import (
	"crypto/sha256"
	"encoding/base32"
	"strings"
	"time"
)

// idTimeLayout is the time part of a scheme id, in UTC.
const idTimeLayout = "20060102150405"

// idHashLen is how many base32 characters of the policy hash an id carries.
const idHashLen = 8

// NewID returns the id stspilot publishes for policy bytes first served at
// t (docs/design.md, "The id scheme"): the UTC time as yyyymmddhhmmss, then the
// first 8 characters of the lower-case standard base32 (RFC 4648) encoding of
// sha256(policy). The result has 22 letters and digits, a valid id under
// STS-TXT-9, and changes with the content (STS-TXT-10). t must lie in the
// years 0001 to 9999.
func NewID(t time.Time, policy []byte) string {
	return t.UTC().Format(idTimeLayout) + policyHash(policy)
}

func policyHash(policy []byte) string {
	sum := sha256.Sum256(policy)
	return strings.ToLower(base32.StdEncoding.EncodeToString(sum[:])[:idHashLen])
}

// ParseID recognises an id made by NewID: 14 digits forming a valid UTC date
// and time, then 8 characters of [a-z2-7]. It returns when the policy was
// published and the hash part. ok is false for any other id, which is then
// opaque (STS-TXT-10).
func ParseID(id string) (published time.Time, hash string, ok bool) {
	if len(id) != len(idTimeLayout)+idHashLen {
		return time.Time{}, "", false
	}
	ts, h := id[:len(idTimeLayout)], id[len(idTimeLayout):]
	for i := 0; i < len(ts); i++ {
		if ts[i] < '0' || ts[i] > '9' {
			return time.Time{}, "", false
		}
	}
	for i := 0; i < len(h); i++ {
		if c := h[i]; (c < 'a' || c > 'z') && (c < '2' || c > '7') {
			return time.Time{}, "", false
		}
	}
	t, err := time.ParseInLocation(idTimeLayout, ts, time.UTC)
	if err != nil || t.Format(idTimeLayout) != ts {
		return time.Time{}, "", false
	}
	return t, h, true
}

// VerifyID tells, for an id made by NewID, whether its hash matches the
// served policy bytes. recognised is false for opaque ids (and matches is
// then false too).
func VerifyID(id string, policy []byte) (recognised, matches bool) {
	_, h, ok := ParseID(id)
	if !ok {
		return false, false
	}
	return true, h == policyHash(policy)
}
