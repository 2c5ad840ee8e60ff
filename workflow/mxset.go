package workflow

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/stspilot/stspilot/dnsprovider"
	"github.com/stspilot/stspilot/internal/domainname"
)

// ErrNoMXSet says the target MX set given to ParseMXSet names no host.
var ErrNoMXSet = errors.New("the target MX set names no host")

// ParseMXSet reads the target MX set of mx-migrate, as typed: HOST[:PREF]
// separated by commas (in one value or several), preferences 10, 20, ...
// in the order given where left out. Every front end parses it here, so
// that the command line and the wizard accept the same text. Its errors
// quote the item and name no flag.
func ParseMXSet(vals []string) ([]dnsprovider.MX, error) {
	var out []dnsprovider.MX
	n := 0
	for _, v := range vals {
		for _, item := range strings.Split(v, ",") {
			item = strings.TrimSpace(item)
			if item == "" {
				continue
			}
			n++
			host, pref, hasPref := strings.Cut(item, ":")
			p := uint64(n * 10)
			if hasPref {
				var err error
				if p, err = strconv.ParseUint(pref, 10, 16); err != nil {
					return nil, fmt.Errorf("%q: the preference %q is not a number from 0 to 65535", item, pref)
				}
			}
			h, err := domainname.Normalize(host)
			if err != nil {
				return nil, fmt.Errorf("%q: %v", item, err)
			}
			if !strings.Contains(h, ".") {
				return nil, fmt.Errorf("%q: give the MX host's full name", item)
			}
			out = append(out, dnsprovider.MX{Pref: uint16(p), Host: h})
		}
	}
	if len(out) == 0 {
		return nil, ErrNoMXSet
	}
	return out, nil
}
