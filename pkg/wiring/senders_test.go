package wiring

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/enrollhook/enrollhook/pkg/config"
	"github.com/enrollhook/enrollhook/pkg/source/generic"
	"github.com/enrollhook/enrollhook/pkg/source/jira"
	"github.com/enrollhook/enrollhook/pkg/source/slack"
	"github.com/enrollhook/enrollhook/pkg/source/teams"
)

// TestDevelopmentSecretOnlyWithTheLoopbackEmulator: the published secret, in
// any spelling, fails the start unless Graph is the loopback emulator.
func TestDevelopmentSecretOnlyWithTheLoopbackEmulator(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	for _, secret := range []string{generic.DevelopmentSecret, strings.TrimPrefix(generic.DevelopmentSecret, "whsec_")} {
		env := map[string]string{"ENROLLHOOK_SECRET_GENERIC": secret}
		getenv := func(k string) string { return env[k] }
		if _, _, err := build(getenv, log, false); err == nil || !strings.Contains(err.Error(), "development secret") {
			t.Errorf("local server against real Graph with %q: build = %v, want refused", secret, err)
		}
		if _, _, err := build(getenv, log, true); err == nil || !strings.Contains(err.Error(), "development secret") {
			t.Errorf("Lambda with %q: build = %v, want refused", secret, err)
		}
		env["ENROLLHOOK_GRAPH_URL"] = "http://127.0.0.1:9/beta"
		if _, _, err := build(getenv, log, false); err != nil {
			t.Errorf("local server against the loopback emulator: build = %v, want accepted", err)
		}
	}
}

// TestBuildWarnsWhenNobodyMayRunChatCommands: a chat sender with a secret
// but no allow-list starts (its replies refuse everyone), and the cold-start
// log names the variables to set.
func TestBuildWarnsWhenNobodyMayRunChatCommands(t *testing.T) {
	env := map[string]string{
		"ENROLLHOOK_SECRET_SLACK":  slackSecret,
		"ENROLLHOOK_SECRET_TEAMS":  teamsToken,
		"ENROLLHOOK_SLACK_TEAM_ID": "T0001",
		"ENROLLHOOK_GRAPH_URL":     "http://127.0.0.1:1/beta",
		"IDENTITY_ENDPOINT":        "http://127.0.0.1:1/msi/token",
		"IDENTITY_HEADER":          "h",
	}
	var logs bytes.Buffer
	_, _, err := build(func(k string) string { return env[k] }, testLogger(&logs), false)
	if err != nil {
		t.Fatalf("build = %v", err)
	}
	for _, want := range []string{"ENROLLHOOK_SLACK_TEAM_ID and ENROLLHOOK_SLACK_ALLOWED_USERS", "ENROLLHOOK_TEAMS_TENANT_ID and ENROLLHOOK_TEAMS_ALLOWED_USERS", "nobody may run commands"} {
		if !bytes.Contains(logs.Bytes(), []byte(want)) {
			t.Errorf("cold-start log lacks %q:\n%s", want, logs.String())
		}
	}
	if bytes.Contains(logs.Bytes(), []byte(slackSecret)) || bytes.Contains(logs.Bytes(), []byte(teamsToken)) {
		t.Error("the cold-start log quotes a secret")
	}
	// The published development secrets are refused outside the loopback
	// emulator.
	env["ENROLLHOOK_SECRET_SLACK"], env["ENROLLHOOK_SECRET_TEAMS"] = slack.DevelopmentSecret, teams.DevelopmentSecret
	_, _, err = build(func(k string) string { return env[k] }, testLogger(&logs), true)
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("ENROLLHOOK_SECRET_SLACK is the published development secret")) ||
		!bytes.Contains([]byte(err.Error()), []byte("ENROLLHOOK_SECRET_TEAMS is the published development secret")) {
		t.Errorf("build(development secrets on Lambda) = %v", err)
	}
}

// TestBuildRefusesJiraDevSecretAndPartialMapping: outside the emulator the
// published Jira secret fails the cold start, and so does a partial field
// mapping, every problem listed.
func TestBuildRefusesJiraDevSecretAndPartialMapping(t *testing.T) {
	env := map[string]string{
		"ENROLLHOOK_SECRET_JIRA":            jira.DevelopmentSecret,
		"ENROLLHOOK_JIRA_FIELD_GROUP":       "customfield_10152",
		"ENROLLHOOK_JIRA_FIELD_FILTER_TYPE": "sometimes",
	}
	_, _, err := build(func(k string) string { return env[k] }, slog.New(slog.NewTextHandler(io.Discard, nil)), true)
	var cerr *config.Error
	if !errors.As(err, &cerr) {
		t.Fatalf("build = %v, want a configuration error", err)
	}
	all := strings.Join(cerr.Problems, "\n")
	for _, want := range []string{"ENROLLHOOK_SECRET_JIRA is the published development secret", config.EnvJiraFieldConfiguration,
		config.EnvJiraFieldAssignment, config.EnvJiraFieldFilterType, config.EnvJiraApprovedStatus} {
		if !strings.Contains(all, want) {
			t.Errorf("problems lack %q:\n%s", want, all)
		}
	}
	if strings.Contains(all, jira.DevelopmentSecret) {
		t.Errorf("problems quote the secret")
	}
}

