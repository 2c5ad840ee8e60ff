package checks

import (
	"maps"
	"slices"
)

// Areas group findings in the order an operator fixes them.
const (
	AreaSTS      = "sts"      // the _mta-sts TXT record
	AreaPolicy   = "policy"   // the policy host and file
	AreaMX       = "mx"       // MX coverage by the mx patterns
	AreaTLS      = "tls"      // STARTTLS and certificates of the MX hosts
	AreaTLSRPT   = "tlsrpt"   // the _smtp._tls TXT record
	AreaTeardown = "teardown" // removal in progress or half done
	AreaDNS      = "dns"      // the domain's DNS itself
)

// Entry is the fixed part of a finding: what it means, whom it hurts, which
// rules it rests on and what a reporting sender would call it.
type Entry struct {
	ID         string
	Area       string
	Severity   Severity // the default; the engine raises or lowers it by mode
	Title      string
	Why        string
	Senders    []string
	Rules      []string
	ResultType string
}

// Sender names used in the catalogue, as in docs/rules.md, "Sender implementations".
var (
	allSenders    = []string{"Google", "Microsoft 365", "mox", "go-mtasts/maddy", "postfix-mta-sts-resolver", "postfix-tlspol", "mailauth", "chasquid"}
	strictSenders = []string{"mox", "go-mtasts/maddy", "postfix-tlspol"}
	// mxTLSSenders are those the MX TLS findings (STARTTLS, certificate)
	// name: every implementation but mailauth and chasquid, whose MX
	// checks docs/rules.md does not describe.
	mxTLSSenders = []string{"Google", "Microsoft 365", "mox", "go-mtasts/maddy", "postfix-mta-sts-resolver", "postfix-tlspol"}
)

// Catalog lists every finding id stspilot can report. The ids are a contract
// (docs/design.md): add, never rename.
var Catalog = map[string]Entry{}

func init() {
	for _, e := range catalogEntries {
		Catalog[e.ID] = e
	}
}

// IDs returns every finding id, sorted.
func IDs() []string {
	return slices.Sorted(maps.Keys(Catalog))
}

