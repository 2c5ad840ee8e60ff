package dnsprovider_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stspilot/stspilot/dnsprovider"
	"github.com/stspilot/stspilot/dnsprovider/providertest"
)

// mapSource is a Source over a map.
type mapSource map[string]string

func (m mapSource) Lookup(k string) (string, bool) { v, ok := m[k]; return v, ok }
func (m mapSource) Where() string                  { return "the test's settings" }

// sentinel is a unique stand-in for a secret: letters and digits only (no
// escaping can disguise it), length a multiple of 4 so that it is valid
// base64 too (TSIG keys).
func sentinel(i int) string { return fmt.Sprintf("SNTL%04dqzxwvKJH", i) }

// dummy is a plausible value for a non-secret setting.
func dummy(s dnsprovider.Setting, url string) string {
	switch {
	case strings.HasSuffix(s.Env, "_URL") || strings.HasSuffix(s.Env, "_ENDPOINT"):
		return url
	case strings.HasSuffix(s.Env, "_CLIENT_IP"):
		return "192.0.2.1"
	case strings.HasSuffix(s.Env, "_SERVER"):
		return "127.0.0.1:1"
	case strings.HasSuffix(s.Env, "_KEY_NAME"):
		return "stspilot-test."
	case strings.HasSuffix(s.Env, "_KEY_ALG"):
		return "hmac-sha256"
	}
	return "dummy"
}

// isolateAWS keeps the AWS SDK (route53) away from the machine's ~/.aws
// and from instance metadata.
func isolateAWS(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	for _, k := range []string{"AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} {
		t.Setenv(k, "")
	}
}

var envScheme = regexp.MustCompile(`^[A-Z][A-Z0-9]*_[A-Z][A-Z0-9_]*$`)

// TestRegistryProviders holds every listed provider to the registry's
// contract: names, docs, module, secrets, and Open without network.
func TestRegistryProviders(t *testing.T) {
	isolateAWS(t)
	all := dnsprovider.Providers(false)
	realAPIs := 0
	seenEnv := map[string]string{}
	for _, info := range all {
		if info.Module != "" {
			realAPIs++
		}
		t.Run(info.Name, func(t *testing.T) {
			if info.Title == "" || info.Description == "" || !strings.HasPrefix(info.Docs, "https://") {
				t.Errorf("title %q, description %q, docs %q", info.Title, info.Description, info.Docs)
			}
			if !info.Manual && !regexp.MustCompile(`^github\.com/[\w.-]+/[\w./-]+ v\d+\.\d+\.\d+\S*$`).MatchString(info.Module) {
				t.Errorf("module %q: want \"github.com/owner/name vX.Y.Z\"", info.Module)
			}
			if got, ok := dnsprovider.Lookup(info.Name); !ok || got.Name != info.Name {
				t.Errorf("Lookup(%q) = %v, %v", info.Name, got.Name, ok)
			}
			prefix := strings.ToUpper(info.Name) + "_"
			for _, s := range info.Settings {
				if !envScheme.MatchString(s.Env) || s.Env != prefix+strings.ToUpper(s.Name) {
					t.Errorf("setting %q: variable %q, want %s", s.Name, s.Env, prefix+strings.ToUpper(s.Name))
				}
				if other, dup := seenEnv[s.Env]; dup {
					t.Errorf("%s is used by %s too", s.Env, other)
				}
				seenEnv[s.Env] = info.Name
				if s.Help == "" {
					t.Errorf("%s has no help", s.Env)
				}
				if s.Secret && s.Default != "" {
					t.Errorf("secret %s has a default", s.Env)
				}
			}

			// Every required setting set to a dummy: Open succeeds
			// without contacting anything (the URLs point at a closed port).
			set := mapSource{}
			for i, s := range info.Settings {
				switch {
				case !s.Required:
				case s.Secret:
					set[s.Env] = sentinel(i)
				default:
					set[s.Env] = dummy(s, "https://127.0.0.1:1/")
				}
			}
			if info.Name == "cloudns" {
				set["CLOUDNS_AUTH_ID"] = "12345" // one of three IDs is required
			}
			p, err := dnsprovider.Open(info.Name, set, dnsprovider.Env{})
			if err != nil {
				t.Fatalf("Open with every required setting: %v", err)
			}
			if p.Name() != info.Name {
				t.Errorf("Name() = %q", p.Name())
			}

			// Nothing set: ErrConfig naming every required variable, or
			// success when nothing is required (route53's credential chain).
			_, err = dnsprovider.Open(info.Name, mapSource{}, dnsprovider.Env{})
			var req []string
			for _, s := range info.Settings {
				if s.Required {
					req = append(req, s.Env)
				}
			}
			switch {
			case len(req) == 0 && info.Name != "cloudns":
				if err != nil {
					t.Errorf("Open with nothing set: %v (no setting is required)", err)
				}
			case !errors.Is(err, dnsprovider.ErrConfig):
				t.Errorf("Open with nothing set: %v, want ErrConfig", err)
			default:
				for _, e := range req {
					if !strings.Contains(err.Error(), e) {
						t.Errorf("the error %q does not name %s", err, e)
					}
				}
			}
		})
	}
	if realAPIs < 10 {
		t.Errorf("%d libdns providers in the registry, want at least 10", realAPIs)
	}
	if _, ok := dnsprovider.Lookup("memory"); !ok {
		t.Error("the hidden memory provider is gone")
	}
	for _, i := range all {
		if i.Hidden {
			t.Errorf("%s is hidden but listed", i.Name)
		}
	}
	if _, err := dnsprovider.Open("no-such-provider", mapSource{}, dnsprovider.Env{}); !errors.Is(err, dnsprovider.ErrConfig) || !strings.Contains(err.Error(), "cloudflare") {
		t.Errorf("unknown provider: %v", err)
	}
}

