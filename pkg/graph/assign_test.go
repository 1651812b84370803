package graph_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/graph"
)

var assignPath = basePath + "/deviceManagement/deviceEnrollmentConfigurations/" + cfgID + "/assign"

func testSet() []json.RawMessage {
	return []json.RawMessage{
		json.RawMessage(`{"id":"a_1","target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"5e6f0000-0000-0000-0000-000000000001"}}`),
		json.RawMessage(`{"id":"a_2","target":{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget"}}`),
	}
}

func TestAssignAllPathAndBody(t *testing.T) {
	h := newHarness(t, nil, false, answer{status: http.StatusNoContent, header: map[string]string{"request-id": "rid-assign"}})
	res, err := h.c.AssignAll(context.Background(), cfgID, testSet())
	if err != nil {
		t.Fatalf("AssignAll = %v", err)
	}
	reqs := h.g.requests()
	if len(reqs) != 1 {
		t.Fatalf("requests = %d, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodPost || r.Path != assignPath || r.Header.Get("Content-Type") != "application/json" ||
		r.Header.Get("Authorization") != "Bearer "+testToken {
		t.Errorf("request = %s %s %v, want POST %s with a JSON body and the bearer", r.Method, r.Path, r.Header, assignPath)
	}
	var body struct {
		Set []json.RawMessage `json:"enrollmentConfigurationAssignments"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil || len(body.Set) != 2 {
		t.Fatalf("body = %s, want the two assignments under enrollmentConfigurationAssignments", r.Body)
	}
	for i, want := range testSet() {
		var a, b any
		_ = json.Unmarshal(body.Set[i], &a)
		_ = json.Unmarshal(want, &b)
		if mustJSON(a) != mustJSON(b) {
			t.Errorf("member %d = %s, want %s", i, body.Set[i], want)
		}
	}
	if res.RequestID != "rid-assign" || res.StatusCode != http.StatusNoContent || res.Body != nil || res.Retries != 0 {
		t.Errorf("Result = %+v", res)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestAssignAllRetried: assign is a full replacement, so it is retried like
// the PATCH; the same client-request-id travels on every attempt.
func TestAssignAllRetried(t *testing.T) {
	h := newHarness(t, &graph.Options{MaxRetries: 2}, false,
		answer{status: 429, header: map[string]string{"Retry-After": "1"}},
		answer{status: 503},
		answer{status: 204})
	res, err := h.c.AssignAll(context.Background(), cfgID, testSet())
	if err != nil {
		t.Fatalf("AssignAll = %v", err)
	}
	reqs := h.g.requests()
	if len(reqs) != 3 || res.Retries != 2 {
		t.Fatalf("requests = %d, retries = %d, want 3 and 2", len(reqs), res.Retries)
	}
	for _, r := range reqs[1:] {
		if r.Header.Get(graph.HeaderClientRequestID) != reqs[0].Header.Get(graph.HeaderClientRequestID) || string(r.Body) != string(reqs[0].Body) {
			t.Errorf("a retry changed the client-request-id or the body")
		}
	}
}

func TestAssignAllErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		answer  answer
		code    change.Code
		message string
	}{
		{"404", answer{status: 404, body: readTestdata(t, "intune-404.json")}, change.CodeNotFound, "the configuration does not exist in Intune"},
		{"400", answer{status: 400, body: `{"error":{"code":"BadRequest","message":"x"}}`}, change.CodeGraphRefused, "Graph refused the change: BadRequest"},
		{"403", answer{status: 403}, change.CodeGraphPermission, ""},
		{"throttled past the budget", answer{status: 429, header: map[string]string{"Retry-After": "120"}}, change.CodeUnavailable, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil, false, tc.answer)
			_, err := h.c.AssignAll(context.Background(), cfgID, testSet())
			ce := codeOf(t, err)
			if ce.Code != tc.code || tc.message != "" && ce.Message != tc.message {
				t.Errorf("AssignAll = %v (%s), want %s %q", err, ce.Code, tc.code, tc.message)
			}
		})
	}
}

func TestAssignAllRefusesWithoutACall(t *testing.T) {
	h := newHarness(t, nil, false, answer{status: 204})
	if _, err := h.c.AssignAll(context.Background(), cfgID, nil); err == nil {
		t.Error("an empty set was accepted; it would remove every assignment")
	}
	if _, err := h.c.AssignAll(context.Background(), cfgID, []json.RawMessage{json.RawMessage(`[1]`)}); err == nil {
		t.Error("a member that is not an object was accepted")
	}
	if _, err := h.c.AssignAll(context.Background(), "../x", testSet()); change.ErrorCode(err) != change.CodeInvalid {
		t.Errorf("a bad configuration id: %v, want invalid-fields", err)
	}
	if n := len(h.g.requests()); n != 0 {
		t.Errorf("requests = %d, want none", n)
	}
}

func TestIsRouteRefused(t *testing.T) {
	for _, tc := range []struct {
		answer answer
		want   bool
	}{
		{answer{status: 400, body: readTestdata(t, "graph-400-route.json")}, true},
		{answer{status: 405, body: `{"error":{"code":"MethodNotAllowed","message":"m"}}`}, true},
		{answer{status: 400, body: `{"error":{"code":"BadRequest","message":"m"}}`}, false},
		{answer{status: 404}, false},
	} {
		h := newHarness(t, nil, false, tc.answer)
		_, err := h.c.PatchAssignment(context.Background(), cfgID, asgID, testAssignment())
		if got := graph.IsRouteRefused(err); got != tc.want {
			t.Errorf("status %d %s: IsRouteRefused = %v, want %v", tc.answer.status, tc.answer.body, got, tc.want)
		}
	}
	if graph.IsRouteRefused(errors.New("x")) || graph.IsRouteRefused(nil) {
		t.Error("a plain error counts as a refused route")
	}
}
