package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/stspilot/stspilot/internal/dnsclient"
	"github.com/stspilot/stspilot/workflow/journal"
	"github.com/stspilot/stspilot/workflow/serve"
)

// The exit codes of every stspilot command (docs/exit-codes.md). They are a contract
// with scripts: add, never renumber.
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitPending     = 3
	exitFindings    = 4
	exitRefused     = 5
	exitInterrupted = 130
)

// exitCodeTable is the one table behind `stspilot help exit-codes` and
// docs/exit-codes.md (a test keeps the two in step).
var exitCodeTable = []struct {
	Code    int
	Meaning string
}{
	{exitOK, "done, or healthy"},
	{exitFailure, "error (network, provider, I/O), or a domain that could not be checked"},
	{exitUsage, "usage error (unknown command or flag, bad flag value, a missing argument, a domain argument that is invalid or an IP address)"},
	{exitPending, "pending: a gate is still closed; the output says which and when to retry (`next_at` in JSON)"},
	{exitFindings, "`check`/`status` found errors"},
	{exitRefused, "refused: the step would break mail (the output says why and what would override it)"},
	{exitInterrupted, "interrupted (SIGINT, SIGTERM or SIGHUP)"},
}

// exitCodePrecedence explains which code wins when a run has several
// outcomes, as printed by the help topic and docs/exit-codes.md.
const exitCodePrecedence = `When one run has several outcomes, the first that applies wins:
130 (interrupted), then 2 (usage), then 1 (an error, or some domain could not be checked),
then 5 (refused), then 3 (pending), then 4 (some domain has error findings), then 0.
Warnings alone exit 0. Only the workflow commands and plan exit 3 or 5 (a
refused plan exits 5 even while a gate is closed); only check and status exit 4.`

// exitError carries an exit code and, optionally, an error to print. A nil
// err means the output already said everything (for example `check` exiting
// 4 after printing its findings).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// usageError is a command line that cannot work as typed (exit 2).
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usageErrorf builds a usageError like fmt.Errorf.
func usageErrorf(format string, a ...any) error {
	return &usageError{fmt.Errorf(format, a...)}
}

// flagError is cobra's FlagErrorFunc: every flag-parsing failure (unknown
// flag, bad value, missing argument) becomes a usage error. A value that
// pflag's own parsers refuse (a bool or an integer flag) is said in a
// sentence instead of strconv's words (`--yes=maybe`).
func flagError(_ *cobra.Command, err error) error {
	var iv *pflag.InvalidValueError
	var ne *strconv.NumError
	if !errors.As(err, &iv) || !errors.As(err, &ne) {
		return &usageError{err}
	}
	name, value, typ := "--"+iv.GetFlag().Name, iv.GetValue(), iv.GetFlag().Value.Type()
	switch {
	case typ == "bool":
		return usageErrorf("%s takes true or false, not %q", name, value)
	case !strings.HasPrefix(typ, "int") && !strings.HasPrefix(typ, "uint"):
		return &usageError{err}
	case errors.Is(ne.Err, strconv.ErrRange):
		return usageErrorf("%s: %s is out of range", name, value)
	}
	return usageErrorf("%s takes a whole number, not %q", name, value)
}

// exitCode maps an error returned by a command to the process exit code.
// This switch is the only place that decides exit codes.
func exitCode(err error) int {
	var ee *exitError
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, context.Canceled):
		return exitInterrupted
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ue):
		return exitUsage
	default:
		return exitFailure
	}
}

// printError writes err for the user, unless it carries no message of its
// own. Usage errors get a pointer to the command's help.
func printError(w io.Writer, err error, cmd *cobra.Command) {
	var ee *exitError
	if err == nil || errors.As(err, &ee) && ee.err == nil {
		return
	}
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(w, "stspilot: interrupted")
		return
	}
	fmt.Fprintf(w, "stspilot: %v%s\n", err, flagHint(err))
	var ue *usageError
	if errors.As(err, &ue) && cmd != nil {
		fmt.Fprintf(w, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
}

// exitCodesHelp renders the table for `stspilot help exit-codes`.
func exitCodesHelp() string {
	var b strings.Builder
	b.WriteString("stspilot exits with one of these codes:\n\n")
	for _, row := range exitCodeTable {
		fmt.Fprintf(&b, "  %3d  %s\n", row.Code, strings.ReplaceAll(row.Meaning, "`", ""))
	}
	b.WriteString("\n")
	b.WriteString(exitCodePrecedence)
	b.WriteString("\n")
	return b.String()
}

// newExitCodesTopic is the `exit-codes` help topic: a command that does not
// run, so cobra lists it under "Additional help topics".
func newExitCodesTopic() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "exit-codes",
		Short: "Exit codes and which one wins",
		Long:  exitCodesHelp(),
	}
	cmd.SetHelpFunc(func(c *cobra.Command, _ []string) {
		fmt.Fprint(c.OutOrStdout(), c.Long)
	})
	return cmd
}

// flagHint names the flag that answers an engine error that names none
// (the engine speaks types; the command line renders flags).
func flagHint(err error) string {
	switch {
	case errors.Is(err, journal.ErrNoStateDir):
		return ", or pass --state-dir DIR"
	case errors.Is(err, serve.ErrCertKeyCount):
		return ": give as many --tls-key as --tls-cert"
	case errors.Is(err, dnsclient.ErrNoServers):
		return " (give --resolver IP[:PORT])"
	case errors.Is(err, serve.ErrCARoots):
		return " (--acme-ca-root)"
	}
	return ""
}
