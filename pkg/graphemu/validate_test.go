package graphemu_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/enrollhook/enrollhook/pkg/graphemu"
)

const (
	bad = graphemu.CodeBadRequest
	mvf = graphemu.CodeModelValidation
)

// tgt builds a PATCH body around a target object.
func tgt(inner string) string { return `{"target":{` + inner + `}}` }

func TestPatchValidation(t *testing.T) {
	const g = `"groupId":"5e6f0000-0000-0000-0000-0000000000aa"`
	tests := []struct {
		name    string
		version string // "" = both
		body    string
		code    string // "" = accepted
		reason  string // fragment of Call.Reason
	}{
		// Body shape.
		{"not JSON", "", `{"target":`, bad, "not a JSON object"},
		{"array", "", `[]`, bad, "not a JSON object"},
		{"null", "", `null`, bad, "not a JSON object"},
		{"empty", "", ``, bad, "empty"},
		{"two objects", "", `{} {}`, bad, "data after"},
		{"unknown property", "", `{"priority":1}`, bad, "/priority"},
		{"property in the wrong case", "", `{"Target":{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget"}}`, bad, "/Target"},
		{"empty object is a no-op", "", `{}`, "", ""},
		{"assignment type", "", `{"@odata.type":"#microsoft.graph.enrollmentConfigurationAssignment"}`, "", ""},
		{"assignment type without #", "", `{"@odata.type":"microsoft.graph.enrollmentConfigurationAssignment"}`, "", ""},
		{"other entity type", "", `{"@odata.type":"#microsoft.graph.deviceConfigurationAssignment"}`, bad, "/@odata.type"},
		{"id equal to the key", "", `{"id":"` + graphemu.AssignmentESPGroup + `"}`, "", ""},
		{"id not equal to the key", "", `{"id":"` + graphemu.AssignmentESPExclusion + `"}`, mvf, "/id"},
		{"id not a string", "", `{"id":7}`, bad, "/id"},
		{"null target", "", `{"target":null}`, mvf, "/target"},
		{"target not an object", "", `{"target":"group"}`, bad, "/target"},

		// Target types.
		{"group", "", tgt(`"@odata.type":"#microsoft.graph.groupAssignmentTarget",` + g), "", ""},
		{"group without #", "", tgt(`"@odata.type":"microsoft.graph.groupAssignmentTarget",` + g), "", ""},
		{"exclusion", "", tgt(`"@odata.type":"#microsoft.graph.exclusionGroupAssignmentTarget",` + g), "", ""},
		{"all licensed users", "", tgt(`"@odata.type":"#microsoft.graph.allLicensedUsersAssignmentTarget"`), "", ""},
		{"all devices", "", tgt(`"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget"`), "", ""},
		{"CM collection", "", tgt(`"@odata.type":"#microsoft.graph.configurationManagerCollectionAssignmentTarget","collectionId":"SMS00001"`), "", ""},
		{"scope tag group", "", tgt(`"@odata.type":"#microsoft.graph.scopeTagGroupAssignmentTarget","targetType":"user","entraObjectId":"5e6f0000-0000-0000-0000-0000000000bb"`), "", ""},
		{"scope tag device", "", tgt(`"@odata.type":"#microsoft.graph.scopeTagGroupAssignmentTarget","targetType":"device","entraObjectId":"x"`), "", ""},
		{"missing target type", "", tgt(g), bad, "/target/@odata.type"},
		{"null target type", "", tgt(`"@odata.type":null,` + g), bad, "/target/@odata.type"},
		{"abstract base type", "", tgt(`"@odata.type":"#microsoft.graph.deviceAndAppManagementAssignmentTarget"`), bad, "/target/@odata.type"},
		{"Cloud PC target type", "", tgt(`"@odata.type":"#microsoft.graph.cloudPcManagementGroupAssignmentTarget",` + g), bad, "/target/@odata.type"},
		{"type in the wrong case", "", tgt(`"@odata.type":"#microsoft.graph.GroupAssignmentTarget",` + g), bad, "/target/@odata.type"},

		// Required properties.
		{"group without groupId", "", tgt(`"@odata.type":"#microsoft.graph.groupAssignmentTarget"`), mvf, "/target/groupId"},
		{"group with empty groupId", "", tgt(`"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":""`), mvf, "/target/groupId"},
		{"group with null groupId", "", tgt(`"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":null`), mvf, "/target/groupId"},
		{"group with numeric groupId", "", tgt(`"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":1`), bad, "/target/groupId"},
		{"exclusion without groupId", "", tgt(`"@odata.type":"#microsoft.graph.exclusionGroupAssignmentTarget"`), mvf, "/target/groupId"},
		{"CM without collectionId", "", tgt(`"@odata.type":"#microsoft.graph.configurationManagerCollectionAssignmentTarget"`), mvf, "/target/collectionId"},
		{"scope tag without entraObjectId", "", tgt(`"@odata.type":"#microsoft.graph.scopeTagGroupAssignmentTarget","targetType":"user"`), mvf, "/target/entraObjectId"},
		{"scope tag without targetType", "", tgt(`"@odata.type":"#microsoft.graph.scopeTagGroupAssignmentTarget","entraObjectId":"x"`), mvf, "/target/targetType"},
		{"scope tag targetType group", "", tgt(`"@odata.type":"#microsoft.graph.scopeTagGroupAssignmentTarget","targetType":"group","entraObjectId":"x"`), bad, "/target/targetType"},
		{"scope tag targetType none", "", tgt(`"@odata.type":"#microsoft.graph.scopeTagGroupAssignmentTarget","targetType":"none","entraObjectId":"x"`), bad, "/target/targetType"},

		// Properties of another subtype.
		{"groupId on all devices", "", tgt(`"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget",` + g), bad, "/target/groupId"},
		{"collectionId on group", "", tgt(`"@odata.type":"#microsoft.graph.groupAssignmentTarget",` + g + `,"collectionId":"SMS00001"`), bad, "/target/collectionId"},
		{"unknown target property", "", tgt(`"@odata.type":"#microsoft.graph.groupAssignmentTarget",` + g + `,"displayName":"x"`), bad, "/target/displayName"},

		// Filters (beta only).
		{"filter include", "beta", tgt(`"@odata.type":"#microsoft.graph.groupAssignmentTarget",` + g + `,"deviceAndAppManagementAssignmentFilterId":"` + graphemu.FilterCorporate + `","deviceAndAppManagementAssignmentFilterType":"include"`), "", ""},
		{"filter exclude", "beta", tgt(`"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget","deviceAndAppManagementAssignmentFilterId":"f","deviceAndAppManagementAssignmentFilterType":"exclude"`), "", ""},
		{"filter none, null id", "beta", tgt(`"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget","deviceAndAppManagementAssignmentFilterId":null,"deviceAndAppManagementAssignmentFilterType":"none"`), "", ""},
		{"filter type null", "beta", tgt(`"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget","deviceAndAppManagementAssignmentFilterType":null`), "", ""},
		{"filter on scope tag", "beta", tgt(`"@odata.type":"#microsoft.graph.scopeTagGroupAssignmentTarget","targetType":"user","entraObjectId":"x","deviceAndAppManagementAssignmentFilterType":"none"`), "", ""},
		{"filter type all", "beta", tgt(`"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget","deviceAndAppManagementAssignmentFilterType":"all"`), bad, "FilterType"},
		{"filter type Include", "beta", tgt(`"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget","deviceAndAppManagementAssignmentFilterType":"Include"`), bad, "FilterType"},
		{"filter type number", "beta", tgt(`"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget","deviceAndAppManagementAssignmentFilterType":1`), bad, "FilterType"},
		{"filter id number", "beta", tgt(`"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget","deviceAndAppManagementAssignmentFilterId":1`), bad, "FilterId"},

		// Source (beta only).
		{"source direct", "beta", `{"source":"direct","sourceId":null}`, "", ""},
		{"source policySets", "beta", `{"source":"policySets","sourceId":"ps"}`, "", ""},
		{"source manual", "beta", `{"source":"manual"}`, bad, "/source"},
		{"source null", "beta", `{"source":null}`, bad, "/source"},
		{"sourceId number", "beta", `{"sourceId":3}`, bad, "/sourceId"},

		// v1.0 is a strict subset.
		{"v1.0 source", "v1.0", `{"source":"direct"}`, bad, "/source"},
		{"v1.0 sourceId", "v1.0", `{"sourceId":null}`, bad, "/sourceId"},
		{"v1.0 filter type", "v1.0", tgt(`"@odata.type":"#microsoft.graph.groupAssignmentTarget",` + g + `,"deviceAndAppManagementAssignmentFilterType":"none"`), bad, "FilterType"},
		{"v1.0 filter id", "v1.0", tgt(`"@odata.type":"#microsoft.graph.groupAssignmentTarget",` + g + `,"deviceAndAppManagementAssignmentFilterId":null`), bad, "FilterId"},
		{"v1.0 filter on scope tag", "v1.0", tgt(`"@odata.type":"#microsoft.graph.scopeTagGroupAssignmentTarget","targetType":"user","entraObjectId":"x","deviceAndAppManagementAssignmentFilterId":null`), bad, "FilterId"},
	}
	for _, tt := range tests {
		for _, v := range versions {
			if tt.version != "" && tt.version != v {
				continue
			}
			t.Run(v+"/"+tt.name, func(t *testing.T) {
				h := newHarness(t, nil)
				seedRaw, _ := h.emu.Assignment(graphemu.ConfigESP, graphemu.AssignmentESPGroup)
				r := h.patch(asgPath(v, graphemu.ConfigESP, graphemu.AssignmentESPGroup), tt.body)
				if tt.code == "" {
					if r.status != http.StatusOK {
						t.Fatalf("PATCH %s = %d %s, want 200", tt.body, r.status, r.body)
					}
					if h.emu.Writes() != 1 {
						t.Errorf("Writes() = %d, want 1", h.emu.Writes())
					}
					return
				}
				if r.status != http.StatusBadRequest {
					t.Fatalf("PATCH %s = %d %s, want 400", tt.body, r.status, r.body)
				}
				if got := r.code(t); got != tt.code {
					t.Errorf("PATCH %s code = %q, want %q", tt.body, got, tt.code)
				}
				calls := h.emu.Calls()
				if reason := calls[len(calls)-1].Reason; !strings.Contains(reason, tt.reason) {
					t.Errorf("PATCH %s refused for %q, want a reason about %q", tt.body, reason, tt.reason)
				}
				if h.emu.Writes() != 0 {
					t.Errorf("Writes() = %d after a refusal, want 0", h.emu.Writes())
				}
				if now, _ := h.emu.Assignment(graphemu.ConfigESP, graphemu.AssignmentESPGroup); !bytes.Equal(now, seedRaw) {
					t.Errorf("refused PATCH changed the assignment: %s", now)
				}
			})
		}
	}
}

