package serve

import (
	"context"
	"errors"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stspilot/stspilot/internal/domainname"
	"github.com/stspilot/stspilot/internal/txtrecord"
)

// Handler answers policy fetches and TLS-RPT POSTs. It routes by exact
// path, never through http.ServeMux: a mux cleans paths with a redirect,
// and a policy host must never redirect (STS-FETCH-6).
type Handler struct {
	Policies *Policies
	// Receiver takes reports POSTed to RUAPath; nil disables it.
	Receiver *Receiver
	RUAPath  string
	// ReportTimeout bounds a report's processing (0: only the server's
	// timeouts).
	ReportTimeout time.Duration
	// Log receives the access log. Fetches and reports are counted by
	// the policy's own FetchCounts and ReportCounts (the metrics').
	Log *AccessLog
}

const policyPath = txtrecord.WellKnownPath

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := now()
	cw := &countingWriter{ResponseWriter: w}
	e := newAccessEntry(r, start)
	h.serve(cw, r, &e, start)
	cw.answered(&e)
	// Counted once the answer is out: an atomic add on the counter the
	// policy was cached with.
	if e.counts != nil {
		e.counts.Inc(ClassifySender(e.UserAgent))
	} else {
		e.reports.inc(e.Status)
	}
	e.DurationMS = float64(now().Sub(start).Microseconds()) / 1000
	h.Log.Log(e)
}

// LogRequests is an http.Handler that answers with answer and logs each
// request to log as serve does, its time read from clock: the demo
// sandbox's policy host, on the sandbox's clock. answer fills in the
// entry's domain and policy id.
func LogRequests(log *AccessLog, clock func() time.Time, answer func(http.ResponseWriter, *http.Request, *AccessEntry)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		cw := &countingWriter{ResponseWriter: w}
		e := newAccessEntry(r, clock())
		answer(cw, r, &e)
		cw.answered(&e)
		e.DurationMS = float64(time.Since(start).Microseconds()) / 1000
		log.Log(e)
	})
}

// newAccessEntry is the access-log entry of r, received at t.
func newAccessEntry(r *http.Request, t time.Time) AccessEntry {
	e := AccessEntry{
		Time: t.UTC(), Remote: r.RemoteAddr, Proto: r.Proto, Host: r.Host,
		Method: r.Method, Path: r.URL.RequestURI(), UserAgent: r.UserAgent(),
	}
	if r.TLS != nil {
		e.SNI = r.TLS.ServerName
	}
	return e
}

// Header values of every policy answer (canonical keys, set directly).
var (
	hdrNosniff   = []string{"nosniff"}
	hdrTextPlain = []string{"text/plain"}
	hdrNoStore   = []string{"no-store"}
)

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, e *AccessEntry, start time.Time) {
	w.Header()["X-Content-Type-Options"] = hdrNosniff
	path := r.URL.Path
	if r.URL.RawQuery != "" && path == policyPath {
		// Senders fetch the bare URL; a query is not the policy URL.
		path = ""
	}
	switch {
	case path == policyPath:
		h.policy(w, r, e, start)
	case h.Receiver != nil && h.RUAPath != "" && path == h.RUAPath:
		h.report(w, r, e)
	default:
		e.Reason = "no such path"
		plain(w, http.StatusNotFound, "not found\n")
	}
}

func (h *Handler) policy(w http.ResponseWriter, r *http.Request, e *AccessEntry, start time.Time) {
	if refuseMethod(w, r, e, "method not allowed\n", http.MethodGet, http.MethodHead) {
		return
	}
	host := hostName(r.Host)
	domain, ok := strings.CutPrefix(host, txtrecord.PolicyHostPrefix)
	if !ok || domain == "" {
		e.Reason = "host is not mta-sts.DOMAIN"
		plain(w, http.StatusNotFound, "not found\n")
		return
	}
	if misdirected(w, r, e, host) {
		return
	}
	// From memory when nothing changed, else from the files.
	p, ok := h.Policies.cached(domain, start)
	var err error
	if !ok {
		p, err = h.Policies.Lookup(domain)
	}
	if err != nil {
		e.Reason = "no policy for this host"
		if !errors.Is(err, ErrNoPolicy) {
			e.Reason = err.Error()
		}
		plain(w, http.StatusNotFound, "not found\n")
		return
	}
	e.Domain, e.PolicyID, e.counts = p.Domain, p.ID, p.Counts
	hd := w.Header()
	// The values are shared, never written: net/http copies the header at
	// WriteHeader, and only reads it.
	hd["Content-Type"] = hdrTextPlain
	hd["Content-Length"] = p.clen
	// Senders must not cache by HTTP rules (STS-FETCH-7); tell caches in
	// between not to either, so a new policy is seen on the next fetch.
	hd["Cache-Control"] = hdrNoStore
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(p.Data)
	}
}

