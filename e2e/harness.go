package e2e

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
)

// Env is the world's world.env: WORLD_DIR, WORLD_DNS (host:port),
// WORLD_CA, WORLD_TSIG_NAME, WORLD_TSIG_SECRET and the other WORLD_* values
// written by `e2e/world up`.
type Env map[string]string

// maxEnvSize caps how much of an env file is read.
const maxEnvSize = 1 << 20

// LoadEnv reads a KEY=VALUE file as written by `e2e/world up`: one assignment
// per line, blank lines and lines starting with # ignored, no quoting. It
// requires the keys every test needs.
func LoadEnv(path string) (Env, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	env, err := parseEnv(io.LimitReader(f, maxEnvSize))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var missing []string
	for _, k := range []string{"WORLD_DIR", "WORLD_ZONE", "WORLD_DNS", "WORLD_CA", "WORLD_TSIG_NAME", "WORLD_TSIG_ALG", "WORLD_TSIG_SECRET"} {
		if env[k] == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s: missing %s", path, strings.Join(missing, ", "))
	}
	return env, nil
}

func parseEnv(r io.Reader) (Env, error) {
	env := Env{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return nil, fmt.Errorf("line %d: not KEY=VALUE: %q", n, line)
		}
		env[k] = v
	}
	return env, sc.Err()
}