func TestAcceptedTargetsAreStoredWithHash(t *testing.T) {
	h := newHarness(t, nil)
	p := asgPath("beta", graphemu.ConfigESP, graphemu.AssignmentESPGroup)
	r := h.patch(p, tgt(`"@odata.type":"microsoft.graph.configurationManagerCollectionAssignmentTarget","collectionId":"SMS00001"`))
	if r.status != 200 {
		t.Fatalf("PATCH = %d %s", r.status, r.body)
	}
	for name, tg := range map[string]map[string]any{
		"response": targetOf(t, r.object(t)),
		"stored":   targetOf(t, stored(t, h.emu, graphemu.ConfigESP, graphemu.AssignmentESPGroup)),
		"GET":      targetOf(t, h.get(p).object(t)),
	} {
		if tg["@odata.type"] != "#microsoft.graph.configurationManagerCollectionAssignmentTarget" || tg["collectionId"] != "SMS00001" {
			t.Errorf("%s target = %v, want the '#' type and the collection", name, tg)
		}
		if _, ok := tg["groupId"]; ok {
			t.Errorf("%s target kept groupId of the old subtype: %v", name, tg)
		}
	}
}

func TestRejectScopeTagGroup(t *testing.T) {
	body := tgt(`"@odata.type":"#microsoft.graph.scopeTagGroupAssignmentTarget","targetType":"user","entraObjectId":"x"`)
	for _, reject := range []bool{false, true} {
		h := newHarness(t, &graphemu.Options{RejectScopeTagGroup: reject})
		r := h.patch(asgPath("beta", graphemu.ConfigESP, graphemu.AssignmentESPGroup), body)
		want := http.StatusOK
		if reject {
			want = http.StatusBadRequest
		}
		if r.status != want {
			t.Errorf("RejectScopeTagGroup=%v: PATCH scope tag = %d %s, want %d", reject, r.status, r.body, want)
		}
		if reject && r.code(t) != bad {
			t.Errorf("RejectScopeTagGroup: code = %s, want %s", r.code(t), bad)
		}
	}
}

