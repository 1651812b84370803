package policy_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/policy"
)

const (
	cfgESP    = "2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_Windows10EnrollmentCompletionPageConfiguration"
	cfgLimits = "4d7d8b60-3333-4e80-9c5d-3b4f5e6d7c8b_PlatformRestrictions"
	cfgOther  = "9f9f9f9f-4444-4e80-9c5d-3b4f5e6d7c8b_DeviceLimit"
	groupA    = "5e6f0000-0000-0000-0000-000000000001"
	groupB    = "7a8b0000-0000-0000-0000-000000000002"
	groupX    = "0bad0000-0000-0000-0000-00000000000b"
	filterOK  = "a1b2c3d4-0000-0000-0000-00000000f117"
	filterX   = "a1b2c3d4-0000-0000-0000-00000000bad0"
)

// req builds an approved change; mods adjust it.
func req(mods ...func(*change.Request)) *change.Request {
	r := &change.Request{
		Ticket:          change.Ticket{ID: "CHG0030042", State: "approved", RequestedBy: "alice@contoso.com", ApprovedBy: "bob@contoso.com"},
		ConfigurationID: cfgESP,
		AssignmentID:    "2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_" + groupA,
		Assignment:      change.Assignment{Target: &change.Target{ODataType: change.TypeGroup, GroupID: groupA}},
	}
	for _, m := range mods {
		m(r)
	}
	return r
}

func target(t change.Target) func(*change.Request) {
	return func(r *change.Request) { r.Assignment.Target = &t }
}

func configuration(id string) func(*change.Request) {
	return func(r *change.Request) { r.ConfigurationID = id }
}

func people(requested, approved string) func(*change.Request) {
	return func(r *change.Request) { r.Ticket.RequestedBy, r.Ticket.ApprovedBy = requested, approved }
}

func load(t *testing.T, name string) *policy.Policy {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	p, err := policy.Parse(data, name, strings.HasSuffix(name, ".yaml"))
	if err != nil {
		t.Fatalf("Parse(%s) = %v", name, err)
	}
	return p
}

// wantKind checks err against the kind wanted ("" for allowed) and that the
// detail names value.
func wantKind(t *testing.T, what string, err error, kind change.Kind, value string) {
	t.Helper()
	if kind == "" {
		if err != nil {
			t.Errorf("%s = %v, want allowed", what, err)
		}
		return
	}
	var ce *change.Error
	if !errors.As(err, &ce) || ce.Code != change.CodeForbidden || ce.Kind != kind {
		t.Errorf("%s = %v, want forbidden %s", what, err, kind)
		return
	}
	if value != "" && !strings.Contains(ce.Message, value) {
		t.Errorf("%s: detail %q does not name %q", what, ce.Message, value)
	}
}

func TestDefault(t *testing.T) {
	p := policy.Default()
	tests := []struct {
		name  string
		chat  bool
		r     *change.Request
		kind  change.Kind
		value string
	}{
		{"group", false, req(), "", ""},
		{"exclusion with filter", false, req(target(change.Target{ODataType: change.TypeExclusion, GroupID: groupX, FilterID: filterX, FilterType: "include"})), "", ""},
		{"collection", false, req(target(change.Target{ODataType: change.TypeCMCollection, CollectionID: "SMS00001"})), "", ""},
		{"scope tag group", false, req(target(change.Target{ODataType: change.TypeScopeTagGroup, TargetType: "user", EntraObjectID: groupX})), "", ""},
		{"any configuration", false, req(configuration(cfgOther)), "", ""},
		{"all devices", false, req(target(change.Target{ODataType: change.TypeAllDevices})), change.KindPolicyWideTarget, "allDevicesAssignmentTarget"},
		{"all licensed users", false, req(target(change.Target{ODataType: change.TypeAllLicensed})), change.KindPolicyWideTarget, "allLicensedUsersAssignmentTarget"},
		{"all devices in chat", true, req(target(change.Target{ODataType: change.TypeAllDevices})), change.KindPolicyWideTarget, "allDevices"},
		{"self-approved", false, req(people("Alice@Contoso.com", "alice@contoso.com ")), change.KindPolicySeparationOfDuties, "alice@contoso.com"},
		{"no requester", false, req(people("", "bob@contoso.com")), "", ""},
		{"chat command is its own approval", true, req(people("slack:T0001/U0456EFGH", "slack:T0001/U0456EFGH")), "", ""},
		{"not a chat sender", true, req(people("bob@contoso.com", "bob@contoso.com")), change.KindPolicySeparationOfDuties, "bob@contoso.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sender := "generic"
			if tt.chat && tt.name != "not a chat sender" {
				sender = "slack"
			}
			wantKind(t, "Check", p.Check(sender, tt.chat, tt.r), tt.kind, tt.value)
		})
	}
	if err := p.CheckCommand("slack", "T0001", "U0456EFGH", "assign"); err != nil {
		t.Errorf("default CheckCommand = %v, want allowed (the allow-list decides)", err)
	}
	if p.Origin() != "built-in" {
		t.Errorf("Origin = %q", p.Origin())
	}
}

