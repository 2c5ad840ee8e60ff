package textout

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/muesli/termenv"

	"github.com/stspilot/stspilot/checks"
	"github.com/stspilot/stspilot/internal/duration"
	"github.com/stspilot/stspilot/workflow"
)

// DefaultWidth is the wrap width when the caller does not know the
// terminal's (a pipe, a file, a CI log).
const DefaultWidth = 100

// minWidth keeps the layout readable on absurdly narrow terminals.
const minWidth = 40

// Options choose how Human output looks. The zero value is plain ASCII text
// wrapped at DefaultWidth: what scripts and logs get.
type Options struct {
	// Color turns on ANSI colour. The caller decides (a terminal, no
	// NO_COLOR); with Color false not one escape sequence is written.
	Color bool
	// Icons uses Unicode marks (✓ ✗ !) and rules instead of ASCII labels;
	// meant for terminals.
	Icons bool
	// Width is the column count to wrap prose to (0: DefaultWidth). Records
	// and policy lines meant to be copied are never wrapped.
	Width int
	// Now is the engine's clock, for "(in 3h 20m)" after a time the
	// engine gave (nil: the real clock). The demo's sandbox runs on its
	// own clock, so the real one would be days off.
	Now func() time.Time
}

// width is the wrap width Width asks for: DefaultWidth for 0, never less
// than minWidth.
func (opt Options) width() int {
	switch {
	case opt.Width <= 0:
		return DefaultWidth
	case opt.Width < minWidth:
		return minWidth
	}
	return opt.Width
}

// Totals counts the outcomes of a run over several domains.
type Totals struct {
	Healthy  int // no findings above info
	Warnings int // warnings, no errors
	Errors   int // at least one error finding
	Failed   int // could not be checked (Report.Error)
}

// Human writes reports as text for people: a header with the domain, its
// stage and a one-line verdict; the findings grouped in the order an
// operator fixes them; then what was seen and how real senders read it.
// It is not safe for concurrent use.
type Human struct {
	w     io.Writer
	width int
	icons bool
	st    styles
	n     int // reports written so far
	now   func() time.Time
}

// clock is the time now on the engine's clock (Options.Now).
func (h *Human) clock() time.Time {
	if h.now != nil {
		return h.now()
	}
	return time.Now()
}

// NewHuman writes to w. The colour renderer is bound to w, never to the
// process's stdout.
func NewHuman(w io.Writer, opt Options) *Human {
	return &Human{w: w, width: opt.width(), icons: opt.Icons, st: newStyles(w, opt.Color), now: opt.Now}
}

// styles are plain string transforms, so that with colour off nothing runs
// through lipgloss at all.
type styles struct {
	bold, dim, err, warn, info, ok, code func(string) string
}

// tone names one of the styles, so that a table can say which one
// colours what.
type tone int

const (
	toneBold tone = iota
	toneDim
	toneErr
	toneWarn
	toneInfo
	toneOK
)

// of is the style t names.
func (s styles) of(t tone) func(string) string {
	return [...]func(string) string{toneBold: s.bold, toneDim: s.dim, toneErr: s.err, toneWarn: s.warn, toneInfo: s.info, toneOK: s.ok}[t]
}

func newStyles(w io.Writer, color bool) styles {
	if !color {
		id := func(s string) string { return s }
		return styles{id, id, id, id, id, id, id}
	}
	r := lipgloss.NewRenderer(w)
	r.SetColorProfile(termenv.ANSI) // the 16 theme colours: readable on light and dark terminals
	r.SetHasDarkBackground(true)    // never query the terminal for its background
	mk := func(s lipgloss.Style) func(string) string {
		return func(t string) string {
			if t == "" {
				return t
			}
			return s.Render(t)
		}
	}
	return styles{
		bold: mk(r.NewStyle().Bold(true)),
		dim:  mk(r.NewStyle().Faint(true)),
		err:  mk(r.NewStyle().Foreground(lipgloss.Color("1")).Bold(true)),
		warn: mk(r.NewStyle().Foreground(lipgloss.Color("3")).Bold(true)),
		info: mk(r.NewStyle().Foreground(lipgloss.Color("4"))),
		ok:   mk(r.NewStyle().Foreground(lipgloss.Color("2"))),
		code: mk(r.NewStyle().Foreground(lipgloss.Color("6"))),
	}
}

