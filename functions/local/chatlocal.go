package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/enrollhook/enrollhook/pkg/config"
	"github.com/enrollhook/enrollhook/pkg/source/slack"
	"github.com/enrollhook/enrollhook/pkg/source/teams"
)

// The people the chat samples in events/ come from; `serve -emulator`
// allows them unless the environment says who may run commands.
const (
	sampleSlackTeam   = "T0001"
	sampleSlackUser   = "U0456EFGH"
	sampleTeamsTenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	sampleTeamsUser   = "0a1b2c3d-0000-0000-0000-000000000042"
)

// chatDevOverrides adds, for `serve -emulator`, the development secrets of
// the Slack and Teams senders and the sample users as the allowed ones,
// unless the environment sets them.
func chatDevOverrides(getenv func(string) string, overrides map[string]string) {
	if getenv(config.SecretKey(slack.Name)) == "" {
		overrides[config.SecretKey(slack.Name)] = slack.DevelopmentSecret
	}
	if getenv(config.SecretKey(teams.Name)) == "" {
		overrides[config.SecretKey(teams.Name)] = teams.DevelopmentSecret
	}
	if getenv(config.EnvSlackTeamID) == "" && getenv(config.EnvSlackAllowedUsers) == "" {
		overrides[config.EnvSlackTeamID], overrides[config.EnvSlackAllowedUsers] = sampleSlackTeam, sampleSlackUser
	}
	if getenv(config.EnvTeamsTenantID) == "" && getenv(config.EnvTeamsAllowedUsers) == "" {
		overrides[config.EnvTeamsTenantID], overrides[config.EnvTeamsAllowedUsers] = sampleTeamsTenant, sampleTeamsUser
	}
}

// signChat returns the authentication headers (and Content-Type) of the
// slack and teams routes for body, and the body to send: a Teams activity
// gets a fresh timestamp first, since it is checked against the replay
// window. handled is false for any other route. secret defaults to the
// sender's variable, then to its development secret.
func signChat(route, secret string, body []byte, now time.Time, getenv func(string) string) (h http.Header, out []byte, handled bool, err error) {
	name := strings.TrimPrefix(route, "/hooks/")
	if name != slack.Name && name != teams.Name {
		return nil, body, false, nil
	}
	if secret == "" {
		secret = getenv(config.SecretKey(name))
	}
	if name == slack.Name {
		if secret == "" {
			secret = slack.DevelopmentSecret
		}
		h, err = slack.Sign(secret, now, body)
		if err == nil {
			h.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		return h, body, true, err
	}
	if secret == "" {
		secret = teams.DevelopmentSecret
	}
	body = teams.Restamp(body, now)
	h, err = teams.Sign(secret, body)
	if err == nil {
		h.Set("Content-Type", "application/json; charset=utf-8")
	}
	return h, body, true, err
}

// printChatEvent prints ev with the headers and body signChat produced,
// the body base64-encoded again when the event says so.
func printChatEvent(stdout io.Writer, ev map[string]any, h http.Header, body []byte) error {
	headers, ok := ev["headers"].(map[string]any)
	if !ok {
		headers = map[string]any{}
		ev["headers"] = headers
	}
	for k := range h {
		headers[strings.ToLower(k)] = h.Get(k)
	}
	if b64, _ := ev["isBase64Encoded"].(bool); b64 {
		ev["body"] = base64.StdEncoding.EncodeToString(body)
	} else {
		ev["body"] = string(body)
	}
	out, err := json.MarshalIndent(ev, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s\n", out)
	return err
}
