package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stspilot/stspilot/internal/xdg"
)

// The config file holds defaults for the workflow commands, one
// `key = value` a line (# comments): ladder, provider, publish, state-dir,
// zone, ttl, rua, reports (a TLS-RPT report path for the evidence gate of
// promote and plan). Precedence: a flag, then what the domain's journal
// remembers (provider, publish, ladder), then this file, then the built-in
// defaults. It holds no secrets (they go in the credentials file).
var configKeys = map[string]bool{"ladder": true, "provider": true, "publish": true, "state-dir": true, "zone": true, "ttl": true, "rua": true, "reports": true}

const maxConfigFile = 64 << 10

// defaultConfigPath is $XDG_CONFIG_HOME/stspilot/config or
// ~/.config/stspilot/config (xdg.ConfigFile), "" without a home directory.
func defaultConfigPath() string {
	p, _ := xdg.ConfigFile(nil, "config")
	return p
}

// defaultCredentialsPath is $XDG_CONFIG_HOME/stspilot/credentials or
// ~/.config/stspilot/credentials (xdg.ConfigFile) in the environment of
// getenv, "" without a home directory.
func defaultCredentialsPath(getenv xdg.Getenv) string {
	p, _ := xdg.ConfigFile(getenv, "credentials")
	return p
}

// loadConfig reads the config file; a missing default file is no config.
// explicit says the path came from --config, where missing is an error.
func loadConfig(path string, explicit bool) (map[string]string, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) && !explicit {
		return nil, nil
	}
	if err != nil {
		return nil, usageErrorf("config file: %v", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigFile+1))
	if err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	if len(data) > maxConfigFile {
		return nil, usageErrorf("config file %s is larger than %d bytes", path, maxConfigFile)
	}
	return parseConfig(path, data)
}

func parseConfig(path string, data []byte) (map[string]string, error) {
	if bytes.IndexByte(data, 0) >= 0 {
		return nil, usageErrorf("config file %s: binary content", path)
	}
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxConfigFile)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		k, v = strings.TrimSpace(k), strings.Trim(strings.TrimSpace(v), `"'`)
		if !ok || !configKeys[k] {
			return nil, usageErrorf("config file %s, line %d: want KEY = VALUE with KEY one of ladder, provider, publish, state-dir, zone, ttl, rua, reports", path, n)
		}
		if _, dup := out[k]; dup {
			return nil, usageErrorf("config file %s, line %d: %s is set twice", path, n, k)
		}
		out[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, usageErrorf("config file %s: %v", path, err)
	}
	return out, nil
}

// applyConfig fills the flags of cmd that were not given from cfg, except
// provider, publish and ladder, which the journal's values beat (they are
// kept in o.ConfigDefaults for newEngine).
func applyConfig(cmd *cobra.Command, o *WorkflowOptions, cfg map[string]string) error {
	o.ConfigDefaults = map[string]string{}
	for k, v := range cfg {
		switch k {
		case "provider", "publish", "ladder":
			o.ConfigDefaults[k] = v
			continue
		}
		fl := cmd.Flags().Lookup(k)
		if fl == nil || fl.Changed {
			continue
		}
		if err := fl.Value.Set(v); err != nil {
			return usageErrorf("config file: %s = %q: %v", k, v, err)
		}
	}
	return nil
}