// Layout columns: findings' labels start at column 4 and their text at 14;
// the "seen" rows' labels at 2 and their text at 12.
const (
	findIndent  = 4
	findLabel   = 10
	seenIndent  = 2
	seenLabel   = 10
	blockIndent = 2 // extra indent of copyable lines under their label
)

// Report writes one report. Reports after the first are set off by a blank
// line. The whole report is written with a single Write.
func (h *Human) Report(r *checks.Report) error {
	if r == nil {
		return nil
	}
	r = cleanReport(r)
	var b strings.Builder
	if h.n > 0 {
		b.WriteString("\n")
	}
	h.n++
	h.header(&b, r)
	if r.Error == "" {
		h.findings(&b, r.Domain, r.Findings)
	}
	h.seen(&b, r)
	_, err := io.WriteString(h.w, b.String())
	return err
}

// Totals writes the closing line of a run over several domains.
func (h *Human) Totals(t Totals) error {
	all := t.Healthy + t.Warnings + t.Errors + t.Failed
	var parts []string
	add := func(n int, what string, style func(string) string) {
		if n > 0 {
			parts = append(parts, style(fmt.Sprintf("%d %s", n, what)))
		}
	}
	add(t.Healthy, "healthy", h.st.ok)
	add(t.Warnings, "with warnings", h.st.warn)
	add(t.Errors, "with errors", h.st.err)
	add(t.Failed, "not checked", h.st.err)
	line := fmt.Sprintf("%s checked", Plural(all, "domain"))
	if len(parts) > 0 {
		line += ": " + strings.Join(parts, ", ")
	}
	_, err := fmt.Fprintf(h.w, "\n%s\n%s\n", h.rule(), h.st.bold(line))
	return err
}

// cleanReport returns a deep copy of r whose every string is safe to print
// (see clean): banners, errors and records come from servers we do not
// control, and must not reach the terminal as escape sequences.
func cleanReport(r *checks.Report) *checks.Report {
	b, err := json.Marshal(r)
	var c checks.Report
	if err != nil || json.Unmarshal(b, &c) != nil {
		return &checks.Report{Domain: clean(r.Domain), Error: "internal error: unprintable report", Findings: []checks.Finding{}}
	}
	cleanValue(reflect.ValueOf(&c).Elem())
	return &c
}

func cleanValue(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		if v.CanSet() {
			v.SetString(clean(v.String()))
		}
	case reflect.Pointer:
		if !v.IsNil() {
			cleanValue(v.Elem())
		}
	case reflect.Slice:
		for i := range v.Len() {
			cleanValue(v.Index(i))
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				cleanValue(v.Field(i))
			}
		}
	}
}

// ---------------------------------------------------------------- header

func (h *Human) header(b *strings.Builder, r *checks.Report) {
	line := h.st.bold(r.Domain)
	if r.Stage != "" {
		line += "  stage: " + h.stageStyle(r.Stage)(string(r.Stage))
	}
	h.prose(b, 0, "", line, nil)

	sev, text := verdict(r)
	style := h.st.of(lookOf(sev).markTone) // the verdict is coloured as its mark
	h.prose(b, 0, h.mark(sev)+" ", text, style)

	var when []string
	if !r.CheckedAt.IsZero() {
		w := "checked " + r.CheckedAt.UTC().Format("2006-01-02 15:04:05 UTC")
		if r.DurationMS > 0 {
			w += " in " + elapsed(r.DurationMS)
		}
		when = append(when, w)
	}
	if r.Input != "" && r.Input != r.Domain {
		when = append(when, fmt.Sprintf("typed as %q", r.Input))
	}
	if len(when) > 0 {
		h.prose(b, 0, "", strings.Join(when, "; "), h.st.dim)
	}
	b.WriteString(h.rule() + "\n")
}

