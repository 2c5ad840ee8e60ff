package dnsprovider

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/stspilot/stspilot/internal/envfile"
	"github.com/stspilot/stspilot/internal/redact"
)

// Setting is one value a provider needs.
type Setting struct {
	// Name is the setting's name in snake case ("api_token").
	Name string `json:"name"`
	// Env is the environment variable (and config-file key) that holds it:
	// the provider's name in capitals, then the setting ("CLOUDFLARE_API_TOKEN").
	Env string `json:"env"`
	// Secret settings are never printed, logged, journaled or put in errors.
	Secret bool `json:"secret"`
	// Required settings must be set; Open names the variable when one is missing.
	Required bool `json:"required"`
	// Default is used when the setting is not set (never for secrets).
	Default string `json:"default,omitempty"`
	// Help says what the value is, in a few words.
	Help string `json:"help"`
	// Aliases are other variables that mean exactly the same thing, so
	// that an operator's lego or Traefik environment works unchanged
	// (CF_DNS_API_TOKEN for CLOUDFLARE_API_TOKEN). They are looked up
	// after Env, in this order (see Vars).
	Aliases []string `json:"aliases,omitempty"`
}

// FileSuffix makes the variable of a secret setting (or of an alias)
// into the one that names a file holding the value:
// CLOUDFLARE_API_TOKEN_FILE=/run/secrets/cf_token, as Docker and
// Kubernetes secrets are mounted (and as lego reads them).
const FileSuffix = "_FILE"

// Vars returns every variable that may supply s, in the order they are
// looked up: Env, then each alias in the order the registry gives; a
// secret's NAME_FILE right after each NAME.
func (s Setting) Vars() []string {
	var out []string
	for _, v := range s.vars() {
		out = append(out, v.name)
	}
	return out
}

// settingVar is one variable of a setting: file says it names a file that
// holds the value.
type settingVar struct {
	name string
	file bool
}

func (s Setting) vars() []settingVar {
	var out []settingVar
	for _, n := range append([]string{s.Env}, s.Aliases...) {
		out = append(out, settingVar{name: n})
		if s.Secret {
			out = append(out, settingVar{name: n + FileSuffix, file: true})
		}
	}
	return out
}

// Info describes one provider of the registry.
type Info struct {
	// Name is what --provider takes ("cloudflare").
	Name string `json:"name"`
	// Title is the human name ("Cloudflare").
	Title string `json:"title"`
	// Description says what it talks to, in one line.
	Description string `json:"description"`
	// Docs is a link to the provider's documentation of its API or setup.
	Docs string `json:"docs"`
	// Module is the Go module and version that implements it, empty for
	// providers of our own (manual, memory).
	Module string `json:"module,omitempty"`
	// Settings lists what it needs, in the order to ask for them.
	Settings []Setting `json:"settings"`
	// Manual providers write nothing: they show the record to publish and
	// the published gate waits for it.
	Manual bool `json:"manual,omitempty"`
	// Hidden providers (memory) are for tests and the demo; `providers`
	// does not list them.
	Hidden bool `json:"-"`
	// HTTPClient says what carries the provider's API calls: HTTPCapped,
	// HTTPNone, or HTTPLibraryDefault then ": " and why stspilot's client
	// cannot be used (docs/providers.md lists these exceptions).
	HTTPClient string `json:"-"`
	// Caveat is what a user must know before relying on the provider
	// (a write it refuses, a risk it carries), or empty.
	Caveat string `json:"-"`
	// ready is the provider's own rule for being configured, or nil
	// (see CheckStatus).
	ready readiness
}

// Values of Info.HTTPClient.
const (
	// HTTPCapped: every API call goes through stspilot's client: a
	// timeout per request, response bodies capped, and an error status
	// with a body that is not JSON reported by its status.
	HTTPCapped = "capped"
	// HTTPNone: the provider makes no HTTP calls (DNS only, or nothing).
	HTTPNone = "none"
	// HTTPLibraryDefault starts the value of a provider whose library
	// uses a client of its own and has no way to be given ours.
	HTTPLibraryDefault = "library default"
)

