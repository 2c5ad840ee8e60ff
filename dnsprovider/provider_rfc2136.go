package dnsprovider

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/libdns/libdns"
	"github.com/libdns/rfc2136"
	"github.com/miekg/dns"

	"github.com/stspilot/stspilot/internal/dnsclient"
)

var rfc2136Info = Info{
	Name:        "rfc2136",
	Title:       "RFC 2136 dynamic update (BIND, Knot, PowerDNS, ...)",
	Description: "signed dynamic updates (TSIG) to the zone's primary server; reads the zone by AXFR with the same key",
	Docs:        "https://github.com/stspilot/stspilot/blob/main/docs/providers.md#rfc2136",
	Module:      "github.com/libdns/rfc2136 v1.0.1",
	HTTPClient:  HTTPNone,
	Settings: []Setting{
		// The aliases are lego's names (RFC2136_TSIG_KEY is the key's
		// name there, RFC2136_TSIG_SECRET the secret).
		{
			Name: "server", Env: "RFC2136_SERVER", Required: true, Aliases: []string{"RFC2136_NAMESERVER"},
			Help: "primary server, host:port or an address (port 53 when left out; IPv6 in brackets: [2001:db8::1]:53); a host name is resolved once, at the first call",
		},
		{
			Name: "key_name", Env: "RFC2136_KEY_NAME", Required: true, Aliases: []string{"RFC2136_TSIG_KEY"},
			Help: "TSIG key name, as in the server's key statement",
		},
		{
			Name: "key_alg", Env: "RFC2136_KEY_ALG", Default: "hmac-sha256", Aliases: []string{"RFC2136_TSIG_ALGORITHM"},
			Help: "TSIG algorithm: hmac-sha256, hmac-sha512, hmac-sha384, hmac-sha224 or hmac-sha1 (a trailing dot is fine); lego's default is hmac-sha1, so a lego set-up that left it out needs RFC2136_TSIG_ALGORITHM=hmac-sha1 here",
		},
		{
			Name: "key", Env: "RFC2136_KEY", Required: true, Secret: true, Aliases: []string{"RFC2136_TSIG_SECRET"},
			Help: "TSIG secret, base64",
		},
	},
}

// rfc2136Algs are the TSIG algorithms miekg/dns signs with (HMAC-MD5 is
// not supported by it any more).
var rfc2136Algs = []string{dns.HmacSHA256, dns.HmacSHA512, dns.HmacSHA384, dns.HmacSHA224, dns.HmacSHA1}

const rfc2136AuthHint = "RFC2136_KEY_NAME, RFC2136_KEY_ALG and RFC2136_KEY"

// maxAXFRRecords caps the records one zone transfer may return.
const maxAXFRRecords = 500_000

func configErr(provider, format string, a ...any) error {
	return &providerError{provider: provider, msg: fmt.Sprintf(format, a...), class: ErrConfig}
}

// RFC2136Config is the validated configuration of the rfc2136 provider.
type RFC2136Config struct {
	Server  string // host:port
	KeyName string // absolute, lower case
	KeyAlg  string // absolute, as miekg/dns names it ("hmac-sha256.")
	Key     string // base64
}

// NewRFC2136Config validates the settings (as the environment gives them)
// without contacting the server. Errors name the variable and never
// contain the key.
func NewRFC2136Config(v Values) (RFC2136Config, error) {
	var c RFC2136Config
	// A host name is fine here (the provider resolves it once, at its
	// first call): unlike the resolvers, this server is named for the
	// zone it holds.
	server, err := dnsclient.ParseHostPort(v["server"])
	if err != nil {
		return c, configErr("rfc2136", "%v: RFC2136_SERVER: %v", ErrConfig, err)
	}
	c.Server = server
	name := strings.TrimSpace(v["key_name"])
	if _, ok := dns.IsDomainName(name); !ok || name == "" || name == "." {
		return c, configErr("rfc2136", "%v: RFC2136_KEY_NAME %q is not a key name (a domain name such as stspilot-key)", ErrConfig, name)
	}
	c.KeyName = strings.ToLower(dns.Fqdn(name))
	alg := strings.ToLower(strings.TrimSpace(v["key_alg"]))
	if alg == "" {
		alg = "hmac-sha256"
	}
	alg = dns.Fqdn(alg)
	found := false
	for _, a := range rfc2136Algs {
		if a == alg {
			found = true
		}
	}
	if !found {
		return c, configErr("rfc2136", "%v: RFC2136_KEY_ALG %q is not supported; use one of hmac-sha256, hmac-sha512, hmac-sha384, hmac-sha224, hmac-sha1", ErrConfig, strings.TrimSuffix(alg, "."))
	}
	c.KeyAlg = alg
	key := strings.TrimSpace(v["key"])
	raw, err := base64.StdEncoding.DecodeString(key)
	if err != nil || len(raw) == 0 {
		return c, configErr("rfc2136", "%v: RFC2136_KEY is not a base64 TSIG secret (the value is not shown)", ErrConfig)
	}
	c.Key = key
	return c, nil
}

