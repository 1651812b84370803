package graphemu

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Managed-identity endpoint (App Service shape).
const (
	// TokenPath is where the token endpoint is served; IDENTITY_ENDPOINT is
	// the emulator root followed by TokenPath (see IdentityEndpoint).
	TokenPath = "/msi/token"
	// IdentityAPIVersion is the only api-version the token endpoint accepts,
	// the one azidentity sends for the App Service source.
	IdentityAPIVersion = "2019-08-01"
	// IdentityHeaderName carries the IDENTITY_HEADER secret.
	IdentityHeaderName = "X-IDENTITY-HEADER"
	// DefaultIdentityHeader is the IDENTITY_HEADER value the endpoint
	// expects unless Options.IdentityHeader says otherwise. It is a local
	// development value, not a secret.
	DefaultIdentityHeader = "enrollhook-local-identity-header"
	// DefaultClientID is the client id reported for the system-assigned
	// identity (requests without client_id).
	DefaultClientID = "0f1e2d3c-4b5a-4697-8a7b-6c5d4e3f2a1b"
)

// Graph error codes the emulator answers with, in error.code.
const (
	// CodeBadRequest: body not JSON, unknown property, wrong JSON type,
	// unknown target type or enum member, unknown path segment, bad version.
	CodeBadRequest = "BadRequest"
	// CodeModelValidation: a well-formed body that breaks an Intune rule
	// (missing groupId, collectionId, targetType or entraObjectId, null
	// target, id that does not match the key, negative priority).
	CodeModelValidation = "ModelValidationFailure"
	// CodeNotFound: unknown configuration or assignment (404).
	CodeNotFound = "ResourceNotFound"
	// CodeNoRoute: the routing 400 Intune answers for POST, PATCH and
	// DELETE on assignment routes (see RefuseItemRoute). Yes, with spaces.
	CodeNoRoute = "No method match route template"
	// CodeInvalidToken: missing, unknown, expired or wrong-audience token (401).
	CodeInvalidToken = "InvalidAuthenticationToken"
	// CodeDenied: the application lacks the permission (403).
	CodeDenied = "Authorization_RequestDenied"
	// CodeThrottled: 429 from Throttle; innerError.code is "throttledRequest".
	CodeThrottled = "TooManyRequests"
	// CodeMethodNotAllowed: the route exists but not for this method (405).
	CodeMethodNotAllowed = "MethodNotAllowed"
	// CodeUnsupportedMedia: a body that is not application/json, or a
	// Content-Encoding other than gzip (415).
	CodeUnsupportedMedia = "UnsupportedMediaType"
	// CodeTooLarge: a body (after gzip) over 4 MiB (413).
	CodeTooLarge = "RequestEntityTooLarge"
)

// Permission is what the calling application was granted in the tenant.
type Permission int

const (
	// PermissionReadWrite is DeviceManagementServiceConfig.ReadWrite.All:
	// everything works.
	PermissionReadWrite Permission = iota
	// PermissionRead is DeviceManagementServiceConfig.Read.All only: reads
	// work, writes answer 403.
	PermissionRead
	// PermissionNone is no Intune permission at all: every Graph request
	// answers 403.
	PermissionNone
)

// Options configure a Server. A nil *Options means every default.
type Options struct {
	// IdentityHeader is the value the token endpoint expects in
	// X-IDENTITY-HEADER (what the caller's IDENTITY_HEADER holds).
	// Default DefaultIdentityHeader.
	IdentityHeader string
	// ClientID is reported for tokens requested without client_id.
	// Default DefaultClientID.
	ClientID string
	// TokenLifetime is how long an issued token is accepted. Default 1h.
	TokenLifetime time.Duration
	// TokenRoles makes the managed-identity endpoint issue JWT-shaped
	// tokens whose roles claim names the Permission, as Entra does for an
	// application, so that the preflight can read the write permission
	// (functions/local check -emulator). Default: opaque tokens.
	TokenRoles bool
	// Audiences are the token resources Graph accepts, compared without a
	// trailing slash and case-insensitively. A token issued for any other
	// resource (say the ARM root) is refused with 401 like Graph refuses a
	// token with the wrong audience. Default: the Graph roots of the global,
	// US Government (L4 and L5) and China clouds.
	Audiences []string
	// PatchStatus is the status of a successful PATCH: 200 with the updated
	// entity, as documented, or 204 No Content, as Intune often answers.
	// Default 200.
	PatchStatus int
	// RejectScopeTagGroup refuses scopeTagGroupAssignmentTarget with 400,
	// as the public schema would. Default false: accepted, as documented.
	RejectScopeTagGroup bool
	// RefuseItemRoute starts with RefuseItemRoute(true). Default false.
	RefuseItemRoute bool
	// RenameOnAssign starts with RenameOnAssign(true). Default false.
	RenameOnAssign bool
	// Permission is what the application was granted. Default
	// PermissionReadWrite.
	Permission Permission
	// Latency is added before every Graph request. Default 0.
	Latency time.Duration
	// Now is the clock for timestamps, token expiry and innerError.date.
	// Default time.Now.
	Now func() time.Time
	// Logger receives one record per request: method, path, status, Graph
	// error code and ids; never a body, a query or a token. Default: no log.
	Logger *slog.Logger
}

