package mtasts

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// Render returns policy bytes that the strictest known parsers accept
// (docs/design.md invariant 7): "version: STSv1" first, then mode, then one
// "mx: " line per pattern, then "max_age: N", then the extensions; CRLF
// after every line, the last one included; no blank lines, no comments.
//
// It returns an error if the policy is not valid: a Version other than
// "STSv1" (an empty Version means "STSv1"), a bad mode, max_age outside 0 to
// 31557600, an invalid pattern, no mx for enforce or testing, or an extension
// that some implementation would trip on (a malformed or reserved key, a
// repeated key, an empty value, a value with ':', or anything but printable
// ASCII, since pmsr decodes bodies without a charset as ASCII).
func Render(p Policy) ([]byte, error) {
	var errs []error
	if p.Version != "" && p.Version != "STSv1" {
		errs = append(errs, fmt.Errorf("STS-POL-7: version %s must be \"STSv1\"", q(p.Version)))
	}
	if !p.Mode.Valid() {
		errs = append(errs, fmt.Errorf("STS-POL-8: mode %s is not one of enforce, testing or none", q(string(p.Mode))))
	}
	if p.MaxAge < 0 || p.MaxAge > MaxMaxAge {
		errs = append(errs, fmt.Errorf("STS-POL-9: max_age %d is outside 0 to %d", p.MaxAge, MaxMaxAge))
	}
	if len(p.MX) == 0 && p.Mode != ModeNone {
		errs = append(errs, fmt.Errorf("STS-POL-6: mode %s needs at least one mx pattern", q(string(p.Mode))))
	}
	for _, m := range p.MX {
		if err := ValidatePattern(m); err != nil {
			errs = append(errs, err)
		}
	}
	seen := map[string]bool{}
	for _, e := range p.Extensions {
		if err := renderableExtension(e); err != nil {
			errs = append(errs, err)
		}
		if seen[e.Name] {
			errs = append(errs, fmt.Errorf("STS-POL-14: extension %s repeats", q(e.Name)))
		}
		seen[e.Name] = true
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	var b bytes.Buffer
	line := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	line("version", "STSv1")
	line("mode", string(p.Mode))
	for _, m := range p.MX {
		line("mx", m)
	}
	line("max_age", strconv.FormatInt(p.MaxAge, 10))
	for _, e := range p.Extensions {
		line(e.Name, e.Value)
	}
	return b.Bytes(), nil
}

func renderableExtension(e Field) error {
	switch {
	case !validExtName(e.Name):
		return fmt.Errorf("STS-POL-13: extension key %s is malformed", q(e.Name))
	case knownKeys[asciiLower(e.Name)]:
		return fmt.Errorf("STS-POL-13: extension key %s is a policy key", q(e.Name))
	case e.Value == "":
		return fmt.Errorf("STS-POL-13: extension %s has an empty value", q(e.Name))
	case e.Value[0] == ' ' || e.Value[len(e.Value)-1] == ' ':
		return fmt.Errorf("STS-POL-13: extension %s value %s starts or ends with a space", q(e.Name), q(e.Value))
	}
	for i := 0; i < len(e.Value); i++ {
		switch c := e.Value[i]; {
		case c == ':':
			return fmt.Errorf("STS-POL-4: extension %s value %s contains ':', which go-mtasts rejects", q(e.Name), q(e.Value))
		case c < 0x20 || c > 0x7e:
			return fmt.Errorf("STS-POL-13: extension %s value %s is not printable ASCII", q(e.Name), q(e.Value))
		}
	}
	return nil
}
