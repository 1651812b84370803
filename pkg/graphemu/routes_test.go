package graphemu_test

import (
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/graphemu"
)

const espPrefix = "2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_"

func TestReadRoutes(t *testing.T) {
	for _, v := range versions {
		h := newHarness(t, nil)
		tests := []struct {
			name     string
			path     string
			status   int
			code     string
			wantID   string   // top-level id of an entity
			wantIDs  []string // ids in value of a collection
			contains string   // fragment of @odata.context
		}{
			{"list configurations", configs(v), 200, "", "",
				[]string{graphemu.ConfigESP, graphemu.ConfigLimit, graphemu.ConfigPlatform}, "#deviceManagement/deviceEnrollmentConfigurations"},
			{"get configuration", cfgPath(v, graphemu.ConfigESP), 200, "", graphemu.ConfigESP, nil, "/$entity"},
			{"get configuration, OData key form", configs(v) + "('" + graphemu.ConfigLimit + "')", 200, "", graphemu.ConfigLimit, nil, "/$entity"},
			{"get configuration, trailing slash", cfgPath(v, graphemu.ConfigLimit) + "/", 200, "", graphemu.ConfigLimit, nil, "/$entity"},
			{"unknown configuration", cfgPath(v, "nope_DefaultLimit"), 404, graphemu.CodeNotFound, "", nil, ""},
			{"list assignments", asgsPath(v, graphemu.ConfigESP), 200, "", "",
				[]string{graphemu.AssignmentESPGroup, graphemu.AssignmentESPExclusion}, "/assignments"},
			{"list assignments, unknown configuration", asgsPath(v, "nope"), 404, graphemu.CodeNotFound, "", nil, ""},
			{"get assignment", asgPath(v, graphemu.ConfigESP, graphemu.AssignmentESPExclusion), 200, "", graphemu.AssignmentESPExclusion, nil, "/assignments/$entity"},
			{"get assignment, OData key form", configs(v) + "('" + graphemu.ConfigPlatform + "')/assignments('" + graphemu.AssignmentPlatformGroup + "')",
				200, "", graphemu.AssignmentPlatformGroup, nil, "/assignments/$entity"},
			{"unknown assignment", asgPath(v, graphemu.ConfigESP, espPrefix+"missing"), 404, graphemu.CodeNotFound, "", nil, ""},
			{"assignment of another configuration", asgPath(v, graphemu.ConfigLimit, graphemu.AssignmentESPGroup), 404, graphemu.CodeNotFound, "", nil, ""},
			{"wrong casing of deviceManagement", "/" + v + "/devicemanagement/deviceEnrollmentConfigurations", 400, graphemu.CodeBadRequest, "", nil, ""},
			{"wrong casing of the collection", "/" + v + "/deviceManagement/DeviceEnrollmentConfigurations", 400, graphemu.CodeBadRequest, "", nil, ""},
			{"wrong casing of assignments", cfgPath(v, graphemu.ConfigESP) + "/Assignments", 400, graphemu.CodeBadRequest, "", nil, ""},
			{"segment after an assignment", asgPath(v, graphemu.ConfigESP, graphemu.AssignmentESPGroup) + "/target", 400, graphemu.CodeBadRequest, "", nil, ""},
			{"malformed OData key", configs(v) + "('" + graphemu.ConfigESP + ")", 400, graphemu.CodeBadRequest, "", nil, ""},
			{"unknown version", "/v2.0/deviceManagement/deviceEnrollmentConfigurations", 400, graphemu.CodeBadRequest, "", nil, ""},
			{"root", "/", 400, graphemu.CodeBadRequest, "", nil, ""},
		}
		for _, tt := range tests {
			t.Run(v+"/"+tt.name, func(t *testing.T) {
				r := h.get(tt.path)
				if r.status != tt.status {
					t.Fatalf("GET %s = %d %s, want %d", tt.path, r.status, r.body, tt.status)
				}
				if tt.code != "" {
					if got := r.code(t); got != tt.code {
						t.Errorf("GET %s code = %q, want %q", tt.path, got, tt.code)
					}
					return
				}
				m := r.object(t)
				if ctx, _ := m["@odata.context"].(string); !strings.Contains(ctx, "/"+v+"/$metadata#") || !strings.Contains(ctx, tt.contains) {
					t.Errorf("@odata.context = %q, want the %s metadata and %q", ctx, v, tt.contains)
				}
				if tt.wantIDs != nil {
					if got := ids(t, m["value"]); !slices.Equal(got, tt.wantIDs) {
						t.Errorf("ids = %v, want %v", got, tt.wantIDs)
					}
					return
				}
				if _, wrapped := m["value"]; wrapped {
					t.Errorf("entity wrapped in value: %s", r.body)
				}
				if m["id"] != tt.wantID {
					t.Errorf("id = %v, want %s", m["id"], tt.wantID)
				}
			})
		}
	}
}

