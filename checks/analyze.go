package checks

import (
	"bytes"
	"errors"
	"fmt"
	"mime"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/stspilot/stspilot/checks/certs"
	"github.com/stspilot/stspilot/checks/dnsprobe"
	"github.com/stspilot/stspilot/checks/httpsprobe"
	"github.com/stspilot/stspilot/checks/mtasts"
	"github.com/stspilot/stspilot/checks/mtasts/senders"
	"github.com/stspilot/stspilot/checks/smtpprobe"
	"github.com/stspilot/stspilot/checks/tlsrpt"
	"github.com/stspilot/stspilot/internal/duration"
	"github.com/stspilot/stspilot/internal/printable"
	"github.com/stspilot/stspilot/internal/txtrecord"
)

// Thresholds of the advice findings.
const (
	slowFetch        = 2 * time.Second     // STS-FETCH-10: postfix-tlspol gives up after 2 s
	certSoon         = 14 * 24 * time.Hour // policy-host and MX certificates
	minMaxAge        = 86400               // OPS-1
	maxMaxAge        = 31557600            // STS-POL-9
	testingMaxMaxAge = 7 * 86400           // longer than this in testing earns a warning
	maxListed        = 8                   // problems quoted in one finding
)

// analysis carries what later steps need from earlier ones.
type analysis struct {
	o    *observations
	rep  *Report
	live *Live // the typed facts; rep is their view

	stsValid bool   // exactly one STSv1 record that parses
	stsAny   bool   // at least one STSv1 (or near-miss) record
	id       string // the record's id, when valid
	body     []byte // the policy as served by the first address that answered 200
	policy   *mtasts.Policy
	polValid bool // body parsed without errors
	hostGone bool
	underPol bool // a testing or enforce policy is live: MX problems are errors
}

func (a *analysis) add(f Finding) { a.rep.Findings = append(a.rep.Findings, f) }

func analyze(o *observations, rep *Report) {
	a := &analysis{o: o, rep: rep, live: &Live{}}
	rep.Live = a.live
	a.stsRecord()
	a.policyHost()
	a.live.PolicyGone = policyGone(o.fetches)
	a.policyText()
	a.orphanAndStage()
	a.mxCoverageAndTLS()
	a.tlsrptRecord()
	if domainMissing(o) {
		// The domain itself does not exist: every name under it is
		// NXDOMAIN too (RFC 8020), so the missing record, policy and MX
		// findings would all say the same thing less clearly.
		rep.Findings = []Finding{newFinding("domain.nxdomain", o.domain,
			"the resolver answered NXDOMAIN for "+o.domain+": the name does not exist",
			"check the spelling of "+o.domain+"; a domain that receives mail must exist in DNS and have MX records (the zone's name servers must serve it)")}
	}
	sortFindings(rep.Findings)
	rep.showLive()
}

// domainMissing: the domain's MX lookup and both TXT lookups under it
// answered NXDOMAIN. Asking all three keeps a server that wrongly answers
// NXDOMAIN for a name with records only below it (an empty non-terminal)
// from making a domain with records look missing.
func domainMissing(o *observations) bool {
	return o.mxErr == nil && o.mx.NXDomain && o.stsErr == nil && o.sts.NXDomain && o.rptErr == nil && o.rpt.NXDomain
}

// ---------------------------------------------------------------- _mta-sts TXT

func joinAll(t dnsprobe.TXTResult) []string {
	out := make([]string, 0, len(t.Records))
	for _, r := range t.Records {
		out = append(out, mtasts.JoinTXT(r))
	}
	return out
}