func TestCreateAssignAndPriorityValidation(t *testing.T) {
	const list = `"enrollmentConfigurationAssignments"`
	tests := []struct {
		name, version, path, body, code, reason string
	}{
		{"POST without target", "beta", "assignments", `{"source":"direct"}`, mvf, "/target"},
		{"POST with bad target", "beta", "assignments", tgt(`"@odata.type":"#microsoft.graph.groupAssignmentTarget"`), mvf, "/target/groupId"},
		{"POST v1.0 with source", "v1.0", "assignments", `{"source":"direct","target":{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget"}}`, bad, "/source"},
		{"assign not JSON", "beta", "assign", `{`, bad, "JSON object"},
		{"assign without the list", "beta", "assign", `{}`, bad, "enrollmentConfigurationAssignments"},
		{"assign with a null list", "beta", "assign", `{` + list + `:null}`, bad, "enrollmentConfigurationAssignments"},
		{"assign list not an array", "beta", "assign", `{` + list + `:{}}`, bad, "array"},
		{"assign extra property", "beta", "assign", `{` + list + `:[],"replace":true}`, bad, "/replace"},
		{"assign member not an object", "beta", "assign", `{` + list + `:[1]}`, bad, "/enrollmentConfigurationAssignments/0"},
		{"assign member without target", "beta", "assign", `{` + list + `:[{"target":{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget"}},{}]}`, mvf, "/enrollmentConfigurationAssignments/1/target"},
		{"assign member without groupId", "beta", "assign", `{` + list + `:[{"target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget"}}]}`, mvf, "/enrollmentConfigurationAssignments/0/target/groupId"},
		{"assign v1.0 member with filter", "v1.0", "assign", `{` + list + `:[{"target":{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget","deviceAndAppManagementAssignmentFilterType":"none"}}]}`, bad, "FilterType"},
		{"setPriority string", "beta", "setPriority", `{"priority":"1"}`, bad, "/priority"},
		{"setPriority fraction", "beta", "setPriority", `{"priority":1.5}`, bad, "/priority"},
		{"setPriority negative", "beta", "setPriority", `{"priority":-1}`, mvf, "/priority"},
		{"setPriority missing", "v1.0", "setPriority", `{}`, bad, "/priority"},
		{"setPriority extra", "v1.0", "setPriority", `{"priority":1,"x":2}`, bad, "/x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			r := h.post(cfgPath(tt.version, graphemu.ConfigESP)+"/"+tt.path, tt.body)
			if r.status != http.StatusBadRequest || r.code(t) != tt.code {
				t.Fatalf("POST %s %s = %d %s, want 400 %s", tt.path, tt.body, r.status, r.body, tt.code)
			}
			calls := h.emu.Calls()
			if reason := calls[len(calls)-1].Reason; !strings.Contains(reason, tt.reason) {
				t.Errorf("refused for %q, want a reason about %q", reason, tt.reason)
			}
			if h.emu.Writes() != 0 || len(h.emu.Assignments(graphemu.ConfigESP)) != 2 {
				t.Errorf("refused write changed state: Writes() = %d, %d assignments", h.emu.Writes(), len(h.emu.Assignments(graphemu.ConfigESP)))
			}
		})
	}
}

