package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/apply"
	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/graph"
	"github.com/enrollhook/enrollhook/pkg/source/generic"
)

const testSecret = "whsec_dGVzdC1zZWNyZXQtdGhhdC1pcy1ub3QtdGhlLWRldi1vbmU="

// fakeGraph is an in-memory Graph behind a mutex.
type fakeGraph struct {
	mu     sync.Mutex
	calls  []fakeCall
	result *graph.Result
	err    error
	// onPatch, when set, is called with each PATCH, under mu.
	onPatch func()
}

type fakeCall struct {
	configurationID, assignmentID string
	body                          []byte
}

var _ apply.Graph = (*fakeGraph)(nil)

func (f *fakeGraph) PatchAssignment(ctx context.Context, cfg, asg string, body any) (*graph.Result, error) {
	b, _ := json.Marshal(body)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fakeCall{cfg, asg, b})
	if f.onPatch != nil {
		f.onPatch()
	}
	if f.err != nil {
		return nil, f.err
	}
	if f.result != nil {
		return f.result, nil
	}
	// Answer like Graph: the sent assignment with its id.
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	m["id"] = asg
	out, _ := json.Marshal(m)
	return &graph.Result{Body: out, RequestID: "graph-req-1", ClientRequestID: "client-req-1"}, nil
}

func (f *fakeGraph) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

const validBody = `{"ticket":{"id":"CHG0030042","system":"servicenow","state":"approved","requestedBy":"alice@contoso.com","approvedBy":"bob@contoso.com"},` +
	`"configurationId":"2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_Windows10EnrollmentCompletionPageConfiguration",` +
	`"assignmentId":"2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_5e6f0000-0000-0000-0000-000000000001",` +
	`"assignment":{"target":{"@odata.type":"microsoft.graph.groupAssignmentTarget","groupId":"5e6f0000-0000-0000-0000-000000000001",` +
	`"deviceAndAppManagementAssignmentFilterId":"a1b2c3d4-0000-0000-0000-00000000f117","deviceAndAppManagementAssignmentFilterType":"include"},"source":"direct"}}`

var testNow = time.Unix(1764403200, 0)

type harness struct {
	h    *testHandler
	g    *fakeGraph
	logs *bytes.Buffer
}

func newHarness(t *testing.T, opts *testOptions) *harness {
	t.Helper()
	src, err := generic.New(testSecret, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	logs := &bytes.Buffer{}
	o := testOptions{Now: func() time.Time { return testNow }, Logger: testLogger(logs), Disabled: []string{"slack"}}
	if opts != nil {
		o.MaxBodyBytes, o.GraphVersion, o.Store, o.Limiter = opts.MaxBodyBytes, opts.GraphVersion, opts.Store, opts.Limiter
	}
	g := &fakeGraph{}
	return &harness{h: newTestHandler(g, []Source{src}, &o), g: g, logs: logs}
}

func signed(t *testing.T, body string, ts time.Time) *http.Request {
	t.Helper()
	return signedID(t, "msg_test_1", body, ts)
}

// signedID is signed with another delivery id.
func signedID(t *testing.T, id, body string, ts time.Time) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/hooks/generic", strings.NewReader(body))
	h, err := generic.Sign(testSecret, id, ts, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		r.Header[k] = v
	}
	r.Header.Set("Content-Type", "application/json")
	return r
}

// do serves r and checks the exchange against the OpenAPI contract.
func (hs *harness) do(t *testing.T, r *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	var reqBody []byte
	if r.Body != nil {
		reqBody, _ = io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	reqHeaders := r.Header.Clone()
	w := httptest.NewRecorder()
	hs.h.ServeHTTP(w, r)
	validateAgainstOpenAPI(t, r.Method, r.URL.RequestURI(), reqHeaders, reqBody, w.Code, w.Header(), w.Body.Bytes())
	return w
}

func decodeProblem(t *testing.T, w *httptest.ResponseRecorder) apply.Problem {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json; body %s", ct, w.Body)
	}
	var p apply.Problem
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatalf("problem body: %v", err)
	}
	if p.Status != w.Code {
		t.Fatalf("problem status %d != HTTP status %d", p.Status, w.Code)
	}
	if p.Instance == "" || p.Instance != w.Header().Get(HeaderRequestID) {
		t.Fatalf("instance %q, X-Request-Id %q: want the request id in both", p.Instance, w.Header().Get(HeaderRequestID))
	}
	return p
}

