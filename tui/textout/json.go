// Package textout renders stspilot's results for scripted mode: human text
// for a terminal or a log, and JSON lines for runbooks and CI. It never
// imports Bubble Tea; the interactive front end lives in package tui.
package textout

import (
	"encoding/json"
	"io"

	"github.com/stspilot/stspilot/checks"
)

// JSONLines writes one checks.Report per line, exactly as marshalled by the
// schema in docs/json.md, so that `jq` can read a stream of many domains.
// It is not safe for concurrent use.
type JSONLines struct {
	enc *json.Encoder
}

// NewJSONLines writes to w.
func NewJSONLines(w io.Writer) *JSONLines {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // keep "<id>" and "&" readable in fixes
	return &JSONLines{enc: enc}
}

// Report writes r as one line of JSON followed by a newline. Encoding never
// emits a raw newline inside a value, so each object is exactly one line.
func (j *JSONLines) Report(r *checks.Report) error {
	return j.enc.Encode(r)
}