func TestWriteRoutes(t *testing.T) {
	for _, v := range versions {
		t.Run(v, func(t *testing.T) {
			t.Run("PATCH answers the updated entity", func(t *testing.T) {
				h := newHarness(t, nil)
				r := h.patch(asgPath(v, graphemu.ConfigESP, graphemu.AssignmentESPGroup), groupBody)
				if r.status != http.StatusOK {
					t.Fatalf("PATCH = %d %s, want 200", r.status, r.body)
				}
				m := r.object(t)
				if m["id"] != graphemu.AssignmentESPGroup || targetOf(t, m)["groupId"] != "11110000-0000-0000-0000-000000000099" {
					t.Errorf("PATCH body = %s, want the entity with the new group", r.body)
				}
				if got := targetOf(t, stored(t, h.emu, graphemu.ConfigESP, graphemu.AssignmentESPGroup))["groupId"]; got != "11110000-0000-0000-0000-000000000099" {
					t.Errorf("stored groupId = %v after PATCH", got)
				}
				if h.emu.Writes() != 1 {
					t.Errorf("Writes() = %d, want 1", h.emu.Writes())
				}
			})
			t.Run("POST creates with the group id as key", func(t *testing.T) {
				h := newHarness(t, nil)
				r := h.post(asgsPath(v, graphemu.ConfigESP), groupBody)
				if r.status != http.StatusCreated {
					t.Fatalf("POST = %d %s, want 201", r.status, r.body)
				}
				want := espPrefix + "11110000-0000-0000-0000-000000000099"
				if id := r.object(t)["id"]; id != want {
					t.Errorf("created id = %v, want %s", id, want)
				}
				if loc := r.header.Get("Location"); !strings.HasSuffix(loc, "/assignments('"+want+"')") || !strings.Contains(loc, "/"+v+"/") {
					t.Errorf("Location = %q", loc)
				}
				if n := len(h.emu.Assignments(graphemu.ConfigESP)); n != 3 {
					t.Errorf("%d assignments after POST, want 3", n)
				}
				// The same group again cannot reuse the key.
				r = h.post(asgsPath(v, graphemu.ConfigESP), groupBody)
				if id, _ := r.object(t)["id"].(string); r.status != 201 || id == want || !strings.HasPrefix(id, espPrefix) {
					t.Errorf("second POST = %d id %q, want 201 and a fresh id under %s", r.status, id, espPrefix)
				}
			})
			t.Run("POST of a target without a group gets a fresh guid", func(t *testing.T) {
				h := newHarness(t, nil)
				r := h.post(asgsPath(v, graphemu.ConfigLimit), `{"target":{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget"}}`)
				id, _ := r.object(t)["id"].(string)
				suffix, ok := strings.CutPrefix(id, "3c6c7a5f-2222-4d7f-8b4c-2a3e4d5c6b7a_")
				if r.status != 201 || !ok || len(suffix) != 36 {
					t.Errorf("POST = %d id %q, want 201 and {cfg guid}_{guid}", r.status, id)
				}
			})
			t.Run("DELETE removes", func(t *testing.T) {
				h := newHarness(t, nil)
				p := asgPath(v, graphemu.ConfigESP, graphemu.AssignmentESPExclusion)
				if r := h.do(req{method: http.MethodDelete, path: p}); r.status != http.StatusNoContent || len(r.body) != 0 {
					t.Fatalf("DELETE = %d %q, want 204 and no body", r.status, r.body)
				}
				if r := h.get(p); r.status != http.StatusNotFound {
					t.Errorf("GET after DELETE = %d, want 404", r.status)
				}
				if r := h.do(req{method: http.MethodDelete, path: p}); r.status != http.StatusNotFound {
					t.Errorf("second DELETE = %d, want 404", r.status)
				}
				if h.emu.Writes() != 1 {
					t.Errorf("Writes() = %d, want 1", h.emu.Writes())
				}
			})
			t.Run("setPriority", func(t *testing.T) {
				h := newHarness(t, nil)
				if r := h.post(cfgPath(v, graphemu.ConfigPlatform)+"/setPriority", `{"priority":5}`); r.status != http.StatusNoContent {
					t.Fatalf("setPriority = %d %s, want 204", r.status, r.body)
				}
				if p := h.get(cfgPath(v, graphemu.ConfigPlatform)).object(t)["priority"]; p != float64(5) {
					t.Errorf("priority = %v, want 5", p)
				}
			})
			t.Run("writes to an unknown configuration", func(t *testing.T) {
				h := newHarness(t, nil)
				for _, q := range []req{
					{method: http.MethodPatch, path: asgPath(v, "nope", "nope_x"), body: groupBody},
					{method: http.MethodPost, path: asgsPath(v, "nope"), body: groupBody},
					{method: http.MethodDelete, path: asgPath(v, "nope", "nope_x")},
					{method: http.MethodPost, path: cfgPath(v, "nope") + "/assign", body: `{"enrollmentConfigurationAssignments":[]}`},
					{method: http.MethodPost, path: cfgPath(v, "nope") + "/setPriority", body: `{"priority":1}`},
				} {
					if r := h.do(q); r.status != http.StatusNotFound || r.code(t) != graphemu.CodeNotFound {
						t.Errorf("%s %s = %d %s, want 404 ResourceNotFound", q.method, q.path, r.status, r.body)
					}
				}
				if h.emu.Writes() != 0 {
					t.Errorf("Writes() = %d, want 0", h.emu.Writes())
				}
			})
		})
	}
}

