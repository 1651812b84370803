package wiring

import (
	"bytes"
	"os"
	"testing"

	"github.com/enrollhook/enrollhook/pkg/config"
	"github.com/enrollhook/enrollhook/pkg/source"
	"github.com/enrollhook/enrollhook/pkg/source/jira"
	"github.com/enrollhook/enrollhook/pkg/source/servicenow"
)

// TestRevertAndWindowSettingsReachTheSenders: the back-out settings and the
// Jira window fields, read by config, are what the adapters decode with.
func TestRevertAndWindowSettingsReachTheSenders(t *testing.T) {
	env := map[string]string{
		config.EnvServiceNowRevertState:  "-1",
		config.EnvJiraApprovedStatus:     "Approved",
		config.EnvJiraRevertStatus:       "Backed out",
		config.EnvJiraFieldWindowStart:   "customfield_10050",
		config.EnvJiraFieldWindowEnd:     "customfield_10051",
		config.EnvJiraFieldConfiguration: "customfield_10150",
		config.EnvJiraFieldAssignment:    "customfield_10151",
		config.EnvJiraFieldGroup:         "customfield_10152",
		config.EnvJiraFieldFilter:        "customfield_10153",
		config.EnvJiraFieldFilterType:    "customfield_10154",
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("config.Load = %v", err)
	}
	for _, tt := range []struct {
		name, secret, sample string
	}{
		{servicenow.Name, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "../source/servicenow/testdata/revert.json"},
		{jira.Name, "jira-test-secret-0123456789", "../source/jira/testdata/issue-reverted.json"},
	} {
		src, err := adapters[tt.name].build(tt.secret, cfg)
		if err != nil {
			t.Fatalf("%s: build = %v", tt.name, err)
		}
		body, err := os.ReadFile(tt.sample)
		if err != nil {
			t.Fatal(err)
		}
		// Only the back-out state asks for the revert.
		body = bytes.Replace(body, []byte(`"intune": {"action": "revert"}`), []byte(`"intune": {}`), 1)
		r, err := src.Decode(source.Delivery{Body: body}, nil)
		if err != nil || !r.Reverts() || r.Ticket.Window == nil {
			t.Errorf("%s: Decode(%s) = %+v, %v; want a revert with its window", tt.name, tt.sample, r, err)
		}
	}
}
