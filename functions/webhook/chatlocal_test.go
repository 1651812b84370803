package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/source/slack"
	"github.com/enrollhook/enrollhook/pkg/source/teams"
)

// TestSignChat: send and sign produce requests the chat senders accept now,
// with the development secrets by default.
func TestSignChat(t *testing.T) {
	now := time.Now()
	noEnv := func(string) string { return "" }
	for _, file := range []string{"../../events/slack-assign.json", "../../events/teams-assign.json"} {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		body, route, _, _, err := sample(raw)
		if err != nil {
			t.Fatal(err)
		}
		h, out, handled, err := signChat(route, "", body, now, noEnv)
		if !handled || err != nil {
			t.Fatalf("%s: signChat = %v, %v", file, handled, err)
		}
		hdr := http.Header{}
		for k, v := range h {
			hdr[k] = v
		}
		if route == "/hooks/slack" {
			s, _ := slack.New(slack.DevelopmentSecret, nil)
			if _, err := s.Authenticate(hdr, out, now); err != nil || hdr.Get("Content-Type") != "application/x-www-form-urlencoded" {
				t.Errorf("%s: %v %v", file, err, hdr)
			}
		} else {
			s, _ := teams.New(teams.DevelopmentSecret, nil)
			if _, err := s.Authenticate(hdr, out, now); err != nil || bytes.Equal(out, body) {
				t.Errorf("%s: Authenticate = %v (body restamped: %v)", file, err, !bytes.Equal(out, body))
			}
		}
		// sign: the event comes back with the new headers and body, encoded
		// as the event says.
		var ev map[string]any
		_ = json.Unmarshal(raw, &ev)
		var buf bytes.Buffer
		if err := printChatEvent(&buf, ev, h, out); err != nil {
			t.Fatal(err)
		}
		var back struct {
			Body            string `json:"body"`
			IsBase64Encoded bool   `json:"isBase64Encoded"`
		}
		_ = json.Unmarshal(buf.Bytes(), &back)
		got := []byte(back.Body)
		if back.IsBase64Encoded {
			got, _ = base64.StdEncoding.DecodeString(back.Body)
		}
		if !bytes.Equal(got, out) {
			t.Errorf("%s: printed body differs from the signed one", file)
		}
	}
	if _, _, handled, _ := signChat("/hooks/generic", "", nil, now, noEnv); handled {
		t.Error("signChat handled the generic route")
	}
}

// TestBuildWarnsWhenNobodyMayRunChatCommands: a chat sender with a secret
// but no allow-list starts (its replies refuse everyone), and the cold-start
// log names the variables to set.
func TestBuildWarnsWhenNobodyMayRunChatCommands(t *testing.T) {
	env := map[string]string{
		"ENROLLHOOK_SECRET_SLACK":  rieSlackSecret,
		"ENROLLHOOK_SECRET_TEAMS":  rieTeamsToken,
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
	if bytes.Contains(logs.Bytes(), []byte(rieSlackSecret)) || bytes.Contains(logs.Bytes(), []byte(rieTeamsToken)) {
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