func TestMethodNotAllowed(t *testing.T) {
	h := newHarness(t, nil)
	tests := []struct {
		method, path, allow string
	}{
		{http.MethodPost, configs("beta"), "GET"},
		{http.MethodDelete, cfgPath("beta", graphemu.ConfigESP), "GET"},
		{http.MethodPatch, cfgPath("v1.0", graphemu.ConfigESP), "GET"},
		{http.MethodPut, asgPath("beta", graphemu.ConfigESP, graphemu.AssignmentESPGroup), "GET, PATCH, DELETE"},
		{http.MethodPatch, asgsPath("beta", graphemu.ConfigESP), "GET, POST"},
		{http.MethodGet, cfgPath("beta", graphemu.ConfigESP) + "/assign", "POST"},
		{http.MethodGet, cfgPath("v1.0", graphemu.ConfigESP) + "/setPriority", "POST"},
	}
	for _, tt := range tests {
		r := h.do(req{method: tt.method, path: tt.path, body: "{}"})
		if r.status != http.StatusMethodNotAllowed || r.code(t) != graphemu.CodeMethodNotAllowed {
			t.Errorf("%s %s = %d %s, want 405", tt.method, tt.path, r.status, r.body)
		}
		if got := r.header.Get("Allow"); got != tt.allow {
			t.Errorf("%s %s Allow = %q, want %q", tt.method, tt.path, got, tt.allow)
		}
	}
	if h.emu.Writes() != 0 {
		t.Errorf("Writes() = %d after 405s, want 0", h.emu.Writes())
	}
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestVersionShapes(t *testing.T) {
	h := newHarness(t, nil)
	tests := []struct {
		version, asg, cfg string
		entity, target    []string
	}{
		{"beta", graphemu.AssignmentPlatformGroup, graphemu.ConfigPlatform,
			[]string{"@odata.context", "@odata.type", "id", "source", "sourceId", "target"},
			[]string{"@odata.type", "deviceAndAppManagementAssignmentFilterId", "deviceAndAppManagementAssignmentFilterType", "groupId"}},
		{"v1.0", graphemu.AssignmentPlatformGroup, graphemu.ConfigPlatform,
			[]string{"@odata.context", "@odata.type", "id", "target"},
			[]string{"@odata.type", "groupId"}},
		{"beta", graphemu.AssignmentLimitAllUsers, graphemu.ConfigLimit,
			[]string{"@odata.context", "@odata.type", "id", "source", "sourceId", "target"},
			[]string{"@odata.type", "deviceAndAppManagementAssignmentFilterId", "deviceAndAppManagementAssignmentFilterType"}},
		{"v1.0", graphemu.AssignmentLimitAllUsers, graphemu.ConfigLimit,
			[]string{"@odata.context", "@odata.type", "id", "target"},
			[]string{"@odata.type"}},
	}
	for _, tt := range tests {
		t.Run(tt.version+"/"+tt.asg, func(t *testing.T) {
			m := h.get(asgPath(tt.version, tt.cfg, tt.asg)).object(t)
			if got := keys(m); !slices.Equal(got, tt.entity) {
				t.Errorf("entity properties = %v, want %v", got, tt.entity)
			}
			if got := keys(targetOf(t, m)); !slices.Equal(got, tt.target) {
				t.Errorf("target properties = %v, want %v", got, tt.target)
			}
			if m["@odata.type"] != "#microsoft.graph.enrollmentConfigurationAssignment" {
				t.Errorf("@odata.type = %v", m["@odata.type"])
			}
		})
	}

	beta := h.get(asgPath("beta", graphemu.ConfigPlatform, graphemu.AssignmentPlatformGroup)).object(t)
	tg := targetOf(t, beta)
	if beta["source"] != "direct" || beta["sourceId"] != nil ||
		tg["deviceAndAppManagementAssignmentFilterId"] != graphemu.FilterCorporate ||
		tg["deviceAndAppManagementAssignmentFilterType"] != "include" || tg["groupId"] != graphemu.GroupPlatform {
		t.Errorf("beta platform assignment = %v", beta)
	}
	esp := h.get(asgPath("beta", graphemu.ConfigESP, graphemu.AssignmentESPGroup)).object(t)
	if tg := targetOf(t, esp); tg["deviceAndAppManagementAssignmentFilterType"] != "none" || tg["deviceAndAppManagementAssignmentFilterId"] != nil {
		t.Errorf("ESP group target = %v, want filter none and a null filter id", tg)
	}

	// Configurations: beta-only properties vanish on v1.0, nested ones too.
	cb := h.get(cfgPath("beta", graphemu.ConfigPlatform)).object(t)
	cv := h.get(cfgPath("v1.0", graphemu.ConfigPlatform)).object(t)
	for _, k := range []string{"roleScopeTagIds", "deviceEnrollmentConfigurationType", "tvosRestriction"} {
		if _, ok := cb[k]; !ok {
			t.Errorf("beta configuration lacks %s", k)
		}
		if _, ok := cv[k]; ok {
			t.Errorf("v1.0 configuration has beta-only %s", k)
		}
	}
	if _, ok := cv["iosRestriction"].(map[string]any)["blockedSkus"]; ok {
		t.Error("v1.0 iosRestriction has beta-only blockedSkus")
	}
	for _, k := range []string{"@odata.type", "id", "displayName", "description", "priority", "createdDateTime", "lastModifiedDateTime", "version"} {
		if _, ok := cv[k]; !ok {
			t.Errorf("v1.0 configuration lacks %s", k)
		}
	}
	espCfg := h.get(cfgPath("v1.0", graphemu.ConfigESP)).object(t)
	if espCfg["@odata.type"] != "#microsoft.graph.windows10EnrollmentCompletionPageConfiguration" ||
		espCfg["displayName"] != "Autopilot ESP - Corporate" || espCfg["priority"] != float64(1) {
		t.Errorf("ESP configuration = %v", espCfg)
	}
	limit := h.get(cfgPath("beta", graphemu.ConfigLimit)).object(t)
	if limit["@odata.type"] != "#microsoft.graph.deviceEnrollmentLimitConfiguration" || limit["limit"] != float64(15) || limit["priority"] != float64(0) {
		t.Errorf("limit configuration = %v", limit)
	}
}

func TestPatchMergesAndBumpsLastModified(t *testing.T) {
	h := newHarness(t, nil)
	p := asgPath("beta", graphemu.ConfigPlatform, graphemu.AssignmentPlatformGroup)
	before := h.get(cfgPath("beta", graphemu.ConfigPlatform)).object(t)["lastModifiedDateTime"]

	h.clock.Add(3 * time.Second)
	// Only source: the target stays.
	if r := h.patch(p, `{"source":"policySets","sourceId":"ps-1"}`); r.status != 200 {
		t.Fatalf("PATCH source = %d %s", r.status, r.body)
	}
	m := stored(t, h.emu, graphemu.ConfigPlatform, graphemu.AssignmentPlatformGroup)
	if m["source"] != "policySets" || m["sourceId"] != "ps-1" || targetOf(t, m)["deviceAndAppManagementAssignmentFilterType"] != "include" {
		t.Errorf("after PATCH of source: %v", m)
	}
	after := h.get(cfgPath("beta", graphemu.ConfigPlatform)).object(t)["lastModifiedDateTime"]
	if after == before || after != "2026-11-29T10:15:03Z" {
		t.Errorf("lastModifiedDateTime = %v (was %v), want the clock's 2026-11-29T10:15:03Z", after, before)
	}

	// A target is replaced whole: the filter does not survive.
	if r := h.patch(p, `{"target":{"@odata.type":"microsoft.graph.groupAssignmentTarget","groupId":"`+graphemu.GroupCorporate+`"}}`); r.status != 200 {
		t.Fatalf("PATCH target = %d %s", r.status, r.body)
	}
	tg := targetOf(t, stored(t, h.emu, graphemu.ConfigPlatform, graphemu.AssignmentPlatformGroup))
	if tg["deviceAndAppManagementAssignmentFilterId"] != nil || tg["deviceAndAppManagementAssignmentFilterType"] != "none" ||
		tg["groupId"] != graphemu.GroupCorporate || tg["@odata.type"] != "#microsoft.graph.groupAssignmentTarget" {
		t.Errorf("target after PATCH = %v, want the new group, no filter, '#' type", tg)
	}
	m = stored(t, h.emu, graphemu.ConfigPlatform, graphemu.AssignmentPlatformGroup)
	if m["source"] != "policySets" {
		t.Errorf("source = %v, want policySets kept by a target-only PATCH", m["source"])
	}

	// A v1.0 PATCH leaves beta-only source alone.
	if r := h.patch(asgPath("v1.0", graphemu.ConfigPlatform, graphemu.AssignmentPlatformGroup), groupBody); r.status != 200 {
		t.Fatalf("v1.0 PATCH = %d %s", r.status, r.body)
	}
	if m := stored(t, h.emu, graphemu.ConfigPlatform, graphemu.AssignmentPlatformGroup); m["source"] != "policySets" || m["sourceId"] != "ps-1" {
		t.Errorf("after v1.0 PATCH: %v, want source kept", m)
	}
}

func TestPatchStatus(t *testing.T) {
	h := newHarness(t, &graphemu.Options{PatchStatus: http.StatusNoContent})
	p := asgPath("beta", graphemu.ConfigESP, graphemu.AssignmentESPGroup)
	r := h.patch(p, groupBody)
	if r.status != http.StatusNoContent || len(r.body) != 0 || r.header.Get("Content-Type") != "" {
		t.Errorf("PATCH in 204 mode = %d %q Content-Type %q, want 204, no body, no type", r.status, r.body, r.header.Get("Content-Type"))
	}
	if got := targetOf(t, stored(t, h.emu, graphemu.ConfigESP, graphemu.AssignmentESPGroup))["groupId"]; got != "11110000-0000-0000-0000-000000000099" {
		t.Errorf("204 PATCH not applied: groupId %v", got)
	}
	h.emu.SetPatchStatus(http.StatusOK)
	if r := h.patch(p, groupBody); r.status != http.StatusOK || r.object(t)["id"] != graphemu.AssignmentESPGroup {
		t.Errorf("PATCH after SetPatchStatus(200) = %d %s", r.status, r.body)
	}
	h.emu.SetPatchStatus(http.StatusNoContent)
	if r := h.patch(p, groupBody); r.status != http.StatusNoContent {
		t.Errorf("PATCH after SetPatchStatus(204) = %d", r.status)
	}

	for _, bad := range []int{201, 202, 0} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("SetPatchStatus(%d) did not panic", bad)
				}
			}()
			h.emu.SetPatchStatus(bad)
		}()
	}
}

