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
