package policy_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/policy"
)

const eventPolicy = `version: 1
senders:
  eventbridge:
    configurations: ["` + cfgESP + `"]
eventbridge:
  sources: ["com.contoso.cmdb", "aws.partner/servicenow.com/*"]
  accounts: ["111122223333"]
  detailTypes: ["Enrollment Change Approved"]
`

// TestCheckEvent: an event passes only when its source, account and
// detail-type are each listed; anything else is refused with policy-event,
// naming the value that is not.
func TestCheckEvent(t *testing.T) {
	p, err := policy.Parse([]byte(eventPolicy), "test", true)
	if err != nil {
		t.Fatal(err)
	}
	if !p.AllowsEvents() {
		t.Fatal("AllowsEvents() = false with an eventbridge section")
	}
	tests := []struct {
		name, source, account, detailType string
		kind                              change.Kind
		value                             string
	}{
		{"listed", "com.contoso.cmdb", "111122223333", "Enrollment Change Approved", "", ""},
		{"prefix source", "aws.partner/servicenow.com/111122223333/enroll", "111122223333", "Enrollment Change Approved", "", ""},
		{"other source", "com.contoso.hr", "111122223333", "Enrollment Change Approved", change.KindPolicyEvent, "com.contoso.hr"},
		{"source case", "COM.contoso.cmdb", "111122223333", "Enrollment Change Approved", change.KindPolicyEvent, "source"},
		{"other account", "com.contoso.cmdb", "444455556666", "Enrollment Change Approved", change.KindPolicyEvent, "444455556666"},
		{"other detail-type", "com.contoso.cmdb", "111122223333", "Enrollment Change Requested", change.KindPolicyEvent, "Enrollment Change Requested"},
		{"empty", "", "", "", change.KindPolicyEvent, "source"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantKind(t, "CheckEvent", p.CheckEvent(tt.source, tt.account, tt.detailType), tt.kind, tt.value)
		})
	}
	// The eventbridge sender's own rule holds its changes, as any sender's.
	wantKind(t, "eventbridge other configuration", p.Check("eventbridge", false, req(configuration(cfgLimits))), change.KindPolicyConfiguration, cfgLimits)
	wantKind(t, "eventbridge self-approved", p.Check("eventbridge", false, req(people("bob@contoso.com", "bob@contoso.com"))), change.KindPolicySeparationOfDuties, "")
}

// TestCheckEventFailsClosed: without an eventbridge section (the built-in
// policy, or a document without one) every event is refused.
func TestCheckEventFailsClosed(t *testing.T) {
	doc, err := policy.Parse([]byte("version: 1\n"), "test", true)
	if err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]*policy.Policy{"built-in": policy.Default(), "document": doc, "nil": nil} {
		if p.AllowsEvents() {
			t.Errorf("%s: AllowsEvents() = true", name)
		}
		wantKind(t, name, p.CheckEvent("com.contoso.cmdb", "111122223333", "Enrollment Change Approved"), change.KindPolicyEvent, "no eventbridge allow-list")
	}
	open, err := policy.Parse([]byte(`{"version":1,"eventbridge":{"sources":["*"],"accounts":["*"],"detailTypes":["*"]}}`), "test", false)
	if err != nil {
		t.Fatal(err)
	}
	wantKind(t, "any", open.CheckEvent("x", "111122223333", "y"), "", "")
}

// TestParseEventBridgeProblems: every list is required and checked; each
// problem names its place, never the value.
func TestParseEventBridgeProblems(t *testing.T) {
	tests := []struct {
		doc  string
		want []string
	}{
		{`{"version":1,"eventbridge":{}}`, []string{"/eventbridge/sources: required", "/eventbridge/accounts: required", "/eventbridge/detailTypes: required"}},
		{`{"version":1,"eventbridge":{"sources":[],"accounts":["111122223333"],"detailTypes":["x"]}}`, []string{"/eventbridge/sources: required"}},
		{`{"version":1,"eventbridge":{"sources":["a"],"accounts":["12345","1111222233334444*"],"detailTypes":["x"]}}`, []string{"/eventbridge/accounts/0: must be an AWS account id", "/eventbridge/accounts/1: must be an AWS account id"}},
		{`{"version":1,"eventbridge":{"sources":["a\u0001b","*x"],"accounts":["*"],"detailTypes":["` + strings.Repeat("d", 129) + `"]}}`, []string{"/eventbridge/sources/0: must be", "/eventbridge/detailTypes/0: must be"}},
		{`{"version":1,"eventbridge":{"sources":["a"],"accounts":["*"],"detailTypes":["x"],"buses":["default"]}}`, []string{"unknown property buses", "in eventbridge: sources, accounts, detailTypes"}},
		{`{"version":1,"senders":{"eventbridgex":{}}}`, []string{"/senders/eventbridgex: unknown sender; the senders are generic, servicenow, jira, slack, teams, eventbridge"}},
	}
	for _, tt := range tests {
		_, err := policy.Parse([]byte(tt.doc), "test", false)
		var pe *policy.Error
		if !errors.As(err, &pe) {
			t.Errorf("Parse(%s) = %v, want *policy.Error", tt.doc, err)
			continue
		}
		all := strings.Join(pe.Problems, "\n")
		for _, w := range tt.want {
			if !strings.Contains(all, w) {
				t.Errorf("Parse(%s) problems:\n%s\nwant one containing %q", tt.doc, all, w)
			}
		}
		if strings.Contains(all, "dddd") || strings.Contains(all, "12345") {
			t.Errorf("Parse(%s) problems quote a value:\n%s", tt.doc, all)
		}
	}
}
