package main

import (
	"encoding/base64"
	"encoding/json"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

// TestReplaysUnderRuntimeEmulator: through the real bootstrap, each
// approved sample is signed once (a captured delivery) and then invoked
// again with every part of the API Gateway event that no signature covers
// changed: the Jira identifier header, the query, Prefer, header-name case,
// the gateway's base64 re-encoding of the body and its request id. Graph
// sees exactly one write per sample.
func TestReplaysUnderRuntimeEmulator(t *testing.T) {
	emuState := newEmulator(nil)
	emu := httptest.NewServer(emuState)
	defer emu.Close()
	fn := startRIE(t, append(append(append(emulatorEnv(emu), "ENROLLHOOK_SECRET_GENERIC="+rieSecret), rieITSMEnv...), rieChatEnv...)...)

	variants := []struct {
		name string
		mod  func(ev map[string]any)
	}{
		{"sent again as it is", func(map[string]any) {}},
		{"another Jira identifier", func(ev map[string]any) { header(ev)["x-atlassian-webhook-identifier"] = "replayed-1" }},
		{"no Jira identifier", func(ev map[string]any) { delete(header(ev), "x-atlassian-webhook-identifier") }},
		{"dryRun=false", func(ev map[string]any) { ev["rawQueryString"] = "dryRun=false" }},
		{"dryRun=true", func(ev map[string]any) { ev["rawQueryString"] = "dryRun=true" }},
		{"Prefer: dry-run", func(ev map[string]any) { header(ev)["prefer"] = "dry-run" }},
		{"header names in another case", func(ev map[string]any) {
			h := map[string]any{}
			for k, v := range header(ev) {
				h[strings.ToUpper(k[:1])+k[1:]] = v
			}
			ev["headers"] = h
		}},
		{"body base64-encoded by the gateway", func(ev map[string]any) {
			if b64, _ := ev["isBase64Encoded"].(bool); !b64 {
				ev["body"] = base64.StdEncoding.EncodeToString([]byte(ev["body"].(string)))
				ev["isBase64Encoded"] = true
			}
		}},
		{"another gateway request id", func(ev map[string]any) {
			ev["requestContext"].(map[string]any)["requestId"] = "replayed-request-id"
		}},
	}
	for _, name := range []string{"generic-approved.json", "servicenow-approved.json", "jira-approved.json",
		"jira-envelope-approved.json", "slack-assign.json", "teams-assign.json"} {
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile("../../events/" + name)
			if err != nil {
				t.Fatal(err)
			}
			captured := resign(t, raw, rieSecret, false)
			before := emuState.Writes()
			if resp := fn.invoke(t, captured); resp.StatusCode != 200 {
				t.Fatalf("the captured delivery: %d %s", resp.StatusCode, resp.Body)
			}
			if n := emuState.Writes() - before; n != 1 {
				t.Fatalf("the captured delivery wrote %d times, want 1", n)
			}
			for _, v := range variants {
				var ev map[string]any
				if err := json.Unmarshal(captured, &ev); err != nil {
					t.Fatal(err)
				}
				v.mod(ev)
				event, _ := json.Marshal(ev)
				resp := fn.invoke(t, event)
				if n := emuState.Writes() - before; n != 1 {
					t.Fatalf("%s: Graph writes = %d after the replay (%d %s), want 1", v.name, n, resp.StatusCode, resp.Body)
				}
				if resp.StatusCode == 200 && resp.Headers["Idempotent-Replay"] != "true" {
					t.Errorf("%s: answered 200 without Idempotent-Replay: %v %s", v.name, resp.Headers, resp.Body)
				}
			}
		})
	}
}

func header(ev map[string]any) map[string]any { return ev["headers"].(map[string]any) }
