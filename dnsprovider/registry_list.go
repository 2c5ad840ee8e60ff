package dnsprovider

import (
	"github.com/stspilot/stspilot/dnsprovider/memory"
)

// The registry: every compiled-in provider, one call each. Each provider's
// file (provider_NAME.go, or providers_libdns.go for the libdns ones)
// holds its Info and Factory, or for a libdns provider its libdnsProvider
// row (registerLibdns completes it); this list is the single place that
// says which exist.
func init() {
	register(memoryInfo, openMemory)
	register(cloudflareInfo, openCloudflare)
	registerLibdns(route53Provider)
	registerLibdns(cloudnsProvider)
	registerLibdns(desecProvider)
	registerLibdns(dynuProvider)
	registerLibdns(gandiProvider)
	registerLibdns(inwxProvider)
	registerLibdns(namecheapProvider)
	registerLibdns(netcupProvider)
	registerLibdns(porkbunProvider)
	registerLibdns(powerdnsProvider)
	register(rfc2136Info, openRFC2136)
	register(manualInfo, openManual)
}

var memoryInfo = Info{
	Name:        "memory",
	Title:       "In-memory zone",
	Description: "an in-process zone for tests and the demo sandbox; nothing leaves the process",
	Docs:        "https://github.com/stspilot/stspilot/blob/main/docs/providers.md#memory",
	Hidden:      true,
	HTTPClient:  HTTPNone,
}

// Memory is the zone store behind the "memory" provider of this process,
// shared so that the demo's authoritative DNS can serve what it holds.
var Memory = &memory.Provider{}

func openMemory(Values, []string, Env) (Provider, error) {
	return FromLibdns("memory", Memory, LibdnsOptions{}), nil
}
