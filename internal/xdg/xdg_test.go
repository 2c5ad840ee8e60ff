package xdg

import (
	"errors"
	"testing"
)

func env(m map[string]string) Getenv {
	return func(k string) string { return m[k] }
}

func TestRule(t *testing.T) {
	tests := []struct {
		name        string
		env         map[string]string
		config      string
		state       string
		credentials string
		stateDir    string
	}{
		{
			"absolute XDG wins",
			map[string]string{"HOME": "/home/op", "XDG_CONFIG_HOME": "/etc/xdg", "XDG_STATE_HOME": "/var/lib/xdg"},
			"/etc/xdg", "/var/lib/xdg", "/etc/xdg/stspilot/credentials", "/var/lib/xdg/stspilot",
		},
		{
			"unset XDG falls back to HOME",
			map[string]string{"HOME": "/home/op"},
			"/home/op/.config", "/home/op/.local/state", "/home/op/.config/stspilot/credentials", "/home/op/.local/state/stspilot",
		},
		{
			"relative XDG is ignored",
			map[string]string{"HOME": "/home/op", "XDG_CONFIG_HOME": "cfg", "XDG_STATE_HOME": "relative/ignored"},
			"/home/op/.config", "/home/op/.local/state", "/home/op/.config/stspilot/credentials", "/home/op/.local/state/stspilot",
		},
		{
			"XDG without HOME",
			map[string]string{"XDG_CONFIG_HOME": "/c/", "XDG_STATE_HOME": "/s"},
			"/c", "/s", "/c/stspilot/credentials", "/s/stspilot",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := env(tt.env)
			if d, err := ConfigHome(g); err != nil || d != tt.config {
				t.Errorf("ConfigHome = %q, %v; want %q", d, err, tt.config)
			}
			if d, err := StateHome(g); err != nil || d != tt.state {
				t.Errorf("StateHome = %q, %v; want %q", d, err, tt.state)
			}
			if d, err := ConfigFile(g, "credentials"); err != nil || d != tt.credentials {
				t.Errorf("ConfigFile = %q, %v; want %q", d, err, tt.credentials)
			}
			if d, err := StateDir(g); err != nil || d != tt.stateDir {
				t.Errorf("StateDir = %q, %v; want %q", d, err, tt.stateDir)
			}
		})
	}
}

func TestNoHome(t *testing.T) {
	g := env(map[string]string{"XDG_CONFIG_HOME": "relative"})
	for name, f := range map[string]func(Getenv) (string, error){"ConfigHome": ConfigHome, "StateHome": StateHome, "StateDir": StateDir} {
		if d, err := f(g); !errors.Is(err, ErrNoHome) || d != "" {
			t.Errorf("%s without HOME = %q, %v; want ErrNoHome", name, d, err)
		}
	}
	if d, err := ConfigFile(g, "config"); !errors.Is(err, ErrNoHome) || d != "" {
		t.Errorf("ConfigFile without HOME = %q, %v", d, err)
	}
}

// A nil Getenv reads the process environment.
func TestProcessEnvironment(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", "/var/lib/xdg")
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv("HOME", "/home/op")
	if d, err := StateDir(nil); err != nil || d != "/var/lib/xdg/stspilot" {
		t.Errorf("StateDir(nil) = %q, %v", d, err)
	}
	if d, err := ConfigFile(nil, "config"); err != nil || d != "/home/op/.config/stspilot/config" {
		t.Errorf("ConfigFile(nil) = %q, %v", d, err)
	}
}
