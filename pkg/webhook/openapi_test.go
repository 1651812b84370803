package webhook

// The external contract, openapi.yaml, checked three ways: the document is
// valid OpenAPI 3.1 and every example in it matches its schema; the request
// schema agrees with pkg/change on what a valid change is; and the sample
// events under events/ match it. validateAgainstOpenAPI lets handler tests
// check real requests and answers against the same document.
//
// kin-openapi validates OpenAPI 3.1 documents with a JSON Schema 2020-12
// validator (type arrays such as [string, "null"], const, if/then/else).
// That validator ignores `discriminator`, which is documentation only: each
// target subtype's pattern on @odata.type keeps the oneOf unambiguous.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/enrollhook/enrollhook/pkg/change"
)

const (
	oapiPath      = "openapi.yaml"
	oapiEventsDir = "../../events"
	// eventBridgeSamplePrefix names the samples in events/ that are
	// EventBridge events for the events function (functions/events), which
	// its own runtime-emulator test drives; they are not the webhook's.
	eventBridgeSamplePrefix = "eventbridge-"
	oapiTypeURN             = "urn:enrollhook:problem:"
)

// oapiLoad loads and validates the document afresh.
func oapiLoad(t testing.TB) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(oapiPath)
	if err != nil {
		t.Fatalf("load %s: %v", oapiPath, err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("%s is not valid OpenAPI: %v", oapiPath, err)
	}
	return doc
}

var oapiShared struct {
	once   sync.Once
	doc    *openapi3.T
	router routers.Router
	err    error
}

// oapiRouter returns the document and a router over it, built once per test
// binary. The router ignores `servers`: tests send paths, not hosts.
func oapiRouter(t testing.TB) (*openapi3.T, routers.Router) {
	t.Helper()
	oapiShared.once.Do(func() {
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromFile(oapiPath)
		if err == nil {
			err = doc.Validate(loader.Context)
		}
		if err != nil {
			oapiShared.err = err
			return
		}
		doc.Servers = nil
		oapiShared.doc = doc
		oapiShared.router, oapiShared.err = gorillamux.NewRouter(doc)
	})
	if oapiShared.err != nil {
		t.Fatalf("OpenAPI contract %s: %v", oapiPath, oapiShared.err)
	}
	return oapiShared.doc, oapiShared.router
}

// validateAgainstOpenAPI fails t unless the exchange matches openapi.yaml:
// the route exists, a successful (2xx) request is valid (path, query,
// headers, body), and the answer is one the operation documents, with its
// headers and body. Requests answered with an error are not checked, since
// tests send them wrong on purpose; their answer is. Two answers fall
// outside any operation and are held to the Problem schema instead: 405 for
// another method on a documented path (with an Allow header), and 404 for a
// path the document does not have. Successful requests must carry what
// their operation's security scheme names (oapiAuthenticate).
//
// path may carry a query string. Headers may be nil.
func validateAgainstOpenAPI(t *testing.T, method, path string, reqHeaders http.Header, reqBody []byte, status int, respHeaders http.Header, respBody []byte) {
	t.Helper()
	doc, router := oapiRouter(t)
	for _, err := range oapiCheckExchange(doc, router, method, path, reqHeaders, reqBody, status, respHeaders, respBody) {
		t.Errorf("%s %s -> %d: %v", method, path, status, err)
	}
}

