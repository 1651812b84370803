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
