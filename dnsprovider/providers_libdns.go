package dnsprovider

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/libdns/cloudns"
	"github.com/libdns/desec"
	"github.com/libdns/dynu"
	"github.com/libdns/gandi"
	"github.com/libdns/inwx"
	"github.com/libdns/libdns"
	"github.com/libdns/namecheap"
	"github.com/libdns/netcup"
	"github.com/libdns/porkbun"
	"github.com/libdns/powerdns"
	"github.com/libdns/route53"
)

// The libdns providers with a plain constructor: their Info and the build
// of the library's provider (registerLibdns); route53 has a Factory of its
// own, for its credential chain.
// Settings are named after the provider's struct fields (their JSON tags),
// the variable after the provider and the setting (NAME_SETTING).
//
// Left out on purpose (see the commit that added this file):
// libdns/linode v0.5.0 replaces the process's default slog logger with one
// that writes to stdout; libdns/godaddy v1.1.0 log.Println's every call;
// libdns/acmedns cannot delete records; googleclouddns and azure pull in
// their clouds' SDKs for one TXT record.

// setting builds a Setting of provider p.
func setting(p, name string, secret, required bool, help string) Setting {
	return Setting{Name: name, Env: strings.ToUpper(p) + "_" + strings.ToUpper(name), Secret: secret, Required: required, Help: help}
}

const (
	secret   = true
	required = true
)

// libdnsOptions are the adapter options of a registry provider: its
// secrets redacted, and the variables to check when it refuses them.
func libdnsOptions(info Info, secrets []string) LibdnsOptions {
	return LibdnsOptions{Secrets: secrets, AuthHint: strings.Join(info.SecretEnv(), ", ")}
}

// libdnsBuild makes a library's provider from complete, validated settings
// (checking what the library would choke on): the one part of a libdns
// provider's Factory that differs between them.
type libdnsBuild func(v Values) (LibdnsProvider, error)

// registerLibdns registers a libdns provider: its Factory builds the
// library's provider and adapts it with the options of its Info.
func registerLibdns(info Info, build libdnsBuild) {
	register(info, func(v Values, secrets []string, _ Env) (Provider, error) {
		p, err := build(v)
		if err != nil {
			return nil, err
		}
		return FromLibdns(info.Name, p, libdnsOptions(info, secrets)), nil
	})
}

// libraryDefaultClient is the HTTPClient of a library that sends its
// requests through http.DefaultClient with no way to be given ours.
func libraryDefaultClient(module string) string {
	return HTTPLibraryDefault + ": http.DefaultClient (" + module + ": no field or option takes another); requests carry our deadline, but response bodies are read whole"
}

// checkURL validates a URL setting: several providers panic on one they
// cannot parse.
func checkURL(provider, env, raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.ParseRequestURI(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%w: %s is not an http(s) URL", ErrConfig, env)
	}
	return nil
}

// --- Amazon Route 53 --------------------------------------------------------

var route53Info = Info{
	Name:        "route53",
	Title:       "Amazon Route 53",
	Description: "Route 53 hosted zones through the AWS SDK; with no keys set, the SDK's default credential chain (AWS_* variables, ~/.aws, SSO, instance roles)",
	Docs:        "https://github.com/libdns/route53#authenticating",
	Module:      "github.com/libdns/route53 v1.6.2",
	HTTPClient:  HTTPLibraryDefault + ": the AWS SDK's client, which libdns/route53 v1.6.2 builds itself (no field or option takes another); requests carry our deadline, response bodies are not capped",
	Settings: []Setting{
		setting("route53", "access_key_id", false, false, "access key ID; with ROUTE53_SECRET_ACCESS_KEY, overrides the default credential chain"),
		setting("route53", "secret_access_key", secret, false, "secret access key of that key ID"),
		setting("route53", "session_token", secret, false, "session token, for temporary credentials"),
		setting("route53", "profile", false, false, "shared-config profile in ~/.aws to use instead of AWS_PROFILE"),
		setting("route53", "region", false, false, "AWS region; Route 53 is global, so it defaults to the profile's region or us-east-1"),
		setting("route53", "hosted_zone_id", false, false, "hosted zone ID (without /hostedzone/), when the zone name is ambiguous or lookups are not allowed"),
	},
}