func openRFC2136(v Values, secrets []string, env Env) (Provider, error) {
	c, err := NewRFC2136Config(v)
	if err != nil {
		return nil, err
	}
	return NewRFC2136(c, secrets), nil
}

// NewRFC2136 returns the rfc2136 provider for a validated config. secrets
// are stripped from every error (the key is always among them).
//
// How it meets the quirks of libdns/rfc2136 v1.0.1 (seen against BIND in the e2e world):
//   - names are relative to the zone: the adapter passes relative names;
//   - a record without a TTL gets TTL 0: the adapter always sends one;
//   - the library's GetRecords is an AXFR that ignores ctx and has no
//     cap, and returns TXT text in escaped presentation form, with which
//     an exact delete of a record holding '"' or '\' silently deletes
//     nothing: our own AXFR (ctx-bounded, capped) returns the raw text,
//     and the library quotes it back correctly for the delete;
//   - the library quotes with Go's %q, so a record of ours with non-ASCII
//     text (which no valid STS or TLS-RPT record has) may still not be
//     deleted exactly: the adapter's read-back then reports a
//     *PartialError with what the zone holds. Foreign records are never
//     rewritten to work around it (invariant 5);
//   - BIND refuses a name that is not a zone apex with "bad
//     authentication", like a wrong key: explain tells them apart.
func NewRFC2136(c RFC2136Config, secrets []string) Provider {
	return newRFC2136Zone(c, secrets).provider()
}

func newRFC2136Zone(c RFC2136Config, secrets []string) *rfc2136Zone {
	return &rfc2136Zone{
		cfg:    c,
		lib:    rfc2136.Provider{KeyName: c.KeyName, KeyAlg: c.KeyAlg, Key: c.Key, Server: c.Server},
		red:    redactor{secrets: append(secrets, c.Key)},
		lookup: net.DefaultResolver.LookupNetIP,
	}
}

// provider is z behind the libdns adapter.
func (z *rfc2136Zone) provider() Provider {
	// Escaped stays false: GetRecords below returns raw TXT text, which
	// is also what lets an exact delete of a record with quotes or
	// backslashes match (libdns/rfc2136's own GetRecords returns the
	// escaped form, and its exact delete of that deletes nothing).
	return FromLibdns("rfc2136", z, LibdnsOptions{Secrets: z.red.secrets, AuthHint: rfc2136AuthHint})
}

// rfc2136Zone is libdns/rfc2136 with its zone read replaced: our AXFR is
// bounded by ctx and by a record cap, returns only TXT records and their
// raw text, and its failures are explained (wrong key vs. a zone that is
// not an apex).
type rfc2136Zone struct {
	cfg RFC2136Config
	lib rfc2136.Provider // Server is set per call, to the resolved address
	red redactor
	// lookup resolves a host name (net.DefaultResolver.LookupNetIP;
	// tests answer themselves).
	lookup func(ctx context.Context, network, host string) ([]netip.Addr, error)

	mu   sync.Mutex
	addr string // cfg.Server with its host resolved, once resolved
}

// rfc2136ResolveTimeout bounds the one lookup of the server's host name.
const rfc2136ResolveTimeout = 10 * time.Second

