package generic

import (
	"errors"
	"net/http"
	"time"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/sender"
	"github.com/enrollhook/enrollhook/pkg/signature"
	"github.com/enrollhook/enrollhook/pkg/source"
)

// Name is the route segment of this sender: POST /hooks/generic.
const Name = sender.Generic

// Source authenticates and decodes generic deliveries.
type Source struct {
	key       []byte
	tolerance time.Duration
	words     source.Wording
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
		tolerance = signature.DefaultTolerance
	}
	return &Source{key: key, tolerance: tolerance,
		words: source.Standard(tolerance, "check the sender's clock or re-sign the delivery")}, nil
}

// Name returns "generic".
func (s *Source) Name() string { return Name }

// Authenticate verifies the Standard Webhooks signature over body, the raw
// bytes as received, and returns the delivery id (webhook-id, the same on
// every retry of a delivery). It reads nothing of the body: the envelope is
// parsed once, by Decode. Errors are *change.Error with CodeUnauthenticated
// and Kind signature-missing, signature-malformed, body-re-encoded,
// signature-mismatch or timestamp-out-of-window.
func (s *Source) Authenticate(h http.Header, body []byte, now time.Time) (source.Delivery, error) {
	id := source.Header(h, headerID)
	err := signature.VerifyStandard(s.key, id, source.Header(h, headerTimestamp), source.Header(h, headerSignature), body, now, s.tolerance)
	if err != nil {
		return source.Delivery{}, s.words.Refuse(err)
	}
	return source.Delivery{ID: id, Body: body}, nil
}

// The Standard Webhooks header names in their canonical form, which
// http.Header.Get reads without building it again for every request.
var (
	headerID        = http.CanonicalHeaderKey(signature.HeaderWebhookID)
	headerTimestamp = http.CanonicalHeaderKey(signature.HeaderWebhookTimestamp)
	headerSignature = http.CanonicalHeaderKey(signature.HeaderWebhookSignature)
)

// Decode parses and validates the generic envelope of d's body: the one
// parse of a generic delivery (change.Decode).
func (s *Source) Decode(d source.Delivery, opts *change.Options) (*change.Request, error) {
	return change.Decode(d.Body, opts)
}

// Sign returns the three Standard Webhooks headers for body, for the send
// command and tests.
func Sign(secret, id string, ts time.Time, body []byte) (http.Header, error) {
	return source.SignStandard(secret, id, ts, body)
}

// DevelopmentSecret is the published secret of `make run` and of the samples
// in events/. It protects nothing: the function refuses it unless Graph is
// the loopback emulator (see IsDevelopmentSecret).
const DevelopmentSecret = source.StandardDevelopmentSecret

// IsDevelopmentSecret reports whether secret is DevelopmentSecret in any
// spelling (source.IsStandardDevelopmentSecret).
func IsDevelopmentSecret(secret string) bool { return source.IsStandardDevelopmentSecret(secret) }
