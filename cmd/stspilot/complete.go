package main

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/stspilot/stspilot/dnsprovider"
	"github.com/stspilot/stspilot/workflow"
	"github.com/stspilot/stspilot/workflow/journal"
	"github.com/stspilot/stspilot/workflow/sandbox"
)

// Dynamic shell completion (`stspilot completion SHELL` installs it; the
// shell asks `stspilot __complete ARGS...`). Completions only read: the
// domains come from a listing of the state directory, never created.

// completeFrom keeps the candidates ("name\tdescription") that start
// with toComplete.
func completeFrom(toComplete string, candidates ...string) []string {
	var out []string
	for _, c := range candidates {
		name, _, _ := strings.Cut(c, "\t")
		if strings.HasPrefix(name, toComplete) {
			out = append(out, c)
		}
	}
	return out
}

// journalDomains lists the domains with a journal in the state directory
// (--state-dir when given on the command line, else the default), for
// completion; nothing when there is none.
func journalDomains(cmd *cobra.Command, toComplete string) []string {
	dir := ""
	if fl := cmd.Flags().Lookup("state-dir"); fl != nil {
		dir = fl.Value.String()
	}
	st, err := journal.OpenExisting(dir)
	if err != nil {
		return nil
	}
	ds, err := st.Domains()
	if err != nil {
		return nil
	}
	return completeFrom(strings.ToLower(toComplete), ds...)
}

// completeDomain completes the one DOMAIN argument of a command.
func completeDomain(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return journalDomains(cmd, toComplete), cobra.ShellCompDirectiveNoFileComp
}

// completePlan completes plan's WORKFLOW, then its DOMAIN.
func completePlan(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	switch len(args) {
	case 0:
		return completeFrom(toComplete,
			string(workflow.Rollout)+"\tabsent -> testing",
			string(workflow.Promote)+"\tthe next rung of the ladder",
			string(workflow.Rollback)+"\temergency: back to testing or none",
			string(workflow.Teardown)+"\tmode none, wait, delete",
			string(workflow.MXMigrate)+"\tchange the MX hosts under a live policy"), cobra.ShellCompDirectiveNoFileComp
	case 1:
		return journalDomains(cmd, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
	return nil, cobra.ShellCompDirectiveNoFileComp
}

func completeProvider(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	var c []string
	for _, i := range dnsprovider.Providers(false) {
		c = append(c, i.Name+"\t"+i.Title)
	}
	return completeFrom(toComplete, c...), cobra.ShellCompDirectiveNoFileComp
}

// completePublish completes the four kinds of --publish; after
// "webroot:" it completes directories.
func completePublish(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if strings.HasPrefix(toComplete, "webroot:") {
		return nil, cobra.ShellCompDirectiveFilterDirs
	}
	c := completeFrom(toComplete,
		"webroot:\twrite DIR/.well-known/mta-sts.txt",
		"serve\tfor stspilot serve",
		"exec:\trun CMD with the policy on stdin",
		"manual\tshow the file; you put it in place")
	d := cobra.ShellCompDirectiveNoFileComp
	for _, s := range c {
		if strings.HasSuffix(strings.Split(s, "\t")[0], ":") {
			d |= cobra.ShellCompDirectiveNoSpace
		}
	}
	return c, d
}

// completeTo completes --to: rollback's STAGE (rollback, plan rollback);
// mx-migrate's --to is the MX hosts to move to, which nothing here knows.
func completeTo(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if wf := cmd.Name(); wf != string(workflow.Rollback) && (wf != "plan" || len(args) == 0 || args[0] != string(workflow.Rollback)) {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return completeFrom(toComplete, "testing\ta testing policy with a new id (default)", "none\tmode none: the first step of a teardown"), cobra.ShellCompDirectiveNoFileComp
}

// completeSwitch completes mx-migrate's --switch MODE.
func completeSwitch(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	return completeFrom(toComplete,
		workflow.MXSwitchProvider+"\tthe DNS provider writes the MX records",
		workflow.MXSwitchManual+"\tyou change them; the published gate waits"), cobra.ShellCompDirectiveNoFileComp
}

func completeBreak(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	var c []string
	for _, b := range sandbox.Breaks {
		c = append(c, string(b.Name)+"\t"+b.Title)
	}
	return completeFrom(toComplete, c...), cobra.ShellCompDirectiveNoFileComp
}

// registerCompletions attaches the completions of the flags cmd has.
func registerCompletions(cmd *cobra.Command) {
	for name, f := range map[string]cobra.CompletionFunc{
		"provider": completeProvider,
		"publish":  completePublish,
		"to":       completeTo,
		"switch":   completeSwitch,
		"break":    completeBreak,
	} {
		if cmd.Flags().Lookup(name) != nil {
			_ = cmd.RegisterFlagCompletionFunc(name, f)
		}
	}
}

// completeHelpTopics makes `stspilot help <TAB>` offer the help topics
// (exit-codes), which cobra leaves out as they do not run.
func completeHelpTopics(root *cobra.Command) {
	root.InitDefaultHelpCmd()
	for _, c := range root.Commands() {
		if c.Name() != "help" || c.ValidArgsFunction == nil {
			continue
		}
		inner := c.ValidArgsFunction
		c.ValidArgsFunction = func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			out, d := inner(cmd, args, toComplete)
			if len(args) == 0 {
				for _, t := range root.Commands() {
					if !t.Runnable() && !t.Hidden && !t.HasSubCommands() && strings.HasPrefix(t.Name(), toComplete) {
						out = append(out, t.Name()+"\t"+t.Short)
					}
				}
			}
			return out, d
		}
	}
}