// verdict sums a report up in one line, with the severity that colours it.
func verdict(r *checks.Report) (checks.Severity, string) {
	if r.Error != "" {
		hint := ""
		if errors.Is(r.Cause, checks.ErrNoResolver) {
			hint = " (give one with --resolver)"
		}
		return checks.SevError, "not checked: " + r.Error + hint
	}
	var errs, warns int
	for _, f := range r.Findings {
		switch f.Severity {
		case checks.SevError:
			errs++
		case checks.SevWarn:
			warns++
		}
	}
	counts := Plural(errs, "error")
	if warns > 0 {
		counts += ", " + Plural(warns, "warning")
	}
	switch {
	case errs > 0 && r.Stage == checks.StageEnforce:
		return checks.SevError, counts + ": senders that enforce this policy may refuse mail to this domain"
	case errs > 0 && r.Stage == checks.StageTesting:
		return checks.SevError, counts + ": senders report these failures now; under enforce they would refuse mail"
	case errs > 0 && r.Stage == checks.StageBroken:
		return checks.SevError, counts + ": senders cannot use the MTA-STS deployment as published"
	case errs > 0:
		return checks.SevError, counts + ": fix these before the next step"
	case r.Stage == checks.StageBroken:
		return checks.SevWarn, Plural(warns, "warning") + ": senders cannot use the MTA-STS deployment as published"
	case warns > 0:
		return checks.SevWarn, "no errors, " + Plural(warns, "warning")
	default:
		return checks.SevInfo, "healthy: no problems found"
	}
}

// ---------------------------------------------------------------- findings

// section is one group of findings; the order is the order an operator
// fixes things in (the seven field failures of docs/design.md), unknown
// areas last.
type section struct {
	key, title string
	findings   []checks.Finding
}

var sectionOrder = []struct{ key, title string }{
	{"dns", "DNS"},
	{"sts", "TXT record (_mta-sts)"},
	{"policy", "Policy host (mta-sts)"},
	{"mx", "MX coverage"},
	{"tls", "MX TLS"},
	{"idsync", "Policy id sync"},
	{"mode", "Mode and max_age"},
	{"tlsrpt", "TLS-RPT (_smtp._tls)"},
	{"teardown", "Removal"},
}

// sectionKey files a finding under its area, except that the policy area's
// id-sync and max_age findings get sections of their own.
func sectionKey(f checks.Finding) string {
	if f.Area == "policy" {
		switch f.ID {
		case "policy.id-drift":
			return "idsync"
		case "policy.max-age-low", "policy.max-age-high", "policy.testing-long-max-age":
			return "mode"
		}
	}
	if f.Area == "" {
		return "other"
	}
	return f.Area
}

// groupFindings orders findings into sections, and within a section errors
// first, then warnings, then the rest, otherwise as the engine listed them.
func groupFindings(fs []checks.Finding) []section {
	byKey := map[string]*section{}
	var unknown []string
	for _, f := range fs {
		k := sectionKey(f)
		s, ok := byKey[k]
		if !ok {
			s = &section{key: k, title: k}
			byKey[k] = s
			if !slices.ContainsFunc(sectionOrder, func(o struct{ key, title string }) bool { return o.key == k }) {
				unknown = append(unknown, k)
			}
		}
		s.findings = append(s.findings, f)
	}
	var out []section
	for _, o := range sectionOrder {
		if s, ok := byKey[o.key]; ok {
			s.title = o.title
			out = append(out, *s)
		}
	}
	for _, k := range unknown {
		out = append(out, *byKey[k])
	}
	for _, s := range out {
		slices.SortStableFunc(s.findings, func(a, b checks.Finding) int { return sevRank(a.Severity) - sevRank(b.Severity) })
	}
	return out
}

func sevRank(s checks.Severity) int { return lookOf(s).rank }

func (h *Human) findings(b *strings.Builder, domain string, fs []checks.Finding) {
	if len(fs) == 0 {
		return
	}
	for i, s := range groupFindings(fs) {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(h.st.bold(s.title) + "\n")
		for j, f := range s.findings {
			if j > 0 {
				b.WriteString("\n")
			}
			h.finding(b, domain, f)
		}
	}
	b.WriteString("\n")
}

