package textout

import (
	"fmt"
	"strings"
	"time"

	"github.com/stspilot/stspilot/workflow"
)

// flags are the command line's flags for the engine's codes (the engine
// names overrides and inputs by code, never by flag).
var flags = map[workflow.Code]string{
	workflow.CodeAdoptLive:      "--adopt-live",
	workflow.CodeWithoutReports: "--without-reports",
	workflow.CodeLastMaxAge:     "--last-max-age DURATION",
	workflow.CodeKeepTLSRPT:     "--keep-tlsrpt",
	workflow.CodeReports:        "--reports PATH",
	workflow.CodeRUA:            "--rua",
	workflow.CodeMXPattern:      "--mx",
	workflow.CodeTo:             "--to",
	workflow.CodeMXTo:           "--to HOST[:PREF]",
	workflow.CodeMXSwitch:       "--switch",
}

// Flag is the command line's flag for code c ("" when it has none).
func Flag(c workflow.Code) string { return flags[c] }

// Command is the command line that runs workflow w on domain.
func Command(w workflow.Workflow, domain string) string {
	return "stspilot " + string(w) + " " + domain
}

// HorizonText is the horizon's worst case in words: "a sender may hold
// enforce (mx ...) until T". The mode and the mx patterns are as a policy
// host served them (the ledger enters a policy found live as it was), so
// they are escaped (cleanLine).
func HorizonText(c *workflow.CachedPolicy) string {
	mx := ""
	if len(c.MX) > 0 {
		pats := make([]string, len(c.MX))
		for i, p := range c.MX {
			pats[i] = cleanLine(p)
		}
		mx = " (mx " + strings.Join(pats, ", ") + ")"
	}
	still := ""
	if c.Served {
		still = ", later while it is still served"
	}
	return fmt.Sprintf("a sender may hold %s%s, max_age %d, until %s%s", cleanLine(c.Mode), mx, c.MaxAge, c.Until.UTC().Format(time.RFC3339), still)
}
