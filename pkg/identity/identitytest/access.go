package identitytest

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
)

// InnerTokenClaim is the claim of a JWT access token (EntraOptions.JWT)
// that carries the token Mint returned, for UnwrapBearer. Entra has no such
// claim.
const InnerTokenClaim = "xms_identitytest_inner"

// accessJWT wraps inner in a JWT-shaped app-only access token with the
// claims Entra's v1 tokens for Graph carry.
func (e *Entra) accessJWT(tenant, clientID, resource, inner string) string {
	now := time.Now()
	claims := map[string]any{
		"aud":   resource,
		"iss":   "https://sts.windows.net/" + tenant + "/",
		"iat":   now.Unix(),
		"nbf":   now.Unix(),
		"exp":   now.Add(time.Duration(e.opts.ExpiresIn) * time.Second).Unix(),
		"appid": clientID,
		"idtyp": "app",
		"oid":   uuid.NewString(),
		"sub":   uuid.NewString(),
		"tid":   tenant,
		"uti":   uuid.NewString(),
		"ver":   "1.0",

		InnerTokenClaim: inner,
	}
	if len(e.opts.Roles) > 0 {
		claims["roles"] = e.opts.Roles
	}
	return sign(e.key, map[string]any{"alg": "RS256", "typ": "JWT", "kid": "identitytest-entra"}, claims)
}

// UnwrapBearer returns a handler that replaces a bearer made by an Entra
// with EntraOptions.JWT by the token it carries (InnerTokenClaim) before h
// sees the request, so that a Graph emulator accepts the tokens it minted
// through EntraOptions.Mint. Any other Authorization reaches h unchanged.
func UnwrapBearer(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if ok && strings.EqualFold(scheme, "Bearer") {
			if inner := innerToken(strings.TrimSpace(tok)); inner != "" {
				r = r.Clone(r.Context())
				r.Header.Set("Authorization", "Bearer "+inner)
			}
		}
		h.ServeHTTP(w, r)
	})
}

// innerToken returns InnerTokenClaim of a JWT, or "".
func innerToken(tok string) string {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var claims map[string]any
	if json.Unmarshal(b, &claims) != nil {
		return ""
	}
	s, _ := claims[InnerTokenClaim].(string)
	return s
}