func openRoute53(v Values, secrets []string, _ Env) (Provider, error) {
	key, sec, tok := v["access_key_id"], v["secret_access_key"], v["session_token"]
	switch {
	case key != "" && sec == "":
		return nil, fmt.Errorf("%w: ROUTE53_ACCESS_KEY_ID is set but ROUTE53_SECRET_ACCESS_KEY is missing", ErrConfig)
	case key == "" && sec != "":
		return nil, fmt.Errorf("%w: ROUTE53_SECRET_ACCESS_KEY is set but ROUTE53_ACCESS_KEY_ID is missing", ErrConfig)
	case key == "" && tok != "":
		return nil, fmt.Errorf("%w: ROUTE53_SESSION_TOKEN needs ROUTE53_ACCESS_KEY_ID and ROUTE53_SECRET_ACCESS_KEY", ErrConfig)
	}
	p := &route53.Provider{
		AccessKeyId: key, SecretAccessKey: sec, SessionToken: tok,
		Profile: v["profile"], Region: v["region"], HostedZoneID: strings.TrimPrefix(v["hosted_zone_id"], "/hostedzone/"),
		// stspilot's published gate asks the name servers itself.
		WaitForRoute53Sync: false,
	}
	// libdns/route53 calls log.Fatalf when the SDK cannot load its config
	// (an unknown profile, a broken ~/.aws/config). Load it here first, the
	// same way, so that is a configuration error instead of an exit. It
	// reads files and the environment only; credentials resolve lazily.
	var opts []func(*config.LoadOptions) error
	if p.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(p.Profile))
	}
	if p.Region != "" {
		opts = append(opts, config.WithRegion(p.Region))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: loading the AWS configuration: %v", ErrConfig, err)
	}
	if p.Region == "" && cfg.Region == "" {
		p.Region = "us-east-1"
	}
	return FromLibdns("route53", p, LibdnsOptions{Secrets: secrets, AuthHint: "ROUTE53_ACCESS_KEY_ID, ROUTE53_SECRET_ACCESS_KEY (or the AWS credential chain)"}), nil
}

// --- deSEC ----------------------------------------------------------------

var desecInfo = Info{
	Name:        "desec",
	Title:       "deSEC",
	Description: "deSEC.io, the free DNSSEC hosting, through its REST API",
	Docs:        "https://github.com/libdns/desec#readme",
	Module:      "github.com/libdns/desec v1.1.1",
	HTTPClient:  libraryDefaultClient("libdns/desec v1.1.1"),
	Settings: []Setting{
		setting("desec", "token", secret, required, "API token from https://desec.io/tokens (no token-management permission needed)"),
	},
}

func newDesec(v Values) (LibdnsProvider, error) {
	return &desec.Provider{Token: v["token"]}, nil
}

// --- ClouDNS ----------------------------------------------------------------

var cloudnsInfo = Info{
	Name:        "cloudns",
	Title:       "ClouDNS",
	Description: "ClouDNS through its HTTP API, as an API user or sub-user",
	Docs:        "https://github.com/libdns/cloudns#readme",
	Module:      "github.com/libdns/cloudns v1.2.0",
	HTTPClient:  HTTPCapped,
	Settings: []Setting{
		setting("cloudns", "auth_id", false, false, "API user ID (auth-id); or set CLOUDNS_SUB_AUTH_ID or CLOUDNS_SUB_AUTH_USER"),
		setting("cloudns", "sub_auth_id", false, false, "API sub-user ID (sub-auth-id), used when CLOUDNS_AUTH_ID is not set"),
		setting("cloudns", "sub_auth_user", false, false, "API sub-user name (sub-auth-user), used when neither ID is set"),
		setting("cloudns", "auth_password", secret, required, "password of the API user or sub-user"),
	},
}

func newCloudns(v Values) (LibdnsProvider, error) {
	if v["auth_id"] == "" && v["sub_auth_id"] == "" && v["sub_auth_user"] == "" {
		return nil, fmt.Errorf("%w: missing CLOUDNS_AUTH_ID (or CLOUDNS_SUB_AUTH_ID or CLOUDNS_SUB_AUTH_USER)", ErrConfig)
	}
	p := &cloudns.Provider{
		AuthId: v["auth_id"], SubAuthId: v["sub_auth_id"], SubAuthUser: v["sub_auth_user"], AuthPassword: v["auth_password"],
		HTTPClient: boundedHTTPClient(),
		// One layer retries: ours (the adapter's retry of ErrTransient,
		// bounded by the step's deadline). libdns/cloudns would also retry
		// every transport or read failure up to 5 times with backoff from
		// 1 s, under ours, and those include a response over our size cap,
		// which no retry can fix.
		OperationRetries: 1,
	}
	return p, nil
}

