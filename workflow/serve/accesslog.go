package serve

import (
	"encoding/json"
	"io"
	"strings"
	"sync"
	"time"
)

// AccessEntry is one line of the access log (JSON lines): which sender
// fetched which policy id, and what every other client got.
type AccessEntry struct {
	Time   time.Time `json:"time"`
	Remote string    `json:"remote"`
	Proto  string    `json:"proto"`
	Host   string    `json:"host"`
	SNI    string    `json:"sni,omitempty"`
	Method string    `json:"method"`
	Path   string    `json:"path"`
	Status int       `json:"status"`
	Bytes  int64     `json:"bytes"`
	// UserAgent identifies the sender's MTA-STS implementation
	// (STS-FETCH-14); clipped to 256 bytes.
	UserAgent string `json:"user_agent"`
	// Domain and PolicyID say which policy was served (policy fetches only).
	Domain   string `json:"domain,omitempty"`
	PolicyID string `json:"policy_id,omitempty"`
	// Report is the stored report's path relative to the state directory
	// (TLS-RPT POSTs only), Reason why a request was refused.
	Report     string  `json:"report,omitempty"`
	Reason     string  `json:"reason,omitempty"`
	DurationMS float64 `json:"duration_ms"`

	// counts is the served policy's fetch counter, rua marks a report
	// request: for the metrics, never logged.
	counts *FetchCounts
	rua    bool
}

// AccessLog writes AccessEntry values as JSON lines; safe for concurrent use.
// A nil *AccessLog logs nothing.
type AccessLog struct {
	mu sync.Mutex
	w  io.Writer
}

// NewAccessLog logs to w.
func NewAccessLog(w io.Writer) *AccessLog { return &AccessLog{w: w} }

// Log writes e; write errors are dropped (the log must not stop serving).
func (l *AccessLog) Log(e AccessEntry) {
	if l == nil || l.w == nil {
		return
	}
	e.UserAgent = clip(e.UserAgent, 256)
	e.Host = clip(e.Host, 256)
	e.Path = clip(e.Path, 512)
	e.SNI = clip(e.SNI, 256)
	b, err := json.Marshal(e)
	if err != nil {
		return
	}
	b = append(b, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = l.w.Write(b)
}

// clip cuts s to at most n bytes of valid UTF-8.
func clip(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
