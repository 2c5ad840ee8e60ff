package dnsprovider

import (
	"github.com/libdns/cloudflare"
)

var cloudflareInfo = Info{
	Name:        "cloudflare",
	Title:       "Cloudflare",
	Description: "Cloudflare DNS through its v4 API, with a scoped API token",
	Docs:        "https://github.com/libdns/cloudflare#authenticating",
	Module:      "github.com/libdns/cloudflare v0.2.2",
	HTTPClient:  HTTPCapped,
	Settings: []Setting{
		// lego's (and so Traefik's) names for the same two tokens.
		{
			Name: "api_token", Env: "CLOUDFLARE_API_TOKEN", Secret: true, Required: true,
			Aliases: []string{"CLOUDFLARE_DNS_API_TOKEN", "CF_DNS_API_TOKEN"},
			Help:    "API token with Zone / DNS / Edit on the zone (a token, not the global API key)",
		},
		{
			Name: "zone_token", Env: "CLOUDFLARE_ZONE_TOKEN", Secret: true,
			Aliases: []string{"CLOUDFLARE_ZONE_API_TOKEN", "CF_ZONE_API_TOKEN"},
			Help:    "token with Zone / Zone / Read on all zones, when the API token is scoped to one zone",
		},
	},
}

func openCloudflare(v Values, _ []string, _ Env) (Provider, error) {
	return NewCloudflare(v["api_token"], v["zone_token"], nil), nil
}

// NewCloudflare builds the cloudflare provider. client carries the
// requests; nil means a client with a timeout (tests pass one that reaches
// a fake API). Every response body is capped, and both tokens are redacted
// from every error.
func NewCloudflare(token, zoneToken string, client HTTPDoer) Provider {
	if client == nil {
		client = newHTTPClient()
	}
	hint := "CLOUDFLARE_API_TOKEN"
	if zoneToken != "" {
		hint = "CLOUDFLARE_API_TOKEN and CLOUDFLARE_ZONE_TOKEN"
	}
	p := &cloudflare.Provider{APIToken: token, ZoneToken: zoneToken, HTTPClient: boundedClient{client}}
	return FromLibdns("cloudflare", p, LibdnsOptions{Secrets: nonEmpty(token, zoneToken), AuthHint: hint})
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

var _ LibdnsProvider = (*cloudflare.Provider)(nil)