// --- Dynu -------------------------------------------------------------------

var dynuInfo = Info{
	Name:        "dynu",
	Title:       "Dynu",
	Description: "Dynu DNS through its v2 API",
	Docs:        "https://github.com/libdns/dynu#readme",
	Module:      "github.com/libdns/dynu v1.0.0",
	HTTPClient:  HTTPCapped,
	Settings: []Setting{
		setting("dynu", "api_token", secret, required, "API key from https://www.dynu.com/ControlPanel/APICredentials"),
		setting("dynu", "own_domain", false, false, "your root domain in Dynu, when the zone is a Dynu domain (my.dynu.com in dynu.com)"),
	},
}

func newDynu(v Values) (LibdnsProvider, error) {
	p := &dynu.Provider{APIToken: v["api_token"], OwnDomain: v["own_domain"]}
	// libdns/dynu builds its client in a sync.Once on first use, with a
	// client of its own; run the Once now and give it ours instead.
	c := dynu.NewClient(p.APIToken)
	c.HTTPClient = boundedHTTPClient()
	c.HTTPClient.Transport = closedEarlyTransient{c.HTTPClient.Transport}
	p.Once.Do(func() { p.Client = c })
	return p, nil
}

// closedEarlyTransient turns a connection the server closed before it
// answered (io.EOF from the transport) into an ErrTransient that is not
// io.EOF, for libdns/dynu v1.0.0: that is the one error the library
// retries itself (client.go, doRetryWithCustomError, with backoff for up
// to 15 minutes), and it reports each retry through log.Printf, on the
// process's global logger, which a library must not write to and which
// no option of the library can redirect. Without an io.EOF the library
// neither retries nor logs; our own retry, bounded by the step's
// deadline, retries the ErrTransient instead, as the library did (reads
// and writes alike). The library's logged text was the transport error,
// which holds the request URL and not the API key (a header), but now
// nothing of it is logged at all; the error reaches the user through
// wrapErr's redaction like every other.
type closedEarlyTransient struct{ rt http.RoundTripper }

func (c closedEarlyTransient) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.rt.RoundTrip(req)
	if err != nil && errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: the server closed the connection without an answer (EOF)", ErrTransient)
	}
	return resp, err
}

// --- Gandi ------------------------------------------------------------------

var gandiInfo = Info{
	Name:        "gandi",
	Title:       "Gandi LiveDNS",
	Description: "Gandi LiveDNS through its v5 API",
	Docs:        "https://github.com/libdns/gandi#readme",
	Module:      "github.com/libdns/gandi v1.1.0",
	HTTPClient:  libraryDefaultClient("libdns/gandi v1.1.0"),
	Settings: []Setting{
		setting("gandi", "bearer_token", secret, required, "personal access token with the Manage domain name technical configurations permission"),
	},
}

func newGandi(v Values) (LibdnsProvider, error) {
	return &gandi.Provider{BearerToken: v["bearer_token"]}, nil
}

// --- INWX -------------------------------------------------------------------

var inwxInfo = Info{
	Name:        "inwx",
	Title:       "INWX",
	Description: "INWX through its JSON-RPC API",
	Docs:        "https://github.com/libdns/inwx#readme",
	Module:      "github.com/libdns/inwx v0.3.1",
	HTTPClient:  HTTPLibraryDefault + ": a client with a cookie jar for the session that libdns/inwx v0.3.1 builds for every call (no field or option takes another); requests carry our deadline, but response bodies are read whole",
	Settings: []Setting{
		setting("inwx", "username", false, required, "INWX account user name"),
		setting("inwx", "password", secret, required, "INWX account password"),
		setting("inwx", "shared_secret", secret, false, "the Mobile TAN shared secret, when two-factor authentication is on"),
		setting("inwx", "endpoint_url", false, false, "JSON-RPC endpoint; default the production API (https://api.ote.domrobot.com/jsonrpc/ is the test system)"),
	},
}

