package textout

import (
	"time"

	"github.com/stspilot/stspilot/checks"
)

var checkedAt = time.Date(2026, 11, 28, 16, 33, 7, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

// brokenEnforce is a hand-built report of an enforce domain with something
// wrong in most areas. Its findings are deliberately out of order: the
// renderer must group and sort them.
func brokenEnforce() *checks.Report {
	return &checks.Report{
		Schema:     checks.SchemaVersion,
		Domain:     "example.com",
		Input:      "Example.COM.",
		CheckedAt:  checkedAt,
		DurationMS: 1234,
		Stage:      "enforce",
		STS: &checks.STSInfo{
			Name:    "_mta-sts.example.com",
			Records: []string{"v=STSv1; id=20261101090000abcdefgh"},
			ID:      "20261101090000abcdefgh",
			IDScheme: &checks.IDScheme{
				PublishedAt: time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC),
				Hash:        "abcdefgh",
				Matches:     ptr(false),
			},
			TTL: 300,
		},
		Policy: &checks.PolicyInfo{
			Host:   "mta-sts.example.com",
			URL:    "https://mta-sts.example.com/.well-known/mta-sts.txt",
			Text:   "version: STSv1\nmode: enforce\nmx: mx1.example.com\nmax_age: 3600\n",
			Mode:   "enforce",
			MaxAge: 3600,
			MX:     []string{"mx1.example.com"},
			Fetch: []checks.FetchInfo{
				{Addr: "192.0.2.10", UserAgent: "stspilot", Status: 200, ContentType: "text/plain", Bytes: 67, SHA256: "aa", ElapsedMS: 120, CertExpiry: "2027-02-01"},
				{Addr: "192.0.2.10", UserAgent: "Mozilla/5.0", Status: 200, ContentType: "text/plain", Bytes: 67, SHA256: "aa", ElapsedMS: 110, CertExpiry: "2027-02-01"},
				{Addr: "2001:db8::10", UserAgent: "stspilot", Status: 403, ContentType: "text/html", Bytes: 512, ElapsedMS: 30},
				{Addr: "2001:db8::10", UserAgent: "Mozilla/5.0", Status: 200, ContentType: "text/plain", Bytes: 67, ElapsedMS: 25},
				{Addr: "2001:db8::11", UserAgent: "stspilot", ElapsedMS: 3000, Error: "connect: connection refused"},
				{Addr: "2001:db8::11", UserAgent: "Mozilla/5.0", ElapsedMS: 3000, Error: "connect: connection refused"},
			},
		},
		MX: []checks.MXInfo{
			{Host: "mx1.example.com", Preference: 10, Covered: ptr(true), Pattern: "mx1.example.com", Addrs: []checks.MXAddrInfo{
				{Addr: "192.0.2.25", STARTTLS: true, TLSVersion: "TLS1.3", CertExpiry: "2027-01-15", ElapsedMS: 80},
			}},
			{Host: "backup-mx.example.net", Preference: 100, Covered: ptr(false), Addrs: []checks.MXAddrInfo{
				{Addr: "198.51.100.7", STARTTLS: false, ElapsedMS: 40},
			}},
		},
		TLSRPT: &checks.TLSRPTInfo{
			Name:    "_smtp._tls.example.com",
			Records: []string{"v=TLSRPTv1; rua=mailto:tlsrpt@example.com"},
			RUA:     []string{"mailto:tlsrpt@example.com"},
		},
		Senders: []checks.SenderView{
			{Impl: "Google", Outcome: "policy", Mode: "enforce", MaxAge: 3600},
			{Impl: "mox", Outcome: "policy", Mode: "enforce", MaxAge: 3600},
			{Impl: "postfix-tlspol", Outcome: "fetch-error", Reason: "timeout after 2s"},
		},
		Findings: []checks.Finding{
			{
				ID: "teardown.host-gone", Severity: checks.SevWarn, Area: "teardown", Subject: "mta-sts.example.com",
				Observed: "one address refuses connections", Why: "cached policies stay", Fix: "serve the policy from every address",
			},
			{
				ID: "policy.max-age-low", Severity: checks.SevWarn, Area: "policy", Subject: "mta-sts.example.com",
				Observed: "max_age: 3600", Why: "a policy that expires within hours gives little protection between fetches",
				Fix: "serve max_age: 604800 or more (then change the id)", Rules: []string{"STS-POL-9", "OPS-1"},
			},
			{
				ID: "mx.starttls-missing", Severity: checks.SevError, Area: "tls", Subject: "backup-mx.example.net/198.51.100.7",
				Observed: "EHLO reply lists no STARTTLS", Why: "under enforce senders will not deliver to this MX",
				Senders: []string{"Google", "Microsoft 365"}, Fix: "enable STARTTLS on backup-mx.example.net",
				Rules: []string{"STS-SEND-8"}, ResultType: "starttls-not-supported",
			},
			{
				ID: "future.thing", Severity: checks.SevError, Area: "future", Subject: "example.com",
				Observed: "something new", Why: "an area this renderer does not know yet", Fix: "read the docs",
			},
			{
				ID: "policy.id-drift", Severity: checks.SevError, Area: "policy", Subject: "_mta-sts.example.com",
				Observed: "served policy hashes to zyxwvuts, the id says abcdefgh",
				Why:      "senders refetch only when the id changes: those holding the old policy keep it for up to its max_age",
				Senders:  []string{"Google", "Microsoft 365", "mox"},
				Fix:      `publish a new id: _mta-sts.example.com TXT "v=STSv1; id=20261128163307zyxwvuts"`,
				Rules:    []string{"STS-TXT-10", "STS-SEND-3"},
			},
			{
				ID: "mx.uncovered", Severity: checks.SevError, Area: "mx", Subject: "backup-mx.example.net",
				Observed: "no mx pattern of the policy matches backup-mx.example.net",
				Why:      "under enforce, senders refuse to deliver to an MX the policy does not list (Microsoft: 4.4.8/5.4.8); under testing they report validation-failure",
				Senders:  []string{"Google", "Microsoft 365", "mox", "go-mtasts/maddy", "chasquid"},
				Fix:      "serve this policy (then change the id):\nversion: STSv1\nmode: enforce\nmx: mx1.example.com\nmx: backup-mx.example.net\nmax_age: 604800",
				Rules:    []string{"STS-SEND-8", "STS-POL-15", "OPS-4", "OPS-6"}, ResultType: "validation-failure",
			},
			{
				ID: "sts-record.id-scheme", Severity: checks.SevInfo, Area: "sts", Subject: "_mta-sts.example.com",
				Observed: "id 20261101090000abcdefgh", Why: "the id carries its publication time and a hash of the policy", Rules: []string{"STS-TXT-10"},
			},
			{
				ID: "sts-record.foreign-txt", Severity: checks.SevWarn, Area: "sts", Subject: "_mta-sts.example.com",
				Observed: `another TXT record: "google-site-verification=abc"`,
				Why:      "go-mtasts (maddy) requires exactly one TXT record at _mta-sts and sees no policy at all when any other TXT record is there",
				Senders:  []string{"go-mtasts/maddy"}, Fix: "delete the other TXT record at _mta-sts.example.com",
				Rules: []string{"STS-TXT-4", "OPS-12"},
			},
			{
				ID: "tlsrpt.rua-multiple", Severity: checks.SevWarn, Area: "tlsrpt", Subject: "_smtp._tls.example.com",
				Observed: "2 destinations", Why: "Microsoft sends reports only to the first rua destination",
				Fix: `_smtp._tls.example.com TXT "v=TLSRPTv1; rua=mailto:tlsrpt@example.com"`, Rules: []string{"RPT-REC-5"},
			},
			{
				ID: "policy.content-type", Severity: checks.SevError, Area: "policy", Subject: "mta-sts.example.com/192.0.2.10",
				Observed: "Content-Type: text/html", Why: "strict senders reject any media type but text/plain",
				Fix: "serve it as Content-Type: text/plain", Rules: []string{"STS-FETCH-9"}, ResultType: "sts-policy-invalid",
			},
			{
				ID: "sts-record.lookup-failed", Severity: checks.SevError, Area: "dns", Subject: "example.com",
				Observed: "MX lookup: SERVFAIL from 192.0.2.53", Why: "senders whose resolvers fail the same way cannot discover the policy",
				Fix: "make the authoritative name servers of example.com answer",
			},
		},
	}
}