func TestApprovedChangeIsApplied(t *testing.T) {
	hs := newHarness(t, nil)
	w := hs.do(t, signed(t, validBody, testNow))
	if w.Code != http.StatusOK {
		t.Fatalf("status = %d, body %s", w.Code, w.Body)
	}
	if got := w.Header().Get(HeaderGraphRequestID); got != "graph-req-1" {
		t.Errorf("X-Graph-Request-Id = %q", got)
	}
	if w.Header().Get(HeaderRequestID) == "" {
		t.Error("no X-Request-Id")
	}
	if hs.g.count() != 1 {
		t.Fatalf("Graph calls = %d, want 1", hs.g.count())
	}
	call := hs.g.calls[0]
	if call.configurationID != "2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_Windows10EnrollmentCompletionPageConfiguration" ||
		call.assignmentID != "2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_5e6f0000-0000-0000-0000-000000000001" {
		t.Errorf("Graph called for %s/%s", call.configurationID, call.assignmentID)
	}
	want := `{"@odata.type":"#microsoft.graph.enrollmentConfigurationAssignment","target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget",` +
		`"groupId":"5e6f0000-0000-0000-0000-000000000001","deviceAndAppManagementAssignmentFilterId":"a1b2c3d4-0000-0000-0000-00000000f117",` +
		`"deviceAndAppManagementAssignmentFilterType":"include"},"source":"direct"}`
	if string(call.body) != want {
		t.Errorf("Graph body =\n%s\nwant\n%s", call.body, want)
	}
	if !strings.Contains(w.Body.String(), `"id":"2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_5e6f0000-0000-0000-0000-000000000001"`) {
		t.Errorf("answer is not Graph's object: %s", w.Body)
	}
	if strings.Contains(w.Body.String(), "@odata.context") {
		t.Errorf("answer carries @odata.context")
	}
	webhookLines := logLines(t, hs.logs.String(), "webhook") // the audit and metrics lines: audit_test.go
	if len(webhookLines) != 1 {
		t.Fatalf("%d webhook log lines, want 1:\n%s", len(webhookLines), hs.logs)
	}
	line := webhookLines[0]
	for k, v := range map[string]any{"outcome": "applied", "source": "generic", "deliveryId": "msg_test_1", "ticket": "CHG0030042",
		"approvedBy": "bob@contoso.com", "graphRequestId": "graph-req-1", "clientRequestId": "client-req-1", "status": float64(200)} {
		if line[k] != v {
			t.Errorf("log %s = %v, want %v", k, line[k], v)
		}
	}
}