func newInwx(v Values) (LibdnsProvider, error) {
	if err := checkURL("inwx", "INWX_ENDPOINT_URL", v["endpoint_url"]); err != nil {
		return nil, err
	}
	p := &inwx.Provider{Username: v["username"], Password: v["password"], SharedSecret: v["shared_secret"], EndpointURL: v["endpoint_url"]}
	return p, nil
}

// --- Namecheap --------------------------------------------------------------

var namecheapInfo = Info{
	Name:        "namecheap",
	Title:       "Namecheap",
	Description: "Namecheap through its XML API (the API must be enabled and the client IP whitelisted); reads only",
	Docs:        "https://github.com/libdns/namecheap#readme",
	Module:      "github.com/libdns/namecheap v1.0.0",
	Caveat:      "it reads the zone but refuses every write: libdns/namecheap v1.0.0 re-sends every host record of the domain through setHosts without the EmailType parameter, which resets the domain's mail settings at Namecheap and drops its custom MX records. Publish the two TXT records with the manual provider (or in Namecheap's dashboard) until the library keeps EmailType",
	HTTPClient:  libraryDefaultClient("libdns/namecheap v1.0.0"),
	Settings: []Setting{
		setting("namecheap", "api_key", secret, required, "API key from Profile / Tools / Namecheap API Access"),
		setting("namecheap", "user", false, required, "API user name (usually the account name)"),
		// Required: without it the provider asks a public discovery
		// service for our address, a request without a context.
		setting("namecheap", "client_ip", false, required, "the public IP address whitelisted for API access"),
		setting("namecheap", "api_endpoint", false, false, "API endpoint; default production (https://api.sandbox.namecheap.com/xml.response is the sandbox)"),
	},
}

func newNamecheap(v Values) (LibdnsProvider, error) {
	if _, err := netip.ParseAddr(v["client_ip"]); err != nil {
		return nil, fmt.Errorf("%w: NAMECHEAP_CLIENT_IP is not an IP address", ErrConfig)
	}
	if err := checkURL("namecheap", "NAMECHEAP_API_ENDPOINT", v["api_endpoint"]); err != nil {
		return nil, err
	}
	p := &namecheap.Provider{APIKey: v["api_key"], User: v["user"], ClientIP: v["client_ip"], APIEndpoint: v["api_endpoint"]}
	return namecheapReadOnly{p}, nil
}

// errNamecheapWrite is why the namecheap provider writes nothing.
//
// Namecheap's API has no call that adds or removes one record:
// namecheap.domains.dns.setHosts replaces every host record of the domain,
// and its top-level EmailType parameter (MX, MXE, FWD, OX, GMAIL) says how
// mail is routed; getHosts returns it as an attribute of
// DomainDNSGetHostsResult. libdns/namecheap v1.0.0 never reads that
// attribute (getHostsResponseRecord, internal/namecheap/namecheap.go
// lines 121-140, has no EmailType) and never sends the top-level parameter
// (addToValues, line 171, numbers it per host: EmailType1, EmailType2 ...,
// and only for MX records built from a libdns.MX, not for those read back
// by getHosts). AppendRecords and DeleteRecords (provider.go) re-send the
// whole zone through setHosts, so adding our TXT record resets the
// domain's mail settings and drops its custom MX records: mail for the
// very domain MTA-STS protects would stop. The library builds its own
// HTTP client (http.DefaultClient, line 439), so there is no place to add
// the parameter on its way out either.
var errNamecheapWrite = fmt.Errorf("%w: refusing to write: libdns/namecheap v1.0.0 rewrites every host record of the domain through setHosts without its EmailType, which resets the domain's mail settings at Namecheap (custom MX records are dropped); publish the record by hand with the manual provider", ErrConfig)

// namecheapReadOnly reads through libdns/namecheap and refuses every
// write (errNamecheapWrite) before anything is sent.
type namecheapReadOnly struct{ p *namecheap.Provider }

func (n namecheapReadOnly) GetRecords(ctx context.Context, zone string) ([]libdns.Record, error) {
	return n.p.GetRecords(ctx, zone)
}

func (namecheapReadOnly) AppendRecords(context.Context, string, []libdns.Record) ([]libdns.Record, error) {
	return nil, errNamecheapWrite
}

func (namecheapReadOnly) DeleteRecords(context.Context, string, []libdns.Record) ([]libdns.Record, error) {
	return nil, errNamecheapWrite
}