// oapiCheckExchange does the work of validateAgainstOpenAPI and returns
// every contract violation it finds.
func oapiCheckExchange(doc *openapi3.T, router routers.Router, method, path string, reqHeaders http.Header, reqBody []byte, status int, respHeaders http.Header, respBody []byte) []error {
	req := httptest.NewRequest(method, path, bytes.NewReader(reqBody))
	for k, vs := range reqHeaders {
		req.Header[k] = slices.Clone(vs)
	}
	if respHeaders == nil {
		respHeaders = http.Header{}
	}
	route, pathParams, err := router.FindRoute(req)
	outside := ""
	switch {
	case errors.Is(err, routers.ErrMethodNotAllowed) && status == http.StatusMethodNotAllowed:
		outside = "Problem"
	case errors.Is(err, routers.ErrPathNotFound) && status == http.StatusNotFound:
		outside = "Problem404"
	}
	if outside != "" {
		var errs []error
		if status == http.StatusMethodNotAllowed && respHeaders.Get("Allow") == "" {
			errs = append(errs, errors.New("405 without an Allow header"))
		}
		if respHeaders.Get("X-Request-Id") == "" {
			errs = append(errs, errors.New("no X-Request-Id header"))
		}
		if err := oapiCheckProblem(doc, outside, respHeaders, respBody); err != nil {
			errs = append(errs, err)
		}
		var p struct{ Status int }
		if json.Unmarshal(respBody, &p) == nil && p.Status != status {
			errs = append(errs, fmt.Errorf("problem status %d, answered %d", p.Status, status))
		}
		return errs
	}
	if err != nil {
		return []error{fmt.Errorf("not an operation of the contract: %w", err)}
	}
	var errs []error
	opts := &openapi3filter.Options{MultiError: true, IncludeResponseStatus: true, AuthenticationFunc: oapiAuthenticate}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: pathParams, Route: route, Options: opts}
	ctx := context.Background()
	if status >= 200 && status < 300 {
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			errs = append(errs, fmt.Errorf("answered %d, but the request breaks the contract: %w", status, err))
		}
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: status, Header: respHeaders, Options: opts}
	out.SetBodyBytes(respBody)
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		errs = append(errs, fmt.Errorf("the answer breaks the contract: %w\nbody: %s", err, respBody))
	}
	return errs
}

// oapiAuthenticate holds a request to its operation's security scheme:
// the header an apiKey scheme names is present, and an http scheme's
// Authorization header starts with that scheme's name. It checks the form
// the contract promises, not the signature, which the handler checks.
func oapiAuthenticate(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	s, h := in.SecurityScheme, in.RequestValidationInput.Request.Header
	switch s.Type {
	case "apiKey":
		if s.In != "header" {
			return fmt.Errorf("security scheme %s: apiKey in %q, want header", in.SecuritySchemeName, s.In)
		}
		if h.Get(s.Name) == "" {
			return fmt.Errorf("security scheme %s: no %s header", in.SecuritySchemeName, s.Name)
		}
	case "http":
		scheme, _, ok := strings.Cut(h.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, s.Scheme) {
			return fmt.Errorf("security scheme %s: Authorization is not %s", in.SecuritySchemeName, s.Scheme)
		}
	default:
		return fmt.Errorf("security scheme %s: type %q is not one the contract uses", in.SecuritySchemeName, s.Type)
	}
	return nil
}

// oapiCheckProblem validates a problem+json answer against a component schema.
func oapiCheckProblem(doc *openapi3.T, schema string, header http.Header, body []byte) error {
	if ct := header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		return fmt.Errorf("Content-Type = %q, want application/problem+json", ct)
	}
	ref := doc.Components.Schemas[schema]
	if ref == nil || ref.Value == nil {
		return fmt.Errorf("schema %s missing from %s", schema, oapiPath)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("problem body is not JSON: %w\nbody: %s", err, body)
	}
	if err := ref.Value.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
		return fmt.Errorf("problem body does not match %s: %w\nbody: %s", schema, err, body)
	}
	return nil
}

// oapiVisit validates a JSON value (decoded with encoding/json or from the
// document) against schema with the JSON Schema 2020-12 rules of OpenAPI 3.1.
func oapiVisit(schema *openapi3.Schema, v any) error {
	// Round-trip through JSON so values from YAML have JSON's types.
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var norm any
	if err := json.Unmarshal(b, &norm); err != nil {
		return err
	}
	return schema.VisitJSON(norm, openapi3.EnableJSONSchema2020())
}