// TestRules: each rule of a policy file, allowing and refusing, for the
// default section and a sender's own.
func TestRules(t *testing.T) {
	for _, file := range []string{"policy.json", "policy.yaml"} {
		t.Run(file, func(t *testing.T) {
			p := load(t, file)
			tests := []struct {
				name, sender string
				r            *change.Request
				kind         change.Kind
				value        string
			}{
				// configuration: exact ids in default, a prefix for servicenow
				{"configuration listed", "generic", req(), "", ""},
				{"configuration not listed", "generic", req(configuration(cfgLimits)), change.KindPolicyConfiguration, cfgLimits},
				{"configuration by prefix", "servicenow", req(configuration(cfgLimits)), "", ""},
				{"configuration outside the prefix", "servicenow", req(configuration(cfgOther)), change.KindPolicyConfiguration, cfgOther},
				// groups (servicenow inherits the default's)
				{"group listed", "jira", req(target(change.Target{ODataType: change.TypeExclusion, GroupID: groupB})), "", ""},
				{"group listed, other case", "jira", req(target(change.Target{ODataType: change.TypeGroup, GroupID: strings.ToUpper(groupA)})), "", ""},
				{"group not listed", "jira", req(target(change.Target{ODataType: change.TypeGroup, GroupID: groupX})), change.KindPolicyGroup, groupX},
				{"group not listed, inherited", "servicenow", req(configuration(cfgLimits), target(change.Target{ODataType: change.TypeExclusion, GroupID: groupX})), change.KindPolicyGroup, groupX},
				// filters
				{"filter listed", "generic", req(target(change.Target{ODataType: change.TypeGroup, GroupID: groupA, FilterID: filterOK, FilterType: "include"})), "", ""},
				{"filter not listed", "generic", req(target(change.Target{ODataType: change.TypeGroup, GroupID: groupA, FilterID: filterX, FilterType: "exclude"})), change.KindPolicyFilter, filterX},
				{"filter none", "generic", req(target(change.Target{ODataType: change.TypeGroup, GroupID: groupA, FilterType: "none"})), "", ""},
				// collections
				{"collection listed", "generic", req(target(change.Target{ODataType: change.TypeCMCollection, CollectionID: "SMS00001"})), "", ""},
				{"collection not listed", "generic", req(target(change.Target{ODataType: change.TypeCMCollection, CollectionID: "SMS00004"})), change.KindPolicyCollection, "SMS00004"},
				// target kinds
				{"target kind not listed", "generic", req(target(change.Target{ODataType: change.TypeScopeTagGroup, TargetType: "user", EntraObjectID: groupA})), change.KindPolicyTargetKind, "scopeTagGroupAssignmentTarget"},
				{"target kind not listed for the sender", "servicenow", req(configuration(cfgLimits), target(change.Target{ODataType: change.TypeCMCollection, CollectionID: "SMS00001"})), change.KindPolicyTargetKind, "configurationManagerCollectionAssignmentTarget"},
				// wide targets: listed for servicenow only
				{"wide target listed", "servicenow", req(configuration(cfgLimits), target(change.Target{ODataType: change.TypeAllDevices})), "", ""},
				{"wide target not listed", "generic", req(target(change.Target{ODataType: change.TypeAllDevices})), change.KindPolicyWideTarget, "allDevicesAssignmentTarget"},
				{"other wide target not listed", "servicenow", req(configuration(cfgLimits), target(change.Target{ODataType: change.TypeAllLicensed})), change.KindPolicyWideTarget, "allLicensedUsersAssignmentTarget"},
				// separation of duties
				{"requester approves", "generic", req(people("bob@contoso.com", "BOB@contoso.com")), change.KindPolicySeparationOfDuties, "BOB@contoso.com"},
				{"another approver", "generic", req(people("alice@contoso.com", "bob@contoso.com")), "", ""},
			}
			for _, tt := range tests {
				wantKind(t, tt.name, p.Check(tt.sender, false, tt.r), tt.kind, tt.value)
			}
		})
	}
}

