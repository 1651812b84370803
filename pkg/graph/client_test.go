package graph_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azlog "github.com/Azure/azure-sdk-for-go/sdk/azcore/log"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/google/uuid"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/graph"
)

func TestPatchAssignmentPathHeadersAndBody(t *testing.T) {
	body := readTestdata(t, "assignment.json")
	h := newHarness(t, nil, false, answer{status: 200, body: body, header: map[string]string{"request-id": "rid-patch"}})

	res, err := h.c.PatchAssignment(context.Background(), cfgID, asgID, testAssignment())
	if err != nil {
		t.Fatalf("PatchAssignment = %v", err)
	}
	reqs := h.g.requests()
	if len(reqs) != 1 {
		t.Fatalf("requests = %d, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodPatch || r.Path != asgPath || r.RawQuery != "" {
		t.Errorf("request = %s %s?%s, want PATCH %s", r.Method, r.Path, r.RawQuery, asgPath)
	}
	for name, want := range map[string]string{
		"Authorization": "Bearer " + testToken,
		"Accept":        "application/json",
		"Content-Type":  "application/json",
		"Retry-Attempt": "",
	} {
		if got := r.Header.Get(name); got != want {
			t.Errorf("header %s = %q, want %q", name, got, want)
		}
	}
	crid := r.Header.Get(graph.HeaderClientRequestID)
	if uuid.Validate(crid) != nil {
		t.Errorf("client-request-id = %q, want a GUID", crid)
	}
	golden(t, "patch-request.golden.json", r.Body)

	if string(res.Body) != body {
		t.Errorf("Body = %s, want %s", res.Body, body)
	}
	if res.RequestID != "rid-patch" || res.ClientRequestID != crid || res.Retries != 0 || res.StatusCode != 200 {
		t.Errorf("Result = %+v, want request-id rid-patch, client-request-id %s, 0 retries, status 200", res, crid)
	}
	if res.ReadBackRequestID != "" || res.ReadBackErr != nil {
		t.Errorf("Result = %+v, want no read-back", res)
	}
}

func TestPatchAssignmentRawBodySentAsIs(t *testing.T) {
	raw := json.RawMessage(`{"target":{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget"}}`)
	h := newHarness(t, nil, false, answer{status: 200, body: `{"id":"asg_2-b"}`})
	if _, err := h.c.PatchAssignment(context.Background(), cfgID, asgID, raw); err != nil {
		t.Fatalf("PatchAssignment = %v", err)
	}
	if got := h.g.requests()[0].Body; string(got) != string(raw) {
		t.Errorf("body = %s, want %s", got, raw)
	}
	_, err := h.c.PatchAssignment(context.Background(), cfgID, asgID, json.RawMessage(`{"target":`))
	if err == nil || change.ErrorCode(err) != change.CodeInternal {
		t.Errorf("PatchAssignment(invalid raw JSON) = %v, want an uncoded error", err)
	}
	if n := len(h.g.requests()); n != 1 {
		t.Errorf("requests = %d, want 1 (invalid JSON is not sent)", n)
	}
}

func TestGetAssignment(t *testing.T) {
	body := readTestdata(t, "assignment.json")
	h := newHarness(t, nil, false, answer{status: 200, body: body, header: map[string]string{"request-id": "rid-get"}})
	res, err := h.c.GetAssignment(context.Background(), cfgID, asgID)
	if err != nil {
		t.Fatalf("GetAssignment = %v", err)
	}
	r := h.g.requests()[0]
	if r.Method != http.MethodGet || r.Path != asgPath {
		t.Errorf("request = %s %s, want GET %s", r.Method, r.Path, asgPath)
	}
	if r.Header.Get("Content-Type") != "" || len(r.Body) != 0 {
		t.Errorf("GET carries Content-Type %q and %d body bytes, want none", r.Header.Get("Content-Type"), len(r.Body))
	}
	if string(res.Body) != body || res.RequestID != "rid-get" {
		t.Errorf("Result = %+v, want the body and request-id rid-get", res)
	}
}

func TestGetAssignmentNotJSON(t *testing.T) {
	h := newHarness(t, nil, false, answer{status: 200, body: "<html>proxy</html>", header: map[string]string{"Content-Type": "text/html"}})
	_, err := h.c.GetAssignment(context.Background(), cfgID, asgID)
	ce := codeOf(t, err)
	if ce.Code != change.CodeUnavailable || strings.Contains(ce.Message, "html") {
		t.Errorf("GetAssignment(html) = %v, want CodeUnavailable without the body", err)
	}
}

func TestInvalidIDsMakeNoCall(t *testing.T) {
	bad := []string{"", "a/b", "..", "a%2Fb", "a b", "a?b=c", "a#b", "a.b", "ü", "a\x00", strings.Repeat("a", 257)}
	h := newHarness(t, nil, false, answer{status: 200, body: `{}`})
	ctx := context.Background()
	for _, id := range bad {
		calls := map[string]func() error{
			"Patch(cfg)": func() error { _, err := h.c.PatchAssignment(ctx, id, asgID, testAssignment()); return err },
			"Patch(asg)": func() error { _, err := h.c.PatchAssignment(ctx, cfgID, id, testAssignment()); return err },
			"Get(cfg)":   func() error { _, err := h.c.GetAssignment(ctx, id, asgID); return err },
			"Get(asg)":   func() error { _, err := h.c.GetAssignment(ctx, cfgID, id); return err },
			"List(cfg)":  func() error { _, _, err := h.c.ListAssignments(ctx, id); return err },
		}
		for name, f := range calls {
			err := f()
			ce := codeOf(t, err)
			if ce.Code != change.CodeInvalid || len(ce.Fields) != 1 {
				t.Errorf("%s(%q) = %v, want CodeInvalid with one field", name, id, err)
				continue
			}
			if id != "" && (strings.Contains(ce.Message, id) || strings.Contains(ce.Fields[0].Reason, id)) {
				t.Errorf("%s(%q): the error quotes the input: %+v", name, id, ce)
			}
		}
	}
	if n := len(h.g.requests()) + h.g.strays(); n != 0 {
		t.Errorf("requests = %d, want 0", n)
	}
	if n := h.cred.Calls(); n != 0 {
		t.Errorf("GetToken calls = %d, want 0", n)
	}
}

func TestClientRequestIDFreshPerCallSameAcrossRetries(t *testing.T) {
	h := newHarness(t, nil, false,
		answer{status: 503, header: map[string]string{graph.HeaderRetryAfterMS: "1"}},
		answer{status: 200, body: `{"id":"1"}`},
		answer{status: 200, body: `{"id":"2"}`},
	)
	ctx := context.Background()
	res1, err := h.c.PatchAssignment(ctx, cfgID, asgID, testAssignment())
	if err != nil {
		t.Fatalf("PatchAssignment #1 = %v", err)
	}
	res2, err := h.c.PatchAssignment(ctx, cfgID, asgID, testAssignment())
	if err != nil {
		t.Fatalf("PatchAssignment #2 = %v", err)
	}
	reqs := h.g.requests()
	if len(reqs) != 3 {
		t.Fatalf("requests = %d, want 3", len(reqs))
	}
	id := func(i int) string { return reqs[i].Header.Get(graph.HeaderClientRequestID) }
	if id(0) == "" || id(0) != id(1) {
		t.Errorf("client-request-id across a retry: %q then %q, want the same", id(0), id(1))
	}
	if id(2) == id(0) {
		t.Errorf("client-request-id of a new call = %q, want a fresh one", id(2))
	}
	for i, want := range []string{"", "1", ""} {
		if got := reqs[i].Header.Get(graph.HeaderRetryAttempt); got != want {
			t.Errorf("request %d: Retry-Attempt = %q, want %q", i, got, want)
		}
	}
	if string(reqs[0].Body) != string(reqs[1].Body) || len(reqs[1].Body) == 0 {
		t.Errorf("retried body = %s, want the first one again: %s", reqs[1].Body, reqs[0].Body)
	}
	if res1.Retries != 1 || res1.ClientRequestID != id(0) || res2.Retries != 0 || res2.ClientRequestID != id(2) {
		t.Errorf("results = %+v, %+v", res1, res2)
	}
	if n := h.cred.Calls(); n != 1 {
		t.Errorf("GetToken calls = %d, want 1 (the policy caches the token)", n)
	}
}

func TestPatchWithoutBodyReadsBack(t *testing.T) {
	body := readTestdata(t, "assignment.json")
	for _, tc := range []struct {
		name  string
		patch answer
	}{
		{"204", answer{status: 204, header: map[string]string{"request-id": "rid-patch"}}},
		{"200 empty", answer{status: 200, header: map[string]string{"request-id": "rid-patch"}}},
		{"200 whitespace", answer{status: 200, body: " \n", header: map[string]string{"request-id": "rid-patch"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil, false, tc.patch, answer{status: 200, body: body, header: map[string]string{"request-id": "rid-get"}})
			res, err := h.c.PatchAssignment(context.Background(), cfgID, asgID, testAssignment())
			if err != nil {
				t.Fatalf("PatchAssignment = %v", err)
			}
			reqs := h.g.requests()
			if len(reqs) != 2 || reqs[0].Method != http.MethodPatch || reqs[1].Method != http.MethodGet || reqs[1].Path != asgPath {
				t.Fatalf("requests = %+v, want PATCH then GET %s", reqs, asgPath)
			}
			if string(res.Body) != body {
				t.Errorf("Body = %s, want the GET body", res.Body)
			}
			if res.RequestID != "rid-patch" || res.ReadBackRequestID != "rid-get" || res.StatusCode != tc.patch.status {
				t.Errorf("Result = %+v, want request-id rid-patch, read-back rid-get, status %d", res, tc.patch.status)
			}
			if res.ClientRequestID != reqs[0].Header.Get(graph.HeaderClientRequestID) ||
				reqs[0].Header.Get(graph.HeaderClientRequestID) == reqs[1].Header.Get(graph.HeaderClientRequestID) {
				t.Errorf("client-request-ids: result %q, PATCH %q, GET %q", res.ClientRequestID,
					reqs[0].Header.Get(graph.HeaderClientRequestID), reqs[1].Header.Get(graph.HeaderClientRequestID))
			}
			logs := h.logs.String()
			if !strings.Contains(logs, `"requestId":"rid-patch"`) || !strings.Contains(logs, `"requestId":"rid-get"`) {
				t.Errorf("log does not name both request ids:\n%s", logs)
			}
		})
	}
}

func TestPatchReadBackFailure(t *testing.T) {
	h := newHarness(t, nil, false, answer{status: 204}, answer{status: 500})
	res, err := h.c.PatchAssignment(context.Background(), cfgID, asgID, testAssignment())
	if err != nil {
		t.Fatalf("PatchAssignment = %v, want success (the change is applied)", err)
	}
	if res.Body != nil || change.ErrorCode(res.ReadBackErr) != change.CodeUnavailable {
		t.Errorf("Result = %+v, want no body and a CodeUnavailable ReadBackErr", res)
	}
}

func TestRetryDelays(t *testing.T) {
	ok := answer{status: 200, body: `{"id":"x"}`}
	for _, tc := range []struct {
		name     string
		opts     *graph.Options
		answers  []answer
		min, max []time.Duration
	}{
		{
			name:    "429 Retry-After seconds",
			answers: []answer{{status: 429, header: map[string]string{"Retry-After": "2"}, body: `{"error":{"code":"TooManyRequests"}}`}, ok},
			min:     []time.Duration{2 * time.Second}, max: []time.Duration{2 * time.Second},
		},
		{
			// As Graph's throttling documentation shows it.
			name:    "429 Retry-After seconds with a fraction",
			answers: []answer{{status: 429, header: map[string]string{"Retry-After": "2.128"}, body: `{"error":{"code":"TooManyRequests"}}`}, ok},
			min:     []time.Duration{2128 * time.Millisecond}, max: []time.Duration{2128 * time.Millisecond},
		},
		{
			name:    "429 Retry-After HTTP date",
			answers: []answer{{status: 429, header: map[string]string{"Retry-After": time.Now().Add(3 * time.Second).UTC().Format(http.TimeFormat)}}, ok},
			// The date has whole seconds, so the wait is a little under 3s.
			min: []time.Duration{time.Second}, max: []time.Duration{3 * time.Second},
		},
		{
			name:    "503 retry-after-ms",
			answers: []answer{{status: 503, header: map[string]string{"retry-after-ms": "150"}}, ok},
			min:     []time.Duration{150 * time.Millisecond}, max: []time.Duration{150 * time.Millisecond},
		},
		{
			name:    "504 x-ms-retry-after-ms",
			answers: []answer{{status: 504, header: map[string]string{"x-ms-retry-after-ms": "250"}}, ok},
			min:     []time.Duration{250 * time.Millisecond}, max: []time.Duration{250 * time.Millisecond},
		},
		{
			name:    "backoff without Retry-After",
			opts:    &graph.Options{RetryDelay: 100 * time.Millisecond},
			answers: []answer{{status: 429}, {status: 503}, {status: 504}, ok},
			min:     []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond},
			max:     []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond},
		},
		{
			name:    "backoff capped by MaxRetryDelay",
			opts:    &graph.Options{RetryDelay: 100 * time.Millisecond, MaxRetryDelay: 150 * time.Millisecond},
			answers: []answer{{status: 429}, {status: 429}, {status: 429}, ok},
			min:     []time.Duration{50 * time.Millisecond, 75 * time.Millisecond, 75 * time.Millisecond},
			max:     []time.Duration{100 * time.Millisecond, 150 * time.Millisecond, 150 * time.Millisecond},
		},
		{
			name:    "Retry-After 0 falls back to backoff",
			opts:    &graph.Options{RetryDelay: 10 * time.Millisecond},
			answers: []answer{{status: 429, header: map[string]string{"Retry-After": "0"}}, ok},
			min:     []time.Duration{5 * time.Millisecond}, max: []time.Duration{10 * time.Millisecond},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.opts, false, tc.answers...)
			res, err := h.c.PatchAssignment(context.Background(), cfgID, asgID, testAssignment())
			if err != nil {
				t.Fatalf("PatchAssignment = %v", err)
			}
			waits := h.waits()
			if len(waits) != len(tc.min) || res.Retries != len(tc.min) || len(h.g.requests()) != len(tc.min)+1 {
				t.Fatalf("waits = %v, retries %d, requests %d; want %d retries", waits, res.Retries, len(h.g.requests()), len(tc.min))
			}
			for i, w := range waits {
				if w < tc.min[i] || w > tc.max[i] {
					t.Errorf("wait %d = %v, want in [%v, %v]", i+1, w, tc.min[i], tc.max[i])
				}
			}
		})
	}
}

