package policy_test

import (
	"strings"
	"testing"

	"github.com/enrollhook/enrollhook/pkg/policy"
)

func TestChatApproval(t *testing.T) {
	p := mustParse(t, `{"version": 1, "chat": {
  "slack": {"commands": {"assign": ["*"], "show": ["*"]}, "approvers": ["U0APPROV1", "U0APPROV2"],
            "configurationApprovers": {"cfg_limits": ["U0LIMITS1"], "cfg_esp_*": ["U0ESPONLY"]}},
  "teams": {"commands": {"assign": ["*"], "show": ["*"]}, "approvers": ["2C3D0000-0000-4000-8000-0000000000E1"], "approval": "self"}}}`)
	if !p.SecondPerson("slack", "assign") {
		t.Error("slack names approvers: want second-person by default")
	}
	if p.SecondPerson("teams", "assign") {
		t.Error("teams says approval: self")
	}
	if policy.Default().SecondPerson("slack", "assign") {
		t.Error("the built-in policy asks for a second person")
	}
	for _, tt := range []struct {
		user, cfg string
		may       bool
	}{
		{"U0APPROV1", "cfg_other", true},
		{"U0APPROV2", "cfg_other", true},
		{"U0SOMEONE", "cfg_other", false},
		{"U0APPROV1", "cfg_limits", false}, // the configuration names its own approvers
		{"U0LIMITS1", "cfg_limits", true},
		{"U0ESPONLY", "cfg_esp_2", true},
		{"U0APPROV1", "cfg_esp_2", false},
		{"u0approv1", "cfg_other", false},  // Slack ids are exact
		{"U0APPROV1", "CFG_LIMITS", false}, // configuration ids are not: its own approvers still hold
		{"U0LIMITS1", "Cfg_Limits", true},
		{"U0APPROV1", "CFG_ESP_2", false},
	} {
		if got := p.MayApprove("slack", tt.user, tt.cfg); got != tt.may {
			t.Errorf("MayApprove(slack, %s, %s) = %v, want %v", tt.user, tt.cfg, got, tt.may)
		}
	}
	if !p.MayApprove("teams", "2c3d0000-0000-4000-8000-0000000000e1", "x") {
		t.Error("Teams object ids compare without regard to case")
	}
	_, err := policy.Parse([]byte(`{"version": 1, "chat": {"slack": {"commands": {"show": ["*"]}, "approval": "second-person"},
  "teams": {"commands": {"show": ["*"]}, "approval": "maybe", "approvers": ["not-an-id"], "configurationApprovers": {"bad/cfg": []}}}}`), "t", false)
	for _, want := range []string{"/chat/slack/approval: second-person needs approvers", "/chat/teams/approval: must be self or second-person",
		"/chat/teams/approvers/0: must be", "/chat/teams/configurationApprovers/(key): must be a configuration id"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse = %v\nwant %q", err, want)
		}
	}
}

func TestChatApprovalPerCommand(t *testing.T) {
	p := mustParse(t, `{"version": 1, "chat": {"slack": {"commands": {"assign": ["*"], "show": ["*"]}, "approvers": ["U0APPROV1"],
  "approval": {"assign": "second-person", "revert": "self"}}}}`)
	if !p.SecondPerson("slack", "assign") || p.SecondPerson("slack", "revert") {
		t.Errorf("per command: assign %v, revert %v; want second-person and self", p.SecondPerson("slack", "assign"), p.SecondPerson("slack", "revert"))
	}
	q := mustParse(t, `{"version": 1, "chat": {"slack": {"commands": {"assign": ["*"]}, "approvers": ["U0APPROV1"]}}}`)
	if !q.SecondPerson("slack", "assign") || !q.SecondPerson("slack", "revert") {
		t.Error("approvers named: both changing commands want a second person by default")
	}
	_, err := policy.Parse([]byte(`{"version": 1, "chat": {"slack": {"commands": {"show": ["*"]}, "approvers": ["U0APPROV1"],
  "approval": {"show": "self", "assign": "maybe"}}}}`), "t", false)
	for _, want := range []string{"/chat/slack/approval/show: a command that changes Intune", "/chat/slack/approval/assign: must be self or second-person"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse = %v, want %q", err, want)
		}
	}
}
