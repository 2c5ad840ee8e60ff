package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stspilot/stspilot/workflow"
)

// The Args validators of the commands: a wrong number of arguments is a
// usage error (exit 2) with a sentence saying what the command takes,
// instead of cobra's "accepts 1 arg(s), received 0" (exit 1).

// domainArg is the validator of the commands that take one DOMAIN.
func domainArg(cmd *cobra.Command, args []string) error {
	switch {
	case len(args) == 0:
		return usageErrorf("%s needs the mail DOMAIN to work on: %s DOMAIN", cmd.Name(), cmd.CommandPath())
	case len(args) > 1:
		return usageErrorf("%s takes one DOMAIN, not %d arguments (%s); run it once per domain", cmd.Name(), len(args), quoteArgs(args))
	}
	return nil
}

// planArgs is the validator of plan: a WORKFLOW, then a DOMAIN.
func planArgs(cmd *cobra.Command, args []string) error {
	workflows := "rollout, promote, rollback, teardown or mx-migrate"
	switch len(args) {
	case 0:
		return usageErrorf("plan needs a WORKFLOW (%s) and a DOMAIN: %s WORKFLOW DOMAIN", workflows, cmd.CommandPath())
	case 1:
		if _, err := workflow.ParseWorkflow(args[0]); err == nil {
			return usageErrorf("plan needs a DOMAIN after the workflow: %s %s DOMAIN", cmd.CommandPath(), args[0])
		}
		return usageErrorf("plan needs a WORKFLOW (%s) before the domain: %s WORKFLOW %s", workflows, cmd.CommandPath(), args[0])
	case 2:
		return nil
	}
	return usageErrorf("plan takes a WORKFLOW and one DOMAIN, not %d arguments (%s)", len(args), quoteArgs(args))
}

// noArgs is the validator of the commands that take no argument.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf("%s takes no arguments, got %s", cmd.Name(), quoteArgs(args))
	}
	return nil
}

func quoteArgs(args []string) string {
	q := make([]string, 0, min(len(args), 5))
	for i, a := range args {
		if i == 4 && len(args) > 5 {
			q = append(q, fmt.Sprintf("and %d more", len(args)-4))
			break
		}
		q = append(q, fmt.Sprintf("%q", a))
	}
	return strings.Join(q, " ")
}
