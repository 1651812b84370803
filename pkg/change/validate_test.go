package change

import (
	"encoding/json"
	"errors"
	"github.com/enrollhook/enrollhook/pkg/change/changetest"
	"strings"
	"sync"
	"testing"
)

const (
	cfgID = "2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_Windows10EnrollmentCompletionPageConfiguration"
	asgID = "2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_5e6f0000-0000-0000-0000-000000000001"
	guid  = "5e6f0000-0000-0000-0000-000000000001"
	fguid = "a1b2c3d4-0000-0000-0000-00000000f117"
)

// envelope builds a request body around an assignment object.
func envelope(assignment string) string {
	return `{"ticket":{"id":"CHG0030042","state":"approved","requestedBy":"alice@contoso.com","approvedBy":"bob@contoso.com"},` +
		`"configurationId":"` + cfgID + `","assignmentId":"` + asgID + `","assignment":` + assignment + `}`
}

func target(t string) string { return `{"target":` + t + `}` }

func TestDecodeAcceptsEveryTargetSubtype(t *testing.T) {
	tests := []struct {
		name, assignment, wantType string
	}{
		{"group", target(`{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"` + guid + `"}`), TypeGroup},
		{"group without #", target(`{"@odata.type":"microsoft.graph.groupAssignmentTarget","groupId":"` + guid + `"}`), TypeGroup},
		{"group with include filter", target(`{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"` + guid + `","deviceAndAppManagementAssignmentFilterId":"` + fguid + `","deviceAndAppManagementAssignmentFilterType":"include"}`), TypeGroup},
		{"exclusion group", target(`{"@odata.type":"#microsoft.graph.exclusionGroupAssignmentTarget","groupId":"` + guid + `"}`), TypeExclusion},
		{"all licensed users", target(`{"@odata.type":"#microsoft.graph.allLicensedUsersAssignmentTarget"}`), TypeAllLicensed},
		{"all devices with exclude filter", target(`{"@odata.type":"microsoft.graph.allDevicesAssignmentTarget","deviceAndAppManagementAssignmentFilterId":"` + fguid + `","deviceAndAppManagementAssignmentFilterType":"exclude"}`), TypeAllDevices},
		{"filter type none without id", target(`{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget","deviceAndAppManagementAssignmentFilterType":"none","deviceAndAppManagementAssignmentFilterId":null}`), TypeAllDevices},
		{"configuration manager collection", target(`{"@odata.type":"#microsoft.graph.configurationManagerCollectionAssignmentTarget","collectionId":"SMS00001"}`), TypeCMCollection},
		{"scope tag group", target(`{"@odata.type":"#microsoft.graph.scopeTagGroupAssignmentTarget","targetType":"device","entraObjectId":"` + guid + `"}`), TypeScopeTagGroup},
		{"full Graph form with source", `{"@odata.type":"#microsoft.graph.enrollmentConfigurationAssignment","id":"` + asgID + `","target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"` + guid + `"},"source":"policySets","sourceId":"abc"}`, TypeGroup},
		{"sourceId null", `{"target":{"@odata.type":"#microsoft.graph.allLicensedUsersAssignmentTarget"},"source":"direct","sourceId":null}`, TypeAllLicensed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Decode([]byte(envelope(tt.assignment)), nil)
			if err != nil {
				t.Fatalf("Decode = %v", err)
			}
			if r.Assignment.Target.ODataType != tt.wantType {
				t.Errorf("target type = %q, want %q", r.Assignment.Target.ODataType, tt.wantType)
			}
			if r.Assignment.ODataType != TypeAssignment || r.Assignment.ID != "" {
				t.Errorf("not normalized: type %q id %q", r.Assignment.ODataType, r.Assignment.ID)
			}
			b, _ := json.Marshal(r.Assignment)
			if !strings.Contains(string(b), `"@odata.type":"#microsoft.graph.`) || strings.Contains(string(b), `"id"`) {
				t.Errorf("Graph body %s", b)
			}
		})
	}
}