// httpClientValid reports whether v is a value Info.HTTPClient may take.
func httpClientValid(v string) bool {
	if v == HTTPCapped || v == HTTPNone {
		return true
	}
	reason, ok := strings.CutPrefix(v, HTTPLibraryDefault+": ")
	return ok && strings.TrimSpace(reason) != ""
}

// SecretEnv returns the environment variables of the secret settings.
func (i Info) SecretEnv() []string {
	var out []string
	for _, s := range i.Settings {
		if s.Secret {
			out = append(out, s.Env)
		}
	}
	return out
}

// SecretVars returns every variable that may hold a secret setting of a
// registered provider, hidden ones included: each Env, its aliases and
// their NAME_FILE forms. An exec publisher or hook runs without them.
func SecretVars() []string {
	var out []string
	for _, e := range registry {
		for _, s := range e.info.Settings {
			if s.Secret {
				out = append(out, s.Vars()...)
			}
		}
	}
	return out
}

// Values are the settings of one provider as read from the environment and
// the config file, keyed by Setting.Name.
type Values map[string]string

// Env is what a provider may need from stspilot besides its settings.
type Env struct {
	// Resolvers are the recursive resolvers to use (IP:PORT, as
	// dnsclient.ParseServer accepts them; host names are refused), as given by
	// --resolver; empty means the system's. The manual provider reads the
	// zone through them and the zone's authoritative servers.
	Resolvers []string
	// Port is the DNS port of authoritative servers, "53" when empty (tests
	// and the demo run authoritative servers on other ports).
	Port string
}

// Factory builds a provider from complete, validated settings. It must not
// contact the provider: Open is cheap, the first call does the work.
// secrets are the values of the secret settings, for redaction.
type Factory func(v Values, secrets []string, env Env) (Provider, error)

// entry is one row of the registry.
type entry struct {
	info Info
	open Factory
}

// registry is the explicit list of compiled-in providers, filled by the
// provider files of this package (see registry_list.go). It is a table, not
// init-time registration, so that one file shows everything there is.
var registry []entry

