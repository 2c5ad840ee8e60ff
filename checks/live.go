package checks

import (
	"time"

	"github.com/stspilot/stspilot/checks/certs"
	"github.com/stspilot/stspilot/checks/mtasts"
	"github.com/stspilot/stspilot/checks/smtpprobe"
)

// Stage is where a domain stands, as docs/design.md names the stages. It
// is the one stage vocabulary: the check report, the workflow engine and
// the journal all use it. Its JSON is the plain string of its name, so the
// stage fields of stspilot.check/v1 and of a journal are the strings they
// always were; a reader of either refuses a stage Valid does not accept
// (Report's UnmarshalJSON, the journal's Validate).
type Stage string

// The stages.
const (
	StageAbsent  Stage = "absent"  // no MTA-STS record and no policy
	StageTesting Stage = "testing" // a testing policy is live
	StageEnforce Stage = "enforce" // an enforce policy is live
	StageNone    Stage = "none"    // mode none is live (a teardown in progress)
	StageBroken  Stage = "broken"  // the record and the policy disagree or fail
)

// Valid reports whether s is one of the stages (or "", unknown).
func (s Stage) Valid() bool {
	switch s {
	case "", StageAbsent, StageTesting, StageEnforce, StageNone, StageBroken:
		return true
	}
	return false
}

// Live is what one check established about a domain, as typed facts to
// decide from: the workflow engine plans from it, never from the strings
// of the JSON report. Report's fields are its public, printable view.
// Nil when the domain could not be checked (Report.Error).
type Live struct {
	// Stage is the stage live state shows.
	Stage Stage
	// STS is the _mta-sts RRset; its ID is set only when exactly one valid
	// STSv1 record names it.
	STS LiveRecord
	// TLSRPT is the _smtp._tls RRset.
	TLSRPT LiveRecord
	// Served is the policy file as the first address that answered 200
	// served it (nil when none did), byte for byte.
	Served []byte
	// Policy is Served parsed, nil when nothing was served or it names no
	// mode.
	Policy *mtasts.Policy
	// PolicyGone: the policy host answered and not one address served the
	// policy with status 200 (a removed policy file).
	PolicyGone bool
	// PolicyCerts are the certificates of the policy host's fetches, for
	// each address as a sender and then as a browser fetched it.
	PolicyCerts []LiveCert
	// MX are the MX hosts probed, in preference order.
	MX []LiveMX
	// MXTTL is the TTL of the MX RRset as the resolver answered it.
	MXTTL time.Duration
}

// ServedPolicy is Served parsed, ok false when nothing was served: Policy
// when it is set, and otherwise the fields of a policy that names no mode
// (which senders do not take as a policy, and Policy leaves out).
func (l *Live) ServedPolicy() (p mtasts.Policy, ok bool) {
	switch {
	case l == nil || l.Served == nil:
		return mtasts.Policy{}, false
	case l.Policy != nil:
		return *l.Policy, true
	}
	p, _ = mtasts.ParsePolicy(l.Served)
	return p, true
}

// showLive fills the report's fields that show what Live holds: the
// stage, the _mta-sts and _smtp._tls records (with the id and the TTL),
// the policy as served with the certificates its fetches were shown, and
// the MX hosts with what each address's probe found (TLS version,
// certificate problem and expiry, error). They are set
// here and nowhere else, so the
// public report cannot say other than what the engine decides from. A
// report without Live (the domain was not checked) is left as it is.
func (r *Report) showLive() {
	l := r.Live
	if l == nil {
		return
	}
	r.Stage = l.Stage
	if r.STS != nil {
		r.STS.Records, r.STS.ID, r.STS.TTL = l.STS.Records, l.STS.ID, uint32(l.STS.TTL/time.Second)
	}
	if r.TLSRPT != nil {
		r.TLSRPT.Records = l.TLSRPT.Records
	}
	if p, ok := l.ServedPolicy(); ok && r.Policy != nil {
		r.Policy.Text = string(l.Served)
		r.Policy.Mode, r.Policy.MaxAge, r.Policy.MX = string(p.Mode), p.MaxAge, p.MX
	}
	// One FetchInfo per LiveCert, in the same order.
	if r.Policy != nil && len(r.Policy.Fetch) == len(l.PolicyCerts) {
		for i, c := range l.PolicyCerts {
			f := &r.Policy.Fetch[i]
			f.Addr, f.CertProblem, f.CertExpiry = c.Addr, string(c.Problem), rfc3339(c.NotAfter)
		}
	}
	// The analysis adds one MXInfo per LiveMX and one MXAddrInfo per
	// LiveMXAddr, in the same order.
	if len(r.MX) != len(l.MX) {
		return
	}
	for i, m := range l.MX {
		x := &r.MX[i]
		x.Host, x.Preference, x.Error = m.Host, m.Preference, ""
		if m.NoAddress {
			x.Error = m.Problem
		}
		if len(x.Addrs) != len(m.Addrs) {
			continue
		}
		for j, a := range m.Addrs {
			y := &x.Addrs[j]
			y.Addr, y.TLSVersion, y.CertProblem, y.Error, y.CertExpiry = a.Addr, a.TLSVersion, string(a.CertProblem), a.Err, rfc3339(a.CertNotAfter)
		}
	}
}

