// Package xdg finds the base directories of the XDG Base Directory
// Specification that stspilot uses: the config home (the config and
// credentials files) and the state home (journals, serve's state).
//
// The rule, for both: the XDG variable when it holds an absolute path; a
// relative or empty one is ignored, as the specification requires; else
// the fallback under the home directory ($HOME/.config, $HOME/.local/state).
package xdg

import (
	"errors"
	"os"
	"path/filepath"
)

// App is the directory stspilot's files live in under each base directory.
const App = "stspilot"

// ErrNoHome is returned when the XDG variable is unusable and there is no
// home directory to fall back on.
var ErrNoHome = errors.New("no home directory")

// Getenv looks up an environment variable (os.Getenv, or a fake in tests).
type Getenv func(string) string

// ConfigHome is $XDG_CONFIG_HOME, else $HOME/.config (see the package
// rule). A nil getenv means the process environment.
func ConfigHome(getenv Getenv) (string, error) {
	return base(getenv, "XDG_CONFIG_HOME", ".config")
}

// StateHome is $XDG_STATE_HOME, else $HOME/.local/state (see the package
// rule). A nil getenv means the process environment.
func StateHome(getenv Getenv) (string, error) {
	return base(getenv, "XDG_STATE_HOME", filepath.Join(".local", "state"))
}

// ConfigFile is name in stspilot's config directory
// (ConfigHome/stspilot/name).
func ConfigFile(getenv Getenv, name string) (string, error) {
	d, err := ConfigHome(getenv)
	if err != nil {
		return "", err
	}
	return filepath.Join(d, App, name), nil
}

// StateDir is stspilot's state directory (StateHome/stspilot).
func StateDir(getenv Getenv) (string, error) {
	d, err := StateHome(getenv)
	if err != nil {
		return "", err
	}
	return filepath.Join(d, App), nil
}

func base(getenv Getenv, variable, fallback string) (string, error) {
	home := func() string {
		if getenv != nil {
			return getenv("HOME")
		}
		h, _ := os.UserHomeDir()
		return h
	}
	if getenv == nil {
		getenv = os.Getenv
	}
	if d := getenv(variable); d != "" && filepath.IsAbs(d) {
		return filepath.Clean(d), nil
	}
	h := home()
	if h == "" {
		return "", ErrNoHome
	}
	return filepath.Join(h, fallback), nil
}
