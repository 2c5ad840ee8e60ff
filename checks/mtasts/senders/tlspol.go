package senders

import "time"

// tlspolFetch: 2 s per attempt, 3 attempts, 64 KiB, text/plain required, and
// any status but 200 read as "no policy" (STS-FETCH-5/9/10, OPS-8).
var tlspolFetch = fetchProfile{timeout: 2 * time.Second, timeoutText: "2 s on each of its 3 attempts", bodyCap: maxBody, checkType: true, status: non200NoPolicy}

// tlspolCache is the longest tlspol keeps a policy: 30 days (STS-SEND-5).
const tlspolCache = 30 * 24 * 3600

// emulateTLSPol models postfix-tlspol (Go, a Postfix policy server).
//
// Modelled from docs/rules.md: spaces or tabs are allowed before the first ";"
// of the record, the id charset and length are enforced, and the id is
// never stored (STS-TXT-4, -9, STS-SEND-3); a non-200 status means "no
// policy" (STS-FETCH-5); the body is split on LF with one trailing CR dropped
// (STS-POL-2); blank lines and malformed extension lines are rejected
// (STS-POL-3, -13); keys are strict and the first of a repeated key wins
// (STS-POL-4, -14); max_age above 31557600 is capped, and the policy cached
// at most 30 days (STS-POL-9, STS-SEND-5); testing produces no Postfix policy
// (STS-SEND-14).
// Assumed: the rest of the record and line grammar is the RFC's, mx patterns
// included; each of the 3 attempts takes as long as the observed fetch.
func emulateTLSPol(in Input) Verdict {
	b := newBuilder(ImplTLSPol)
	if !wspRecord(b, in.TXT) {
		return b.v
	}
	if !tlspolFetch.check(in, b) {
		return b.v
	}
	if !strictPolicy(b, in.Body, true) {
		return b.v
	}
	if b.v.Mode == "testing" {
		mode := b.v.Mode
		b.v = Verdict{Impl: ImplTLSPol}
		b.fail(NoPolicy, "produces no Postfix policy for mode "+mode+", so nothing is enforced or reported", "STS-SEND-14", "OPS-10")
		return b.v
	}
	b.v.CacheFor = min(b.v.CacheFor, tlspolCache)
	return b.v
}
