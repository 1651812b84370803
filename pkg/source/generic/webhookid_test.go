package generic

import (
	"strings"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/change"
)

// TestWebhookIDsAsTheSpecificationAllows: a webhook-id with '.' (which the
// official libraries sign) is accepted and is the delivery id; one that is
// not printable is malformed, and the message says what is allowed.
func TestWebhookIDsAsTheSpecificationAllows(t *testing.T) {
	src, err := New(secret, 0)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1614265330, 0) // the published vector's time, as src takes it
	body := []byte(`{"test": 2432232314}`)
	for _, id := range []string{"msg.2KWPBgLlAfxdpx2AI54pPJ85f4W", "evt.CHG0030042.approved", strings.Repeat(".", 256)} {
		h, _ := Sign(secret, id, now, body)
		if got, err := src.Authenticate(h, body, now); err != nil || got.ID != id {
			t.Errorf("Authenticate(webhook-id %q) = %q, %v; want the id back", id, got.ID, err)
		}
	}
	h, _ := Sign(secret, "msg\x01x", now, body)
	_, err = src.Authenticate(h, body, now)
	ce, ok := err.(*change.Error)
	if !ok || ce.Kind != "signature-malformed" {
		t.Fatalf("Authenticate(webhook-id with a control character) = %v, want signature-malformed", err)
	}
	if !strings.Contains(ce.Message, "printable") || strings.Contains(ce.Message, "'.'") {
		t.Errorf("message %q should say the id is printable characters, and not forbid '.'", ce.Message)
	}
}
