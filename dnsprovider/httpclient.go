package dnsprovider

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Bounds of the HTTP clients we hand to libdns providers that take one.
const (
	// httpTimeout bounds one request even when a caller forgot a deadline.
	httpTimeout = 60 * time.Second
	// maxResponseBody caps a response body (a zone listing page is far
	// smaller); a longer one is an error, never buffered whole.
	maxResponseBody = 8 << 20
	// maxErrorBody caps the body of an error response kept for its message.
	maxErrorBody = 64 << 10
)

// HTTPDoer is the shape of an HTTP client libdns providers accept
// (*http.Client has it).
type HTTPDoer interface {
	Do(*http.Request) (*http.Response, error)
}

// providerTransport carries the requests of every client this package
// hands to a provider; tests replace it (SetProviderTransportForTest) to
// reach a fake server through the very client a provider was given.
var providerTransport = http.DefaultTransport

// newHTTPClient is the production client: a timeout on every request.
func newHTTPClient() *http.Client {
	return &http.Client{Timeout: httpTimeout, Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return providerTransport.RoundTrip(r)
	})}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// boundedClient caps every response body and turns an error status whose
// body is not JSON (a proxy's HTML page, an empty 503) into an error that
// names the status, so that its class (auth, transient) is known: the
// providers would otherwise report a JSON syntax error.
type boundedClient struct{ c HTTPDoer }

func (b boundedClient) Do(req *http.Request) (*http.Response, error) {
	resp, err := b.c.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 400 {
		body, rerr := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody+1))
		resp.Body.Close()
		if rerr != nil || len(body) > maxErrorBody || !json.Valid(body) {
			return nil, fmt.Errorf("HTTP %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		return resp, nil
	}
	resp.Body = &cappedBody{rc: resp.Body, left: maxResponseBody}
	return resp, nil
}

// errTooLarge is the error of a read past maxResponseBody. Providers
// report it with their own words around it, so tests look for its text.
var errTooLarge = fmt.Errorf("response body larger than %d bytes", maxResponseBody)

// cappedBody fails a read past its limit instead of truncating silently.
type cappedBody struct {
	rc   io.ReadCloser
	left int64
}

func (c *cappedBody) Read(p []byte) (int, error) {
	if c.left <= 0 {
		// A body of exactly the cap is fine: only a byte past it fails.
		var one [1]byte
		n, err := c.rc.Read(one[:])
		if n == 0 {
			return 0, err
		}
		return 0, errTooLarge
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.rc.Read(p)
	c.left -= int64(n)
	return n, err
}

func (c *cappedBody) Close() error { return c.rc.Close() }

// boundedHTTPClient is an *http.Client with the timeout and the bounds of
// boundedClient, for providers whose HTTPClient field is an *http.Client.
func boundedHTTPClient() *http.Client {
	return &http.Client{Timeout: httpTimeout, Transport: boundedTransport{roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return providerTransport.RoundTrip(r)
	})}}
}

// boundedTransport applies boundedClient's rules at the transport.
type boundedTransport struct{ rt http.RoundTripper }

func (b boundedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return boundedClient{roundTripDoer(b)}.Do(req)
}

type roundTripDoer struct{ rt http.RoundTripper }

func (r roundTripDoer) Do(req *http.Request) (*http.Response, error) { return r.rt.RoundTrip(req) }
