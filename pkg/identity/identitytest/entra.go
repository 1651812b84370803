package identitytest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
)

// FederatedCredential is a federated identity credential on the app: the
// assertion must come from Issuer (signed by Key when set) with exactly
// Subject and Audience among its aud.
type FederatedCredential struct {
	Issuer, Subject, Audience string
	Key                       *rsa.PublicKey
}

// EntraOptions configure an Entra. Empty fields accept anything.
type EntraOptions struct {
	// TenantID and ClientID are the tenant and the app that exist; a
	// request for others fails as Entra fails (AADSTS90002, AADSTS700016).
	TenantID, ClientID string
	// Secret is the client secret the app has (client-secret flow).
	Secret string
	// Certificate is the certificate registered on the app
	// (client-certificate flow); its key must sign the assertion.
	Certificate *x509.Certificate
	// Federated are the app's federated identity credentials.
	Federated []FederatedCredential
	// ExpiresIn is the expires_in of issued tokens in seconds; default 3599.
	ExpiresIn int
	// Mint returns the access token for a resource (the scope without
	// /.default); default: a random opaque string. Mint with a Graph
	// emulator's identity endpoint to get tokens the emulator accepts.
	Mint func(resource string) (string, error)
	// JWT makes the access tokens JWT-shaped, as Entra's app-only tokens
	// are: RS256, signed with a key of this fake that nobody verifies, with
	// iss, aud (the resource), tid, appid, idtyp, exp and, when Roles is
	// not empty, roles. The token Mint returned travels inside, in the
	// claim InnerTokenClaim; put UnwrapBearer in front of a Graph emulator
	// so that it receives that token. Default false: Mint's token as is.
	JWT bool
	// Roles is the roles claim of JWT tokens: the application permissions
	// granted to the app, such as DeviceManagementServiceConfig.ReadWrite.All.
	// Empty: the claim is left out, as Entra does for an app granted none.
	Roles []string
}

// TokenRequest is one request the token endpoint received. Secrets and
// assertions are not kept, only what was checked.
type TokenRequest struct {
	// Host is the Host the request was sent to (the cloud's authority
	// when it came through a Redirect transport), Path its path.
	Host, Path string
	Tenant     string
	GrantType  string
	ClientID   string
	Scope      string
	// Flow is "secret", "certificate" or "assertion".
	Flow string
	// AssertionIssuer, AssertionSubject and AssertionAudience are the
	// claims of a federated assertion.
	AssertionIssuer, AssertionSubject string
	AssertionAudience                 []string
	// Status is what the endpoint answered.
	Status int
}

// Entra is a TLS fake of an Entra authority. Call Close when done.
type Entra struct {
	srv  *httptest.Server
	opts EntraOptions

	mu         sync.Mutex
	requests   []TokenRequest
	failLeft   int
	failStatus int
	issued     []string
	key        *rsa.PrivateKey // signs JWT access tokens
}

// NewEntra starts a fake Entra on 127.0.0.1 with TLS.
func NewEntra(opts *EntraOptions) *Entra {
	e := &Entra{}
	if opts != nil {
		e.opts = *opts
	}
	if e.opts.ExpiresIn == 0 {
		e.opts.ExpiresIn = 3599
	}
	if e.opts.JWT {
		e.key = newKey()
	}
	e.srv = httptest.NewTLSServer(http.HandlerFunc(e.serve))
	return e
}

// URL is the authority host, https://127.0.0.1:port/.
func (e *Entra) URL() string { return e.srv.URL + "/" }

// Server is the TLS server; Client() trusts its certificate.
func (e *Entra) Server() *httptest.Server { return e.srv }

// Close stops the server.
func (e *Entra) Close() { e.srv.Close() }

// Fail makes the next n token requests answer status (400 invalid_request
// with an AADSTS code, or 5xx server_error).
func (e *Entra) Fail(n, status int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.failLeft, e.failStatus = n, status
}

// Requests returns the token requests received so far.
func (e *Entra) Requests() []TokenRequest {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.requests)
}

// Issued returns every access token issued, so tests can assert that none
// reached a log.
func (e *Entra) Issued() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.issued)
}

func (e *Entra) serve(w http.ResponseWriter, r *http.Request) {
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(segs) == 0 || segs[0] == "" {
		http.NotFound(w, r)
		return
	}
	tenant := segs[0]
	base := "https://" + r.Host + "/" + tenant
	switch rest := strings.Join(segs[1:], "/"); {
	case r.Method == http.MethodGet && rest == "v2.0/.well-known/openid-configuration":
		writeJSON(w, http.StatusOK, map[string]any{
			"issuer":                                base + "/v2.0",
			"token_endpoint":                        base + "/oauth2/v2.0/token",
			"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
			"jwks_uri":                              "https://" + r.Host + "/common/discovery/v2.0/keys",
			"response_types_supported":              []string{"code", "token"},
			"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt"},
		})
	case r.Method == http.MethodPost && rest == "oauth2/v2.0/token":
		e.token(w, r, tenant)
	default:
		http.NotFound(w, r)
	}
}