func (h *Human) finding(b *strings.Builder, domain string, f checks.Finding) {
	head := h.st.bold(f.ID)
	if f.Subject != "" {
		head += "  " + f.Subject
	}
	h.prose(b, 2, h.sevLabel(f.Severity)+"  ", head, nil)
	h.field(b, findIndent, findLabel, "observed", f.Observed)
	h.field(b, findIndent, findLabel, "why", f.Why)
	if len(f.Senders) > 0 {
		h.field(b, findIndent, findLabel, "senders", strings.Join(f.Senders, ", "))
	}
	if f.Fix != "" {
		prose, block := splitFix(f.Fix)
		if prose == "" && len(block) > 0 {
			prose, block = block[0], block[1:]
			h.copyLines(b, findIndent, findLabel, "fix", []string{prose}, 0)
		} else {
			h.field(b, findIndent, findLabel, "fix", prose)
		}
		h.copyLines(b, findIndent, findLabel, "", block, blockIndent)
	}
	if cmd := ActionCommand(domain, f.Action); cmd != "" {
		h.copyLines(b, findIndent, findLabel, "run", []string{cmd}, 0)
	}
	if len(f.Rules) > 0 {
		h.field(b, findIndent, findLabel, "rules", strings.Join(f.Rules, ", "))
	}
	if f.ResultType != "" {
		h.field(b, findIndent, findLabel, "tls-rpt", "result-type "+f.ResultType)
	}
}

// ActionCommand is the command line that carries out a finding's typed
// action ("stspilot teardown example.com"), "" for none or for a record
// (the fix shows the record itself).
func ActionCommand(domain string, a *checks.Action) string {
	if a == nil || a.Workflow == "" {
		return ""
	}
	return Command(workflow.Workflow(a.Workflow), domain)
}

// splitFix separates a fix into prose and the exact lines to copy: the lines
// after the first (a policy file), or a `NAME TXT "..."` record quoted in a
// one-line fix. A record at the end of the line is moved out of the prose; one
// in the middle stays in it and is repeated below, ready to copy.
func splitFix(fix string) (prose string, block []string) {
	lines := strings.Split(strings.TrimRight(fix, "\n"), "\n")
	prose, block = lines[0], lines[1:]
	if len(block) > 0 {
		return prose, block
	}
	start, end := findRecord(prose)
	if start < 0 {
		return prose, nil
	}
	rec := prose[start:end]
	if strings.TrimSpace(prose[end:]) == "" {
		return strings.TrimSpace(prose[:start]), []string{rec}
	}
	return prose, []string{rec}
}

// findRecord locates `NAME TXT "..."` in s and returns its byte offsets, or
// -1, -1. The quoted part may contain \" escapes (Go's %q).
func findRecord(s string) (start, end int) {
	k := strings.Index(s, ` TXT "`)
	if k <= 0 {
		return -1, -1
	}
	start = strings.LastIndexAny(s[:k], " \t") + 1
	if start >= k || !strings.Contains(s[start:k], ".") {
		return -1, -1
	}
	q := k + len(` TXT "`)
	for i := q; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return start, i + 1
		}
	}
	return -1, -1
}

// ---------------------------------------------------------------- seen

func (h *Human) seen(b *strings.Builder, r *checks.Report) {
	if r.STS == nil && r.Policy == nil && len(r.MX) == 0 && r.TLSRPT == nil && len(r.Senders) == 0 {
		return
	}
	b.WriteString(h.st.bold("Seen") + "\n")
	h.seenTXT(b, r.STS)
	h.seenPolicy(b, r.Policy)
	h.seenMX(b, r.MX)
	h.seenTLSRPT(b, r.TLSRPT)
	h.seenSenders(b, r.Senders)
}

