package dnsprovider

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/libdns/libdns"
	"github.com/libdns/porkbun"
)

// porkbunBounded runs every call of libdns/porkbun v1.1.0 under a deadline
// of ours. The library cannot be given a client or a context: each request
// goes through a new http.Client{} (client.go, MakeApiRequest), with no
// timeout, over http.DefaultTransport, and its methods ignore their
// context; its API base is a constant. Pointing http.DefaultTransport at a
// client of ours would change every other user of it in the process, so
// instead each call runs in a goroutine and we stop waiting for it at the
// caller's deadline, or after httpTimeout when the caller set none. The
// request itself cannot be stopped: it is left to finish in the
// background (at most maxPorkbunAbandoned at a time), and a write given up
// on may still land, which the adapter reports as a *PartialError after
// reading the zone back (never as "nothing changed"), so the published
// gate decides.
//
// The library also calls log.Fatal when closing a response body fails.
// With net/http's own transport that cannot happen: the library reads
// every body to its end or to a read error before closing it, and Close
// then returns nil for HTTP/1 (bodyEOFSignal) and for HTTP/2 (an error
// only when the request's Cancel channel, which the library never sets,
// fires). TestPorkbunBrokenBodyDoesNotExit holds the library to that.
type porkbunBounded struct{ p *porkbun.Provider }

// maxPorkbunAbandoned bounds the requests given up on that may still be
// running, so that a server that never answers cannot pile up goroutines
// and connections in a long-running process.
const maxPorkbunAbandoned = 8

// porkbunAbandoned counts the requests given up on that have not returned.
var porkbunAbandoned atomic.Int64

func (b porkbunBounded) GetRecords(ctx context.Context, zone string) ([]libdns.Record, error) {
	return porkbunCall(ctx, false, func() ([]libdns.Record, error) { return b.p.GetRecords(ctx, zone) })
}

func (b porkbunBounded) AppendRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	return porkbunCall(ctx, true, func() ([]libdns.Record, error) { return b.p.AppendRecords(ctx, zone, recs) })
}

func (b porkbunBounded) DeleteRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	return porkbunCall(ctx, true, func() ([]libdns.Record, error) { return b.p.DeleteRecords(ctx, zone, recs) })
}

// porkbunCall runs call and waits for it until ctx is done or httpTimeout
// has passed, whichever comes first. write says the call may change the
// zone: given up on, it is an *inFlightError.
func porkbunCall(ctx context.Context, write bool, call func() ([]libdns.Record, error)) ([]libdns.Record, error) {
	if n := porkbunAbandoned.Load(); n >= maxPorkbunAbandoned {
		return nil, fmt.Errorf("%d earlier requests to Porkbun were given up on at their deadline and have still not returned; not sending another", n)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, httpTimeout)
	defer cancel()
	type result struct {
		recs []libdns.Record
		err  error
	}
	done := make(chan result, 1)
	go func() {
		recs, err := call()
		done <- result{recs, err}
	}()
	select {
	case r := <-done:
		return r.recs, r.err
	case <-ctx.Done():
		porkbunAbandoned.Add(1)
		go func() {
			<-done
			porkbunAbandoned.Add(-1)
		}()
		const why = "libdns/porkbun cannot cancel its request, which is left to finish in the background"
		if write {
			return nil, &inFlightError{fmt.Errorf("no answer before the deadline, and the change may still land (%s): %w", why, ctx.Err())}
		}
		return nil, fmt.Errorf("no answer before the deadline (%s): %w", why, ctx.Err())
	}
}