func TestOpenAPIDocument(t *testing.T) {
	doc := oapiLoad(t)
	if !strings.HasPrefix(doc.OpenAPI, "3.1.") {
		t.Errorf("openapi = %q, want 3.1.x", doc.OpenAPI)
	}
	for _, op := range []struct{ method, path string }{
		{http.MethodPost, "/hooks/{source}"},
		{http.MethodGet, "/healthz"},
	} {
		item := doc.Paths.Value(op.path)
		if item == nil || item.GetOperation(op.method) == nil {
			t.Errorf("%s %s is not in the document", op.method, op.path)
		}
	}
	post := doc.Paths.Value("/hooks/{source}").Post
	src := post.Parameters.GetByInAndName(openapi3.ParameterInPath, "source")
	if src == nil || src.Schema == nil {
		t.Fatal("POST /hooks/{source} has no source path parameter")
	}
	var sources []string
	for _, v := range src.Schema.Value.Enum {
		sources = append(sources, v.(string))
	}
	if want := []string{"generic", "servicenow", "jira", "slack", "teams"}; !slices.Equal(sources, want) {
		t.Errorf("source enum = %q, want %q", sources, want)
	}
	for _, h := range []string{"webhook-id", "webhook-timestamp", "webhook-signature"} {
		if post.Parameters.GetByInAndName(openapi3.ParameterInHeader, h) == nil {
			t.Errorf("POST /hooks/{source} does not document header %s", h)
		}
	}
	if post.Parameters.GetByInAndName(openapi3.ParameterInQuery, "dryRun") == nil {
		t.Error("POST /hooks/{source} does not document query dryRun")
	}
	for _, code := range []int{200, 400, 401, 403, 404, 409, 413, 415, 422, 500, 502, 503} {
		if post.Responses.Status(code) == nil {
			t.Errorf("POST /hooks/{source} does not document %d", code)
		}
	}
	if h := post.Responses.Status(503).Value.Headers["Retry-After"]; h == nil || !h.Value.Required {
		t.Error("503 must document a required Retry-After header")
	}
}

// oapiExample is one example of the document and the schema it illustrates.
type oapiExample struct {
	where  string
	schema *openapi3.Schema
	value  any
}

// oapiExamples collects every example of the document: media types of
// request bodies and responses, parameters, headers, and schema-level
// `examples`.
func oapiExamples(doc *openapi3.T) []oapiExample {
	var out []oapiExample
	add := func(where string, s *openapi3.SchemaRef, example any, examples openapi3.Examples) {
		if s == nil || s.Value == nil {
			return
		}
		if example != nil {
			out = append(out, oapiExample{where + " example", s.Value, example})
		}
		for name, ex := range examples {
			if ex != nil && ex.Value != nil {
				out = append(out, oapiExample{where + " examples." + name, s.Value, ex.Value.Value})
			}
		}
	}
	media := func(where string, c openapi3.Content) {
		for ct, mt := range c {
			add(where+" "+ct, mt.Schema, mt.Example, mt.Examples)
		}
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			at := method + " " + path
			for _, p := range op.Parameters {
				add(at+" parameter "+p.Value.Name, p.Value.Schema, p.Value.Example, p.Value.Examples)
			}
			if op.RequestBody != nil {
				media(at+" request", op.RequestBody.Value.Content)
			}
			for code, r := range op.Responses.Map() {
				for name, h := range r.Value.Headers {
					add(at+" "+code+" header "+name, h.Value.Schema, h.Value.Example, h.Value.Examples)
				}
				media(at+" "+code, r.Value.Content)
			}
		}
	}
	for name, s := range doc.Components.Schemas {
		for i, ex := range s.Value.Examples {
			out = append(out, oapiExample{"schema " + name + " examples[" + strconv.Itoa(i) + "]", s.Value, ex})
		}
		for prop, p := range s.Value.Properties {
			for _, ex := range p.Value.Examples {
				out = append(out, oapiExample{"schema " + name + "." + prop + " examples", p.Value, ex})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].where < out[j].where })
	return out
}

func TestOpenAPIExamples(t *testing.T) {
	doc := oapiLoad(t)
	examples := oapiExamples(doc)
	if len(examples) < 20 {
		t.Errorf("found %d examples, want the request, response and problem examples (20 or more)", len(examples))
	}
	for _, ex := range examples {
		if err := oapiVisit(ex.schema, ex.value); err != nil {
			t.Errorf("%s does not match its schema: %v", ex.where, err)
		}
	}
	// The problem examples the contract promises, under the status they
	// belong to.
	post := doc.Paths.Value("/hooks/{source}").Post
	for _, want := range []struct {
		status int
		slug   string
	}{
		{422, "invalid-fields"}, {401, "signature-mismatch"}, {403, "not-approved"}, {503, "graph-unavailable"},
	} {
		found := false
		for _, ex := range post.Responses.Status(want.status).Value.Content["application/problem+json"].Examples {
			m, _ := ex.Value.Value.(map[string]any)
			found = found || m["type"] == oapiTypeURN+want.slug
		}
		if !found {
			t.Errorf("no %d example of %s", want.status, want.slug)
		}
	}
}

