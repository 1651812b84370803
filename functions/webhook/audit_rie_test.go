package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

// TestAuditUnderRuntimeEmulator: the real bootstrap writes one audit line
// per decision and the EMF metrics to the Lambda JSON log.
func TestAuditUnderRuntimeEmulator(t *testing.T) {
	emu := httptest.NewServer(newEmulator(nil))
	defer emu.Close()
	fn := startRIE(t, append(emulatorEnv(emu), "ENROLLHOOK_SECRET_GENERIC="+rieSecret)...)
	for _, f := range []string{"generic-approved.json", "generic-rejected.json"} {
		raw, err := os.ReadFile("../../events/" + f)
		if err != nil {
			t.Fatal(err)
		}
		resp := fn.invoke(t, resign(t, raw, rieSecret, false))
		if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusForbidden {
			t.Fatalf("%s: %d %s", f, resp.StatusCode, resp.Body)
		}
	}
	fn.logs.AwaitCount(`"_aws"`, 2)
	// The Lambda JSON logger names time and msg "timestamp" and "message"
	// and adds the invocation's requestId; the rest is the audit line.
	want := map[string]bool{"timestamp": true, "level": true, "message": true, "requestId": true}
	for _, k := range []string{"xRequestId", "deliveryId", "sender", "action", "ticketId", "ticketUrl", "requester", "approver", "configurationId",
		"assignmentId", "before", "after", "graphRequestId", "clientRequestId", "outcome", "reason", "durationMs"} {
		want[k] = true
	}
	audits, metrics := map[string]map[string]any{}, map[string]map[string]any{}
	for _, line := range strings.Split(fn.logs.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil {
			continue
		}
		switch m["message"] {
		case "audit":
			if len(m) != len(want) {
				t.Errorf("audit line has %d keys, want %d: %s", len(m), len(want), line)
			}
			for k := range m {
				if !want[k] {
					t.Errorf("audit line key %q not in the audit set", k)
				}
			}
			audits[m["outcome"].(string)] = m
		case "metrics":
			if _, ok := m["_aws"].(map[string]any); !ok {
				t.Errorf("metrics line without _aws: %s", line)
			}
			for _, k := range []string{"Applied", "Refused"} {
				if _, ok := m[k]; ok {
					metrics[k] = m
				}
			}
		}
	}
	if a := audits["applied"]; a == nil || a["xRequestId"] != "req-generic-approved" || a["after"] == nil || a["graphRequestId"] == nil {
		t.Errorf("applied audit line = %v", a)
	}
	if r := audits["refused"]; r == nil || r["reason"] != "not-approved" || r["after"] != nil {
		t.Errorf("refused audit line = %v", r)
	}
	if metrics["Applied"] == nil || metrics["Refused"] == nil || metrics["Refused"]["reason"] != "not-approved" {
		t.Errorf("EMF documents: %v", metrics)
	}
	if t.Failed() {
		t.Logf("function output:\n%s", fn.logs.String())
	}
}
