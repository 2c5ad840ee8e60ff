package dnsprovider

import (
	"net/http"
	"testing"
	"time"
)

// SetRetryForTest replaces the retry policy of a provider built by
// FromLibdns, so that tests of retries do not sleep for seconds.
func SetRetryForTest(p Provider, first, longest time.Duration, attempts int) {
	p.(*libdnsAdapter).retry = retryPolicy{first: first, max: longest, attempts: attempts}
}

// LibdnsOf returns the libdns provider behind a provider built by
// FromLibdns, for tests that add records behind its back.
func LibdnsOf(p Provider) (LibdnsProvider, bool) {
	a, ok := p.(*libdnsAdapter)
	if !ok {
		return nil, false
	}
	return a.p, true
}

// SetProviderTransportForTest puts rt under every HTTP client this package
// hands to a provider, until the test ends.
func SetProviderTransportForTest(t testing.TB, rt http.RoundTripper) {
	old := providerTransport
	providerTransport = rt
	t.Cleanup(func() { providerTransport = old })
}

// MaxResponseBody is the cap of a response body, and ErrTooLarge what a
// read past it fails with.
const MaxResponseBody = maxResponseBody

var ErrTooLarge = errTooLarge

// PorkbunAbandonedForTest is the number of porkbun calls given up on at
// their deadline that have not returned yet.
func PorkbunAbandonedForTest() int64 { return porkbunAbandoned.Load() }

// InFlightForTest marks err as a write given up on whose request may
// still change the zone, as porkbun's calls are at their deadline.
func InFlightForTest(err error) error { return &inFlightError{err} }