// --- netcup -----------------------------------------------------------------

var netcupInfo = Info{
	Name:        "netcup",
	Title:       "netcup",
	Description: "netcup's DNS through its CCP API",
	Docs:        "https://github.com/libdns/netcup#readme",
	Module:      "github.com/libdns/netcup v1.0.0",
	HTTPClient:  libraryDefaultClient("libdns/netcup v1.0.0"),
	Settings: []Setting{
		setting("netcup", "customer_number", false, required, "netcup customer number"),
		setting("netcup", "api_key", secret, required, "CCP API key"),
		setting("netcup", "api_password", secret, required, "CCP API password"),
	},
}

func newNetcup(v Values) (LibdnsProvider, error) {
	p := &netcup.Provider{CustomerNumber: v["customer_number"], APIKey: v["api_key"], APIPassword: v["api_password"]}
	return p, nil
}

// --- Porkbun ----------------------------------------------------------------

var porkbunInfo = Info{
	Name:        "porkbun",
	Title:       "Porkbun",
	Description: "Porkbun through its v3 API (API access must be enabled for the domain)",
	Docs:        "https://github.com/libdns/porkbun#readme",
	Module:      "github.com/libdns/porkbun v1.1.0",
	HTTPClient:  HTTPLibraryDefault + ": a new http.Client for every request in libdns/porkbun v1.1.0 (no field or option takes another), without a timeout and without a context: stspilot stops waiting at the step's deadline (at most 60 s) and leaves the request to finish in the background, so a write given up on may still land (reported as a partial change, with the zone read back); response bodies are read whole",
	Settings: []Setting{
		setting("porkbun", "api_key", secret, required, "API key (pk1_...)"),
		setting("porkbun", "api_secret_key", secret, required, "secret API key (sk1_...)"),
	},
}

func newPorkbun(v Values) (LibdnsProvider, error) {
	p := &porkbun.Provider{APIKey: v["api_key"], APISecretKey: v["api_secret_key"]}
	return porkbunBounded{p}, nil
}

// --- PowerDNS ---------------------------------------------------------------

var powerdnsInfo = Info{
	Name:        "powerdns",
	Title:       "PowerDNS Authoritative",
	Description: "a PowerDNS Authoritative server through its HTTP API (for RFC 2136 updates use rfc2136)",
	Docs:        "https://github.com/libdns/powerdns#readme",
	Module:      "github.com/libdns/powerdns v0.1.4",
	HTTPClient:  HTTPLibraryDefault + ": http.DefaultClient, through github.com/mittwald/go-powerdns, which libdns/powerdns v0.1.4 builds without passing a client (no field or option takes another); requests carry our deadline, but response bodies are read whole",
	Settings: []Setting{
		setting("powerdns", "server_url", false, required, "base URL of the API, e.g. https://pdns.example.net:8081"),
		{Name: "server_id", Env: "POWERDNS_SERVER_ID", Default: "localhost", Help: "server ID in the API"},
		setting("powerdns", "api_token", secret, required, "the API key (api-key in pdns.conf)"),
	},
}

func newPowerdns(v Values) (LibdnsProvider, error) {
	// go-powerdns panics on a URL it cannot parse.
	if err := checkURL("powerdns", "POWERDNS_SERVER_URL", v["server_url"]); err != nil {
		return nil, err
	}
	p := &powerdns.Provider{ServerURL: v["server_url"], ServerID: v["server_id"], APIToken: v["api_token"]}
	return p, nil
}

// Interface guards: every provider can read, add and delete records.
var (
	_ LibdnsProvider = (*route53.Provider)(nil)
	_ LibdnsProvider = (*desec.Provider)(nil)
	_ LibdnsProvider = (*cloudns.Provider)(nil)
	_ LibdnsProvider = (*dynu.Provider)(nil)
	_ LibdnsProvider = (*gandi.Provider)(nil)
	_ LibdnsProvider = (*inwx.Provider)(nil)
	_ LibdnsProvider = (*namecheap.Provider)(nil)
	_ LibdnsProvider = namecheapReadOnly{}
	_ LibdnsProvider = (*netcup.Provider)(nil)
	_ LibdnsProvider = (*porkbun.Provider)(nil)
	_ LibdnsProvider = porkbunBounded{}
	_ LibdnsProvider = (*powerdns.Provider)(nil)
)
