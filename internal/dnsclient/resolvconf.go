package dnsclient

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

// DefaultResolvConf is the file ReadResolvConf reads when given "".
const DefaultResolvConf = "/etc/resolv.conf"

// MaxResolvConf caps how much of a resolv.conf ReadResolvConf reads: a
// larger file is refused rather than read in part.
const MaxResolvConf = 64 << 10

// ErrNoServers means there is no DNS server to ask (a resolv.conf names none
// that is usable, or a caller was given none).
var ErrNoServers = errors.New("no DNS servers")

// ResolvConf is what a resolv.conf says about the system's resolvers: the
// nameservers, and the C library's "options timeout:N attempts:N".
type ResolvConf struct {
	// Servers are the nameserver addresses, as [ParseResolvConf] returns
	// them.
	Servers []string
	// Timeout is how long one try waits for a reply (options timeout:N,
	// bounded to MinTimeout..MaxTimeout); 0 when the file does not say.
	Timeout time.Duration
	// Attempts is how many times a query is sent to a server that does not
	// answer (options attempts:N, bounded to 1..MaxAttempts); 0 when the
	// file does not say.
	Attempts int
}

// The bounds the C library puts on "options timeout:N" (RES_MAXRETRANS,
// in seconds) and "options attempts:N" (RES_MAXRETRY).
const (
	MinTimeout  = 1 * time.Second
	MaxTimeout  = 30 * time.Second
	MaxAttempts = 5
)

// Tries is how many times to send a query to a server: Attempts, or the
// package's Tries when the file does not say.
func (c ResolvConf) Tries() int {
	if c.Attempts > 0 {
		return c.Attempts
	}
	return Tries
}

// ExchangeTimeout is the timeout of a whole [ExchangeTries] with Tries
// tries of Timeout each; 0 (the caller's default) when the file sets no
// timeout.
func (c ResolvConf) ExchangeTimeout() time.Duration {
	if c.Timeout <= 0 {
		return 0
	}
	return c.Timeout * time.Duration(c.Tries())
}

// ReadResolvConf reads the nameserver lines of a resolv.conf file (path, or
// DefaultResolvConf when path is "") and returns them as [ParseResolvConf]
// does. It fails with an error wrapping ErrNoServers when no usable
// nameserver remains, and when the file is larger than MaxResolvConf.
func ReadResolvConf(path string) ([]string, error) {
	c, err := ReadResolvConfOptions(path)
	return c.Servers, err
}

// ReadResolvConfOptions reads a resolv.conf file as ReadResolvConf does,
// and its timeout and attempts options as [ParseResolvConfOptions] does.
func ReadResolvConfOptions(path string) (ResolvConf, error) {
	if path == "" {
		path = DefaultResolvConf
	}
	f, err := os.Open(path)
	if err != nil {
		return ResolvConf{}, err // *fs.PathError names the file
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxResolvConf+1))
	if err != nil {
		return ResolvConf{}, fmt.Errorf("%s: %w", path, err)
	}
	if len(data) > MaxResolvConf {
		return ResolvConf{}, fmt.Errorf("%s: larger than %d bytes", path, MaxResolvConf)
	}
	c := ParseResolvConfOptions(string(data))
	if len(c.Servers) == 0 {
		return ResolvConf{}, fmt.Errorf("%s: %w: no usable nameserver line", path, ErrNoServers)
	}
	return c, nil
}

// ParseResolvConf returns the nameserver addresses of a resolv.conf, as
// [ParseServer] normalises them (IP:PORT, port 53, IPv6 in brackets, a
// link-local zone kept), in file order and without duplicates. Comment
// lines (# or ;), trailing comments and entries that are not IP addresses
// are skipped, as the C library does.
func ParseResolvConf(data string) []string {
	return ParseResolvConfOptions(data).Servers
}

// ParseResolvConfOptions returns the nameservers of a resolv.conf as
// [ParseResolvConf] does, and the "timeout:N" and "attempts:N" of its
// options lines, the last one winning, as the C library reads them: N is
// a decimal integer, clamped to the library's bounds (a huge N to the
// maximum, 0 or a negative N to the minimum); an option whose N is not an
// integer is ignored, as are the other options (rotate, edns0, ndots:N...).
// The RES_OPTIONS environment variable is not read.
func ParseResolvConfOptions(data string) ResolvConf {
	var c ResolvConf
	for line := range strings.Lines(data) {
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue // also skips comment lines, which start with # or ;
		}
		switch fields[0] {
		case "nameserver":
			value := fields[1]
			if i := strings.IndexAny(value, "#;"); i >= 0 {
				value = value[:i]
			}
			s, err := ParseServer(value)
			if err != nil {
				continue
			}
			if !slices.Contains(c.Servers, s) {
				c.Servers = append(c.Servers, s)
			}
		case "options":
			for _, o := range fields[1:] {
				if o[0] == '#' || o[0] == ';' {
					break // a trailing comment
				}
				if v, ok := strings.CutPrefix(o, "timeout:"); ok {
					if n, ok := boundedInt(v, 1, int(MaxTimeout/time.Second)); ok {
						c.Timeout = time.Duration(n) * time.Second
					}
				} else if v, ok := strings.CutPrefix(o, "attempts:"); ok {
					if n, ok := boundedInt(v, 1, MaxAttempts); ok {
						c.Attempts = n
					}
				}
			}
		}
	}
	return c
}

// boundedInt parses s, an optionally signed decimal integer of any size,
// and clamps it to lo..hi; ok is false when s is not such an integer.
func boundedInt(s string, lo, hi int) (n int, ok bool) {
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if n <= hi { // beyond hi, the value is hi whatever follows
			n = n*10 + int(c-'0')
		}
	}
	switch {
	case neg || n < lo:
		return lo, true
	case n > hi:
		return hi, true
	}
	return n, true
}
