package graphemu

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"log/slog"
	"net/http"
	"strconv"
)

// tokenError is the body the App Service identity endpoint answers a
// refused request with; azidentity puts it in its error text.
type tokenError struct {
	StatusCode    int    `json:"statusCode"`
	Message       string `json:"message"`
	CorrelationID string `json:"correlationId"`
}

// tokenReply is the App Service (api-version 2019-08-01) token response.
type tokenReply struct {
	AccessToken string `json:"access_token"`
	ExpiresOn   string `json:"expires_on"` // unix seconds, as a string
	Resource    string `json:"resource"`
	TokenType   string `json:"token_type"`
	ClientID    string `json:"client_id"`
}

// serveToken is the managed-identity endpoint azidentity's
// ManagedIdentityCredential calls when IDENTITY_ENDPOINT and IDENTITY_HEADER
// are set (the App Service shape of the endpoint, which azidentity accepts on
// plain http over loopback). Tokens are opaque random strings,
// valid for Options.TokenLifetime, for the Graph routes of this Server only.
func (s *Server) serveToken(x *exchange) {
	s.mu.Lock()
	s.tokenRequests++
	s.mu.Unlock()

	q := x.r.URL.Query()
	secret := x.r.Header.Get(IdentityHeaderName)
	status, msg := http.StatusOK, ""
	switch {
	case x.r.Method != http.MethodGet:
		x.w.Header().Set("Allow", http.MethodGet)
		status, msg = http.StatusMethodNotAllowed, "Only GET is supported."
	case secret == "":
		status, msg = http.StatusBadRequest, "The "+IdentityHeaderName+" header is required."
	case subtle.ConstantTimeCompare([]byte(secret), []byte(s.opts.IdentityHeader)) != 1:
		status, msg = http.StatusUnauthorized, "The "+IdentityHeaderName+" header does not match."
	case q.Get("api-version") != IdentityAPIVersion:
		status, msg = http.StatusBadRequest, "Unsupported api-version; use "+IdentityAPIVersion+"."
	case q.Get("resource") == "":
		status, msg = http.StatusBadRequest, "The resource parameter is required."
	}
	if status != http.StatusOK {
		s.logToken(x, status)
		x.plainJSON(status, tokenError{StatusCode: status, Message: msg, CorrelationID: x.requestID})
		return
	}

	clientID := q.Get("client_id")
	if clientID == "" {
		clientID = s.opts.ClientID
	}
	tok := newToken()
	if s.opts.TokenRoles {
		s.mu.Lock()
		roles := permissionRoles(s.permission)
		s.mu.Unlock()
		tok = newJWT(roles)
	}
	expires := x.now.Add(s.opts.TokenLifetime)
	s.mu.Lock()
	for k, t := range s.tokens { // keep the map bounded in long make-run sessions
		if !x.now.Before(t.expires) {
			delete(s.tokens, k)
		}
	}
	s.tokens[tok] = token{expires: expires, resource: q.Get("resource")}
	s.mu.Unlock()
	s.logToken(x, status)
	x.plainJSON(http.StatusOK, tokenReply{
		AccessToken: tok,
		ExpiresOn:   strconv.FormatInt(expires.Unix(), 10),
		Resource:    q.Get("resource"),
		TokenType:   "Bearer",
		ClientID:    clientID,
	})
}

// logToken logs a token request: never the query, the header or the token.
func (s *Server) logToken(x *exchange, status int) {
	if l := s.opts.Logger; l != nil {
		l.LogAttrs(x.r.Context(), slog.LevelInfo, "token request",
			slog.String("method", x.r.Method), slog.Int("status", status), slog.String("requestId", x.requestID))
	}
}

// plainJSON answers with application/json, the token endpoint's type.
func (x *exchange) plainJSON(status int, v any) {
	b := mustMarshal(v)
	x.w.Header().Set("Content-Type", "application/json; charset=utf-8")
	x.w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	x.status = status
	x.w.WriteHeader(status)
	_, _ = x.w.Write(b)
}

// newToken returns 256 random bits, opaque to the caller.
func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return "graphemu." + base64.RawURLEncoding.EncodeToString(b)
}

// newJWT returns a JWT-shaped token, as Entra issues for an application:
// an unsigned header, a payload whose roles claim names the permission the
// application was granted (what the preflight reads), and 256 random bits
// in place of the signature, which make each token unique. Nothing here
// checks it but the emulator itself, by lookup.
func newJWT(roles []string) string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	header := base64.RawURLEncoding.EncodeToString([]byte(`{"typ":"JWT","alg":"none"}`))
	payload := base64.RawURLEncoding.EncodeToString(mustMarshal(struct {
		Issuer string   `json:"iss"`
		Roles  []string `json:"roles,omitempty"`
	}{"graphemu", roles}))
	return header + "." + payload + "." + base64.RawURLEncoding.EncodeToString(b)
}

// permissionRoles are the application roles of a Permission.
func permissionRoles(p Permission) []string {
	switch p {
	case PermissionReadWrite:
		return []string{"DeviceManagementServiceConfig.ReadWrite.All"}
	case PermissionRead:
		return []string{"DeviceManagementServiceConfig.Read.All"}
	}
	return nil
}
