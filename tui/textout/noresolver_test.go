package textout

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stspilot/stspilot/checks"
)

// The command line says how to give a resolver when a check had none; the
// report itself names no flag (the wizard shows it as it is).
func TestVerdictNoResolverHint(t *testing.T) {
	r := &checks.Report{
		Domain: "example.test", Error: "no DNS resolver: no DNS servers",
		Cause: fmt.Errorf("%w: x", checks.ErrNoResolver),
	}
	if _, s := verdict(r); !strings.Contains(s, "--resolver") {
		t.Errorf("verdict %q: want the --resolver hint", s)
	}
	r.Cause = nil
	if _, s := verdict(r); strings.Contains(s, "--resolver") {
		t.Errorf("verdict %q: a hint without the cause", s)
	}
}
