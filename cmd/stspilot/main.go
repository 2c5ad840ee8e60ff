// Command stspilot diagnoses, deploys and safely removes MTA-STS (RFC 8461)
// and TLS-RPT (RFC 8460) for mail domains. See README.md and
// `stspilot --help`.
package main

import "os"

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