func (a *analysis) stsRecord() {
	o, d := a.o, a.o.domain
	name := txtrecord.STSName(d)
	records := joinAll(o.sts)
	a.rep.STS = &STSInfo{Name: name, CNAME: o.sts.Chain}
	a.live.STS = LiveRecord{Records: records, TTL: time.Duration(o.sts.TTL) * time.Second}
	if o.stsErr != nil {
		a.add(newFinding("sts-record.lookup-failed", name, "TXT lookup failed: "+o.stsErr.Error(),
			"make the authoritative name servers of "+d+" answer TXT queries for "+name))
		return
	}
	sts, near, foreign := mtasts.SelectRecords(records)
	a.stsAny = len(sts)+len(near) > 0
	switch {
	case len(sts) == 0 && len(near) > 0:
		want := "v=STSv1; id=" + a.suggestID()
		f := newFinding("sts-record.syntax", name, "record does not start with exactly \"v=STSv1;\": "+quoteList(near),
			fmt.Sprintf("%s TXT %q", name, want))
		f.Rules = append(f.Rules, "STS-TXT-4", "STS-TXT-14")
		f.Action = txtAction(name, want)
		a.add(f)
	case len(sts) > 1:
		want := "v=STSv1; id=" + a.suggestID()
		f := newFinding("sts-record.multiple", name, fmt.Sprintf("%d STSv1 records: %s", len(sts), quoteList(sts)),
			fmt.Sprintf("delete all but one; keep exactly: %s TXT %q", name, want))
		f.Action = txtAction(name, want)
		a.add(f)
	case len(sts) == 1:
		rec, probs := mtasts.ParseRecord(sts[0])
		var idProbs, errs, warns []string
		for _, p := range probs {
			switch {
			case p.Rule == "STS-TXT-9" && p.Severity == "error":
				idProbs = append(idProbs, p.Message)
			case p.Severity == "error":
				errs = append(errs, p.Rule+": "+p.Message)
			default:
				warns = append(warns, p.Rule+": "+p.Message)
			}
		}
		want := "v=STSv1; id=" + a.suggestID()
		fix := fmt.Sprintf("%s TXT %q", name, want)
		if len(idProbs) > 0 {
			f := newFinding("sts-record.id-invalid", name, strings.Join(idProbs, "; "), fix)
			f.Action = txtAction(name, want)
			a.add(f)
		}
		if len(errs) > 0 {
			f := newFinding("sts-record.syntax", name, strings.Join(errs, "; "), fix)
			f.Action = txtAction(name, want)
			a.add(f)
		}
		if len(warns) > 0 {
			f := newFinding("sts-record.syntax", name, strings.Join(warns, "; "), fix)
			f.Severity = SevWarn
			f.Action = txtAction(name, want)
			a.add(f)
		}
		if len(idProbs) == 0 && len(errs) == 0 && rec.ID != "" {
			a.stsValid = true
			a.id = rec.ID
			a.live.STS.ID = rec.ID
			if t, h, ok := mtasts.ParseID(rec.ID); ok {
				a.rep.STS.IDScheme = &IDScheme{PublishedAt: t, Hash: h}
				a.add(newFinding("sts-record.id-scheme", name,
					fmt.Sprintf("id %s: published %s, policy hash %s", rec.ID, t.UTC().Format(time.RFC3339), h), ""))
			}
		}
	}
	if len(sts)+len(near) > 0 && len(foreign) > 0 {
		a.add(newFinding("sts-record.foreign-txt", name, "other TXT records at the same name: "+quoteList(foreign),
			"move these records elsewhere; "+name+" must hold only the STSv1 record"))
	}
}

// suggestID proposes an id for the policy as served now (or for now alone).
func (a *analysis) suggestID() string {
	body := a.firstBody()
	if body == nil {
		return a.o.now.UTC().Format("20060102150405")
	}
	return mtasts.NewID(a.o.now, body)
}

// firstBody is the policy served (status 200, sender UA) by the first address.
func (a *analysis) firstBody() []byte {
	for _, fp := range a.o.fetches {
		if fp.sender.Err == nil && fp.sender.Status == 200 && !fp.sender.TooLarge {
			return fp.sender.Body
		}
	}
	return nil
}

// ---------------------------------------------------------------- policy host

// policyGone: the policy host answered, and not one fetch, as a sender or
// as a browser, got the policy (status 200).
func policyGone(fetches []fetchPair) bool {
	for _, fp := range fetches {
		if fp.sender.Status == 200 || fp.browser.Status == 200 {
			return false
		}
	}
	return len(fetches) > 0
}

