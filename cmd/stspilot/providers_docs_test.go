package main

import (
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/stspilot/stspilot/dnsprovider"
	"github.com/stspilot/stspilot/internal/golden"
)

// providersDocPath is generated from the registry by providersMarkdown;
// go generate ./cmd/stspilot rewrites it (internal/golden).
const providersDocPath = "../../docs/providers.md"

//go:generate go test -tags stspilot_update -run ^TestProvidersDocMatchesRegistry$ .

const providersDocIntro = `# DNS providers

<!-- Generated from the dnsprovider registry by cmd/stspilot/providers_docs_test.go.
     Do not edit: change the registry, then run go generate ./cmd/stspilot -->

stspilot writes two TXT records, ` + "`_mta-sts.DOMAIN`" + ` and ` + "`_smtp._tls.DOMAIN`" + `,
through a DNS provider. It adds and deletes only its own records: those
that start with the version tag and ';' (` + "`v=STSv1;`" + `, ` + "`v=TLSRPTv1;`" + `) and
the near misses of them that ` + "`stspilot check`" + ` reports (` + "`v=STSv1 ;`" + `, the tag
in another case, no ';' at all), so that no second record is left for
lenient senders to take. It never rewrites another record of the same
name, another version (` + "`v=STSv10`" + `) included.
` + "`stspilot providers`" + ` lists the providers compiled
in, the settings each needs and which of them are set (never their values);
` + "`stspilot providers --json`" + ` is the same as a ` + "`stspilot.providers/v1`" + `
document (see [json.md](json.md)).

## Credentials

Each setting is an environment variable named after the provider and the
setting, in capitals: ` + "`CLOUDFLARE_API_TOKEN`" + `, ` + "`RFC2136_KEY`" + `. The same
names can be kept in a **credentials file** instead, read after the
environment (a variable set in the environment wins):

- the file given with ` + "`--credentials FILE`" + ` (it must exist), or else
  ` + "`$XDG_CONFIG_HOME/stspilot/credentials`" + `, or ` + "`~/.config/stspilot/credentials`" + `
  when ` + "`XDG_CONFIG_HOME`" + ` is not set to an absolute path (a missing
  default file is fine);
- it must be a regular file (not a symlink or a directory), owned by the
  user running stspilot or by root (as OpenSSH wants of its keys; root too
  refuses another user's file), that only its owner can read or write: ` + "`chmod 600 FILE`" + `; anything looser is refused before
  a byte of it is read;
- one ` + "`NAME=value`" + ` a line; blank lines and lines starting with ` + "`#`" + ` are
  skipped; an optional leading ` + "`export `" + `; the value may be in single or
  double quotes (taken literally, no escapes); a name set twice is an error;
  at most 64 KiB.

` + "```sh" + `
install -m 600 /dev/null ~/.config/stspilot/credentials
cat >> ~/.config/stspilot/credentials <<'EOF'
# Cloudflare, token scoped to example.com with Zone / DNS / Edit
CLOUDFLARE_API_TOKEN=...
EOF
stspilot providers cloudflare
` + "```" + `

### Other names: lego's, and NAME_FILE

Where lego (and so Traefik) names the same setting differently, its name
is read too, so that an existing lego or Traefik environment works
unchanged: ` + "`CLOUDFLARE_DNS_API_TOKEN`" + ` and ` + "`CF_DNS_API_TOKEN`" + ` for
` + "`CLOUDFLARE_API_TOKEN`" + `, ` + "`RFC2136_NAMESERVER`" + `, ` + "`RFC2136_TSIG_KEY`" + ` (the key's
*name*), ` + "`RFC2136_TSIG_SECRET`" + ` and ` + "`RFC2136_TSIG_ALGORITHM`" + ` for rfc2136. Each
provider's table lists them under "Also read as". One default differs: when
no algorithm is set, lego signs with hmac-sha1 and stspilot with
hmac-sha256, so a lego set-up that relied on that default needs
` + "`RFC2136_TSIG_ALGORITHM=hmac-sha1`" + `. lego's ` + "`RFC2136_TSIG_FILE`" + ` (a whole BIND key
file) is not read: give the key's name and secret.

Every secret setting, under each of its names, can also be given as
` + "`NAME_FILE`" + `: the path of a file that holds the value, as Docker and
Kubernetes mount secrets (` + "`CF_DNS_API_TOKEN_FILE=/run/secrets/cf_token`" + `). The
file is read once, when the provider is opened: it must be a regular file
(a symbolic link is followed, as in a Kubernetes secret volume), owned by
the user running stspilot or by root, that neither group nor others may
write (others may read it), at most 64 KiB, and not empty; a trailing line
end is dropped. Anything else is refused with an error that names the
variable, never the path or the content.

A setting is looked up under its names in this order: the name in the
table, its ` + "`_FILE`" + `, then each other name as listed, each followed by its
` + "`_FILE`" + `; each name is looked up in the environment, then in the credentials
file. When two of them hold values, the values must be the same: otherwise
stspilot refuses to guess, and the error names both variables (never a
value). ` + "`stspilot providers`" + ` shows which variable supplied each setting.

Secret settings are never printed, logged, written to the journal or put in
error messages: errors name the variable to check, not its value. Errors about
the file name the file and the line, never a value.

## Trying a provider before trusting it

Only memory, cloudflare (against a fake of its API) and rfc2136 (against the
test world's BIND) run the conformance suite in CI; the other providers are
checked for their settings, errors and redaction, not against their APIs. The
suite can run against a real account: it writes, reads back and
deletes TXT records at fresh names of the zone given (` + "`_mta-sts.set-stspilot-live-RANDOM-1.ZONE`" + `
and the like: every name holds ` + "`stspilot-live-`" + `), checks that records
it did not create survive, and deletes everything it created at the end.

` + "```sh" + `
export DESEC_TOKEN=...          # the provider's settings, as for stspilot
STSPILOT_LIVE_PROVIDERS=desec:example.org go test ./dnsprovider -run TestConformanceLive -v
` + "```" + `

## HTTP clients

Where a provider's library takes an HTTP client, stspilot gives it its own
(**capped** below): every request times out after 60 s, a response body
larger than 8 MiB fails instead of being read, and an error status whose
body is not JSON (a proxy's HTML page) is reported by its status. The
other libraries build a client of their own and offer no way to pass
another; each is listed below as an exception, with what that means. Their
requests still carry the deadline of the step that makes them (except
porkbun's, whose library sends them without a context), but their
responses are read whole.

## Providers
`

