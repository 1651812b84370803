package source

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/enrollhook/enrollhook/pkg/signature"
)

// StandardDevelopmentSecret is the published Standard Webhooks secret of
// `make run` and of the samples in events/, shared by the senders that sign
// with Standard Webhooks (generic, ServiceNow), so that one cold-start check
// refuses it outside the emulator. It protects nothing.
const StandardDevelopmentSecret = "whsec_ZW5yb2xsaG9vay1kZXZlbG9wbWVudC1zZWNyZXQtMDE="

// IsStandardDevelopmentSecret reports whether secret decodes to the key of
// StandardDevelopmentSecret in any spelling: with or without "whsec_", and
// read as leniently as any base64 decoder would (signature.LooseKey), so
// that a changed padding bit is still the published key.
func IsStandardDevelopmentSecret(secret string) bool {
	key := signature.LooseKey(strings.TrimPrefix(strings.TrimSpace(secret), "whsec_"))
	dev, _ := signature.StandardKey(StandardDevelopmentSecret)
	return key != nil && bytes.Equal(key, dev)
}

// SignStandard returns the three Standard Webhooks headers (webhook-id,
// webhook-timestamp, webhook-signature) for body, for the send command and
// tests.
func SignStandard(secret, id string, ts time.Time, body []byte) (http.Header, error) {
	key, err := signature.StandardKey(secret)
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	h.Set(signature.HeaderWebhookID, id)
	h.Set(signature.HeaderWebhookTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(signature.HeaderWebhookSignature, signature.SignStandard(key, id, ts, body))
	return h, nil
}
