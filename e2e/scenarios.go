package e2e

// STSVerdict is what postfix-mta-sts-resolver's mta-sts-query (a real
// sender-side implementation) makes of a domain's TXT record and policy.
type STSVerdict string

// The verdicts of mta-sts-query (`e2e/world sts-query`).
const (
	STSValid      STSVerdict = "VALID"       // a usable policy
	STSFetchError STSVerdict = "FETCH_ERROR" // a TXT record, but no acceptable policy
	STSNone       STSVerdict = "NONE"        // no (usable) TXT record: no MTA-STS
)

// TLSVerdict is what Postfix's posttls-finger at level "secure" (the checks a
// Postfix sender applies under an enforce policy) makes of one MX host.
type TLSVerdict string

// The verdicts of posttls-finger (`e2e/world tls-check`).
const (
	TLSVerified  TLSVerdict = "VERIFIED"  // STARTTLS, chain to the world CA, name matches
	TLSUntrusted TLSVerdict = "UNTRUSTED" // STARTTLS, but the certificate fails
	TLSNone      TLSVerdict = "NO-TLS"    // no STARTTLS offered
)

// Serve is what the policy host mta-sts.DOMAIN answers a client that trusts
// the world CA, on every address of the host.
type Serve string

// What a policy host serves.
const (
	ServePolicy        Serve = "policy"          // 200, text/plain, the same bytes on every address
	ServeNoHost        Serve = "no-host"         // mta-sts.DOMAIN has no address
	ServeNotFound      Serve = "404"             // status 404
	ServeRedirect      Serve = "301"             // a redirect
	ServeHTML          Serve = "text/html"       // 200 with a Content-Type other than text/plain
	ServeAgentBlocked  Serve = "agent-blocked"   // 403 unless the User-Agent looks like a browser
	ServeCertExpired   Serve = "cert-expired"    // TLS fails: expired certificate
	ServeCertName      Serve = "cert-name"       // TLS fails: certificate for another name
	ServeCertUnknownCA Serve = "cert-unknown-ca" // TLS fails: issuer not trusted
	ServeDivergent     Serve = "divergent"       // 200 text/plain, different bytes per address
)

// MX is one MX host of a scenario domain, in preference order, with the
// verdict posttls-finger gives for it.
type MX struct {
	Host string
	TLS  TLSVerdict
}

// Scenario is one policy domain of the world.
type Scenario struct {
	Name   string   // short name; the subdomain label ("apex" for the zone itself)
	Domain string   // the policy domain
	Rules  []string // docs/rules.md ids the scenario exercises
	Note   string   // what is set up, in a few words

	// What the world serves, checked by the world's own tests.
	Serve    Serve
	IDScheme string // "match": the TXT id is in stspilot's scheme and matches the served bytes; "drift": it does not; "": other
	IPv6     bool   // the policy host also has an AAAA record ::1 (when WORLD_IPV6=1)

	// Verdicts of the real sender-side validators (the oracles).
	STS STSVerdict
	MX  []MX

	// What `stspilot check DOMAIN` is expected to say (docs/design.md's catalogue;
	// a best expectation written before the engine, to be confirmed by it).
	WantFindings []string // exactly the error-severity finding ids
	WantWarnings []string // warning ids that must be among the warnings (others may appear)
	WantExit     int      // 0 healthy or warnings only, 4 errors
}

const zone = "example.test"

func sub(label string) string { return label + "." + zone }

// MX hosts of the world (e2e/world's MX_HOSTS).
var (
	mx1     = MX{"mx1.example.test", TLSVerified}      // valid certificate
	mx2     = MX{"mx2.example.test", TLSUntrusted}     // certificate for wrong.example.test
	mx3     = MX{"mx3.example.test", TLSUntrusted}     // expired certificate
	mx4     = MX{"mx4.example.test", TLSNone}          // no STARTTLS
	mx5     = MX{"mx5.example.test", TLSVerified}      // valid certificate
	amx     = MX{"a.mx.example.test", TLSVerified}     // valid, two labels below the zone
	mxalias = MX{"mxalias.example.test", TLSVerified}  // CNAME to mxcanon, certificate for both names
	mxsoon  = MX{"mxsoon.example.test", TLSVerified}   // valid, expires in 3 to 5 days
	mxrogue = MX{"mxrogue.example.test", TLSUntrusted} // issued by a CA that is not trusted
)

