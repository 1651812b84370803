package config

import (
	"slices"
	"strings"
	"testing"
)

func TestLoadChat(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Senders.Slack.TeamID != "" || c.Senders.Slack.AllowedUsers != nil || c.Senders.Slack.ResponseType != "ephemeral" ||
		c.Senders.Teams.TenantID != "" || c.Senders.Teams.AllowedUsers != nil {
		t.Errorf("unset: %+v, want nobody allowed", c.Senders)
	}
	c, err = Load(env(map[string]string{
		EnvSlackTeamID: "T0001", EnvSlackAllowedUsers: "U0456EFGH, W0123", EnvSlackResponseType: "in_channel",
		EnvTeamsTenantID: "72f988bf-86f1-41af-91ab-2d7cd011db47", EnvTeamsAllowedUsers: "0A1B2C3D-0000-0000-0000-000000000042,29:1abcDEF-x",
	}))
	if err != nil {
		t.Fatal(err)
	}
	s, tm := c.Senders.Slack, c.Senders.Teams
	if s.TeamID != "T0001" || !slices.Equal(s.AllowedUsers, []string{"U0456EFGH", "W0123"}) || s.ResponseType != "in_channel" {
		t.Errorf("slack = %+v", s)
	}
	if !slices.Equal(tm.AllowedUsers, []string{"0a1b2c3d-0000-0000-0000-000000000042", "29:1abcDEF-x"}) {
		t.Errorf("teams = %+v", tm)
	}

	_, err = Load(env(map[string]string{
		EnvSlackTeamID: "contoso", EnvSlackAllowedUsers: "U0456EFGH,alice@contoso.com", EnvSlackResponseType: "everyone",
		EnvTeamsTenantID: "contoso.onmicrosoft.com", EnvTeamsAllowedUsers: "bob",
	}))
	if err == nil {
		t.Fatal("Load(bad chat settings) = nil")
	}
	for _, k := range []string{EnvSlackTeamID, EnvSlackAllowedUsers, EnvSlackResponseType, EnvTeamsTenantID, EnvTeamsAllowedUsers} {
		if !strings.Contains(err.Error(), k) {
			t.Errorf("error lacks %s: %v", k, err)
		}
	}
	if strings.Contains(err.Error(), "alice@contoso.com") {
		t.Errorf("error quotes a value: %v", err)
	}
	for _, k := range []string{EnvSlackTeamID, EnvSlackAllowedUsers, EnvSlackResponseType, EnvTeamsTenantID, EnvTeamsAllowedUsers} {
		if !slices.Contains(Keys(), k) {
			t.Errorf("Keys() lacks %s", k)
		}
	}
}
