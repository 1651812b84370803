package record_test

import (
	"testing"

	"github.com/enrollhook/enrollhook/pkg/record"
)

func TestStanding(t *testing.T) {
	rs := []record.Record{
		{ID: "a1", Action: record.ActionApply, State: record.StateApplied},
		{ID: "a2", Action: record.ActionApply, State: record.StateApplied},
		{ID: "s3", Action: record.ActionApply, State: record.StateScheduled},
		{ID: "r1", Action: record.ActionRevert, Reverts: "a1", State: record.StateApplied},
		{ID: "a4", Action: record.ActionApply, State: record.StateApplied},
	}
	ids := func(rs []record.Record) (out []string) {
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}
	if got := ids(record.Standing(rs, true)); len(got) != 2 || got[0] != "a4" || got[1] != "a2" {
		t.Errorf("Standing(apply) = %v, want [a4 a2]: latest first, without the reverted a1 or the scheduled s3", got)
	}
	if got := ids(record.Standing(rs, false)); len(got) != 3 || got[1] != "r1" {
		t.Errorf("Standing(any) = %v, want [a4 r1 a2]", got)
	}
	// The revert of the revert: r1 is put back, so a1 stands again only
	// through r2's own record, and r1 no longer stands.
	rs = append(rs, record.Record{ID: "r2", Action: record.ActionRevert, Reverts: "r1", State: record.StateApplied})
	if got := ids(record.Standing(rs, false)); len(got) != 3 || got[0] != "r2" || got[1] != "a4" || got[2] != "a2" {
		t.Errorf("after reverting the revert, Standing(any) = %v, want [r2 a4 a2]", got)
	}
	// The ticket's revert now undoes the change of a1 again (r2) with a4
	// and a2.
	if got := ids(record.Standing(rs, true)); len(got) != 3 || got[0] != "r2" {
		t.Errorf("after reverting the revert, Standing(applying) = %v, want [r2 a4 a2]", got)
	}
	if by, ok := record.RevertedBy(rs, "a1"); !ok || by.ID != "r1" {
		t.Errorf("RevertedBy(a1) = %v, %v", by.ID, ok)
	}
	if _, ok := record.RevertedBy(rs, "a2"); ok {
		t.Error("a2 reported reverted")
	}
}
