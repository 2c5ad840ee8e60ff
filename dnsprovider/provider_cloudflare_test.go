package dnsprovider_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stspilot/stspilot/dnsprovider"
	"github.com/stspilot/stspilot/dnsprovider/providertest"
)

const cfToken = "cf-test-token-0123456789abcdef"

func newCloudflare(t *testing.T, zones ...string) (*providertest.CloudflareFake, dnsprovider.Provider) {
	t.Helper()
	fake := providertest.NewCloudflareFake(t, cfToken, zones...)
	p := dnsprovider.NewCloudflare(cfToken, "", fake.Client())
	dnsprovider.SetRetryForTest(p, time.Millisecond, 5*time.Millisecond, 4)
	return fake, p
}

// TestConformanceCloudflare runs the conformance suite against
// libdns/cloudflare talking to the fake API. Foreign records are stored
// unquoted, the way the dashboard keeps them, beside the API's quoted ones.
func TestConformanceCloudflare(t *testing.T) {
	fake, p := newCloudflare(t, "example.test")
	providertest.Run(t, providertest.Harness{
		Provider: p,
		Zone:     "example.test",
		AddForeign: func(_ context.Context, name, value string, ttl time.Duration) error {
			fake.AddTXT(name, value, ttl)
			return nil
		},
	})
}

// The zone token, when set, is what the zone lookup carries; the API token
// carries the rest (the fake checks both headers).
func TestCloudflareZoneToken(t *testing.T) {
	fake := providertest.NewCloudflareFake(t, cfToken, "example.test")
	fake.ZoneToken = "cf-zone-token-abcdef"
	p := dnsprovider.NewCloudflare(cfToken, fake.ZoneToken, fake.Client())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := p.SetOurs(ctx, "example.test.", "_mta-sts.example.test", dnsprovider.KindSTS, "v=STSv1; id=z1;", time.Hour); err != nil {
		t.Fatal(err)
	}
	if got := fake.TXT("_mta-sts.example.test"); !slices.Equal(got, []string{`"v=STSv1; id=z1;"`}) {
		t.Errorf("stored %q", got)
	}
	// With the tokens swapped, the zone lookup is refused.
	bad := dnsprovider.NewCloudflare(fake.ZoneToken, cfToken, fake.Client())
	_, err := bad.ReadTXT(ctx, "example.test", "_mta-sts.example.test")
	if !errors.Is(err, dnsprovider.ErrAuth) || !strings.Contains(err.Error(), "CLOUDFLARE_ZONE_TOKEN") {
		t.Errorf("swapped tokens: %v", err)
	}
}

// More records than one page: the read sees the records on every page.
func TestCloudflarePagination(t *testing.T) {
	fake, p := newCloudflare(t, "example.test")
	fake.PerPage = 7
	for i := range 20 {
		fake.AddTXT(fmt.Sprintf("other%d.example.test", i), "x", time.Hour)
	}
	fake.AddTXT("_mta-sts.example.test", `"v=STSv1; id=last;"`, time.Hour)
	got, err := p.ReadTXT(context.Background(), "example.test", "_mta-sts.example.test")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Values, []string{"v=STSv1; id=last;"}) {
		t.Errorf("got %s", got)
	}
	if n := fake.Count("GET", "/client/v4/zones/zone0001/dns_records?page="); n != 3 {
		t.Errorf("%d list pages requested, want 3 (21 records, 7 a page): %q", n, fake.Requests())
	}
}

// 401 and 403 are ErrAuth, name the variable to check and never the
// token, even when the API echoes it.
func TestCloudflareAuthErrors(t *testing.T) {
	for _, status := range []int{401, 403} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			fake, p := newCloudflare(t, "example.test")
			fake.Fail = func(*http.Request) (int, string) {
				return status, providertest.CloudflareError(10000, "Authentication error: token "+cfToken+" is not valid")
			}
			_, err := p.ReadTXT(context.Background(), "example.test", "_mta-sts.example.test")
			if !errors.Is(err, dnsprovider.ErrAuth) {
				t.Fatalf("err = %v, want ErrAuth", err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "cloudflare: ") || !strings.Contains(msg, "CLOUDFLARE_API_TOKEN") {
				t.Errorf("message %q: want the provider's name and the variable", msg)
			}
			if strings.Contains(msg, cfToken) || strings.Contains(msg, cfToken[:12]) {
				t.Errorf("the token leaked: %q", msg)
			}
			if n := len(fake.Requests()); n != 1 {
				t.Errorf("%d requests: an auth failure must not be retried", n)
			}
		})
	}
	// A wrong token, refused by the fake's header check.
	fake := providertest.NewCloudflareFake(t, cfToken, "example.test")
	p := dnsprovider.NewCloudflare("wrong-token-value", "", fake.Client())
	_, err := p.ReadTXT(context.Background(), "example.test", "_mta-sts.example.test")
	if !errors.Is(err, dnsprovider.ErrAuth) || strings.Contains(err.Error(), "wrong-token-value") {
		t.Errorf("wrong token: %v", err)
	}
}