func TestOpenAPIProblemTypes(t *testing.T) {
	doc := oapiLoad(t)
	pt := doc.Components.Schemas["ProblemType"].Value
	var types []string
	for _, v := range pt.Enum {
		s, _ := v.(string)
		types = append(types, s)
		slug, ok := strings.CutPrefix(s, oapiTypeURN)
		if !ok || slug == "" || strings.Trim(slug, "abcdefghijklmnopqrstuvwxyz-") != "" {
			t.Errorf("problem type %q is not %s<slug>", s, oapiTypeURN)
		}
		if !strings.Contains(pt.Description, "`"+slug+"`") {
			t.Errorf("problem type %s is not described", slug)
		}
	}
	want := []string{"malformed-json", "body-too-large", "unsupported-media-type", "invalid-fields",
		"signature-missing", "signature-mismatch", "timestamp-out-of-window", "source-not-configured",
		"unknown-source", "not-approved", "not-found", "method-not-allowed", "graph-refused",
		"graph-permission-denied", "graph-unavailable", "out-of-time", "internal"}
	// Every code of pkg/change, whose value is its problem slug.
	for _, c := range []change.Code{
		change.CodeMalformed, change.CodeUnauthenticated, change.CodeNotApproved, change.CodeForbidden,
		change.CodeUnknownSource, change.CodeNotFound, change.CodeMethodNotAllowed, change.CodeConflict,
		change.CodeTooLarge, change.CodeMediaType, change.CodeInvalid, change.CodeGraphRefused,
		change.CodeGraphPermission, change.CodeUnavailable, change.CodeTimeout, change.CodeInternal,
	} {
		want = append(want, string(c))
	}
	for _, slug := range want {
		if !slices.Contains(types, oapiTypeURN+slug) {
			t.Errorf("problem type %s%s is missing from ProblemType", oapiTypeURN, slug)
		}
	}
}

// oapiRequestSchema is the schema of the generic envelope.
func oapiRequestSchema(t *testing.T, doc *openapi3.T) *openapi3.Schema {
	t.Helper()
	mt := doc.Paths.Value("/hooks/{source}").Post.RequestBody.Value.Content.Get("application/json")
	if mt == nil || mt.Schema == nil {
		t.Fatal("POST /hooks/{source} has no application/json request schema")
	}
	return mt.Schema.Value
}

