package servicenow

import (
	"strings"
	"testing"
	"time"
)

// TestWebhookIDsAsTheSpecificationAllows: a webhook-id with '.' is
// accepted (and is the delivery id of a body without an approval); one
// that is not printable is malformed, and the message says what is allowed.
func TestWebhookIDsAsTheSpecificationAllows(t *testing.T) {
	src, err := New(vecSecret, 0)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1714032000, 0) // the vector's time, as src takes it
	body := []byte(`{"type":"approval.approved","timestamp":"2024-04-25T08:00:00Z","data":{"ticket":"CHG0030042"}}`)
	id := "msg.2KWPBgLlAfxdpx2AI54pPJ85f4W"
	h, _ := Sign(vecSecret, id, now, body)
	if got, err := idOf(src.Authenticate(h, body, now)); err != nil || got != id {
		t.Errorf("Authenticate(webhook-id %q) = %q, %v; want the id back", id, got, err)
	}
	h, _ = Sign(vecSecret, "msg\x01x", now, body)
	_, err = src.Authenticate(h, body, now)
	ce := coded(t, err)
	if ce.Kind != "signature-malformed" {
		t.Fatalf("Authenticate(webhook-id with a control character) = %v, want signature-malformed", err)
	}
	if !strings.Contains(ce.Message, "printable") || strings.Contains(ce.Message, "'.'") {
		t.Errorf("message %q should say the id is printable characters, and not forbid '.'", ce.Message)
	}
}