func TestDecodeRefusals(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		opts   *Options
		fields map[string]string // pointer → part of the reason
	}{
		{"missing groupId", envelope(target(`{"@odata.type":"#microsoft.graph.groupAssignmentTarget"}`)), nil,
			map[string]string{"/assignment/target/groupId": "required"}},
		{"groupId not a GUID", envelope(target(`{"@odata.type":"#microsoft.graph.exclusionGroupAssignmentTarget","groupId":"sales"}`)), nil,
			map[string]string{"/assignment/target/groupId": "GUID"}},
		{"unknown target type", envelope(target(`{"@odata.type":"#microsoft.graph.cloudPcManagementGroupAssignmentTarget","groupId":"` + guid + `"}`)), nil,
			map[string]string{"/assignment/target/@odata.type": "must be one of"}},
		{"missing target type", envelope(target(`{"groupId":"` + guid + `"}`)), nil,
			map[string]string{"/assignment/target/@odata.type": "required"}},
		{"property of another subtype", envelope(target(`{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget","groupId":"` + guid + `"}`)), nil,
			map[string]string{"/assignment/target/groupId": "not a property of allDevicesAssignmentTarget"}},
		{"bad filter type", envelope(target(`{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget","deviceAndAppManagementAssignmentFilterType":"only"}`)), nil,
			map[string]string{"/assignment/target/deviceAndAppManagementAssignmentFilterType": "none, include, exclude"}},
		{"include without filter id", envelope(target(`{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget","deviceAndAppManagementAssignmentFilterType":"include"}`)), nil,
			map[string]string{"/assignment/target/deviceAndAppManagementAssignmentFilterId": "required when the filter type is include"}},
		{"filter id without a type", envelope(target(`{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget","deviceAndAppManagementAssignmentFilterId":"` + fguid + `"}`)), nil,
			map[string]string{"/assignment/target/deviceAndAppManagementAssignmentFilterType": "include or exclude"}},
		{"filter id not a GUID", envelope(target(`{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget","deviceAndAppManagementAssignmentFilterId":"f","deviceAndAppManagementAssignmentFilterType":"include"}`)), nil,
			map[string]string{"/assignment/target/deviceAndAppManagementAssignmentFilterId": "GUID"}},
		{"collection id that is a GUID", envelope(target(`{"@odata.type":"#microsoft.graph.configurationManagerCollectionAssignmentTarget","collectionId":"` + guid + `"}`)), nil,
			map[string]string{"/assignment/target/collectionId": "groupAssignmentTarget"}},
		{"scope tag without its fields", envelope(target(`{"@odata.type":"#microsoft.graph.scopeTagGroupAssignmentTarget","targetType":"group"}`)), nil,
			map[string]string{"/assignment/target/targetType": "user, device", "/assignment/target/entraObjectId": "required"}},
		{"bad source", envelope(`{"target":{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget"},"source":"manual"}`), nil,
			map[string]string{"/assignment/source": "direct, policySets"}},
		{"unknown assignment property", envelope(`{"target":{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget"},"intent":"apply"}`), nil,
			map[string]string{"/assignment/intent": "unknown property"}},
		{"unknown target property", envelope(target(`{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget","groupID":"x"}`)), nil,
			map[string]string{"/assignment/target/groupID": "unknown property"}},
		{"wrong assignment type", envelope(`{"@odata.type":"#microsoft.graph.deviceConfigurationAssignment","target":{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget"}}`), nil,
			map[string]string{"/assignment/@odata.type": TypeAssignment}},
		{"id differs from assignmentId", envelope(`{"id":"other","target":{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget"}}`), nil,
			map[string]string{"/assignment/id": "assignmentId"}},
		{"missing target", envelope(`{}`), nil, map[string]string{"/assignment/target": "required"}},
		{"target of the wrong kind", envelope(`{"target":"all"}`), nil, map[string]string{"/assignment/target": "JSON object"}},
		{"groupId a number", envelope(target(`{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":5}`)), nil,
			map[string]string{"/assignment/target/groupId": "string"}},
		{"v1.0 refuses beta-only properties", envelope(`{"target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"` + guid + `","deviceAndAppManagementAssignmentFilterId":"` + fguid + `","deviceAndAppManagementAssignmentFilterType":"include"},"source":"direct","sourceId":"x"}`),
			&Options{GraphVersion: "v1.0"}, map[string]string{
				"/assignment/source": "beta only", "/assignment/sourceId": "beta only",
				"/assignment/target/deviceAndAppManagementAssignmentFilterId":   "beta only",
				"/assignment/target/deviceAndAppManagementAssignmentFilterType": "beta only"}},
		{"approved without approver", `{"ticket":{"id":"CHG1","state":"approved"},"configurationId":"` + cfgID + `","assignmentId":"` + asgID + `","assignment":` + target(`{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget"}`) + `}`, nil,
			map[string]string{"/ticket/approvedBy": "required"}},
		{"ticket url not http", strings.Replace(envelope(target(`{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget"}`)), `"approvedBy":"bob@contoso.com"`, `"approvedBy":"bob@contoso.com","url":"javascript:alert(1)"`, 1), nil,
			map[string]string{"/ticket/url": "http"}},
		{"control character in ticket id", strings.Replace(envelope(target(`{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget"}`)), `CHG0030042`, `CHG\n42`, 1), nil,
			map[string]string{"/ticket/id": "control"}},
		{"nothing at all", `{}`, nil, map[string]string{"/ticket/id": "required", "/ticket/state": "required", "/configurationId": "required", "/assignmentId": "required", "/assignment/target": "required"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode([]byte(tt.body), tt.opts)
			var ce *Error
			if !errors.As(err, &ce) || ce.Code != CodeInvalid {
				t.Fatalf("Decode = %v, want CodeInvalid", err)
			}
			got := map[string]string{}
			for _, f := range ce.Fields {
				got[f.Field] += f.Reason + "; "
			}
			for field, part := range tt.fields {
				if !strings.Contains(got[field], part) {
					t.Errorf("field %s: reasons %q, want one mentioning %q (all: %v)", field, got[field], part, got)
				}
			}
			for i := 1; i < len(ce.Fields); i++ {
				if ce.Fields[i-1].Field > ce.Fields[i].Field {
					t.Errorf("fields not sorted: %v", ce.Fields)
				}
			}
		})
	}
}

