package policy_test

import (
	"strings"
	"testing"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/policy"
)

// TestScopeTagGroupTargetsHonourTheGroupAllowList: a scope-tag group target
// names its group by entraObjectId, not groupId. Allowing the kind must not
// open every group: the policy's groups list holds for it as for a group
// target, per sender and inherited from the default section.
func TestScopeTagGroupTargetsHonourTheGroupAllowList(t *testing.T) {
	p, err := policy.Parse([]byte(`{
  "version": 1,
  "default": {"groups": ["`+groupA+`"], "targetKinds": ["group", "scopeTagGroup"]},
  "senders": {"jira": {"groups": ["`+groupB+`"], "targetKinds": ["scopeTagGroup"]}}
}`), "scope-tags.json", false)
	if err != nil {
		t.Fatalf("Parse = %v", err)
	}
	scopeTag := func(group string) *change.Request {
		return req(target(change.Target{ODataType: change.TypeScopeTagGroup, TargetType: "user", EntraObjectID: group}))
	}
	tests := []struct {
		name, sender string
		r            *change.Request
		kind         change.Kind
		value        string
	}{
		{"listed group", "generic", scopeTag(groupA), "", ""},
		{"listed group, other case", "generic", scopeTag(strings.ToUpper(groupA)), "", ""},
		{"group not listed", "generic", scopeTag(groupX), change.KindPolicyGroup, groupX},
		{"another sender's group", "generic", scopeTag(groupB), change.KindPolicyGroup, groupB},
		{"the sender's own list", "jira", scopeTag(groupB), "", ""},
		{"not in the sender's own list", "jira", scopeTag(groupA), change.KindPolicyGroup, groupA},
		{"a groupId beside it does not count", "generic",
			req(target(change.Target{ODataType: change.TypeScopeTagGroup, TargetType: "user", EntraObjectID: groupX, GroupID: groupA})),
			change.KindPolicyGroup, groupX},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantKind(t, "Check("+tt.sender+")", p.Check(tt.sender, false, tt.r), tt.kind, tt.value)
		})
	}
}
