package providertest

import (
	"bytes"
	"encoding/json"
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
	"time"
)

// CloudflareFake is an in-process Cloudflare v4 API (an httptest TLS server
// on loopback) with the behaviour libdns/cloudflare v0.2.2 relies on: zone
// lookup by name, record listing with filters and pagination (list answers
// carry result_info), POST and DELETE of records. Every request is checked
// at the wire: method, path, the exact set of query parameters, the
// Authorization header and the JSON body. A request outside the contract
// fails the test; PATCH and PUT fail it too, since stspilot must never
// rewrite a record (docs/design.md invariant 5).
type CloudflareFake struct {
	// Token is the API token the fake accepts; ZoneToken, when set, is
	// the one it wants on zone lookups.
	Token, ZoneToken string
	// Fail, when set, sees every request first (after the request count
	// is taken); a status > 0 is answered with that status and body
	// instead of the normal answer.
	Fail func(r *http.Request) (status int, body string)
	// PerPage is the page size the fake serves at most (default 100, as
	// Cloudflare), so tests can force several pages.
	PerPage int

	t   testing.TB
	srv *httptest.Server

	mu      sync.Mutex
	zones   map[string]string // zone name (no dot) -> id
	records []*cfRecord
	nextID  int
	log     []string
}

type cfRecord struct {
	ID      string `json:"id"`
	ZoneID  string `json:"zone_id"`
	Type    string `json:"type"`
	Name    string `json:"name"` // absolute, no trailing dot, as Cloudflare
	Content string `json:"content"`
	TTL     int    `json:"ttl"`
	// Priority is an MX record's preference (Cloudflare keeps it apart
	// from the content, which is the bare target).
	Priority int `json:"priority,omitempty"`
}

// NewCloudflareFake starts a fake that serves the given zones. It is
// closed when the test ends.
func NewCloudflareFake(t testing.TB, token string, zones ...string) *CloudflareFake {
	f := &CloudflareFake{Token: token, t: t, zones: map[string]string{}}
	for i, z := range zones {
		f.zones[strings.TrimSuffix(strings.ToLower(z), ".")] = fmt.Sprintf("zone%04d", i+1)
	}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// Client returns an HTTP client that sends every request, whatever its
// host (api.cloudflare.com), to the fake; nothing leaves the machine.
func (f *CloudflareFake) Client() *http.Client {
	base, _ := url.Parse(f.srv.URL)
	inner := f.srv.Client()
	return &http.Client{Timeout: 30 * time.Second, Transport: rewriteTransport{base: base, rt: inner.Transport}}
}

type rewriteTransport struct {
	base *url.URL
	rt   http.RoundTripper
}

func (r rewriteTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.URL.Scheme, req.URL.Host = r.base.Scheme, r.base.Host
	req.Host = r.base.Host
	return r.rt.RoundTrip(req)
}

// Requests returns the log of requests, "METHOD /path?query".
func (f *CloudflareFake) Requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.log)
}

// Count returns how many requests had the method and a path with prefix.
func (f *CloudflareFake) Count(method, pathPrefix string) int {
	n := 0
	for _, l := range f.Requests() {
		m, rest, _ := strings.Cut(l, " ")
		if m == method && strings.HasPrefix(rest, pathPrefix) {
			n++
		}
	}
	return n
}

// AddTXT puts a TXT record in a zone behind the provider's back, as
// another tool (or the dashboard) would. content is stored as given: the
// dashboard stores unquoted text, the API quoted text.
func (f *CloudflareFake) AddTXT(name, content string, ttl time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	zid := ""
	for z, id := range f.zones {
		if name == z || strings.HasSuffix(name, "."+z) {
			zid = id
		}
	}
	if zid == "" {
		f.t.Errorf("cloudflare fake: AddTXT(%s): no zone holds it", name)
		return
	}
	f.add(&cfRecord{ZoneID: zid, Type: "TXT", Name: name, Content: content, TTL: int(ttl / time.Second)})
}

// AddMX puts an MX record in a zone behind the provider's back.
func (f *CloudflareFake) AddMX(name string, pref int, host string, ttl time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	for zone, zid := range f.zones {
		if name == zone || strings.HasSuffix(name, "."+zone) {
			f.add(&cfRecord{ZoneID: zid, Type: "MX", Name: name, Content: strings.TrimSuffix(strings.ToLower(host), "."), TTL: int(ttl / time.Second), Priority: pref})
			return
		}
	}
	f.t.Errorf("cloudflare fake: AddMX(%s): no zone holds it", name)
}

// TXT returns the stored contents at name, raw as the fake holds them.
func (f *CloudflareFake) TXT(name string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	var out []string
	for _, r := range f.records {
		if r.Type == "TXT" && r.Name == name {
			out = append(out, r.Content)
		}
	}
	slices.Sort(out)
	return out
}

func (f *CloudflareFake) add(r *cfRecord) {
	f.nextID++
	r.ID = fmt.Sprintf("rec%06d", f.nextID)
	f.records = append(f.records, r)
}

const cfPrefix = "/client/v4"