func TestRetryRealWait(t *testing.T) {
	h := newHarness(t, nil, true,
		answer{status: 429, header: map[string]string{"retry-after-ms": "5"}},
		answer{status: 200, body: `{"id":"x"}`})
	res, err := h.c.PatchAssignment(context.Background(), cfgID, asgID, testAssignment())
	if err != nil || res.Retries != 1 {
		t.Fatalf("PatchAssignment = %+v, %v; want success after 1 retry", res, err)
	}
	if !strings.Contains(h.logs.String(), `"msg":"graph call retried"`) {
		t.Errorf("no retry line in the log:\n%s", h.logs)
	}
}

func TestRetriesExhausted(t *testing.T) {
	for _, tc := range []struct {
		name       string
		opts       *graph.Options
		answer     answer
		requests   int
		retryAfter time.Duration
	}{
		{"503 after MaxRetries", &graph.Options{MaxRetries: 2, RetryDelay: time.Millisecond},
			answer{status: 503}, 3, 5 * time.Second},
		{"429 keeps Graph's Retry-After", &graph.Options{MaxRetries: 1},
			answer{status: 429, header: map[string]string{"Retry-After": "3"}, body: readTestdata(t, "graph-429.json")}, 2, 3 * time.Second},
		{"negative MaxRetries means none", &graph.Options{MaxRetries: -1},
			answer{status: 504}, 1, 5 * time.Second},
		{"Retry-After above MaxRetryDelay", &graph.Options{MaxRetryDelay: time.Second},
			answer{status: 429, header: map[string]string{"Retry-After": "120"}}, 1, 120 * time.Second},
		{"500 is not retried", nil, answer{status: 500}, 1, 5 * time.Second},
		{"502 is not retried", nil, answer{status: 502, body: "<html>bad gateway</html>", header: map[string]string{"Content-Type": "text/html"}}, 1, 5 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.opts, false, tc.answer)
			_, err := h.c.PatchAssignment(context.Background(), cfgID, asgID, testAssignment())
			ce := codeOf(t, err)
			if ce.Code != change.CodeUnavailable || ce.RetryAfter != tc.retryAfter {
				t.Errorf("PatchAssignment = %v (RetryAfter %v), want CodeUnavailable with RetryAfter %v", err, ce.RetryAfter, tc.retryAfter)
			}
			if n := len(h.g.requests()); n != tc.requests {
				t.Errorf("requests = %d, want %d", n, tc.requests)
			}
			var re *graph.ResponseError
			if !errors.As(err, &re) || re.StatusCode != tc.answer.status {
				t.Errorf("ResponseError = %+v, want status %d", re, tc.answer.status)
			}
		})
	}
}

