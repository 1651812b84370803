package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
)

// Teams outgoing webhooks sign in HeaderAuthorization: "HMAC <base64>".

// TeamsKey decodes the security token Teams shows once when an outgoing
// webhook is created: base64 of the HMAC key (32 bytes; at least 16 are
// taken). The base64 is read strictly (see decodeKey), so one key has one
// spelling. Errors: ErrSecretSpelling (a lenient reading would decode it),
// ErrSecret.
func TeamsKey(token string) ([]byte, error) {
	return decodeKey(strings.TrimSpace(token))
}

// SignTeams returns the Authorization value ("HMAC <base64>") for the raw
// body.
func SignTeams(key, body []byte) string {
	return "HMAC " + base64.StdEncoding.EncodeToString(teamsMAC(key, body))
}

func teamsMAC(key, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(body)
	return m.Sum(nil)
}

// VerifyTeams checks the Authorization header of a Teams outgoing webhook
// over the raw body. The scheme name is matched without regard to case;
// the MAC is base64-decoded before a constant-time comparison. Teams signs
// no timestamp: replay protection has to come from the (signed) activity
// timestamp and id. Errors: ErrSecret, ErrMissing, ErrMalformed (not
// "HMAC <base64 of 32 bytes>"), ErrReencoded, ErrMismatch.
func VerifyTeams(key []byte, authorization string, body []byte) error {
	if len(key) == 0 {
		return ErrSecret
	}
	authorization = strings.TrimSpace(authorization)
	if authorization == "" {
		return ErrMissing
	}
	scheme, value, ok := strings.Cut(authorization, " ")
	value = strings.TrimSpace(value)
	if !ok || !strings.EqualFold(scheme, "HMAC") || len(value) != base64.StdEncoding.EncodedLen(sha256.Size) {
		return ErrMalformed
	}
	var got [sha256.Size + 1]byte
	n, err := base64.StdEncoding.Strict().Decode(got[:], []byte(value))
	if err != nil || n != sha256.Size {
		return ErrMalformed
	}
	if hmac.Equal(got[:n], teamsMAC(key, body)) {
		return nil
	}
	if reencoded(jsonBody, body, macMatches(func(b []byte) []byte { return teamsMAC(key, b) }, got[:n])) {
		return ErrReencoded
	}
	return ErrMismatch
}
