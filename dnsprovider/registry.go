package dnsprovider

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

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

// Resolve reads the settings of info from src. A missing required setting
// is an ErrConfig error that names every missing variable, never a value.
func Resolve(info Info, src Source) (Values, error) {
	v := Values{}
	var missing []string
	for _, s := range info.Settings {
		val, ok := src.Lookup(s.Env)
		val = strings.TrimSpace(val)
		if !ok || val == "" {
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
		return nil, fmt.Errorf("%s: %w: missing %s (set it in the environment or in %s)", info.Name, ErrConfig, strings.Join(missing, ", "), src.Where())
	}
	return v, nil
}

// Open builds the named provider with its settings from src.
func Open(name string, src Source, env Env) (Provider, error) {
	e, ok := find(name)
	if !ok {
		return nil, fmt.Errorf("%w: unknown DNS provider %q (known: %s)", ErrConfig, name, strings.Join(Names(), ", "))
	}
	v, err := Resolve(e.info, src)
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
		return nil, wrapErr(e.info.Name, redactor{secrets: secrets}, err, strings.Join(e.info.SecretEnv(), ", "))
	}
	return p, nil
}

// SecretValues returns the values src holds for the secret settings of
// every registered provider: what a log must never show.
func SecretValues(src Source) []string {
	var out []string
	for _, e := range registry {
		for _, s := range e.info.Settings {
			if v, ok := src.Lookup(s.Env); ok && s.Secret && v != "" {
				out = append(out, v)
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
	for _, s := range info.Settings {
		if !strings.HasPrefix(s.Env, prefix) || slices.ContainsFunc(info.Settings, func(o Setting) bool { return o.Name == s.Name && o.Env != s.Env }) {
			panic("dnsprovider: bad setting " + s.Env + " for " + info.Name)
		}
	}
	registry = append(registry, entry{info: info, open: open})
}