func TestAssignReplacesTheSet(t *testing.T) {
	for _, v := range versions {
		t.Run(v, func(t *testing.T) {
			h := newHarness(t, nil)
			body := `{"enrollmentConfigurationAssignments":[
			  {"id":"` + graphemu.AssignmentESPExclusion + `","target":{"@odata.type":"#microsoft.graph.exclusionGroupAssignmentTarget","groupId":"` + graphemu.GroupExcluded + `"}},
			  {"target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"22220000-0000-0000-0000-000000000022"}},
			  {"id":"not-an-existing-id","target":{"@odata.type":"microsoft.graph.allDevicesAssignmentTarget"}},
			  {"id":"` + graphemu.AssignmentESPExclusion + `","target":{"@odata.type":"#microsoft.graph.allLicensedUsersAssignmentTarget"}}
			]}`
			r := h.post(cfgPath(v, graphemu.ConfigESP)+"/assign", body)
			if r.status != http.StatusNoContent || len(r.body) != 0 {
				t.Fatalf("assign = %d %s, want 204 and no body", r.status, r.body)
			}
			got := ids(t, h.get(asgsPath(v, graphemu.ConfigESP)).object(t)["value"])
			if len(got) != 4 {
				t.Fatalf("ids after assign = %v, want 4", got)
			}
			if got[0] != graphemu.AssignmentESPExclusion {
				t.Errorf("kept id = %s, want %s", got[0], graphemu.AssignmentESPExclusion)
			}
			if got[1] != espPrefix+"22220000-0000-0000-0000-000000000022" {
				t.Errorf("new group id = %s", got[1])
			}
			for i, id := range got[2:] {
				if id == "not-an-existing-id" || id == graphemu.AssignmentESPExclusion || !strings.HasPrefix(id, espPrefix) {
					t.Errorf("member %d id = %s, want a fresh id under %s", i+2, id, espPrefix)
				}
			}
			if _, ok := h.emu.Assignment(graphemu.ConfigESP, graphemu.AssignmentESPGroup); ok {
				t.Error("assignment left out of the set still exists")
			}
			if r := h.get(asgPath(v, graphemu.ConfigESP, graphemu.AssignmentESPGroup)); r.status != http.StatusNotFound {
				t.Errorf("GET of a replaced assignment = %d, want 404", r.status)
			}
			if h.emu.Writes() != 1 {
				t.Errorf("Writes() = %d, want 1", h.emu.Writes())
			}

			// An empty set removes every assignment.
			if r := h.post(cfgPath(v, graphemu.ConfigESP)+"/microsoft.graph.assign", `{"enrollmentConfigurationAssignments":[]}`); r.status != 204 {
				t.Fatalf("empty assign = %d %s", r.status, r.body)
			}
			if n := len(h.emu.Assignments(graphemu.ConfigESP)); n != 0 {
				t.Errorf("%d assignments after an empty assign, want 0", n)
			}
			if n := len(h.emu.Assignments(graphemu.ConfigLimit)); n != 1 {
				t.Errorf("assign touched another configuration: %d assignments", n)
			}
		})
	}
}

func TestAssignmentsAccessors(t *testing.T) {
	emu := graphemu.New(nil)
	if got := emu.Assignments("nope"); got != nil {
		t.Errorf("Assignments(unknown) = %v, want nil", got)
	}
	if _, ok := emu.Assignment(graphemu.ConfigESP, "nope"); ok {
		t.Error("Assignment(ESP, unknown) reported found")
	}
	if _, ok := emu.Assignment("nope", graphemu.AssignmentESPGroup); ok {
		t.Error("Assignment(unknown, ESP group) reported found")
	}
	if n := len(emu.Assignments(graphemu.ConfigESP)); n != 2 {
		t.Errorf("len(Assignments(ESP)) = %d, want 2", n)
	}
}
