package main

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/enrollhook/enrollhook/pkg/graphemu"
	"github.com/enrollhook/enrollhook/pkg/signature"
	"github.com/enrollhook/enrollhook/pkg/source/slack"
	"github.com/enrollhook/enrollhook/pkg/source/teams"
)

// The chat senders' secrets under the runtime emulator (not the published
// development ones, which the cold start refuses on Lambda), and who may
// run commands: the people the samples come from.
const (
	rieSlackSecret = "rie-test-slack-signing-secret-0001"
	rieTeamsToken  = "cmllLXRlc3QtdGVhbXMtdG9rZW4tMzItYnl0ZXMhISE="

	// The people the chat samples in events/ come from.
	sampleSlackTeam   = "T0001"
	sampleSlackUser   = "U0456EFGH"
	sampleTeamsTenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	sampleTeamsUser   = "0a1b2c3d-0000-0000-0000-000000000042"
)

var rieChatEnv = []string{
	"ENROLLHOOK_SECRET_SLACK=" + rieSlackSecret,
	"ENROLLHOOK_SECRET_TEAMS=" + rieTeamsToken,
	"ENROLLHOOK_SLACK_TEAM_ID=" + sampleSlackTeam,
	"ENROLLHOOK_SLACK_ALLOWED_USERS=" + sampleSlackUser,
	"ENROLLHOOK_TEAMS_TENANT_ID=" + sampleTeamsTenant,
	"ENROLLHOOK_TEAMS_ALLOWED_USERS=" + sampleTeamsUser,
}

// rieChatReply is what each chat sample's 200 reply must say, by the
// sample's gateway request id; applied samples also name the target Graph
// must hold afterwards.
var rieChatReply = map[string]struct {
	says       string
	cfg, asg   string
	wantTarget string
}{
	"req-slack-assign": {"Done: assignment", graphemu.ConfigESP, graphemu.AssignmentESPGroup,
		`{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"` + graphemu.GroupCorporate + `","deviceAndAppManagementAssignmentFilterId":"` + graphemu.FilterCorporate + `","deviceAndAppManagementAssignmentFilterType":"include"}`},
	"req-slack-show":              {"targets all licensed users", "", "", ""},
	"req-slack-malformed-command": {"Nothing was changed", "", "", ""},
	"req-slack-not-allowed":       {"Refused, nothing was changed", "", "", ""},
	"req-teams-assign": {"Done: assignment", graphemu.ConfigPlatform, graphemu.AssignmentPlatformGroup,
		`{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"` + graphemu.GroupPlatform + `","deviceAndAppManagementAssignmentFilterId":"` + graphemu.FilterCorporate + `","deviceAndAppManagementAssignmentFilterType":"exclude"}`},
	"req-teams-help":        {"Usage:", "", "", ""},
	"req-teams-not-allowed": {"does not take commands from this workspace or tenant", "", "", ""},
}

// resignChat re-signs a Slack or Teams sample with the emulator run's
// secrets and the current time (a Teams activity gets a fresh timestamp in
// its body); with keepSig the sample's own signature stays. It reports
// whether the sample was a chat one.
func resignChat(t testing.TB, ev map[string]any, headers map[string]any, body []byte, keepSig bool) bool {
	t.Helper()
	now := time.Now()
	switch {
	case headers["x-slack-signature"] != nil:
		stamp := strconv.FormatInt(now.Unix(), 10)
		headers["x-slack-request-timestamp"] = stamp
		if !keepSig {
			h, err := slack.Sign(rieSlackSecret, now, body)
			if err != nil {
				t.Fatal(err)
			}
			headers["x-slack-signature"] = h.Get(signature.HeaderSlackSignature)
		}
		return true
	case ev["rawPath"] == "/hooks/teams":
		body = teams.Restamp(body, now)
		if !keepSig {
			h, err := teams.Sign(rieTeamsToken, body)
			if err != nil {
				t.Fatal(err)
			}
			headers["authorization"] = h.Get("Authorization")
		}
		if b64, _ := ev["isBase64Encoded"].(bool); b64 {
			ev["body"] = base64.StdEncoding.EncodeToString(body)
		} else {
			ev["body"] = string(body)
		}
		return true
	}
	return false
}

