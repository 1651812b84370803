package signature

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"strings"
)

// HeaderAuthorization carries HTTP Basic credentials (RFC 7617).
const HeaderAuthorization = "Authorization"

// BasicCredentials is one user name and password pair.
type BasicCredentials struct {
	User, Password string
}

// ParseBasicSecret reads a secret of the form "basic:<user>:<password>".
// The password may contain ':'; the user may not (RFC 7617). ok is false
// when secret is not of that form or either part is empty.
func ParseBasicSecret(secret string) (c BasicCredentials, ok bool) {
	rest, found := strings.CutPrefix(secret, "basic:")
	if !found {
		return c, false
	}
	user, password, found := strings.Cut(rest, ":")
	if !found || user == "" || password == "" {
		return c, false
	}
	return BasicCredentials{User: user, Password: password}, true
}

// BasicHeader returns the Authorization header value for c.
func BasicHeader(c BasicCredentials) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(c.User+":"+c.Password))
}

// VerifyBasic checks an Authorization header against want. User and
// password are compared in constant time, both always (their SHA-256
// digests, so neither the length nor which part differed shows in the
// timing). Errors: ErrSecret (want is empty), ErrMissing (no header),
// ErrMalformed (not Basic with base64 "user:password"), ErrMismatch.
func VerifyBasic(want BasicCredentials, header string) error {
	if want.User == "" || want.Password == "" {
		return ErrSecret
	}
	header = strings.TrimSpace(header)
	if header == "" {
		return ErrMissing
	}
	scheme, value, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return ErrMalformed
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(value))
	if err != nil {
		return ErrMalformed
	}
	user, password, ok := strings.Cut(string(raw), ":")
	if !ok {
		return ErrMalformed
	}
	gu, wu := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(want.User))
	gp, wp := sha256.Sum256([]byte(password)), sha256.Sum256([]byte(want.Password))
	if subtle.ConstantTimeCompare(gu[:], wu[:])&subtle.ConstantTimeCompare(gp[:], wp[:]) != 1 {
		return ErrMismatch
	}
	return nil
}
