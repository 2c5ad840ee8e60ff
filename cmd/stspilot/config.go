package main

import (
	"errors"
	"io/fs"

	"github.com/spf13/cobra"

	"github.com/stspilot/stspilot/internal/envfile"
	"github.com/stspilot/stspilot/internal/xdg"
	"github.com/stspilot/stspilot/workflow/journal"
)

// The config file holds defaults for the workflow commands, one
// `key = value` a line (# comments): ladder, provider, publish, state-dir,
// zone, ttl, rua, reports (a TLS-RPT report path for the evidence gate of
// promote and plan), access_log (serve's access log, which serve writes and
// status reads). Precedence: a flag, then what the domain's journal
// remembers (provider, publish, ladder), then this file, then the built-in
// defaults. It holds no secrets (they go in the credentials file).
var configKeys = map[string]bool{"ladder": true, "provider": true, "publish": true, "state-dir": true, "zone": true, "ttl": true, "rua": true, "reports": true, "access_log": true}

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
// It must be a regular file (a symbolic link to one is fine) or a
// character device (--config /dev/null: no config); a FIFO, socket or
// directory is refused before it is opened. A file that sets publish =
// exec:CMD, a command stspilot will run, must besides be trusted
// (trustExec).
func loadConfig(path string, explicit bool) (map[string]string, error) {
	if path == "" {
		return nil, nil
	}
	var st fs.FileInfo
	data, err := envfile.ReadFile(path, envfile.ReadOptions{Max: maxConfigFile, Devices: true, Check: func(fi fs.FileInfo) error {
		st = fi
		return nil
	}})
	switch {
	case errors.Is(err, fs.ErrNotExist) && !explicit:
		return nil, nil
	case errors.Is(err, envfile.ErrNotRegular):
		return nil, usageErrorf("config file %s is not a regular file", path)
	case errors.Is(err, envfile.ErrTooLarge):
		return nil, usageErrorf("config file %s is larger than %d bytes", path, maxConfigFile)
	case err != nil:
		return nil, usageErrorf("config file: %v", err)
	}
	cfg, err := parseConfig(path, data)
	if err != nil {
		return nil, err
	}
	if journal.KeptPublish(cfg["publish"]) == journal.PublishExec {
		if err := trustExec(path, st); err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

// trustExec refuses a config file that sets an exec publisher unless it is
// a regular file owned by the running user or root that neither group nor
// others may write: anyone else who can change it could choose the command
// stspilot runs, with the user's rights and environment.
func trustExec(path string, st fs.FileInfo) error {
	const why = "sets publish = exec:..., a command stspilot runs; stspilot takes a command only from a config file that is yours (or root's) and that group and others cannot write"
	var oe *envfile.OwnerError
	err := envfile.CheckTrusted(st)
	switch {
	case !st.Mode().IsRegular():
		return usageErrorf("config file %s %s, and it is not a regular file", path, why)
	case errors.As(err, &oe):
		return usageErrorf("config file %s %s; it is owned by uid %d", path, why, oe.UID)
	case errors.Is(err, envfile.ErrWritable):
		return usageErrorf("config file %s %s; it has mode %04o (chmod go-w %s)", path, why, st.Mode().Perm(), path)
	case err != nil:
		return usageErrorf("config file %s %s: %v", path, why, err)
	}
	return nil
}

// configSyntax: the keys of configKeys, no "export ". The file holds no
// secrets, so an unknown key is named in the error.
var configSyntax = envfile.Syntax{
	Key:     func(k string) bool { return configKeys[k] },
	Want:    "KEY = VALUE with KEY one of ladder, provider, publish, state-dir, zone, ttl, rua, reports, access_log",
	NameKey: true,
}

func parseConfig(path string, data []byte) (map[string]string, error) {
	out, err := envfile.Parse(data, configSyntax)
	var le *envfile.LineError
	switch {
	case errors.As(err, &le):
		return nil, usageErrorf("config file %s, %v", path, le)
	case err != nil:
		return nil, usageErrorf("config file %s: %v", path, err)
	}
	return out, nil
}

// applyConfig fills the flags of cmd that were not given from cfg, except
// provider, publish and ladder, which the journal's values beat (newEngine
// reads them from CommonOptions.Config).
func applyConfig(cmd *cobra.Command, cfg map[string]string) error {
	for k, v := range cfg {
		switch k {
		case "provider", "publish", "ladder", "access_log":
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