func TestRefusals(t *testing.T) {
	stale := testNow.Add(-6 * time.Minute)
	tests := []struct {
		name    string
		req     func(t *testing.T) *http.Request
		status  int
		problem string
		detail  string
	}{
		{"unknown sender", func(t *testing.T) *http.Request {
			return httptest.NewRequest(http.MethodPost, "/hooks/pagerduty", strings.NewReader(validBody))
		}, 404, "unknown-source", "available: generic"},
		{"unknown route", func(t *testing.T) *http.Request {
			return httptest.NewRequest(http.MethodPost, "/admin", nil)
		}, 404, "unknown-route", "POST /hooks/{source}"},
		{"a compressed body", func(t *testing.T) *http.Request {
			r := signed(t, validBody, testNow)
			r.Header.Set("Content-Encoding", "gzip")
			return r
		}, 415, "unsupported-media-type", "Content-Encoding"},
		{"a doubled slash is no route, not a redirect", func(t *testing.T) *http.Request {
			r := signed(t, validBody, testNow)
			r.URL.Path = "/hooks//generic"
			return r
		}, 404, "unknown-route", "POST /hooks/{source}"},
		{"a dot segment is no route, not a redirect", func(t *testing.T) *http.Request {
			r := signed(t, validBody, testNow)
			r.URL.Path = "/hooks/x/../generic"
			return r
		}, 404, "unknown-route", "POST /hooks/{source}"},
		{"sender without a secret fails closed", func(t *testing.T) *http.Request {
			r := signed(t, validBody, testNow)
			r.URL.Path = "/hooks/slack"
			return r
		}, 401, "source-not-configured", "no secret"},
		{"GET on a hook", func(t *testing.T) *http.Request {
			return httptest.NewRequest(http.MethodGet, "/hooks/generic", nil)
		}, 405, "method-not-allowed", "POST"},
		{"no signature headers", func(t *testing.T) *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/hooks/generic", strings.NewReader(validBody))
			r.Header.Set("Content-Type", "application/json")
			return r
		}, 401, "signature-missing", "webhook-signature"},
		{"wrong signature", func(t *testing.T) *http.Request {
			r := signed(t, validBody, testNow)
			r.Header.Set("webhook-signature", "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=")
			return r
		}, 401, "signature-mismatch", "secret"},
		{"body re-encoded after signing", func(t *testing.T) *http.Request {
			r := signed(t, validBody, testNow)
			var re bytes.Buffer
			_ = json.Indent(&re, []byte(validBody), "", " ")
			r.Body = io.NopCloser(bytes.NewReader(re.Bytes()))
			r.ContentLength = int64(re.Len())
			return r
		}, 401, "body-re-encoded", "pass the raw bytes through"},
		{"body re-serialized, keys reordered", func(t *testing.T) *http.Request {
			r := signed(t, validBody, testNow)
			var v any
			_ = json.Unmarshal([]byte(validBody), &v)
			re, _ := json.MarshalIndent(v, "", " ")
			r.Body = io.NopCloser(bytes.NewReader(re))
			r.ContentLength = int64(len(re))
			return r
		}, 401, "signature-mismatch", "exactly as signed"},
		{"stale timestamp", func(t *testing.T) *http.Request { return signed(t, validBody, stale) }, 401, "timestamp-out-of-window", "5m0s"},
		{"not JSON media type", func(t *testing.T) *http.Request {
			r := signed(t, validBody, testNow)
			r.Header.Set("Content-Type", "text/plain")
			return r
		}, 415, "unsupported-media-type", "application/json"},
		{"malformed JSON", func(t *testing.T) *http.Request { return signed(t, `{"ticket":`, testNow) }, 400, "malformed-json", "not well-formed"},
		{"nested deeper than the limit", func(t *testing.T) *http.Request {
			return signed(t, `{"pad":`+strings.Repeat("[", 10001)+strings.Repeat("]", 10001)+`}`, testNow)
		}, 400, "malformed-json", "the body nests arrays and objects deeper than the limit of 10000 levels"},
		{"rejected ticket", func(t *testing.T) *http.Request {
			return signed(t, strings.Replace(validBody, `"state":"approved"`, `"state":"rejected"`, 1), testNow)
		}, 403, "not-approved", "rejected"},
		{"unknown state is not quoted", func(t *testing.T) *http.Request {
			return signed(t, strings.Replace(validBody, `"state":"approved"`, `"state":"maybe-later"`, 1), testNow)
		}, 403, "not-approved", "not approved"},
		{"malformed timestamp", func(t *testing.T) *http.Request {
			r := signed(t, validBody, testNow)
			r.Header.Set("webhook-timestamp", "2025-11-29T08:00:00Z")
			return r
		}, 401, "signature-malformed", "unix seconds"},
		{"body over the limit", func(t *testing.T) *http.Request {
			return signed(t, `{"pad":"`+strings.Repeat("x", 300<<10)+`"}`, testNow)
		}, 413, "body-too-large", "256 KiB"},
		{"body over the limit without Content-Length", func(t *testing.T) *http.Request {
			r := signed(t, `{"pad":"`+strings.Repeat("x", 300<<10)+`"}`, testNow)
			r.ContentLength = -1
			return r
		}, 413, "body-too-large", "256 KiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := newHarness(t, nil)
			w := hs.do(t, tt.req(t))
			if w.Code != tt.status {
				t.Fatalf("status = %d, want %d; body %s", w.Code, tt.status, w.Body)
			}
			p := decodeProblem(t, w)
			if p.Type != apply.ProblemTypePrefix+tt.problem {
				t.Errorf("type = %q, want %q", p.Type, apply.ProblemTypePrefix+tt.problem)
			}
			if !strings.Contains(p.Detail, tt.detail) {
				t.Errorf("detail = %q, want it to mention %q", p.Detail, tt.detail)
			}
			if hs.g.count() != 0 {
				t.Errorf("Graph was called %d times for a refused request", hs.g.count())
			}
			for _, secretish := range []string{testSecret, strings.TrimPrefix(testSecret, "whsec_"), "Ceo5qEr07ixe2NLpvHk3FH9bwy"} {
				if strings.Contains(w.Body.String(), secretish) || strings.Contains(hs.logs.String(), secretish) {
					t.Errorf("a secret or signature leaked into the answer or the log")
				}
			}
			if tt.status == 405 && w.Header().Get("Allow") != "POST" {
				t.Errorf("Allow = %q", w.Header().Get("Allow"))
			}
		})
	}
}

