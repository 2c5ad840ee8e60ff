package dnsprovider

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
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

// The libdns providers: for each, a libdnsProvider row (the part of its
// Info that is its own, and the build of the library's provider), which
// registerLibdns completes and registers.
// Settings are named after the provider's struct fields (their JSON tags),
// the variable after the provider and the setting (NAME_SETTING).
//
// Left out on purpose (see the commit that added this file):
// libdns/linode v0.5.0 replaces the process's default slog logger with one
// that writes to stdout; libdns/godaddy v1.1.0 log.Println's every call;
// libdns/acmedns cannot delete records; googleclouddns and azure pull in
// their clouds' SDKs for one TXT record.

// setting builds a Setting; registerLibdns names its variable.
func setting(name string, secret, required bool, help string) Setting {
	return Setting{Name: name, Secret: secret, Required: required, Help: help}
}

const (
	secret   = true
	required = true
)

// libdnsBuild makes a library's provider from complete, validated settings
// (checking what the library would choke on): the one part of a libdns
// provider's Factory that differs between them.
type libdnsBuild func(v Values) (LibdnsProvider, error)

// libdnsProvider is one provider of the libdns family.
type libdnsProvider struct {
	// Info is the provider's, but for what follows from its name:
	// Module (github.com/libdns/NAME version), the Env of each setting
	// (NAME_SETTING), Docs when empty (the module's README) and, with
	// defaultClient, HTTPClient.
	Info
	version string
	// defaultClient: the library sends through http.DefaultClient and
	// cannot be given ours.
	defaultClient bool
	// authHint names the variables to check when the provider refuses
	// the credentials; empty: the secret settings'.
	authHint string
	build    libdnsBuild
}

// info completes the provider's Info.
func (p libdnsProvider) info() Info {
	info := p.Info
	info.Module = "github.com/libdns/" + info.Name + " " + p.version
	if info.Docs == "" {
		info.Docs = "https://github.com/libdns/" + info.Name + "#readme"
	}
	if p.defaultClient {
		info.HTTPClient = HTTPLibraryDefault + ": http.DefaultClient (libdns/" + info.Name + " " + p.version + ": no field or option takes another); requests carry our deadline, but response bodies are read whole"
	}
	info.Settings = slices.Clone(info.Settings)
	for i, s := range info.Settings {
		if s.Env == "" {
			info.Settings[i].Env = strings.ToUpper(info.Name + "_" + s.Name)
		}
	}
	return info
}

// registerLibdns registers a libdns provider: its Factory builds the
// library's provider and adapts it, its secrets redacted.
func registerLibdns(p libdnsProvider) {
	info := p.info()
	hint := p.authHint
	if hint == "" {
		hint = strings.Join(info.SecretEnv(), ", ")
	}
	register(info, func(v Values, secrets []string, _ Env) (Provider, error) {
		lp, err := p.build(v)
		if err != nil {
			return nil, err
		}
		return FromLibdns(info.Name, lp, LibdnsOptions{Secrets: secrets, AuthHint: hint}), nil
	})
}