func (h *Human) seenTXT(b *strings.Builder, s *checks.STSInfo) {
	if s == nil {
		return
	}
	first := s.Name
	if s.TTL > 0 {
		first += fmt.Sprintf("  TTL %d", s.TTL)
	}
	if len(s.CNAME) > 0 {
		first += "  via CNAME " + strings.Join(s.CNAME, " -> ")
	}
	h.field(b, seenIndent, seenLabel, "TXT", first)
	if len(s.Records) == 0 {
		h.field(b, seenIndent, seenLabel, "", "no TXT record")
		return
	}
	quoted := make([]string, len(s.Records))
	for i, rec := range s.Records {
		quoted[i] = quoteRecord(rec)
	}
	h.copyLines(b, seenIndent, seenLabel, "", quoted, 0)
	if s.ID == "" {
		return
	}
	if s.IDScheme == nil {
		h.field(b, seenIndent, seenLabel, "", "id "+s.ID+" is opaque (not stspilot's date+hash scheme)")
		return
	}
	h.field(b, seenIndent, seenLabel, "", fmt.Sprintf("id %s is in stspilot's scheme: published %s, policy hash %s",
		s.ID, s.IDScheme.PublishedAt.UTC().Format("2006-01-02 15:04:05 UTC"), s.IDScheme.Hash))
	switch m := s.IDScheme.Matches; {
	case m == nil:
		h.status(b, seenIndent+seenLabel, "", "whether the served policy matches the id is unknown")
	case *m:
		h.status(b, seenIndent+seenLabel, checks.SevInfo, "the served policy matches the id's hash")
	default:
		h.status(b, seenIndent+seenLabel, checks.SevError, "the served policy does NOT match the id's hash: it changed without a new id")
	}
}

func (h *Human) seenPolicy(b *strings.Builder, p *checks.PolicyInfo) {
	if p == nil {
		return
	}
	where := p.URL
	if where == "" {
		where = p.Host
	}
	h.field(b, seenIndent, seenLabel, "policy", where)
	if p.Mode != "" {
		line := "mode " + h.stageStyle(checks.Stage(p.Mode))(p.Mode)
		if p.MaxAge > 0 {
			line += fmt.Sprintf(", max_age %d (%s)", p.MaxAge, seconds(p.MaxAge))
		}
		h.field(b, seenIndent, seenLabel, "", line)
	} else {
		h.field(b, seenIndent, seenLabel, "", "no policy could be read")
	}
	if len(p.MX) > 0 {
		h.field(b, seenIndent, seenLabel, "", "mx "+strings.Join(p.MX, ", "))
	}
	pad := 0
	for _, f := range p.Fetch {
		pad = max(pad, ansi.StringWidth(f.Addr))
	}
	for _, g := range groupFetches(p.Fetch) {
		for _, f := range g {
			var parts []string
			if len(g) > 1 {
				parts = append(parts, fetchRole(f.UserAgent))
			}
			if f.Status != 0 {
				parts = append(parts, strconv.Itoa(f.Status))
			}
			if f.Location != "" {
				parts = append(parts, "redirect to "+f.Location)
			}
			if f.ContentType != "" {
				parts = append(parts, f.ContentType)
			}
			if f.Bytes > 0 {
				parts = append(parts, strings.ReplaceAll(Plural(f.Bytes, "byte"), " ", nbsp))
			}
			if f.Status != 0 || f.Error == "" {
				parts = append(parts, elapsed(f.ElapsedMS))
			}
			if f.CertProblem != "" {
				parts = append(parts, "certificate: "+f.CertProblem)
			} else if f.CertExpiry != "" {
				parts = append(parts, "cert until "+f.CertExpiry)
			}
			if f.Error != "" {
				parts = append(parts, f.Error)
			}
			sev := checks.SevInfo
			if f.Error != "" || f.Status != 200 || f.CertProblem != "" {
				sev = checks.SevError
			}
			h.status(b, seenIndent+seenLabel, sev, column(f.Addr, pad)+strings.Join(parts, ", "))
		}
	}
}

// groupFetches gathers the fetches of each address (the engine fetches as a
// mail sender and as a browser, to catch bot filters: STS-FETCH-14). When
// all fetches of an address saw the same thing, only the first is kept.
func groupFetches(fs []checks.FetchInfo) [][]checks.FetchInfo {
	var order []string
	by := map[string][]checks.FetchInfo{}
	for _, f := range fs {
		if _, ok := by[f.Addr]; !ok {
			order = append(order, f.Addr)
		}
		by[f.Addr] = append(by[f.Addr], f)
	}
	out := make([][]checks.FetchInfo, 0, len(order))
	for _, a := range order {
		g := by[a]
		same := true
		for _, f := range g[1:] {
			same = same && f.Status == g[0].Status && f.ContentType == g[0].ContentType && f.Bytes == g[0].Bytes &&
				f.SHA256 == g[0].SHA256 && f.Location == g[0].Location && f.CertProblem == g[0].CertProblem && f.Error == g[0].Error
		}
		if same {
			g = g[:1]
		}
		out = append(out, g)
	}
	return out
}

