package workflow

import (
	"errors"
	"strings"
	"testing"
)

// TestParseMXSetNamesNoFlag: the wizard shows these errors as they are,
// so they quote the item and name no flag.
func TestParseMXSetNamesNoFlag(t *testing.T) {
	if _, err := ParseMXSet([]string{" , "}); !errors.Is(err, ErrNoMXSet) {
		t.Errorf("empty set: %v", err)
	}
	for _, bad := range []string{"mx:x", "mx.example:70000", "localhost", "a b.example"} {
		_, err := ParseMXSet([]string{bad})
		if err == nil || strings.Contains(err.Error(), "--") || !strings.Contains(err.Error(), bad) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
