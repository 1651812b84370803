package main

import (
	"bytes"
	"context"
	"encoding/json"
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