func TestInvalidFieldsAreAllNamedAndNeverReachGraph(t *testing.T) {
	hs := newHarness(t, nil)
	body := `{"ticket":{"id":"CHG1","state":"approved"},"configurationId":"../x?y=%2F","assignmentId":"a/b",` +
		`"assignment":{"target":{"@odata.type":"groupAssignmentTarget","groupId":"nope","deviceAndAppManagementAssignmentFilterType":"exclude"},"sorce":"direct"}}`
	w := hs.do(t, signed(t, body, testNow))
	if w.Code != http.StatusUnprocessableEntity {
		t.Fatalf("status = %d; body %s", w.Code, w.Body)
	}
	p := decodeProblem(t, w)
	var got []string
	for _, e := range p.Errors {
		got = append(got, e.Field)
	}
	want := []string{"/assignment/sorce", "/assignment/target/@odata.type", "/assignment/target/groupId", "/assignmentId", "/configurationId", "/ticket/approvedBy"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("fields = %v, want %v", got, want)
	}
	if strings.Contains(w.Body.String(), "%2F") || strings.Contains(w.Body.String(), "../x") {
		t.Errorf("the answer quotes the invalid value: %s", w.Body)
	}
	if hs.g.count() != 0 {
		t.Error("an invalid id reached Graph")
	}
}

func TestGraphV1RefusesBetaOnlyFields(t *testing.T) {
	hs := newHarness(t, &testOptions{GraphVersion: "v1.0"})
	w := hs.do(t, signed(t, validBody, testNow))
	if w.Code != http.StatusUnprocessableEntity {
		t.Fatalf("status = %d; body %s", w.Code, w.Body)
	}
	p := decodeProblem(t, w)
	if len(p.Errors) != 3 || !strings.Contains(p.Errors[0].Reason, "beta only") {
		t.Errorf("errors = %+v, want source and both filter fields named as beta-only", p.Errors)
	}
}