func TestSeparationOfDutiesSettings(t *testing.T) {
	self := req(people("bob@contoso.com", "bob@contoso.com"))
	off, err := policy.Parse([]byte(`{"version": 1, "separationOfDuties": false}`), "off", false)
	if err != nil {
		t.Fatal(err)
	}
	wantKind(t, "disabled, self-approved", off.Check("generic", false, self), "", "")
	strict, err := policy.Parse([]byte(`{"version": 1, "requireRequester": true}`), "strict", false)
	if err != nil {
		t.Fatal(err)
	}
	wantKind(t, "requireRequester, none", strict.Check("generic", false, req(people("", "bob@contoso.com"))), change.KindPolicySeparationOfDuties, "requestedBy")
	wantKind(t, "requireRequester, another", strict.Check("generic", false, req()), "", "")
	wantKind(t, "requireRequester, chat", strict.Check("slack", true, req(people("", "slack:T0001/U1"))), "", "")
	// A policy without the lists allows as the default does.
	wantKind(t, "bare policy, wide", strict.Check("generic", false, req(target(change.Target{ODataType: change.TypeAllLicensed}))), change.KindPolicyWideTarget, "")
}

func TestCommands(t *testing.T) {
	p := load(t, "policy.json")
	tests := []struct {
		sender, tenant, user, verb string
		kind                       change.Kind
		value                      string
	}{
		{"slack", "T0001", "U0456EFGH", "assign", "", ""},
		{"slack", "T0001", "U0999ZZZZ", "assign", change.KindPolicyCommand, "U0999ZZZZ"},
		{"slack", "T0001", "U0999ZZZZ", "show", "", ""},
		{"slack", "T0001", "U0999ZZZZ", "help", "", ""},
		{"slack", "T0002", "U0456EFGH", "assign", change.KindPolicyCommand, "T0002"},
		{"slack", "t0001", "U0456EFGH", "show", "", ""},
		// assign covers plan and revert, show covers history
		{"slack", "T0001", "U0456EFGH", "revert", "", ""},
		{"slack", "T0001", "U0999ZZZZ", "revert", change.KindPolicyCommand, "assign"},
		{"slack", "T0001", "U0999ZZZZ", "plan", change.KindPolicyCommand, "assign"},
		{"slack", "T0001", "U0999ZZZZ", "history", "", ""},
		// no chat section for teams: its allow-list alone decides
		{"teams", "8a1b2c3d-0000-4000-8000-00000000a11c", "anyone", "assign", "", ""},
	}
	for _, tt := range tests {
		wantKind(t, tt.sender+" "+tt.user+" "+tt.verb, p.CheckCommand(tt.sender, tt.tenant, tt.user, tt.verb), tt.kind, tt.value)
	}
	teams, err := policy.Parse([]byte(`{"version": 1, "chat": {"teams": {"commands": {"show": ["2C3D0000-0000-4000-8000-0000000000E1"]}}}}`), "teams", false)
	if err != nil {
		t.Fatal(err)
	}
	wantKind(t, "teams show, object id in lower case", teams.CheckCommand("teams", "any", "2c3d0000-0000-4000-8000-0000000000e1", "show"), "", "")
	wantKind(t, "teams assign, not listed", teams.CheckCommand("teams", "any", "2c3d0000-0000-4000-8000-0000000000e1", "assign"), change.KindPolicyCommand, "assign")
}

