package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/enrollhook/enrollhook/pkg/signature"
	"github.com/enrollhook/enrollhook/pkg/source/generic"
)

func TestSignMakesASampleVerifiableNow(t *testing.T) {
	const secret = "whsec_c2lnbi1jb21tYW5kLXRlc3Qtc2VjcmV0LTEyMw=="
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"sign", "-secret", secret, "../../events/generic-approved-base64.json"}, func(string) string { return "" }, &out, &errOut); err != nil {
		t.Fatalf("sign: %v %s", err, errOut.String())
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(out.Bytes(), &ev); err != nil {
		t.Fatal(err)
	}
	body, _, _, _, err := sample(out.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	src, err := generic.New(secret, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	for k, v := range ev.Headers {
		h.Set(k, v)
	}
	id, err := src.Authenticate(h, body, time.Now())
	if err != nil || id != ev.Headers[signature.HeaderWebhookID] {
		t.Fatalf("re-signed sample does not verify: %v", err)
	}
}

func TestRunRefusesUnknownCommands(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"deploy"}, func(string) string { return "" }, &out, &errOut); err == nil || !strings.Contains(err.Error(), "serve, send or sign") {
		t.Fatalf("run(deploy) = %v", err)
	}
}

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
