package change

import (
	"reflect"

	"github.com/enrollhook/enrollhook/pkg/change/changetest"
	"strings"
	"testing"
)

func TestShortTargetToGraph(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Target
	}{
		{"group with include filter", `{"type":"group","groupId":"` + guid + `","filterId":"` + fguid + `","filterType":"include"}`,
			Target{ODataType: TypeGroup, GroupID: guid, FilterID: fguid, FilterType: FilterInclude}},
		{"type in another case", `{"type":"Exclusion","groupId":"` + guid + `"}`, Target{ODataType: TypeExclusion, GroupID: guid}},
		{"all users", `{"type":"allUsers"}`, Target{ODataType: TypeAllLicensed}},
		{"all licensed users", `{"type":"allLicensedUsers"}`, Target{ODataType: TypeAllLicensed}},
		{"all devices with exclude filter", `{"type":"allDevices","filterId":"` + fguid + `","filterType":"exclude"}`,
			Target{ODataType: TypeAllDevices, FilterID: fguid, FilterType: FilterExclude}},
		{"collection", `{"type":"collection","collectionId":"SMS00001"}`, Target{ODataType: TypeCMCollection, CollectionID: "SMS00001"}},
		{"scope tag group", `{"type":"scopeTagGroup","targetType":"user","entraObjectId":"` + guid + `"}`,
			Target{ODataType: TypeScopeTagGroup, TargetType: "user", EntraObjectID: guid}},
		{"Graph form without #", `{"@odata.type":"microsoft.graph.groupAssignmentTarget","groupId":"` + guid + `"}`, Target{ODataType: TypeGroup, GroupID: guid}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, fields := DecodeTarget([]byte(tt.in), "/data/intune/target", nil)
			if len(fields) > 0 {
				t.Fatalf("DecodeTarget(%s) = %v", tt.in, fields)
			}
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("DecodeTarget(%s) = %+v, want %+v", tt.in, *got, tt.want)
			}
			// What an adapter builds from it passes the envelope's rules.
			r := Request{Ticket: Ticket{ID: "CHG1", State: "approved", ApprovedBy: "bob"}, ConfigurationID: cfgID, AssignmentID: asgID,
				Assignment: Assignment{Target: got}}
			if err := r.Validate(nil); err != nil {
				t.Errorf("Validate = %v", err)
			}
		})
	}
}

