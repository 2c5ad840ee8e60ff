package providertest

import (
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// NamecheapHost is one host record of a NamecheapFake zone, as getHosts
// returns it.
type NamecheapHost struct {
	Name    string // "@", "www", "_mta-sts"
	Type    string // "A", "MX", "TXT", ...
	Address string
	MXPref  string
	TTL     int
}

// NamecheapFake is an in-process Namecheap XML API (an httptest server on
// loopback, plain HTTP: libdns/namecheap talks through http.DefaultClient,
// which trusts no test certificate) for one domain, with the documented
// semantics of the calls libdns/namecheap makes:
//
//   - namecheap.domains.getTldList lists the TLDs;
//   - namecheap.domains.dns.getHosts returns every host record, and the
//     domain's mail settings as the EmailType attribute of
//     DomainDNSGetHostsResult;
//   - namecheap.domains.dns.setHosts replaces every host record with
//     HostName1..n, RecordType1..n, Address1..n, MXPref1..n, TTL1..n, and
//     the mail settings with the top-level EmailType parameter (MX, MXE,
//     FWD, OX, GMAIL). Without it the mail settings are reset (EmailType
//     becomes empty) and MX and MXE records are not kept: Namecheap saves
//     MX records only with EmailType=MX, an MXE record only with
//     EmailType=MXE.
//
// Every request must carry the API user, key, user name and client IP the
// fake was made with; anything else fails the test.
type NamecheapFake struct {
	// APIUser, APIKey and ClientIP are what every request must carry
	// (UserName must equal APIUser).
	APIUser, APIKey, ClientIP string
	// Domain is the one domain of the account ("example.test").
	Domain string

	t   testing.TB
	srv *httptest.Server

	mu        sync.Mutex
	emailType string
	hosts     []NamecheapHost
	sets      []url.Values
	commands  []string
}

// NewNamecheapFake starts a fake holding domain with the given mail
// settings and host records. It is closed when the test ends.
func NewNamecheapFake(t testing.TB, apiUser, apiKey, clientIP, domain, emailType string, hosts ...NamecheapHost) *NamecheapFake {
	f := &NamecheapFake{APIUser: apiUser, APIKey: apiKey, ClientIP: clientIP, Domain: strings.TrimSuffix(strings.ToLower(domain), "."), t: t, emailType: emailType, hosts: slices.Clone(hosts)}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// URL is the endpoint to give the provider (NAMECHEAP_API_ENDPOINT).
func (f *NamecheapFake) URL() string { return f.srv.URL + "/xml.response" }

// Zone returns the domain's mail settings and host records now.
func (f *NamecheapFake) Zone() (emailType string, hosts []NamecheapHost) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.emailType, slices.Clone(f.hosts)
}

// SetHostsCalls returns the parameters of every setHosts call so far
// (without the credentials).
func (f *NamecheapFake) SetHostsCalls() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.sets)
}

// Commands returns the commands received, in order.
func (f *NamecheapFake) Commands() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.commands)
}