// TestOpenAPIRequestSchemaMatchesChange holds the request schema to
// change.Decode: both accept or both refuse each body. The contract may be
// stricter than the code, never looser; the cases where it is stricter are
// marked.
func TestOpenAPIRequestSchemaMatchesChange(t *testing.T) {
	schema := oapiRequestSchema(t, oapiLoad(t))
	const (
		ticket = `"ticket":{"id":"CHG1","state":"approved","approvedBy":"bob@contoso.com"}`
		ids    = `"configurationId":"cfg_1","assignmentId":"asg_1"`
		group  = `"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"5e6f0000-0000-0000-0000-000000000001"`
	)
	body := func(parts ...string) string { return "{" + strings.Join(parts, ",") + "}" }
	assignment := func(target string, extra ...string) string {
		return `"assignment":{` + strings.Join(append([]string{`"target":{` + target + `}`}, extra...), ",") + `}`
	}
	tests := []struct {
		name  string
		body  string
		valid bool
		// stricter: the schema refuses what change.Decode accepts.
		stricter string
	}{
		{"group", body(ticket, ids, assignment(group)), true, ""},
		{"type without #", body(ticket, ids, assignment(`"@odata.type":"microsoft.graph.allDevicesAssignmentTarget"`)), true, ""},
		{"include filter", body(ticket, ids, assignment(group+`,"deviceAndAppManagementAssignmentFilterId":"a1b2c3d4-0000-0000-0000-00000000f117","deviceAndAppManagementAssignmentFilterType":"include"`)), true, ""},
		{"filter none, id null", body(ticket, ids, assignment(group+`,"deviceAndAppManagementAssignmentFilterId":null,"deviceAndAppManagementAssignmentFilterType":"none"`)), true, ""},
		{"collection", body(ticket, ids, assignment(`"@odata.type":"#microsoft.graph.configurationManagerCollectionAssignmentTarget","collectionId":"SMS00001"`)), true, ""},
		{"scope tag group", body(ticket, ids, assignment(`"@odata.type":"#microsoft.graph.scopeTagGroupAssignmentTarget","targetType":"device","entraObjectId":"5e6f0000-0000-0000-0000-000000000003"`)), true, ""},
		{"source and null sourceId", body(ticket, ids, assignment(group, `"source":"policySets"`, `"sourceId":null`)), true, ""},
		{"assignment type and id", body(ticket, ids, assignment(group, `"@odata.type":"microsoft.graph.enrollmentConfigurationAssignment"`, `"id":"asg_1"`)), true, ""},
		{"unknown top-level property", body(ticket, ids, assignment(group), `"x-sender":{"run":7}`), true, ""},
		{"not approved is still valid", body(`"ticket":{"id":"CHG1","state":"rejected"}`, ids, assignment(group)), true, ""},
		{"stable user ids", body(`"ticket":{"id":"CHG1","state":"approved","requestedBy":"alice@contoso.com","requestedById":"62826bf03710200044e0bfc8bcbe5df1","approvedBy":"bob@contoso.com","approvedById":"5137153cc611227c000bbd1bd8cd2005"}`, ids, assignment(group)), true, ""},
		{"zero-width space in approver", body(`"ticket":{"id":"CHG1","state":"approved","approvedBy":"bob@contoso.com\u200b"}`, ids, assignment(group)), false, ""},
		{"right-to-left override in requester id", body(`"ticket":{"id":"CHG1","state":"approved","approvedBy":"bob","requestedById":"\u202eu1"}`, ids, assignment(group)), false, ""},

		{"not an object", `[1]`, false, ""},
		{"no ticket", body(ids, assignment(group)), false, ""},
		{"approved without approver", body(`"ticket":{"id":"CHG1","state":"approved"}`, ids, assignment(group)), false, ""},
		{"approved with an empty approver", body(`"ticket":{"id":"CHG1","state":"approved","approvedBy":""}`, ids, assignment(group)), false, ""},
		{"rejected with an empty approver", body(`"ticket":{"id":"CHG1","state":"rejected","approvedBy":""}`, ids, assignment(group)), true, ""},
		{"C1 control character in ticket id", body(`"ticket":{"id":"CHG\u00851","state":"rejected"}`, ids, assignment(group)), false, ""},
		{"shorthand-free envelope with a soft hyphen in approver", body(`"ticket":{"id":"CHG1","state":"approved","approvedBy":"bob\u00ad@contoso.com"}`, ids, assignment(group)), false, ""},
		{"control character in ticket id", body(`"ticket":{"id":"CHG\u00071","state":"rejected"}`, ids, assignment(group)), false, ""},
		{"bidi override in ticket id", body(`"ticket":{"id":"CHG\u202e1","state":"rejected"}`, ids, assignment(group)), false, ""},
		{"ticket url not http", body(`"ticket":{"id":"CHG1","state":"rejected","url":"ftp://x"}`, ids, assignment(group)), false, ""},
		{"configuration id with slash", body(ticket, `"configurationId":"cfg/../x","assignmentId":"asg_1"`, assignment(group)), false, ""},
		{"assignment id too long", body(ticket, `"configurationId":"cfg","assignmentId":"`+strings.Repeat("a", 257)+`"`, assignment(group)), false, ""},
		{"no target", body(ticket, ids, `"assignment":{}`), false, ""},
		{"unknown assignment property", body(ticket, ids, assignment(group, `"intent":"apply"`)), false, ""},
		{"unknown target property", body(ticket, ids, assignment(group+`,"groupName":"x"`)), false, ""},
		{"unknown target type", body(ticket, ids, assignment(`"@odata.type":"#microsoft.graph.cloudPcManagementGroupAssignmentTarget","groupId":"5e6f0000-0000-0000-0000-000000000001"`)), false, ""},
		{"target type missing", body(ticket, ids, assignment(`"groupId":"5e6f0000-0000-0000-0000-000000000001"`)), false, ""},
		{"group id not a GUID", body(ticket, ids, assignment(`"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"sales"`)), false, ""},
		{"group without group id", body(ticket, ids, assignment(`"@odata.type":"#microsoft.graph.groupAssignmentTarget"`)), false, ""},
		{"group id on all devices", body(ticket, ids, assignment(`"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget","groupId":"5e6f0000-0000-0000-0000-000000000001"`)), false, ""},
		{"collection id not 8 characters", body(ticket, ids, assignment(`"@odata.type":"#microsoft.graph.configurationManagerCollectionAssignmentTarget","collectionId":"SMS1"`)), false, ""},
		{"scope tag target type", body(ticket, ids, assignment(`"@odata.type":"#microsoft.graph.scopeTagGroupAssignmentTarget","targetType":"group","entraObjectId":"5e6f0000-0000-0000-0000-000000000003"`)), false, ""},
		{"include without filter id", body(ticket, ids, assignment(group+`,"deviceAndAppManagementAssignmentFilterType":"include"`)), false, ""},
		{"filter id without type", body(ticket, ids, assignment(group+`,"deviceAndAppManagementAssignmentFilterId":"a1b2c3d4-0000-0000-0000-00000000f117"`)), false, ""},
		{"filter type unknown", body(ticket, ids, assignment(group+`,"deviceAndAppManagementAssignmentFilterType":"only"`)), false, ""},
		{"source unknown", body(ticket, ids, assignment(group, `"source":"inherited"`)), false, ""},
		{"assignment type wrong", body(ticket, ids, assignment(group, `"@odata.type":"#microsoft.graph.groupAssignmentTarget"`)), false, ""},

		{"approved in capitals without approver", body(`"ticket":{"id":"CHG1","state":"Approved"}`, ids, assignment(group)), false, ""},
		{"empty source", body(ticket, ids, assignment(group, `"source":""`)), false,
			"change accepts an empty source as absent"},
		{"empty collection id on a group", body(ticket, ids, assignment(group+`,"collectionId":""`)), false,
			"change ignores empty properties of other subtypes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v any
			if err := json.Unmarshal([]byte(tt.body), &v); err != nil {
				t.Fatalf("test body is not JSON: %v", err)
			}
			schemaErr := oapiVisit(schema, v)
			if (schemaErr == nil) != tt.valid {
				t.Errorf("schema: valid = %v, want %v (%v)", schemaErr == nil, tt.valid, schemaErr)
			}
			_, decodeErr := change.Decode([]byte(tt.body), nil)
			codeValid := tt.valid
			if tt.stricter != "" {
				codeValid = true
			}
			if (decodeErr == nil) != codeValid {
				if tt.stricter != "" {
					t.Logf("change.Decode now refuses it too (%v); the case %q can lose its mark", decodeErr, tt.stricter)
					return
				}
				t.Errorf("change.Decode: valid = %v, want %v (%v)", decodeErr == nil, codeValid, decodeErr)
			}
		})
	}
}