func (a *analysis) policyHost() {
	o, d := a.o, a.o.domain
	host := txtrecord.PolicyHost(d)
	url := "https://" + host + txtrecord.WellKnownPath
	pi := &PolicyInfo{Host: host, URL: url}
	a.rep.Policy = pi
	if len(o.host.Addrs) == 0 {
		if a.stsAny {
			obs := host + " has no A or AAAA record"
			if o.host.NXDomain {
				obs = host + " does not exist (NXDOMAIN)"
			}
			if o.host.ErrA != nil && o.host.ErrAAAA != nil {
				obs = "address lookups failed: " + o.host.ErrA.Error()
			}
			a.hostGone = true
			f := newFinding("teardown.host-gone", host, obs+" while "+txtrecord.STSName(d)+" still announces a policy",
				"serve a mode: none policy at "+url+" with a new id until the last policy's max_age has passed, or put the host back")
			f.Action = workflowAction(ActionTeardown)
			a.add(f)
		}
		return
	}
	served := a.firstBody() != nil
	// Without any STSv1 record no sender fetches: report host problems only
	// when a policy is actually served (a deployment in progress), as warnings.
	if !a.stsAny && !served {
		a.appendFetchInfo(pi)
		return
	}
	var perAddr []Finding
	type outcome struct{ key, addr string }
	var outcomes []outcome
	for _, fp := range o.fetches {
		r, b := fp.sender, fp.browser
		subj := host + " (" + r.Addr.String() + ")"
		browserOK := b.Err == nil && b.Status == 200
		switch {
		case r.Err != nil && r.Kind == httpsprobe.ErrKind("cert"):
			perAddr = append(perAddr, newFinding("policy.cert", subj, certObserved(r.Cert),
				"install a certificate for "+host+" from a publicly trusted CA (subjectAltName "+host+" or *."+d+"), with its full chain"))
		case r.Err != nil && browserOK:
			perAddr = append(perAddr, newFinding("policy.agent-blocked", subj,
				fmt.Sprintf("as a mail sender (User-Agent %q): %v; as a browser: 200", r.UserAgent, r.Err),
				"exempt "+txtrecord.WellKnownPath+" on "+host+" from bot protection, WAF and User-Agent rules"))
		case r.Err != nil && r.TooLarge:
			perAddr = append(perAddr, newFinding("policy.too-large", subj, "the response is larger than 64 KiB", "serve only the policy file: a few hundred bytes"))
		case r.Err != nil:
			perAddr = append(perAddr, newFinding("policy.unreachable", subj, r.Err.Error(),
				"make "+url+" answer from "+r.Addr.String()+" port 443, or remove that address from "+host))
		case r.Status >= 300 && r.Status < 400:
			perAddr = append(perAddr, newFinding("policy.redirect", subj,
				fmt.Sprintf("status %d to %q", r.Status, r.Location),
				"serve the file itself with status 200 at "+url+"; remove http-to-https, www., trailing-slash and CDN redirect rules for this path"))
		case r.Status != 200 && browserOK:
			perAddr = append(perAddr, newFinding("policy.agent-blocked", subj,
				fmt.Sprintf("as a mail sender (User-Agent %q): status %d; as a browser: status 200", r.UserAgent, r.Status),
				"exempt "+txtrecord.WellKnownPath+" on "+host+" from bot protection, WAF and User-Agent rules"))
		case r.Status != 200:
			fix := "serve the policy file at exactly " + txtrecord.WellKnownPath + " with status 200"
			if r.Status == 404 {
				fix += " (GitHub Pages hides .well-known unless the repository has a .nojekyll file)"
			}
			perAddr = append(perAddr, newFinding("policy.http-status", subj, fmt.Sprintf("status %d", r.Status), fix))
		default:
			if r.TooLarge {
				perAddr = append(perAddr, newFinding("policy.too-large", subj, "the body is larger than 64 KiB", "serve only the policy file: a few hundred bytes"))
			}
			if f, ok := contentTypeFinding(r, subj); ok {
				perAddr = append(perAddr, f)
			}
		}
		if r.Err == nil && r.Elapsed > slowFetch {
			perAddr = append(perAddr, newFinding("policy.slow", subj, fmt.Sprintf("the fetch took %s", r.Elapsed.Round(10*time.Millisecond)),
				"serve the file from a static host that answers within a second; avoid cold-starting functions"))
		}
		if r.Cert.Valid() && !r.Cert.NotAfter.IsZero() && r.Cert.NotAfter.Sub(o.now) < certSoon {
			perAddr = append(perAddr, newFinding("policy.cert-expiring", subj,
				"certificate expires "+r.Cert.NotAfter.UTC().Format(time.RFC3339), "renew the certificate of "+host+" and automate its renewal"))
		}
		key := "error"
		if r.Err == nil {
			key = fmt.Sprintf("%d %s", r.Status, hashHex(r.Body))
		}
		outcomes = append(outcomes, outcome{key, r.Addr.String()})
	}
	// addresses that answer differently
	distinct := map[string][]string{}
	for _, oc := range outcomes {
		if oc.key != "error" {
			distinct[oc.key] = append(distinct[oc.key], oc.addr)
		}
	}
	if len(distinct) > 1 {
		var parts []string
		for _, oc := range outcomes {
			if oc.key == "error" {
				continue
			}
			st, h, _ := strings.Cut(oc.key, " ")
			parts = append(parts, fmt.Sprintf("%s: status %s, sha256 %s", oc.addr, st, h[:12]))
		}
		perAddr = append(perAddr, newFinding("policy.ip-divergence", host, strings.Join(parts, "; "),
			"deploy the same file to every server behind "+host+", then check again"))
	}
	if !a.stsAny {
		for i := range perAddr {
			if perAddr[i].Severity == SevError {
				perAddr[i].Severity = SevWarn
				perAddr[i].Observed += " (no _mta-sts record yet, so no sender fetches this)"
			}
		}
	}
	for _, f := range perAddr {
		a.add(f)
	}
	a.appendFetchInfo(pi)
	a.body = a.firstBody()
}

