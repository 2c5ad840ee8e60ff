package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// runServeFlags parses `serve ARGS` with the work replaced by a capture.
func runServeFlags(t *testing.T, args ...string) (*ServeOptions, int, string) {
	t.Helper()
	var got *ServeOptions
	var out, errOut bytes.Buffer
	f := &factory{IO: newIOStreams(strings.NewReader(""), &out, &errOut, func(string) string { return "" })}
	root := rootWith(f, func(f *factory) *cobra.Command {
		return newServeCmd(f, func(_ context.Context, o *ServeOptions) error {
			got = o
			return nil
		})
	})
	code := executeRoot(context.Background(), f, root, append([]string{"--config", "/dev/null", "serve"}, args...))
	return got, code, errOut.String()
}

func TestServeFlags(t *testing.T) {
	o, code, msg := runServeFlags(t, "--tls-cert", "a.crt", "--tls-key", "a.key", "--listen", "127.0.0.90:443", "--listen", "[::1]:8443", "--rua-path", "/rpt", "--state-dir", "/tmp/s")
	if code != 0 || o == nil {
		t.Fatalf("valid flags: exit %d: %s", code, msg)
	}
	if strings.Join(o.Listen, ",") != "127.0.0.90:443,[::1]:8443" || o.RUAPath != "/rpt" || o.StateDir != "/tmp/s" || o.TLSCerts[0] != "a.crt" || o.TLSKey[0] != "a.key" {
		t.Errorf("options %+v", o)
	}
	if o, code, _ := runServeFlags(t, "--acme", "--acme-ca", "https://127.0.0.1:14000/dir"); code != 0 || !o.ACME || o.Listen[0] != ":443" || o.RUAPath != "/tlsrpt" {
		t.Errorf("--acme: exit %d, %+v", code, o)
	}
	o, code, msg = runServeFlags(t, "--acme", "--state-dir", "/srv/state", "--reports-dir", "rpt", "--acme-dir", "/srv/serve/acme")
	if code != 0 || o.ReportsDir != "rpt" || o.ACMEDir != "/srv/serve/acme" {
		t.Fatalf("--reports-dir, --acme-dir: exit %d %s %+v", code, msg, o)
	}
	// Reports and ACME default under the state directory; a relative
	// directory is made absolute.
	d, err := o.dirs()
	if wd, _ := os.Getwd(); err != nil || d.state != "/srv/state" || d.reports != filepath.Join(wd, "rpt") || d.acme != "/srv/serve/acme" {
		t.Errorf("dirs %+v %v", d, err)
	}
	if o.ReportsQuotaMiB != 1024 {
		t.Errorf("default --reports-quota %d, want 1024 (1 GiB)", o.ReportsQuotaMiB)
	}
	if o, code, msg := runServeFlags(t, "--acme", "--reports-quota", "200"); code != 0 || o.ReportsQuotaMiB != 200 {
		t.Errorf("--reports-quota 200: exit %d %s %+v", code, msg, o)
	}
	if o, code, msg := runServeFlags(t, "--acme", "--metrics-listen", "127.0.0.1:9465"); code != 0 || o.MetricsListen != "127.0.0.1:9465" {
		t.Errorf("--metrics-listen: exit %d %s %+v", code, msg, o)
	}
	o.ReportsDir, o.ACMEDir = "", ""
	if d, _ := o.dirs(); d.reports != "/srv/state/reports" || d.acme != "/srv/state/acme" {
		t.Errorf("default dirs %+v", d)
	}
	for _, bad := range [][]string{
		{},                      // no certificates
		{"--tls-cert", "a.crt"}, // no key
		{"--acme", "--tls-cert", "a", "--tls-key", "b"}, // both
		{"--tls-cert", "a", "--tls-key", "b", "--acme-ca", "https://x/dir"},
		{"--tls-cert", "a", "--tls-key", "b", "--listen", "443"},
		{"--tls-cert", "a", "--tls-key", "b", "--rua-path", "tlsrpt"},
		{"--acme", "extra-arg"},
		{"--acme", "--reports-quota", "0"},
		{"--acme", "--reports-quota", "-5"},
		{"--acme", "--metrics-listen", "9464"},
	} {
		if o, code, _ := runServeFlags(t, bad...); code != exitUsage || o != nil {
			t.Errorf("serve %q: exit %d, want %d (usage) without running", bad, code, exitUsage)
		}
	}
}