// TestOpenAPIEvents checks the sample API Gateway v2 events: the route
// exists, and a /hooks/generic body matches the request schema unless the
// file name says "invalid", in which case the body must break it.
func TestOpenAPIEvents(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(oapiEventsDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Skipf("no events in %s yet", oapiEventsDir)
	}
	doc, router := oapiRouter(t)
	schema := oapiRequestSchema(t, doc)
	for _, file := range files {
		name := filepath.Base(file)
		if strings.HasPrefix(name, eventBridgeSamplePrefix) {
			continue // EventBridge events for functions/events, not API Gateway's
		}
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var ev events.APIGatewayV2HTTPRequest
			if err := json.Unmarshal(raw, &ev); err != nil {
				t.Fatalf("not an API Gateway v2 event: %v", err)
			}
			path := ev.RawPath
			if path == "" {
				path = ev.RequestContext.HTTP.Path
			}
			method := ev.RequestContext.HTTP.Method
			if path == "" || method == "" {
				t.Fatalf("event has no path (%q) or method (%q)", path, method)
			}
			body := []byte(ev.Body)
			if ev.IsBase64Encoded {
				if body, err = base64.StdEncoding.DecodeString(ev.Body); err != nil {
					t.Fatalf("isBase64Encoded, but the body is not base64: %v", err)
				}
			}
			target := path
			if ev.RawQueryString != "" {
				target += "?" + ev.RawQueryString
			}
			req := httptest.NewRequest(method, target, bytes.NewReader(body))
			for k, v := range ev.Headers {
				req.Header.Set(k, v)
			}
			route, params, err := router.FindRoute(req)
			if err != nil {
				t.Fatalf("%s %s is not an operation of the contract: %v", method, path, err)
			}
			invalid := strings.Contains(name, "invalid")
			// servicenow and jira have paths of their own, with their body
			// schemas and signature headers.
			if path != "/hooks/generic" && path != "/hooks/servicenow" && path != "/hooks/jira" {
				t.Logf("%s %s: no request schema to hold the body to", method, path)
				return
			}
			if invalid {
				var v any
				if err := json.Unmarshal(body, &v); err != nil {
					return // not even JSON: invalid as named
				}
				if oapiVisit(schema, v) == nil {
					t.Errorf("named invalid, but the body matches the request schema")
				}
				return
			}
			in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
				Options: &openapi3filter.Options{MultiError: true, AuthenticationFunc: oapiAuthenticate}}
			if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
				t.Errorf("request breaks the contract: %v", err)
			}
		})
	}
}

