package sender_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/enrollhook/enrollhook/pkg/sender"
)

func TestRegistry(t *testing.T) {
	if got, want := sender.Names(), []string{"generic", "servicenow", "jira", "slack", "teams"}; !slices.Equal(got, want) {
		t.Errorf("Names() = %q, want %q", got, want)
	}
	if got, want := sender.ChatNames(), []string{"slack", "teams"}; !slices.Equal(got, want) {
		t.Errorf("ChatNames() = %q, want %q", got, want)
	}
	if got, want := sender.AsyncNames(), []string{"slack", "teams"}; !slices.Equal(got, want) {
		t.Errorf("AsyncNames() = %q, want %q", got, want)
	}
	for _, s := range sender.All() {
		if want := "ENROLLHOOK_SECRET_" + strings.ToUpper(s.Name); s.Secret != want {
			t.Errorf("%s: Secret = %q, want %q", s.Name, s.Secret, want)
		}
		if s.Kind != sender.ITSM && s.Kind != sender.Chat {
			t.Errorf("%s: Kind = %q", s.Name, s.Kind)
		}
		if got, ok := sender.Lookup(s.Name); !ok || got != s {
			t.Errorf("Lookup(%q) = %v, %v", s.Name, got, ok)
		}
		if got := s.Route(); got != "/hooks/"+s.Name {
			t.Errorf("%s: Route() = %q", s.Name, got)
		}
		if sender.IsChat(s.Name) != (s.Kind == sender.Chat) {
			t.Errorf("IsChat(%q) = %v", s.Name, sender.IsChat(s.Name))
		}
	}
	if _, ok := sender.Lookup("Generic"); ok {
		t.Error(`Lookup("Generic") found a sender; names are lower case`)
	}
	// All hands out a copy: a caller can change neither an entry nor the
	// length of the registry.
	all := sender.All()
	all[0].Name = "x"
	_ = append(all, sender.Sender{Name: "y"})
	if _, ok := sender.Lookup("x"); ok || len(sender.All()) != 5 || sender.All()[0].Name != sender.Generic {
		t.Error("changing what All() returned changed the registry")
	}
}

func TestIDForms(t *testing.T) {
	tests := []struct {
		name  string
		check func(string) bool
		in    string
		want  bool
	}{
		{"guid", sender.IsGUID, "2c3d0000-0000-4000-8000-0000000000E1", true},
		{"guid, braces", sender.IsGUID, "{2c3d0000-0000-4000-8000-0000000000e1}", false},
		{"slack team", sender.IsSlackTeam, "T0123ABCD", true},
		{"slack grid", sender.IsSlackTeam, "E0123ABCD", true},
		{"slack team, user id", sender.IsSlackTeam, "U0123ABCD", false},
		{"slack user", sender.IsSlackUser, "U0456EFGH", true},
		{"slack user W", sender.IsSlackUser, "W0456EFGH", true},
		{"slack user, lower", sender.IsSlackUser, "u0456efgh", false},
		{"teams object id", sender.IsTeamsUser, "2c3d0000-0000-4000-8000-0000000000e1", true},
		{"teams user id", sender.IsTeamsUser, "29:1AbC_d-E", true},
		{"teams, other", sender.IsTeamsUser, "28:bot", false},
		{"table", sender.IsServiceNowTable, "change_request", true},
		{"table, path", sender.IsServiceNowTable, "../x", false},
		{"table, upper", sender.IsServiceNowTable, "Change_request", false},
		{"sys_id", sender.IsServiceNowSysID, "62826bf03710200044e0bfc8bcbe5df1", true},
		{"sys_id, upper", sender.IsServiceNowSysID, "62826BF03710200044E0BFC8BCBE5DF1", true},
		{"sys_id, short", sender.IsServiceNowSysID, "62826bf03710200044e0bfc8bcbe5df", false},
		{"sys_id, not hex", sender.IsServiceNowSysID, "62826bf03710200044e0bfc8bcbe5dfg", false},
		{"jira key", sender.IsJiraIssueKey, "ITSM-42", true},
		{"jira key, underscore", sender.IsJiraIssueKey, "IT_SM2-7", true},
		{"jira key, number 0", sender.IsJiraIssueKey, "ITSM-0", false},
		{"jira key, lower", sender.IsJiraIssueKey, "itsm-42", false},
		{"jira key, path", sender.IsJiraIssueKey, "ITSM-42/../../myself", false},
		{"jira key, space", sender.IsJiraIssueKey, "itsm 42", false},
		{"jira field", sender.IsJiraFieldID, "customfield_10150", true},
		{"jira field, no number", sender.IsJiraFieldID, "customfield_", false},
		{"jira field, too long", sender.IsJiraFieldID, "customfield_1234567890123456789", false},
		{"jira field, not digits", sender.IsJiraFieldID, "customfield_10x", false},
		{"jira field, a fixed value", sender.IsJiraFieldID, "group", false},
		{"jira target type", sender.IsJiraTargetType, "allDevices", true},
		{"jira target type, case", sender.IsJiraTargetType, "ALLUSERS", true},
		{"jira target type, collection", sender.IsJiraTargetType, "collection", false},
	}
	for _, tt := range tests {
		if got := tt.check(tt.in); got != tt.want {
			t.Errorf("%s(%q) = %v, want %v", tt.name, tt.in, got, tt.want)
		}
	}
}

func TestEventSenders(t *testing.T) {
	if got, want := sender.KnownNames(), []string{"generic", "servicenow", "jira", "slack", "teams", "eventbridge"}; !slices.Equal(got, want) {
		t.Errorf("KnownNames() = %q, want %q", got, want)
	}
	for _, s := range sender.Events() {
		if s.Kind != sender.Event || s.Secret != "" || s.Async {
			t.Errorf("%s: %+v, want Kind event, no secret, not async", s.Name, s)
		}
		if !sender.IsEvent(s.Name) || !sender.Known(s.Name) {
			t.Errorf("IsEvent(%q), Known(%q) = false", s.Name, s.Name)
		}
		// An event sender is no route of the webhook.
		if _, ok := sender.Lookup(s.Name); ok || slices.Contains(sender.Names(), s.Name) {
			t.Errorf("%s is among the webhook's routes", s.Name)
		}
	}
	for _, n := range sender.Names() {
		if sender.IsEvent(n) || !sender.Known(n) {
			t.Errorf("%s: IsEvent = %v, Known = %v", n, sender.IsEvent(n), sender.Known(n))
		}
	}
	if sender.Known("EventBridge") {
		t.Error(`Known("EventBridge") = true; names are lower case`)
	}
}
