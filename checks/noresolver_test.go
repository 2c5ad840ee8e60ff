package checks

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoResolverCause: with no resolver given and a system resolv.conf
// that names none, the report is not checked and carries the typed cause
// (front ends say how to give one; the report's text names no flag).
func TestNoResolverCause(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(empty, []byte("# no nameserver lines\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	old := resolvConf
	resolvConf = empty
	t.Cleanup(func() { resolvConf = old })

	rep := Run(context.Background(), "example.test", Options{})
	if rep.Error == "" || !errors.Is(rep.Cause, ErrNoResolver) {
		t.Fatalf("report error %q, cause %v: want ErrNoResolver", rep.Error, rep.Cause)
	}
	if strings.Contains(rep.Error, "--") {
		t.Errorf("the report's error names a flag: %q", rep.Error)
	}
}
