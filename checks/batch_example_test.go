package checks_test

import (
	"context"
	"fmt"
	"time"

	"github.com/stspilot/stspilot/checks"
)

// Batch yields every input's report in input order, however the checks
// finish; an input that is not a domain gets an error report instead of a
// check.
func ExampleBatch() {
	fake := func(_ context.Context, domain string) *checks.Report {
		return &checks.Report{Domain: domain, Stage: "testing"}
	}
	inputs := checks.Inputs("example.com", "Example.ORG.", "not a domain")
	for r, err := range checks.Batch(context.Background(), inputs, checks.BatchOptions{
		Concurrency: 2,
		Check:       fake,
		Now:         func() time.Time { return time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC) },
	}) {
		if err != nil { // the input's read error, or the context's
			fmt.Println("stopped:", err)
			break
		}
		if r.Report.Error != "" {
			fmt.Printf("%d %q: %s\n", r.Index, r.Input.Text, r.Report.Error)
			continue
		}
		fmt.Printf("%d %s (typed %q): %s\n", r.Index, r.Report.Domain, r.Report.Input, r.Report.Stage)
	}
	// Output:
	// 0 example.com (typed ""): testing
	// 1 example.org (typed "Example.ORG."): testing
	// 2 "not a domain": invalid domain name "not a domain": contains a space, slash or colon
}