// fetchRole names who a fetch stood for, from its User-Agent.
func fetchRole(ua string) string {
	switch {
	case strings.HasPrefix(ua, "stspilot"):
		return "as a mail sender"
	case strings.Contains(ua, "Mozilla"):
		return "as a browser"
	case ua == "":
		return "no User-Agent"
	default:
		return "as " + ua
	}
}

func (h *Human) seenMX(b *strings.Builder, mxs []checks.MXInfo) {
	if mxs == nil {
		return
	}
	if len(mxs) == 0 {
		h.field(b, seenIndent, seenLabel, "MX", "no MX records")
		return
	}
	prefW := 0
	for _, m := range mxs {
		prefW = max(prefW, len(strconv.Itoa(int(m.Preference))))
	}
	for i, m := range mxs {
		label := ""
		if i == 0 {
			label = "MX"
		}
		host := m.Host
		if host == "" || host == "." {
			host = "(null MX)"
		}
		line := padLeft(strconv.Itoa(int(m.Preference)), prefW) + " " + host
		if m.CNAME != "" {
			line += " (CNAME to " + m.CNAME + ")"
		}
		switch {
		case m.Covered == nil:
		case *m.Covered:
			cov := "covered"
			if m.Pattern != "" {
				cov += " by " + m.Pattern
			}
			line += "  " + h.mark(checks.SevInfo) + " " + cov
		default:
			line += "  " + h.mark(checks.SevError) + " not covered by any mx pattern"
		}
		h.field(b, seenIndent, seenLabel, label, line)
		sub := seenIndent + seenLabel + prefW + 1
		if m.Error != "" {
			h.status(b, sub, checks.SevError, m.Error)
		}
		pad := 0
		for _, a := range m.Addrs {
			pad = max(pad, ansi.StringWidth(a.Addr))
		}
		for _, a := range m.Addrs {
			var parts []string
			sev := checks.SevInfo
			switch {
			case a.Error != "" && !a.STARTTLS:
				sev = checks.SevError
			case a.STARTTLS:
				tls := "STARTTLS"
				if a.TLSVersion != "" {
					tls += " " + a.TLSVersion
				}
				parts = append(parts, tls)
			default:
				sev = checks.SevError
				parts = append(parts, "no STARTTLS")
			}
			if a.CertProblem != "" {
				sev = checks.SevError
				parts = append(parts, "certificate: "+a.CertProblem)
			} else if a.CertExpiry != "" {
				parts = append(parts, "cert until "+a.CertExpiry)
			}
			if a.Error != "" {
				sev = checks.SevError
				parts = append(parts, a.Error)
			}
			parts = append(parts, elapsed(a.ElapsedMS))
			h.status(b, sub, sev, column(a.Addr, pad)+strings.Join(parts, ", "))
		}
	}
}

func (h *Human) seenTLSRPT(b *strings.Builder, t *checks.TLSRPTInfo) {
	if t == nil {
		return
	}
	h.field(b, seenIndent, seenLabel, "TLS-RPT", t.Name)
	switch {
	case len(t.RUA) > 0:
		h.field(b, seenIndent, seenLabel, "", "rua "+strings.Join(t.RUA, ", "))
	case len(t.Records) > 0:
		quoted := make([]string, len(t.Records))
		for i, rec := range t.Records {
			quoted[i] = quoteRecord(rec)
		}
		h.copyLines(b, seenIndent, seenLabel, "", quoted, 0)
	default:
		h.field(b, seenIndent, seenLabel, "", "no TLS-RPT record")
	}
}

// senderGroup is the implementations that read the domain the same way.
type senderGroup struct {
	view  checks.SenderView
	impls []string
}

