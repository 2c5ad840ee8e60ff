package main

import (
	"cmp"
	"context"
	"time"

	"github.com/spf13/cobra"
)

// CommonOptions start every command's options struct: the global flags,
// validated, and what the factory provides. Every command fills them the
// same way, with factory.prepare, before its own validation.
//
// Each command follows one pattern (gh's): newXCmd(f, runF) parses the
// command line into an XOptions, prepares its CommonOptions, validates the
// rest, then calls runF when a test gave one (to capture the options) or
// xRun, which does the work from the options alone; runCommand is that
// sequence.
type CommonOptions struct {
	IO *IOStreams
	// JSON, Timeout and Credentials are --json, --timeout and
	// --credentials (empty: the default file, which may be absent).
	JSON        bool
	Timeout     time.Duration
	Credentials string
	// Resolvers are the --resolver values with their ports, validated
	// (only with needResolvers).
	Resolvers []string
	// Config is the config file's key = value pairs; nil when there is
	// none or the command does not read it (only with needConfig). Keys
	// that name a flag of the command were already applied to it.
	Config map[string]string
	// Now is the clock for what commands date themselves.
	Now func() time.Time
}

// need says what prepare does beyond copying the global flags.
type need uint8

const (
	// needResolvers validates --resolver (a usage error when bad).
	needResolvers need = 1 << iota
	// needConfig reads the config file (--config, else the default one
	// when it exists) and sets the command's flags that were not given
	// from it (provider, publish and ladder stay in Config: the journal
	// beats them).
	needConfig
)

// newCommon is the CommonOptions a constructor starts from: what the
// factory provides. prepare adds the flags.
func (f *factory) newCommon() CommonOptions {
	return CommonOptions{IO: f.IO, Now: f.Now}
}

// prepare fills c from the global flags and, as n says, the resolvers and
// the config file: the one path every command takes first.
func (f *factory) prepare(cmd *cobra.Command, c *CommonOptions, n need) error {
	g := f.global
	if g == nil { // a command built alone, without the root's flags
		g = &globalOptions{Timeout: defaultTimeout}
	}
	c.IO, c.Now = f.IO, f.Now
	c.JSON, c.Timeout, c.Credentials = g.JSON, g.Timeout, g.Credentials
	if n&needConfig != 0 {
		cfg, err := loadConfig(cmp.Or(g.Config, defaultConfigPath()), g.Config != "")
		if err != nil {
			return err
		}
		if err := applyConfig(cmd, cfg); err != nil {
			return err
		}
		c.Config = cfg
	}
	if n&needResolvers != 0 {
		rs, err := parseResolvers(g.Resolvers)
		if err != nil {
			return err
		}
		c.Resolvers = rs
	}
	return nil
}

// commandOptions is what every command's options have: CommonOptions,
// embedded (which gives common), and the command's own validate.
type commandOptions interface {
	common() *CommonOptions
	validate() error
}

func (c *CommonOptions) common() *CommonOptions { return c }

// runCommand is the RunE of a command once the command line is in o, the
// pattern every command follows: prepare o's CommonOptions (n: what
// beyond the global flags), validate the rest, then run (runOr).
func runCommand[O any, P interface {
	*O
	commandOptions
}](cmd *cobra.Command, f *factory, n need, o P, runF, run func(context.Context, *O) error) error {
	if err := f.prepare(cmd, o.common(), n); err != nil {
		return err
	}
	if err := o.validate(); err != nil {
		return err
	}
	return runOr(cmd.Context(), o, runF, run)
}

// runOr is the last step of every command: runF when a test gave one,
// else run.
func runOr[O any](ctx context.Context, o *O, runF, run func(context.Context, *O) error) error {
	if runF != nil {
		return runF(ctx, o)
	}
	return run(ctx, o)
}
