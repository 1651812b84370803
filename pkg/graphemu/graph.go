package graphemu

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// maxBody is Graph's request size limit (4 MB), applied after gzip too so
// that a small compressed body cannot inflate without bound.
const maxBody = 4 << 20

// exchange is one request being answered.
type exchange struct {
	w   http.ResponseWriter
	r   *http.Request
	now time.Time

	requestID       string
	clientRequestID string // answered: the caller's or a new one
	sentClientID    string // what the caller sent

	version string
	route   route

	body        []byte
	bodyProblem *problem // found while reading the body; reported by handlers that need one

	status       int
	code, reason string
}

// problem is a refusal that is not a body validation failure.
type problem struct {
	status       int
	code, reason string
}

type routeKind int

const (
	routeConfigs routeKind = iota
	routeConfig
	routeAssignments
	routeAssignment
	routeAssign
	routeSetPriority
)

// route is a resolved Graph path.
type route struct {
	kind     routeKind
	cfg, asg string
}

// allowed lists the methods each route serves, for 405 and Allow.
var allowed = map[routeKind][]string{
	routeConfigs:     {http.MethodGet},
	routeConfig:      {http.MethodGet},
	routeAssignments: {http.MethodGet, http.MethodPost},
	routeAssignment:  {http.MethodGet, http.MethodPatch, http.MethodDelete},
	routeAssign:      {http.MethodPost},
	routeSetPriority: {http.MethodPost},
}

func isWrite(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// ServeHTTP answers the token endpoint at TokenPath and Graph everywhere
// else.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	x := &exchange{w: w, r: r, now: s.opts.Now(), requestID: uuid.NewString()}
	x.sentClientID = r.Header.Get("client-request-id")
	x.clientRequestID = x.sentClientID
	if x.clientRequestID == "" {
		x.clientRequestID = uuid.NewString()
	}
	h := w.Header()
	h.Set("request-id", x.requestID)
	h.Set("client-request-id", x.clientRequestID)
	h.Set("x-ms-ags-diagnostic", agsDiagnostic)
	h.Set("Date", httpDate(x.now))
	h.Set("Strict-Transport-Security", "max-age=31536000")

	if r.URL.Path == TokenPath {
		s.serveToken(x)
		return
	}
	h.Set("OData-Version", "4.0")
	x.readBody()
	defer s.record(x)
	s.serveGraph(x)
}

