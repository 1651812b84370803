package generic

import (
	"bytes"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/signature"
)

// Name is the route segment of this sender: POST /hooks/generic.
const Name = "generic"

// Source authenticates and decodes generic deliveries.
type Source struct {
	key       []byte
	tolerance time.Duration
}

// New returns the generic sender for a Standard Webhooks secret ("whsec_…"
// or bare base64, at least 16 bytes) and a timestamp tolerance (default 5
// minutes when zero).
func New(secret string, tolerance time.Duration) (*Source, error) {
	key, err := signature.StandardKey(secret)
	if errors.Is(err, signature.ErrSecretSpelling) {
		return nil, errors.New("generic: the secret's base64 is not in its canonical spelling (a changed last character, a missing '=' or the URL-safe alphabet); set it exactly as generated")
	}
	if err != nil {
		return nil, errors.New("generic: the secret must be whsec_ followed by base64 (or bare base64) of at least 16 bytes")
	}
	if tolerance <= 0 {
		tolerance = 5 * time.Minute
	}
	return &Source{key: key, tolerance: tolerance}, nil
}

// Name returns "generic".
func (s *Source) Name() string { return Name }

// Authenticate verifies the Standard Webhooks signature over body, the raw
// bytes as received, and returns the delivery id (webhook-id, the same on
// every retry of a delivery). Errors are *change.Error with
// CodeUnauthenticated and Kind signature-missing, signature-malformed,
// body-re-encoded, signature-mismatch or timestamp-out-of-window.
func (s *Source) Authenticate(h http.Header, body []byte, now time.Time) (string, error) {
	id := h.Get(signature.HeaderWebhookID)
	err := signature.VerifyStandard(s.key, id, h.Get(signature.HeaderWebhookTimestamp),
		h.Get(signature.HeaderWebhookSignature), body, now, s.tolerance)
	switch {
	case err == nil:
		return id, nil
	case errors.Is(err, signature.ErrMissing):
		return "", &change.Error{Code: change.CodeUnauthenticated, Kind: "signature-missing",
			Message: "the request needs the headers webhook-id, webhook-timestamp and webhook-signature (Standard Webhooks)", Err: err}
	case errors.Is(err, signature.ErrMalformed):
		return "", &change.Error{Code: change.CodeUnauthenticated, Kind: "signature-malformed",
			Message: "a Standard Webhooks header is malformed: webhook-timestamp must be unix seconds, webhook-id 1 to 256 bytes of printable characters, webhook-signature a space-separated list with a v1 entry", Err: err}
	case errors.Is(err, signature.ErrTimestamp):
		return "", &change.Error{Code: change.CodeUnauthenticated, Kind: "timestamp-out-of-window",
			Message: "webhook-timestamp is outside the accepted window of " + s.tolerance.String() + "; check the sender's clock or re-sign the delivery", Err: err}
	case errors.Is(err, signature.ErrReencoded):
		return "", &change.Error{Code: change.CodeUnauthenticated, Kind: "body-re-encoded",
			Message: "a webhook-signature matches the body as it was signed, but the body was re-encoded on the way (JSON re-serialized with other whitespace or line endings, still base64, or a newline added); pass the raw bytes through", Err: err}
	default:
		return "", &change.Error{Code: change.CodeUnauthenticated, Kind: "signature-mismatch",
			Message: "no webhook-signature matches the body; check the secret and that the body is sent exactly as signed", Err: err}
	}
}

// Decode parses and validates the generic envelope.
func (s *Source) Decode(body []byte, opts *change.Options) (*change.Request, error) {
	return change.Decode(body, opts)
}

// Sign returns the three Standard Webhooks headers for body, for the send
// command and tests.
func Sign(secret, id string, ts time.Time, body []byte) (http.Header, error) {
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

// DevelopmentSecret is the published secret of `make run` and of the samples
// in events/. It protects nothing: the function refuses it unless Graph is
// the loopback emulator (see IsDevelopmentSecret).
const DevelopmentSecret = "whsec_ZW5yb2xsaG9vay1kZXZlbG9wbWVudC1zZWNyZXQtMDE="

// IsDevelopmentSecret reports whether secret decodes to the key of
// DevelopmentSecret in any spelling: with or without "whsec_", and read as
// leniently as any base64 decoder would (signature.LooseKey), so that a
// changed padding bit is still the published key.
func IsDevelopmentSecret(secret string) bool {
	key := signature.LooseKey(strings.TrimPrefix(strings.TrimSpace(secret), "whsec_"))
	dev, _ := signature.StandardKey(DevelopmentSecret)
	return key != nil && bytes.Equal(key, dev)
}