func (a *analysis) appendFetchInfo(pi *PolicyInfo) {
	for _, fp := range a.o.fetches {
		for _, r := range []httpsprobe.Result{fp.sender, fp.browser} {
			// The address and the certificate are Live's (Report.showLive).
			fi := FetchInfo{
				UserAgent: r.UserAgent, Status: r.Status, ContentType: r.ContentType,
				Location: r.Location, Bytes: len(r.Body), ElapsedMS: r.Elapsed.Milliseconds(),
			}
			if r.Err == nil {
				fi.SHA256 = hashHex(r.Body)
			} else {
				fi.Error = r.Err.Error()
			}
			pi.Fetch = append(pi.Fetch, fi)
			a.live.PolicyCerts = append(a.live.PolicyCerts, LiveCert{Addr: r.Addr.String(), Problem: r.Cert.Problem, NotAfter: r.Cert.NotAfter})
		}
	}
}

func certObserved(c certs.Result) string {
	switch {
	case c.Detail != "":
		return c.Detail
	case c.Problem != certs.OK:
		return "certificate problem: " + string(c.Problem)
	}
	return "certificate rejected"
}

// contentTypeFinding checks the media type (STS-FETCH-9).
func contentTypeFinding(r httpsprobe.Result, subj string) (Finding, bool) {
	fix := "serve it as Content-Type: text/plain (nginx: location = " + txtrecord.WellKnownPath + " { types { } default_type text/plain; })"
	if r.ContentType == "" {
		return newFinding("policy.content-type", subj, "no Content-Type header", fix), true
	}
	mt, params, err := mime.ParseMediaType(r.ContentType)
	if err != nil || mt != "text/plain" {
		return newFinding("policy.content-type", subj, fmt.Sprintf("Content-Type %q", r.ContentType), fix), true
	}
	if cs, ok := params["charset"]; ok {
		if cs = strings.ToLower(cs); cs != "utf-8" && cs != "us-ascii" {
			f := newFinding("policy.content-type", subj, fmt.Sprintf("charset %q", cs), "serve it as text/plain; charset=utf-8 (or without a charset)")
			f.Severity = SevWarn
			return f, true
		}
	}
	return Finding{}, false
}

// ---------------------------------------------------------------- policy text

func (a *analysis) policyText() {
	if a.body == nil {
		return
	}
	pi := a.rep.Policy
	p, probs := mtasts.ParsePolicy(a.body)
	a.policy = &p
	a.live.Served = a.body
	if len(a.body) > 0 && p.Mode != "" {
		a.live.Policy = &p
	}
	subj := pi.URL
	var errs, errRules, warns, warnRules []string
	for _, pr := range probs {
		if pr.Rule == "STS-POL-9" && p.MaxAge > maxMaxAge {
			continue // reported as policy.max-age-high
		}
		line := pr.Rule + ": " + pr.Message
		if pr.Line > 0 {
			line = fmt.Sprintf("line %d: %s", pr.Line, line)
		}
		if pr.Severity == "error" {
			errs = append(errs, line)
			errRules = append(errRules, pr.Rule)
		} else {
			warns = append(warns, line)
			warnRules = append(warnRules, pr.Rule)
		}
	}
	a.polValid = len(errs) == 0 && p.MaxAge <= maxMaxAge
	if len(errs) > 0 {
		fix := "fix the lines above, then change the id"
		if canon, err := mtasts.Render(p); err == nil {
			fix = "serve exactly this (then change the id):\n" + displayPolicy(canon)
		}
		f := newFinding("policy.syntax", subj, listed(errs), fix)
		slices.Sort(errRules)
		f.Rules = slices.Compact(errRules)
		a.add(f)
	}
	// Strictness: a policy the RFC accepts that real senders reject or read
	// differently. For a policy the RFC rejects, the errors above say it all
	// and the sender views show who would still accept it. The transport is
	// made perfect so that only the body's effect shows (transport problems
	// have findings of their own).
	if a.polValid {
		in := senders.Input{TXT: []string{"v=STSv1; id=x"}, Fetched: true, Status: 200, ContentType: "text/plain", Body: a.body}
		rfc := senders.RFCReading(in)
		for _, v := range senders.Disagreements(in) {
			if v.Outcome == senders.NoPolicy && rfc.Mode == "testing" {
				continue // ignoring testing is how these senders work, not a flaw of this file (STS-SEND-14)
			}
			warns = append(warns, v.Impl+": "+string(v.Outcome)+describeReason(v))
			warnRules = append(warnRules, v.Rules...)
		}
	}
	if a.polValid && len(warns) > 0 {
		f := newFinding("policy.strictness", subj, listed(warns), "remove what the lines above name, then change the id")
		if len(warnRules) > 0 {
			slices.Sort(warnRules)
			f.Rules = slices.Compact(warnRules)
		}
		canon, err := mtasts.Render(p)
		if err != nil { // extensions that some senders trip over are dropped
			q := p
			q.Extensions = nil
			canon, err = mtasts.Render(q)
		}
		if err == nil && !bytes.Equal(canon, a.body) {
			f.Fix = "serve this form, which every known implementation reads alike (then change the id):\n" + displayPolicy(canon)
		}
		a.add(f)
	}
	a.rep.Senders = senderViews(a)

	// mode and max_age
	if p.Mode == mtasts.ModeEnforce || p.Mode == mtasts.ModeTesting {
		switch {
		case p.MaxAge > maxMaxAge:
			a.add(newFinding("policy.max-age-high", subj, fmt.Sprintf("max_age: %d (%s)", p.MaxAge, duration.Words(duration.Seconds(p.MaxAge))),
				"max_age: 2592000 (30 days) at the top of the ladder; never above 31557600"))
		case p.MaxAge < minMaxAge:
			a.add(newFinding("policy.max-age-low", subj, fmt.Sprintf("max_age: %d (%s)", p.MaxAge, duration.Words(duration.Seconds(p.MaxAge))),
				"max_age: 86400 while testing, then 604800 or more under enforce"))
		}
		if p.Mode == mtasts.ModeTesting && p.MaxAge > testingMaxMaxAge && p.MaxAge <= maxMaxAge {
			a.add(newFinding("policy.testing-long-max-age", subj, fmt.Sprintf("mode: testing with max_age: %d (%s)", p.MaxAge, duration.Words(duration.Seconds(p.MaxAge))),
				"max_age: 86400 while testing; raise it only under enforce"))
		}
	} else if p.MaxAge > maxMaxAge {
		a.add(newFinding("policy.max-age-high", subj, fmt.Sprintf("max_age: %d", p.MaxAge), "max_age: 86400"))
	}

	// id sync: a scheme id says which bytes it was made for
	if a.stsValid {
		if recognised, matches := mtasts.VerifyID(a.id, a.body); recognised {
			m := matches
			a.rep.STS.IDScheme.Matches = &m
			if !matches {
				a.add(newFinding("policy.id-drift", txtrecord.STSName(a.o.domain),
					fmt.Sprintf("id %s was made for other bytes than %s serves (sha256 %s)", a.id, pi.Host, hashHex(a.body)[:12]),
					fmt.Sprintf("_mta-sts.%s TXT %q", a.o.domain, "v=STSv1; id="+mtasts.NewID(a.o.now, a.body))))
			}
		}
	}
}