func TestGraphKeysThatCouldChangeTheURLAreRefused(t *testing.T) {
	for _, id := range []string{"", "a/b", "..", "a..b/../c", "a?b", "a%2Fb", "a#b", "a b", "a\x00b", "a\nb", "ä", strings.Repeat("a", 257), `a\b`, "a;b", "a.b"} {
		if ValidKey(id) {
			t.Errorf("ValidKey(%q) = true, want false", id)
		}
		body := strings.Replace(envelope(target(`{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget"}`)), `"configurationId":"`+cfgID+`"`, `"configurationId":`+jsonString(id), 1)
		_, err := Decode([]byte(body), nil)
		var ce *Error
		if !errors.As(err, &ce) || ce.Code != CodeInvalid || !hasField(ce, "/configurationId") {
			t.Errorf("Decode(configurationId %q) = %v, want a /configurationId error", id, err)
		}
	}
	for _, id := range []string{"a", cfgID, asgID, strings.Repeat("Z", 256), "x_y-z"} {
		if !ValidKey(id) {
			t.Errorf("ValidKey(%q) = false, want true", id)
		}
	}
}

func TestDecodeMalformed(t *testing.T) {
	for _, body := range []string{"", "{", `{"ticket":}`, "nul", `{"a":1}x`} {
		_, err := Decode([]byte(body), nil)
		if ErrorCode(err) != CodeMalformed {
			t.Errorf("Decode(%q) = %v, want CodeMalformed", body, err)
		}
	}
	for _, body := range []string{"[]", `"x"`, "42"} {
		if _, err := Decode([]byte(body), nil); ErrorCode(err) != CodeInvalid {
			t.Errorf("Decode(%q) = %v, want CodeInvalid", body, err)
		}
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func hasField(e *Error, field string) bool {
	for _, f := range e.Fields {
		if f.Field == field {
			return true
		}
	}
	return false
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(envelope(target(`{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"` + guid + `"}`))))
	f.Add([]byte(envelope(`{"target":{"@odata.type":"x","groupId":5},"z":1}`)))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := Decode(body, nil)
		if err == nil {
			// Accepted input is valid and safe to put into a URL.
			if !ValidKey(r.ConfigurationID) || !ValidKey(r.AssignmentID) || r.Assignment.Target == nil {
				t.Fatalf("accepted an invalid request: %+v", r)
			}
			if _, ok := Subtypes[r.Assignment.Target.ODataType]; !ok {
				t.Fatalf("accepted target type %q", r.Assignment.Target.ODataType)
			}
			if err := r.Validate(nil); err != nil {
				t.Fatalf("accepted request fails Validate: %v", err)
			}
			return
		}
		var ce *Error
		if !errors.As(err, &ce) || (ce.Code != CodeInvalid && ce.Code != CodeMalformed) {
			t.Fatalf("Decode error %v is not a coded client error", err)
		}
		// Reasons never quote values from the input (an input value that
		// is a piece of the product's own texts does not count).
		for _, fe := range ce.Fields {
			if v, ok := fixedTexts().Quotes(fe.Reason, changetest.Strings(body), 8); ok {
				t.Fatalf("reason %q quotes the input value %q", fe.Reason, v)
			}
		}
	})
}

