package dnsclient

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// DefaultResolvConf is the file ReadResolvConf reads when given "".
const DefaultResolvConf = "/etc/resolv.conf"

// MaxResolvConf caps how much of a resolv.conf ReadResolvConf reads: a
// larger file is refused rather than read in part.
const MaxResolvConf = 64 << 10

// ErrNoServers means there is no DNS server to ask (a resolv.conf names none
// that is usable, or a caller was given none).
var ErrNoServers = errors.New("no DNS servers")

// ReadResolvConf reads the nameserver lines of a resolv.conf file (path, or
// DefaultResolvConf when path is "") and returns them as [ParseResolvConf]
// does. It fails with an error wrapping ErrNoServers when no usable
// nameserver remains, and when the file is larger than MaxResolvConf.
func ReadResolvConf(path string) ([]string, error) {
	if path == "" {
		path = DefaultResolvConf
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err // *fs.PathError names the file
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxResolvConf+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(data) > MaxResolvConf {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, MaxResolvConf)
	}
	servers := ParseResolvConf(string(data))
	if len(servers) == 0 {
		return nil, fmt.Errorf("%s: %w: no usable nameserver line", path, ErrNoServers)
	}
	return servers, nil
}

// ParseResolvConf returns the nameserver addresses of a resolv.conf, as
// [ParseServer] normalises them (IP:PORT, port 53, IPv6 in brackets, a
// link-local zone kept), in file order and without duplicates. Comment
// lines (# or ;), trailing comments and entries that are not IP addresses
// are skipped, as the C library does.
func ParseResolvConf(data string) []string {
	var servers []string
	for line := range strings.Lines(data) {
		fields := strings.Fields(line)
		if len(fields) < 2 || fields[0] != "nameserver" {
			continue // also skips comment lines, which start with # or ;
		}
		value := fields[1]
		if i := strings.IndexAny(value, "#;"); i >= 0 {
			value = value[:i]
		}
		s, err := ParseServer(value)
		if err != nil {
			continue
		}
		if !slices.Contains(servers, s) {
			servers = append(servers, s)
		}
	}
	return servers
}
