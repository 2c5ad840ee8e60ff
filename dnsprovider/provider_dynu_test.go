package dnsprovider_test

import (
	"bytes"
	"context"
	"errors"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stspilot/stspilot/dnsprovider"
)

// A server that closes the connection without answering is a transient
// failure that our retry repeats, once per attempt: libdns/dynu does not
// retry it too, so it never logs its retries through Go's global logger
// (which this test watches), and nothing it said can carry the token.
func TestDynuClosedConnectionNotLogged(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	t.Cleanup(srv.Close)
	base, _ := url.Parse(srv.URL)
	var ours atomic.Int64
	loop := &http.Transport{}
	t.Cleanup(loop.CloseIdleConnections)
	dnsprovider.SetProviderTransportForTest(t, toServer{base: base, hits: &ours, rt: loop})

	var logged bytes.Buffer
	out, flags := log.Writer(), log.Flags()
	log.SetOutput(&logged)
	t.Cleanup(func() { log.SetOutput(out); log.SetFlags(flags) })

	token := sentinel(7)
	p, err := dnsprovider.Open("dynu", mapSource{"DYNU_API_TOKEN": token, "DYNU_OWN_DOMAIN": "example.test"}, dnsprovider.Env{})
	if err != nil {
		t.Fatal(err)
	}
	dnsprovider.SetRetryForTest(p, time.Millisecond, time.Millisecond, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = p.ReadTXT(ctx, "example.test", "_mta-sts.example.test")
	if !errors.Is(err, dnsprovider.ErrTransient) {
		t.Errorf("err = %v, want a transient failure", err)
	}
	if err != nil && strings.Contains(err.Error(), token) {
		t.Errorf("the error shows the token: %v", err)
	}
	if n := hits.Load(); n != 3 {
		t.Errorf("the server saw %d requests, want 3 (our 3 attempts, none of the library's)", n)
	}
	if logged.Len() != 0 {
		t.Errorf("the library wrote to Go's global logger: %q", logged.String())
	}
}
