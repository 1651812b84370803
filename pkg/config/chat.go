package config

import (
	"strings"

	"github.com/enrollhook/enrollhook/pkg/sender"
)

// Chat sender settings: who may run commands. Unset means nobody (fail
// closed): the sender still answers, and refuses every command in its reply.
// The allow-lists' names are the sender registry's, which the adapters'
// refusals name too.
const (
	EnvSlackTeamID       = sender.SlackTeamVar
	EnvSlackAllowedUsers = sender.SlackUsersVar
	EnvSlackResponseType = "ENROLLHOOK_SLACK_RESPONSE_TYPE"
	EnvTeamsTenantID     = sender.TeamsTenantVar
	EnvTeamsAllowedUsers = sender.TeamsUsersVar
)

// Slack is who may run /intune, and how replies show.
type Slack struct {
	// TeamID is the workspace (T…, or E… on Enterprise Grid).
	TeamID string
	// AllowedUsers are Slack member ids (U… or W…).
	AllowedUsers []string
	// ResponseType of outcome replies: ephemeral (default, only the user
	// sees it) or in_channel. Help, usage and refusals stay ephemeral.
	ResponseType string
}

// Teams is who may run commands through the outgoing webhook.
type Teams struct {
	// TenantID is the Entra tenant (GUID) of the team.
	TenantID string
	// AllowedUsers are Entra object ids (GUIDs, the activity's
	// from.aadObjectId) or Teams user ids (29:…, from.id).
	AllowedUsers []string
}

func loadChat(get func(string) string, c *Config, bad func(string, ...any)) {
	s := Slack{TeamID: get(EnvSlackTeamID), ResponseType: orDefault(get(EnvSlackResponseType), "ephemeral")}
	if s.TeamID != "" && !sender.IsSlackTeam(s.TeamID) {
		bad("%s must be a Slack team id such as T0123ABCD (or E… on Enterprise Grid)", EnvSlackTeamID)
	}
	s.AllowedUsers = idList(get(EnvSlackAllowedUsers), sender.IsSlackUser,
		func() {
			bad("%s must be a comma-separated list of Slack member ids such as U0456EFGH", EnvSlackAllowedUsers)
		})
	if s.ResponseType != "ephemeral" && s.ResponseType != "in_channel" {
		bad("%s must be ephemeral or in_channel", EnvSlackResponseType)
	}
	t := Teams{TenantID: get(EnvTeamsTenantID)}
	if t.TenantID != "" && !sender.IsGUID(t.TenantID) {
		bad("%s must be the Entra tenant id (a GUID)", EnvTeamsTenantID)
	}
	t.AllowedUsers = idList(get(EnvTeamsAllowedUsers), sender.IsTeamsUser,
		func() {
			bad("%s must be a comma-separated list of Entra object ids (GUIDs) or Teams user ids (29:…)", EnvTeamsAllowedUsers)
		})
	for i, u := range t.AllowedUsers {
		if sender.IsGUID(u) {
			t.AllowedUsers[i] = strings.ToLower(u)
		}
	}
	c.Senders.Slack, c.Senders.Teams = s, t
}

// idList splits a comma-separated list, reporting once when an entry is
// not valid; the entries are never quoted.
func idList(v string, valid func(string) bool, report func()) []string {
	if v == "" {
		return nil
	}
	var out []string
	for _, id := range strings.Split(v, ",") {
		id = strings.TrimSpace(id)
		if id == "" {
			continue
		}
		if !valid(id) {
			report()
			return nil
		}
		out = append(out, id)
	}
	return out
}