// 429 and 503 (JSON or an HTML page from a proxy) are retried, then the
// call succeeds.
func TestCloudflareRetriesTransient(t *testing.T) {
	fake, p := newCloudflare(t, "example.test")
	var n atomic.Int32
	fake.Fail = func(r *http.Request) (int, string) {
		switch n.Add(1) {
		case 1:
			return 429, providertest.CloudflareError(971, "Please wait and consider throttling your request speed")
		case 2:
			return 503, "<html><body>503 Service Temporarily Unavailable</body></html>"
		case 3:
			return 502, ""
		}
		return 0, ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ch, err := p.SetOurs(ctx, "example.test", "_mta-sts.example.test", dnsprovider.KindSTS, "v=STSv1; id=r1;", 0)
	if err != nil {
		t.Fatalf("SetOurs: %v", err)
	}
	if !slices.Equal(ch.After.Values, []string{"v=STSv1; id=r1;"}) {
		t.Errorf("after = %s", ch.After)
	}
	// 3 failed zone lookups, 1 good one, list, POST, list (read-back).
	if got := len(fake.Requests()); got != 7 {
		t.Errorf("%d requests, want 7: %q", got, fake.Requests())
	}
}

// A provider that keeps failing is given up on within the caller's
// deadline, with a transient error rather than a hang.
func TestCloudflarePersistent5xxGivesUp(t *testing.T) {
	fake := providertest.NewCloudflareFake(t, cfToken, "example.test")
	p := dnsprovider.NewCloudflare(cfToken, "", fake.Client()) // the production policy: 0.5s, 1s, ...
	fake.Fail = func(*http.Request) (int, string) {
		return 503, providertest.CloudflareError(10001, "service unavailable")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 1200*time.Millisecond)
	defer cancel()
	_, err := p.ReadTXT(ctx, "example.test", "_mta-sts.example.test")
	if !errors.Is(err, dnsprovider.ErrTransient) {
		t.Fatalf("err = %v, want ErrTransient", err)
	}
	if ctx.Err() != nil {
		t.Errorf("gave up only after the deadline passed")
	}
	if n := len(fake.Requests()); n < 2 {
		t.Errorf("%d requests: a 503 must be retried", n)
	}
}

// POST succeeds, the DELETE of the old record keeps failing: a
// *PartialError whose Now is the zone read back (both records).
func TestCloudflarePartialWrite(t *testing.T) {
	fake, p := newCloudflare(t, "example.test")
	fake.AddTXT("_mta-sts.example.test", `"v=STSv1; id=old;"`, time.Hour)
	fake.AddTXT("_mta-sts.example.test", "v=spf1 -all", time.Hour)
	fake.Fail = func(r *http.Request) (int, string) {
		if r.Method == http.MethodDelete {
			return 500, providertest.CloudflareError(10000+500, "internal error")
		}
		return 0, ""
	}
	_, err := p.SetOurs(context.Background(), "example.test", "_mta-sts.example.test", dnsprovider.KindSTS, "v=STSv1; id=new;", 0)
	var pe *dnsprovider.PartialError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v, want a *PartialError", err)
	}
	want := []string{"v=STSv1; id=new;", "v=STSv1; id=old;", "v=spf1 -all"}
	if !slices.Equal(pe.Now.Values, want) || pe.ReadErr != nil {
		t.Errorf("Now = %s (read err %v), want %q", pe.Now, pe.ReadErr, want)
	}
	if !errors.Is(err, dnsprovider.ErrTransient) || !strings.HasPrefix(err.Error(), "cloudflare: ") {
		t.Errorf("error %q: want the provider's name and the transient class", err)
	}
	if n := fake.Count("DELETE", "/client/v4/zones/"); n != 4 {
		t.Errorf("%d DELETE attempts, want 4 (the test's retry policy)", n)
	}
	if fake.Count("POST", "/client/v4/zones/") != 1 {
		t.Errorf("the new record was not posted exactly once: %q", fake.Requests())
	}
}

// An unknown zone is an error naming the zone, not a panic.
func TestCloudflareUnknownZone(t *testing.T) {
	_, p := newCloudflare(t, "example.test")
	_, err := p.ReadTXT(context.Background(), "other.test", "_mta-sts.other.test")
	if err == nil || !strings.Contains(err.Error(), "other.test") {
		t.Errorf("err = %v", err)
	}
}

// An oversized response body is an error, never read whole.
func TestCloudflareBodyCap(t *testing.T) {
	fake, p := newCloudflare(t, "example.test")
	big := strings.Repeat("x", 1<<20)
	for i := range 10 {
		fake.AddTXT(fmt.Sprintf("big%d.example.test", i), big, time.Hour)
	}
	_, err := p.ReadTXT(context.Background(), "example.test", "_mta-sts.example.test")
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("err = %v, want the body cap", err)
	}
}