func (h *Handler) report(w http.ResponseWriter, r *http.Request, e *AccessEntry) {
	if refuseMethod(w, r, e, "POST a TLS-RPT report here\n", http.MethodPost) {
		return
	}
	// Reports are taken on the host mta-sts.D of a served domain D only,
	// and stored under D.
	host := hostName(r.Host)
	d, ok := strings.CutPrefix(host, txtrecord.PolicyHostPrefix)
	var domain string
	var counts *ReportCounts
	if ok && h.Policies != nil {
		if p, err := h.Policies.Lookup(d); err == nil {
			domain, counts = p.Domain, p.reports
		}
	}
	if domain == "" {
		e.Reason = "host is not mta-sts.DOMAIN of a served domain"
		plain(w, http.StatusNotFound, "not found: reports are taken on mta-sts.DOMAIN of a domain served here\n")
		return
	}
	if misdirected(w, r, e, host) {
		return
	}
	e.Domain, e.reports = domain, counts
	// The report's deadline: past it (or once the client is gone) the
	// receiver stops reading and stores nothing, and a body that stalls
	// is cut off there rather than at the server's read timeout.
	if h.ReportTimeout > 0 {
		ctx, cancel := context.WithTimeout(r.Context(), h.ReportTimeout)
		defer cancel()
		r = r.WithContext(ctx)
		dl, _ := ctx.Deadline()
		_ = http.NewResponseController(w).SetReadDeadline(dl)
	}
	rel, created, err := h.Receiver.Receive(r, domain)
	if err != nil {
		var re *receiveError
		if errors.As(err, &re) {
			e.Reason = re.reason
			if re.retryAfter != "" {
				w.Header().Set("Retry-After", re.retryAfter)
			}
			if re.status == http.StatusServiceUnavailable || re.status == http.StatusInsufficientStorage || re.status == http.StatusRequestEntityTooLarge {
				// The rest of the body is not read: do not keep the
				// connection for it.
				w.Header().Set("Connection", "close")
			}
			plain(w, re.status, re.reason+"\n")
			return
		}
		// A storage failure: the sender retries later (RPT-DEL-9).
		e.Reason = "storing the report failed"
		plain(w, http.StatusInternalServerError, "could not store the report; try again later\n")
		return
	}
	e.Report = rel
	if created {
		plain(w, http.StatusCreated, "stored\n")
		return
	}
	plain(w, http.StatusOK, "already stored\n")
}

// refuseMethod answers a request whose method is not one of allow: 405
// with the Allow header and body. It reports whether it did.
func refuseMethod(w http.ResponseWriter, r *http.Request, e *AccessEntry, body string, allow ...string) bool {
	if slices.Contains(allow, r.Method) {
		return false
	}
	w.Header().Set("Allow", strings.Join(allow, ", "))
	e.Reason = "method"
	plain(w, http.StatusMethodNotAllowed, body)
	return true
}

// misdirected answers a request over TLS whose certificate was chosen
// (by SNI) for another name than the Host it asks for: 421, an answer
// for neither (RFC 9110 section 15.5.20). It reports whether it did.
func misdirected(w http.ResponseWriter, r *http.Request, e *AccessEntry, host string) bool {
	if r.TLS == nil || r.TLS.ServerName == "" || hostName(r.TLS.ServerName) == host {
		return false
	}
	e.Reason = "Host does not match SNI"
	plain(w, http.StatusMisdirectedRequest, "Host does not match the TLS server name\n")
	return true
}

func plain(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// hostName is the lower-case host of a Host header or server name, without
// port and trailing dot.
func hostName(hostport string) string {
	h := hostport
	// Only a name with a port (or an IPv6 literal) needs splitting; a bare
	// name spares SplitHostPort's error.
	if strings.IndexByte(hostport, ':') >= 0 {
		if host, _, err := net.SplitHostPort(hostport); err == nil {
			h = host
		}
	}
	return domainname.Fold(h)
}

type countingWriter struct {
	http.ResponseWriter
	status int
	n      int64
}

func (c *countingWriter) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
	c.ResponseWriter.WriteHeader(code)
}

// answered records the answer's status and size in e.
func (c *countingWriter) answered(e *AccessEntry) {
	e.Status, e.Bytes = c.status, c.n
	if e.Status == 0 {
		e.Status = http.StatusOK
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

func (c *countingWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	n, err := c.ResponseWriter.Write(b)
	c.n += int64(n)
	return n, err
}
