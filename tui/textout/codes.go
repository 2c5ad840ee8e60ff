package textout

import "github.com/stspilot/stspilot/workflow"

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
}

// Flag is the command line's flag for code c ("" when it has none).
func Flag(c workflow.Code) string { return flags[c] }

// Command is the command line that runs workflow w on domain.
func Command(w workflow.Workflow, domain string) string {
	return "stspilot " + string(w) + " " + domain
}
