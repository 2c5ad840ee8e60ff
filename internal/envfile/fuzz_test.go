package envfile

import (
	"regexp"
	"strings"
	"testing"
)

// allowedErr is every error Parse may return: they name a line
// and at most a variable, never a value.
var allowedErr = regexp.MustCompile(`^(binary content \(NUL byte\)|line \d+: (want NAME=value|unterminated quote in the value of [A-Za-z_][A-Za-z0-9_]*|[A-Za-z_][A-Za-z0-9_]* is set twice)|bufio\.Scanner: token too long)$`)

var validName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// FuzzParse fuzzes the credentials file's syntax: names of environment
// variables, an optional "export ".
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"",
		"A=1\n",
		"# c\n\nexport CLOUDFLARE_API_TOKEN='tok'\r\nB=\"x y\"\n",
		"A=1\nA=2\n",
		"A='x\n",
		"no equals\n",
		"A=\x00\n",
		"export =x\n",
		"  export   K  =  v  \n",
		"K=\"\n",
		"K=''\nL=\"\"\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		vals, err := Parse(data, Syntax{Export: true, Key: IsEnvName, Want: "NAME=value"})
		if err != nil {
			if !allowedErr.MatchString(err.Error()) {
				t.Fatalf("error %q is not one of the known forms (it may carry a value)", err)
			}
			return
		}
		for k, v := range vals {
			if !validName.MatchString(k) {
				t.Errorf("invalid variable name %q accepted", k)
			}
			if strings.ContainsAny(v, "\n\x00") {
				t.Errorf("value of %s holds a newline or NUL", k)
			}
			if !strings.Contains(string(data), v) {
				t.Errorf("value of %s is not from the input", k)
			}
		}
	})
}