func (e *Entra) token(w http.ResponseWriter, r *http.Request, tenant string) {
	_ = r.ParseForm()
	f := r.PostForm
	req := TokenRequest{Host: r.Host, Path: r.URL.Path, Tenant: tenant, GrantType: f.Get("grant_type"),
		ClientID: f.Get("client_id"), Scope: f.Get("scope")}
	status, code, desc := e.authenticate(&req, f, "https://"+r.Host+r.URL.Path)
	e.mu.Lock()
	if status == 0 && e.failLeft > 0 {
		e.failLeft--
		status = e.failStatus
		if status >= 500 {
			code, desc = "server_error", "AADSTS50000: There was an error issuing a token or an issue with our sign-in service."
		} else {
			code, desc = "invalid_request", "AADSTS900144: The request body must contain the following parameter: 'grant_type'."
		}
	}
	e.mu.Unlock()
	if status != 0 {
		req.Status = status
		e.record(req, "")
		writeJSON(w, status, map[string]any{"error": code, "error_description": desc + "\r\nTrace ID: 00000000-0000-0000-0000-000000000000",
			"error_codes": []int{}, "trace_id": "00000000-0000-0000-0000-000000000000"})
		return
	}
	resource := ""
	for _, s := range strings.Fields(req.Scope) {
		if strings.HasSuffix(s, "/.default") {
			resource = strings.TrimSuffix(s, "/.default")
			break
		}
	}
	tok, err := e.mint(resource)
	if err == nil && e.opts.JWT {
		tok = e.accessJWT(tenant, req.ClientID, resource, tok)
	}
	if err != nil {
		req.Status = http.StatusInternalServerError
		e.record(req, "")
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": "server_error", "error_description": "AADSTS50000: mint: " + err.Error()})
		return
	}
	req.Status = http.StatusOK
	e.record(req, tok)
	writeJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": e.opts.ExpiresIn,
		"ext_expires_in": e.opts.ExpiresIn, "access_token": tok})
}

func (e *Entra) record(req TokenRequest, tok string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.requests = append(e.requests, req)
	if tok != "" {
		e.issued = append(e.issued, tok)
	}
}

func (e *Entra) mint(resource string) (string, error) {
	if e.opts.Mint != nil {
		return e.opts.Mint(resource)
	}
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return "entra." + base64.RawURLEncoding.EncodeToString(b), nil
}

// authenticate checks the client as Entra would; status 0 means accepted.
func (e *Entra) authenticate(req *TokenRequest, f url.Values, endpoint string) (int, string, string) {
	o := e.opts
	switch {
	case req.GrantType != "client_credentials":
		return 400, "unsupported_grant_type", "AADSTS70003: The app requested an unsupported grant type."
	case o.TenantID != "" && req.Tenant != o.TenantID:
		return 400, "invalid_request", fmt.Sprintf("AADSTS90002: Tenant '%s' not found.", req.Tenant)
	case o.ClientID != "" && req.ClientID != o.ClientID:
		return 400, "unauthorized_client", fmt.Sprintf("AADSTS700016: Application with identifier '%s' was not found in the directory.", req.ClientID)
	case req.Scope == "":
		return 400, "invalid_request", "AADSTS900144: The request body must contain the following parameter: 'scope'."
	}
	if secret := f.Get("client_secret"); secret != "" {
		req.Flow = "secret"
		if o.Secret == "" || secret != o.Secret {
			return 401, "invalid_client", "AADSTS7000215: Invalid client secret provided."
		}
		return 0, "", ""
	}
	if f.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
		return 401, "invalid_client", "AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'."
	}
	t, err := parseJWT(f.Get("client_assertion"))
	if err != nil {
		return 400, "invalid_client", "AADSTS50027: JWT token is invalid or malformed."
	}
	if thumb, ok := t.header["x5t#S256"].(string); ok {
		req.Flow = "certificate"
		if o.Certificate == nil {
			return 401, "invalid_client", "AADSTS700027: Client assertion failed signature validation."
		}
		sum := sha256.Sum256(o.Certificate.Raw)
		pub, isRSA := o.Certificate.PublicKey.(*rsa.PublicKey)
		if thumb != base64.StdEncoding.EncodeToString(sum[:]) || !isRSA || t.verify(pub) != nil {
			return 401, "invalid_client", "AADSTS700027: Client assertion failed signature validation."
		}
		if !slices.Contains(t.audiences(), endpoint) || t.str("sub") != req.ClientID || t.expired() {
			return 401, "invalid_client", "AADSTS700024: Client assertion is not within its valid time range."
		}
		return 0, "", ""
	}
	req.Flow = "assertion"
	req.AssertionIssuer, req.AssertionSubject, req.AssertionAudience = t.str("iss"), t.str("sub"), t.audiences()
	var byIssuer []FederatedCredential
	for _, fc := range o.Federated {
		if fc.Issuer == req.AssertionIssuer {
			byIssuer = append(byIssuer, fc)
		}
	}
	if len(byIssuer) == 0 {
		return 400, "invalid_client", fmt.Sprintf("AADSTS700211: No matching federated identity record found for presented assertion issuer '%s'.", req.AssertionIssuer)
	}
	var bySubject []FederatedCredential
	for _, fc := range byIssuer {
		if fc.Subject == req.AssertionSubject {
			bySubject = append(bySubject, fc)
		}
	}
	if len(bySubject) == 0 {
		return 400, "invalid_client", fmt.Sprintf("AADSTS700213: No matching federated identity record found for presented assertion subject '%s'.", req.AssertionSubject)
	}
	for _, fc := range bySubject {
		if !slices.Contains(req.AssertionAudience, fc.Audience) {
			continue
		}
		if fc.Key != nil && t.verify(fc.Key) != nil {
			return 400, "invalid_client", "AADSTS700025: Client assertion failed signature validation."
		}
		if t.expired() {
			return 400, "invalid_client", "AADSTS700024: Client assertion is not within its valid time range."
		}
		return 0, "", ""
	}
	return 400, "invalid_client", fmt.Sprintf("AADSTS700212: No matching federated identity record found for presented assertion audience '%s'.", strings.Join(req.AssertionAudience, ","))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