// displayPolicy shows rendered policy bytes in a fix: one line per policy
// line, the CRLF endings said in words rather than shown as escapes.
func displayPolicy(b []byte) string {
	return strings.TrimRight(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n") + "\n(every line ends in CRLF)"
}

func describeReason(v senders.Verdict) string {
	if v.Reason == "" {
		return ""
	}
	return " (" + v.Reason + ")"
}

func senderViews(a *analysis) []SenderView {
	var fp *fetchPair
	if len(a.o.fetches) > 0 {
		fp = &a.o.fetches[0]
	}
	in := senders.Input{TXT: a.live.STS.Records}
	if fp != nil {
		r := fp.sender
		in.Fetched = r.Err == nil
		if r.Err != nil {
			in.FetchError = r.Err.Error()
		}
		in.Status, in.ContentType, in.Body, in.Elapsed = r.Status, r.ContentType, r.Body, r.Elapsed
		in.Redirect = r.Status >= 300 && r.Status < 400
	}
	var out []SenderView
	for _, v := range senders.Emulate(in) {
		out = append(out, SenderView{Impl: v.Impl, Outcome: string(v.Outcome), Mode: v.Mode, MaxAge: v.MaxAge, Reason: v.Reason})
	}
	return out
}

// ---------------------------------------------------------------- stage

func (a *analysis) orphanAndStage() {
	rep, d := a.rep, a.o.domain
	hasPolicy := a.policy != nil && a.polValid
	switch {
	case !a.stsAny && a.o.stsErr == nil:
		if hasPolicy && (a.policy.Mode == mtasts.ModeEnforce || a.policy.Mode == mtasts.ModeTesting) {
			f := newFinding("teardown.orphan-policy", txtrecord.STSName(d),
				fmt.Sprintf("no _mta-sts record, but %s serves mode: %s, max_age: %d", rep.Policy.Host, a.policy.Mode, a.policy.MaxAge),
				fmt.Sprintf("publish a mode: none policy, then %s TXT %q, and remove both only after %s",
					"_mta-sts."+d, "v=STSv1; id=<new id>", duration.Words(duration.Seconds(a.policy.MaxAge))))
			f.Action = workflowAction(ActionTeardown)
			if a.policy.Mode == mtasts.ModeTesting {
				f.Severity = SevWarn
			}
			a.add(f)
			a.live.Stage = StageBroken
			return
		}
		if hasPolicy && a.policy.Mode == mtasts.ModeNone {
			a.live.Stage = StageNone
		} else {
			a.live.Stage = StageAbsent
		}
		fix := "serve a policy at " + txtrecord.PolicyURL(d) + " first, then publish " + txtrecord.STSName(d) + " TXT \"v=STSv1; id=<id>\""
		f := newFinding("sts-record.missing", txtrecord.STSName(d), "no TXT record starting with v=STSv1", fix)
		if a.live.Stage == StageAbsent {
			f.Action = workflowAction(ActionRollout)
		}
		a.add(f)
	case a.stsValid && hasPolicy && !a.hasError(AreaSTS, "policy.id-drift", "policy.ip-divergence"):
		a.live.Stage = Stage(a.policy.Mode)
		a.underPol = a.policy.Mode == mtasts.ModeEnforce || a.policy.Mode == mtasts.ModeTesting
	case a.o.stsErr != nil:
		a.live.Stage = StageBroken
	default:
		a.live.Stage = StageBroken
		if hasPolicy {
			a.underPol = a.policy.Mode == mtasts.ModeEnforce || a.policy.Mode == mtasts.ModeTesting
		}
	}
}

// hasError reports whether an error finding exists in area or with one of ids.
func (a *analysis) hasError(area string, ids ...string) bool {
	for _, f := range a.rep.Findings {
		if f.Severity == SevError && (f.Area == area || slices.Contains(ids, f.ID)) {
			return true
		}
	}
	return false
}

// ---------------------------------------------------------------- MX

func (a *analysis) mxCoverageAndTLS() {
	o, d := a.o, a.o.domain
	if o.mxErr != nil {
		a.add(newFinding("sts-record.lookup-failed", d, "MX lookup failed: "+o.mxErr.Error(), "make the authoritative name servers of "+d+" answer MX queries"))
		return
	}
	var patterns []string
	enforcing := a.policy != nil && a.policy.Mode != mtasts.ModeNone
	if enforcing {
		patterns = a.policy.MX
	}
	var found []Finding
	a.live.MXTTL = time.Duration(o.mx.TTL) * time.Second
	if len(o.mx.MX) == 0 || (len(o.mx.MX) == 1 && o.mx.MX[0].Host == "") {
		obs := "no MX record"
		if len(o.mx.MX) == 1 {
			obs = "null MX (RFC 7505): the domain accepts no mail"
		}
		f := newFinding("mx.none", d, obs, "publish the MX records of "+d+", or remove MTA-STS if the domain receives no mail")
		if !a.underPol {
			f.Severity = SevWarn
		}
		a.add(f)
		return
	}
	if o.mxSkipped > 0 {
		found = append(found, newFinding("mx.too-many", d, fmt.Sprintf("%d MX records; the last %d by preference were not probed", len(o.mx.MX), o.mxSkipped), ""))
	}
	var uncovered []string
	for i := range o.mxHosts {
		m := &o.mxHosts[i]
		host := m.mx.Host
		if host == "" {
			continue
		}
		info := MXInfo{CNAME: m.cname} // the rest is Live's (Report.showLive)
		live := LiveMX{Host: host, Preference: m.mx.Preference}
		if enforcing {
			pat, ok := mtasts.Covering(patterns, host)
			info.Covered, info.Pattern = &ok, pat
			if !ok {
				uncovered = append(uncovered, host)
				var lenient []string
				for _, impl := range senders.Impls() {
					for _, p := range patterns {
						if senders.MatchMX(impl, p, host) {
							lenient = append(lenient, impl)
							break
						}
					}
				}
				obs := fmt.Sprintf("%s matches none of: %s", host, strings.Join(patterns, ", "))
				if len(lenient) > 0 {
					obs += " (only " + strings.Join(lenient, ", ") + " would accept it, matching wildcards at any depth; RFC 8461 allows one label)"
				}
				found = append(found, newFinding("mx.uncovered", host, obs,
					"add to the policy, serve it, then change the id:\n"+mxLines(mtasts.SuggestPatterns([]string{host}))))
			}
		}
		if m.cname != "" {
			found = append(found, newFinding("mx.cname", host, host+" is an alias (CNAME) for "+m.cname,
				"point the MX record at "+m.cname+" directly and list that name in the policy"))
		}
		if len(m.addrs.Addrs) == 0 {
			obs := "no A or AAAA record"
			if m.addrs.NXDomain {
				obs = "the name does not exist (NXDOMAIN)"
			}
			f := newFinding("mx.unreachable", host, obs, "publish the address records of "+host+" or remove the MX record")
			found = append(found, f)
			live.NoAddress, live.Problem = true, obs
		}
		for _, r := range m.probes {
			info.Addrs = append(info.Addrs, mxAddrInfo(r))
			live.Addrs = append(live.Addrs, liveMXAddr(r))
			found = append(found, a.tlsFindings(r)...)
		}
		a.rep.MX = append(a.rep.MX, info)
		a.live.MX = append(a.live.MX, live)
	}
	_ = uncovered
	if !a.underPol {
		for i := range found {
			if found[i].Severity == SevError {
				found[i].Severity = SevWarn
			}
		}
	}
	for _, f := range mergeBySubjectHost(found) {
		a.add(f)
	}
}

func mxLines(patterns []string) string {
	var b strings.Builder
	for i, p := range patterns {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString("mx: " + p)
	}
	return b.String()
}

// mxAddrInfo is what the report shows of one SMTP probe beyond Live's
// LiveMXAddr (Report.showLive fills the rest).
func mxAddrInfo(r smtpprobe.Result) MXAddrInfo {
	return MXAddrInfo{Banner: r.Banner, STARTTLS: r.STARTTLS, ElapsedMS: r.Elapsed.Milliseconds()}
}

// tlsFindings reads one SMTP probe (STS-SEND-8/10/21).
func (a *analysis) tlsFindings(r smtpprobe.Result) []Finding {
	host := r.Host
	subj := host + " (" + r.Addr.String() + ")"
	certFix := "install a certificate for " + host + " from a publicly trusted CA whose subjectAltName includes " + host + ", with its full chain"
	switch {
	case errors.Is(r.Err, smtpprobe.ErrNoSTARTTLS):
		return []Finding{newFinding("mx.starttls-missing", subj, "EHLO does not offer STARTTLS",
			"enable STARTTLS on "+host+" (Postfix: smtpd_tls_security_level = may, smtpd_tls_chain_files = key + chain)")}
	case r.Err != nil && r.Stage == smtpprobe.StageConnect:
		return []Finding{newFinding("mx.unreachable", subj, "port 25: "+r.Err.Error()+" (many networks block outbound port 25; check from a host that can send mail)",
			"make "+host+" accept connections on port 25, or run the check from a network that allows outbound SMTP")}
	case r.Err != nil && (r.Stage == smtpprobe.StageBanner || r.Stage == smtpprobe.StageEHLO):
		return []Finding{newFinding("mx.unreachable", subj, fmt.Sprintf("SMTP stopped at the %s: %v", r.Stage, r.Err),
			"make "+host+" greet with 220 and answer EHLO promptly; senders give up on it as they would on an unreachable host")}
	case r.Err != nil && r.TLSVersion == 0:
		return []Finding{newFinding("mx.starttls-missing", subj, "STARTTLS is offered but does not work: "+r.Err.Error(),
			"fix the TLS configuration of "+host+" (TLS 1.2 or 1.3 with a certificate for "+host+")")}
	}
	var out []Finding
	if r.TLSVersion != 0 && r.TLSVersion < 0x0303 {
		out = append(out, newFinding("mx.tls-version", subj, "negotiated "+smtpprobe.TLSVersionName(r.TLSVersion),
			"enable TLS 1.2 and 1.3 on "+host+" (Postfix: smtpd_tls_protocols = >=TLSv1.2)"))
	}
	switch r.Cert.Problem {
	case certs.OK:
		if r.TLSVersion != 0 && !r.Cert.NotAfter.IsZero() {
			var maxAge int64
			if a.policy != nil && a.polValid {
				maxAge = a.policy.MaxAge
			}
			window := max(duration.Seconds(maxAge), certSoon)
			if r.Cert.NotAfter.Sub(a.o.now) < window {
				out = append(out, newFinding("mx.cert-expiring", subj,
					fmt.Sprintf("certificate expires %s, within %s (max_age %d)", r.Cert.NotAfter.UTC().Format(time.RFC3339), duration.Words(window), maxAge),
					"renew the certificate of "+host+" before "+r.Cert.NotAfter.UTC().Format("2006-01-02")+" and automate renewal"))
			}
		}
	case certs.Expired:
		out = append(out, newFinding("mx.cert-expired", subj, certObserved(r.Cert), certFix))
	case certs.Name:
		out = append(out, newFinding("mx.cert-name", subj, certObserved(r.Cert), certFix))
	default:
		out = append(out, newFinding("mx.cert-untrusted", subj, certObserved(r.Cert), certFix))
	}
	return out
}

// mergeBySubjectHost folds findings with the same id and observation on
// several addresses of one host into one finding naming every address.
func mergeBySubjectHost(fs []Finding) []Finding {
	type key struct{ id, host, obs string }
	idx := map[key]int{}
	var out []Finding
	for _, f := range fs {
		host, addr, hasAddr := strings.Cut(f.Subject, " (")
		k := key{f.ID, host, f.Observed}
		if i, ok := idx[k]; ok && hasAddr {
			out[i].Subject = strings.TrimSuffix(out[i].Subject, ")") + ", " + addr
			continue
		}
		idx[k] = len(out)
		out = append(out, f)
	}
	return out
}

// ---------------------------------------------------------------- TLS-RPT

func (a *analysis) tlsrptRecord() {
	o, d := a.o, a.o.domain
	name := txtrecord.TLSRPTName(d)
	records := joinAll(o.rpt)
	ti := &TLSRPTInfo{Name: name}
	a.rep.TLSRPT = ti
	a.live.TLSRPT = LiveRecord{Records: records, TTL: time.Duration(o.rpt.TTL) * time.Second}
	example := fmt.Sprintf("%s TXT %q", name, "v=TLSRPTv1; rua=mailto:tlsrpt@"+d)
	if o.rptErr != nil {
		a.add(newFinding("sts-record.lookup-failed", name, "TXT lookup failed: "+o.rptErr.Error(), "make the name servers of "+d+" answer TXT queries for "+name))
		return
	}
	rpt, near, _ := tlsrpt.SelectRecords(records)
	switch {
	case len(rpt) == 0 && len(near) > 0:
		a.add(newFinding("tlsrpt.syntax", name, "record does not start with exactly \"v=TLSRPTv1;\": "+quoteList(near), example))
	case len(rpt) == 0:
		a.add(newFinding("tlsrpt.missing", name, "no TXT record starting with v=TLSRPTv1", example))
	case len(rpt) > 1:
		a.add(newFinding("tlsrpt.syntax", name, fmt.Sprintf("%d TLSRPTv1 records (reporters need exactly one): %s", len(rpt), quoteList(rpt)),
			"keep exactly one: "+example))
	default:
		rec, probs := tlsrpt.ParseRecord(rpt[0])
		ti.RUA = rec.RUA
		scheme := tlsrpt.SchemeProblems(probs)
		var errs, warns []string
		for _, p := range probs {
			if slices.Contains(scheme, p) {
				continue
			}
			if p.Severity == "error" {
				errs = append(errs, p.Rule+": "+p.Message)
			} else if p.Rule != "RPT-REC-5" {
				warns = append(warns, p.Rule+": "+p.Message)
			}
		}
		fixed := example
		var fixedRec *Action // set when fixed keeps the record's own destination
		var good []string
		for _, u := range rec.RUA {
			if _, err := tlsrpt.Render([]string{u}); err == nil {
				good = append(good, u)
			}
		}
		if len(good) > 0 {
			if s, err := tlsrpt.Render(good[:1]); err == nil {
				fixed = fmt.Sprintf("%s TXT %q", name, s)
				fixedRec = txtAction(name, s)
			}
		}
		if len(scheme) > 0 {
			var ms []string
			for _, p := range scheme {
				ms = append(ms, p.Message)
			}
			f := newFinding("tlsrpt.rua-scheme", name, strings.Join(ms, "; "), "use mailto: or https: destinations only, e.g. "+fixed)
			f.Action = fixedRec
			a.add(f)
		}
		if len(errs) > 0 {
			f := newFinding("tlsrpt.syntax", name, strings.Join(errs, "; "), fixed)
			f.Action = fixedRec
			a.add(f)
		}
		if len(warns) > 0 {
			f := newFinding("tlsrpt.syntax", name, strings.Join(warns, "; "), fixed)
			f.Severity = SevWarn
			f.Action = fixedRec
			a.add(f)
		}
		if tlsrpt.MultipleRUA(rec) {
			a.add(newFinding("tlsrpt.rua-multiple", name, fmt.Sprintf("%d destinations: %s", len(rec.RUA), strings.Join(rec.RUA, ", ")),
				"put the destination you actually read first (Microsoft reports only to the first), or keep just that one"))
		}
	}
}

// ---------------------------------------------------------------- helpers

func sortFindings(fs []Finding) {
	areaRank := map[string]int{AreaDNS: 0, AreaSTS: 1, AreaPolicy: 2, AreaMX: 3, AreaTLS: 4, AreaTLSRPT: 5, AreaTeardown: 6}
	sort.SliceStable(fs, func(i, j int) bool {
		ai, aj := areaRank[fs[i].Area], areaRank[fs[j].Area]
		if ai != aj {
			return ai < aj
		}
		return fs[i].Severity.rank() < fs[j].Severity.rank()
	})
}

func quoteList(ss []string) string {
	var parts []string
	for i, s := range ss {
		if i == maxListed {
			parts = append(parts, fmt.Sprintf("and %d more", len(ss)-maxListed))
			break
		}
		parts = append(parts, fmt.Sprintf("%q", printable.Clip(s, 120)))
	}
	return strings.Join(parts, ", ")
}

func listed(lines []string) string {
	if len(lines) > maxListed {
		lines = append(lines[:maxListed:maxListed], fmt.Sprintf("and %d more", len(lines)-maxListed))
	}
	return strings.Join(lines, "; ")
}
