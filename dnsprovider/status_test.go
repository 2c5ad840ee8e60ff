package dnsprovider_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/stspilot/stspilot/dnsprovider"
)

// route53 is configured by its key ID with its secret, by its profile, or
// by the AWS chain's credentials in the environment (not in the settings'
// source: the SDK reads the process environment); its region or zone id
// alone is not enough, and keys that Open refuses are refused here too,
// on the setting to blame.
func TestCheckStatusRoute53(t *testing.T) {
	info, ok := dnsprovider.Lookup("route53")
	if !ok {
		t.Fatal("no route53")
	}
	const secretValue = "wJalrXUtnFEMI-never-shown"
	for _, c := range []struct {
		name     string
		settings mapSource // what Open reads (environment and file)
		environ  mapSource // the process environment alone
		want     bool
		by       []string
		refused  string // the Env of the setting refused, if any
	}{
		{name: "nothing", want: false},
		{name: "region only", settings: mapSource{"ROUTE53_REGION": "eu-west-1"}, want: false},
		{name: "zone id only", settings: mapSource{"ROUTE53_HOSTED_ZONE_ID": "Z0STSPILOT"}, want: false},
		{name: "key and secret", settings: mapSource{"ROUTE53_ACCESS_KEY_ID": "AKIAEXAMPLE", "ROUTE53_SECRET_ACCESS_KEY": secretValue}, want: true},
		{name: "key, secret and token", settings: mapSource{"ROUTE53_ACCESS_KEY_ID": "AKIAEXAMPLE", "ROUTE53_SECRET_ACCESS_KEY": secretValue, "ROUTE53_SESSION_TOKEN": secretValue + "2"}, want: true},
		{name: "profile", settings: mapSource{"ROUTE53_PROFILE": "ops"}, want: true},
		{name: "key without secret", settings: mapSource{"ROUTE53_ACCESS_KEY_ID": "AKIAEXAMPLE"}, want: false, refused: "ROUTE53_ACCESS_KEY_ID"},
		{name: "key without secret, chain in the environment", settings: mapSource{"ROUTE53_ACCESS_KEY_ID": "AKIAEXAMPLE"}, environ: mapSource{"AWS_PROFILE": "ops"}, want: false, refused: "ROUTE53_ACCESS_KEY_ID"},
		{name: "secret without key", settings: mapSource{"ROUTE53_SECRET_ACCESS_KEY": secretValue}, want: false, refused: "ROUTE53_SECRET_ACCESS_KEY"},
		{name: "token without key", settings: mapSource{"ROUTE53_SESSION_TOKEN": secretValue}, environ: mapSource{"AWS_PROFILE": "ops"}, want: false, refused: "ROUTE53_SESSION_TOKEN"},
		{name: "AWS keys", environ: mapSource{"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": secretValue}, want: true, by: []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}},
		{name: "AWS key id without its secret", environ: mapSource{"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE"}, want: false},
		{name: "AWS keys blank", environ: mapSource{"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "  "}, want: false},
		{name: "AWS_PROFILE", environ: mapSource{"AWS_PROFILE": "ops"}, want: true, by: []string{"AWS_PROFILE"}},
		{name: "AWS_DEFAULT_PROFILE", environ: mapSource{"AWS_DEFAULT_PROFILE": "ops"}, want: true, by: []string{"AWS_DEFAULT_PROFILE"}},
		{name: "web identity", environ: mapSource{"AWS_WEB_IDENTITY_TOKEN_FILE": "/var/run/token", "AWS_ROLE_ARN": "arn:aws:iam::1:role/dns"}, want: true, by: []string{"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN"}},
		{name: "web identity without a role", environ: mapSource{"AWS_WEB_IDENTITY_TOKEN_FILE": "/var/run/token"}, want: false},
		{name: "container, relative", environ: mapSource{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/x"}, want: true, by: []string{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"}},
		{name: "container, full", environ: mapSource{"AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://169.254.170.23/v1/credentials"}, want: true, by: []string{"AWS_CONTAINER_CREDENTIALS_FULL_URI"}},
		{name: "region and AWS_PROFILE", settings: mapSource{"ROUTE53_REGION": "eu-west-1"}, environ: mapSource{"AWS_PROFILE": "ops"}, want: true, by: []string{"AWS_PROFILE"}},
		{name: "own keys win over the chain", settings: mapSource{"ROUTE53_ACCESS_KEY_ID": "AKIAEXAMPLE", "ROUTE53_SECRET_ACCESS_KEY": secretValue}, environ: mapSource{"AWS_PROFILE": "ops"}, want: true},
		// The chain is read from the environment only: the same names in
		// the settings' source (a credentials file) are not the SDK's.
		{name: "AWS_PROFILE in the file", settings: mapSource{"AWS_PROFILE": "ops"}, want: false},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := c.environ
			if env == nil {
				env = mapSource{}
			}
			// Open reads the environment too: the settings' source is
			// the environment, then the file.
			st := dnsprovider.CheckStatus(info, dnsprovider.Chain(env, c.settings), env)
			if st.Configured != c.want || !slices.Equal(st.By, c.by) {
				t.Errorf("configured %v by %q; want %v by %q", st.Configured, st.By, c.want, c.by)
			}
			if len(st.Settings) != len(info.Settings) {
				t.Fatalf("%d settings, want %d", len(st.Settings), len(info.Settings))
			}
			for _, s := range st.Settings {
				_, set := c.settings[s.Env]
				if (s.From != "") != set {
					t.Errorf("%s: from %q", s.Env, s.From)
				}
				switch {
				case s.Env == c.refused && (s.Err == nil || !errors.Is(s.Err, dnsprovider.ErrConfig)):
					t.Errorf("%s is not refused: %v", s.Env, s.Err)
				case s.Env != c.refused && s.Err != nil:
					t.Errorf("%s is refused: %v", s.Env, s.Err)
				case s.Err != nil && strings.Contains(s.Err.Error(), secretValue):
					t.Errorf("%s: a value in the error: %v", s.Env, s.Err)
				}
			}
			// Open agrees where it can tell without the network: keys
			// refused here are refused there with the same words.
			if c.refused != "" {
				_, err := dnsprovider.Open("route53", dnsprovider.Chain(env, c.settings), dnsprovider.Env{})
				if err == nil || !strings.Contains(err.Error(), c.refused+" ") {
					t.Errorf("Open: %v", err)
				}
			}
		})
	}
}

// A provider without a rule of its own is configured when its required
// settings are set and none is refused; one without settings always is.
func TestCheckStatusGeneric(t *testing.T) {
	cf, _ := dnsprovider.Lookup("cloudflare")
	if st := dnsprovider.CheckStatus(cf, mapSource{}, nil); st.Configured || st.By != nil {
		t.Errorf("cloudflare with nothing: %+v", st)
	}
	st := dnsprovider.CheckStatus(cf, mapSource{"CF_DNS_API_TOKEN": "x"}, nil)
	if !st.Configured || st.Settings[0].From != "CF_DNS_API_TOKEN" {
		t.Errorf("cloudflare by its lego name: %+v", st)
	}
	st = dnsprovider.CheckStatus(cf, mapSource{"CLOUDFLARE_API_TOKEN": "x", "CF_DNS_API_TOKEN": "y"}, nil)
	if st.Configured || st.Settings[0].Err == nil || st.Settings[0].From != "" {
		t.Errorf("cloudflare with two tokens that differ: %+v", st)
	}
	manual, _ := dnsprovider.Lookup("manual")
	if st := dnsprovider.CheckStatus(manual, mapSource{}, nil); !st.Configured {
		t.Errorf("manual: %+v", st)
	}
}