// Settings a provider's factory validates are ErrConfig errors naming the
// variable, not panics or exits (go-powerdns and namecheap panic on a bad
// URL; libdns/route53 calls log.Fatalf on a bad AWS profile).
func TestProviderSettingValidation(t *testing.T) {
	isolateAWS(t)
	for _, tc := range []struct {
		provider string
		set      mapSource
		want     string
	}{
		{"powerdns", mapSource{"POWERDNS_SERVER_URL": "::not a url", "POWERDNS_API_TOKEN": sentinel(1)}, "POWERDNS_SERVER_URL"},
		{"powerdns", mapSource{"POWERDNS_SERVER_URL": "ftp://pdns.example", "POWERDNS_API_TOKEN": sentinel(1)}, "POWERDNS_SERVER_URL"},
		{"namecheap", mapSource{"NAMECHEAP_API_KEY": sentinel(2), "NAMECHEAP_USER": "u", "NAMECHEAP_CLIENT_IP": "my-host"}, "NAMECHEAP_CLIENT_IP"},
		{"namecheap", mapSource{"NAMECHEAP_API_KEY": sentinel(2), "NAMECHEAP_USER": "u", "NAMECHEAP_CLIENT_IP": "192.0.2.1", "NAMECHEAP_API_ENDPOINT": "%zz"}, "NAMECHEAP_API_ENDPOINT"},
		{"inwx", mapSource{"INWX_USERNAME": "u", "INWX_PASSWORD": sentinel(3), "INWX_ENDPOINT_URL": "api.domrobot.com"}, "INWX_ENDPOINT_URL"},
		{"cloudns", mapSource{"CLOUDNS_AUTH_PASSWORD": sentinel(4)}, "CLOUDNS_AUTH_ID"},
		{"route53", mapSource{"ROUTE53_ACCESS_KEY_ID": "AKIAEXAMPLE"}, "ROUTE53_SECRET_ACCESS_KEY"},
		{"route53", mapSource{"ROUTE53_SECRET_ACCESS_KEY": sentinel(5)}, "ROUTE53_ACCESS_KEY_ID"},
		{"route53", mapSource{"ROUTE53_SESSION_TOKEN": sentinel(6)}, "ROUTE53_SESSION_TOKEN"},
		{"route53", mapSource{"ROUTE53_PROFILE": "no-such-profile"}, "no-such-profile"},
	} {
		_, err := dnsprovider.Open(tc.provider, tc.set, dnsprovider.Env{})
		if !errors.Is(err, dnsprovider.ErrConfig) || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), tc.provider+": ") {
			t.Errorf("%s %v: err = %v, want ErrConfig naming %s", tc.provider, tc.set, err, tc.want)
		}
		for k, v := range tc.set {
			if strings.HasPrefix(v, "SNTL") && err != nil && strings.Contains(err.Error(), v) {
				t.Errorf("%s: the secret %s is in the error %q", tc.provider, k, err)
			}
		}
	}
}

