package workflow

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/stspilot/stspilot/internal/txtrecord"
)

// TestRecordsThroughTheModel: the engine builds the records it writes with
// txtrecord and keeps their values typed. The rua the operator gives is
// checked like the rua field of a record (RPT-REC-3/4) and written in the
// canonical form; the id record is "v=STSv1; id=<id>;" (STS-TXT-8); what
// lands in DNS reads back to the same values; a ';' in the rua cannot
// smuggle a field into the record.
func TestRecordsThroughTheModel(t *testing.T) {
	h := newHarness(t, hopts{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rua := []string{"mailto:a@example.test", "https://r.example.test/tlsrpt"}
	req := Request{Workflow: Rollout, Domain: tDomain, RUA: " mailto:a@example.test , https://r.example.test/tlsrpt"}
	p, err := h.e.Plan(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.RUA, rua) {
		t.Errorf("plan RUA = %q, want %q", p.RUA, rua)
	}
	var rpt, sts *Step
	for i, s := range p.Steps {
		switch s.Kind {
		case StepSetTLSRPT:
			rpt = &p.Steps[i]
		case StepSetSTS:
			sts = &p.Steps[i]
		}
	}
	if rpt == nil || rpt.After != "v=TLSRPTv1; rua=mailto:a@example.test,https://r.example.test/tlsrpt" || rpt.Name != "_smtp._tls."+tDomain {
		t.Fatalf("set-tlsrpt step: %+v", rpt)
	}
	if sts == nil || sts.After != "v=STSv1; id="+p.Target.ID+";" || sts.Name != "_mta-sts."+tDomain {
		t.Fatalf("set-sts step: %+v", sts)
	}

	for _, bad := range []string{"mailto:a@example.test; x=y", "mailto:a@example.test;x=y", "http://r.example.test/", "mailto:a@example.test,,"} {
		if _, err := h.e.Plan(ctx, Request{Workflow: Rollout, Domain: tDomain, RUA: bad}); !errors.Is(err, ErrUsage) {
			t.Errorf("rua %q: err = %v, want a usage error", bad, err)
		}
	}

	out, _ := h.apply(Request{Workflow: Rollout, RUA: req.RUA}, ApplyOptions{Wait: time.Minute})
	if out.Status != StatusDone {
		t.Fatalf("rollout: %+v", out)
	}
	vals := h.txt("_smtp._tls")
	if len(vals) != 1 {
		t.Fatalf("_smtp._tls holds %q", vals)
	}
	if r, err := txtrecord.ParseTLSRPT(vals[0]); err != nil || !slices.Equal(r.RUA, rua) {
		t.Errorf("_smtp._tls %q reads back as %+v, %v", vals[0], r, err)
	}
	vals = h.txt("_mta-sts")
	if len(vals) != 1 {
		t.Fatalf("_mta-sts holds %q", vals)
	}
	if r, err := txtrecord.ParseSTS(vals[0]); err != nil || !idRE.MatchString(r.ID) || vals[0] != (txtrecord.STSRecord{ID: r.ID}).String() {
		t.Errorf("_mta-sts %q reads back as %+v, %v", vals[0], r, err)
	}
}
