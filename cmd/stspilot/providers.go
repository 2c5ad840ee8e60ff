package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/stspilot/stspilot/dnsprovider"
)

// providersSchema names the version of `providers --json` (docs/json.md).
const providersSchema = "stspilot.providers/v1"

// ProvidersOptions is everything `stspilot providers` needs.
type ProvidersOptions struct {
	CommonOptions // Credentials: empty means the default path, which may be absent

	Names []string // as typed; empty means every listed provider
	// LookupEnv reads the environment (os.LookupEnv outside tests).
	LookupEnv func(string) (string, bool)
}

func newProvidersCmd(f *factory, runF func(context.Context, *ProvidersOptions) error) *cobra.Command {
	opts := &ProvidersOptions{CommonOptions: f.newCommon(), LookupEnv: os.LookupEnv}
	cmd := &cobra.Command{
		Use:     "providers [NAME...]",
		Short:   "List the DNS providers compiled in and the settings each needs",
		GroupID: groupOther,
		Long: `Providers lists the DNS providers stspilot can write the _mta-sts and
_smtp._tls TXT records through, the settings each one needs (environment
variables, or NAME=value lines of the 0600 credentials file), which of them
are secret or required, and a link to the provider's documentation.

For each provider it also says whether it is configured: which of its
settings are set, in the environment or the credentials file, and under
which variable: lego's names are read too (CF_DNS_API_TOKEN,
RFC2136_NAMESERVER, ...), and a secret NAME also as NAME_FILE, the path of
a file that holds it. Values are never printed. The environment wins over
the file. See docs/providers.md.`,
		Example: `  stspilot providers
  stspilot providers cloudflare route53
  stspilot providers --json | jq -r '.providers[] | select(.configured) | .name'`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Names = args
			return runCommand(cmd, f, 0, opts, runF, providersRun)
		},
	}
	return cmd
}

func (opts *ProvidersOptions) validate() error {
	for _, n := range opts.Names {
		if _, ok := dnsprovider.Lookup(n); !ok {
			return usageErrorf("unknown DNS provider %q (known: %s)", n, strings.Join(dnsprovider.Names(), ", "))
		}
	}
	return nil
}

// providersDoc is the `providers --json` document.
type providersDoc struct {
	Schema string `json:"schema"`
	// CredentialsFile is the file settings are read from after the
	// environment; empty when there is no default path.
	CredentialsFile string `json:"credentials_file"`
	// CredentialsFileFound is false when that file does not exist.
	CredentialsFileFound bool           `json:"credentials_file_found"`
	Providers            []providerJSON `json:"providers"`
}

type providerJSON struct {
	Name        string `json:"name"`
	Title       string `json:"title"`
	Description string `json:"description"`
	Docs        string `json:"docs"`
	Module      string `json:"module,omitempty"`
	Manual      bool   `json:"manual,omitempty"`
	// Configured: every required setting is set, none is refused (two
	// of its variables that differ, a NAME_FILE that cannot be read, a
	// setting the provider's own rule refuses), and the provider's rule
	// holds (dnsprovider.CheckStatus; route53: a key ID with its secret,
	// a profile, or the AWS chain's credentials in the environment).
	// Values are not checked.
	Configured bool `json:"configured"`
	// ConfiguredBy names the environment variables, not settings of the
	// provider, that make it configured (route53: AWS_PROFILE).
	ConfiguredBy []string      `json:"configured_by,omitempty"`
	Settings     []settingJSON `json:"settings"`
}

// settingJSON is the registry's Setting (its JSON fields: name, env,
// secret, required, default, help, aliases: lego's names that mean the
// same; a secret may also be given as NAME_FILE for each) and whether and
// where it is set.
type settingJSON struct {
	dnsprovider.Setting
	// Set says the setting has a non-blank value; Var is the variable
	// that gave it (Env, an alias, or one of them + "_FILE") and Source
	// where that variable is: "environment" or "file". The value itself
	// is never output.
	Set    bool   `json:"set"`
	Var    string `json:"var,omitempty"`
	Source string `json:"source,omitempty"`
	// Error says why the setting cannot be used (two of its variables
	// differ, a NAME_FILE that is refused, route53's key ID without its
	// secret); it never holds a value. A setting refused by its
	// provider's rule is still Set.
	Error string `json:"error,omitempty"`
}

// settingsSources opens the credentials file: the one given, or the
// default one when it exists. A file that is given and missing, or that is
// unsafe or malformed, is an error (it names the file and line, never a
// value).
func settingsSources(path string, lookupEnv func(string) (string, bool)) (file *dnsprovider.FileSource, where string, err error) {
	if path != "" {
		file, err = dnsprovider.LoadCredentials(path)
		if err != nil {
			return nil, path, &usageError{err}
		}
		return file, path, nil
	}
	where = defaultCredentialsPath(func(k string) string { v, _ := lookupEnv(k); return v })
	f, err := dnsprovider.DefaultCredentials(where)
	switch {
	case errors.Is(err, dnsprovider.ErrNoCredentialsFile):
		return nil, where, nil
	case err != nil:
		return nil, where, &usageError{err}
	}
	return f, where, nil
}