// defaultAudiences are the Graph roots of the clouds the function knows
// (config.Clouds): global, US Government L4 and L5 (DoD), and China.
var defaultAudiences = []string{
	"https://graph.microsoft.com",
	"https://graph.microsoft.us",
	"https://dod-graph.microsoft.us",
	"https://microsoftgraph.chinacloudapi.cn",
}

// Call is one request the emulator answered on a Graph route (token requests
// are only counted, see TokenRequests).
type Call struct {
	Method string
	// Path is the escaped path as sent, Query the raw query.
	Path, Query string
	// Status is the status answered; 0 when the caller went away while the
	// emulator was applying SetLatency.
	Status int
	// Code is the Graph error code answered, empty on success.
	Code string
	// Reason says which rule refused a body or a request, for test
	// diagnostics. Graph does not send it, and neither does the emulator.
	Reason string
	// RequestID is the request-id answered.
	RequestID string
	// ClientRequestID is the client-request-id the caller sent, empty when
	// it sent none (the emulator then answers with one of its own).
	ClientRequestID string
	// HasAuthorization reports whether an Authorization header was sent.
	// The header value is never kept.
	HasAuthorization bool
	// Header is the request header without Authorization.
	Header http.Header
	// Body is the request body, after gzip decoding.
	Body []byte
}

type token struct {
	expires  time.Time
	resource string
}

// Server is the emulator. It is an http.Handler serving the Graph routes
// under /beta and /v1.0 and the token endpoint at TokenPath, and is safe for
// concurrent use. The zero value is not usable; call New.
type Server struct {
	opts Options // with defaults applied

	mu            sync.Mutex
	configs       []*config
	tokens        map[string]token // issued tokens; survive Reset
	tokenRequests int
	writes        int
	calls         []Call
	patchStatus   int
	throttleLeft  int
	limit         writeLimit
	retryAfter    string
	failLeft      int
	failStatus    int
	loseLeft      int
	loseStatus    int
	latency       time.Duration
	refuseItem    bool
	renameAssign  bool
	permission    Permission
}

// New returns a Server holding the seed data (see ConfigESP, ConfigLimit,
// ConfigPlatform). It panics on an invalid option value (a PatchStatus other
// than 200 or 204, an unknown Permission): that is a bug in the test.
func New(opts *Options) *Server {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.IdentityHeader == "" {
		o.IdentityHeader = DefaultIdentityHeader
	}
	if o.ClientID == "" {
		o.ClientID = DefaultClientID
	}
	if o.TokenLifetime <= 0 {
		o.TokenLifetime = time.Hour
	}
	if len(o.Audiences) == 0 {
		o.Audiences = defaultAudiences
	}
	o.Audiences = slices.Clone(o.Audiences)
	if o.PatchStatus == 0 {
		o.PatchStatus = http.StatusOK
	}
	checkPatchStatus(o.PatchStatus)
	checkPermission(o.Permission)
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Server{opts: o, tokens: make(map[string]token)}
	s.reset()
	return s
}

func checkPatchStatus(code int) {
	if code != http.StatusOK && code != http.StatusNoContent {
		panic(fmt.Sprintf("graphemu: PATCH status must be 200 or 204, not %d", code))
	}
}

func checkPermission(p Permission) {
	if p < PermissionReadWrite || p > PermissionNone {
		panic(fmt.Sprintf("graphemu: unknown Permission %d", p))
	}
}

// reset restores what New produced, except issued tokens. Callers hold mu
// (or own s exclusively).
func (s *Server) reset() {
	s.configs = seed()
	s.tokenRequests = 0
	s.writes = 0
	s.calls = nil
	s.patchStatus = s.opts.PatchStatus
	s.throttleLeft, s.retryAfter = 0, ""
	s.limit = writeLimit{}
	s.failLeft, s.failStatus = 0, 0
	s.loseLeft, s.loseStatus = 0, 0
	s.latency = s.opts.Latency
	s.refuseItem = s.opts.RefuseItemRoute
	s.renameAssign = s.opts.RenameOnAssign
	s.permission = s.opts.Permission
}

