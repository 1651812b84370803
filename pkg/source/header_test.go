package source_test

import (
	"net/http"
	"testing"

	"github.com/enrollhook/enrollhook/pkg/source"
)

// TestHeaderIsGet: Header reads a canonical key as http.Header.Get does,
// however the request spelt the header.
func TestHeaderIsGet(t *testing.T) {
	h := http.Header{}
	h.Set("webhook-id", "msg_1")
	h.Add("X-Request-Id", "a")
	h.Add("x-request-id", "b")
	for _, k := range []string{"Webhook-Id", "X-Request-Id", "Content-Type"} {
		if got, want := source.Header(h, k), h.Get(k); got != want {
			t.Errorf("Header(%q) = %q, Get = %q", k, got, want)
		}
	}
	if source.Header(h, "Webhook-Id") != "msg_1" || source.Header(h, "X-Request-Id") != "a" {
		t.Errorf("Header = %q, %q", source.Header(h, "Webhook-Id"), source.Header(h, "X-Request-Id"))
	}
}