// checkChatReply checks the 200 answer of a chat sample: a Slack message or
// Teams activity saying what rieChatReply wants, and, for an assign, the
// target Graph holds. It reports whether ev was a chat sample.
func checkChatReply(t *testing.T, ev events.APIGatewayV2HTTPRequest, resp events.APIGatewayV2HTTPResponse, emu *graphemu.Server) bool {
	t.Helper()
	if ev.RawPath != "/hooks/slack" && ev.RawPath != "/hooks/teams" {
		return false
	}
	want, ok := rieChatReply[ev.RequestContext.RequestID]
	if !ok {
		t.Fatalf("no rieChatReply for %s", ev.RequestContext.RequestID)
	}
	var m struct {
		ResponseType string `json:"response_type"`
		Type, Text   string
	}
	if resp.Headers["Content-Type"] != "application/json" || json.Unmarshal([]byte(resp.Body), &m) != nil {
		t.Fatalf("answer %v %s, want a chat message", resp.Headers, resp.Body)
	}
	if ev.RawPath == "/hooks/slack" && m.ResponseType != "ephemeral" || ev.RawPath == "/hooks/teams" && m.Type != "message" {
		t.Errorf("answer %s is not a %s message", resp.Body, ev.RawPath)
	}
	if !strings.Contains(m.Text, want.says) {
		t.Errorf("reply %q lacks %q", m.Text, want.says)
	}
	if want.asg != "" {
		stored, ok := emu.Assignment(want.cfg, want.asg)
		if !ok {
			t.Fatalf("assignment %s gone from the emulator", want.asg)
		}
		var s struct{ Target json.RawMessage }
		_ = json.Unmarshal(stored, &s)
		if !sameTarget(t, []byte(want.wantTarget), s.Target) {
			t.Errorf("Graph holds %s, want %s", s.Target, want.wantTarget)
		}
		if resp.Headers["X-Graph-Request-Id"] == "" {
			t.Errorf("no X-Graph-Request-Id on an applied change")
		}
	}
	return true
}

// TestChatSamplesAreSignedWithTheDevelopmentSecrets: the samples in
// events/ verify with the published development secrets at the time they
// were signed (README), except those named bad-signature.
func TestChatSamplesAreSignedWithTheDevelopmentSecrets(t *testing.T) {
	files, _ := filepath.Glob("../../events/*.json")
	n := 0
	for _, file := range files {
		name := filepath.Base(file)
		if !strings.HasPrefix(name, "slack-") && !strings.HasPrefix(name, "teams-") {
			continue
		}
		n++
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var ev events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Fatal(err)
		}
		body := []byte(ev.Body)
		if ev.IsBase64Encoded {
			body, _ = base64.StdEncoding.DecodeString(ev.Body)
		}
		h := http.Header{}
		for k, v := range ev.Headers {
			h.Set(k, v)
		}
		at := time.UnixMilli(ev.RequestContext.TimeEpoch)
		var verr error
		if strings.HasPrefix(name, "slack-") {
			if !ev.IsBase64Encoded || h.Get("Content-Type") != "application/x-www-form-urlencoded" {
				t.Errorf("%s: a Slack sample is a base64 form body", name)
			}
			s, _ := slack.New(slack.DevelopmentSecret, nil)
			_, verr = s.Authenticate(h, body, at)
		} else {
			s, _ := teams.New(teams.DevelopmentSecret, nil)
			_, verr = s.Authenticate(h, body, at)
		}
		if bad := strings.Contains(name, "bad-signature"); (verr != nil) != bad {
			t.Errorf("%s: Authenticate with the development secret = %v", name, verr)
		}
	}
	if n == 0 {
		t.Fatal("no chat samples in events/")
	}
}
