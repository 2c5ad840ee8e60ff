package main

import (
	"context"
	"strings"
	"testing"

	"github.com/stspilot/stspilot/internal/domainname"
)

// The tests of issue 15's command-line part ("the first ten minutes"):
// what a newcomer types first, and what it says back.

// realNormalize runs args through the command tree with the real
// domain-name validation (domainname.Normalize) and a fake checker.
func realNormalize(t *testing.T, fc *fakeChecker, stdin string, args ...string) (int, string, string) {
	t.Helper()
	f, out, errOut := testFactory(stdin, fc)
	f.Normalize = domainname.Normalize
	code := execute(context.Background(), f, args)
	return code, out.String(), errOut.String()
}

// TestDomainIsIPAddress: an IP address typed as the domain is a usage
// error (exit 2) before anything is checked; on a line of -f FILE it is an
// error object for that line while the other lines are checked.
func TestDomainIsIPAddress(t *testing.T) {
	for _, ip := range []string{"192.0.2.1", "2001:db8::1", "[2001:db8::1]"} {
		fc := &fakeChecker{}
		code, out, errOut := realNormalize(t, fc, "", "check", ip)
		if code != exitUsage || !strings.Contains(errOut, "an IP address, not a domain name") || out != "" || len(fc.Calls()) != 0 {
			t.Errorf("check %s: exit %d, stdout %q, stderr %q, checked %q", ip, code, out, errOut, fc.Calls())
		}
	}
	for _, args := range [][]string{{"status", "192.0.2.1"}, {"rollout", "192.0.2.1", "--yes"}, {"plan", "rollout", "192.0.2.1"}} {
		code, _, errOut := realNormalize(t, &fakeChecker{}, "", args...)
		if code != exitUsage || !strings.Contains(errOut, "an IP address") {
			t.Errorf("%q: exit %d, %q", args, code, errOut)
		}
	}
	fc := &fakeChecker{}
	code, out, errOut := realNormalize(t, fc, "one.example\n192.0.2.1\ntwo.example\n", "check", "--json", "-f", "-")
	if code != exitFailure {
		t.Fatalf("-f with an IP line: exit %d, want 1; %s", code, errOut)
	}
	if got := fc.Calls(); len(got) != 2 {
		t.Errorf("checked %q, want the two domains", got)
	}
	reps := decodeLines(t, out)
	if len(reps) != 3 || reps[1].Domain != "192.0.2.1" || !strings.Contains(reps[1].Error, "stdin:2") || !strings.Contains(reps[1].Error, "an IP address") {
		t.Errorf("reports %+v", reps)
	}
}
