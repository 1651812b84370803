package webhook

import (
	"net/http"
	"strings"
	"testing"

	"github.com/enrollhook/enrollhook/pkg/idempotency"
)

// TestWebhookIDWithDotsIsAppliedOnceUnderTheContract: a generic delivery
// whose webhook-id holds '.' (as the official Standard Webhooks libraries
// sign) is applied, the exchange matches openapi.yaml, and the same id
// sent again is a replay, not a second write.
func TestWebhookIDWithDotsIsAppliedOnceUnderTheContract(t *testing.T) {
	for _, id := range []string{"msg.2KWPBgLlAfxdpx2AI54pPJ85f4W", "evt.CHG0030042.approved.3", strings.Repeat("a.", 128)} {
		t.Run(id[:min(len(id), 30)], func(t *testing.T) {
			hs := newHarness(t, &testOptions{Store: idempotency.NewMemory(nil, 0)})
			if w := hs.do(t, signedID(t, id, validBody, testNow)); w.Code != http.StatusOK {
				t.Fatalf("first delivery: status %d, body %s", w.Code, w.Body)
			}
			w := hs.do(t, signedID(t, id, validBody, testNow))
			if w.Code != http.StatusOK || w.Header().Get("Idempotent-Replay") != "true" {
				t.Errorf("second delivery: status %d, Idempotent-Replay %q; want the first answer replayed", w.Code, w.Header().Get("Idempotent-Replay"))
			}
			if n := hs.g.count(); n != 1 {
				t.Errorf("Graph writes = %d, want 1", n)
			}
		})
	}
}