// providersMarkdown renders docs/providers.md from the registry: the
// fixed introduction, an index, then one section per provider.
func providersMarkdown() string {
	var b strings.Builder
	b.WriteString(providersDocIntro)
	b.WriteString("\n| Provider | For | Implemented by | HTTP client |\n|---|---|---|---|\n")
	all := dnsprovider.Providers(true)
	for _, p := range all {
		mod := p.Module
		if mod == "" {
			mod = "stspilot"
		}
		httpc := p.HTTPClient
		if strings.HasPrefix(httpc, dnsprovider.HTTPLibraryDefault) {
			httpc = "the library's own ([exception](#" + p.Name + "))"
		}
		fmt.Fprintf(&b, "| [`%s`](#%s) | %s | %s | %s |\n", p.Name, p.Name, p.Title, mod, httpc)
	}
	for _, p := range all {
		fmt.Fprintf(&b, "\n## %s\n\n**%s**: %s.", p.Name, p.Title, p.Description)
		if p.Hidden {
			b.WriteString(" Hidden: `stspilot providers` does not list it.")
		}
		if p.Manual {
			b.WriteString(" Manual: stspilot writes nothing and waits until the record is served.")
		}
		b.WriteString("\n\n")
		if p.Module != "" {
			fmt.Fprintf(&b, "Implemented by `%s`. ", p.Module)
		}
		fmt.Fprintf(&b, "Documentation: <%s>\n\n", p.Docs)
		if p.Caveat != "" {
			fmt.Fprintf(&b, "**Caveat**: %s.\n\n", p.Caveat)
		}
		switch reason, exception := strings.CutPrefix(p.HTTPClient, dnsprovider.HTTPLibraryDefault+": "); {
		case p.HTTPClient == dnsprovider.HTTPCapped:
			b.WriteString("HTTP client: capped (stspilot's).\n\n")
		case exception:
			fmt.Fprintf(&b, "HTTP client: an exception, the library's own: %s.\n\n", reason)
		}
		if len(p.Settings) == 0 {
			b.WriteString("No settings.\n")
			continue
		}
		b.WriteString("| Variable | Also read as | Secret | Required | What |\n|---|---|---|---|---|\n")
		for _, s := range p.Settings {
			req := map[bool]string{true: "yes", false: "no"}[s.Required]
			if s.Default != "" {
				req += ", default `" + s.Default + "`"
			}
			// Every variable but the first, in lookup order (the
			// NAME_FILE forms of a secret included).
			also := "-"
			if vars := s.Vars()[1:]; len(vars) > 0 {
				also = "`" + strings.Join(vars, "`, `") + "`"
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", s.Env, also, map[bool]string{true: "**secret**", false: "no"}[s.Secret], req, strings.ReplaceAll(s.Help, "|", `\|`))
		}
	}
	return b.String()
}

// docs/providers.md is the registry, rendered: a provider, a setting or a
// flag changed in the code without the docs fails here.
func TestProvidersDocMatchesRegistry(t *testing.T) {
	golden.Check(t, providersDocPath, []byte(providersMarkdown()))
	got, err := os.ReadFile(providersDocPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range dnsprovider.Providers(true) {
		if !strings.Contains(string(got), "\n## "+p.Name+"\n") {
			t.Errorf("no section for %s", p.Name)
		}
		for _, s := range p.Settings {
			if !strings.Contains(string(got), "| `"+s.Env+"` |") {
				t.Errorf("no row for %s", s.Env)
			}
			for _, a := range s.Aliases {
				if !strings.Contains(string(got), "`"+a+"`") {
					t.Errorf("the alias %s of %s is not listed", a, s.Env)
				}
			}
		}
		// A provider whose HTTP calls escape stspilot's capped client is
		// listed as an exception with its reason; a caveat is shown.
		if reason, ok := strings.CutPrefix(p.HTTPClient, dnsprovider.HTTPLibraryDefault+": "); ok && !strings.Contains(string(got), "HTTP client: an exception, the library's own: "+reason) {
			t.Errorf("%s is not listed as an HTTP client exception", p.Name)
		}
		if p.Caveat != "" && !strings.Contains(string(got), "**Caveat**: "+p.Caveat) {
			t.Errorf("the caveat of %s is not shown", p.Name)
		}
	}
}

// docs/json.md documents every field of stspilot.providers/v1, and its
// example is a document of that schema.
func TestProvidersJSONDoc(t *testing.T) {
	raw, err := os.ReadFile("../../docs/json.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(raw), "# `stspilot providers --json`")
	if !ok {
		t.Fatal("docs/json.md has no providers section")
	}
	for _, typ := range []any{providersDoc{}, providerJSON{}, settingJSON{}} {
		for _, name := range jsonFieldNames(typ) {
			if !strings.Contains(sec, "| `"+name+"` |") && !strings.Contains(sec, "`"+name+"` is") {
				t.Errorf("the providers section has no row for %q", name)
			}
		}
	}
	_, ex, ok := strings.Cut(sec, "```json\n")
	ex, _, _ = strings.Cut(ex, "```")
	if !ok {
		t.Fatal("no example")
	}
	doc := decodeProviders(t, ex)
	if doc.Schema != providersSchema || len(doc.Providers) != 2 {
		t.Errorf("example: %+v", doc)
	}
	for _, p := range doc.Providers {
		info, ok := dnsprovider.Lookup(p.Name)
		if !ok || info.Description != p.Description || info.Docs != p.Docs || info.Module != p.Module {
			t.Errorf("the example's %s differs from the registry", p.Name)
		}
	}
}

// jsonFieldNames are the JSON names of v's fields, those of an embedded
// struct (flattened by encoding/json) included.
func jsonFieldNames(v any) []string {
	var out []string
	t := reflect.TypeOf(v)
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if f.Anonymous && tag == "" {
			out = append(out, jsonFieldNames(reflect.Zero(f.Type).Interface())...)
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if name != "" && name != "-" {
			out = append(out, name)
		}
	}
	return out
}