// readBody reads and, for Content-Encoding gzip, inflates the body.
func (x *exchange) readBody() {
	if x.r.Body == nil {
		return
	}
	raw, err := io.ReadAll(io.LimitReader(x.r.Body, maxBody+1))
	if err != nil {
		x.bodyProblem = &problem{http.StatusBadRequest, CodeBadRequest, "the body could not be read"}
		return
	}
	if len(raw) > maxBody {
		x.bodyProblem = &problem{http.StatusRequestEntityTooLarge, CodeTooLarge, "body over 4 MiB"}
		return
	}
	switch enc := strings.ToLower(strings.TrimSpace(x.r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
		x.body = raw
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err == nil {
			x.body, err = io.ReadAll(io.LimitReader(zr, maxBody+1))
		}
		switch {
		case err != nil:
			x.body = raw
			x.bodyProblem = &problem{http.StatusBadRequest, CodeBadRequest, "Content-Encoding gzip, but the body is not gzip"}
		case len(x.body) > maxBody:
			x.body = nil
			x.bodyProblem = &problem{http.StatusRequestEntityTooLarge, CodeTooLarge, "body over 4 MiB after gzip"}
		}
	default:
		// Graph answers 415 to a compression it does not take; Microsoft's
		// own SDK (kiota) then retries uncompressed.
		x.body = raw
		x.bodyProblem = &problem{http.StatusUnsupportedMediaType, CodeUnsupportedMedia, "Content-Encoding other than gzip"}
	}
}

// record keeps the call for Calls and logs it.
func (s *Server) record(x *exchange) {
	hdr := x.r.Header.Clone()
	hdr.Del("Authorization")
	c := Call{
		Method:           x.r.Method,
		Path:             x.r.URL.EscapedPath(),
		Query:            x.r.URL.RawQuery,
		Status:           x.status,
		Code:             x.code,
		Reason:           x.reason,
		RequestID:        x.requestID,
		ClientRequestID:  x.sentClientID,
		HasAuthorization: x.r.Header.Get("Authorization") != "",
		Header:           hdr,
		Body:             x.body,
	}
	s.mu.Lock()
	s.calls = append(s.calls, c)
	s.mu.Unlock()
	if l := s.opts.Logger; l != nil {
		l.LogAttrs(x.r.Context(), slog.LevelInfo, "graph request",
			slog.String("method", c.Method), slog.String("path", c.Path), slog.Int("status", c.Status),
			slog.String("code", c.Code), slog.String("reason", c.Reason),
			slog.String("requestId", c.RequestID), slog.String("clientRequestId", x.clientRequestID))
	}
}

func (s *Server) serveGraph(x *exchange) {
	s.mu.Lock()
	latency := s.latency
	s.mu.Unlock()
	if latency > 0 && !sleep(x.r.Context(), latency) {
		return // the caller is gone; Status stays 0
	}
	if !s.authenticate(x) {
		return
	}
	write := isWrite(x.r.Method)
	s.mu.Lock()
	failing, failWith := s.failLeft > 0, s.failStatus
	if failing {
		s.failLeft--
	}
	throttled, retryAfter := !failing && write && s.throttleLeft > 0, s.retryAfter
	if throttled {
		s.throttleLeft--
	}
	if !failing && !throttled && write {
		throttled, retryAfter = s.overWriteLimit()
	}
	permission, refuseItem := s.permission, s.refuseItem
	lose, loseWith := !failing && !throttled && write && s.loseLeft > 0, s.loseStatus
	if lose {
		s.loseLeft--
	}
	s.mu.Unlock()

	if failing {
		code, msg := failStatus(failWith)
		x.fail(failWith, code, msg, "Fail injected")
		return
	}
	if throttled {
		if retryAfter != "" {
			x.w.Header().Set("Retry-After", retryAfter)
		}
		x.failInner(http.StatusTooManyRequests, CodeThrottled, "throttledRequest",
			"Too many requests from this application for this tenant. Retry later.", "Throttle injected")
		return
	}
	if !s.resolve(x) {
		return
	}
	if methods := allowed[x.route.kind]; !slices.Contains(methods, x.r.Method) {
		x.w.Header().Set("Allow", strings.Join(methods, ", "))
		x.fail(http.StatusMethodNotAllowed, CodeMethodNotAllowed,
			"The requested resource does not support http method '"+x.r.Method+"'.", "method not served on this route")
		return
	}
	if permission == PermissionNone || permission == PermissionRead && write {
		x.fail(http.StatusForbidden, CodeDenied, "Insufficient privileges to complete the operation.",
			"DeviceManagementServiceConfig.ReadWrite.All not granted")
		return
	}
	if refuseItem && (x.route.kind == routeAssignment && write || x.route.kind == routeAssignments && x.r.Method == http.MethodPost) {
		template := "~/singleton/navigation/key/navigation"
		if x.route.kind == routeAssignment {
			template += "/key"
		}
		x.fail(http.StatusBadRequest, CodeNoRoute,
			"No OData route exists that match template "+template+" with http verb "+x.r.Method+
				" for request "+x.route.servicePath()+".", "RefuseItemRoute on")
		return
	}

	if lose {
		// The write takes effect; its answer is dropped for the failure.
		w := x.w
		x.w = &droppedAnswer{header: http.Header{}}
		s.dispatch(x)
		x.w = w
		code, msg := failStatus(loseWith)
		x.fail(loseWith, code, msg, "LoseWrites: the write took effect, its answer was lost")
		return
	}
	s.dispatch(x)
}

// droppedAnswer is a ResponseWriter that keeps nothing (LoseWrites).
type droppedAnswer struct{ header http.Header }

func (d *droppedAnswer) Header() http.Header         { return d.header }
func (d *droppedAnswer) Write(b []byte) (int, error) { return len(b), nil }
func (d *droppedAnswer) WriteHeader(int)             {}

// dispatch answers x by its route and method.
func (s *Server) dispatch(x *exchange) {
	switch x.route.kind {
	case routeConfigs:
		s.listConfigs(x)
	case routeConfig:
		s.getConfig(x)
	case routeAssignments:
		if x.r.Method == http.MethodGet {
			s.listAssignments(x)
		} else {
			s.createAssignment(x)
		}
	case routeAssignment:
		switch x.r.Method {
		case http.MethodGet:
			s.getAssignment(x)
		case http.MethodPatch:
			s.patchAssignment(x)
		default:
			s.deleteAssignment(x)
		}
	case routeAssign:
		s.assign(x)
	case routeSetPriority:
		s.setPriority(x)
	}
}

// sleep waits d or until ctx is done; it reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// authenticate checks the bearer token against those the token endpoint
// issued, as the Graph gateway does before any workload sees the request.
func (s *Server) authenticate(x *exchange) bool {
	h := x.r.Header.Get("Authorization")
	scheme, tok, _ := strings.Cut(h, " ")
	tok = strings.TrimSpace(tok)
	var msg, reason string
	switch {
	case h == "":
		msg, reason = "Access token is empty.", "no Authorization header"
	case !strings.EqualFold(scheme, "Bearer") || tok == "":
		msg, reason = "Access token validation failure. Invalid token format.", "Authorization is not a Bearer token"
	default:
		s.mu.Lock()
		t, ok := s.tokens[tok]
		s.mu.Unlock()
		switch {
		case !ok:
			msg, reason = "Access token validation failure. Invalid signature.", "token not issued by this emulator"
		case !x.now.Before(t.expires):
			msg, reason = "Lifetime validation failed, the token is expired.", "token expired"
		case !s.audience(t.resource):
			msg, reason = "Access token validation failure. Invalid audience.", "token issued for another resource"
		default:
			return true
		}
	}
	x.w.Header().Set("WWW-Authenticate",
		`Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`)
	x.fail(http.StatusUnauthorized, CodeInvalidToken, msg, reason)
	return false
}

func (s *Server) audience(resource string) bool {
	resource = strings.TrimRight(resource, "/")
	for _, a := range s.opts.Audiences {
		if strings.EqualFold(resource, strings.TrimRight(a, "/")) {
			return true
		}
	}
	return false
}

// resolve parses the version and the Graph path into x.route. Graph paths
// are case sensitive for these routes (a mis-cased segment is not found),
// so no segment is folded.
func (s *Server) resolve(x *exchange) bool {
	segs := strings.Split(strings.TrimPrefix(x.r.URL.EscapedPath(), "/"), "/")
	if len(segs) > 1 && segs[len(segs)-1] == "" {
		segs = segs[:len(segs)-1]
	}
	for i, seg := range segs {
		u, err := url.PathUnescape(seg)
		if err != nil {
			x.fail(http.StatusBadRequest, CodeBadRequest, "The request URI is not valid.", "bad percent-encoding")
			return false
		}
		segs[i] = u
	}
	if segs[0] != versionBeta && segs[0] != versionV1 {
		x.fail(http.StatusBadRequest, CodeBadRequest, "Invalid version.", "version is not beta or v1.0")
		return false
	}
	x.version = segs[0]
	r, bad := parseRoute(segs[1:])
	if bad != "" {
		x.fail(http.StatusBadRequest, CodeBadRequest, "Resource not found for the segment '"+bad+"'.", "unknown path segment")
		return false
	}
	x.route = r
	return true
}

// parseRoute resolves the segments after the version. It accepts keys as
// path segments (/deviceEnrollmentConfigurations/{id}) and in OData key form
// (/deviceEnrollmentConfigurations('{id}')). On failure it returns the first
// segment it could not place.
func parseRoute(segs []string) (route, string) {
	var r route
	if len(segs) == 0 {
		return r, "/"
	}
	if segs[0] != "deviceManagement" {
		return r, segs[0]
	}
	if len(segs) == 1 {
		return r, segs[0] // the deviceManagement singleton itself is not served
	}
	name, key, keyed, ok := splitKey(segs[1])
	if !ok || name != "deviceEnrollmentConfigurations" {
		return r, segs[1]
	}
	rest := segs[2:]
	if !keyed {
		if len(rest) == 0 {
			return route{kind: routeConfigs}, ""
		}
		key, rest = rest[0], rest[1:]
		if key == "" {
			return r, "/"
		}
	}
	r = route{kind: routeConfig, cfg: key}
	if len(rest) == 0 {
		return r, ""
	}
	name, key, keyed, ok = splitKey(rest[0])
	if !ok {
		return r, rest[0]
	}
	switch {
	case len(rest) == 1 && !keyed && (name == "assign" || name == "microsoft.graph.assign"):
		r.kind = routeAssign
		return r, ""
	case len(rest) == 1 && !keyed && (name == "setPriority" || name == "microsoft.graph.setPriority"):
		r.kind = routeSetPriority
		return r, ""
	case name != "assignments":
		return r, rest[0]
	}
	rest = rest[1:]
	if !keyed {
		if len(rest) == 0 {
			r.kind = routeAssignments
			return r, ""
		}
		key, rest = rest[0], rest[1:]
		if key == "" {
			return r, "/"
		}
	}
	if len(rest) > 0 {
		return r, rest[0]
	}
	r.kind, r.asg = routeAssignment, key
	return r, ""
}

// splitKey splits "name('key')" into name and key; inside the key a
// doubled single quote stands for one.
// A segment without parentheses is a plain name. ok is false for a
// malformed key.
func splitKey(seg string) (name, key string, keyed, ok bool) {
	open := strings.IndexByte(seg, '(')
	if open < 0 {
		return seg, "", false, true
	}
	inner, found := strings.CutSuffix(seg[open+1:], ")")
	if !found || len(inner) < 3 || inner[0] != '\'' || inner[len(inner)-1] != '\'' {
		return "", "", false, false
	}
	inner = inner[1 : len(inner)-1]
	if strings.Count(inner, "'")%2 != 0 || strings.Contains(strings.ReplaceAll(inner, "''", ""), "'") {
		return "", "", false, false
	}
	return seg[:open], strings.ReplaceAll(inner, "''", "'"), true, true
}

// jsonBody returns the body of a write that needs one, or answers the
// problem found with it.
func (x *exchange) jsonBody() ([]byte, bool) {
	if p := x.bodyProblem; p != nil {
		x.fail(p.status, p.code, http.StatusText(p.status)+".", p.reason)
		return nil, false
	}
	if len(x.body) == 0 {
		x.refused(refuse(CodeBadRequest, "/: the body is empty"))
		return nil, false
	}
	mt, _, err := mime.ParseMediaType(x.r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		x.fail(http.StatusUnsupportedMediaType, CodeUnsupportedMedia,
			"The request content type is not supported; send application/json.", "Content-Type is not application/json")
		return nil, false
	}
	return x.body, true
}

func (x *exchange) refused(r *refusal) {
	x.failIntune(http.StatusBadRequest, r.code, r.reason)
}

func (x *exchange) notFound(what string) {
	x.failIntune(http.StatusNotFound, CodeNotFound, what+" not found")
}

// baseURL is the Graph root with version as the caller reached it; links in
// responses name this emulator rather than graph.microsoft.com so that
// nothing points off the machine.
func (x *exchange) baseURL() string {
	scheme := "http"
	if x.r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + x.r.Host + "/" + x.version
}

// context returns the @odata.context of a response.
func (x *exchange) context(fragment string) string {
	return x.baseURL() + "/$metadata#" + fragment
}

func withContext(m map[string]any, ctx string) map[string]any {
	m["@odata.context"] = ctx
	return m
}

func (s *Server) listConfigs(x *exchange) {
	s.mu.Lock()
	value := make([]map[string]any, 0, len(s.configs))
	for _, c := range s.configs {
		value = append(value, c.render(x.version))
	}
	s.mu.Unlock()
	x.json(http.StatusOK, map[string]any{
		"@odata.context": x.context("deviceManagement/deviceEnrollmentConfigurations"),
		"value":          value,
	})
}

func (s *Server) getConfig(x *exchange) {
	s.mu.Lock()
	c := s.config(x.route.cfg)
	var m map[string]any
	if c != nil {
		m = c.render(x.version)
	}
	s.mu.Unlock()
	if c == nil {
		x.notFound("configuration")
		return
	}
	x.json(http.StatusOK, withContext(m, x.context("deviceManagement/deviceEnrollmentConfigurations/$entity")))
}

func (x *exchange) assignmentsContext() string {
	return x.context("deviceManagement/deviceEnrollmentConfigurations" + odataKey(x.route.cfg) + "/assignments")
}

func (s *Server) listAssignments(x *exchange) {
	s.mu.Lock()
	c := s.config(x.route.cfg)
	var value []map[string]any
	if c != nil {
		value = make([]map[string]any, 0, len(c.assignments))
		for _, a := range c.assignments {
			value = append(value, a.render(x.version))
		}
	}
	s.mu.Unlock()
	if c == nil {
		x.notFound("configuration")
		return
	}
	x.json(http.StatusOK, map[string]any{"@odata.context": x.assignmentsContext(), "value": value})
}

func (s *Server) getAssignment(x *exchange) {
	s.mu.Lock()
	var m map[string]any
	c := s.config(x.route.cfg)
	if c != nil {
		if _, a := c.find(x.route.asg); a != nil {
			m = a.render(x.version)
		}
	}
	s.mu.Unlock()
	if m == nil {
		x.notFound("assignment")
		return
	}
	x.json(http.StatusOK, withContext(m, x.assignmentsContext()+"/$entity"))
}

// decodeAssignment reads and validates a single-assignment body.
func (s *Server) decodeAssignment(x *exchange) (assignmentInput, bool) {
	body, ok := x.jsonBody()
	if !ok {
		return assignmentInput{}, false
	}
	m, bad := decodeObject(body, "")
	if bad == nil {
		var in assignmentInput
		in, bad = s.rules(x).assignment(m, "")
		if bad == nil {
			return in, true
		}
	}
	x.refused(bad)
	return assignmentInput{}, false
}

func (s *Server) rules(x *exchange) rules {
	return rules{version: x.version, rejectScopeTag: s.opts.RejectScopeTagGroup}
}

func (s *Server) patchAssignment(x *exchange) {
	in, ok := s.decodeAssignment(x)
	if !ok {
		return
	}
	s.mu.Lock()
	c := s.config(x.route.cfg)
	var a *assignment
	if c != nil {
		_, a = c.find(x.route.asg)
	}
	if a == nil {
		s.mu.Unlock()
		x.notFound("assignment")
		return
	}
	if in.hasID && in.id != a.id {
		s.mu.Unlock()
		x.refused(refuse(CodeModelValidation, "/id: does not match the key in the URL"))
		return
	}
	if in.target != nil {
		a.target = *in.target // a target is replaced whole, never merged
	}
	if in.hasSource {
		a.source = in.source
	}
	if in.hasSourceID {
		a.sourceID = in.sourceID
	}
	c.modified = x.now
	s.writes++
	status, m := s.patchStatus, a.render(x.version)
	s.mu.Unlock()
	if status == http.StatusNoContent {
		x.noContent()
		return
	}
	x.json(http.StatusOK, withContext(m, x.assignmentsContext()+"/$entity"))
}

func (s *Server) createAssignment(x *exchange) {
	in, ok := s.decodeAssignment(x)
	if !ok {
		return
	}
	if in.target == nil {
		x.refused(refuse(CodeModelValidation, "/target: required"))
		return
	}
	s.mu.Lock()
	c := s.config(x.route.cfg)
	if c == nil {
		s.mu.Unlock()
		x.notFound("configuration")
		return
	}
	taken := make(map[string]bool, len(c.assignments))
	for _, a := range c.assignments {
		taken[a.id] = true
	}
	// Any id in the body is ignored: the service names its assignments.
	a := newAssignment(c, in, taken)
	c.assignments = append(c.assignments, a)
	c.modified = x.now
	s.writes++
	m := a.render(x.version)
	s.mu.Unlock()
	x.route.asg = a.id
	x.w.Header().Set("Location", x.baseURL()+
		"/deviceManagement/deviceEnrollmentConfigurations"+odataKey(x.route.cfg)+"/assignments"+odataKey(a.id))
	x.json(http.StatusCreated, withContext(m, x.assignmentsContext()+"/$entity"))
}

// newAssignment builds an assignment from a validated input, naming it
// {configuration guid}_{group id} for group targets (the observed form) and
// {configuration guid}_{new guid} otherwise or when that id is taken.
func newAssignment(c *config, in assignmentInput, taken map[string]bool) *assignment {
	a := &assignment{target: *in.target, source: sourceDirect, sourceID: in.sourceID}
	if in.hasSource {
		a.source = in.source
	}
	a.id = c.idPrefix() + "_" + in.target.groupID
	if in.target.groupID == "" || taken[a.id] {
		a.id = c.idPrefix() + "_" + uuid.NewString()
	}
	taken[a.id] = true
	return a
}

func (s *Server) deleteAssignment(x *exchange) {
	s.mu.Lock()
	c := s.config(x.route.cfg)
	i := -1
	if c != nil {
		i, _ = c.find(x.route.asg)
	}
	if i < 0 {
		s.mu.Unlock()
		x.notFound("assignment")
		return
	}
	c.assignments = append(c.assignments[:i:i], c.assignments[i+1:]...)
	c.modified = x.now
	s.writes++
	s.mu.Unlock()
	x.noContent()
}

// assign replaces the whole assignment set, as Graph's assign action does. A
// member whose id names an assignment that exists keeps that id; every
// other member is named as a new assignment would be.
func (s *Server) assign(x *exchange) {
	body, ok := x.jsonBody()
	if !ok {
		return
	}
	ins, bad := s.rules(x).assignBody(body)
	if bad != nil {
		x.refused(bad)
		return
	}
	s.mu.Lock()
	c := s.config(x.route.cfg)
	if c == nil {
		s.mu.Unlock()
		x.notFound("configuration")
		return
	}
	keep := make([]bool, len(ins))
	taken := make(map[string]bool, len(ins))
	for i, in := range ins {
		if _, old := c.find(in.id); in.hasID && old != nil && !taken[in.id] && !(s.renameAssign && c.regrouped(in)) {
			keep[i], taken[in.id] = true, true
		}
	}
	next := make([]*assignment, 0, len(ins))
	for i, in := range ins {
		if keep[i] {
			a := &assignment{id: in.id, target: *in.target, source: sourceDirect, sourceID: in.sourceID}
			if in.hasSource {
				a.source = in.source
			}
			next = append(next, a)
			continue
		}
		next = append(next, newAssignment(c, in, taken))
	}
	c.assignments = next
	c.modified = x.now
	s.writes++
	s.mu.Unlock()
	x.noContent()
}

func (s *Server) setPriority(x *exchange) {
	body, ok := x.jsonBody()
	if !ok {
		return
	}
	p, bad := priorityBody(body, x.version)
	if bad != nil {
		x.refused(bad)
		return
	}
	s.mu.Lock()
	c := s.config(x.route.cfg)
	if c != nil {
		c.priority = p
		c.modified = x.now
		s.writes++
	}
	s.mu.Unlock()
	if c == nil {
		x.notFound("configuration")
		return
	}
	x.noContent()
}