// rfc3339 is t as the report writes times of certificates, "" for zero.
func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// LiveRecord is a TXT RRset.
type LiveRecord struct {
	// Records are every TXT record at the name, strings joined.
	Records []string
	// ID is the id of the one valid STSv1 record ("" otherwise; _mta-sts only).
	ID string
	// TTL is the RRset's TTL.
	TTL time.Duration
}

// LiveCert is the certificate one HTTPS fetch was shown.
type LiveCert struct {
	Addr string
	// Problem is what is wrong with it (certs.OK: nothing).
	Problem certs.Problem
	// NotAfter is when it expires (zero without a certificate).
	NotAfter time.Time
}

// LiveMX is one MX host and the SMTP probes of its addresses.
type LiveMX struct {
	Host string
	// Preference is the MX record's preference (0 for a probed host that
	// is not an MX record yet).
	Preference uint16
	// NoAddress says the host has no A or AAAA record; Problem says why.
	NoAddress bool
	Problem   string
	Addrs     []LiveMXAddr
}

// TLSResult is how STARTTLS went at one MX address.
type TLSResult string

// The results, in the order they are decided.
const (
	TLSOK          TLSResult = "ok"          // STARTTLS with a valid certificate for the host
	TLSUnreachable TLSResult = "unreachable" // no SMTP greeting at all (senders treat the host as down)
	TLSNoSTARTTLS  TLSResult = "no-starttls" // SMTP answered without offering STARTTLS
	TLSBadCert     TLSResult = "bad-cert"    // the certificate fails (CertProblem)
	TLSFailed      TLSResult = "failed"      // the handshake or the session failed otherwise (Err)
)

// LiveMXAddr is the SMTP/STARTTLS probe of one MX address.
type LiveMXAddr struct {
	Addr string
	TLS  TLSResult
	// TLSVersion is the negotiated version's name ("TLS1.3"), "" without one.
	TLSVersion string
	// CertProblem is set for TLSBadCert.
	CertProblem certs.Problem
	// CertNotAfter is when the certificate the address presented expires
	// (zero without one).
	CertNotAfter time.Time
	// Err is the probe's error text, "" when it went through.
	Err string
}

// liveMXAddr classifies one SMTP probe.
func liveMXAddr(r smtpprobe.Result) LiveMXAddr {
	l := LiveMXAddr{Addr: r.Addr.String(), CertProblem: r.Cert.Problem, CertNotAfter: r.Cert.NotAfter}
	if r.TLSVersion != 0 {
		l.TLSVersion = smtpprobe.TLSVersionName(r.TLSVersion)
	}
	if r.Err != nil {
		l.Err = r.Err.Error()
	}
	switch {
	case r.Err != nil && !r.STARTTLS && r.Banner == "":
		l.TLS = TLSUnreachable
	case !r.STARTTLS:
		l.TLS = TLSNoSTARTTLS
	case r.Cert.Problem != certs.OK:
		l.TLS = TLSBadCert
	case r.Err != nil:
		l.TLS = TLSFailed
	default:
		l.TLS = TLSOK
	}
	return l
}