func TestIntuneErrorShape(t *testing.T) {
	h := newHarness(t, nil)
	r := h.do(req{
		method: http.MethodPatch,
		path:   asgPath("beta", graphemu.ConfigESP, graphemu.AssignmentESPGroup),
		body:   tgt(`"@odata.type":"#microsoft.graph.groupAssignmentTarget"`),
		header: map[string]string{"client-request-id": "c0ffee00-0000-0000-0000-000000000001"},
	})
	e := r.graphError(t)
	if e.Error.InnerError.Date != "2026-11-29T10:15:00" {
		t.Errorf("innerError.date = %q, want the clock without a zone", e.Error.InnerError.Date)
	}
	if e.Error.InnerError.RequestID != r.header.Get("request-id") || e.Error.InnerError.RequestID == "" {
		t.Errorf("innerError.request-id = %q, header %q", e.Error.InnerError.RequestID, r.header.Get("request-id"))
	}
	if e.Error.InnerError.ClientRequestID != "c0ffee00-0000-0000-0000-000000000001" {
		t.Errorf("innerError.client-request-id = %q", e.Error.InnerError.ClientRequestID)
	}
	var nested struct {
		Version              int     `json:"_version"`
		Message              string  `json:"Message"`
		CustomAPIErrorPhrase *string `json:"CustomApiErrorPhrase"`
		RetryAfter           any     `json:"RetryAfter"`
		ErrorSourceService   *string `json:"ErrorSourceService"`
		HTTPHeaders          string  `json:"HttpHeaders"`
	}
	if err := json.Unmarshal([]byte(e.Error.Message), &nested); err != nil {
		t.Fatalf("error.message %q is not Intune's nested JSON: %v", e.Error.Message, err)
	}
	wantURL := "/StatelessOnboardingService/deviceManagement/deviceEnrollmentConfigurations('" + graphemu.ConfigESP + "')/assignments('" + graphemu.AssignmentESPGroup + "')?api-version="
	if nested.Version != 3 || nested.HTTPHeaders != "{}" || nested.RetryAfter != nil ||
		nested.CustomAPIErrorPhrase == nil || nested.ErrorSourceService == nil ||
		!strings.HasPrefix(nested.Message, "An error has occurred - Operation ID (for customer support): ") ||
		!strings.Contains(nested.Message, " - Activity ID: "+r.header.Get("request-id")+" - Url: https://fef.") ||
		!strings.Contains(nested.Message, wantURL) {
		t.Errorf("nested message = %+v", nested)
	}
	// The rule that failed is for tests only, never in the response.
	if strings.Contains(string(r.body), "groupId") {
		t.Errorf("response names the failed rule: %s", r.body)
	}

	// 404s come from Intune too.
	nf := h.get(asgPath("v1.0", graphemu.ConfigESP, "missing")).graphError(t)
	if nf.Error.Code != graphemu.CodeNotFound || !strings.Contains(nf.Error.Message, `"_version":3`) {
		t.Errorf("404 error = %+v", nf.Error)
	}
}
