package graphemu_test

import (
	"net/http"
	"testing"

	"github.com/enrollhook/enrollhook/pkg/graphemu"
)

// TestRenameOnAssign: with RenameOnAssign, a member sent with an existing id
// but another group comes back named after its new group; members whose
// group matches their id keep their ids; Options.RenameOnAssign starts the
// emulator renaming.
func TestRenameOnAssign(t *testing.T) {
	const newGroup = "33330000-0000-0000-0000-000000000033"
	body := `{"enrollmentConfigurationAssignments":[
	  {"id":"` + graphemu.AssignmentESPGroup + `","target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"` + newGroup + `"}},
	  {"id":"` + graphemu.AssignmentESPExclusion + `","target":{"@odata.type":"#microsoft.graph.exclusionGroupAssignmentTarget","groupId":"` + graphemu.GroupExcluded + `"}}
	]}`
	for _, tc := range []struct {
		name   string
		rename bool
		want   string
	}{
		{"off: the id is kept", false, graphemu.AssignmentESPGroup},
		{"on: named after the new group", true, espPrefix + newGroup},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil)
			h.emu.RenameOnAssign(tc.rename)
			if r := h.post(cfgPath("beta", graphemu.ConfigESP)+"/assign", body); r.status != http.StatusNoContent {
				t.Fatalf("assign = %d %s", r.status, r.body)
			}
			got := ids(t, h.get(asgsPath("beta", graphemu.ConfigESP)).object(t)["value"])
			if len(got) != 2 || got[0] != tc.want || got[1] != graphemu.AssignmentESPExclusion {
				t.Errorf("ids = %v, want [%s %s]", got, tc.want, graphemu.AssignmentESPExclusion)
			}
		})
	}
	h := newHarness(t, &graphemu.Options{RenameOnAssign: true})
	if r := h.post(cfgPath("beta", graphemu.ConfigESP)+"/assign", body); r.status != http.StatusNoContent {
		t.Fatalf("assign = %d %s", r.status, r.body)
	}
	if _, ok := h.emu.Assignment(graphemu.ConfigESP, espPrefix+newGroup); !ok {
		t.Error("Options.RenameOnAssign did not start the emulator renaming")
	}
}
