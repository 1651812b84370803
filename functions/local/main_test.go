package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
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
	if err := run(context.Background(), []string{"sign", "-secret", secret, "../../events/generic-approved-base64.json"}, func(string) string { return "" }, &out, &errOut, nil); err != nil {
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
	if err != nil || id.ID != ev.Headers[signature.HeaderWebhookID] {
		t.Fatalf("re-signed sample does not verify: %v", err)
	}
}

func TestRunRefusesUnknownCommands(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"deploy"}, func(string) string { return "" }, &out, &errOut, nil); err == nil || !strings.Contains(err.Error(), "serve, send or sign") {
		t.Fatalf("run(deploy) = %v", err)
	}
}

// TestEventBridgeSamplesAreNotSent: send and sign refuse an EventBridge
// event (the events function's samples) and say where it goes, rather than
// posting it as a generic envelope that the route refuses for its fields.
func TestEventBridgeSamplesAreNotSent(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("send posted an EventBridge event to %s", r.URL.Path)
	}))
	defer srv.Close()
	for _, args := range [][]string{
		{"send", "-url", srv.URL, "../../events/eventbridge-approved.json"},
		{"sign", "-secret", "whsec_c2lnbi1jb21tYW5kLXRlc3Qtc2VjcmV0LTEyMw==", "../../events/eventbridge-refused-source.json"},
	} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), args, func(string) string { return "" }, &out, &errOut, nil)
		if err == nil || !strings.Contains(err.Error(), "is an EventBridge event") || !strings.Contains(err.Error(), args[len(args)-1]) {
			t.Errorf("%s: error %v, want the file named as an EventBridge event", args[0], err)
		}
		if out.Len() != 0 {
			t.Errorf("%s printed %s", args[0], out.String())
		}
	}
}