// fixedTexts are the product's own texts, which an input value may repeat
// without a reason quoting it (changetest.FixedTexts).
var fixedTexts = sync.OnceValue(func() *changetest.Fixed { return changetest.FixedTexts(".") })

func TestUnknownKeysScanner(t *testing.T) {
	tests := []struct {
		obj  string
		want string
	}{
		{`{"groupId":"x","@odata.type":"t"}`, ""},
		{` { "gr\u006fupId" : "x" , "z\"q" : {"a":[1,{"b":"}"}]}, "n":null, "m":-1.5e3, "t":true } `, `z"q n m t`},
		{`{}`, ""},
		{`[1]`, ""},
		{`{"a":"\\\"","groupId":"x"}`, "a"},
	}
	for _, tt := range tests {
		if got := strings.Join(unknownKeys([]byte(tt.obj), targetKeys), " "); got != tt.want {
			t.Errorf("unknownKeys(%s) = %q, want %q", tt.obj, got, tt.want)
		}
	}
}

func TestApprovedInAnyCaseNeedsAnApprover(t *testing.T) {
	body := `{"ticket":{"id":"CHG1","state":"Approved"},"configurationId":"` + cfgID + `","assignmentId":"` + asgID + `","assignment":` + target(`{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget"}`) + `}`
	_, err := Decode([]byte(body), nil)
	var ce *Error
	if !errors.As(err, &ce) || !hasField(ce, "/ticket/approvedBy") {
		t.Fatalf("Decode(state Approved, no approver) = %v, want a /ticket/approvedBy error", err)
	}
}

func TestDuplicatePropertiesAreRefused(t *testing.T) {
	group := `{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"` + guid + `"}`
	tests := []struct{ body, field string }{
		{envelope(`{"target":` + group + `,"target":{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget"}}`), "/assignment/target"},
		{strings.Replace(envelope(target(group)), `"configurationId"`, `"ticket":null,"configurationId"`, 1), "/ticket"},
		{envelope(target(`{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"` + guid + `","groupId":"` + fguid + `"}`)), "/assignment/target/groupId"},
		// encoding/json matches names ignoring case, so these are duplicates too.
		{strings.Replace(envelope(target(group)), `"configurationId"`, `"Ticket":{"id":"X","state":"approved","approvedBy":"eve"},"configurationId"`, 1), "/Ticket"},
	}
	for _, tt := range tests {
		_, err := Decode([]byte(tt.body), nil)
		var ce *Error
		if !errors.As(err, &ce) || !hasField(ce, tt.field) {
			t.Errorf("Decode(%s) = %v, want a duplicate error at %s", tt.body, err, tt.field)
		}
	}
	if got := duplicateKeys([]byte(`{"a":[{"x":1,"x":2},{"y":"}"}],"b":{"c":{"d":1,"d":2}}}`)); strings.Join(got, " ") != "/a/0/x /b/c/d" {
		t.Errorf("duplicateKeys = %v", got)
	}
}