func TestBudgetExhaustedBeforeDeadline(t *testing.T) {
	for _, tc := range []struct {
		name       string
		opts       *graph.Options
		answer     answer
		retryAfter time.Duration
	}{
		{"Retry-After beyond the deadline", &graph.Options{DeadlineMargin: 50 * time.Millisecond},
			answer{status: 429, header: map[string]string{"Retry-After": "2"}}, 2 * time.Second},
		{"backoff beyond the deadline", &graph.Options{DeadlineMargin: 50 * time.Millisecond, RetryDelay: 10 * time.Second},
			answer{status: 503}, 5 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.opts, false, answer{status: 200, body: `{"id":"x"}`}, tc.answer, answer{status: 200, body: `{}`})
			// A first call opens the connection, so that the timed call's
			// first attempt is answered within its budget on a loaded
			// machine too (as in TestTimeoutMidCall).
			if _, err := h.c.GetAssignment(context.Background(), cfgID, asgID); err != nil {
				t.Fatalf("GetAssignment = %v", err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			_, err := h.c.PatchAssignment(ctx, cfgID, asgID, testAssignment())
			ce := codeOf(t, err)
			if ce.Code != change.CodeUnavailable || ce.RetryAfter != tc.retryAfter {
				t.Errorf("PatchAssignment = %v (RetryAfter %v), want CodeUnavailable with RetryAfter %v", err, ce.RetryAfter, tc.retryAfter)
			}
			if w := h.waits(); len(w) != 0 {
				t.Errorf("waits = %v, want none", w)
			}
			if n := len(h.g.requests()) - 1; n != 1 {
				t.Errorf("PATCH requests = %d, want 1", n)
			}
			if !strings.Contains(h.logs.String(), `"retryStop":"deadline-budget"`) {
				t.Errorf("log does not say why retrying stopped:\n%s", h.logs)
			}
		})
	}
}

