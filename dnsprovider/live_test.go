package dnsprovider_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/libdns/libdns"

	"github.com/stspilot/stspilot/dnsprovider"
	"github.com/stspilot/stspilot/dnsprovider/providertest"
)

// TestConformanceLive runs the conformance suite against real providers,
// only when asked: STSPILOT_LIVE_PROVIDERS="cloudflare:example.com,desec:example.org"
// names each provider and a zone it may write test records in, with the
// provider's settings in the environment (or the credentials file named
// by STSPILOT_LIVE_CREDENTIALS). Every record the run created is deleted
// at the end. It never runs in CI by itself: it needs real credentials.
func TestConformanceLive(t *testing.T) {
	spec := os.Getenv("STSPILOT_LIVE_PROVIDERS")
	if spec == "" {
		t.Skip("STSPILOT_LIVE_PROVIDERS is not set: no live provider to test")
	}
	var src dnsprovider.Source = dnsprovider.EnvSource(os.LookupEnv)
	if p := os.Getenv("STSPILOT_LIVE_CREDENTIALS"); p != "" {
		f, err := dnsprovider.LoadCredentials(p)
		if err != nil {
			t.Fatal(err)
		}
		src = dnsprovider.Chain(src, f)
	}
	for _, item := range strings.Split(spec, ",") {
		name, zone, ok := strings.Cut(strings.TrimSpace(item), ":")
		if !ok || zone == "" {
			t.Fatalf("STSPILOT_LIVE_PROVIDERS item %q: want NAME:ZONE", item)
		}
		t.Run(name, func(t *testing.T) {
			p, err := dnsprovider.Open(name, src, dnsprovider.Env{})
			if err != nil {
				t.Fatal(err)
			}
			raw, ok := dnsprovider.LibdnsOf(p)
			if !ok {
				t.Skipf("%s is not a libdns provider", name)
			}
			b := make([]byte, 4)
			rand.Read(b)
			prefix := "stspilot-live-" + hex.EncodeToString(b)
			zoneArg := dnsprovider.Fqdn(zone)
			t.Cleanup(func() { cleanupLive(t, raw, zoneArg, prefix) })
			providertest.Run(t, providertest.Harness{
				Provider: p,
				Zone:     zone,
				Prefix:   prefix,
				Timeout:  3 * time.Minute,
				AddForeign: func(ctx context.Context, fqdn, value string, ttl time.Duration) error {
					rel := libdns.RelativeName(dnsprovider.Fqdn(fqdn), zoneArg)
					_, err := raw.AppendRecords(ctx, zoneArg, []libdns.Record{libdns.TXT{Name: rel, TTL: ttl, Text: value}})
					return err
				},
			})
		})
	}
}

// cleanupLive deletes every record whose name holds this run's prefix.
func cleanupLive(t *testing.T, raw dnsprovider.LibdnsProvider, zone, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	recs, err := raw.GetRecords(ctx, zone)
	if err != nil {
		t.Errorf("cleanup: listing %s: %v; delete the records named *%s* by hand", zone, err, prefix)
		return
	}
	var mine []libdns.Record
	for _, r := range recs {
		if strings.Contains(r.RR().Name, prefix) {
			mine = append(mine, r)
		}
	}
	if len(mine) == 0 {
		return
	}
	if _, err := raw.DeleteRecords(ctx, zone, mine); err != nil {
		t.Errorf("cleanup: %v; delete the records named *%s* by hand", err, prefix)
	}
}

// The live harness itself, against the in-process memory provider: the
// suite runs through Open, and the cleanup leaves the zone as it was.
func TestConformanceLiveHarness(t *testing.T) {
	dnsprovider.Memory.AddZone("live-harness.test")
	ctx := context.Background()
	keep := libdns.TXT{Name: "_mta-sts", TTL: time.Hour, Text: "v=STSv1; id=keepme;"}
	if _, err := dnsprovider.Memory.AppendRecords(ctx, "live-harness.test.", []libdns.Record{keep}); err != nil {
		t.Fatal(err)
	}
	// Memory is the process's one registry provider: leave its zone as it
	// was, so that the test runs again (-count) from the same state.
	t.Cleanup(func() { _, _ = dnsprovider.Memory.DeleteRecords(ctx, "live-harness.test.", []libdns.Record{keep}) })
	t.Setenv("STSPILOT_LIVE_PROVIDERS", "memory:live-harness.test")
	t.Setenv("STSPILOT_LIVE_CREDENTIALS", "")
	t.Run("live", TestConformanceLive)
	recs, err := dnsprovider.Memory.GetRecords(ctx, "live-harness.test.")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].RR().Data != keep.Text {
		var names []string
		for _, r := range recs {
			names = append(names, r.RR().Name)
		}
		t.Errorf("after the live run the zone holds %q, want only the record that was there", names)
	}
}
