package workflow

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/stspilot/stspilot/internal/atomicfile"
	"github.com/stspilot/stspilot/internal/domainname"
)

// ServeDir is the directory under the state directory where the serve
// publisher leaves policies for `stspilot serve`: STATE/serve/DOMAIN/mta-sts.txt.
const ServeDir = "serve"

// ServePolicyFile is the file name of a policy under ServeDir/DOMAIN.
const ServePolicyFile = "mta-sts.txt"

// ServePolicyPath is where the serve publisher writes the policy of the
// (normalised) domain in stateDir, and where `stspilot serve` reads it.
func ServePolicyPath(stateDir, domain string) (string, error) {
	d, err := domainname.Normalize(domain)
	if err != nil {
		return "", err
	}
	return filepath.Join(stateDir, ServeDir, d, ServePolicyFile), nil
}

// Serve hands the policy to the built-in host (`stspilot serve`) through
// the state directory. The files are world-readable (0644) in directories
// of mode 0755, so that serve may run as another user than the workflows;
// they hold nothing secret (the policy is public).
type Serve struct {
	// StateDir is the state directory, as an absolute path.
	StateDir string
}

func (s *Serve) Spec() string { return "serve" }

// Publish writes STATE/serve/DOMAIN/mta-sts.txt atomically; serve reads it
// on the next request.
func (s *Serve) Publish(ctx context.Context, domain string, policy []byte) (Published, error) {
	path, err := ServePolicyPath(s.StateDir, domain)
	out := Published{Where: path}
	if err != nil {
		return out, fmt.Errorf("serve publisher: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return out, err
	}
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, policy) {
		return out, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return out, fmt.Errorf("serve publisher: %w", err)
	}
	if err := atomicfile.Write(path, policy, 0o644); err != nil {
		return out, fmt.Errorf("serve publisher: %w", err)
	}
	out.Changed = true
	return out, nil
}

// Remove deletes the policy (and its now empty domain directory): serve
// answers 404 for the domain from then on. A missing file is not an error.
func (s *Serve) Remove(ctx context.Context, domain string) (Published, error) {
	path, err := ServePolicyPath(s.StateDir, domain)
	out := Published{Where: path}
	if err != nil {
		return out, fmt.Errorf("serve publisher: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return out, err
	}
	switch err := os.Remove(path); {
	case err == nil:
		out.Changed = true
		dir := filepath.Dir(path)
		_ = os.Remove(dir) // only if empty; a leftover directory is harmless
		return out, atomicfile.SyncDir(filepath.Dir(dir))
	case errors.Is(err, os.ErrNotExist):
		return out, nil
	default:
		return out, fmt.Errorf("serve publisher: %w", err)
	}
}
