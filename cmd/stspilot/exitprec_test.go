package main

import (
	"strconv"
	"strings"
	"testing"
)

// The precedence names every exit code of the table, so that no code is
// left without a rank when a new one is added.
func TestExitCodePrecedenceListsEveryCode(t *testing.T) {
	for _, r := range exitCodeTable {
		if !strings.Contains(exitCodePrecedence, strconv.Itoa(r.Code)+" (") {
			t.Errorf("exitCodePrecedence does not rank exit code %d", r.Code)
		}
	}
}
