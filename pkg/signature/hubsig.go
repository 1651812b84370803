package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// HeaderHubSignature is the header of Jira's admin webhooks registered with
// a secret: "sha256=<hex>" (WebSub style). Jira sends this name, not
// GitHub's X-Hub-Signature-256.
const HeaderHubSignature = "X-Hub-Signature"

// SignHub returns the X-Hub-Signature value ("sha256=<hex>") for body: an
// HMAC-SHA256 keyed with the secret's UTF-8 bytes, as they are (no decoding).
func SignHub(secret string, body []byte) string {
	return "sha256=" + hex.EncodeToString(hubMAC(secret, body))
}

func hubMAC(secret string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return m.Sum(nil)
}

// VerifyHub checks an X-Hub-Signature header over the raw body with each of
// secrets (more than one during a rotation; any may match). The method must
// be sha256; the hex digest is decoded before a constant-time comparison,
// so letter case does not matter. Errors: ErrSecret (no usable secret),
// ErrMissing (empty header), ErrMalformed (not "sha256=" and 64 hex digits),
// ErrReencoded (the signature matches the JSON body as it was before
// something re-encoded it on the way), ErrMismatch.
func VerifyHub(secrets []string, header string, body []byte) error {
	usable := 0
	for _, s := range secrets {
		if s != "" {
			usable++
		}
	}
	if usable == 0 {
		return ErrSecret
	}
	header = strings.TrimSpace(header)
	if header == "" {
		return ErrMissing
	}
	method, value, ok := strings.Cut(header, "=")
	if !ok || !strings.EqualFold(method, "sha256") || len(value) != hex.EncodedLen(sha256.Size) {
		return ErrMalformed
	}
	var got [sha256.Size]byte
	if _, err := hex.Decode(got[:], []byte(value)); err != nil {
		return ErrMalformed
	}
	matched := 0
	for _, s := range secrets {
		if s != "" && hmac.Equal(got[:], hubMAC(s, body)) {
			matched++
		}
	}
	if matched > 0 {
		return nil
	}
	for _, s := range secrets {
		if s != "" && reencoded(jsonBody, body, macMatches(func(b []byte) []byte { return hubMAC(s, b) }, got[:])) {
			return ErrReencoded
		}
	}
	return ErrMismatch
}
