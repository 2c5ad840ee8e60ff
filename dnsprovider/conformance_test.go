package dnsprovider_test

import (
	"context"
	"testing"
	"time"

	"github.com/libdns/libdns"

	"github.com/stspilot/stspilot/dnsprovider"
	"github.com/stspilot/stspilot/dnsprovider/memory"
	"github.com/stspilot/stspilot/dnsprovider/providertest"
)

// TestConformanceMemory runs the conformance suite against the in-memory
// provider, with plain and quoted TXT text (Cloudflare-style APIs quote).
func TestConformanceMemory(t *testing.T) {
	for _, quoted := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "quoted"}[quoted], func(t *testing.T) {
			m := &memory.Provider{QuoteTXT: quoted}
			m.AddZone("example.test")
			providertest.Run(t, providertest.Harness{
				Provider: dnsprovider.FromLibdns("memory", m, dnsprovider.LibdnsOptions{}),
				Zone:     "example.test",
				AddForeign: func(ctx context.Context, name, value string, ttl time.Duration) error {
					_, err := m.AppendRecords(ctx, "example.test.", []libdns.Record{libdns.TXT{Name: name + ".", TTL: ttl, Text: value}})
					return err
				},
			})
		})
	}
}
