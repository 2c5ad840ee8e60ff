package checks

import (
	"crypto/x509"
	"encoding/json"
	"fmt"
	"time"

	"github.com/stspilot/stspilot/checks/smtpprobe"
	"github.com/stspilot/stspilot/internal/printable"
)

// SchemaVersion names the JSON document `check --json` prints (docs/json.md).
const SchemaVersion = "stspilot.check/v1"

// Options configure one check run. The zero value checks against the system
// resolver, the system roots and the real ports.
type Options struct {
	// Resolvers are DNS servers, IP addresses with an optional port as
	// dnsclient.ParseServer accepts them, host names refused (default:
	// /etc/resolv.conf).
	Resolvers []string
	// Timeout bounds the whole check of one domain (default 30s).
	Timeout time.Duration
	// Roots verifies policy-host and MX certificates (nil: system pool,
	// which honours SSL_CERT_FILE).
	Roots *x509.CertPool
	// HTTPSPort and SMTPPort replace 443 and 25 (tests only; 0 = default).
	HTTPSPort, SMTPPort int
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// MaxMX caps how many MX hosts are probed (default 20); more are named
	// in a finding and left unprobed.
	MaxMX int
	// Progress, when set, is called as each probe starts and ends (the
	// wizard's spinners). It must not block.
	Progress func(ProbeEvent)
	// Courtesy takes the commands MX probes send after their last
	// observation (EHLO and QUIT), which Run never waits for (nil: the
	// package's own, which WaitCourtesy joins).
	Courtesy *smtpprobe.Courtesy
}

// ProbeEvent tells a front end that a probe started or finished.
type ProbeEvent struct {
	Probe   string        `json:"probe"` // e.g. "dns:_mta-sts TXT", "https:127.0.0.10", "smtp:mx1.example.test/127.0.0.20"
	Done    bool          `json:"done"`
	OK      bool          `json:"ok"`
	Elapsed time.Duration `json:"-"`
	// ElapsedMS is Elapsed in milliseconds (every JSON duration is whole
	// seconds, or milliseconds in a field named *_ms).
	ElapsedMS int64 `json:"elapsed_ms"`
}

// Report is everything one check of one domain found. Field names are part of
// the versioned JSON schema (docs/json.md): add, never rename.
type Report struct {
	Schema    string    `json:"schema"`
	Domain    string    `json:"domain"`          // A-label form, no trailing dot
	Input     string    `json:"input,omitempty"` // as typed, when it differs (IDN, case, dot)
	CheckedAt time.Time `json:"checked_at"`
	// DurationMS is how long the whole check took.
	DurationMS int64 `json:"duration_ms"`
	// Stage as read from live state: absent, testing, enforce, none, broken.
	Stage    Stage        `json:"stage,omitempty"` // "" (left out) when Error is set
	STS      *STSInfo     `json:"sts,omitempty"`
	Policy   *PolicyInfo  `json:"policy,omitempty"`
	MX       []MXInfo     `json:"mx,omitempty"`
	TLSRPT   *TLSRPTInfo  `json:"tlsrpt,omitempty"`
	Senders  []SenderView `json:"senders,omitempty"`
	Findings []Finding    `json:"findings"`
	// Error is set when the domain could not be checked at all (exit 1).
	Error string `json:"error,omitempty"`
	// Cause is Error's typed cause when there is one (errors.Is works on
	// it: ErrNoResolver), for front ends that say how to fix it.
	Cause error `json:"-"`
	// Live is what the check established, typed (nil with Error): the
	// report's fields above are its printable view.
	Live *Live `json:"-"`
}

// UnmarshalJSON reads a report and refuses a stage the schema does not
// name (Stage.Valid).
func (r *Report) UnmarshalJSON(b []byte) error {
	type report Report // the fields without this method
	if err := json.Unmarshal(b, (*report)(r)); err != nil {
		return err
	}
	if !r.Stage.Valid() {
		return fmt.Errorf("unknown stage %q", printable.Clip(string(r.Stage), 40))
	}
	return nil
}

