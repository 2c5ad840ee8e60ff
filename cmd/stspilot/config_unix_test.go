//go:build unix

package main

import (
	"path/filepath"
	"syscall"
	"testing"
)

// A config path that is a FIFO or a directory is a usage error at once
// (opening a FIFO would hang); /dev/null is an empty config.
func TestLoadConfigRefusesSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{fifo, dir} {
		for _, explicit := range []bool{true, false} {
			if cfg, err := loadConfig(p, explicit); err == nil || exitCode(err) != exitUsage {
				t.Errorf("loadConfig(%s, %v) = %v, %v; want a usage error", p, explicit, cfg, err)
			}
		}
	}
	if cfg, err := loadConfig("/dev/null", true); err != nil || len(cfg) != 0 {
		t.Errorf("loadConfig(/dev/null) = %v, %v", cfg, err)
	}
	if cfg, err := loadConfig(filepath.Join(dir, "missing"), false); err != nil || cfg != nil {
		t.Errorf("a missing default config: %v, %v", cfg, err)
	}
	if _, err := loadConfig(filepath.Join(dir, "missing"), true); exitCode(err) != exitUsage {
		t.Errorf("a missing --config: %v", err)
	}
}
