package config

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestLoadJira(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	var problems []string
	bad := func(f string, a ...any) { problems = append(problems, fmt.Sprintf(f, a...)) }

	j := loadJira(env(nil), bad)
	if j.Mapped() || len(problems) > 0 {
		t.Fatalf("empty: %+v %v", j, problems)
	}

	j = loadJira(env(map[string]string{
		EnvJiraApprovedStatus: "Approved, Ready to apply", EnvJiraFieldConfiguration: "customfield_10150",
		EnvJiraFieldAssignment: "customfield_10151", EnvJiraFieldGroup: "customfield_10152",
		EnvJiraFieldFilter: "customfield_10153", EnvJiraFieldFilterType: "include",
	}), bad)
	if len(problems) > 0 || !slices.Equal(j.ApprovedStatuses, []string{"Approved", "Ready to apply"}) || j.FilterType != "include" {
		t.Fatalf("full: %+v %v", j, problems)
	}

	// Every problem of a broken mapping, together.
	problems = nil
	loadJira(env(map[string]string{
		EnvJiraFieldApproval: "Approval", EnvJiraFieldGroup: "customfield_1", EnvJiraFieldFilter: "customfield_1",
		EnvJiraFieldTargetType: "everyone",
	}), bad)
	all := strings.Join(problems, "\n")
	for _, want := range []string{EnvJiraFieldApproval + " must be a custom field id", EnvJiraFieldFilter + " names the same field",
		EnvJiraFieldTargetType + " must be", EnvJiraFieldConfiguration + " is required", EnvJiraFieldAssignment + " is required",
		" go together"} {
		if !strings.Contains(all, want) {
			t.Errorf("problems lack %q:\n%s", want, all)
		}
	}
	if len(problems) < 6 {
		t.Errorf("problems = %d, want every one listed:\n%s", len(problems), all)
	}
}

func TestLoadJiraRevertAndWindow(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	mapped := map[string]string{
		EnvJiraApprovedStatus: "Approved", EnvJiraFieldConfiguration: "customfield_10150",
		EnvJiraFieldAssignment: "customfield_10151", EnvJiraFieldGroup: "customfield_10152",
	}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range mapped {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name string
		env  map[string]string
		want string // a problem containing this; "" for none
	}{
		{"revert statuses and a window", with(EnvJiraRevertStatus, "Backed out, Rolled back",
			EnvJiraFieldWindowStart, "customfield_10050", EnvJiraFieldWindowEnd, "customfield_10051"), ""},
		{"a status in both lists", with(EnvJiraRevertStatus, "Backed out, APPROVED"), EnvJiraApprovedStatus + " and " + EnvJiraRevertStatus + " name the same status"},
		{"an empty revert status", with(EnvJiraRevertStatus, "Backed out,,"), EnvJiraRevertStatus + " must be a comma-separated list"},
		{"a start without an end", with(EnvJiraFieldWindowStart, "customfield_10050"), " go together: a change window"},
		{"a window field by name", with(EnvJiraFieldWindowStart, "Planned start", EnvJiraFieldWindowEnd, "customfield_10051"), EnvJiraFieldWindowStart + " must be a custom field id"},
		{"a window field used twice", with(EnvJiraFieldWindowStart, "customfield_10150", EnvJiraFieldWindowEnd, "customfield_10051"), " names the same field as"},
		{"revert statuses alone map the webhook", map[string]string{EnvJiraRevertStatus: "Backed out"}, EnvJiraFieldConfiguration + " is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var problems []string
			j := loadJira(env(tt.env), func(f string, a ...any) { problems = append(problems, fmt.Sprintf(f, a...)) })
			all := strings.Join(problems, "\n")
			if tt.want == "" {
				if len(problems) > 0 || len(j.RevertStatuses) != 2 || j.WindowStartField != "customfield_10050" || j.WindowEndField != "customfield_10051" {
					t.Fatalf("loadJira = %+v, %v", j, all)
				}
				return
			}
			if !strings.Contains(all, tt.want) {
				t.Fatalf("problems lack %q:\n%s", tt.want, all)
			}
		})
	}
}

func TestLoadServiceNowRevertState(t *testing.T) {
	for _, tt := range []struct {
		value, want string
		bad         bool
	}{
		{"", "", false},
		{" -1 ", "-1", false},
		{"back_out", "back_out", false},
		{"back\nout", "", true},
		{strings.Repeat("s", 65), "", true},
	} {
		var problems []string
		s := loadServiceNow(func(k string) string {
			if k == EnvServiceNowRevertState {
				return tt.value
			}
			return ""
		}, func(f string, a ...any) { problems = append(problems, fmt.Sprintf(f, a...)) })
		if s.RevertState != tt.want || (len(problems) > 0) != tt.bad {
			t.Errorf("loadServiceNow(%q) = %+v, %v; want %q, problem %v", tt.value, s, problems, tt.want, tt.bad)
		}
	}
}