func TestGraphFailuresMapToProblems(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		status     int
		problem    string
		retryAfter string
	}{
		{"not found", &change.Error{Code: change.CodeNotFound, Message: "the configuration or assignment does not exist in Intune"}, 404, "not-found", ""},
		{"throttled beyond the budget", &change.Error{Code: change.CodeUnavailable, Message: "Graph is throttling", RetryAfter: 7 * time.Second}, 503, "graph-unavailable", "7"},
		{"out of time", &change.Error{Code: change.CodeTimeout, Message: "Graph did not answer in time", RetryAfter: 1500 * time.Millisecond}, 503, "out-of-time", "2"},
		{"refused", &change.Error{Code: change.CodeGraphRefused, Message: "Graph refused the change: BadRequest"}, 502, "graph-refused", ""},
		{"permission", &change.Error{Code: change.CodeGraphPermission, Message: "grant DeviceManagementServiceConfig.ReadWrite.All"}, 502, "graph-permission-denied", ""},
		{"uncoded error stays internal", errors.New("dial tcp 10.1.2.3:443: secret-ish detail"), 500, "internal", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := newHarness(t, nil)
			hs.g.err = tt.err
			w := hs.do(t, signed(t, validBody, testNow))
			if w.Code != tt.status {
				t.Fatalf("status = %d, want %d", w.Code, tt.status)
			}
			p := decodeProblem(t, w)
			if p.Type != apply.ProblemTypePrefix+tt.problem {
				t.Errorf("type = %q", p.Type)
			}
			if got := w.Header().Get("Retry-After"); got != tt.retryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tt.retryAfter)
			}
			if strings.Contains(w.Body.String(), "10.1.2.3") {
				t.Errorf("internal detail leaked: %s", w.Body)
			}
			if tt.status == 500 && !strings.Contains(hs.logs.String(), "10.1.2.3") {
				t.Errorf("the operator's log lacks the internal cause")
			}
		})
	}
}

func TestReadBackFailureStillAnswersTheAppliedChange(t *testing.T) {
	hs := newHarness(t, nil)
	hs.g.result = &graph.Result{RequestID: "graph-req-2", StatusCode: 204, ReadBackErr: errors.New("GET failed")}
	w := hs.do(t, signed(t, validBody, testNow))
	if w.Code != 200 || w.Header().Get(apply.HeaderReadBack) != "failed" {
		t.Fatalf("status %d, %s=%q", w.Code, apply.HeaderReadBack, w.Header().Get(apply.HeaderReadBack))
	}
	if !strings.Contains(w.Body.String(), `"id":"2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_5e6f0000-0000-0000-0000-000000000001"`) {
		t.Errorf("body = %s", w.Body)
	}
}

func TestHealthz(t *testing.T) {
	hs := newHarness(t, nil)
	w := hs.do(t, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"ok"`) {
		t.Fatalf("healthz = %d %s", w.Code, w.Body)
	}
	// A method the path does not take: 405 with Allow, as the contract
	// says of every documented path (not the unknown route).
	for _, m := range []string{http.MethodPost, http.MethodDelete} {
		w = hs.do(t, httptest.NewRequest(m, "/healthz", strings.NewReader("{}")))
		if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, HEAD" || !strings.Contains(w.Body.String(), "method-not-allowed") {
			t.Errorf("%s /healthz = %d Allow %q %s, want 405 method-not-allowed with Allow GET, HEAD", m, w.Code, w.Header().Get("Allow"), w.Body)
		}
		validateAgainstOpenAPI(t, m, "/healthz", nil, []byte("{}"), w.Code, w.Header(), w.Body.Bytes())
	}
}

func TestRequestIDFromContextIsUsed(t *testing.T) {
	hs := newHarness(t, nil)
	r := signed(t, validBody, testNow)
	r = r.WithContext(WithRequestID(r.Context(), "gw-req-abc123"))
	w := hs.do(t, r)
	if got := w.Header().Get(HeaderRequestID); got != "gw-req-abc123" {
		t.Fatalf("X-Request-Id = %q", got)
	}
}