// Reset restores the seed data, the settings New was given, and clears every
// fault and counter (calls, writes, token requests). Issued tokens stay
// valid: azidentity caches tokens per process, so revoking them would break
// every later test that shares the credential.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reset()
}

// SetPatchStatus sets the status of a successful PATCH: 200 (the updated
// entity) or 204 (no body). Any other code panics.
func (s *Server) SetPatchStatus(code int) {
	checkPatchStatus(code)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.patchStatus = code
}

// Throttle makes the next n write requests (PATCH, POST, DELETE, the assign
// and setPriority actions) answer 429 TooManyRequests without applying
// anything, with Retry-After set to retryAfter, or without the header when
// retryAfter is empty (some Intune endpoints throttle that way). n <= 0 stops
// throttling.
func (s *Server) Throttle(n int, retryAfter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttleLeft, s.retryAfter = max(n, 0), retryAfter
}

// Fail makes the next n authenticated Graph requests, whatever their method,
// answer status (500, 502, 503, 504, ...) with a Graph error body, before
// throttling and routing. n <= 0 stops failing. A status outside 400-599
// panics.
func (s *Server) Fail(n, status int) {
	if status < 400 || status > 599 {
		panic(fmt.Sprintf("graphemu: Fail status must be 4xx or 5xx, not %d", status))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failLeft, s.failStatus = max(n, 0), status
}

// LoseWrites makes the next n authenticated writes (PATCH, POST, DELETE)
// take effect and then answer status (500-599) instead of their result,
// as a gateway that gave up while Intune completed the write: the caller
// cannot know that it was applied. n <= 0 stops it. A status outside
// 500-599 panics.
func (s *Server) LoseWrites(n, status int) {
	if status < 500 || status > 599 {
		panic(fmt.Sprintf("graphemu: LoseWrites status must be 5xx, not %d", status))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loseLeft, s.loseStatus = max(n, 0), status
}

// SetLatency delays every later Graph request by d before it is handled. A
// caller that cancels its request during the delay gets no answer and the
// call is recorded with Status 0.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = max(d, 0)
}

// RefuseItemRoute, when on, makes POST on .../assignments and PATCH or DELETE
// on .../assignments/{id} answer 400 "No method match route template", as
// Intune has been reported to for some configuration types. Reads and the
// assign action keep working.
func (s *Server) RefuseItemRoute(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuseItem = on
}

// RenameOnAssign, when on, makes the assign action name a group or
// exclusion member after its group, as Intune's ids ({configuration
// guid}_{group id}) suggest: a member sent with the id of an existing
// assignment but another group comes back with a new id. Off (the default),
// an existing id is kept whatever the target.
func (s *Server) RenameOnAssign(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.renameAssign = on
}

// SetPermission changes what the application is granted; see Permission.
func (s *Server) SetPermission(p Permission) {
	checkPermission(p)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.permission = p
}

// ExpireTokens makes every token issued so far expired, so Graph answers
// 401 until the caller fetches a new one.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	past := s.opts.Now().Add(-time.Second)
	for k, t := range s.tokens {
		t.expires = past
		s.tokens[k] = t
	}
}

// TokenRequests is the number of requests the token endpoint received,
// refused ones included.
func (s *Server) TokenRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenRequests
}

// Writes is the number of write requests applied to the stored data.
func (s *Server) Writes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes
}

// Calls returns a copy of every Graph request answered since New or Reset,
// oldest first.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Call, len(s.calls))
	for i, c := range s.calls {
		c.Header = c.Header.Clone()
		c.Body = slices.Clone(c.Body)
		out[i] = c
	}
	return out
}

// Assignment returns the stored assignment as beta GET renders it (without
// @odata.context), and whether it exists.
func (s *Server) Assignment(cfg, asg string) (json.RawMessage, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.config(cfg)
	if c == nil {
		return nil, false
	}
	_, a := c.find(asg)
	if a == nil {
		return nil, false
	}
	return mustMarshal(a.render(versionBeta)), true
}

// Assignments returns the assignments of a configuration in their order, as
// beta GET renders them; nil when the configuration does not exist.
func (s *Server) Assignments(cfg string) []json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.config(cfg)
	if c == nil {
		return nil
	}
	out := make([]json.RawMessage, 0, len(c.assignments))
	for _, a := range c.assignments {
		out = append(out, mustMarshal(a.render(versionBeta)))
	}
	return out
}

// config finds a configuration; callers hold mu.
func (s *Server) config(id string) *config {
	for _, c := range s.configs {
		if c.id == id {
			return c
		}
	}
	return nil
}

func mustMarshal(v any) json.RawMessage {
	b, err := marshal(v)
	if err != nil {
		panic("graphemu: " + err.Error()) // only maps of strings, numbers, bools
	}
	return b
}