// Scenarios is every policy domain of the world, one per failure seen in the
// field plus the healthy ones. e2e/world writes the zone and the policies; the
// tests in this package check that the world and this table agree.
var Scenarios = []Scenario{
	// ---- healthy
	{
		Name: "ok", Domain: sub("ok"), Note: "enforce, one MX, opaque id",
		Serve: ServePolicy, STS: STSValid, MX: []MX{mx1}, WantExit: 0,
	},
	{
		Name: "testing", Domain: sub("testing"), Note: "mode testing, one MX",
		Serve: ServePolicy, STS: STSValid, MX: []MX{mx1}, WantExit: 0,
	},
	{
		Name: "idok", Domain: sub("idok"), Rules: []string{"STS-TXT-10"},
		Note:  "enforce; the TXT id is in stspilot's scheme and matches the served bytes",
		Serve: ServePolicy, IDScheme: "match", STS: STSValid, MX: []MX{mx1}, WantExit: 0,
	},
	{
		Name: "dualstack", Domain: sub("dualstack"), Rules: []string{"STS-FETCH-1"},
		Note:  "policy host with an A record and an AAAA record (::1) serving the same bytes",
		Serve: ServePolicy, IPv6: true, STS: STSValid, MX: []MX{mx1}, WantExit: 0,
	},
	{
		Name: "fresh", Domain: sub("fresh"), Rules: []string{"STS-TXT-1"},
		Note:  "no _mta-sts TXT, no TLS-RPT, policy host with an empty webroot (deploy tests write it)",
		Serve: ServeNotFound, STS: STSNone, MX: []MX{mx1},
		WantWarnings: []string{"sts-record.missing", "tlsrpt.missing"}, WantExit: 0,
	},
	{
		Name: "ladder", Domain: sub("ladder"), Rules: []string{"STS-TXT-1"},
		Note:  "like fresh, with two policy-host addresses; the workflow tests climb the whole ladder here",
		Serve: ServeNotFound, STS: STSNone, MX: []MX{mx1},
		WantWarnings: []string{"sts-record.missing", "tlsrpt.missing"}, WantExit: 0,
	},
	{
		Name: "apex", Domain: zone, Rules: []string{"STS-SEND-14", "STS-SEND-10"},
		Note:  "mode testing, MX mx1 and mx2; mx2's certificate is for another name (an error under testing too: reporting senders report it, and it blocks enforce)",
		Serve: ServePolicy, STS: STSValid, MX: []MX{mx1, mx2},
		WantFindings: []string{"mx.cert-name"}, WantExit: 4,
	},

	// ---- the TXT record
	{
		Name: "twotxt", Domain: sub("twotxt"), Rules: []string{"STS-TXT-5"},
		Note:  "two v=STSv1 TXT records",
		Serve: ServePolicy, STS: STSNone, MX: []MX{mx1},
		WantFindings: []string{"sts-record.multiple"}, WantExit: 4,
	},
	{
		Name: "foreigntxt", Domain: sub("foreigntxt"), Rules: []string{"STS-TXT-4", "OPS-12"},
		Note:  "a verification TXT record beside the STSv1 one (go-mtasts sees no policy)",
		Serve: ServePolicy, STS: STSValid, MX: []MX{mx1},
		WantWarnings: []string{"sts-record.foreign-txt"}, WantExit: 0,
	},
	{
		Name: "badid", Domain: sub("badid"), Rules: []string{"STS-TXT-8", "STS-TXT-9"},
		Note:  "id=2024-01-01 (not letters and digits; postfix-mta-sts-resolver accepts it, mox and tlspol do not)",
		Serve: ServePolicy, STS: STSValid, MX: []MX{mx1},
		WantFindings: []string{"sts-record.id-invalid"}, WantExit: 4,
	},

	// ---- 1 policy unreachable
	{
		Name: "notfound", Domain: sub("notfound"), Rules: []string{"STS-FETCH-5"},
		Note:  "the policy host answers 404",
		Serve: ServeNotFound, STS: STSFetchError, MX: []MX{mx1},
		WantFindings: []string{"policy.http-status"}, WantExit: 4,
	},
	{
		Name: "redirect", Domain: sub("redirect"), Rules: []string{"STS-FETCH-6"},
		Note:  "301 from the well-known path to mta-sts.example.test",
		Serve: ServeRedirect, STS: STSFetchError, MX: []MX{mx1},
		WantFindings: []string{"policy.redirect"}, WantExit: 4,
	},
	{
		Name: "html", Domain: sub("html"), Rules: []string{"STS-FETCH-9"},
		Note:  "a valid policy served as text/html; charset=utf-8",
		Serve: ServeHTML, STS: STSFetchError, MX: []MX{mx1},
		WantFindings: []string{"policy.content-type"}, WantExit: 4,
	},
	{
		Name: "uafilter", Domain: sub("uafilter"), Rules: []string{"STS-FETCH-14"},
		Note:  `nginx: if ($http_user_agent !~* "Mozilla") { return 403; }: mail senders blocked, browsers not`,
		Serve: ServeAgentBlocked, STS: STSFetchError, MX: []MX{mx1},
		WantFindings: []string{"policy.agent-blocked"}, WantExit: 4,
	},
	{
		Name: "expired", Domain: sub("expired"), Rules: []string{"STS-FETCH-3"},
		Note:  "the policy host's certificate expired in February 2020",
		Serve: ServeCertExpired, STS: STSFetchError, MX: []MX{mx1},
		WantFindings: []string{"policy.cert"}, WantExit: 4,
	},
	{
		Name: "wrongsan", Domain: sub("wrongsan"), Rules: []string{"STS-FETCH-3", "STS-FETCH-15"},
		Note:  "the policy host's certificate is for wrong.example.test only",
		Serve: ServeCertName, STS: STSFetchError, MX: []MX{mx1},
		WantFindings: []string{"policy.cert"}, WantExit: 4,
	},
	{
		Name: "untrusted", Domain: sub("untrusted"), Rules: []string{"STS-FETCH-3"},
		Note:  "the policy host's certificate comes from a CA that is in no trust store",
		Serve: ServeCertUnknownCA, STS: STSFetchError, MX: []MX{mx1},
		WantFindings: []string{"policy.cert"}, WantExit: 4,
	},
	{
		Name: "divergent", Domain: sub("divergent"), Rules: []string{"STS-FETCH-1"},
		Note:  "two A records for the policy host; one serves enforce, the other testing",
		Serve: ServeDivergent, STS: STSValid, MX: []MX{mx1},
		WantFindings: []string{"policy.ip-divergence"}, WantExit: 4,
	},

	// ---- policy text
	{
		Name: "blankline", Domain: sub("blankline"), Rules: []string{"STS-POL-3"},
		Note:  "the policy ends in a blank line (mox, go-mtasts and tlspol reject it; pmsr ignores it)",
		Serve: ServePolicy, STS: STSValid, MX: []MX{mx1},
		WantFindings: []string{"policy.syntax"}, WantExit: 4,
	},

	// ---- 2 MX coverage
	{
		Name: "uncovered", Domain: sub("uncovered"), Rules: []string{"STS-SEND-8"},
		Note:  "MX mx1 and mx5; the enforce policy lists mx1 only",
		Serve: ServePolicy, STS: STSValid, MX: []MX{mx1, mx5},
		WantFindings: []string{"mx.uncovered"}, WantExit: 4,
	},
	{
		Name: "shallow", Domain: sub("shallow"), Rules: []string{"STS-POL-15", "OPS-6"},
		Note:  "mx: *.example.test while the MX is a.mx.example.test (one label too deep)",
		Serve: ServePolicy, STS: STSValid, MX: []MX{amx},
		WantFindings: []string{"mx.uncovered"}, WantExit: 4,
	},
	{
		Name: "cname", Domain: sub("cname"), Rules: []string{"STS-SEND-9", "OPS-2"},
		Note:  "the MX target mxalias.example.test is a CNAME (RFC 2181 10.3); its certificate covers both names",
		Serve: ServePolicy, STS: STSValid, MX: []MX{mxalias},
		WantFindings: []string{"mx.cname"}, WantExit: 4,
	},
	{
		Name: "mismatch", Domain: sub("mismatch"), Rules: []string{"STS-SEND-8", "STS-SEND-10"},
		Note:  "MX mx1 and mx2; the enforce policy lists mx1 only, and mx2's certificate is for another name",
		Serve: ServePolicy, STS: STSValid, MX: []MX{mx1, mx2},
		WantFindings: []string{"mx.uncovered", "mx.cert-name"}, WantExit: 4,
	},
	{
		Name: "wildcard", Domain: sub("wildcard"), Rules: []string{"STS-POL-15", "STS-SEND-10"},
		Note:  "mx: *.example.test covers mx1 and mx2; mx2's certificate is for another name",
		Serve: ServePolicy, STS: STSValid, MX: []MX{mx1, mx2},
		WantFindings: []string{"mx.cert-name"}, WantExit: 4,
	},

	// ---- 3 MX TLS (enforce policies that list the MX)
	{
		Name: "mxwrongsan", Domain: sub("mxwrongsan"), Rules: []string{"STS-SEND-10"},
		Note:  "the MX mx2 presents a certificate for wrong.example.test",
		Serve: ServePolicy, STS: STSValid, MX: []MX{mx2},
		WantFindings: []string{"mx.cert-name"}, WantExit: 4,
	},
	{
		Name: "nostarttls", Domain: sub("nostarttls"), Rules: []string{"STS-SEND-8"},
		Note:  "the MX mx4 offers no STARTTLS",
		Serve: ServePolicy, STS: STSValid, MX: []MX{mx4},
		WantFindings: []string{"mx.starttls-missing"}, WantExit: 4,
	},
	{
		Name: "mxexpired", Domain: sub("mxexpired"), Rules: []string{"STS-SEND-10"},
		Note:  "the MX mx3 presents an expired certificate",
		Serve: ServePolicy, STS: STSValid, MX: []MX{mx3},
		WantFindings: []string{"mx.cert-expired"}, WantExit: 4,
	},
	{
		Name: "mxuntrusted", Domain: sub("mxuntrusted"), Rules: []string{"STS-SEND-10"},
		Note:  "the MX presents a certificate from a CA that is in no trust store",
		Serve: ServePolicy, STS: STSValid, MX: []MX{mxrogue},
		WantFindings: []string{"mx.cert-untrusted"}, WantExit: 4,
	},
	{
		Name: "mxexpiring", Domain: sub("mxexpiring"), Rules: []string{"STS-SEND-4", "STS-SEND-10"},
		Note:  "the MX certificate expires in 3 to 5 days, inside the policy's max_age of 604800",
		Serve: ServePolicy, STS: STSValid, MX: []MX{mxsoon},
		WantWarnings: []string{"mx.cert-expiring"}, WantExit: 0,
	},
	{
		Name: "badmx", Domain: sub("badmx"), Rules: []string{"STS-TXT-1"},
		Note:  "no MTA-STS at all; MX with an expired certificate and MX without STARTTLS",
		Serve: ServeNoHost, STS: STSNone, MX: []MX{mx3, mx4},
		WantWarnings: []string{"sts-record.missing", "tlsrpt.missing"}, WantExit: 0,
	},

	// ---- 4 id sync
	{
		Name: "drift", Domain: sub("drift"), Rules: []string{"STS-TXT-10", "STS-SEND-3"},
		Note:  "the id (stspilot's scheme) hashes max_age 86400; the host serves max_age 604800",
		Serve: ServePolicy, IDScheme: "drift", STS: STSValid, MX: []MX{mx1},
		WantFindings: []string{"policy.id-drift"}, WantExit: 4,
	},

	// ---- 5 max_age
	{
		Name: "maxagelow", Domain: sub("maxagelow"), Rules: []string{"STS-POL-9", "OPS-1"},
		Note:  "max_age: 3600",
		Serve: ServePolicy, STS: STSValid, MX: []MX{mx1},
		WantWarnings: []string{"policy.max-age-low"}, WantExit: 0,
	},
	{
		Name: "maxagehigh", Domain: sub("maxagehigh"), Rules: []string{"STS-POL-9"},
		Note:  "max_age: 40000000, above 31557600 (pmsr, mailauth and chasquid reject the policy)",
		Serve: ServePolicy, STS: STSFetchError, MX: []MX{mx1},
		WantFindings: []string{"policy.max-age-high"}, WantExit: 4,
	},

	// ---- 6 TLS-RPT
	{
		Name: "rptscheme", Domain: sub("rptscheme"), Rules: []string{"RPT-REC-4"},
		Note:  "TLS-RPT rua=http://... (only mailto: and https: are defined)",
		Serve: ServePolicy, STS: STSValid, MX: []MX{mx1},
		WantFindings: []string{"tlsrpt.rua-scheme"}, WantExit: 4,
	},
	{
		Name: "rpttwo", Domain: sub("rpttwo"), Rules: []string{"RPT-REC-5", "OPS-3"},
		Note:  "TLS-RPT with two rua destinations (Microsoft reports to the first only)",
		Serve: ServePolicy, STS: STSValid, MX: []MX{mx1},
		WantWarnings: []string{"tlsrpt.rua-multiple"}, WantExit: 0,
	},

	// ---- 7 removal
	{
		Name: "orphan", Domain: sub("orphan"), Rules: []string{"STS-SEND-16"},
		Note:  "the _mta-sts TXT record is gone while an enforce policy is still served",
		Serve: ServePolicy, STS: STSNone, MX: []MX{mx1},
		WantFindings: []string{"teardown.orphan-policy"}, WantExit: 4,
	},
}

// Lookup returns the scenario with the given name.
func Lookup(name string) (Scenario, bool) {
	for _, s := range Scenarios {
		if s.Name == name {
			return s, true
		}
	}
	return Scenario{}, false
}