func TestShortTargetFieldErrors(t *testing.T) {
	const at = "/data/intune/target"
	tests := []struct {
		name string
		in   string
		opts *Options
		want map[string]string // field -> part of the reason
	}{
		{"missing type", `{"groupId":"` + guid + `"}`, nil, map[string]string{at + "/@odata.type": "is required"}},
		{"empty type", `{"type":""}`, nil, map[string]string{at + "/type": "is required"}},
		{"unknown type", `{"type":"everyone"}`, nil, map[string]string{at + "/type": "allDevices, allLicensedUsers, allUsers"}},
		{"group without group id", `{"type":"group"}`, nil, map[string]string{at + "/groupId": "is required"}},
		{"group id not a GUID", `{"type":"group","groupId":"Pilot-Devices"}`, nil, map[string]string{at + "/groupId": "must be a GUID"}},
		{"group id on all devices", `{"type":"allDevices","groupId":"` + guid + `"}`, nil, map[string]string{at + "/groupId": "not a property of allDevicesAssignmentTarget"}},
		{"include without filter id", `{"type":"group","groupId":"` + guid + `","filterType":"include"}`, nil, map[string]string{at + "/filterId": "required when the filter type is include"}},
		{"filter id without type", `{"type":"group","groupId":"` + guid + `","filterId":"` + fguid + `"}`, nil, map[string]string{at + "/filterType": "include or exclude"}},
		{"filter type unknown", `{"type":"group","groupId":"` + guid + `","filterType":"only"}`, nil, map[string]string{at + "/filterType": "one of: none, include, exclude"}},
		{"collection GUID", `{"type":"collection","collectionId":"` + guid + `"}`, nil, map[string]string{at + "/collectionId": "use groupAssignmentTarget"}},
		{"unknown shorthand property", `{"type":"group","groupId":"` + guid + `","groupName":"Pilot"}`, nil, map[string]string{at + "/groupName": "unknown property"}},
		{"Graph property in shorthand", `{"type":"group","groupId":"` + guid + `","deviceAndAppManagementAssignmentFilterType":"none"}`, nil,
			map[string]string{at + "/deviceAndAppManagementAssignmentFilterType": "unknown property"}},
		{"wrong JSON type", `{"type":"group","groupId":5}`, nil, map[string]string{at + "/groupId": "must be a string"}},
		{"not an object", `["group"]`, nil, map[string]string{at: "JSON object"}},
		{"absent", ``, nil, map[string]string{at: "is required"}},
		{"null", `null`, nil, map[string]string{at: "is required"}},
		{"filter on v1.0", `{"type":"group","groupId":"` + guid + `","filterId":"` + fguid + `","filterType":"include"}`, &Options{GraphVersion: "v1.0"},
			map[string]string{at + "/filterId": "beta only", at + "/filterType": "beta only"}},
		{"Graph form, unknown property", `{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget","groupName":"x"}`, nil,
			map[string]string{at + "/groupName": "unknown property"}},
		{"Graph form, filter id without type", `{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget","deviceAndAppManagementAssignmentFilterId":"` + fguid + `"}`, nil,
			map[string]string{at + "/deviceAndAppManagementAssignmentFilterType": "include or exclude"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, fields := DecodeTarget([]byte(tt.in), at, tt.opts)
			if got != nil {
				t.Fatalf("DecodeTarget(%s) = %+v, want field errors", tt.in, got)
			}
			m := map[string]string{}
			for _, f := range fields {
				m[f.Field] = f.Reason
			}
			for field, reason := range tt.want {
				if !strings.Contains(m[field], reason) {
					t.Errorf("DecodeTarget(%s): %s = %q, want it to mention %q (all: %v)", tt.in, field, m[field], reason, fields)
				}
			}
			if strings.Contains(tt.in, "Pilot") {
				for _, f := range fields {
					if strings.Contains(f.Reason, "Pilot") {
						t.Errorf("reason %q quotes the input", f.Reason)
					}
				}
			}
		})
	}
}

func TestRemapFields(t *testing.T) {
	in := []FieldError{
		{Field: "/configurationId", Reason: "a"},
		{Field: "/ticket/approvedBy", Reason: "b"},
		{Field: "/ticket/id", Reason: "c"},
		{Field: "/assignment/target/groupId", Reason: "d"},
		{Field: "/assignmentId", Reason: "e"},
	}
	got := RemapFields(in, map[string]string{
		"/configurationId": "/data/intune/configurationId", "/ticket": "/data/record", "/ticket/approvedBy": "/data/approval/approver",
		"/assignment/target": "-",
	})
	want := []string{"/data/intune/configurationId", "/data/approval/approver", "/data/record/id", "/assignmentId"}
	if len(got) != len(want) {
		t.Fatalf("RemapFields = %v", got)
	}
	for i, f := range got {
		if f.Field != want[i] {
			t.Errorf("RemapFields[%d] = %s, want %s", i, f.Field, want[i])
		}
	}
}

func FuzzDecodeTarget(f *testing.F) {
	f.Add([]byte(`{"type":"group","groupId":"` + guid + `","filterId":"` + fguid + `","filterType":"include"}`))
	f.Add([]byte(`{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget"}`))
	f.Add([]byte(`{"type":"collection","collectionId":"SMS00001","x":1}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, fields := DecodeTarget(raw, "/t", nil)
		if got != nil {
			if len(fields) > 0 {
				t.Fatalf("a target and field errors")
			}
			r := Request{Ticket: Ticket{ID: "X", State: "approved", ApprovedBy: "b"}, ConfigurationID: "c", AssignmentID: "a", Assignment: Assignment{Target: got}}
			if err := r.Validate(nil); err != nil {
				t.Fatalf("accepted target fails Validate: %v", err)
			}
			return
		}
		if len(fields) == 0 {
			t.Fatalf("no target and no field error")
		}
		for _, fe := range fields {
			if !strings.HasPrefix(fe.Field, "/t") {
				t.Fatalf("field %q is not under /t", fe.Field)
			}
			if v, ok := fixedTexts().Quotes(fe.Reason, changetest.Strings(raw), 8); ok {
				t.Fatalf("reason %q quotes the input value %q", fe.Reason, v)
			}
		}
	})
}