// TestDuplicateKeysDeep: pointers deeper than the scanner's first levels
// are built as well.
func TestDuplicateKeysDeep(t *testing.T) {
	body := `{"a":{"b":[{"c":{"d":[[{"e":{"f":{"g":{"h":{"x":1,"x":2}}}}}]]}}]},"a":0}`
	got := duplicateKeys([]byte(body))
	want := []string{"/a/b/0/c/d/0/0/e/f/g/h/x", "/a"}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("duplicateKeys(%s) = %q, want %q", body, got, want)
	}
}

// TestTextRefusesBidiControls: a ticket id or a person's name with a
// bidirectional control (which can make it read as another in a reply or
// a ticket note) is refused, naming the field; joiners stay allowed.
func TestTextRefusesBidiControls(t *testing.T) {
	for _, tt := range []struct {
		s  string
		ok bool
	}{{"CHG0030042", true}, {"CHG\u202e2400300", false}, {"CHG\u2066x\u2069", false}, {"a\u200fb", false}, {"\u0645\u200c\u06cc", true}} {
		if got := safeText(tt.s); got != tt.ok {
			t.Errorf("safeText(%q) = %v, want %v", tt.s, got, tt.ok)
		}
	}
}

// TestAsksDryRun: a dry-run flag's value asks for a dry run unless it is
// false or null, so that a flag meant as a dry run never applies.
func TestAsksDryRun(t *testing.T) {
	for raw, want := range map[string]bool{"": false, "false": false, "null": false, " false ": false, "true": true, `"true"`: true, "1": true, `"false"`: true, "{}": true} {
		if got := AsksDryRun([]byte(raw)); got != want {
			t.Errorf("AsksDryRun(%q) = %v, want %v", raw, got, want)
		}
	}
}

// TestDecodeReadsTheDryRunTheBodyAsks: a top-level property spelled like
// the flag (signed, as the body is) asks for a dry run; one inside the
// ticket or with false is not one; every body agrees with encoding/json.
func TestDecodeReadsTheDryRunTheBodyAsks(t *testing.T) {
	group := target(`{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"` + guid + `"}`)
	for add, want := range map[string]bool{`"dryRun":true,`: true, `"DRY_RUN":"yes",`: true, `"dry\u002drun":1,`: true, `"dryRun":false,`: false,
		`"dryRun":null,`: false, `"dry_run":true,"dryRun":false,`: true, `"dryRuns":true,`: false, ``: false} {
		body := strings.Replace(envelope(group), `{"ticket"`, `{`+add+`"ticket"`, 1)
		r, err := Decode([]byte(body), nil)
		if err != nil || r.DryRun != want {
			t.Errorf("Decode(%s): %v, DryRun = %v, want %v", body, err, r != nil && r.DryRun, want)
		}
		sameDecode(t, []byte(body), nil)
	}
	inTicket := strings.Replace(envelope(group), `"ticket":{`, `"ticket":{"dryRun":true,`, 1)
	if r, err := Decode([]byte(inTicket), nil); err != nil || r.DryRun {
		t.Errorf("Decode(%s) = %+v, %v: want no dry run (only the top level asks)", inTicket, r, err)
	}
}

// TestIsDryRunName: the dry-run flag's name in every spelling the routes
// take, and not a longer or shorter one.
func TestIsDryRunName(t *testing.T) {
	for name, want := range map[string]bool{"dryRun": true, "dryrun": true, "DRY_RUN": true, "dry-run": true, "Dry.Run": true, " dry run ": true,
		"dryRuns": false, "dryRu": false, "dry": false, "": false, "xdryrun": false, "dryrun2": false} {
		if got := IsDryRunName(name); got != want {
			t.Errorf("IsDryRunName(%q) = %v, want %v", name, got, want)
		}
	}
}
