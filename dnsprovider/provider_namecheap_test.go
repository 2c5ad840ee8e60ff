package dnsprovider_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/libdns/libdns"
	"github.com/libdns/namecheap"

	"github.com/stspilot/stspilot/dnsprovider"
	"github.com/stspilot/stspilot/dnsprovider/providertest"
)

const (
	ncUser = "stspilot-api"
	ncKey  = "SNTLnamecheapKEY"
	ncIP   = "192.0.2.10"
)

// ncZone is a domain whose mail goes to custom MX servers (EmailType=MX),
// the setting a setHosts call without EmailType resets.
func ncZone(t *testing.T) *providertest.NamecheapFake {
	return providertest.NewNamecheapFake(t, ncUser, ncKey, ncIP, "example.test", "MX",
		providertest.NamecheapHost{Name: "@", Type: "A", Address: "192.0.2.1", TTL: 1800},
		providertest.NamecheapHost{Name: "@", Type: "MX", Address: "mx1.example.net.", MXPref: "10", TTL: 1800},
		providertest.NamecheapHost{Name: "@", Type: "MX", Address: "mx2.example.net.", MXPref: "20", TTL: 1800},
		providertest.NamecheapHost{Name: "@", Type: "TXT", Address: "v=spf1 mx -all", TTL: 1800},
		providertest.NamecheapHost{Name: "_mta-sts", Type: "TXT", Address: "v=STSv1; id=old;", TTL: 300},
	)
}

func mxOf(hosts []providertest.NamecheapHost) []string {
	var out []string
	for _, h := range hosts {
		if h.Type == "MX" {
			out = append(out, h.MXPref+" "+h.Address)
		}
	}
	return out
}

// The suspicion of issue 14, checked at the wire: libdns/namecheap v1.0.0
// adds one TXT record by re-sending the whole zone through setHosts
// without the EmailType that getHosts returned, and Namecheap, which keeps
// MX records only with EmailType=MX, drops them. This pins the library's
// behaviour: when it fails, the library has changed, and the refusal of
// namecheapReadOnly (providers_libdns.go) can be reconsidered.
func TestNamecheapLibraryDropsEmailType(t *testing.T) {
	fake := ncZone(t)
	p := &namecheap.Provider{APIKey: ncKey, User: ncUser, ClientIP: ncIP, APIEndpoint: fake.URL()}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := p.AppendRecords(ctx, "example.test.", []libdns.Record{libdns.TXT{Name: "_smtp._tls", TTL: 300 * time.Second, Text: "v=TLSRPTv1; rua=mailto:tls@example.test"}}); err != nil {
		t.Fatal(err)
	}
	sets := fake.SetHostsCalls()
	if len(sets) != 1 {
		t.Fatalf("%d setHosts calls, want 1", len(sets))
	}
	if sets[0].Has("EmailType") {
		t.Errorf("libdns/namecheap sent EmailType=%q: the library now keeps the mail settings; revisit namecheapReadOnly", sets[0].Get("EmailType"))
	}
	if !sets[0].Has("HostName6") || sets[0].Get("RecordType2") != "MX" {
		t.Errorf("setHosts did not re-send the whole zone: %v", sets[0])
	}
	emailType, hosts := fake.Zone()
	if emailType != "" || len(mxOf(hosts)) != 0 {
		t.Errorf("after the library's write the zone has EmailType %q and MX %v; the fake expected the documented reset", emailType, mxOf(hosts))
	}
	t.Logf("confirmed: one TXT added through libdns/namecheap v1.0.0 leaves EmailType %q and MX records %v (were MX, 2)", emailType, mxOf(hosts))
}

// stspilot's namecheap provider reads the zone but refuses every write
// before anything is sent: the zone keeps its MX records and EmailType.
func TestNamecheapRefusesWrites(t *testing.T) {
	fake := ncZone(t)
	p, err := dnsprovider.Open("namecheap", mapSource{
		"NAMECHEAP_API_KEY": ncKey, "NAMECHEAP_USER": ncUser, "NAMECHEAP_CLIENT_IP": ncIP, "NAMECHEAP_API_ENDPOINT": fake.URL(),
	}, dnsprovider.Env{})
	if err != nil {
		t.Fatal(err)
	}
	dnsprovider.SetRetryForTest(p, time.Millisecond, time.Millisecond, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	got, err := p.ReadTXT(ctx, "example.test", "_mta-sts.example.test")
	if err != nil || !slices.Equal(got.Values, []string{"v=STSv1; id=old;"}) {
		t.Fatalf("ReadTXT = %v, %v; reads must still work", got, err)
	}

	check := func(op string, err error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s succeeded; it must be refused", op)
		}
		var pe *dnsprovider.PartialError
		if errors.As(err, &pe) {
			t.Errorf("%s: a refusal is not a partial write: %v", op, err)
		}
		if !errors.Is(err, dnsprovider.ErrConfig) || !strings.HasPrefix(err.Error(), "namecheap: ") {
			t.Errorf("%s: err = %v, want an ErrConfig naming the provider", op, err)
		}
		for _, want := range []string{"EmailType", "MX records", "manual provider"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: the error %q does not say %q", op, err, want)
			}
		}
		if strings.Contains(err.Error(), ncKey) {
			t.Errorf("%s: the API key is in the error", op)
		}
	}
	_, err = p.SetOurs(ctx, "example.test", "_mta-sts.example.test", dnsprovider.KindSTS, "v=STSv1; id=new;", 0)
	check("SetOurs", err)
	_, err = p.SetOurs(ctx, "example.test", "_smtp._tls.example.test", dnsprovider.KindTLSRPT, "v=TLSRPTv1; rua=mailto:tls@example.test", 0)
	check("SetOurs at a new name", err)
	_, err = p.DeleteOurs(ctx, "example.test", "_mta-sts.example.test", dnsprovider.KindSTS)
	check("DeleteOurs", err)

	if n := len(fake.SetHostsCalls()); n != 0 {
		t.Errorf("%d setHosts calls reached Namecheap", n)
	}
	emailType, hosts := fake.Zone()
	if emailType != "MX" || !slices.Equal(mxOf(hosts), []string{"10 mx1.example.net.", "20 mx2.example.net."}) || len(hosts) != 5 {
		t.Errorf("the zone changed: EmailType %q, hosts %v", emailType, hosts)
	}
	for _, c := range fake.Commands() {
		if c != "namecheap.domains.getTldList" && c != "namecheap.domains.dns.getHosts" {
			t.Errorf("command %s was sent", c)
		}
	}
}

// The registry says so too, and the docs render it.
func TestNamecheapCaveatInRegistry(t *testing.T) {
	info, ok := dnsprovider.Lookup("namecheap")
	if !ok {
		t.Fatal("namecheap is not registered")
	}
	if !strings.Contains(info.Caveat, "EmailType") || !strings.Contains(info.Caveat, "refuses every write") {
		t.Errorf("Caveat = %q", info.Caveat)
	}
}