// TestValidateAgainstOpenAPI shows the helper on exchanges built from the
// document's own examples, and that it is not vacuous.
func TestValidateAgainstOpenAPI(t *testing.T) {
	doc, _ := oapiRouter(t)
	example := func(name string) []byte {
		b, err := json.Marshal(doc.Components.Examples[name].Value.Value)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	reqHeaders := http.Header{
		"Content-Type":      {"application/json"},
		"Webhook-Id":        {"msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"},
		"Webhook-Timestamp": {"1714032000"},
		"Webhook-Signature": {"v1,ZfbfGDIcwBpc3qN0Ild0U1V4iA0woU1KE34fc8M7t/8="},
	}
	okHeaders := http.Header{"Content-Type": {"application/json"}, "X-Request-Id": {"r-1"}, "X-Graph-Request-Id": {"g-1"}}
	problem := http.Header{"Content-Type": {"application/problem+json"}, "X-Request-Id": {"r-2"}}

	validateAgainstOpenAPI(t, http.MethodPost, "/hooks/generic", reqHeaders, example("GroupIncludeRequest"),
		http.StatusOK, okHeaders, example("GroupIncludeResponse"))
	validateAgainstOpenAPI(t, http.MethodPost, "/hooks/generic", reqHeaders, []byte(`{`),
		http.StatusUnprocessableEntity, problem, example("InvalidFieldsProblem"))
	validateAgainstOpenAPI(t, http.MethodPost, "/hooks/generic", reqHeaders, example("GroupIncludeRequest"),
		http.StatusServiceUnavailable, http.Header{"Content-Type": {"application/problem+json"}, "X-Request-Id": {"r-2"}, "Retry-After": {"5"}},
		example("GraphUnavailableProblem"))
	validateAgainstOpenAPI(t, http.MethodGet, "/hooks/generic", nil, nil, http.StatusMethodNotAllowed,
		http.Header{"Content-Type": {"application/problem+json"}, "X-Request-Id": {"r-2"}, "Allow": {"POST"}},
		[]byte(`{"type":"urn:enrollhook:problem:method-not-allowed","title":"Method not allowed","status":405,"detail":"webhooks are sent with POST","instance":"r-2"}`))
	validateAgainstOpenAPI(t, http.MethodPost, "/hooks", nil, nil, http.StatusNotFound, problem,
		[]byte(`{"type":"urn:enrollhook:problem:unknown-route","title":"Unknown route","status":404,"detail":"no such route","instance":"r-2"}`))

	// Each of these must be caught.
	_, router := oapiRouter(t)
	bad := []struct {
		name         string
		method, path string
		reqBody      []byte
		status       int
		respHeaders  http.Header
		respBody     []byte
	}{
		{"problem without X-Request-Id", http.MethodPost, "/hooks/generic", nil, http.StatusForbidden, http.Header{"Content-Type": {"application/problem+json"}}, example("NotApprovedProblem")},
		{"undocumented status", http.MethodPost, "/hooks/generic", example("GroupIncludeRequest"), http.StatusTeapot, problem, example("InternalProblem")},
		{"200 with an invalid request", http.MethodPost, "/hooks/generic", []byte(`{}`), http.StatusOK, okHeaders, example("GroupIncludeResponse")},
		{"200 for an unknown source", http.MethodPost, "/hooks/pagerduty", example("GroupIncludeRequest"), http.StatusOK, okHeaders, example("GroupIncludeResponse")},
		{"200 without X-Request-Id", http.MethodPost, "/hooks/generic", example("GroupIncludeRequest"), http.StatusOK, http.Header{"Content-Type": {"application/json"}}, example("GroupIncludeResponse")},
		{"200 with an unknown property", http.MethodPost, "/hooks/generic", example("GroupIncludeRequest"), http.StatusOK, okHeaders,
			[]byte(`{"id":"a","target":{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget"},"@odata.context":"https://graph.microsoft.com/beta/$metadata"}`)},
		{"problem status differs", http.MethodPost, "/hooks/generic", nil, http.StatusForbidden, problem, example("InvalidFieldsProblem")},
		{"problem as application/json", http.MethodPost, "/hooks/generic", nil, http.StatusUnprocessableEntity, http.Header{"Content-Type": {"application/json"}}, example("InvalidFieldsProblem")},
		{"invalid-fields without errors", http.MethodPost, "/hooks/generic", nil, http.StatusUnprocessableEntity, problem,
			[]byte(`{"type":"urn:enrollhook:problem:invalid-fields","title":"t","status":422,"detail":"d","instance":"r"}`)},
		{"unknown problem type", http.MethodPost, "/hooks/generic", nil, http.StatusForbidden, problem,
			[]byte(`{"type":"about:blank","title":"t","status":403,"detail":"d","instance":"r"}`)},
		{"503 without Retry-After", http.MethodPost, "/hooks/generic", nil, http.StatusServiceUnavailable, problem, example("GraphUnavailableProblem")},
		{"problem with a leaked field", http.MethodPost, "/hooks/generic", nil, http.StatusBadGateway, problem,
			[]byte(`{"type":"urn:enrollhook:problem:graph-refused","title":"t","status":502,"detail":"d","instance":"r","graphBody":"{}"}`)},
		{"405 without Allow", http.MethodGet, "/hooks/generic", nil, http.StatusMethodNotAllowed, problem,
			[]byte(`{"type":"urn:enrollhook:problem:method-not-allowed","title":"t","status":405,"detail":"d","instance":"r"}`)},
		{"unknown path answered 200", http.MethodPost, "/hooks", nil, http.StatusOK, okHeaders, example("GroupIncludeResponse")},
		{"unknown path, problem status differs", http.MethodPost, "/hooks", nil, http.StatusNotFound, problem, example("InternalProblem")},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			errs := oapiCheckExchange(doc, router, tt.method, tt.path, reqHeaders, tt.reqBody, tt.status, tt.respHeaders, tt.respBody)
			if len(errs) == 0 {
				t.Errorf("oapiCheckExchange found nothing wrong")
			}
			for _, err := range errs {
				t.Log(err)
			}
		})
	}
}

