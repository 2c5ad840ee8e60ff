package dnsprovider_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stspilot/stspilot/dnsprovider"
)

// oversizeServer answers every request with 200 and a JSON body a little
// over the response cap, counting the requests.
func oversizeServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"SUCCESS","success":true,"result":"`)
		chunk := strings.Repeat("a", 64<<10)
		for n := 0; n <= dnsprovider.MaxResponseBody; n += len(chunk) {
			if _, err := io.WriteString(w, chunk); err != nil {
				return // the client stopped reading: the cap
			}
		}
		_, _ = io.WriteString(w, `"}`)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// toServer sends every request, whatever its host, to srv.
type toServer struct {
	base *url.URL
	hits *atomic.Int64
	rt   http.RoundTripper
}

func (s toServer) RoundTrip(req *http.Request) (*http.Response, error) {
	s.hits.Add(1)
	req = req.Clone(req.Context())
	req.URL.Scheme, req.URL.Host, req.Host = s.base.Scheme, s.base.Host, s.base.Host
	return s.rt.RoundTrip(req)
}

// Every provider's registry entry says what carries its HTTP calls, and
// the test holds it to that: a provider given stspilot's client refuses a
// response over the cap with the cap's error, through the very client its
// factory built; a provider listed as an exception is not capped (when the
// entry becomes wrong, because a library grew a way to take our client,
// this says so); providers listed as not speaking HTTP are the DNS ones.
// Nothing leaves the machine: http.DefaultTransport itself is pointed at
// the loopback server for the duration, for the libraries that use it.
func TestProviderHTTPClients(t *testing.T) {
	isolateAWS(t)
	srv, served := oversizeServer(t)
	base, _ := url.Parse(srv.URL)
	var ours, dflt atomic.Int64
	orig := http.DefaultTransport
	loop := &http.Transport{}
	t.Cleanup(loop.CloseIdleConnections)
	dnsprovider.SetProviderTransportForTest(t, toServer{base: base, hits: &ours, rt: loop})
	http.DefaultTransport = toServer{base: base, hits: &dflt, rt: loop}
	t.Cleanup(func() { http.DefaultTransport = orig })
	tooLarge := dnsprovider.ErrTooLarge.Error()

	capped := 0
	for _, info := range dnsprovider.Providers(true) {
		t.Run(info.Name, func(t *testing.T) {
			switch {
			case info.HTTPClient == dnsprovider.HTTPNone:
				if info.Name != "memory" && info.Name != "manual" && info.Name != "rfc2136" {
					t.Errorf("%s says it makes no HTTP calls; only memory, manual and rfc2136 do not", info.Name)
				}
				return
			case info.HTTPClient == dnsprovider.HTTPCapped:
				capped++
			case strings.HasPrefix(info.HTTPClient, dnsprovider.HTTPLibraryDefault+": "):
				_, path, _ := strings.Cut(info.Module, "github.com/")
				path, _, _ = strings.Cut(path, " ")
				if !strings.Contains(info.HTTPClient, path) {
					t.Errorf("the exception's reason %q does not name the library %s", info.HTTPClient, path)
				}
			default:
				t.Fatalf("HTTPClient %q", info.HTTPClient)
			}
			set := mapSource{}
			for i, s := range info.Settings {
				switch {
				case s.Secret && s.Required:
					set[s.Env] = sentinel(200 + i)
				case s.Required || strings.HasSuffix(s.Env, "_URL") || strings.HasSuffix(s.Env, "_ENDPOINT"):
					// Endpoint settings point at the server directly,
					// for the libraries with a transport of their own.
					set[s.Env] = dummy(s, srv.URL+"/")
				}
			}
			switch info.Name {
			case "cloudns":
				set["CLOUDNS_AUTH_ID"] = "12345"
			case "dynu":
				set["DYNU_OWN_DOMAIN"] = "example.test"
			case "route53":
				set["ROUTE53_ACCESS_KEY_ID"] = "AKIASTSPILOTTEST"
				set["ROUTE53_SECRET_ACCESS_KEY"] = sentinel(299)
				set["ROUTE53_HOSTED_ZONE_ID"] = "Z0STSPILOT"
				t.Setenv("AWS_ENDPOINT_URL_ROUTE_53", srv.URL)
			}
			p, err := dnsprovider.Open(info.Name, set, dnsprovider.Env{})
			if err != nil {
				t.Fatal(err)
			}
			dnsprovider.SetRetryForTest(p, time.Millisecond, time.Millisecond, 1)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			before, oursBefore := served.Load(), ours.Load()
			_, err = p.ReadTXT(ctx, "example.test", "_mta-sts.example.test")
			if served.Load() == before {
				t.Fatalf("no request reached the loopback server (err %v)", err)
			}
			t.Logf("%s (%s): %v", info.Name, info.HTTPClient, err)
			isCapped := err != nil && strings.Contains(err.Error(), tooLarge)
			if info.HTTPClient == dnsprovider.HTTPCapped {
				if !isCapped {
					t.Errorf("a response over the cap: err = %v, want the cap's error %q", err, tooLarge)
				}
				if ours.Load() == oursBefore {
					t.Errorf("the request did not go through stspilot's client")
				}
				return
			}
			if isCapped || ours.Load() != oursBefore {
				t.Errorf("listed as %q, but the request went through stspilot's client (err %v): update the registry", info.HTTPClient, err)
			}
		})
	}
	if capped < 3 {
		t.Errorf("%d providers use stspilot's client, want at least cloudflare, cloudns and dynu", capped)
	}
}
