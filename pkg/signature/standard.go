package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Standard Webhooks (standardwebhooks.com, v1) header names.
const (
	HeaderWebhookID        = "webhook-id"
	HeaderWebhookTimestamp = "webhook-timestamp"
	HeaderWebhookSignature = "webhook-signature"
)

// Errors returned by the verifiers. None of them quotes a header, a
// signature or a secret.
var (
	// ErrMissing: a required signature header is absent or empty.
	ErrMissing = errors.New("signature: required header missing")
	// ErrMalformed: a header is present but not in the scheme's format.
	ErrMalformed = errors.New("signature: header malformed")
	// ErrMismatch: no signature matches the body.
	ErrMismatch = errors.New("signature: no signature matches the body")
	// ErrTimestamp: the signed timestamp is outside the tolerance window.
	ErrTimestamp = errors.New("signature: timestamp outside the accepted window")
	// ErrSecret: the configured secret is not usable.
	ErrSecret = errors.New("signature: secret is not valid")
)

// DefaultTolerance is the replay window of signed timestamps, both ways,
// unless the configuration (ENROLLHOOK_SIGNATURE_TOLERANCE) says otherwise:
// every sender adapter and config default to it.
const DefaultTolerance = 5 * time.Minute

// Within reports whether the signed time ts lies within tolerance of now,
// either way: the one replay-window test of every scheme and sender. A zero
// ts (absent or unreadable) never does.
func Within(ts, now time.Time, tolerance time.Duration) bool {
	skew := now.Sub(ts)
	return !ts.IsZero() && skew <= tolerance && skew >= -tolerance
}

// maxSignatures bounds the work one request can cause during rotation.
const maxSignatures = 8

// maxIDLength is the longest webhook-id the specification allows, in bytes.
const maxIDLength = 256

// validID reports whether id is a webhook-id as the specification allows
// it: non-empty, at most maxIDLength bytes, printable (no control or
// format characters, valid UTF-8). A '.' is allowed, as the official
// libraries sign such ids. The id is signed; reading the same signed
// content as id.timestamp.body split at another '.' would need a current
// unix time between two dots followed by a whole JSON change inside the
// body the sender signed, which no sender's body holds.
func validID(id string) bool {
	if id == "" || len(id) > maxIDLength || !utf8.ValidString(id) {
		return false
	}
	for _, r := range id {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// StandardKey decodes a Standard Webhooks secret: "whsec_" followed by
// base64, or the bare base64, of at least 16 bytes. The base64 is read
// strictly (see decodeKey), so one key has one spelling. Errors:
// ErrSecretSpelling (a lenient reading would decode it), ErrSecret.
func StandardKey(secret string) ([]byte, error) {
	return decodeKey(strings.TrimPrefix(strings.TrimSpace(secret), "whsec_"))
}

// SignStandard returns the webhook-signature header value ("v1,<base64>")
// for the message id, timestamp and raw body.
func SignStandard(key []byte, id string, ts time.Time, body []byte) string {
	return "v1," + base64.StdEncoding.EncodeToString(standardMAC(key, id, strconv.FormatInt(ts.Unix(), 10), body))
}

func standardMAC(key []byte, id, ts string, body []byte) []byte {
	m := getMAC(key)
	defer putMAC(key, m)
	return append([]byte(nil), m.standard(id, ts, body)...)
}

// strictBase64 decodes signatures: no padding bits left over.
var strictBase64 = base64.StdEncoding.Strict()

// VerifyStandard checks a Standard Webhooks delivery over its raw body.
// signatures is the webhook-signature header: space-separated "v1,<base64>"
// entries; any one matching is enough (secret rotation); other versions are
// ignored. The timestamp must lie within tolerance of now, both ways.
// Errors: ErrSecret, ErrMissing, ErrMalformed, ErrTimestamp, ErrReencoded
// (a signature matches the JSON body as it was before something re-encoded
// it on the way), ErrMismatch.
func VerifyStandard(key []byte, id, timestamp, signatures string, body []byte, now time.Time, tolerance time.Duration) error {
	if len(key) == 0 {
		return ErrSecret
	}
	if id == "" || timestamp == "" || signatures == "" {
		return ErrMissing
	}
	if !validID(id) {
		return ErrMalformed
	}
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return ErrMalformed
	}
	if !Within(time.Unix(sec, 0), now, tolerance) {
		return ErrTimestamp
	}
	m := getMAC(key)
	defer putMAC(key, m)
	var want [sha256.Size]byte
	copy(want[:], m.standard(id, timestamp, body))
	// The signatures received, kept for the re-encoding check.
	var gots [maxSignatures][sha256.Size]byte
	ngot, candidates := 0, 0
	for sig := range strings.FieldsSeq(signatures) {
		version, value, ok := strings.Cut(sig, ",")
		if !ok || version != "v1" {
			continue
		}
		if candidates++; candidates > maxSignatures {
			break
		}
		if len(value) != base64.StdEncoding.EncodedLen(sha256.Size) {
			continue
		}
		// 44 base64 characters decode to up to 33 bytes.
		var src [44]byte
		var got [sha256.Size + 1]byte
		copy(src[:], value)
		n, err := strictBase64.Decode(got[:], src[:])
		if err != nil || n != sha256.Size {
			continue
		}
		if hmac.Equal(got[:n], want[:]) {
			return nil
		}
		copy(gots[ngot][:], got[:n])
		ngot++
	}
	if candidates == 0 {
		return ErrMalformed
	}
	if ngot > 0 && reencoded(jsonBody, body, func(c []byte) bool {
		sum := m.standard(id, timestamp, c)
		ok := false
		for i := range ngot {
			if hmac.Equal(sum, gots[i][:]) {
				ok = true
			}
		}
		return ok
	}) {
		return ErrReencoded
	}
	return ErrMismatch
}