func TestTimeoutMidCall(t *testing.T) {
	h := newHarness(t, &graph.Options{DeadlineMargin: 100 * time.Millisecond}, true,
		answer{status: 200, body: `{"id":"x"}`}, answer{block: true})
	// A first call opens the connection, so that the timed call's request
	// reaches Graph within its budget even on a loaded machine (a TLS
	// handshake under -race and a parallel suite can take most of it).
	if _, err := h.c.GetAssignment(context.Background(), cfgID, asgID); err != nil {
		t.Fatalf("GetAssignment = %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err := h.c.PatchAssignment(ctx, cfgID, asgID, testAssignment())
	ce := codeOf(t, err)
	if ce.Code != change.CodeTimeout || ce.Message != "Graph did not answer in time" || ce.RetryAfter <= 0 {
		t.Errorf("PatchAssignment = %v (RetryAfter %v), want CodeTimeout with RetryAfter", err, ce.RetryAfter)
	}
	if n := len(h.g.requests()) - 1; n != 1 {
		t.Errorf("PATCH requests = %d, want 1 (a timed-out attempt is not retried)", n)
	}
}

func TestNoTimeLeft(t *testing.T) {
	h := newHarness(t, nil, false, answer{status: 200, body: `{}`}) // margin 1s
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err := h.c.GetAssignment(ctx, cfgID, asgID)
	if ce := codeOf(t, err); ce.Code != change.CodeTimeout || ce.RetryAfter <= 0 {
		t.Errorf("GetAssignment = %v, want CodeTimeout with RetryAfter", err)
	}
	if n := len(h.g.requests()); n != 0 || h.cred.Calls() != 0 {
		t.Errorf("requests = %d, GetToken calls = %d; want none", n, h.cred.Calls())
	}
}

func TestCallerCancelled(t *testing.T) {
	h := newHarness(t, nil, true, answer{block: true})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err := h.c.GetAssignment(ctx, cfgID, asgID)
	if !errors.Is(err, context.Canceled) || change.ErrorCode(err) != change.CodeInternal {
		t.Errorf("GetAssignment(cancelled) = %v, want an uncoded context.Canceled", err)
	}
}

func TestErrorMapping(t *testing.T) {
	for _, tc := range []struct {
		name         string
		answer       answer
		code         change.Code
		message      string // exact, or a substring when contains is set
		contains     bool
		graphCode    string
		requestID    string
		activityID   string
		graphMessage string // substring of ResponseError.Message
	}{
		{
			name:   "404 Intune nested message",
			answer: answer{status: 404, body: readTestdata(t, "intune-404.json"), header: map[string]string{"request-id": "rid-404"}},
			code:   change.CodeNotFound, message: "the configuration or assignment does not exist in Intune",
			graphCode: "ResourceNotFound", requestID: "rid-404",
			activityID: "7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f", graphMessage: "An error has occurred - Operation ID",
		},
		{
			name:   "400 BadRequest",
			answer: answer{status: 400, body: readTestdata(t, "graph-400.json")},
			code:   change.CodeGraphRefused, message: "Graph refused the change: BadRequest",
			graphCode: "BadRequest", requestID: "inner-rid-400", graphMessage: "invalid value",
		},
		{
			name:   "400 routing failure",
			answer: answer{status: 400, body: readTestdata(t, "graph-400-route.json"), header: map[string]string{"request-id": "rid-route"}},
			code:   change.CodeGraphRefused, message: "Graph refused the change: No method match route template",
			graphCode: "No method match route template", requestID: "rid-route", graphMessage: "No OData route",
		},
		{
			name:   "400 unprintable code",
			answer: answer{status: 400, body: `{"error":{"code":"<script>alert(1)</script>","message":"x"}}`},
			code:   change.CodeGraphRefused, message: "Graph refused the change with status 400",
			graphCode: "<script>alert(1)</script>",
		},
		{
			name:   "401",
			answer: answer{status: 401, body: readTestdata(t, "graph-401.json")},
			code:   change.CodeGraphPermission, message: "did not accept the function's token", contains: true,
			graphCode: "InvalidAuthenticationToken", requestID: "inner-rid-401",
		},
		{
			name:   "403 Intune nested message",
			answer: answer{status: 403, body: readTestdata(t, "graph-403.json"), header: map[string]string{"request-id": "rid-403"}},
			code:   change.CodeGraphPermission, message: "needs the Graph application permission DeviceManagementServiceConfig.ReadWrite.All with admin consent", contains: true,
			graphCode: "Forbidden", requestID: "rid-403", activityID: "11111111-2222-4333-8444-555555555555",
			graphMessage: "Application is not authorized",
		},
		{
			name:   "405",
			answer: answer{status: 405, body: `{"error":{"code":"MethodNotAllowed","message":"x"}}`},
			code:   change.CodeGraphRefused, message: "Graph refused the change: MethodNotAllowed", graphCode: "MethodNotAllowed",
		},
		{
			name:   "409 without body",
			answer: answer{status: 409},
			code:   change.CodeGraphRefused, message: "Graph refused the change with status 409",
		},
		{
			name:   "412",
			answer: answer{status: 412, body: `{"error":{"code":"PreconditionFailed","message":"x"}}`},
			code:   change.CodeGraphRefused, message: "Graph refused the change: PreconditionFailed", graphCode: "PreconditionFailed",
		},
		{
			name:   "500 Intune",
			answer: answer{status: 500, body: `{"error":{"code":"InternalError","message":"{\"_version\":3,\"Message\":\"An error has occurred - Activity ID: 7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f - Url: https://fef.x.manage.microsoft.com/y\"}"}}`},
			code:   change.CodeUnavailable, message: "Graph is unavailable; try again later",
			graphCode: "InternalError", activityID: "7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, &graph.Options{MaxRetries: -1}, false, tc.answer)
			_, err := h.c.PatchAssignment(context.Background(), cfgID, asgID, testAssignment())
			ce := codeOf(t, err)
			if ce.Code != tc.code {
				t.Errorf("code = %s, want %s (%v)", ce.Code, tc.code, err)
			}
			if tc.contains && !strings.Contains(ce.Message, tc.message) || !tc.contains && ce.Message != tc.message {
				t.Errorf("message = %q, want %q", ce.Message, tc.message)
			}
			for _, leak := range []string{"http", "{", "fef.", "Activity", "script", testToken, cfgID} {
				if strings.Contains(ce.Message, leak) {
					t.Errorf("message %q contains %q", ce.Message, leak)
				}
			}
			var re *graph.ResponseError
			if !errors.As(err, &re) {
				t.Fatalf("no *graph.ResponseError in %v", err)
			}
			sent := h.g.requests()[0].Header.Get(graph.HeaderClientRequestID)
			if re.StatusCode != tc.answer.status || re.ErrorCode != tc.graphCode || re.RequestID != tc.requestID ||
				re.ActivityID != tc.activityID || re.ClientRequestID != sent || re.Operation != graph.OpPatchAssignment {
				t.Errorf("ResponseError = %+v, want status %d, code %q, request-id %q, activity %q, client-request-id %q",
					re, tc.answer.status, tc.graphCode, tc.requestID, tc.activityID, sent)
			}
			if !strings.Contains(re.Message, tc.graphMessage) || strings.HasPrefix(re.Message, "{") {
				t.Errorf("ResponseError.Message = %q, want Intune's inner message containing %q", re.Message, tc.graphMessage)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("error text contains the token: %v", err)
			}
		})
	}
}

func TestGetAndListMessages(t *testing.T) {
	h := newHarness(t, &graph.Options{MaxRetries: -1}, false, answer{status: 400, body: readTestdata(t, "graph-400.json")}, answer{status: 404})
	_, err := h.c.GetAssignment(context.Background(), cfgID, asgID)
	if ce := codeOf(t, err); ce.Message != "Graph refused the request: BadRequest" {
		t.Errorf("GetAssignment(400) message = %q", ce.Message)
	}
	_, _, err = h.c.ListAssignments(context.Background(), cfgID)
	if ce := codeOf(t, err); ce.Code != change.CodeNotFound || ce.Message != "the configuration does not exist in Intune" {
		t.Errorf("ListAssignments(404) = %v", err)
	}
}

func TestCredentialFailure(t *testing.T) {
	h := newHarness(t, nil, false, answer{status: 200, body: `{}`})
	credErr := errors.New("AADSTS700016: application not found in the directory")
	h.cred.err = credErr
	_, err := h.c.PatchAssignment(context.Background(), cfgID, asgID, testAssignment())
	ce := codeOf(t, err)
	if ce.Code != change.CodeUnavailable || ce.Message != "could not get a token for Graph" || ce.RetryAfter <= 0 {
		t.Errorf("PatchAssignment = %v, want CodeUnavailable \"could not get a token for Graph\" with RetryAfter", err)
	}
	if !errors.Is(err, credErr) {
		t.Errorf("error %v does not wrap the credential's", err)
	}
	if !errors.Is(err, change.ErrNothingSent) {
		t.Errorf("error %v does not say that nothing was sent (a retry would take the write as possibly applied)", err)
	}
	if n := len(h.g.requests()); n != 0 {
		t.Errorf("requests = %d, want 0", n)
	}
	if h.cred.Calls() != 1 {
		t.Errorf("GetToken calls = %d, want 1 (a token failure is not retried)", h.cred.Calls())
	}
	if !strings.Contains(h.logs.String(), "AADSTS700016") {
		t.Errorf("log lacks the credential's detail:\n%s", h.logs)
	}
}

func TestTransportErrors(t *testing.T) {
	var n atomic.Int32
	cred := &fakeCredential{token: testToken}
	tr := transportFunc(func(r *http.Request) (*http.Response, error) {
		switch n.Add(1) {
		case 1:
			return nil, &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
		case 2:
			return nil, timeoutError{}
		case 3:
			return memResponse(r, 200, `{"id":"x"}`, nil), nil
		default:
			return nil, errors.New("tls: handshake failure")
		}
	})
	c, err := graph.NewClient("https://graph.example/beta", cred, testScope,
		&graph.Options{Transport: tr, RetryDelay: time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.GetAssignment(context.Background(), cfgID, asgID)
	if err != nil || res.Retries != 2 {
		t.Fatalf("GetAssignment = %+v, %v; want success after 2 retries", res, err)
	}
	_, err = c.GetAssignment(context.Background(), cfgID, asgID)
	if ce := codeOf(t, err); ce.Code != change.CodeUnavailable || ce.Message != "Graph could not be reached" || errors.Is(err, change.ErrNothingSent) {
		t.Errorf("GetAssignment(tls failure) = %v, want CodeUnavailable, not known to have sent nothing", err)
	}
	if got := n.Load(); got != 4 {
		t.Errorf("transport calls = %d, want 4 (a TLS failure is not retried)", got)
	}
}

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

func TestListAssignmentsFollowsNextLink(t *testing.T) {
	h := newHarness(t, nil, false)
	g := h.g
	base := strings.TrimSuffix(h.baseURL(t), "/")
	listPath := basePath + "/deviceManagement/deviceEnrollmentConfigurations/" + cfgID + "/assignments"
	g.setAnswers(
		answer{status: 200, header: map[string]string{"request-id": "rid-p1"},
			body: `{"@odata.context":"x","value":[{"id":"a"},{"id":"b"}],"@odata.nextLink":"` + base + `/deviceManagement/deviceEnrollmentConfigurations/` + cfgID + `/assignments?$skiptoken=abc%3D%3D"}`},
		answer{status: 200, header: map[string]string{"request-id": "rid-p2"}, body: `{"value":[{"id":"c"}]}`},
	)
	items, res, err := h.c.ListAssignments(context.Background(), cfgID)
	if err != nil {
		t.Fatalf("ListAssignments = %v", err)
	}
	var ids []string
	for _, it := range items {
		var v struct{ ID string }
		if err := json.Unmarshal(it, &v); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, v.ID)
	}
	if strings.Join(ids, ",") != "a,b,c" {
		t.Errorf("ids = %v, want a,b,c", ids)
	}
	reqs := g.requests()
	if len(reqs) != 2 || reqs[0].Path != listPath || reqs[1].Path != listPath || reqs[1].RawQuery != "$skiptoken=abc%3D%3D" {
		t.Errorf("requests = %+v", reqs)
	}
	if res.RequestID != "rid-p1" || res.StatusCode != 200 || res.Body != nil {
		t.Errorf("Result = %+v, want the first page's request-id", res)
	}
}

func TestListAssignmentsRefusesForeignNextLink(t *testing.T) {
	for _, link := range []string{
		"https://evil.example/beta/deviceManagement/x",
		"http://127.0.0.1:1/beta/x",
		"/v1.0/deviceManagement/x",
		"../../other",
	} {
		t.Run(link, func(t *testing.T) {
			h := newHarness(t, nil, false,
				answer{status: 200, body: `{"value":[{"id":"a"}],"@odata.nextLink":"` + link + `"}`},
				answer{status: 200, body: `{"value":[]}`})
			_, _, err := h.c.ListAssignments(context.Background(), cfgID)
			if err == nil || change.ErrorCode(err) != change.CodeInternal {
				t.Errorf("ListAssignments(next %q) = %v, want an uncoded error", link, err)
			}
			if n := len(h.g.requests()) + h.g.strays(); n != 1 {
				t.Errorf("requests = %d, want 1", n)
			}
		})
	}
}

func TestInsecureHTTPOnlyWhenAllowed(t *testing.T) {
	g := &fakeGraph{answers: []answer{{status: 200, body: `{"id":"x"}`}}, release: make(chan struct{})}
	srv := httptest.NewServer(g)
	defer srv.Close()
	cred := &fakeCredential{token: testToken}
	if _, err := graph.NewClient(srv.URL+basePath, cred, testScope, nil); err == nil {
		t.Fatal("NewClient(http, InsecureAllowHTTP false) = nil error")
	}
	c, err := graph.NewClient(srv.URL+basePath, cred, testScope,
		&graph.Options{InsecureAllowHTTP: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetAssignment(context.Background(), cfgID, asgID); err != nil {
		t.Fatalf("GetAssignment = %v", err)
	}
	if got := g.requests()[0].Header.Get("Authorization"); got != "Bearer "+testToken {
		t.Errorf("Authorization = %q", got)
	}
}

func TestNewClientValidation(t *testing.T) {
	cred := &fakeCredential{token: testToken}
	for _, tc := range []struct {
		base  string
		cred  *fakeCredential
		scope string
	}{
		{"", cred, testScope},
		{"graph.microsoft.com/beta", cred, testScope},
		{"ftp://graph.microsoft.com/beta", cred, testScope},
		{"https://user:secret@graph.microsoft.com/beta", cred, testScope},
		{"https://graph.microsoft.com/beta?x=1", cred, testScope},
		{"https://graph.microsoft.com/beta#f", cred, testScope},
		{"https://graph.microsoft.com/beta", nil, testScope},
		{"https://graph.microsoft.com/beta", cred, " "},
	} {
		var c graphCred
		if tc.cred != nil {
			c = tc.cred
		}
		_, err := graph.NewClient(tc.base, c, tc.scope, nil)
		if err == nil {
			t.Errorf("NewClient(%q, %v, %q) = nil error", tc.base, tc.cred != nil, tc.scope)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("NewClient error quotes the URL: %v", err)
		}
	}
	if _, err := graph.NewClient("https://graph.microsoft.com/beta/", cred, testScope, nil); err != nil {
		t.Errorf("NewClient(valid) = %v", err)
	}
}

// TestNoSecretsInLogs runs calls that retry, fail and succeed with azcore's
// own log switched on, and checks that the client's log holds neither the
// token, the Authorization header nor a body, and that azcore's log (which
// an operator may turn on for azidentity) sees no Graph call at all: the
// client sends on its own path, not through azcore's pipeline.
func TestNoSecretsInLogs(t *testing.T) {
	var azlogs syncBuffer
	azlog.SetEvents(azlog.EventRequest, azlog.EventResponse, azlog.EventRetryPolicy)
	azlog.SetListener(func(e azlog.Event, msg string) { _, _ = azlogs.Write([]byte(string(e) + ": " + msg + "\n")) })
	t.Cleanup(func() { azlog.SetListener(nil); azlog.SetEvents() })

	const respMarker = "response-marker-7f3a"
	h := newHarness(t, nil, false,
		answer{status: 429, header: map[string]string{"retry-after-ms": "1", "request-id": "rid-429"}, body: readTestdata(t, "graph-429.json")},
		answer{status: 204, header: map[string]string{"request-id": "rid-204"}},
		answer{status: 200, header: map[string]string{"request-id": "rid-get"}, body: `{"id":"` + respMarker + `"}`},
		answer{status: 401, header: map[string]string{"request-id": "rid-401"}, body: readTestdata(t, "graph-401.json")},
	)
	ctx := context.Background()
	if _, err := h.c.PatchAssignment(ctx, cfgID, asgID, testAssignment()); err != nil {
		t.Fatalf("PatchAssignment = %v", err)
	}
	_, err := h.c.PatchAssignment(ctx, cfgID, asgID, testAssignment())
	if change.ErrorCode(err) != change.CodeGraphPermission {
		t.Fatalf("PatchAssignment = %v, want CodeGraphPermission", err)
	}

	slogs, all := h.logs.String(), h.logs.String()+azlogs.String()
	if azlogs.String() != "" {
		t.Errorf("azcore's log saw the Graph calls:\n%s", azlogs.String())
	}
	for _, secret := range []string{testToken, "Bearer ", "5e6f0000-0000-0000-0000-00000000beef", respMarker, "Too many requests", "Invalid audience"} {
		if strings.Contains(all, secret) {
			t.Errorf("a log contains %q:\nslog:\n%s\nazcore:\n%s", secret, slogs, azlogs.String())
		}
	}
	if strings.Contains(slogs, "https://") || strings.Contains(slogs, "127.0.0.1") {
		t.Errorf("slog output names a URL or host:\n%s", slogs)
	}

	// One line per Graph call (PATCH, GET, PATCH) plus one per retry.
	var calls, retries int
	for _, line := range strings.Split(strings.TrimSpace(slogs), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		switch rec["msg"] {
		case "graph call":
			calls++
			for _, k := range []string{"op", "method", "status", "requestId", "clientRequestId", "attempts", "durationMs"} {
				if _, ok := rec[k]; !ok {
					t.Errorf("log line lacks %q: %s", k, line)
				}
			}
		case "graph call retried":
			retries++
		}
	}
	if calls != 3 || retries != 1 {
		t.Errorf("log has %d call lines and %d retry lines, want 3 and 1:\n%s", calls, retries, slogs)
	}
	for _, id := range []string{"rid-429", "rid-204", "rid-get", "rid-401"} {
		if !strings.Contains(slogs, strconv.Quote(id)) {
			t.Errorf("log does not name Graph request-id %s", id)
		}
	}
}

// claimsCred hands out "tok-1", "tok-2", ... and records the claims asked.
type claimsCred struct {
	mu     sync.Mutex
	claims []string
}

func (c *claimsCred) GetToken(_ context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.claims = append(c.claims, o.Claims)
	return azcore.AccessToken{Token: "tok-" + strconv.Itoa(len(c.claims)), ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// TestUnauthorizedDropsTheToken: a 401 is the caller's answer (no retry),
// and the next call fetches a new token instead of sending the refused one.
func TestUnauthorizedDropsTheToken(t *testing.T) {
	g, base, hc := newFakeGraph(t,
		answer{status: 401, body: readTestdata(t, "graph-401.json")},
		answer{status: 200, body: `{"id":"x"}`})
	cred := &claimsCred{}
	c, err := graph.NewClient(base, cred, testScope, &graph.Options{Transport: hc, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetAssignment(context.Background(), cfgID, asgID); change.ErrorCode(err) != change.CodeGraphPermission {
		t.Fatalf("GetAssignment(401) = %v, want CodeGraphPermission", err)
	}
	if _, err := c.GetAssignment(context.Background(), cfgID, asgID); err != nil {
		t.Fatalf("GetAssignment = %v", err)
	}
	reqs := g.requests()
	if len(reqs) != 2 || reqs[0].Header.Get("Authorization") != "Bearer tok-1" || reqs[1].Header.Get("Authorization") != "Bearer tok-2" {
		t.Errorf("requests = %d, Authorization %q then %q; want tok-1 then tok-2", len(reqs),
			reqs[0].Header.Get("Authorization"), reqs[len(reqs)-1].Header.Get("Authorization"))
	}
}

// TestCAEChallengeResent: a 401 carrying a Continuous Access Evaluation
// challenge is sent once more, in the same attempt, with a token fetched
// for the claims Graph asked for.
func TestCAEChallengeResent(t *testing.T) {
	const claims = `{"access_token":{"nbf":{"essential":true,"value":"1726000000"}}}`
	challenge := `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", error="insufficient_claims", claims="` +
		base64.StdEncoding.EncodeToString([]byte(claims)) + `"`
	g, base, hc := newFakeGraph(t,
		answer{status: 401, header: map[string]string{"WWW-Authenticate": challenge}, body: readTestdata(t, "graph-401.json")},
		answer{status: 200, header: map[string]string{"request-id": "rid-ok"}, body: `{"id":"x"}`})
	cred := &claimsCred{}
	c, err := graph.NewClient(base, cred, testScope, &graph.Options{Transport: hc, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.PatchAssignment(context.Background(), cfgID, asgID, testAssignment())
	if err != nil || res.RequestID != "rid-ok" || res.Retries != 0 {
		t.Fatalf("PatchAssignment = %+v, %v; want rid-ok without a retry", res, err)
	}
	reqs := g.requests()
	if len(reqs) != 2 {
		t.Fatalf("requests = %d, want 2", len(reqs))
	}
	if a, b := reqs[0].Header.Get("Authorization"), reqs[1].Header.Get("Authorization"); a != "Bearer tok-1" || b != "Bearer tok-2" {
		t.Errorf("Authorization = %q then %q, want tok-1 then tok-2", a, b)
	}
	if cred.claims[0] != "" || len(cred.claims) != 2 || cred.claims[1] != claims {
		t.Errorf("claims asked = %q, want none then %s", cred.claims, claims)
	}
	if string(reqs[1].Body) != string(reqs[0].Body) || reqs[1].Header.Get(graph.HeaderClientRequestID) != reqs[0].Header.Get(graph.HeaderClientRequestID) ||
		reqs[1].Header.Get(graph.HeaderRetryAttempt) != "" {
		t.Errorf("the resent request differs: %+v", reqs)
	}
}

// brokenBody fails half-way, like a connection dropped mid-answer.
type brokenBody struct{ n int }

func (b *brokenBody) Read(p []byte) (int, error) {
	if b.n > 0 {
		return 0, io.ErrUnexpectedEOF
	}
	b.n = copy(p, `{"id":`)
	return b.n, nil
}
func (*brokenBody) Close() error { return nil }

// TestBrokenAnswer: an answer whose body breaks off is retried for a GET,
// not for a PATCH (Graph may have applied it).
func TestBrokenAnswer(t *testing.T) {
	var n atomic.Int32
	tr := transportFunc(func(r *http.Request) (*http.Response, error) {
		resp := memResponse(r, 200, "", nil)
		if n.Add(1)%2 == 1 {
			resp.Body, resp.ContentLength = &brokenBody{}, 100
		} else {
			resp.Body, resp.ContentLength = io.NopCloser(strings.NewReader(`{"id":"x"}`)), -1
		}
		return resp, nil
	})
	c, err := graph.NewClient("https://graph.example/beta", &fakeCredential{token: testToken}, testScope,
		&graph.Options{Transport: tr, RetryDelay: time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.GetAssignment(context.Background(), cfgID, asgID)
	if err != nil || res.Retries != 1 || string(res.Body) != `{"id":"x"}` {
		t.Fatalf("GetAssignment = %+v, %v; want success after 1 retry", res, err)
	}
	_, err = c.PatchAssignment(context.Background(), cfgID, asgID, testAssignment())
	if ce := codeOf(t, err); ce.Code != change.CodeUnavailable || ce.Message != "Graph could not be reached" || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("PatchAssignment(broken answer) = %v, want CodeUnavailable wrapping the read error", err)
	}
	if got := n.Load(); got != 3 {
		t.Errorf("transport calls = %d, want 3 (the PATCH is not sent again)", got)
	}
}

func TestUserAgent(t *testing.T) {
	h := newHarness(t, nil, false, answer{status: 200, body: `{"id":"x"}`})
	if _, err := h.c.GetAssignment(context.Background(), cfgID, asgID); err != nil {
		t.Fatal(err)
	}
	want := "enrollhook azsdk-go-enrollhook-graph/v0.1.0 (" + runtime.Version() + "; " + runtime.GOOS + ")"
	if got := h.g.requests()[0].Header.Get("User-Agent"); got != want {
		t.Errorf("User-Agent = %q, want %q", got, want)
	}
	id, err := uuid.Parse(h.g.requests()[0].Header.Get(graph.HeaderClientRequestID))
	if err != nil || id.Version() != 4 || id.Variant() != uuid.RFC4122 {
		t.Errorf("client-request-id = %v (%v), want a version 4 GUID", id, err)
	}
}
