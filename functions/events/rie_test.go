package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/enrollhook/enrollhook/functions/internal/rietest"
	"github.com/enrollhook/enrollhook/pkg/graphemu"
)

// The events function under the Lambda runtime interface emulator, as
// functions/worker/rie_test.go drives the worker: the real bootstrap, built
// as `make build-EventsFunction` builds it, invoked with EventBridge events
// (the samples in events/ among them), against the Graph emulator, its
// managed-identity endpoint and the de-duplication table on dynalite.

// startEvents builds the bootstrap as the Makefile does (for this
// machine's architecture) and runs it under the emulator with env.
func startEvents(t testing.TB, env ...string) (invokeURL string, logs *rietest.Buffer) {
	t.Helper()
	rietest.Binary(t) // skipped without the emulator before building
	sink.EnvSecrets(env)
	f := rietest.Start(t, bootstrap.Build(t, "."), rietest.Options{Name: "enrollhook-events", Output: sink,
		Env: append([]string{"AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local"}, env...)})
	return f.URL, f.Logs
}

// bootstrap is the function's bootstrap, built once per test binary.
var bootstrap rietest.Bootstrap

// invoke sends one event and returns the function's error type, "" when
// it returned nil.
func invoke(t testing.TB, url string, ev []byte) (errorType string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", bytes.NewReader(ev))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if string(bytes.TrimSpace(raw)) == "null" {
		return ""
	}
	var e struct{ ErrorMessage, ErrorType string }
	if err := json.Unmarshal(raw, &e); err != nil || e.ErrorType == "" {
		t.Fatalf("invoke answered %d %s: neither null nor an error", resp.StatusCode, raw)
	}
	return e.ErrorType
}

