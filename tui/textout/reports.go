package textout

import (
	"fmt"
	"io"
	"math/bits"
	"strings"
	"time"

	"github.com/stspilot/stspilot/checks/tlsrpt"
	"github.com/stspilot/stspilot/internal/printable"
	"github.com/stspilot/stspilot/internal/satcount"
)

// ReportsView is what `stspilot reports` shows: the digest of the reports
// read, what reading them found, and the files that could not be read.
type ReportsView struct {
	Summary tlsrpt.DigestResult
	Stats   tlsrpt.WalkStats
	// Errors are "PATH: reason", one per file that could not be read.
	Errors []string
}

// maxRows is how many rows a breakdown shows before "and N more".
const maxRows = 10

// WriteReports writes v for people: totals, a daily bar chart (ASCII
// without Icons, block characters with; colour only with Color), the
// failure breakdowns, the policies the reports saw, silent reporters,
// tolerated deviations and unreadable files. One Write.
func WriteReports(w io.Writer, v ReportsView, opt Options) error {
	width := opt.width()
	st := newStyles(w, opt.Color)
	s := safeDigest(v.Summary)
	var b strings.Builder

	title := "TLS-RPT reports"
	if s.Domain != "" {
		title += " for " + s.Domain
	}
	if s.From != "" {
		n := len(s.Days)
		if f, err1 := time.Parse("2006-01-02", s.From); err1 == nil {
			if t, err2 := time.Parse("2006-01-02", s.To); err2 == nil {
				n = int(t.Sub(f)/(24*time.Hour)) + 1
			}
		}
		title += fmt.Sprintf(", %s .. %s (%d %s)", s.From, s.To, n, plur(n, "day", "days"))
	}
	b.WriteString(st.bold(title) + "\n")
	if s.Since != nil {
		fmt.Fprintf(&b, "  since %s\n", s.Since.Format("2006-01-02 15:04 MST"))
	}
	total := satcount.Add(s.Successful, s.Failed)
	fail := satcount.String(s.Failed) + " failed"
	switch {
	case s.Failed > 0:
		fail = st.err(fmt.Sprintf("%s failed (%s)", satcount.String(s.Failed), pct(s.Failed, total)))
	case total > 0:
		fail = st.ok("none failed")
	}
	fmt.Fprintf(&b, "  %d %s from %d %s; %s sessions, %s\n", s.Reports, plur(s.Reports, "report", "reports"),
		len(s.Reporters), plur(len(s.Reporters), "organisation", "organisations"), satcount.String(total), fail)
	read := fmt.Sprintf("  read %d %s", v.Stats.Files, plur(v.Stats.Files, "file", "files"))
	var extra []string
	if v.Stats.Duplicates > 0 {
		extra = append(extra, fmt.Sprintf("%d duplicate %s counted once", v.Stats.Duplicates, plur(v.Stats.Duplicates, "report", "reports")))
	}
	if v.Stats.Skipped > 0 {
		extra = append(extra, fmt.Sprintf("%d other %s skipped", v.Stats.Skipped, plur(v.Stats.Skipped, "file", "files")))
	}
	if v.Stats.Conflicts > 0 {
		extra = append(extra, st.warn(fmt.Sprintf("%d %s in copies that differ, the one with the most failures counted", v.Stats.Conflicts, plur(v.Stats.Conflicts, "report", "reports"))))
	}
	if s.Ignored > 0 {
		extra = append(extra, fmt.Sprintf("%d %s outside the domain or period", s.Ignored, plur(s.Ignored, "report", "reports")))
	}
	if len(v.Errors) > 0 {
		extra = append(extra, st.err(fmt.Sprintf("%d unreadable", len(v.Errors))))
	}
	if len(extra) > 0 {
		read += ": " + strings.Join(extra, ", ")
	}
	b.WriteString(read + "\n")

	if len(s.Days) > 0 {
		writeChart(&b, s.Days, width, opt.Icons, st)
	}
	for _, sec := range []struct {
		title string
		rows  []tlsrpt.Count
	}{
		{"Failures by result type", s.ByResultType},
		{"Failures by reporting organisation", s.ByOrganization},
		{"Failures by receiving MX", s.ByReceivingMX},
		{"Failures by receiving IP", s.ByReceivingIP},
		{"Failures by sending MTA", s.BySendingMTA},
	} {
		writeTop(&b, st, st.bold(sec.title), sec.rows, func(c tlsrpt.Count) {
			key := c.Key
			if sec.title == "Failures by result type" && key != tlsrpt.NotGivenKey && key != tlsrpt.OtherKey {
				key += st.dim(" (" + tlsrpt.Describe(c.Key) + ")")
			}
			writeCount(&b, width, c.Sessions, key)
		})
	}
	writeTop(&b, st, st.bold("Top causes"), s.Failures, func(f tlsrpt.FailureGroup) {
		where := f.ReceivingMX
		if where == "" {
			where = "MX not given"
		}
		days := f.First
		if f.Last != f.First {
			days += ".." + f.Last
		}
		line := fmt.Sprintf("%s at %s, %s", f.ResultType, where, days)
		writeCount(&b, width, f.Sessions, st.err(line))
		detail := "reported by " + strings.Join(f.Organizations, ", ")
		if len(f.ReceivingIPs) > 0 {
			detail += "; receiving IP " + strings.Join(f.ReceivingIPs, " ")
		}
		if f.ReasonCode != "" {
			detail += "; reason " + f.ReasonCode
		}
		if p := reportPolicy(s.Policies, f.Policy); p != "" {
			detail += "; under " + p
		}
		writeWrapped(&b, 12, width, detail)
	})
	if len(s.Policies) > 0 {
		b.WriteString("\n" + st.bold("Policies the reports saw") + "\n")
		for _, p := range s.Policies {
			fmt.Fprintf(&b, "  %s\n", reportPolicy(s.Policies, p.Key))
			line := fmt.Sprintf("%d %s, %s..%s, %s sessions, %s failed", p.Reports, plur(p.Reports, "report", "reports"), p.First, p.Last, satcount.String(satcount.Add(p.Successful, p.Failed)), satcount.String(p.Failed))
			writeWrapped(&b, 4, width, line)
		}
	}
	if len(s.Silent) > 0 {
		b.WriteString("\n" + st.bold("Reporters gone silent") + "\n")
		for _, r := range s.Silent {
			fmt.Fprintf(&b, "  %s %s\n", st.warn(r.Organization), fmt.Sprintf("last reported %s (%d %s since %s)", r.Last, r.Reports, plur(r.Reports, "report", "reports"), r.First))
		}
	}
	writeTop(&b, st, st.bold("Reports stored in copies that differ")+" "+st.dim("(the copy with the most failures counted)"), s.Conflicts, func(c tlsrpt.Conflict) {
		fmt.Fprintf(&b, "  %s %s\n", st.warn(c.Organization), c.ReportID)
		writeWrapped(&b, 4, width, fmt.Sprintf("%d copies, %s to %s failed sessions; counted: %s", c.Copies, satcount.String(c.LowestRank), satcount.String(c.Rank), c.Path))
	})
	writeTop(&b, st, st.bold("Deviations from RFC 8460, tolerated"), s.Deviations, func(d tlsrpt.Count) {
		writeCount(&b, width, d.Sessions, st.dim(d.Key))
	})
	if len(v.Errors) > 0 {
		b.WriteString("\n" + st.bold("Unreadable") + "\n")
		for _, e := range v.Errors {
			writeWrapped(&b, 2, width, st.err(cleanLine(e)))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeTop writes a section of rows under heading, nothing when there are
// none: the first maxRows rows, each with row, then "and N more".
func writeTop[T any](b *strings.Builder, st styles, heading string, rows []T, row func(T)) {
	if len(rows) == 0 {
		return
	}
	b.WriteString("\n" + heading + "\n")
	for i, r := range rows {
		if i == maxRows {
			fmt.Fprintf(b, "  %s\n", st.dim(fmt.Sprintf("and %d more", len(rows)-maxRows)))
			break
		}
		row(r)
	}
}

// policyLabel names the policy with key among ps: "testing max_age
// 86400, mx a, b, id X" or the policy type.
func reportPolicy(ps []tlsrpt.PolicySeen, key string) string {
	for _, p := range ps {
		if p.Key != key {
			continue
		}
		if p.Type != tlsrpt.PolicySTS {
			return fmt.Sprintf("%s (%s)", p.Type, p.Domain)
		}
		var parts []string
		if p.Mode != "" {
			parts = append(parts, p.Mode)
		} else {
			parts = append(parts, "sts, policy not stated")
		}
		if p.MaxAge > 0 {
			parts = append(parts, fmt.Sprintf("max_age %d", p.MaxAge))
		}
		if len(p.MX) > 0 {
			parts = append(parts, "mx "+strings.Join(p.MX, " "))
		}
		if p.ID != "" {
			parts = append(parts, "id "+p.ID)
		}
		return strings.Join(parts, ", ")
	}
	return ""
}

// writeChart draws one bar per day: successful sessions then failed ones,
// scaled to the busiest day.
func writeChart(b *strings.Builder, days []tlsrpt.DayCount, width int, icons bool, st styles) {
	okC, failC := "#", "x"
	legend := "# successful, x failed"
	if icons {
		okC, failC = "█", "░"
		legend = "█ successful, ░ failed"
	}
	b.WriteString("\n" + st.bold("Sessions per day") + " " + st.dim("("+legend+")") + "\n")
	var top int64
	for _, d := range days {
		top = max(top, satcount.Add(d.Successful, d.Failed))
	}
	// "  2006-01-02  " + bar + "  " + "%9d" + " %6d failed".
	barW := max(width-2-10-2-2-9-14, 10)
	for i := 0; i < len(days); i++ {
		d := days[i]
		// A run of more than three days without a report is one line. The
		// run counts the days the list leaves out (it has every day only
		// for the last ten years) as well as those listed with no report.
		if from, to, n, next := silentRun(days, i); n > 3 {
			fmt.Fprintf(b, "  %s  %s\n", from, st.dim(fmt.Sprintf("... %d days without a report, to %s", n, to)))
			if next > i { // days[i:next] were listed silent days
				i = next - 1
				continue
			}
			// days[i] has a report after days left out of the list
		}
		n := satcount.Add(d.Successful, d.Failed)
		okN, failN := 0, 0
		if top > 0 && n > 0 {
			all := scale(n, int64(barW), top, true)
			failN = scale(d.Failed, int64(barW), top, true)
			failN = min(failN, all)
			okN = all - failN
			if d.Successful > 0 && okN == 0 && all > 1 {
				okN, failN = 1, failN-1
			}
		}
		bar := st.ok(strings.Repeat(okC, okN)) + st.err(strings.Repeat(failC, failN)) + strings.Repeat(" ", barW-okN-failN)
		counts := fmt.Sprintf("%9s", satcount.String(n))
		switch {
		case d.Reports == 0:
			counts = st.dim(fmt.Sprintf("%9s", "no report"))
		case d.Failed > 0:
			counts += st.err(fmt.Sprintf(" %6s failed", satcount.String(d.Failed)))
		}
		fmt.Fprintf(b, "  %s  %s  %s\n", d.Day, bar, counts)
	}
}

// silentRun measures the days without a report from days[i] on: those
// listed with no report, and those missing between listed days. It
// returns the first and last silent day, their number, and the index of
// the next entry with a report (len(days) when none); n is 0 when
// days[i] has a report and follows its predecessor without a gap.
func silentRun(days []tlsrpt.DayCount, i int) (from, to string, n, next int) {
	start, ok := parseDay(days[i].Day)
	if !ok {
		return "", "", 0, i
	}
	if i > 0 && days[i-1].Reports > 0 { // after a silent day, i is inside a run already measured
		if prev, ok := parseDay(days[i-1].Day); ok && prev.Before(start) {
			start = prev.AddDate(0, 0, 1)
		}
	}
	j := i
	for j < len(days) && days[j].Reports == 0 {
		j++
	}
	var end time.Time
	if j < len(days) {
		e, ok := parseDay(days[j].Day)
		if !ok {
			return "", "", 0, i
		}
		end = e.AddDate(0, 0, -1)
	} else if e, ok := parseDay(days[j-1].Day); ok {
		end = e
	}
	if end.Before(start) {
		return "", "", 0, i
	}
	n = int(end.Sub(start)/(24*time.Hour)) + 1
	return start.Format(time.DateOnly), end.Format(time.DateOnly), n, j
}

func parseDay(s string) (time.Time, bool) {
	t, err := time.Parse(time.DateOnly, s)
	return t, err == nil
}

// writeCount writes "  %8d  text", text wrapped under itself.
func writeCount(b *strings.Builder, width int, n int64, text string) {
	for i, l := range wrap(text, max(width-12, 20)) {
		if i == 0 {
			fmt.Fprintf(b, "  %8s  %s\n", satcount.String(n), l)
		} else {
			b.WriteString(strings.Repeat(" ", 12) + l + "\n")
		}
	}
}

func writeWrapped(b *strings.Builder, indent, width int, text string) {
	pad := strings.Repeat(" ", indent)
	for _, l := range wrap(text, max(width-indent, 20)) {
		b.WriteString(pad + l + "\n")
	}
}

func pct(part, whole int64) string {
	if whole == 0 {
		return "0%"
	}
	p := float64(part) * 100 / float64(whole)
	if p < 0.1 {
		return "<0.1%"
	}
	return fmt.Sprintf("%.1f%%", p)
}

func plur(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func safeAll(ss []string) []string { return each(ss, cleanLine) }

func safeCounts(cs []tlsrpt.Count) []tlsrpt.Count {
	return each(cs, func(c tlsrpt.Count) tlsrpt.Count { return tlsrpt.Count{Key: cleanLine(c.Key), Sessions: c.Sessions} })
}

// each is a new slice of f applied to each of xs.
func each[T any](xs []T, f func(T) T) []T {
	out := make([]T, len(xs))
	for i, x := range xs {
		out[i] = f(x)
	}
	return out
}

// safeDigest returns a copy of s with every string from the reports made
// safe; keys stay consistent (policy keys are cleaned the same way on
// both sides).
func safeDigest(s tlsrpt.DigestResult) tlsrpt.DigestResult {
	s.Domain = cleanLine(s.Domain)
	s.ByResultType, s.ByOrganization = safeCounts(s.ByResultType), safeCounts(s.ByOrganization)
	s.ByReceivingMX, s.ByReceivingIP, s.BySendingMTA = safeCounts(s.ByReceivingMX), safeCounts(s.ByReceivingIP), safeCounts(s.BySendingMTA)
	s.Deviations = safeCounts(s.Deviations)
	s.Failures = each(s.Failures, func(f tlsrpt.FailureGroup) tlsrpt.FailureGroup {
		f.Policy, f.ResultType, f.ReceivingMX, f.ReasonCode = cleanLine(f.Policy), cleanLine(f.ResultType), cleanLine(f.ReceivingMX), cleanLine(f.ReasonCode)
		f.ReceivingIPs, f.Organizations = safeAll(f.ReceivingIPs), safeAll(f.Organizations)
		return f
	})
	s.Policies = each(s.Policies, func(p tlsrpt.PolicySeen) tlsrpt.PolicySeen {
		p.Key, p.Type, p.Domain, p.Mode, p.ID = cleanLine(p.Key), cleanLine(p.Type), cleanLine(p.Domain), cleanLine(p.Mode), cleanLine(p.ID)
		p.MX, p.Lines = safeAll(p.MX), safeAll(p.Lines)
		return p
	})
	s.Conflicts = each(s.Conflicts, func(c tlsrpt.Conflict) tlsrpt.Conflict {
		c.Organization, c.ReportID, c.Path = cleanLine(c.Organization), cleanLine(c.ReportID), cleanLine(c.Path)
		return c
	})
	safeReporter := func(r tlsrpt.Reporter) tlsrpt.Reporter {
		r.Organization, r.Contact = cleanLine(r.Organization), cleanLine(r.Contact)
		return r
	}
	s.Reporters, s.Silent = each(s.Reporters, safeReporter), each(s.Silent, safeReporter)
	return s
}

// ReportsBrief is the reports view of a stage screen (the wizard): at most
// six lines no wider than width, plain text for the caller to style:
//
//	TLS-RPT since 2026-11-01: 12 reports, 4,210 sessions, 25 failed
//	failures/day ▁▁█▃▁▁▁  (2026-11-01 .. 2026-11-07)
//	  25  validation-failure at mx2.example.net
//	   3  certificate-expired at mx1.example.net
//	silent: Quiet Mail (last 2026-11-01)
//
// Report text is made safe for the terminal (see safe).
func ReportsBrief(sum tlsrpt.DigestResult, width int) []string {
	s := safeDigest(sum)
	if width < 20 {
		width = 20
	}
	clipLine := func(l string) string { // l is valid UTF-8 (safe text)
		if _, cut := printable.RunePrefix(l, width); cut {
			p, _ := printable.RunePrefix(l, width-1)
			return p + "…"
		}
		return l
	}
	head := "TLS-RPT"
	if s.Since != nil {
		head += " since " + s.Since.Format("2006-01-02")
	}
	if s.Reports == 0 {
		return []string{clipLine(head + ": no reports")}
	}
	out := []string{clipLine(fmt.Sprintf("%s: %d %s, %s sessions, %s failed", head, s.Reports, plur(s.Reports, "report", "reports"),
		satcount.String(satcount.Add(s.Successful, s.Failed)), satcount.String(s.Failed)))}
	if len(s.Days) > 0 {
		days := s.Days
		room := width - len("failures/day ") - len("  (2006-01-02 .. 2006-01-02)")
		if room < 7 {
			room = 7
		}
		if len(days) > room {
			days = days[len(days)-room:]
		}
		var top int64
		for _, d := range days {
			top = max(top, d.Failed)
		}
		levels := []rune("▁▂▃▄▅▆▇█")
		var spark []rune
		for _, d := range days {
			switch {
			case d.Reports == 0:
				spark = append(spark, ' ')
			case d.Failed == 0 || top == 0:
				spark = append(spark, levels[0])
			default:
				spark = append(spark, levels[max(1, scale(d.Failed, int64(len(levels)-1), top, false))])
			}
		}
		out = append(out, clipLine(fmt.Sprintf("failures/day %s  (%s .. %s)", string(spark), days[0].Day, days[len(days)-1].Day)))
	}
	for i, f := range s.Failures {
		if i == 3 {
			break
		}
		where := f.ReceivingMX
		if where == "" {
			where = "MX not given"
		}
		out = append(out, clipLine(fmt.Sprintf("  %6s  %s at %s", satcount.String(f.Sessions), f.ResultType, where)))
	}
	if len(s.Silent) > 0 {
		var names []string
		for _, r := range s.Silent {
			names = append(names, fmt.Sprintf("%s (last %s)", r.Organization, r.Last))
		}
		out = append(out, clipLine("silent: "+strings.Join(names, ", ")))
	}
	return out
}

// scale is n*w/top (rounded up when up, else down) for 0 <= n <= top and
// a small w, without overflow: counts may be as large as satcount.Max.
func scale(n, w, top int64, up bool) int {
	if n <= 0 || w <= 0 || top <= 0 {
		return 0
	}
	hi, lo := bits.Mul64(uint64(n), uint64(w))
	if up {
		var c uint64
		lo, c = bits.Add64(lo, uint64(top-1), 0)
		hi += c
	}
	if hi >= uint64(top) { // n > top: not a share of top
		return int(w)
	}
	q, _ := bits.Div64(hi, lo, uint64(top))
	return int(min(q, uint64(w)))
}
