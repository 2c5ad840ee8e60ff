package dnsprovider

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// A body of exactly the cap is read whole; one byte more is errTooLarge,
// never a silent truncation.
func TestCappedBodyBoundary(t *testing.T) {
	for _, tc := range []struct {
		n  int
		ok bool
	}{{0, true}, {1000, true}, {maxResponseBody, true}, {maxResponseBody + 1, false}} {
		body := &cappedBody{rc: io.NopCloser(bytes.NewReader(bytes.Repeat([]byte("a"), tc.n))), left: maxResponseBody}
		got, err := io.ReadAll(body)
		switch {
		case tc.ok && (err != nil || len(got) != tc.n):
			t.Errorf("%d bytes: read %d, %v; want all of it", tc.n, len(got), err)
		case !tc.ok && !errors.Is(err, errTooLarge):
			t.Errorf("%d bytes: read %d, %v; want errTooLarge", tc.n, len(got), err)
		}
	}
}