// server returns the server's address as IP:PORT. A host name in
// cfg.Server is resolved the first time, bounded by ctx and by
// rfc2136ResolveTimeout, and the address kept: the zone transfer, the
// update and the SOA query of one run all go to the one server, and no
// call after the first waits for a lookup.
func (z *rfc2136Zone) server(ctx context.Context) (string, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.addr != "" {
		return z.addr, nil
	}
	host, port, err := net.SplitHostPort(z.cfg.Server)
	if err != nil { // NewRFC2136Config gives HOST:PORT
		return "", configErr("rfc2136", "%v: RFC2136_SERVER %q is not host:port", ErrConfig, z.cfg.Server)
	}
	if _, perr := netip.ParseAddr(host); perr == nil {
		z.addr = z.cfg.Server
		return z.addr, nil
	}
	rctx, cancel := context.WithTimeout(ctx, rfc2136ResolveTimeout)
	defer cancel()
	ips, err := z.lookup(rctx, "ip", host)
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return "", fmt.Errorf("resolving the server %s: %w", host, cerr)
		}
		var de *net.DNSError
		if errors.As(err, &de) && de.IsNotFound {
			return "", configErr("rfc2136", "%v: the server %s (RFC2136_SERVER) has no address: %v", ErrConfig, host, err)
		}
		return "", fmt.Errorf("resolving the server %s: %w", host, err)
	}
	if len(ips) == 0 {
		return "", configErr("rfc2136", "%v: the server %s (RFC2136_SERVER) has no address", ErrConfig, host)
	}
	z.addr = net.JoinHostPort(ips[0].Unmap().String(), port)
	return z.addr, nil
}

// write runs op, the library's AppendRecords or DeleteRecords, with the
// library's provider talking to the resolved server.
func (z *rfc2136Zone) write(ctx context.Context, zone string, recs []libdns.Record, op func(*rfc2136.Provider, context.Context, string, []libdns.Record) ([]libdns.Record, error)) ([]libdns.Record, error) {
	addr, err := z.server(ctx)
	if err != nil {
		return nil, err
	}
	lib := z.lib
	lib.Server = addr
	out, err := op(&lib, ctx, zone, recs)
	return out, z.explain(ctx, zone, err)
}

func (z *rfc2136Zone) GetRecords(ctx context.Context, zone string) ([]libdns.Record, error) {
	recs, err := z.axfr(ctx, dns.Fqdn(zone))
	return recs, z.explain(ctx, zone, err)
}

func (z *rfc2136Zone) AppendRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	return z.write(ctx, zone, recs, (*rfc2136.Provider).AppendRecords)
}

func (z *rfc2136Zone) DeleteRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	return z.write(ctx, zone, recs, (*rfc2136.Provider).DeleteRecords)
}

func (z *rfc2136Zone) axfr(ctx context.Context, zone string) ([]libdns.Record, error) {
	rrs, err := z.transfer(ctx, zone)
	if err != nil {
		return nil, err
	}
	var out []libdns.Record
	for _, rr := range rrs {
		if txt, ok := rr.(*dns.TXT); ok {
			out = append(out, libdns.TXT{
				Name: libdns.RelativeName(strings.ToLower(txt.Hdr.Name), zone),
				TTL:  time.Duration(txt.Hdr.Ttl) * time.Second,
				Text: txtValue(txt),
			})
		}
		if mx, ok := rr.(*dns.MX); ok {
			out = append(out, libdns.MX{
				Name:       libdns.RelativeName(strings.ToLower(mx.Hdr.Name), zone),
				TTL:        time.Duration(mx.Hdr.Ttl) * time.Second,
				Preference: mx.Preference,
				Target:     strings.ToLower(dns.Fqdn(mx.Mx)),
			})
		}
	}
	return out, nil
}

