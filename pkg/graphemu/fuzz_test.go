package graphemu

import (
	"encoding/json"
	"testing"
)

// FuzzAssignmentBody checks the body validator: no panic, and an accepted
// body yields a target the emulator can render and would accept again.
func FuzzAssignmentBody(f *testing.F) {
	for _, s := range []string{
		`{}`,
		`{"target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"g"}}`,
		`{"target":{"@odata.type":"microsoft.graph.configurationManagerCollectionAssignmentTarget","collectionId":"SMS00001"}}`,
		`{"target":{"@odata.type":"#microsoft.graph.scopeTagGroupAssignmentTarget","targetType":"user","entraObjectId":"e"}}`,
		`{"source":"policySets","sourceId":null,"target":{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget","deviceAndAppManagementAssignmentFilterType":"exclude","deviceAndAppManagementAssignmentFilterId":"f"}}`,
		`{"id":"x","@odata.type":"#microsoft.graph.enrollmentConfigurationAssignment"}`,
		`{"target":null}`, `[]`, `{"a":1} 2`,
	} {
		f.Add([]byte(s), true)
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, body []byte, beta bool) {
		r := rules{version: versionV1}
		if beta {
			r.version = versionBeta
		}
		m, bad := decodeObject(body, "")
		if bad != nil {
			return
		}
		in, bad := r.assignment(m, "")
		if bad != nil {
			if bad.code != CodeBadRequest && bad.code != CodeModelValidation {
				t.Fatalf("refusal code %q", bad.code)
			}
			return
		}
		if in.target == nil {
			return
		}
		own, ok := targetOwn[in.target.typ]
		if !ok {
			t.Fatalf("accepted target type %q", in.target.typ)
		}
		for _, k := range own {
			if in.target.field(k) == "" {
				t.Fatalf("accepted %s without %s", in.target.typ, k)
			}
		}
		// What the emulator renders, it accepts back.
		raw, err := json.Marshal(in.target.render(r.version))
		if err != nil {
			t.Fatal(err)
		}
		tm, bad := decodeObject(raw, "/target")
		if bad == nil {
			_, bad = r.target(tm, "/target")
		}
		if bad != nil {
			t.Fatalf("rendered target %s refused: %s", raw, bad.reason)
		}
	})
}