// echoServer answers every request with 401 and a body that repeats the
// request: its headers, query and body, where the secrets travel.
func echoServer(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
		var b strings.Builder
		fmt.Fprintf(&b, "unauthorized: %s %s\n", r.Method, r.URL.RequestURI())
		for k, v := range r.Header {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
		b.Write(body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, "{\"error\": %q, \"message\": %q, \"status\": \"error\"}", b.String(), b.String())
	}))
	t.Cleanup(srv.Close)
	return srv
}

// Secrets given as settings never appear in the error of a failing call,
// even when the server echoes them back: every provider whose endpoint can
// be pointed at loopback, and cloudflare through its fake.
func TestProviderErrorsRedactSecrets(t *testing.T) {
	isolateAWS(t)
	srv := echoServer(t)
	for _, name := range []string{"powerdns", "inwx", "namecheap", "route53"} {
		t.Run(name, func(t *testing.T) {
			info, ok := dnsprovider.Lookup(name)
			if !ok {
				t.Fatalf("%s is not registered", name)
			}
			set := mapSource{}
			var secrets []string
			for i, s := range info.Settings {
				switch {
				case s.Secret:
					set[s.Env] = sentinel(100 + i)
					secrets = append(secrets, set[s.Env])
				case s.Required || strings.HasSuffix(s.Env, "_URL") || strings.HasSuffix(s.Env, "_ENDPOINT"):
					set[s.Env] = dummy(s, srv.URL+"/")
				}
			}
			if name == "route53" {
				set["ROUTE53_ACCESS_KEY_ID"] = "AKIASTSPILOTTEST"
				set["ROUTE53_HOSTED_ZONE_ID"] = "Z0STSPILOT"
				t.Setenv("AWS_ENDPOINT_URL_ROUTE_53", srv.URL)
			}
			p, err := dnsprovider.Open(name, set, dnsprovider.Env{})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err = p.ReadTXT(ctx, "example.test", "_mta-sts.example.test")
			if err == nil {
				t.Fatal("ReadTXT against a server that refuses everything succeeded")
			}
			if !strings.HasPrefix(err.Error(), name+": ") {
				t.Errorf("error %q does not start with the provider's name", err)
			}
			for _, s := range secrets {
				if strings.Contains(err.Error(), s) {
					t.Errorf("a secret is in the error: %q", err)
				}
			}
			t.Logf("%s: %v", name, err)
		})
	}
	t.Run("cloudflare", func(t *testing.T) {
		fake := providertest.NewCloudflareFake(t, cfToken, "example.test")
		fake.Fail = func(r *http.Request) (int, string) {
			return 401, providertest.CloudflareError(10000, "bad token: "+r.Header.Get("Authorization"))
		}
		_, err := dnsprovider.NewCloudflare(cfToken, "cf-zone-token-sentinel", fake.Client()).ReadTXT(context.Background(), "example.test", "_mta-sts.example.test")
		if err == nil || strings.Contains(err.Error(), cfToken) || strings.Contains(err.Error(), "cf-zone-token-sentinel") {
			t.Errorf("err = %v", err)
		}
	})
}