// transfer is a TSIG-signed AXFR of zone, bounded by ctx and by a record
// cap; it returns the TXT and MX records only, as the zone holds them.
func (z *rfc2136Zone) transfer(ctx context.Context, zone string) ([]dns.RR, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	addr, err := z.server(ctx)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("zone transfer of %s from %s: %w", zone, z.cfg.Server, err)
	}
	// Transfer sets its own read deadline per message; closing the
	// connection when ctx ends is what bounds the whole transfer.
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()
	t := &dns.Transfer{Conn: &dns.Conn{Conn: nc}, TsigSecret: map[string]string{z.cfg.KeyName: z.cfg.Key}, ReadTimeout: DefaultQueryTimeout}
	m := new(dns.Msg)
	m.SetAxfr(zone)
	m.SetTsig(z.cfg.KeyName, z.cfg.KeyAlg, 300, time.Now().Unix())
	env, err := t.In(m, addr)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("zone transfer of %s from %s: %w", zone, z.cfg.Server, err)
	}
	defer func() {
		nc.Close()
		go func() {
			for range env { // let Transfer's goroutine finish
			}
		}()
	}()
	var out []dns.RR
	n := 0
	for e := range env {
		if e.Error != nil {
			if cerr := ctx.Err(); cerr != nil {
				return nil, cerr
			}
			return nil, fmt.Errorf("zone transfer of %s from %s: %w", zone, z.cfg.Server, e.Error)
		}
		for _, rr := range e.RR {
			if n++; n > maxAXFRRecords {
				return nil, fmt.Errorf("zone transfer of %s from %s: more than %d records", zone, z.cfg.Server, maxAXFRRecords)
			}
			switch rr.(type) {
			case *dns.TXT, *dns.MX:
				out = append(out, rr)
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// authLike reports whether err is the server refusing the request the way
// a wrong key, or a zone it does not have, is refused.
func authLike(err error) bool {
	if errors.Is(err, dns.ErrAuth) || errors.Is(err, dns.ErrSig) || errors.Is(err, dns.ErrNoSig) || errors.Is(err, dns.ErrTime) {
		return true
	}
	// BIND signs its refusal with a TSIG error ("bad authentication");
	// a server that answers unsigned gives "no signature found"; Knot
	// answers an update with the NOTAUTH rcode.
	s := err.Error()
	return strings.Contains(s, "bad authentication") || strings.Contains(s, "no signature found") ||
		strings.Contains(s, "NOTAUTH") || strings.Contains(s, "rcode: 9")
}

// explain turns a refusal into an error that says what to fix: a name
// that is not a zone apex (BIND answers an update or transfer for it with
// an unsigned NOTAUTH, which reads as "bad authentication"), or the key.
func (z *rfc2136Zone) explain(ctx context.Context, zone string, err error) error {
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("%w (%s)", cerr, z.red.clean(err.Error()))
	}
	if !authLike(err) {
		return err
	}
	zone = Fqdn(zone)
	cause := z.red.clean(err.Error())
	apex, aerr := z.apexOf(ctx, zone)
	if aerr == nil && apex != zone {
		return configErr("rfc2136", "%v: %s is not a zone apex on %s, it is inside the zone %s: give that zone (the server refused with %q)", ErrConfig, zone, z.cfg.Server, apex, cause)
	}
	hint := ""
	if aerr != nil {
		hint = fmt.Sprintf("; or %s is not a zone this server holds (%s)", zone, z.red.clean(aerr.Error()))
	}
	return &providerError{
		provider: "rfc2136", class: ErrAuth,
		msg: fmt.Sprintf("authentication failed (check %s): %s refused the TSIG key for the zone %s%s: %s", rfc2136AuthHint, z.cfg.Server, zone, hint, cause),
	}
}

// apexOf asks the server (unsigned, no recursion) for the SOA of zone and
// returns the apex of the zone that holds it.
func (z *rfc2136Zone) apexOf(ctx context.Context, zone string) (string, error) {
	q := &Resolver{}
	m := new(dns.Msg)
	m.SetQuestion(zone, dns.TypeSOA)
	m.RecursionDesired = false
	addr, err := z.server(ctx)
	if err != nil {
		return "", err
	}
	in, err := q.exchange(ctx, m, addr, dnsclient.ResolvConf{})
	if err != nil {
		return "", err
	}
	apex, err := soaApex(in, zone)
	if err != nil {
		return "", err
	}
	if apex == "" {
		return "", fmt.Errorf("the server gave no SOA for %s", zone)
	}
	return apex, nil
}

var _ LibdnsProvider = (*rfc2136Zone)(nil)