func (h *Human) seenSenders(b *strings.Builder, vs []checks.SenderView) {
	if len(vs) == 0 {
		return
	}
	var groups []*senderGroup
	for _, v := range vs {
		i := slices.IndexFunc(groups, func(g *senderGroup) bool {
			return g.view.Outcome == v.Outcome && g.view.Mode == v.Mode && g.view.MaxAge == v.MaxAge
		})
		if i < 0 {
			groups = append(groups, &senderGroup{view: v})
			i = len(groups) - 1
		}
		name := v.Impl
		if v.Reason != "" {
			name += " (" + v.Reason + ")"
		}
		groups[i].impls = append(groups[i].impls, name)
	}
	if len(groups) == 1 {
		g := groups[0]
		agree := fmt.Sprintf("all %d implementations agree:", len(vs))
		switch len(vs) {
		case 1:
			agree = "1 implementation:"
		case 2:
			agree = "both implementations agree:"
		}
		h.field(b, seenIndent, seenLabel, "senders", agree)
		h.status(b, seenIndent+seenLabel, outcomeSev(g.view.Outcome), describeOutcome(g.view)+": "+strings.Join(g.impls, ", "))
		return
	}
	h.field(b, seenIndent, seenLabel, "senders", h.st.warn(fmt.Sprintf("%d implementations disagree:", len(vs))))
	for _, g := range groups {
		h.status(b, seenIndent+seenLabel, outcomeSev(g.view.Outcome), describeOutcome(g.view)+": "+strings.Join(g.impls, ", "))
	}
}

func outcomeSev(outcome string) checks.Severity {
	switch outcome {
	case "policy":
		return checks.SevInfo
	case "no-policy":
		return checks.SevWarn
	default:
		return checks.SevError
	}
}

func describeOutcome(v checks.SenderView) string {
	var s string
	switch v.Outcome {
	case "policy":
		s = "policy"
	case "no-policy":
		s = "no policy"
	case "fetch-error":
		s = "cannot fetch the policy"
	case "invalid":
		s = "reject the policy as invalid"
	default:
		s = v.Outcome
	}
	if v.Mode != "" {
		s += " mode " + v.Mode
	}
	if v.MaxAge > 0 {
		s += fmt.Sprintf(" max_age %d", v.MaxAge)
	}
	return s
}

// ---------------------------------------------------------------- layout

// field writes label and wrapped text, continuation lines hanging under the
// text column.
func (h *Human) field(b *strings.Builder, indent, labelW int, label, text string) {
	h.prose(b, indent, padRight(h.st.dim(label), labelW, label), text, nil)
}

// prose wraps text after a prefix that sits at indent; continuation lines
// start under the text. style, if set, colours each wrapped line.
func (h *Human) prose(b *strings.Builder, indent int, prefix, text string, style func(string) string) {
	col := indent + ansi.StringWidth(prefix)
	lines := wrap(text, h.width-col)
	for i, l := range lines {
		l = strings.ReplaceAll(l, nbsp, " ")
		if style != nil {
			l = style(l)
		}
		if i == 0 {
			b.WriteString(strings.Repeat(" ", indent) + prefix + l)
		} else {
			b.WriteString(strings.Repeat(" ", col) + l)
		}
		b.WriteString("\n")
	}
}

// copyLines writes lines unwrapped and in the code colour (records, policy
// lines) so that they can be selected and pasted as they are; extra indents
// them further.
func (h *Human) copyLines(b *strings.Builder, indent, labelW int, label string, lines []string, extra int) {
	for i, l := range lines {
		lab := ""
		if i == 0 {
			lab = label
		}
		b.WriteString(strings.Repeat(" ", indent) + padRight(h.st.dim(lab), labelW, lab) + strings.Repeat(" ", extra) + h.st.code(l) + "\n")
	}
}

// status writes one wrapped line with a mark in front, at column col.
func (h *Human) status(b *strings.Builder, col int, sev checks.Severity, text string) {
	h.prose(b, col, h.mark(sev)+" ", text, nil)
}

// mark is the one-cell (icons) or short (plain) marker of a severity; ""
// is "unknown" and SevInfo doubles as "ok" in the seen rows.
func (h *Human) mark(sev checks.Severity) string {
	l := lookOf(sev)
	return h.glyph(h.st.of(l.markTone)(l.icon), l.plain)
}