func (f *NamecheapFake) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/xml.response" || (r.Method != http.MethodPost && r.Method != http.MethodGet) {
		f.t.Errorf("namecheap fake: unexpected %s %s", r.Method, r.URL.Path)
		http.NotFound(w, r)
		return
	}
	if err := r.ParseForm(); err != nil {
		f.t.Errorf("namecheap fake: %v", err)
		return
	}
	q := r.Form
	cmd := q.Get("Command")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.commands = append(f.commands, cmd)
	if q.Get("ApiUser") != f.APIUser || q.Get("ApiKey") != f.APIKey || q.Get("UserName") != f.APIUser || q.Get("ClientIp") != f.ClientIP {
		f.reply(w, cmd, "", `<Error Number="1011102">API Key is invalid or API access has not been enabled</Error>`)
		return
	}
	domainOK := func() bool {
		if q.Get("SLD")+"."+q.Get("TLD") != f.Domain {
			f.reply(w, cmd, "", `<Error Number="2019166">Domain not found</Error>`)
			return false
		}
		return true
	}
	switch cmd {
	case "namecheap.domains.getTldList":
		_, tld, _ := strings.Cut(f.Domain, ".")
		f.reply(w, cmd, fmt.Sprintf(`<Tlds><Tld Name=%q NonRealTime="false" Type="GTLD">%s</Tld></Tlds>`, xmlEsc(tld), xmlEsc(tld)), "")
	case "namecheap.domains.dns.getHosts":
		if !domainOK() {
			return
		}
		var b strings.Builder
		fmt.Fprintf(&b, `<DomainDNSGetHostsResult Domain="%s" EmailType="%s" IsUsingOurDNS="true">`, xmlEsc(f.Domain), xmlEsc(f.emailType))
		for i, h := range f.hosts {
			fmt.Fprintf(&b, `<host HostId="%d" Name="%s" Type="%s" Address="%s" MXPref="%s" TTL="%d" AssociatedAppTitle="" FriendlyName="" IsActive="true" IsDDNSEnabled="false" />`,
				100+i, xmlEsc(h.Name), xmlEsc(h.Type), xmlEsc(h.Address), xmlEsc(orDefault(h.MXPref, "10")), h.TTL)
		}
		b.WriteString(`</DomainDNSGetHostsResult>`)
		f.reply(w, cmd, b.String(), "")
	case "namecheap.domains.dns.setHosts":
		if !domainOK() {
			return
		}
		params := url.Values{}
		for k, v := range q {
			switch k {
			case "ApiUser", "ApiKey", "UserName", "ClientIp":
			default:
				params[k] = v
			}
		}
		f.sets = append(f.sets, params)
		emailType := q.Get("EmailType")
		var hosts []NamecheapHost
		for i := 1; q.Has("HostName" + strconv.Itoa(i)); i++ {
			n := strconv.Itoa(i)
			ttl, err := strconv.Atoi(orDefault(q.Get("TTL"+n), "1800"))
			if err != nil {
				f.reply(w, cmd, "", `<Error Number="2050900">Invalid TTL</Error>`)
				return
			}
			h := NamecheapHost{Name: q.Get("HostName" + n), Type: q.Get("RecordType" + n), Address: q.Get("Address" + n), MXPref: q.Get("MXPref" + n), TTL: ttl}
			switch {
			case h.Type == "MX" && emailType != "MX", h.Type == "MXE" && emailType != "MXE":
				continue // not saved: the mail settings do not allow it
			}
			hosts = append(hosts, h)
		}
		f.emailType, f.hosts = emailType, hosts
		f.reply(w, cmd, fmt.Sprintf(`<DomainDNSSetHostsResult Domain="%s" IsSuccess="true" />`, xmlEsc(f.Domain)), "")
	default:
		f.t.Errorf("namecheap fake: unexpected command %q", cmd)
		f.reply(w, cmd, "", `<Error Number="1010101">Unknown command</Error>`)
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (f *NamecheapFake) reply(w http.ResponseWriter, cmd, result, errs string) {
	status := "OK"
	if errs != "" {
		status = "ERROR"
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	_, _ = io.WriteString(w, `<?xml version="1.0" encoding="utf-8"?>`+"\n"+
		`<ApiResponse Status="`+status+`" xmlns="http://api.namecheap.com/xml.response">`+
		`<Errors>`+errs+`</Errors><Warnings />`+
		`<RequestedCommand>`+xmlEsc(strings.ToLower(cmd))+`</RequestedCommand>`+
		`<CommandResponse Type="`+xmlEsc(cmd)+`">`+result+`</CommandResponse>`+
		`<Server>FAKE</Server><GMTTimeDifference>--0:00</GMTTimeDifference><ExecutionTime>0.001</ExecutionTime></ApiResponse>`)
}

func xmlEsc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