var catalogEntries = []Entry{
	// ---- the _mta-sts TXT record
	{
		ID: "sts-record.missing", Area: AreaSTS, Severity: SevWarn, Title: "no _mta-sts TXT record",
		Why:   "without the record no sender looks for a policy: mail to this domain is sent with opportunistic TLS that an attacker on the path can strip",
		Rules: []string{"STS-TXT-1", "STS-TXT-5"},
	},
	{
		ID: "sts-record.multiple", Area: AreaSTS, Severity: SevError, Title: "more than one v=STSv1 record",
		Why:     "with two or more STSv1 records every sender must act as if the domain had no policy; senders holding a cached policy keep it until it expires and never see a new id",
		Senders: allSenders, Rules: []string{"STS-TXT-5"}, ResultType: "sts-policy-invalid",
	},
	{
		ID: "sts-record.syntax", Area: AreaSTS, Severity: SevError, Title: "the _mta-sts record does not parse",
		Why:     "a record that fails the grammar is treated as no record: new senders find no policy, cached policies are never refreshed",
		Senders: []string{"mox", "postfix-tlspol", "Google", "Microsoft 365"}, Rules: []string{"STS-TXT-6", "STS-TXT-8"}, ResultType: "sts-policy-invalid",
	},
	{
		ID: "sts-record.id-invalid", Area: AreaSTS, Severity: SevError, Title: "the id is not 1-32 letters and digits",
		Why:     "strict senders reject the whole record, so they never fetch the policy or notice a change",
		Senders: []string{"mox", "postfix-tlspol"}, Rules: []string{"STS-TXT-9"}, ResultType: "sts-policy-invalid",
	},
	{
		ID: "sts-record.foreign-txt", Area: AreaSTS, Severity: SevWarn, Title: "another TXT record shares the _mta-sts name",
		Why:     "go-mtasts (maddy) requires exactly one TXT record at _mta-sts and sees no policy at all when any other TXT record is there",
		Senders: []string{"go-mtasts/maddy"}, Rules: []string{"STS-TXT-4", "OPS-12"},
	},
	{
		ID: "sts-record.id-scheme", Area: AreaSTS, Severity: SevInfo, Title: "the id follows stspilot's scheme",
		Why:   "the id carries its publication time and a hash of the policy, so anyone can tell from DNS alone when it was published and whether the served file still matches",
		Rules: []string{"STS-TXT-10"},
	},
	{
		ID: "domain.nxdomain", Area: AreaDNS, Severity: SevError, Title: "the domain does not exist",
		Why:   "the resolver says the name does not exist (NXDOMAIN): there is no MX to deliver to and no record or policy to find, so there is nothing to check or deploy; often a typo",
		Rules: []string{"STS-SEND-9"},
	},
	{
		ID: "sts-record.lookup-failed", Area: AreaDNS, Severity: SevError, Title: "a DNS lookup of the domain failed",
		Why:     "senders whose resolvers fail the same way cannot discover or refresh the policy; under enforce, cached policies still apply and MX lookups that fail delay mail",
		Senders: allSenders, Rules: []string{"STS-FETCH-11", "STS-FETCH-12"},
	},

	// ---- 1 policy unreachable
	{
		ID: "policy.unreachable", Area: AreaPolicy, Severity: SevError, Title: "the policy host cannot be reached",
		Why:     "senders cannot fetch the policy: new senders apply none, senders with a cached policy keep it and report the failure",
		Senders: allSenders, Rules: []string{"STS-FETCH-1", "STS-FETCH-11", "STS-FETCH-12"}, ResultType: "sts-policy-fetch-error",
	},
	{
		ID: "policy.http-status", Area: AreaPolicy, Severity: SevError, Title: "the policy URL does not answer 200",
		Why:     "only status 200 yields a policy; any other status is a fetch failure (postfix-tlspol even reads it as \"no policy\")",
		Senders: []string{"Google", "Microsoft 365", "mox", "go-mtasts/maddy", "postfix-mta-sts-resolver", "postfix-tlspol", "chasquid"}, Rules: []string{"STS-FETCH-5"}, ResultType: "sts-policy-fetch-error",
	},
	{
		ID: "policy.redirect", Area: AreaPolicy, Severity: SevError, Title: "the policy URL redirects",
		Why:     "senders never follow redirects for the policy: a redirect is a fetch failure for every implementation",
		Senders: allSenders, Rules: []string{"STS-FETCH-6", "OPS-9"}, ResultType: "sts-policy-fetch-error",
	},
	{
		ID: "policy.content-type", Area: AreaPolicy, Severity: SevError, Title: "the policy is not served as text/plain",
		Why:     "go-mtasts, postfix-mta-sts-resolver and postfix-tlspol reject any media type but text/plain, and a missing Content-Type",
		Senders: []string{"go-mtasts/maddy", "postfix-mta-sts-resolver", "postfix-tlspol"}, Rules: []string{"STS-FETCH-9", "OPS-9"}, ResultType: "sts-policy-invalid",
	},
	{
		ID: "policy.cert", Area: AreaPolicy, Severity: SevError, Title: "the policy host's certificate is not valid",
		Why:     "senders authenticate the policy host with PKIX: an expired, untrusted or wrong-name certificate means no policy can be fetched",
		Senders: allSenders, Rules: []string{"STS-FETCH-3", "STS-FETCH-4", "STS-FETCH-15", "OPS-13"}, ResultType: "sts-webpki-invalid",
	},
	{
		ID: "policy.cert-expiring", Area: AreaPolicy, Severity: SevWarn, Title: "the policy host's certificate expires soon",
		Why:     "when it expires, every policy fetch fails until it is renewed",
		Senders: allSenders, Rules: []string{"STS-FETCH-3"}, ResultType: "sts-webpki-invalid",
	},
	{
		ID: "policy.cert-expires-in-horizon", Area: AreaPolicy, Severity: SevWarn, Title: "the policy host's certificate expires while senders may hold enforce",
		Why:     "senders holding the enforce policy refetch it before it expires; once the host's certificate has expired they cannot, so they keep the cached policy and never see a change (a rollback, a new mx pattern, mode none) until the horizon passes",
		Senders: allSenders, Rules: []string{"STS-SEND-5", "STS-FETCH-3"}, ResultType: "sts-webpki-invalid",
	},
	{
		ID: "policy.too-large", Area: AreaPolicy, Severity: SevError, Title: "the policy body is larger than 64 KiB",
		Why:     "mox, postfix-mta-sts-resolver and postfix-tlspol stop reading at 64 KiB and discard the policy",
		Senders: []string{"mox", "postfix-mta-sts-resolver", "postfix-tlspol", "Google"}, Rules: []string{"STS-FETCH-10", "STS-POL-19"}, ResultType: "sts-policy-fetch-error",
	},
	{
		ID: "policy.slow", Area: AreaPolicy, Severity: SevWarn, Title: "the policy host answers slowly",
		Why:     "postfix-tlspol gives up after 2 s and postfix-mta-sts-resolver after 4 s; a slow host looks unreachable to them",
		Senders: []string{"postfix-tlspol", "postfix-mta-sts-resolver"}, Rules: []string{"STS-FETCH-10", "OPS-8"}, ResultType: "sts-policy-fetch-error",
	},
	{
		ID: "policy.agent-blocked", Area: AreaPolicy, Severity: SevError, Title: "the policy host blocks mail senders but not browsers",
		Why:     "a bot filter or WAF answers a mail sender's User-Agent differently from a browser's, so it looks fine in a browser while senders cannot fetch the policy",
		Senders: allSenders, Rules: []string{"STS-FETCH-14"}, ResultType: "sts-policy-fetch-error",
	},
	{
		ID: "policy.ip-divergence", Area: AreaPolicy, Severity: SevError, Title: "the policy host's addresses serve different answers",
		Why:     "each sender reaches one address; senders get different policies (or none) depending on which one, and an id change only works once every address serves the new file",
		Senders: allSenders, Rules: []string{"STS-SEND-17"}, ResultType: "sts-policy-invalid",
	},

	// ---- policy text
	{
		ID: "policy.syntax", Area: AreaPolicy, Severity: SevError, Title: "the policy file does not parse",
		Why:     "strict senders reject the whole policy and act as if there were none",
		Senders: strictSenders, Rules: []string{"STS-POL-1"}, ResultType: "sts-policy-invalid",
	},
	{
		ID: "policy.strictness", Area: AreaPolicy, Severity: SevWarn, Title: "real senders read this policy differently",
		Why:   "the same bytes are accepted by some implementations and rejected, or read differently, by others",
		Rules: []string{"STS-POL-3", "STS-POL-4", "STS-POL-14"}, ResultType: "sts-policy-invalid",
	},

	// ---- 2 MX coverage
	{
		ID: "mx.none", Area: AreaMX, Severity: SevError, Title: "the domain has no usable MX record",
		Why:   "MTA-STS protects delivery to MX hosts; with no MX (or a null MX) a policy covers nothing, and RFC 8461 does not define the implicit-MX case",
		Rules: []string{"STS-SEND-9"},
	},
	{
		ID: "mx.uncovered", Area: AreaMX, Severity: SevError, Title: "an MX host matches no mx pattern",
		Why:     "under enforce, senders refuse to deliver to an MX the policy does not list (Microsoft: 4.4.8/5.4.8); under testing they report validation-failure",
		Senders: []string{"Google", "Microsoft 365", "mox", "go-mtasts/maddy", "chasquid"}, Rules: []string{"STS-SEND-8", "STS-POL-15", "OPS-4", "OPS-6"}, ResultType: "validation-failure",
	},
	{
		ID: "mx.cname", Area: AreaMX, Severity: SevError, Title: "an MX target is a CNAME",
		Why:   "MX targets must not be aliases; senders match the name in the MX record and verify the certificate for it, not for the alias target",
		Rules: []string{"OPS-2", "STS-SEND-9"}, ResultType: "certificate-host-mismatch",
	},
	{
		ID: "mx.too-many", Area: AreaMX, Severity: SevWarn, Title: "more MX hosts than stspilot probes",
		Why:   "only the first hosts by preference were probed; the rest are unchecked",
		Rules: []string{"STS-SEND-8"},
	},

	// ---- 3 MX TLS
	{
		ID: "mx.unreachable", Area: AreaTLS, Severity: SevWarn, Title: "port 25 of an MX address did not answer",
		Why:   "the SMTP probe could not connect; many networks block outbound port 25, so this may be the checking machine's network rather than the MX",
		Rules: []string{"STS-SEND-12"},
	},
	{
		ID: "mx.starttls-missing", Area: AreaTLS, Severity: SevError, Title: "an MX does not offer STARTTLS",
		Why:     "under a policy, senders require STARTTLS: under enforce they will not deliver to this MX, under testing they report it",
		Senders: mxTLSSenders, Rules: []string{"STS-SEND-8"}, ResultType: "starttls-not-supported",
	},
	{
		ID: "mx.cert-untrusted", Area: AreaTLS, Severity: SevError, Title: "an MX certificate does not chain to a trusted root",
		Why:     "MTA-STS requires a PKIX-valid certificate on every MX: under enforce senders will not deliver (Microsoft: 4.7.5/5.7.5)",
		Senders: mxTLSSenders, Rules: []string{"STS-SEND-10", "OPS-4"}, ResultType: "certificate-not-trusted",
	},
	{
		ID: "mx.cert-name", Area: AreaTLS, Severity: SevError, Title: "an MX certificate does not name the MX host",
		Why:     "the certificate must carry the MX host name as a subjectAltName (a wildcard covers one label); under enforce senders will not deliver",
		Senders: mxTLSSenders, Rules: []string{"STS-SEND-10", "STS-SEND-11"}, ResultType: "certificate-host-mismatch",
	},
	{
		ID: "mx.cert-expired", Area: AreaTLS, Severity: SevError, Title: "an MX certificate has expired",
		Why:     "under enforce senders will not deliver to this MX; under testing they report it",
		Senders: mxTLSSenders, Rules: []string{"STS-SEND-10"}, ResultType: "certificate-expired",
	},
	{
		ID: "mx.cert-expiring", Area: AreaTLS, Severity: SevWarn, Title: "an MX certificate expires while senders may still cache the policy",
		Why:   "senders keep the policy for max_age after their last fetch; if the certificate is not renewed before it expires, they stop delivering to this MX",
		Rules: []string{"STS-SEND-4", "STS-SEND-10"}, ResultType: "certificate-expired",
	},
	{
		ID: "mx.cert-expires-in-horizon", Area: AreaTLS, Severity: SevWarn, Title: "an MX certificate expires before the enforce policy senders may hold",
		Why:     "senders may hold the enforce policy until its horizon (the journal's ledger: max_age after it was last served); if this certificate expires before then and is not renewed, those senders stop delivering to this MX, whatever is published meanwhile",
		Senders: mxTLSSenders, Rules: []string{"STS-SEND-4", "STS-SEND-10"}, ResultType: "certificate-expired",
	},
	{
		ID: "mx.tls-version", Area: AreaTLS, Severity: SevError, Title: "an MX negotiates TLS older than 1.2",
		Why:   "MTA-STS senders require TLS 1.2 or newer",
		Rules: []string{"STS-SEND-21"}, ResultType: "validation-failure",
	},

	// ---- 4 id sync
	{
		ID: "policy.id-drift", Area: AreaPolicy, Severity: SevError, Title: "the served policy changed but the id did not",
		Why:     "senders refetch only when the id changes: those holding the old policy keep it for up to its max_age",
		Senders: []string{"Google", "Microsoft 365", "mox", "go-mtasts/maddy", "postfix-mta-sts-resolver", "mailauth"}, Rules: []string{"STS-TXT-10", "STS-SEND-3"},
	},

	// ---- 5 mode and max_age
	{
		ID: "policy.max-age-low", Area: AreaPolicy, Severity: SevWarn, Title: "max_age is very short",
		Why:   "a policy that expires within hours gives little protection between fetches; Gmail is rumoured (unconfirmed) to ignore max_age below 86400",
		Rules: []string{"STS-POL-9", "OPS-1"},
	},
	{
		ID: "policy.max-age-high", Area: AreaPolicy, Severity: SevError, Title: "max_age is above the one-year limit",
		Why:     "values above 31557600 are invalid: postfix-mta-sts-resolver, mailauth and chasquid reject the policy, postfix-tlspol caps it",
		Senders: []string{"postfix-mta-sts-resolver", "mailauth", "chasquid", "postfix-tlspol"}, Rules: []string{"STS-POL-9"}, ResultType: "sts-policy-invalid",
	},
	{
		ID: "policy.testing-long-max-age", Area: AreaPolicy, Severity: SevWarn, Title: "testing mode with a long max_age",
		Why:   "testing is for finding problems; a long max_age there buys nothing and makes every later change take longer to reach senders",
		Rules: []string{"STS-SEND-5", "STS-SEND-14"},
	},

	// ---- 6 TLS-RPT
	{
		ID: "tlsrpt.missing", Area: AreaTLSRPT, Severity: SevWarn, Title: "no TLS-RPT record",
		Why:   "without _smtp._tls no sender reports TLS failures, so a testing rollout produces no evidence and enforce failures go unseen",
		Rules: []string{"RPT-REC-1"},
	},
	{
		ID: "tlsrpt.syntax", Area: AreaTLSRPT, Severity: SevError, Title: "the TLS-RPT record does not parse",
		Why:   "reporters ignore an invalid record (or several), so no reports arrive",
		Rules: []string{"RPT-REC-2", "RPT-REC-3", "RPT-REC-7"},
	},
	{
		ID: "tlsrpt.rua-scheme", Area: AreaTLSRPT, Severity: SevError, Title: "a TLS-RPT destination uses an unsupported scheme",
		Why:   "only mailto: and https: destinations are defined; reporters skip anything else",
		Rules: []string{"RPT-REC-4"},
	},
	{
		ID: "tlsrpt.rua-multiple", Area: AreaTLSRPT, Severity: SevWarn, Title: "more than one TLS-RPT destination",
		Why:     "Microsoft sends reports only to the first rua destination",
		Senders: []string{"Microsoft 365"}, Rules: []string{"RPT-REC-5", "OPS-3"},
	},
	{
		ID: "tlsrpt.failures", Area: AreaTLSRPT, Severity: SevError, Title: "TLS-RPT reports show failures under the live policy",
		Why:   "senders report TLS failures under the live policy: once it enforces, they would refuse that mail instead of delivering it",
		Rules: []string{"STS-SEND-14", "OPS-10"},
	},

	// ---- 7 removal
	{
		ID: "teardown.orphan-policy", Area: AreaTeardown, Severity: SevError, Title: "the TXT record is gone but a policy is still served",
		Why:     "senders that cached the policy keep applying it, and some refresh it from the host without the TXT record, while nothing can signal a change any more; remove MTA-STS by publishing mode: none with a new id first",
		Senders: []string{"mox", "postfix-mta-sts-resolver", "postfix-tlspol"}, Rules: []string{"STS-SEND-16", "STS-TXT-7"},
	},
	{
		ID: "teardown.host-gone", Area: AreaTeardown, Severity: SevError, Title: "the TXT record remains but the policy host is gone",
		Why:     "senders see a policy id but cannot fetch the policy; those with a cached enforce policy keep enforcing it and report fetch errors",
		Senders: allSenders, Rules: []string{"STS-SEND-16", "STS-FETCH-11", "STS-FETCH-12"}, ResultType: "sts-policy-fetch-error",
	},
}

// newFinding fills a finding from its catalogue entry. An unknown id is a
// programming error caught by the catalogue test; it still yields a finding.
func newFinding(id, subject, observed, fix string) Finding {
	e, ok := Catalog[id]
	if !ok {
		e = Entry{ID: id, Area: "other", Severity: SevError}
	}
	return Finding{
		ID: id, Severity: e.Severity, Area: e.Area, Subject: subject,
		Observed: observed, Why: e.Why, Senders: e.Senders, Fix: fix,
		Rules: e.Rules, ResultType: e.ResultType,
	}
}

// TLSRPTFailures is the finding for TLS-RPT reports of domain that show
// failures under the live policy, which block promote: the live check
// cannot see them, the workflow's evidence gate can; observed says what the
// reports show.
func TLSRPTFailures(domain, observed string) Finding {
	return newFinding("tlsrpt.failures", "_smtp._tls."+domain+" reports", observed,
		"fix what the reports name (the MX host and the result type); promote goes ahead once the reports under the live policy show no failures")
}