// sevLabel heads a finding.
func (h *Human) sevLabel(sev checks.Severity) string {
	l := lookOf(sev)
	return h.glyph(h.st.of(l.tone)(l.iconLabel), l.plainLabel)
}

// sevStyle colours a severity's name.
func (h *Human) sevStyle(sev checks.Severity) func(string) string {
	return h.st.of(lookOf(sev).tone)
}

// sevLook is how a severity is shown and where its findings sort.
type sevLook struct {
	rank                  int    // order in a section: errors, warnings, the rest
	tone                  tone   // its name and its finding's label
	markTone              tone   // its mark (icons) and a verdict of it
	icon, plain           string // its mark: one cell (icons) or four columns
	iconLabel, plainLabel string // the label that heads a finding of it
}

// sevLooks has one entry a severity; one it does not list is unknownSev.
var sevLooks = map[checks.Severity]sevLook{
	checks.SevError: {rank: 0, tone: toneErr, markTone: toneErr, icon: "✗", plain: "FAIL", iconLabel: "✗ error", plainLabel: "ERROR"},
	checks.SevWarn:  {rank: 1, tone: toneWarn, markTone: toneWarn, icon: "!", plain: "WARN", iconLabel: "! warn ", plainLabel: "WARN "},
	checks.SevInfo:  {rank: 2, tone: toneInfo, markTone: toneOK, icon: "✓", plain: "ok  ", iconLabel: "• info ", plainLabel: "INFO "},
}

var unknownSev = sevLook{rank: 2, tone: toneOK, markTone: toneDim, icon: "?", plain: "??  ", iconLabel: "• info ", plainLabel: "INFO "}

func lookOf(sev checks.Severity) sevLook {
	if l, ok := sevLooks[sev]; ok {
		return l
	}
	return unknownSev
}

// stageTones colours each stage; one it does not list is bold.
var stageTones = map[checks.Stage]tone{
	checks.StageEnforce: toneOK,
	checks.StageTesting: toneWarn,
	checks.StageBroken:  toneErr,
}

func (h *Human) stageStyle(stage checks.Stage) func(string) string {
	if t, ok := stageTones[stage]; ok {
		return h.st.of(t)
	}
	return h.st.bold
}

// glyph is icon (styled as it is) with Icons, else its ASCII stand-in.
func (h *Human) glyph(icon, ascii string) string {
	if h.icons {
		return icon
	}
	return ascii
}

func (h *Human) rule() string {
	return h.glyph(h.st.dim(strings.Repeat("─", h.width)), strings.Repeat("-", h.width))
}

// padRight pads s to w cells. With a third argument, the width is measured
// on that (unstyled) text instead of s.
func padRight(s string, w int, plain ...string) string {
	m := s
	if len(plain) > 0 {
		m = plain[0]
	}
	if n := ansi.StringWidth(m); n < w {
		return s + strings.Repeat(" ", w-n)
	}
	return s
}

// column pads s to w cells plus a two-space gap, so that addresses line up
// in their rows (wrap keeps runs of spaces).
func column(s string, w int) string {
	if n := ansi.StringWidth(s); n < w {
		s += strings.Repeat(" ", w-n)
	}
	return s + "  "
}

// quoteRecord shows a TXT record's text in double quotes, escaping inner
// quotes as zone files do.
func quoteRecord(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`
}

func padLeft(s string, w int) string {
	if n := len(s); n < w {
		return strings.Repeat(" ", w-n) + s
	}
	return s
}

// Plural is "1 probe", "2 probes": n and word, which is singular and
// takes an s. Every front end counts things with it.
func Plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

// elapsed formats milliseconds; the number and its unit never wrap apart.
func elapsed(ms int64) string {
	if ms < 1000 {
		return fmt.Sprintf("%d"+nbsp+"ms", ms)
	}
	return fmt.Sprintf("%.1f"+nbsp+"s", float64(ms)/1000)
}

// nbsp glues words that must not wrap apart; prose prints it as a space.
const nbsp = "\u00a0"

// seconds writes a max_age for people: 604800 -> "7d", 90000 -> "1d 1h".
func seconds(s int64) string {
	if s <= 0 {
		return "0s"
	}
	return duration.Format(time.Duration(min(s, int64(duration.Max/time.Second))) * time.Second)
}