// providersReport builds the document: registry metadata and, for each
// setting, whether and where it is set.
func providersReport(opts *ProvidersOptions) (*providersDoc, error) {
	file, where, err := settingsSources(opts.Credentials, opts.LookupEnv)
	if err != nil {
		return nil, err
	}
	doc := &providersDoc{Schema: providersSchema, CredentialsFile: where, CredentialsFileFound: file != nil, Providers: []providerJSON{}}
	infos := dnsprovider.Providers(false)
	if len(opts.Names) > 0 {
		infos = infos[:0:0]
		for _, n := range opts.Names {
			if i, ok := dnsprovider.Lookup(n); ok {
				infos = append(infos, i)
			}
		}
	}
	env := dnsprovider.EnvSource(opts.LookupEnv)
	src := dnsprovider.Chain(env, file)
	for _, info := range infos {
		st := dnsprovider.CheckStatus(info, src, env)
		p := providerJSON{
			Name: info.Name, Title: info.Title, Description: info.Description, Docs: info.Docs,
			Module: info.Module, Manual: info.Manual, Configured: st.Configured, ConfiguredBy: st.By,
			Settings: []settingJSON{},
		}
		for _, s := range st.Settings {
			// Only the variable's name is kept, never the value.
			sj := settingJSON{Setting: s.Setting}
			if s.From != "" {
				sj.Set, sj.Var, sj.Source = true, s.From, "file"
				if v, ok := env.Lookup(s.From); ok && strings.TrimSpace(v) != "" {
					sj.Source = "environment"
				}
			}
			if s.Err != nil {
				sj.Error = s.Err.Error()
			}
			p.Settings = append(p.Settings, sj)
		}
		doc.Providers = append(doc.Providers, p)
	}
	return doc, nil
}

func providersRun(_ context.Context, opts *ProvidersOptions) error {
	doc, err := providersReport(opts)
	if err != nil {
		return err
	}
	if opts.JSON {
		return opts.IO.WriteJSON(doc)
	}
	return writeProvidersHuman(opts.IO.Out, doc)
}

// writeProvidersHuman prints one block per provider: its name, title and
// status, one aligned row per setting (variable, markers, state, help), and
// the docs link. Values are never printed, only whether each is set.
func writeProvidersHuman(w io.Writer, doc *providersDoc) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for i, p := range doc.Providers {
		if i > 0 {
			fmt.Fprintln(tw)
		}
		status := "configured"
		if !p.Configured {
			status = "not configured"
		}
		// Lines without a tab end tabwriter's column block, so each
		// provider's settings align on their own.
		fmt.Fprintf(tw, "%s  %s  (%s)\n", p.Name, p.Title, status)
		if len(p.ConfiguredBy) > 0 {
			fmt.Fprintf(tw, "  configured by %s in the environment, which the provider's library reads itself\n", strings.Join(p.ConfiguredBy, " and "))
		}
		if len(p.Settings) == 0 {
			fmt.Fprintln(tw, "  no settings")
		}
		for _, s := range p.Settings {
			var marks []string
			if s.Secret {
				marks = append(marks, "secret")
			}
			if s.Required {
				marks = append(marks, "required")
			}
			if s.Default != "" {
				marks = append(marks, "default "+s.Default)
			}
			if len(marks) == 0 {
				marks = append(marks, "optional")
			}
			state := "missing"
			if !s.Required {
				state = "not set"
			}
			switch {
			case s.Error != "":
				state = "refused (below)"
			case s.Set && s.Var != s.Env:
				state = "set (" + s.Source + ", as " + s.Var + ")"
			case s.Set:
				state = "set (" + s.Source + ")"
			}
			help := s.Help
			if len(s.Aliases) > 0 {
				help += "; also read as " + strings.Join(s.Aliases, ", ")
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", s.Env, strings.Join(marks, ", "), state, help)
		}
		for _, s := range p.Settings {
			if s.Error != "" {
				fmt.Fprintf(tw, "  %s refused: %s\n", s.Env, s.Error)
			}
		}
		fmt.Fprintf(tw, "  docs: %s\n", p.Docs)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	file := "no credentials file (no HOME or XDG_CONFIG_HOME)"
	switch {
	case doc.CredentialsFile != "" && doc.CredentialsFileFound:
		file = "the credentials file " + doc.CredentialsFile
	case doc.CredentialsFile != "":
		file = "the credentials file " + doc.CredentialsFile + " (absent)"
	}
	_, err := fmt.Fprintf(w, "\nSettings are read from the environment, then from %s.\nA secret NAME may also be given as NAME_FILE, the path of a file that holds it.\nValues are never shown. See docs/providers.md.\n", file)
	return err
}
