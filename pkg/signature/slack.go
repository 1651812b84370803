package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// Slack request signing (v0) header names. Slack warns that their letter
// case may change; http.Header lookups are case-insensitive.
const (
	HeaderSlackSignature = "X-Slack-Signature"
	HeaderSlackTimestamp = "X-Slack-Request-Timestamp"
)

// minSlackSecret is the shortest signing secret accepted; Slack's are 32
// characters.
const minSlackSecret = 16

// SlackKey checks a Slack app signing secret and returns its key: the
// secret's UTF-8 bytes as they are (Slack does not encode it).
func SlackKey(secret string) ([]byte, error) {
	s := strings.TrimSpace(secret)
	if len(s) < minSlackSecret {
		return nil, ErrSecret
	}
	return []byte(s), nil
}

// SignSlack returns the X-Slack-Signature value ("v0=<64 hex>") for the
// timestamp header value and the raw body.
func SignSlack(key []byte, timestamp string, body []byte) string {
	return "v0=" + hex.EncodeToString(slackMAC(key, timestamp, body))
}

func slackMAC(key []byte, timestamp string, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("v0:"))
	m.Write([]byte(timestamp))
	m.Write([]byte{':'})
	m.Write(body)
	return m.Sum(nil)
}

// VerifySlack checks a Slack request over its raw body (form-encoded, after
// any base64 of API Gateway is undone): signature is X-Slack-Signature,
// timestamp X-Slack-Request-Timestamp, which must lie within tolerance of
// now either way. Errors: ErrSecret, ErrMissing, ErrMalformed (not unix
// seconds, or not "v0=" and 64 hex digits), ErrTimestamp, ErrReencoded (the
// signature matches a likely original of a re-encoded body), ErrMismatch.
func VerifySlack(key []byte, timestamp, signature string, body []byte, now time.Time, tolerance time.Duration) error {
	if len(key) == 0 {
		return ErrSecret
	}
	timestamp, signature = strings.TrimSpace(timestamp), strings.TrimSpace(signature)
	if timestamp == "" || signature == "" {
		return ErrMissing
	}
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil || len(timestamp) > 19 {
		return ErrMalformed
	}
	version, value, ok := strings.Cut(signature, "=")
	if !ok || version != "v0" || len(value) != hex.EncodedLen(sha256.Size) {
		return ErrMalformed
	}
	var got [sha256.Size]byte
	if _, err := hex.Decode(got[:], []byte(value)); err != nil {
		return ErrMalformed
	}
	if !Within(time.Unix(sec, 0), now, tolerance) {
		return ErrTimestamp
	}
	if hmac.Equal(got[:], slackMAC(key, timestamp, body)) {
		return nil
	}
	if reencoded(formBody, body, macMatches(func(b []byte) []byte { return slackMAC(key, timestamp, b) }, got[:])) {
		return ErrReencoded
	}
	return ErrMismatch
}