func (f *CloudflareFake) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.log = append(f.log, r.Method+" "+r.URL.RequestURI())
	f.mu.Unlock()
	if f.Fail != nil {
		if status, body := f.Fail(r); status > 0 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = io.WriteString(w, body) // the client sees a short body
			return
		}
	}
	path, ok := strings.CutPrefix(r.URL.Path, cfPrefix)
	if !ok {
		f.bad(w, r, "path outside %s", cfPrefix)
		return
	}
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case len(parts) == 1 && parts[0] == "zones" && r.Method == http.MethodGet:
		f.zoneLookup(w, r)
	case len(parts) == 3 && parts[0] == "zones" && parts[2] == "dns_records" && r.Method == http.MethodGet:
		f.list(w, r, parts[1])
	case len(parts) == 3 && parts[0] == "zones" && parts[2] == "dns_records" && r.Method == http.MethodPost:
		f.create(w, r, parts[1])
	case len(parts) == 4 && parts[0] == "zones" && parts[2] == "dns_records" && r.Method == http.MethodDelete:
		f.delete(w, r, parts[1], parts[3])
	default:
		f.bad(w, r, "unexpected request (stspilot must only list, add and delete records)")
	}
}

// bad fails the test: the client sent something outside the contract.
func (f *CloudflareFake) bad(w http.ResponseWriter, r *http.Request, format string, a ...any) {
	f.t.Errorf("cloudflare fake: %s %s: %s", r.Method, r.URL.RequestURI(), fmt.Sprintf(format, a...))
	writeCF(w, http.StatusBadRequest, nil, nil, 9999, "bad request")
}

// auth checks the bearer token; a wrong one is answered as Cloudflare
// does (403, code 10000), without failing the test: tests send wrong
// tokens on purpose.
func (f *CloudflareFake) auth(w http.ResponseWriter, r *http.Request, zoneLookup bool) bool {
	want := f.Token
	if zoneLookup && f.ZoneToken != "" {
		want = f.ZoneToken
	}
	if r.Header.Get("Authorization") != "Bearer "+want {
		writeCF(w, http.StatusForbidden, nil, nil, 10000, "Authentication error")
		return false
	}
	return true
}

func (f *CloudflareFake) query(w http.ResponseWriter, r *http.Request, allowed ...string) (url.Values, bool) {
	q := r.URL.Query()
	for k, v := range q {
		if !slices.Contains(allowed, k) || len(v) != 1 {
			f.bad(w, r, "query parameter %q (allowed: %v, once each)", k, allowed)
			return nil, false
		}
	}
	return q, true
}

func (f *CloudflareFake) zoneLookup(w http.ResponseWriter, r *http.Request) {
	q, ok := f.query(w, r, "name")
	if !ok {
		return
	}
	if !f.auth(w, r, true) {
		return
	}
	if q.Get("name") == "" {
		f.bad(w, r, "zone lookup without a name")
		return
	}
	// libdns/cloudflare passes the zone as the caller did, with the dot.
	name := strings.TrimSuffix(strings.ToLower(q.Get("name")), ".")
	type zone struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	zones := []zone{}
	f.mu.Lock()
	if id, ok := f.zones[name]; ok {
		zones = append(zones, zone{ID: id, Name: name})
	}
	f.mu.Unlock()
	writeCF(w, http.StatusOK, zones, &resultInfo{Page: 1, PerPage: 20, Count: len(zones), TotalCount: len(zones)}, 0, "")
}

type resultInfo struct {
	Page       int `json:"page"`
	PerPage    int `json:"per_page"`
	Count      int `json:"count"`
	TotalCount int `json:"total_count"`
}

func (f *CloudflareFake) zoneName(id string) (string, bool) {
	for z, zid := range f.zones {
		if zid == id {
			return z, true
		}
	}
	return "", false
}

func (f *CloudflareFake) list(w http.ResponseWriter, r *http.Request, zid string) {
	q, ok := f.query(w, r, "page", "per_page", "type", "name", "content.contains", "content.exact")
	if !ok || !f.auth(w, r, false) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.zoneName(zid); !ok {
		writeCF(w, http.StatusNotFound, nil, nil, 7003, "Could not route to /zones/"+zid)
		return
	}
	if q.Has("page") != q.Has("per_page") || q.Has("page") && (q.Has("type") || q.Has("name")) {
		f.t.Errorf("cloudflare fake: %s: want either page+per_page or type+name filters", r.URL.RequestURI())
	}
	if q.Has("name") && strings.HasSuffix(q.Get("name"), ".") {
		f.bad(w, r, "name filter %q must be absolute without the trailing dot", q.Get("name"))
		return
	}
	var match []*cfRecord
	for _, rec := range f.records {
		switch {
		case rec.ZoneID != zid,
			q.Has("type") && rec.Type != q.Get("type"),
			q.Has("name") && !strings.EqualFold(rec.Name, q.Get("name")),
			q.Has("content.contains") && !strings.Contains(rec.Content, q.Get("content.contains")),
			q.Has("content.exact") && rec.Content != q.Get("content.exact"):
			continue
		}
		match = append(match, rec)
	}
	page, perPage := 1, 100
	if f.PerPage > 0 {
		perPage = f.PerPage
	}
	if q.Has("page") {
		p, err1 := strconv.Atoi(q.Get("page"))
		pp, err2 := strconv.Atoi(q.Get("per_page"))
		if err1 != nil || err2 != nil || p < 1 || pp < 5 || pp > 5000 {
			f.bad(w, r, "page %q per_page %q", q.Get("page"), q.Get("per_page"))
			return
		}
		page, perPage = p, min(pp, perPage)
	}
	total := len(match)
	lo := min((page-1)*perPage, total)
	hi := min(lo+perPage, total)
	out := make([]cfRecord, 0, hi-lo)
	for _, rec := range match[lo:hi] {
		out = append(out, *rec)
	}
	writeCF(w, http.StatusOK, out, &resultInfo{Page: page, PerPage: perPage, Count: len(out), TotalCount: total}, 0, "")
}