// TestBuildRefusesShortBasicPassword: HTTP Basic carries no timestamp and
// signs no body, so a ServiceNow Basic password shorter than 16 characters
// fails the cold start, listed with the other problems, without its value.
func TestBuildRefusesShortBasicPassword(t *testing.T) {
	env := map[string]string{
		"ENROLLHOOK_SECRET_SERVICENOW": "basic:svc.enrollhook:Winter2025!x",
		"ENROLLHOOK_SECRET_JIRA":       jira.DevelopmentSecret,
	}
	_, _, err := build(func(k string) string { return env[k] }, slog.New(slog.NewTextHandler(io.Discard, nil)), true)
	var cerr *config.Error
	if !errors.As(err, &cerr) {
		t.Fatalf("build = %v, want a configuration error", err)
	}
	all := strings.Join(cerr.Problems, "\n")
	for _, want := range []string{"ENROLLHOOK_SECRET_SERVICENOW", "at least 16 characters", "ENROLLHOOK_SECRET_JIRA is the published development secret"} {
		if !strings.Contains(all, want) {
			t.Errorf("problems lack %q:\n%s", want, all)
		}
	}
	if strings.Contains(all, "Winter2025") {
		t.Errorf("problems quote the password:\n%s", all)
	}
}

// TestBuildWarnsWhenSecondPersonCannotWork: a policy that asks a second
// person to approve chat changes starts, but the cold-start log says what
// keeps approvers from approving: requests kept in one instance, and Slack
// replies only the requester sees.
func TestBuildWarnsWhenSecondPersonCannotWork(t *testing.T) {
	env := map[string]string{
		"ENROLLHOOK_SECRET_SLACK":        slackSecret,
		"ENROLLHOOK_SLACK_TEAM_ID":       "T0001",
		"ENROLLHOOK_SLACK_ALLOWED_USERS": "U0REQUEST",
		"ENROLLHOOK_GRAPH_URL":           "http://127.0.0.1:1/beta",
		"IDENTITY_ENDPOINT":              "http://127.0.0.1:1/msi/token",
		"IDENTITY_HEADER":                "h",
		"ENROLLHOOK_POLICY_JSON":         `{"version": 1, "chat": {"slack": {"commands": {"assign": ["*"]}, "approvers": ["U0APPROV1"]}}}`,
		"ENROLLHOOK_IDEMPOTENCY_TABLE":   "deliveries",
		"AWS_REGION":                     "eu-west-1",
		"AWS_ACCESS_KEY_ID":              "local",
		"AWS_SECRET_ACCESS_KEY":          "local",
	}
	for _, tt := range []struct {
		name         string
		set          map[string]string
		table, slack bool // whether each warning is wanted
	}{
		{"defaults", nil, true, true},
		{"table and in_channel", map[string]string{"ENROLLHOOK_CHANGE_TABLE": "changes", "ENROLLHOOK_SLACK_RESPONSE_TYPE": "in_channel"}, false, false},
	} {
		e := map[string]string{}
		for k, v := range env {
			e[k] = v
		}
		for k, v := range tt.set {
			e[k] = v
		}
		var logs bytes.Buffer
		if _, _, err := build(func(k string) string { return e[k] }, testLogger(&logs), true); err != nil {
			t.Fatalf("%s: build = %v", tt.name, err)
		}
		if got := bytes.Contains(logs.Bytes(), []byte("set ENROLLHOOK_CHANGE_TABLE")); got != tt.table {
			t.Errorf("%s: warns about the change table = %v, want %v:\n%s", tt.name, got, tt.table, logs.String())
		}
		if got := bytes.Contains(logs.Bytes(), []byte("ENROLLHOOK_SLACK_RESPONSE_TYPE=in_channel")); got != tt.slack {
			t.Errorf("%s: warns about ephemeral replies = %v, want %v:\n%s", tt.name, got, tt.slack, logs.String())
		}
	}
}