// Providers returns the providers that `providers` lists, sorted by name.
// Hidden ones (memory) are left out unless all is true.
func Providers(all bool) []Info {
	var out []Info
	for _, e := range registry {
		if e.info.Hidden && !all {
			continue
		}
		out = append(out, e.info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Lookup returns the provider called name.
func Lookup(name string) (Info, bool) {
	e, ok := find(name)
	return e.info, ok
}

func find(name string) (entry, bool) {
	name = strings.ToLower(strings.TrimSpace(name))
	for _, e := range registry {
		if e.info.Name == name {
			return e, true
		}
	}
	return entry{}, false
}

// Names returns the names of the listed providers, for error messages.
func Names() []string {
	var out []string
	for _, i := range Providers(false) {
		out = append(out, i.Name)
	}
	return out
}

// Resolve reads the settings of info from src (see LookupSetting). A
// missing required setting is an ErrConfig error that names every missing
// variable, never a value; so are two variables of one setting that
// disagree, and a NAME_FILE that cannot be read.
func Resolve(info Info, src Source) (Values, error) {
	v, _, err := resolve(info, src)
	return v, err
}

// resolve is Resolve that also returns, for each setting set under
// another variable than its Env, that variable.
func resolve(info Info, src Source) (Values, map[string]string, error) {
	v := Values{}
	aliased := map[string]string{}
	var missing []string
	for _, s := range info.Settings {
		val, from, err := LookupSetting(s, src)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", info.Name, err)
		}
		if from != "" && from != s.Env {
			aliased[s.Env] = from
		}
		if from == "" {
			if s.Default != "" && !s.Secret {
				v[s.Name] = s.Default
				continue
			}
			if s.Required {
				missing = append(missing, s.Env)
			}
			continue
		}
		v[s.Name] = val
	}
	if len(missing) > 0 {
		return nil, nil, fmt.Errorf("%s: %w: missing %s (set it in the environment or in %s)", info.Name, ErrConfig, strings.Join(missing, ", "), src.Where())
	}
	return v, aliased, nil
}

// Open builds the named provider with its settings from src.
func Open(name string, src Source, env Env) (Provider, error) {
	e, ok := find(name)
	if !ok {
		return nil, fmt.Errorf("%w: unknown DNS provider %q (known: %s)", ErrConfig, name, strings.Join(Names(), ", "))
	}
	v, aliased, err := resolve(e.info, src)
	if err != nil {
		return nil, err
	}
	var secrets []string
	for _, s := range e.info.Settings {
		if s.Secret && v[s.Name] != "" {
			secrets = append(secrets, v[s.Name])
		}
	}
	redact.Default.Add(secrets...) // the --debug log never shows them either
	p, err := e.open(v, secrets, env)
	if err != nil {
		return nil, aliasNote(wrapErr(e.info.Name, redactor{secrets: secrets}, err, strings.Join(e.info.SecretEnv(), ", ")), aliased)
	}
	return p, nil
}

// aliasNote adds to err, which names settings by their Env, the variable
// each of those was actually set as (RFC2136_SERVER as RFC2136_NAMESERVER).
func aliasNote(err error, aliased map[string]string) error {
	var notes []string
	for env, from := range aliased {
		if mentions(err.Error(), env) {
			notes = append(notes, env+" is set as "+from)
		}
	}
	if len(notes) == 0 {
		return err
	}
	sort.Strings(notes)
	return fmt.Errorf("%w (%s)", err, strings.Join(notes, "; "))
}

// SecretValues returns the values src holds for the secret settings of
// every registered provider, under any of their variables (the content of
// a NAME_FILE too, when it can be read): what a log must never show.
func SecretValues(src Source) []string {
	var out []string
	for _, e := range registry {
		for _, s := range e.info.Settings {
			if !s.Secret {
				continue
			}
			for _, sv := range s.vars() {
				v, ok := src.Lookup(sv.name)
				if !ok || strings.TrimSpace(v) == "" {
					continue
				}
				if sv.file {
					// A file that cannot be read may be a secret
					// put in NAME_FILE by mistake: hide that too.
					c, err := envfile.ReadSecretFile(strings.TrimSpace(v))
					if err != nil {
						out = append(out, strings.TrimSpace(v))
						continue
					}
					v = c
				}
				out = append(out, v)
				if t := strings.TrimSpace(v); t != v {
					out = append(out, t)
				}
			}
		}
	}
	return out
}

// register adds a row; it panics on a duplicate name, a setting whose
// variable does not follow the NAME_SETTING scheme or an HTTPClient that
// is not one of its values (programming errors, caught by every test of
// the package).
func register(info Info, open Factory) {
	if _, dup := find(info.Name); dup {
		panic("dnsprovider: provider registered twice: " + info.Name)
	}
	if !httpClientValid(info.HTTPClient) {
		panic("dnsprovider: " + info.Name + ": HTTPClient " + strconv.Quote(info.HTTPClient) + " is not capped, none or \"library default: REASON\"")
	}
	prefix := strings.ToUpper(info.Name) + "_"
	seen := map[string]bool{}
	for _, s := range info.Settings {
		if !strings.HasPrefix(s.Env, prefix) || slices.ContainsFunc(info.Settings, func(o Setting) bool { return o.Name == s.Name && o.Env != s.Env }) {
			panic("dnsprovider: bad setting " + s.Env + " for " + info.Name)
		}
		// Every variable (aliases and NAME_FILE forms included) names
		// one setting only, and an alias is a name of its own, not a
		// NAME_FILE.
		for _, a := range s.Aliases {
			if !envfile.IsEnvName(a) || strings.HasSuffix(a, FileSuffix) {
				panic("dnsprovider: bad alias " + a + " of " + s.Env)
			}
		}
		for _, n := range s.Vars() {
			if seen[n] {
				panic("dnsprovider: " + info.Name + ": variable " + n + " names two settings")
			}
			seen[n] = true
		}
	}
	registry = append(registry, entry{info: info, open: open})
}

// mentions reports whether text names the variable name as a whole word
// (RFC2136_KEY is not in RFC2136_KEY_NAME).
func mentions(text, name string) bool {
	word := func(c byte) bool {
		return c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
	}
	for i := 0; ; {
		j := strings.Index(text[i:], name)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(name)
		if (start == 0 || !word(text[start-1])) && (end == len(text) || !word(text[end])) {
			return true
		}
		i = start + 1
	}
}