// healthy is a clean testing-stage report.
func healthy() *checks.Report {
	return &checks.Report{
		Schema: checks.SchemaVersion, Domain: "healthy.example", CheckedAt: checkedAt, DurationMS: 640, Stage: "testing",
		STS: &checks.STSInfo{Name: "_mta-sts.healthy.example", Records: []string{"v=STSv1; id=abc123"}, ID: "abc123", TTL: 3600},
		Policy: &checks.PolicyInfo{
			Host: "mta-sts.healthy.example", URL: "https://mta-sts.healthy.example/.well-known/mta-sts.txt",
			Mode: "testing", MaxAge: 86400, MX: []string{"*.healthy.example"},
			Fetch: []checks.FetchInfo{{Addr: "192.0.2.80", Status: 200, ContentType: "text/plain", Bytes: 70, ElapsedMS: 45}},
		},
		MX: []checks.MXInfo{{
			Host: "mx.healthy.example", Preference: 0, Covered: ptr(true), Pattern: "*.healthy.example",
			Addrs: []checks.MXAddrInfo{{Addr: "192.0.2.81", STARTTLS: true, TLSVersion: "TLS1.3", ElapsedMS: 30}},
		}},
		TLSRPT:   &checks.TLSRPTInfo{Name: "_smtp._tls.healthy.example", Records: []string{"v=TLSRPTv1; rua=mailto:r@healthy.example"}, RUA: []string{"mailto:r@healthy.example"}},
		Senders:  []checks.SenderView{{Impl: "Google", Outcome: "policy", Mode: "testing", MaxAge: 86400}, {Impl: "mox", Outcome: "policy", Mode: "testing", MaxAge: 86400}},
		Findings: []checks.Finding{},
	}
}

// notChecked is a report of a domain that could not be checked.
func notChecked() *checks.Report {
	return &checks.Report{
		Schema: checks.SchemaVersion, Domain: "down.example", CheckedAt: checkedAt,
		Error: "could not check down.example: no DNS answer (i/o timeout)", Findings: []checks.Finding{},
	}
}