// TestContractPageListsEveryProblemType: the contract page's table of
// answers (docs/contract.md) names every problem type of the document's
// ProblemType, with the same status, and no other: a user reading the page
// meets every slug a refusal or an audit line can carry.
func TestContractPageListsEveryProblemType(t *testing.T) {
	doc := oapiLoad(t)
	pt := doc.Components.Schemas["ProblemType"].Value
	want := map[string]string{} // slug -> status, from the description's table
	for _, line := range strings.Split(pt.Description, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 {
			continue
		}
		slug, status := strings.Trim(strings.TrimSpace(cells[1]), "`"), strings.TrimSpace(cells[2])
		if slug != "" && slug != "slug" && !strings.HasPrefix(slug, "-") {
			want[slug] = status
		}
	}
	for _, v := range pt.Enum {
		s, _ := v.(string)
		if _, ok := want[strings.TrimPrefix(s, oapiTypeURN)]; !ok {
			t.Errorf("ProblemType %s has no row in its own description's table", s)
		}
	}
	page, err := os.ReadFile("../../docs/contract.md")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, line := range strings.Split(string(page), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 || strings.Trim(strings.TrimSpace(cells[1]), "0123456789") != "" || strings.TrimSpace(cells[1]) == "" {
			continue // not a row of the status table
		}
		status := strings.TrimSpace(cells[1])
		for _, slug := range regexp.MustCompile("`([a-z-]+)`").FindAllStringSubmatch(cells[2], -1) {
			got[slug[1]] = status
		}
	}
	for slug, status := range want {
		if g, ok := got[slug]; !ok {
			t.Errorf("docs/contract.md does not list problem type %s", slug)
		} else if g != status {
			t.Errorf("docs/contract.md gives %s status %s, the OpenAPI document %s", slug, g, status)
		}
	}
	for slug := range got {
		if _, ok := want[slug]; !ok {
			t.Errorf("docs/contract.md lists %s, which is no problem type of the OpenAPI document", slug)
		}
	}
}
