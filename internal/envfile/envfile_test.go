package envfile

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

var configKeys = map[string]bool{"ladder": true, "state-dir": true, "publish": true}

var (
	configSyntax = Syntax{Key: func(k string) bool { return configKeys[k] }, Want: "KEY = VALUE"}
	namedSyntax  = Syntax{Key: configSyntax.Key, Want: configSyntax.Want, NameKey: true}
)

func TestParseConfigStyle(t *testing.T) {
	data := "# defaults\r\n\n  ladder = testing@60:1m  \r\nstate-dir = '/tmp/x'\npublish = exec:echo \"hi\"\n"
	got, err := Parse([]byte(data), configSyntax)
	want := map[string]string{"ladder": "testing@60:1m", "state-dir": "/tmp/x", "publish": `exec:echo "hi"`}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("Parse = %v, %v; want %v", got, err, want)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		data string
		syn  Syntax
		line int
		msg  string
	}{
		{"ladder = a\nnonsense\n", configSyntax, 2, "want KEY = VALUE"},
		{"\n\ntoken = secret\n", configSyntax, 3, "want KEY = VALUE"},
		{"ladder = a\nladder = b\n", configSyntax, 2, "ladder is set twice"},
		{"ladder = 'a\n", configSyntax, 1, "unterminated quote in the value of ladder"},
		{"export ladder = a\n", configSyntax, 1, "want KEY = VALUE"}, // export only where the syntax allows it
		{"export A=1\n", Syntax{}, 1, "want NAME=value"},
		{"A=1\r\nmy-key=v\r\n", Syntax{Export: true}, 2, "want NAME=value"},
		// A file without secrets names the key it does not know, clipped;
		// a line without "=" still names nothing.
		{"ladder = a\nladdr = b\n", namedSyntax, 2, `unknown key "laddr"; want KEY = VALUE`},
		{"nonsense\n", namedSyntax, 1, "want KEY = VALUE"},
		{"= b\n", namedSyntax, 1, "want KEY = VALUE"},
		{strings.Repeat("x", 50) + "=1\n", namedSyntax, 1, `unknown key "` + strings.Repeat("x", 40) + `..."; want KEY = VALUE`},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.data), tt.syn)
		var le *LineError
		if !errors.As(err, &le) || le.Line != tt.line || le.Msg != tt.msg {
			t.Errorf("Parse(%q) = %v; want line %d: %s", tt.data, err, tt.line, tt.msg)
		}
	}
	if _, err := Parse([]byte("A=x\x00\n"), Syntax{}); !errors.Is(err, ErrBinary) {
		t.Errorf("NUL byte: %v", err)
	}
	if got, err := Parse([]byte("export A = 1"), Syntax{Export: true}); err != nil || got["A"] != "1" {
		t.Errorf("export and no final newline: %v, %v", got, err)
	}
}

func TestIsEnvName(t *testing.T) {
	for k, want := range map[string]bool{"A": true, "_a1": true, "CLOUDFLARE_API_TOKEN": true, "": false, "1A": false, "my-key": false, "A B": false, "É": false} {
		if IsEnvName(k) != want {
			t.Errorf("IsEnvName(%q) = %v", k, !want)
		}
	}
}