// createBody is what libdns/cloudflare sends on POST; unknown fields fail.
type createBody struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	Name       string          `json:"name"`
	Content    string          `json:"content"`
	TTL        int             `json:"ttl"`
	Priority   int             `json:"priority"`
	Proxied    bool            `json:"proxied"`
	CreatedOn  time.Time       `json:"created_on"`
	ModifiedOn time.Time       `json:"modified_on"`
	Data       json.RawMessage `json:"data"`
}

func (f *CloudflareFake) create(w http.ResponseWriter, r *http.Request, zid string) {
	if _, ok := f.query(w, r); !ok || !f.auth(w, r, false) {
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		f.bad(w, r, "Content-Type %q", ct)
		return
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		f.bad(w, r, "body: %v", err)
		return
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var b createBody
	if err := dec.Decode(&b); err != nil {
		f.bad(w, r, "body %s: %v", raw, err)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	zone, ok := f.zoneName(zid)
	if !ok {
		writeCF(w, http.StatusNotFound, nil, nil, 7003, "Could not route to /zones/"+zid)
		return
	}
	switch {
	case b.ID != "" || b.Type != "TXT" && b.Type != "MX":
		f.bad(w, r, "want a new TXT or MX record, got id %q type %q", b.ID, b.Type)
		return
	case b.Type == "MX" && (b.Content == "" || strings.HasSuffix(b.Content, ".") || strings.ContainsAny(b.Content, "\" \t")):
		f.bad(w, r, "MX content %q: want the bare target host without the trailing dot", b.Content)
		return
	case b.Name == "" || strings.HasSuffix(b.Name, ".") || strings.HasSuffix(strings.ToLower(b.Name), zone):
		f.bad(w, r, "name %q: libdns sends names relative to the zone", b.Name)
		return
	case b.Type == "TXT" && (len(b.Content) < 2 || b.Content[0] != '"' || b.Content[len(b.Content)-1] != '"'):
		f.bad(w, r, "TXT content %q is not wrapped in quotes", b.Content)
		return
	case b.TTL <= 0:
		f.bad(w, r, "TTL %d: stspilot always sends an explicit TTL", b.TTL)
		return
	}
	name := strings.ToLower(b.Name) + "." + zone
	if b.Name == "@" {
		name = zone
	}
	rec := &cfRecord{ZoneID: zid, Type: b.Type, Name: name, Content: b.Content, TTL: b.TTL}
	if b.Type == "MX" {
		rec.Priority = b.Priority
	}
	for _, o := range f.records {
		if o.ZoneID == zid && o.Type == rec.Type && o.Name == rec.Name && o.Content == rec.Content && o.Priority == rec.Priority {
			// Cloudflare refuses an identical record (code 81058).
			writeCF(w, http.StatusBadRequest, nil, nil, 81058, "An identical record already exists.")
			return
		}
	}
	f.add(rec)
	writeCF(w, http.StatusOK, rec, nil, 0, "")
}

func (f *CloudflareFake) delete(w http.ResponseWriter, r *http.Request, zid, rid string) {
	if _, ok := f.query(w, r); !ok || !f.auth(w, r, false) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, rec := range f.records {
		if rec.ZoneID == zid && rec.ID == rid {
			f.records = slices.Delete(f.records, i, i+1)
			writeCF(w, http.StatusOK, map[string]string{"id": rid}, nil, 0, "")
			return
		}
	}
	writeCF(w, http.StatusNotFound, nil, nil, 81044, "Record does not exist.")
}

// writeCF writes the Cloudflare envelope: a result, or one error.
func writeCF(w http.ResponseWriter, status int, result any, info *resultInfo, code int, msg string) {
	env := map[string]any{"success": code == 0, "errors": []any{}, "messages": []any{}, "result": result}
	if code != 0 {
		env["errors"] = []any{map[string]any{"code": code, "message": msg}}
	}
	if info != nil {
		env["result_info"] = info
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(env) // the client sees a short body
}

// CloudflareError is the body of a Cloudflare error answer, for Fail.
func CloudflareError(code int, msg string) string {
	b, _ := json.Marshal(map[string]any{"success": false, "errors": []any{map[string]any{"code": code, "message": msg}}, "messages": []any{}, "result": nil})
	return string(b)
}