// TestParseListsEveryProblem: a document with many mistakes is refused with
// each of them, by JSON pointer, quoting no value.
func TestParseListsEveryProblem(t *testing.T) {
	doc := `{
  "version": 2,
  "requireRequester": true,
  "separationOfDuties": false,
  "default": {"configurations": ["../etc", "ok_*"], "groups": ["not-a-guid"], "filters": ["zzz"],
              "collections": ["SMS-1"], "targetKinds": ["group", "everybody"]},
  "senders": {"sharepoint": {}, "jira": {"groups": ["*", "x*y"]}},
  "chat": {"jira": {}, "slack": {"tenants": ["nope"], "commands": {"delete": ["U1AB"], "assign": ["bob"]}},
           "teams": {"tenants": ["T0001"]}}
}`
	_, err := policy.Parse([]byte(doc), "test.json", false)
	var pe *policy.Error
	if !errors.As(err, &pe) {
		t.Fatalf("Parse = %v, want *policy.Error", err)
	}
	want := []string{
		"/version", "/requireRequester", "/default/configurations/0", "/default/groups/0", "/default/filters/0",
		"/default/collections/0", "/default/targetKinds/1", "/senders/sharepoint", "/senders/jira/groups/1",
		"/chat/jira", "/chat/slack/tenants/0", "/chat/slack/commands/delete", "/chat/slack/commands/assign/0",
		"/chat/teams/tenants/0", "/chat/teams/commands",
	}
	for _, w := range want {
		found := false
		for _, p := range pe.Problems {
			if strings.HasPrefix(p, w+":") {
				found = true
			}
		}
		if !found {
			t.Errorf("problems lack %s: %q", w, pe.Problems)
		}
	}
	if len(pe.Problems) != len(want) {
		t.Errorf("problems = %d, want %d: %q", len(pe.Problems), len(want), pe.Problems)
	}
	for _, leak := range []string{"../etc", "not-a-guid", "zzz", "SMS-1", "everybody", "x*y", "nope", "bob"} {
		if strings.Contains(err.Error(), leak) {
			t.Errorf("error quotes %q: %v", leak, err)
		}
	}
}

func TestParseRefusesMalformedDocuments(t *testing.T) {
	tests := []struct {
		name, doc string
		yaml      bool
		want      string
	}{
		{"not JSON", `{"version": 1,`, false, "not valid JSON"},
		{"unknown property", `{"version": 1, "separationOfDutie": false}`, false, "unknown property"},
		{"unknown rule property", `{"version": 1, "default": {"group": []}}`, false, "unknown property"},
		{"wrong type", `{"version": 1, "default": {"groups": "5e6f0000-0000-0000-0000-000000000001"}}`, false, "/default/groups: must be a list of strings"},
		{"key twice", `{"version": 1, "default": {"targetKinds": ["group"], "targetKinds": ["allDevices"]}}`, false, "/default/targetKinds: given twice"},
		{"two documents", `{"version": 1} {"version": 1}`, false, "one object"},
		{"no version", `{}`, false, "/version"},
		{"YAML key twice", "version: 1\nversion: 1\n", true, "a key is given twice (line 2)"},
		{"YAML not a mapping", "- 1\n", true, "must be an object"},
		{"YAML syntax", "version: [1\n", true, "not valid YAML"},
		{"YAML complex key", "? [zz secret zz]\n: 1\n", true, "not valid YAML"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := policy.Parse([]byte(tt.doc), "doc", tt.yaml)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse(%q) = %v, want %q", tt.doc, err, tt.want)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	p, err := policy.Load(nil, "", false)
	if err != nil || p.Origin() != "built-in" {
		t.Fatalf("Load(nil) = %v, %v; want the default", p, err)
	}
	if _, err := policy.Load([]byte{}, "empty.json", false); err == nil {
		t.Error("Load(empty file) = nil error, want a problem (an empty file is not the default)")
	}
}

// FuzzParse: no document panics Parse or the checks of a policy it
// accepts, and a refusal never quotes a value of the document (keys are
// named, as a short word, to say which one is wrong).
func FuzzParse(f *testing.F) {
	for _, name := range []string{"policy.json", "policy.yaml"} {
		data, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, strings.HasSuffix(name, ".yaml"))
	}
	f.Add([]byte(`{"version":1,"default":{"groups":["zz secret zz"]}}`), false)
	f.Fuzz(func(t *testing.T, data []byte, yaml bool) {
		p, err := policy.Parse(data, "fuzz", yaml)
		if err == nil {
			_ = p.Check("generic", false, req())
			_ = p.Check("slack", true, req(target(change.Target{ODataType: change.TypeAllDevices})))
			_ = p.CheckCommand("slack", "T0001", "U0456EFGH", "assign")
			return
		}
		if strings.Contains(err.Error(), "zz secret zz") {
			t.Errorf("error quotes the document: %v", err)
		}
	})
}
