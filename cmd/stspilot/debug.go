package main

import (
	"fmt"
	"log"
	"log/slog"
	"os"

	"github.com/stspilot/stspilot/dnsprovider"
	"github.com/stspilot/stspilot/internal/redact"
)

// envDebug names the debug log file when --debug is not given.
const envDebug = "STSPILOT_DEBUG"

// startDebug opens the debug log at path (appending; created 0600) and
// makes it the slog default at debug level, so the provider calls and the
// DNS, HTTPS and SMTP probe steps log there. Every attribute goes through
// redact.Default, which holds the values of the provider secrets set in the
// environment or the credentials file (and gains those of each provider
// opened later). The log package keeps writing where it did. stop restores
// the previous logger and closes the file.
func startDebug(path, credentials string) (stop func(), err error) {
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("debug log: %w", err)
	}
	redact.Default.Add(dnsprovider.SecretValues(dnsprovider.EnvSource(os.LookupEnv))...)
	if src, err := credentialSource(credentials); err == nil {
		// A bad credentials file is the command's error to report.
		redact.Default.Add(dnsprovider.SecretValues(src)...)
	}
	prev, logOut, logFlags := slog.Default(), log.Writer(), log.Flags()
	h := slog.NewTextHandler(fh, &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: redact.Default.ReplaceAttr})
	slog.SetDefault(slog.New(h))
	// SetDefault sends the log package's output to h as well: keep it
	// where it was (stderr), as without --debug.
	log.SetOutput(logOut)
	log.SetFlags(logFlags)
	return func() {
		slog.SetDefault(prev)
		log.SetOutput(logOut)
		log.SetFlags(logFlags)
		fh.Close()
	}, nil
}