// checkURL validates a URL setting: several providers panic on one they
// cannot parse.
func checkURL(env, raw string) error {
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

var route53Provider = libdnsProvider{
	Info: Info{
		Name:        "route53",
		Title:       "Amazon Route 53",
		Description: "Route 53 hosted zones through the AWS SDK; with no keys set, the SDK's default credential chain (AWS_* variables, ~/.aws, SSO, instance roles)",
		Docs:        "https://github.com/libdns/route53#authenticating",
		HTTPClient:  HTTPLibraryDefault + ": the AWS SDK's client, which libdns/route53 v1.6.2 builds itself (no field or option takes another); requests carry our deadline, response bodies are not capped",
		Settings: []Setting{
			setting("access_key_id", false, false, "access key ID; with ROUTE53_SECRET_ACCESS_KEY, overrides the default credential chain"),
			setting("secret_access_key", secret, false, "secret access key of that key ID"),
			setting("session_token", secret, false, "session token, for temporary credentials"),
			setting("profile", false, false, "shared-config profile in ~/.aws to use instead of AWS_PROFILE"),
			setting("region", false, false, "AWS region; Route 53 is global, so it defaults to the profile's region or us-east-1"),
			setting("hosted_zone_id", false, false, "hosted zone ID (without /hostedzone/), when the zone name is ambiguous or lookups are not allowed"),
		},
		ready: route53Ready,
	},
	version:  "v1.6.2",
	authHint: "ROUTE53_ACCESS_KEY_ID, ROUTE53_SECRET_ACCESS_KEY (or the AWS credential chain)",
	build:    newRoute53,
}

// awsChainEnv are the variables with which the AWS SDK's default
// credential chain finds credentials in the environment, each group enough
// on its own (aws-sdk-go-v2/config v1.31: env_config.go,
// resolve_credentials.go; a web identity needs the role too). ~/.aws's
// default profile and instance roles leave no trace there: with them,
// `providers` says route53 is not configured although the SDK would find
// credentials.
var awsChainEnv = [][]string{
	{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"},
	{"AWS_PROFILE"},
	{"AWS_DEFAULT_PROFILE"},
	{"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN"},
	{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"},
	{"AWS_CONTAINER_CREDENTIALS_FULL_URI"},
}

// route53Ready is route53's rule for being configured: its key ID and
// secret both set (the session token optional), or its profile, or
// credentials of the AWS chain in the environment; keys that newRoute53
// refuses (a key ID without its secret) are not.
func route53Ready(set func(string) bool, environ Source) (bool, []string, map[string]error) {
	if name, err := route53Keys(set); err != nil {
		return false, nil, map[string]error{name: err}
	}
	if set("access_key_id") || set("profile") {
		return true, nil, nil
	}
	for _, vars := range awsChainEnv {
		if environHas(environ, vars...) {
			return true, vars, nil
		}
	}
	return false, nil, nil
}

// route53Keys checks that the key settings go together: a key ID with its
// secret, a session token only with both. It returns the setting to blame
// (its Name) and why.
func route53Keys(set func(string) bool) (string, error) {
	key, sec, tok := set("access_key_id"), set("secret_access_key"), set("session_token")
	switch {
	case key && !sec:
		return "access_key_id", fmt.Errorf("%w: ROUTE53_ACCESS_KEY_ID is set but ROUTE53_SECRET_ACCESS_KEY is missing", ErrConfig)
	case !key && sec:
		return "secret_access_key", fmt.Errorf("%w: ROUTE53_SECRET_ACCESS_KEY is set but ROUTE53_ACCESS_KEY_ID is missing", ErrConfig)
	case !key && tok:
		return "session_token", fmt.Errorf("%w: ROUTE53_SESSION_TOKEN needs ROUTE53_ACCESS_KEY_ID and ROUTE53_SECRET_ACCESS_KEY", ErrConfig)
	}
	return "", nil
}

func newRoute53(v Values) (LibdnsProvider, error) {
	if _, err := route53Keys(func(name string) bool { return v[name] != "" }); err != nil {
		return nil, err
	}
	key, sec, tok := v["access_key_id"], v["secret_access_key"], v["session_token"]
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
	return p, nil
}

// --- deSEC ----------------------------------------------------------------

var desecProvider = libdnsProvider{
	Info: Info{
		Name: "desec", Title: "deSEC", Description: "deSEC.io, the free DNSSEC hosting, through its REST API",
		Settings: []Setting{setting("token", secret, required, "API token from https://desec.io/tokens (no token-management permission needed)")},
	},
	version: "v1.1.1", defaultClient: true,
	build: func(v Values) (LibdnsProvider, error) { return &desec.Provider{Token: v["token"]}, nil },
}

// --- ClouDNS ----------------------------------------------------------------

var cloudnsProvider = libdnsProvider{
	Info: Info{
		Name: "cloudns", Title: "ClouDNS", Description: "ClouDNS through its HTTP API, as an API user or sub-user",
		HTTPClient: HTTPCapped,
		Settings: []Setting{
			setting("auth_id", false, false, "API user ID (auth-id); or set CLOUDNS_SUB_AUTH_ID or CLOUDNS_SUB_AUTH_USER"),
			setting("sub_auth_id", false, false, "API sub-user ID (sub-auth-id), used when CLOUDNS_AUTH_ID is not set"),
			setting("sub_auth_user", false, false, "API sub-user name (sub-auth-user), used when neither ID is set"),
			setting("auth_password", secret, required, "password of the API user or sub-user"),
		},
	},
	version: "v1.2.0", build: newCloudns,
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

var dynuProvider = libdnsProvider{
	Info: Info{
		Name: "dynu", Title: "Dynu", Description: "Dynu DNS through its v2 API",
		HTTPClient: HTTPCapped,
		Settings: []Setting{
			setting("api_token", secret, required, "API key from https://www.dynu.com/ControlPanel/APICredentials"),
			setting("own_domain", false, false, "your root domain in Dynu, when the zone is a Dynu domain (my.dynu.com in dynu.com)"),
		},
	},
	version: "v1.0.0", build: newDynu,
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

var gandiProvider = libdnsProvider{
	Info: Info{
		Name: "gandi", Title: "Gandi LiveDNS", Description: "Gandi LiveDNS through its v5 API",
		Settings: []Setting{setting("bearer_token", secret, required, "personal access token with the Manage domain name technical configurations permission")},
	},
	version: "v1.1.0", defaultClient: true,
	build: func(v Values) (LibdnsProvider, error) { return &gandi.Provider{BearerToken: v["bearer_token"]}, nil },
}

// --- INWX -------------------------------------------------------------------

var inwxProvider = libdnsProvider{
	Info: Info{
		Name: "inwx", Title: "INWX", Description: "INWX through its JSON-RPC API",
		HTTPClient: HTTPLibraryDefault + ": a client with a cookie jar for the session that libdns/inwx v0.3.1 builds for every call (no field or option takes another); requests carry our deadline, but response bodies are read whole",
		Settings: []Setting{
			setting("username", false, required, "INWX account user name"),
			setting("password", secret, required, "INWX account password"),
			setting("shared_secret", secret, false, "the Mobile TAN shared secret, when two-factor authentication is on"),
			setting("endpoint_url", false, false, "JSON-RPC endpoint; default the production API (https://api.ote.domrobot.com/jsonrpc/ is the test system)"),
		},
	},
	version: "v0.3.1", build: newInwx,
}

func newInwx(v Values) (LibdnsProvider, error) {
	if err := checkURL("INWX_ENDPOINT_URL", v["endpoint_url"]); err != nil {
		return nil, err
	}
	return &inwx.Provider{Username: v["username"], Password: v["password"], SharedSecret: v["shared_secret"], EndpointURL: v["endpoint_url"]}, nil
}

// --- Namecheap --------------------------------------------------------------

var namecheapProvider = libdnsProvider{
	Info: Info{
		Name: "namecheap", Title: "Namecheap", Description: "Namecheap through its XML API (the API must be enabled and the client IP whitelisted); reads only",
		Caveat: "it reads the zone but refuses every write: libdns/namecheap v1.0.0 re-sends every host record of the domain through setHosts without the EmailType parameter, which resets the domain's mail settings at Namecheap and drops its custom MX records. Publish the two TXT records with the manual provider (or in Namecheap's dashboard) until the library keeps EmailType",
		Settings: []Setting{
			setting("api_key", secret, required, "API key from Profile / Tools / Namecheap API Access"),
			setting("user", false, required, "API user name (usually the account name)"),
			// Required: without it the provider asks a public discovery
			// service for our address, a request without a context.
			setting("client_ip", false, required, "the public IP address whitelisted for API access"),
			setting("api_endpoint", false, false, "API endpoint; default production (https://api.sandbox.namecheap.com/xml.response is the sandbox)"),
		},
	},
	version: "v1.0.0", defaultClient: true, build: newNamecheap,
}

func newNamecheap(v Values) (LibdnsProvider, error) {
	if _, err := netip.ParseAddr(v["client_ip"]); err != nil {
		return nil, fmt.Errorf("%w: NAMECHEAP_CLIENT_IP is not an IP address", ErrConfig)
	}
	if err := checkURL("NAMECHEAP_API_ENDPOINT", v["api_endpoint"]); err != nil {
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

var netcupProvider = libdnsProvider{
	Info: Info{
		Name: "netcup", Title: "netcup", Description: "netcup's DNS through its CCP API",
		Settings: []Setting{
			setting("customer_number", false, required, "netcup customer number"),
			setting("api_key", secret, required, "CCP API key"),
			setting("api_password", secret, required, "CCP API password"),
		},
	},
	version: "v1.0.0", defaultClient: true,
	build: func(v Values) (LibdnsProvider, error) {
		return &netcup.Provider{CustomerNumber: v["customer_number"], APIKey: v["api_key"], APIPassword: v["api_password"]}, nil
	},
}

// --- Porkbun ----------------------------------------------------------------

var porkbunProvider = libdnsProvider{
	Info: Info{
		Name: "porkbun", Title: "Porkbun", Description: "Porkbun through its v3 API (API access must be enabled for the domain)",
		HTTPClient: HTTPLibraryDefault + ": a new http.Client for every request in libdns/porkbun v1.1.0 (no field or option takes another), without a timeout and without a context: stspilot stops waiting at the step's deadline (at most 60 s) and leaves the request to finish in the background, so a write given up on may still land (reported as a partial change, with the zone read back); response bodies are read whole",
		Settings: []Setting{
			setting("api_key", secret, required, "API key (pk1_...)"),
			setting("api_secret_key", secret, required, "secret API key (sk1_...)"),
		},
	},
	version: "v1.1.0",
	build: func(v Values) (LibdnsProvider, error) {
		return porkbunBounded{&porkbun.Provider{APIKey: v["api_key"], APISecretKey: v["api_secret_key"]}}, nil
	},
}

// --- PowerDNS ---------------------------------------------------------------

var powerdnsProvider = libdnsProvider{
	Info: Info{
		Name: "powerdns", Title: "PowerDNS Authoritative", Description: "a PowerDNS Authoritative server through its HTTP API (for RFC 2136 updates use rfc2136)",
		HTTPClient: HTTPLibraryDefault + ": http.DefaultClient, through github.com/mittwald/go-powerdns, which libdns/powerdns v0.1.4 builds without passing a client (no field or option takes another); requests carry our deadline, but response bodies are read whole",
		Settings: []Setting{
			setting("server_url", false, required, "base URL of the API, e.g. https://pdns.example.net:8081"),
			{Name: "server_id", Default: "localhost", Help: "server ID in the API"},
			setting("api_token", secret, required, "the API key (api-key in pdns.conf)"),
		},
	},
	version: "v0.1.4", build: newPowerdns,
}

func newPowerdns(v Values) (LibdnsProvider, error) {
	// go-powerdns panics on a URL it cannot parse.
	if err := checkURL("POWERDNS_SERVER_URL", v["server_url"]); err != nil {
		return nil, err
	}
	return &powerdns.Provider{ServerURL: v["server_url"], ServerID: v["server_id"], APIToken: v["api_token"]}, nil
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