// STSInfo is the `_mta-sts` TXT record as seen.
type STSInfo struct {
	Name    string   `json:"name"`
	CNAME   []string `json:"cname_chain,omitempty"`
	Records []string `json:"records,omitempty"` // every TXT RR, strings joined
	ID      string   `json:"id,omitempty"`
	// IDScheme is set when the id has stspilot's form (docs/design.md).
	IDScheme *IDScheme `json:"id_scheme,omitempty"`
	TTL      uint32    `json:"ttl,omitempty"`
}

// IDScheme decodes an id of the form yyyymmddhhmmss + 8 base32 characters.
type IDScheme struct {
	PublishedAt time.Time `json:"published_at"`
	Hash        string    `json:"hash"`
	// Matches says whether the served policy hashes to Hash (nil: unknown).
	Matches *bool `json:"matches,omitempty"`
}

// PolicyInfo is the policy file as fetched from every address of the host.
type PolicyInfo struct {
	Host   string      `json:"host"` // mta-sts.DOMAIN
	URL    string      `json:"url"`
	Text   string      `json:"text,omitempty"` // from the first address that served 200
	Mode   string      `json:"mode,omitempty"`
	MaxAge int64       `json:"max_age,omitempty"`
	MX     []string    `json:"mx,omitempty"`
	Fetch  []FetchInfo `json:"fetch,omitempty"`
}

// FetchInfo is one HTTPS fetch of the policy from one address.
type FetchInfo struct {
	Addr        string `json:"addr"`
	UserAgent   string `json:"user_agent"`
	Status      int    `json:"status,omitempty"`
	ContentType string `json:"content_type,omitempty"`
	Location    string `json:"location,omitempty"`
	Bytes       int    `json:"bytes,omitempty"`
	SHA256      string `json:"sha256,omitempty"`
	ElapsedMS   int64  `json:"elapsed_ms"`
	CertProblem string `json:"cert_problem,omitempty"`
	CertExpiry  string `json:"cert_not_after,omitempty"`
	Error       string `json:"error,omitempty"`
}

// MXInfo is one MX host: coverage by the policy and TLS on each address.
type MXInfo struct {
	Host       string       `json:"host"`
	Preference uint16       `json:"preference"`
	CNAME      string       `json:"cname,omitempty"`
	Covered    *bool        `json:"covered,omitempty"` // nil without a policy
	Pattern    string       `json:"pattern,omitempty"`
	Addrs      []MXAddrInfo `json:"addrs,omitempty"`
	Error      string       `json:"error,omitempty"`
}

// MXAddrInfo is the SMTP/STARTTLS probe of one MX address.
type MXAddrInfo struct {
	Addr        string `json:"addr"`
	Banner      string `json:"banner,omitempty"`
	STARTTLS    bool   `json:"starttls"`
	TLSVersion  string `json:"tls_version,omitempty"`
	CertProblem string `json:"cert_problem,omitempty"`
	CertExpiry  string `json:"cert_not_after,omitempty"`
	ElapsedMS   int64  `json:"elapsed_ms"`
	Error       string `json:"error,omitempty"`
}

// TLSRPTInfo is the `_smtp._tls` TXT record as seen.
type TLSRPTInfo struct {
	Name    string   `json:"name"`
	Records []string `json:"records,omitempty"`
	RUA     []string `json:"rua,omitempty"`
}

// SenderView says how one real sender implementation reads this domain.
type SenderView struct {
	Impl    string `json:"impl"`
	Outcome string `json:"outcome"` // policy, no-policy, fetch-error, invalid
	Mode    string `json:"mode,omitempty"`
	MaxAge  int64  `json:"max_age,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

// Worst returns the most severe finding's severity, or "" with no findings.
func (r *Report) Worst() Severity {
	var w Severity
	for _, f := range r.Findings {
		if w == "" || f.Severity.rank() < w.rank() {
			w = f.Severity
		}
	}
	return w
}

// HasErrors reports whether any finding is an error.
func (r *Report) HasErrors() bool { return r.Worst() == SevError }
