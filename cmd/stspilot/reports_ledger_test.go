package main

import (
	"testing"

	"github.com/stspilot/stspilot/workflow/journal"
)

// TestReportPolicyIDFromTheLedger: a policy whose journal entries moved
// to the archive is still named by its id: the ledger keeps it.
func TestReportPolicyIDFromTheLedger(t *testing.T) {
	j, _ := journal.New("example.com")
	text := "version: STSv1\nmode: enforce\nmx: mx1.example.com\nmax_age: 604800\n"
	j.Ledger = []journal.LedgerPolicy{
		{Hash: journal.PolicyHash(text), ID: "old1", PolicyTerms: journal.PolicyTerms{Mode: "enforce", MaxAge: 604800, MX: []string{"mx1.example.com"}}},
		{Hash: journal.PolicyHash("x"), ID: "new1", PolicyTerms: journal.PolicyTerms{Mode: "testing", MaxAge: 86400, MX: []string{"mx1.example.com"}}},
	}
	j.Archive = &journal.Archive{Entries: 40, LastID: 40}
	if id := journalPolicyID(j, []string{"version: STSv1", "mode: enforce", "mx: MX1.example.com.", "max_age: 604800"}); id != "old1" {
		t.Errorf("id %q, want old1 from the ledger", id)
	}
	if id := journalPolicyID(j, []string{"version: STSv1", "mode: enforce", "mx: mx2.example.com", "max_age: 604800"}); id != "" {
		t.Errorf("id %q for a policy stspilot never published", id)
	}
}