func sampleEvent(t testing.TB, name string) events.EventBridgeEvent {
	t.Helper()
	raw, err := os.ReadFile("../../events/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var ev events.EventBridgeEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	ev.Time = time.Now().UTC() // an event of the day: older ones are refused
	return ev
}

func encode(t testing.TB, ev events.EventBridgeEvent) []byte {
	t.Helper()
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// auditOutcomes are the outcome and reason of each audit line so far.
func auditOutcomes(logs *rietest.Buffer) []string {
	var out []string
	for _, line := range strings.Split(logs.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil || m["msg"] != "audit" && m["message"] != "audit" {
			continue
		}
		r, _ := m["reason"].(string)
		o, _ := m["outcome"].(string)
		out = append(out, strings.TrimSuffix(o+" "+r, " "))
	}
	return out
}

// waitAudit returns the audit outcomes once there are n of them, or what
// there is after a while (the emulator relays the function's output
// asynchronously).
func waitAudit(logs *rietest.Buffer, n int) []string {
	logs.Await(func(string) bool { return len(auditOutcomes(logs)) >= n })
	return auditOutcomes(logs)
}

const allowList = `{"version":1,"eventbridge":{"sources":["com.contoso.cmdb"],"accounts":["111122223333"],"detailTypes":["Enrollment Change Approved"]}}`

func env(emu, endpoint, table, policy string) []string {
	return []string{
		"ENROLLHOOK_GRAPH_URL=" + emu + "/beta",
		"IDENTITY_ENDPOINT=" + emu + graphemu.TokenPath,
		"IDENTITY_HEADER=" + graphemu.DefaultIdentityHeader,
		"ENROLLHOOK_IDEMPOTENCY_TABLE=" + table,
		"AWS_ENDPOINT_URL_DYNAMODB=" + endpoint,
		"ENROLLHOOK_POLICY_JSON=" + policy,
	}
}

// TestEventsUnderRuntimeEmulator: EventBridge events through the real
// bootstrap: the approved sample (one write), the refused sample (a source
// not allow-listed), an account not allow-listed, the approved event
// delivered again with its id (no second write), a malformed detail and an
// invalid one (refused, not retried), and Graph throttling beyond what the
// invoke can wait (the invoke returns an error, so Lambda retries) followed
// by the retry of the same event id, which applies.
func TestEventsUnderRuntimeEmulator(t *testing.T) {
	endpoint, table := rietest.DeliveryTable(t)
	emuState := newEmulator(nil)
	emu := httptest.NewServer(emuState)
	defer emu.Close()
	url, logs := startEvents(t, env(emu.URL, endpoint, table, allowList)...)

	approved := sampleEvent(t, "eventbridge-approved.json")
	steps := []struct {
		name      string
		ev        events.EventBridgeEvent
		retry     bool
		writes    int
		lastAudit string
	}{
		{"approved sample", approved, false, 1, "applied"},
		{"refused sample", sampleEvent(t, "eventbridge-refused-source.json"), false, 1, "refused policy-event"},
		{"refused account", func() events.EventBridgeEvent {
			e := approved
			e.ID, e.AccountID = "ev-account", "444455556666"
			return e
		}(), false, 1, "refused policy-event"},
		{"duplicate event id", approved, false, 1, "replayed"},
		{"malformed detail", func() events.EventBridgeEvent {
			e := approved
			e.ID, e.Detail = "ev-malformed", json.RawMessage(`"change CHG0030042 approved"`)
			return e
		}(), false, 1, "refused invalid-fields"},
		{"invalid detail", func() events.EventBridgeEvent {
			e := approved
			e.ID, e.Detail = "ev-invalid", json.RawMessage(`{"ticket":{"id":"CHG1","state":"approved"},"configurationId":"../x"}`)
			return e
		}(), false, 1, "refused invalid-fields"},
	}
	audited := 0
	for _, s := range steps {
		if s.ev.Time.IsZero() {
			s.ev.Time = time.Now().UTC()
		}
		if got := invoke(t, url, encode(t, s.ev)); got != "" {
			t.Errorf("%s: the invoke returned an error (%s), want nil (decided)", s.name, got)
		}
		if n := emuState.Writes(); n != s.writes {
			t.Errorf("%s: Graph writes = %d, want %d", s.name, n, s.writes)
		}
		// Each step writes one audit line; the emulator copies the
		// function's output as it comes, so wait for it to arrive.
		audited++
		if a := waitAudit(logs, audited); len(a) != audited || a[len(a)-1] != s.lastAudit {
			t.Errorf("%s: audit outcomes %q, want %d, the last %q", s.name, a, audited, s.lastAudit)
		}
	}
	got, _ := emuState.Assignment(graphemu.ConfigESP, graphemu.AssignmentESPGroup)
	if !strings.Contains(string(got), "a1b2c3d4-0000-0000-0000-00000000f117") {
		t.Errorf("Graph holds %s, want the sample's filter", got)
	}

	// Graph throttles beyond what the invoke can wait: a transient failure,
	// returned, so that Lambda retries the event; the retry with the same
	// id reads the assignment (the throttled write's outcome was not
	// known), finds it as it was, and applies the change.
	busy := approved
	busy.ID, busy.Time = "ev-throttled", time.Now().UTC()
	busy.Detail = json.RawMessage(strings.NewReplacer("CHG0030042", "CHG0030043", `"include"`, `"exclude"`).Replace(string(approved.Detail)))
	emuState.Throttle(10, "120")
	if got := invoke(t, url, encode(t, busy)); got != "RetryError" {
		t.Errorf("throttled: the invoke returned %q, want the RetryError", got)
	}
	emuState.Throttle(0, "")
	if got := invoke(t, url, encode(t, busy)); got != "" {
		t.Errorf("the retry: the invoke returned an error (%s)", got)
	}
	if n := emuState.Writes(); n != 2 {
		t.Errorf("Graph writes = %d, want 2", n)
	}
	if n := emuState.TokenRequests(); n != 1 {
		t.Errorf("token requests = %d, want 1 (built once at cold start)", n)
	}
	wants := []string{`"outcome":"retry"`, `"problem":"policy-event"`, `"eventId":"ev-account"`, `"source":"com.contoso.hr"`, `"_aws":`}
	l := logs.AwaitAll(wants...)
	for _, want := range wants {
		if !strings.Contains(l, want) {
			t.Errorf("log lacks %s", want)
		}
	}
	if strings.Contains(l, "no eventbridge allow-list") {
		t.Error("the cold start warned of a missing allow-list the policy has")
	}
}

// TestEventsWithoutAllowListRefuseEverything: without an eventbridge
// section in the policy the cold start says so, and the approved sample is
// refused (final: the invoke returns nil) without reaching Graph.
func TestEventsWithoutAllowListRefuseEverything(t *testing.T) {
	endpoint, table := rietest.DeliveryTable(t)
	emuState := newEmulator(nil)
	emu := httptest.NewServer(emuState)
	defer emu.Close()
	url, logs := startEvents(t, env(emu.URL, endpoint, table, "")...)
	if got := invoke(t, url, encode(t, sampleEvent(t, "eventbridge-approved.json"))); got != "" {
		t.Errorf("the invoke returned an error (%s), want nil (refused)", got)
	}
	if n := emuState.Writes(); n != 0 {
		t.Errorf("Graph writes = %d, want 0", n)
	}
	if a := waitAudit(logs, 1); len(a) != 1 || a[0] != "refused policy-event" {
		t.Errorf("audit outcomes %q, want one refused policy-event", a)
	}
	if !strings.Contains(logs.AwaitAll("no eventbridge allow-list: every event is refused"), "no eventbridge allow-list: every event is refused") {
		t.Error("the cold-start log does not say that every event is refused")
	}
}

// TestEverySampleIsDriven: each EventBridge sample in events/ (the files
// the webhook's runtime-emulator test leaves to this one) is invoked by a
// test here.
func TestEverySampleIsDriven(t *testing.T) {
	files, _ := filepath.Glob("../../events/eventbridge-*.json")
	driven := []string{"eventbridge-approved.json", "eventbridge-refused-source.json"}
	if len(files) != len(driven) {
		t.Errorf("events/ has %d EventBridge samples, the tests drive %q", len(files), driven)
	}
	for _, f := range files {
		name := filepath.Base(f)
		found := false
		for _, d := range driven {
			found = found || d == name
		}
		if !found {
			t.Errorf("%s is driven by no test of functions/events", name)
		}
		_ = sampleEvent(t, name)
	}
}

// TestEventsPreflightUnderRuntimeEmulator: the events function answers an
// enrollhookCheck invoke with the preflight, run with its own role and
// environment, and EventBridge events still reach the handler after it.
func TestEventsPreflightUnderRuntimeEmulator(t *testing.T) {
	endpoint, table := rietest.DeliveryTable(t)
	emuState := newEmulator(nil)
	emu := httptest.NewServer(emuState)
	defer emu.Close()
	url, _ := startEvents(t, env(emu.URL, endpoint, table, allowList)...)
	rietest.PreflightReadyThenNot(t, url, graphemu.ConfigESP,
		func() { emuState.SetPermission(graphemu.PermissionNone) }, func() { emuState.SetPermission(graphemu.PermissionReadWrite) })
	if got := invoke(t, url, encode(t, sampleEvent(t, "eventbridge-approved.json"))); got != "" || emuState.Writes() != 1 {
		t.Errorf("an EventBridge event after the preflight: error %q, %d writes", got, emuState.Writes())
	}
}
