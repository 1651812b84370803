// Package identitytest holds local stand-ins for the services the
// credential modes talk to: a TLS fake Entra authority (OpenID discovery and
// token endpoint), a fake AWS STS answering GetWebIdentityToken in the AWS
// query protocol, a JWT issuer for projected tokens, and a transport that
// sends a cloud's real URLs to a local server while recording them. They
// listen on 127.0.0.1 only. Tests import it; the function never does.
package identitytest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Issuer signs RS256 JWTs as an OIDC issuer would (AWS STS, a Kubernetes
// service account issuer).
type Issuer struct {
	URL     string // iss
	Subject string // sub
	key     *rsa.PrivateKey
}

// NewIssuer returns an issuer with a fresh 2048-bit RSA key.
func NewIssuer(url, subject string) *Issuer {
	return &Issuer{URL: url, Subject: subject, key: newKey()}
}

func newKey() *rsa.PrivateKey {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic("identitytest: " + err.Error())
	}
	return key
}

// PublicKey is what the issuer's JWKS would publish.
func (i *Issuer) PublicKey() *rsa.PublicKey { return &i.key.PublicKey }

// Token returns a JWT for audience aud, valid for ttl, with extra claims.
func (i *Issuer) Token(aud string, ttl time.Duration, extra map[string]any) string {
	now := time.Now()
	claims := map[string]any{"iss": i.URL, "sub": i.Subject, "aud": aud,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(ttl).Unix(), "jti": uuid.NewString()}
	for k, v := range extra {
		claims[k] = v
	}
	return sign(i.key, map[string]any{"alg": "RS256", "typ": "JWT", "kid": "identitytest"}, claims)
}

func sign(key *rsa.PrivateKey, header, claims map[string]any) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		panic("identitytest: " + err.Error())
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// jwt is a parsed, not yet verified token.
type jwt struct {
	header map[string]any
	claims map[string]any
	input  string
	sig    []byte
}

func parseJWT(s string) (*jwt, error) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a JWT")
	}
	var t jwt
	for i, dst := range []*map[string]any{&t.header, &t.claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(b, dst); err != nil {
			return nil, err
		}
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, err
	}
	t.input, t.sig = parts[0]+"."+parts[1], sig
	return &t, nil
}

// verify checks an RS256 or PS256 signature with pub.
func (t *jwt) verify(pub *rsa.PublicKey) error {
	sum := sha256.Sum256([]byte(t.input))
	switch t.header["alg"] {
	case "RS256":
		return rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], t.sig)
	case "PS256":
		return rsa.VerifyPSS(pub, crypto.SHA256, sum[:], t.sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto})
	}
	return errors.New("unsupported alg")
}

func (t *jwt) str(claim string) string {
	s, _ := t.claims[claim].(string)
	return s
}

// audiences returns aud as a list (a string or an array in JWTs).
func (t *jwt) audiences() []string {
	switch a := t.claims["aud"].(type) {
	case string:
		return []string{a}
	case []any:
		out := make([]string, 0, len(a))
		for _, v := range a {
			s, _ := v.(string)
			out = append(out, s)
		}
		return out
	}
	return nil
}

func (t *jwt) expired() bool {
	exp, _ := t.claims["exp"].(float64)
	return time.Now().Unix() >= int64(exp)
}

func jsonDecode(b []byte, v any) error { return json.Unmarshal(b, v) }
