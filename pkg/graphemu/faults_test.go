package graphemu_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/graphemu"
	"github.com/google/uuid"
)

func TestResponseHeaders(t *testing.T) {
	h := newHarness(t, nil)
	const graphType = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
	tests := []struct {
		name     string
		q        req
		status   int
		sentCRID string
		jsonType bool
	}{
		{"200", req{method: http.MethodGet, path: configs("beta")}, 200, "", true},
		{"200 with client-request-id", req{method: http.MethodGet, path: configs("v1.0"),
			header: map[string]string{"client-request-id": "8f0c2a6e-1b1b-4c4c-9d9d-000000000001"}}, 200, "8f0c2a6e-1b1b-4c4c-9d9d-000000000001", true},
		{"404", req{method: http.MethodGet, path: cfgPath("beta", "nope")}, 404, "", true},
		{"401", req{method: http.MethodGet, path: configs("beta"), noAuth: true}, 401, "", true},
		{"204", req{method: http.MethodDelete, path: asgPath("beta", graphemu.ConfigESP, graphemu.AssignmentESPGroup),
			header: map[string]string{"client-request-id": "abc"}}, 204, "abc", false},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do(tt.q)
			if r.status != tt.status {
				t.Fatalf("status = %d %s, want %d", r.status, r.body, tt.status)
			}
			rid := r.header.Get("request-id")
			if _, err := uuid.Parse(rid); err != nil || seen[rid] {
				t.Errorf("request-id = %q, want a fresh GUID", rid)
			}
			seen[rid] = true
			crid := r.header.Get("client-request-id")
			if tt.sentCRID != "" && crid != tt.sentCRID {
				t.Errorf("client-request-id = %q, want the caller's %q echoed", crid, tt.sentCRID)
			}
			if _, err := uuid.Parse(crid); tt.sentCRID == "" && (err != nil || crid == rid) {
				t.Errorf("client-request-id = %q, want a new GUID when the caller sent none", crid)
			}
			var diag struct {
				ServerInfo struct{ DataCenter string } `json:"ServerInfo"`
			}
			if err := json.Unmarshal([]byte(r.header.Get("x-ms-ags-diagnostic")), &diag); err != nil || diag.ServerInfo.DataCenter == "" {
				t.Errorf("x-ms-ags-diagnostic = %q, want JSON with ServerInfo", r.header.Get("x-ms-ags-diagnostic"))
			}
			if d, err := http.ParseTime(r.header.Get("Date")); err != nil || !d.Equal(startTime) {
				t.Errorf("Date = %q, want the clock %v", r.header.Get("Date"), startTime)
			}
			ct := r.header.Get("Content-Type")
			if tt.jsonType && ct != graphType {
				t.Errorf("Content-Type = %q, want %q", ct, graphType)
			}
			if !tt.jsonType && ct != "" {
				t.Errorf("Content-Type = %q on a response without a body", ct)
			}
		})
	}
}

func TestAuthentication(t *testing.T) {
	h := newHarness(t, nil)
	armToken := h.mustToken("https://management.azure.com/")
	slashToken := h.mustToken("https://graph.microsoft.com/")
	usToken := h.mustToken("https://graph.microsoft.us")
	tests := []struct {
		name   string
		q      req
		status int
	}{
		{"no Authorization", req{noAuth: true}, 401},
		{"Basic", req{auth: "Basic dXNlcjpwYXNz"}, 401},
		{"Bearer without a token", req{auth: "Bearer "}, 401},
		{"token never issued", req{auth: "Bearer graphemu.not-issued"}, 401},
		{"token for another resource", req{auth: "Bearer " + armToken}, 401},
		{"token with trailing slash resource", req{auth: "Bearer " + slashToken}, 200},
		{"token for US Government Graph", req{auth: "Bearer " + usToken}, 200},
		{"lower-case scheme", req{auth: "bearer " + h.token}, 200},
		{"issued token", req{}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := tt.q
			q.method, q.path = http.MethodGet, configs("beta")
			r := h.do(q)
			if r.status != tt.status {
				t.Fatalf("status = %d %s, want %d", r.status, r.body, tt.status)
			}
			if tt.status == 401 {
				if c := r.code(t); c != graphemu.CodeInvalidToken {
					t.Errorf("code = %q, want %q", c, graphemu.CodeInvalidToken)
				}
				if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer ") {
					t.Errorf("WWW-Authenticate = %q", r.header.Get("WWW-Authenticate"))
				}
			}
		})
	}
	// Every write route needs a token too, and nothing is applied without one.
	for _, q := range []req{
		{method: http.MethodPatch, path: asgPath("beta", graphemu.ConfigESP, graphemu.AssignmentESPGroup), body: groupBody, noAuth: true},
		{method: http.MethodPost, path: cfgPath("v1.0", graphemu.ConfigESP) + "/assign", body: `{"enrollmentConfigurationAssignments":[]}`, noAuth: true},
		{method: http.MethodDelete, path: asgPath("beta", graphemu.ConfigESP, graphemu.AssignmentESPGroup), noAuth: true},
	} {
		if r := h.do(q); r.status != 401 {
			t.Errorf("%s %s without a token = %d, want 401", q.method, q.path, r.status)
		}
	}
	if h.emu.Writes() != 0 || len(h.emu.Assignments(graphemu.ConfigESP)) != 2 {
		t.Error("an unauthenticated write was applied")
	}
}

func TestTokenExpiry(t *testing.T) {
	h := newHarness(t, &graphemu.Options{TokenLifetime: 10 * time.Minute})
	if r := h.get(configs("beta")); r.status != 200 {
		t.Fatalf("fresh token: %d", r.status)
	}
	h.clock.Add(10 * time.Minute)
	if r := h.get(configs("beta")); r.status != 401 || r.code(t) != graphemu.CodeInvalidToken {
		t.Errorf("after the lifetime: %d %s, want 401", r.status, r.body)
	}
	h.token = h.mustToken("https://graph.microsoft.com")
	if r := h.get(configs("beta")); r.status != 200 {
		t.Errorf("new token: %d", r.status)
	}
	h.emu.ExpireTokens()
	if r := h.get(configs("beta")); r.status != 401 {
		t.Errorf("after ExpireTokens: %d, want 401", r.status)
	}
}

func TestPermission(t *testing.T) {
	read := req{method: http.MethodGet, path: asgsPath("beta", graphemu.ConfigESP)}
	writes := []req{
		{method: http.MethodPatch, path: asgPath("beta", graphemu.ConfigESP, graphemu.AssignmentESPGroup), body: groupBody},
		{method: http.MethodPost, path: asgsPath("beta", graphemu.ConfigESP), body: groupBody},
		{method: http.MethodDelete, path: asgPath("v1.0", graphemu.ConfigESP, graphemu.AssignmentESPGroup)},
		{method: http.MethodPost, path: cfgPath("beta", graphemu.ConfigESP) + "/assign", body: `{"enrollmentConfigurationAssignments":[]}`},
	}
	deny := func(t *testing.T, r res, what string) {
		t.Helper()
		if r.status != http.StatusForbidden {
			t.Fatalf("%s = %d %s, want 403", what, r.status, r.body)
		}
		e := r.graphError(t)
		if e.Error.Code != graphemu.CodeDenied || e.Error.Message != "Insufficient privileges to complete the operation." {
			t.Errorf("%s error = %+v", what, e.Error)
		}
	}

	t.Run("read only", func(t *testing.T) {
		h := newHarness(t, &graphemu.Options{Permission: graphemu.PermissionRead})
		if r := h.do(read); r.status != 200 {
			t.Errorf("GET with read permission = %d, want 200", r.status)
		}
		for _, q := range writes {
			deny(t, h.do(q), q.method+" "+q.path)
		}
		if h.emu.Writes() != 0 || len(h.emu.Assignments(graphemu.ConfigESP)) != 2 {
			t.Error("a denied write was applied")
		}
		h.emu.SetPermission(graphemu.PermissionReadWrite)
		if r := h.do(writes[0]); r.status != 200 {
			t.Errorf("PATCH after SetPermission(ReadWrite) = %d", r.status)
		}
	})
	t.Run("none", func(t *testing.T) {
		h := newHarness(t, nil)
		h.emu.SetPermission(graphemu.PermissionNone)
		deny(t, h.do(read), "GET")
		deny(t, h.do(writes[0]), "PATCH")
	})
}

func TestTokenEndpoint(t *testing.T) {
	h := newHarness(t, &graphemu.Options{IdentityHeader: "s3cret", TokenLifetime: 30 * time.Minute})
	ok := "api-version=2019-08-01&resource=https%3A%2F%2Fgraph.microsoft.com"
	tests := []struct {
		name, method, query, secret string
		status                      int
	}{
		{"no identity header", http.MethodGet, ok, "", 400},
		{"wrong identity header", http.MethodGet, ok, "s3cret-not", 401},
		{"wrong api-version", http.MethodGet, "api-version=2018-02-01&resource=https%3A%2F%2Fgraph.microsoft.com", "s3cret", 400},
		{"no resource", http.MethodGet, "api-version=2019-08-01", "s3cret", 400},
		{"POST", http.MethodPost, ok, "s3cret", 405},
		{"system-assigned", http.MethodGet, ok, "s3cret", 200},
		{"user-assigned", http.MethodGet, ok + "&client_id=11111111-2222-3333-4444-555555555555", "s3cret", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.tokenRes(tt.method, tt.query, tt.secret)
			if r.status != tt.status {
				t.Fatalf("status = %d %s, want %d", r.status, r.body, tt.status)
			}
			if tt.status != 200 {
				var e struct {
					StatusCode int    `json:"statusCode"`
					Message    string `json:"message"`
				}
				if err := json.Unmarshal(r.body, &e); err != nil || e.StatusCode != tt.status || e.Message == "" {
					t.Errorf("error body = %s", r.body)
				}
				if bytes.Contains(r.body, []byte("s3cret")) {
					t.Errorf("error body quotes the identity header: %s", r.body)
				}
				return
			}
			var tok map[string]string
			if err := json.Unmarshal(r.body, &tok); err != nil {
				t.Fatalf("token body %s: %v", r.body, err)
			}
			wantClient := graphemu.DefaultClientID
			if strings.Contains(tt.query, "client_id=") {
				wantClient = "11111111-2222-3333-4444-555555555555"
			}
			want := map[string]string{
				"expires_on": fmt.Sprint(startTime.Add(30 * time.Minute).Unix()),
				"resource":   "https://graph.microsoft.com", "token_type": "Bearer", "client_id": wantClient,
			}
			for k, v := range want {
				if tok[k] != v {
					t.Errorf("%s = %q, want %q", k, tok[k], v)
				}
			}
			if len(tok["access_token"]) < 32 {
				t.Errorf("access_token %q is too short to be random", tok["access_token"])
			}
		})
	}
	if n := h.emu.TokenRequests(); n != len(tests)+1 {
		t.Errorf("TokenRequests() = %d, want %d (refused ones included)", n, len(tests)+1)
	}
	for _, c := range h.emu.Calls() {
		if strings.HasPrefix(c.Path, graphemu.TokenPath) {
			t.Errorf("token request recorded as a Graph call: %+v", c)
		}
	}
}

func TestTokensAreRandomPerIssue(t *testing.T) {
	h := newHarness(t, nil)
	seen := map[string]bool{h.token: true}
	for range 20 {
		tok := h.mustToken("https://graph.microsoft.com")
		if seen[tok] {
			t.Fatalf("token %q issued twice", tok)
		}
		seen[tok] = true
		if r := h.do(req{method: http.MethodGet, path: configs("beta"), auth: "Bearer " + tok}); r.status != 200 {
			t.Errorf("issued token refused: %d", r.status)
		}
	}
}

func TestThrottle(t *testing.T) {
	h := newHarness(t, nil)
	p := asgPath("beta", graphemu.ConfigESP, graphemu.AssignmentESPGroup)
	h.emu.Throttle(2, "7")

	if r := h.get(p); r.status != 200 {
		t.Errorf("GET while writes are throttled = %d, want 200", r.status)
	}
	for i, q := range []req{
		{method: http.MethodPatch, path: p, body: groupBody},
		{method: http.MethodPost, path: cfgPath("beta", graphemu.ConfigESP) + "/assign", body: `{"enrollmentConfigurationAssignments":[]}`},
	} {
		r := h.do(q)
		if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "7" {
			t.Fatalf("write %d = %d Retry-After %q, want 429 and 7", i, r.status, r.header.Get("Retry-After"))
		}
		e := r.graphError(t)
		if e.Error.Code != graphemu.CodeThrottled || e.Error.InnerError.Code != "throttledRequest" || e.Error.InnerError.RequestID == "" {
			t.Errorf("429 error = %+v", e.Error)
		}
	}
	if h.emu.Writes() != 0 || len(h.emu.Assignments(graphemu.ConfigESP)) != 2 {
		t.Error("a throttled write was applied")
	}
	if r := h.patch(p, groupBody); r.status != 200 {
		t.Errorf("third write = %d, want 200 once the budget is spent", r.status)
	}

	h.emu.Throttle(1, "")
	r := h.patch(p, groupBody)
	if _, has := r.header["Retry-After"]; r.status != 429 || has {
		t.Errorf("Throttle(1, \"\") = %d, Retry-After present %v; want 429 without the header", r.status, has)
	}
	h.emu.Throttle(5, "1")
	h.emu.Throttle(0, "")
	if r := h.patch(p, groupBody); r.status != 200 {
		t.Errorf("after Throttle(0) = %d, want 200", r.status)
	}
}

// TestLoseWrites: a write under LoseWrites is applied and answered with the
// failure, so the caller cannot tell; reads and later writes are not.
func TestLoseWrites(t *testing.T) {
	h := newHarness(t, nil)
	h.emu.LoseWrites(1, 504)
	path := asgPath("beta", graphemu.ConfigESP, graphemu.AssignmentESPGroup)
	if r := h.get(path); r.status != 200 {
		t.Fatalf("a read during LoseWrites = %d, want 200", r.status)
	}
	if r := h.do(req{method: http.MethodPatch, path: path, body: groupBody}); r.status != 504 || r.code(t) != "GatewayTimeout" {
		t.Fatalf("the lost write = %d %s, want 504 GatewayTimeout", r.status, r.body)
	}
	if h.emu.Writes() != 1 || !strings.Contains(string(h.get(path).body), "11110000-0000-0000-0000-000000000099") {
		t.Fatalf("the lost write was not applied: %d writes, %s", h.emu.Writes(), h.get(path).body)
	}
	if r := h.do(req{method: http.MethodPatch, path: path, body: groupBody}); r.status/100 != 2 {
		t.Errorf("the next write = %d %s, want it answered", r.status, r.body)
	}
	defer func() {
		if recover() == nil {
			t.Error("LoseWrites(1, 429) did not panic")
		}
	}()
	h.emu.LoseWrites(1, 429)
}

func TestFail(t *testing.T) {
	tests := []struct {
		status int
		code   string
	}{
		{500, "InternalError"},
		{502, "BadGateway"},
		{503, "ServiceUnavailable"},
		{504, "GatewayTimeout"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			h := newHarness(t, nil)
			h.emu.Fail(2, tt.status)
			// An unauthenticated request is refused by the gateway first and
			// does not use up the failures.
			if r := h.do(req{method: http.MethodGet, path: configs("beta"), noAuth: true}); r.status != 401 {
				t.Errorf("unauthenticated during Fail = %d, want 401", r.status)
			}
			for _, q := range []req{
				{method: http.MethodGet, path: configs("v1.0")},
				{method: http.MethodPatch, path: asgPath("beta", graphemu.ConfigESP, graphemu.AssignmentESPGroup), body: groupBody},
			} {
				r := h.do(q)
				if r.status != tt.status || r.code(t) != tt.code {
					t.Errorf("%s during Fail = %d %s, want %d %s", q.method, r.status, r.body, tt.status, tt.code)
				}
			}
			if h.emu.Writes() != 0 {
				t.Error("a failed write was applied")
			}
			if r := h.get(configs("beta")); r.status != 200 {
				t.Errorf("after the failures = %d, want 200", r.status)
			}
		})
	}
	defer func() {
		if recover() == nil {
			t.Error("Fail(1, 200) did not panic")
		}
	}()
	graphemu.New(nil).Fail(1, 200)
}

func TestLatencyRespectsCancellation(t *testing.T) {
	h := newHarness(t, nil)
	// Long enough that no answer can come in time, short enough that a
	// handler ignoring cancellation only delays the failure below.
	h.emu.SetLatency(30 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	r, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.url+configs("beta"), nil)
	r.Header.Set("Authorization", "Bearer "+h.token)
	resp, err := http.DefaultClient.Do(r)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("request answered %d despite the latency", resp.StatusCode)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the caller's deadline", err)
	}
	// The handler must give up with the caller: wait (bounded) for its record.
	deadline := time.Now().Add(10 * time.Second)
	for len(h.emu.Calls()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	calls := h.emu.Calls()
	if len(calls) != 1 || calls[0].Status != 0 {
		t.Fatalf("calls = %+v, want one with Status 0 (caller gone)", calls)
	}
	h.emu.SetLatency(0)
	if r := h.get(configs("beta")); r.status != 200 {
		t.Errorf("after SetLatency(0) = %d", r.status)
	}
}

func TestRefuseItemRoute(t *testing.T) {
	h := newHarness(t, &graphemu.Options{RefuseItemRoute: true})
	cfgKey := "deviceEnrollmentConfigurations('" + graphemu.ConfigESP + "')"
	tests := []struct {
		q       req
		message string
	}{
		{req{method: http.MethodPatch, path: asgPath("beta", graphemu.ConfigESP, graphemu.AssignmentESPGroup), body: groupBody},
			"No OData route exists that match template ~/singleton/navigation/key/navigation/key with http verb PATCH for request /StatelessOnboardingService/deviceManagement/" +
				cfgKey + "/assignments('" + graphemu.AssignmentESPGroup + "')"},
		{req{method: http.MethodDelete, path: asgPath("v1.0", graphemu.ConfigESP, graphemu.AssignmentESPGroup)},
			"~/singleton/navigation/key/navigation/key with http verb DELETE for request /StatelessOnboardingService/deviceManagement/" + cfgKey},
		{req{method: http.MethodPost, path: asgsPath("beta", graphemu.ConfigESP), body: groupBody},
			"~/singleton/navigation/key/navigation with http verb POST for request /StatelessOnboardingService/deviceManagement/" + cfgKey + "/assignments"},
		{req{method: http.MethodPatch, path: asgPath("beta", "unknown", "unknown_x"), body: groupBody},
			"with http verb PATCH"},
	}
	for _, tt := range tests {
		r := h.do(tt.q)
		if r.status != http.StatusBadRequest {
			t.Fatalf("%s %s = %d %s, want 400", tt.q.method, tt.q.path, r.status, r.body)
		}
		e := r.graphError(t)
		if e.Error.Code != "No method match route template" || !strings.Contains(e.Error.Message, tt.message) {
			t.Errorf("%s %s error = %+v, want message with %q", tt.q.method, tt.q.path, e.Error, tt.message)
		}
	}
	if h.emu.Writes() != 0 {
		t.Errorf("Writes() = %d after refused item routes", h.emu.Writes())
	}
	if r := h.get(asgPath("beta", graphemu.ConfigESP, graphemu.AssignmentESPGroup)); r.status != 200 {
		t.Errorf("GET item with RefuseItemRoute = %d, want 200", r.status)
	}
	body := `{"enrollmentConfigurationAssignments":[{"target":{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget"}}]}`
	if r := h.post(cfgPath("beta", graphemu.ConfigESP)+"/assign", body); r.status != 204 {
		t.Errorf("assign with RefuseItemRoute = %d %s, want 204", r.status, r.body)
	}
	h.emu.RefuseItemRoute(false)
	if r := h.do(req{method: http.MethodDelete, path: asgPath("beta", graphemu.ConfigLimit, graphemu.AssignmentLimitAllUsers)}); r.status != 204 {
		t.Errorf("DELETE after RefuseItemRoute(false) = %d, want 204", r.status)
	}
}

func TestReset(t *testing.T) {
	h := newHarness(t, nil)
	seedESP := graphemu.New(nil).Assignments(graphemu.ConfigESP)

	h.patch(asgPath("beta", graphemu.ConfigESP, graphemu.AssignmentESPGroup), groupBody)
	h.do(req{method: http.MethodDelete, path: asgPath("beta", graphemu.ConfigESP, graphemu.AssignmentESPExclusion)})
	h.post(cfgPath("beta", graphemu.ConfigLimit)+"/setPriority", `{"priority":9}`)
	h.emu.SetPatchStatus(204)
	h.emu.Throttle(5, "1")
	h.emu.Fail(5, 503)
	// Long enough that no answer can come in time, short enough that a
	// handler ignoring cancellation only delays the failure below.
	h.emu.SetLatency(30 * time.Second)
	h.emu.RefuseItemRoute(true)
	h.emu.SetPermission(graphemu.PermissionNone)

	h.emu.Reset()

	if h.emu.Writes() != 0 || len(h.emu.Calls()) != 0 || h.emu.TokenRequests() != 0 {
		t.Errorf("counters after Reset: writes %d, calls %d, token requests %d", h.emu.Writes(), len(h.emu.Calls()), h.emu.TokenRequests())
	}
	got := h.emu.Assignments(graphemu.ConfigESP)
	if len(got) != len(seedESP) {
		t.Fatalf("ESP has %d assignments after Reset, want %d", len(got), len(seedESP))
	}
	for i := range got {
		if !bytes.Equal(got[i], seedESP[i]) {
			t.Errorf("assignment %d after Reset = %s, want %s", i, got[i], seedESP[i])
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r := h.do(req{method: http.MethodGet, path: cfgPath("beta", graphemu.ConfigLimit), ctx: ctx})
	if r.status != 200 || r.object(t)["priority"] != float64(0) {
		t.Errorf("GET after Reset (token kept, no latency, no fault) = %d %s", r.status, r.body)
	}
	if r := h.do(req{method: http.MethodPatch, path: asgPath("beta", graphemu.ConfigESP, graphemu.AssignmentESPGroup), body: groupBody, ctx: ctx}); r.status != 200 {
		t.Errorf("PATCH after Reset = %d %s, want 200 (options' status, no throttling, item route open)", r.status, r.body)
	}
}

func TestResetRestoresOptions(t *testing.T) {
	h := newHarness(t, &graphemu.Options{PatchStatus: 204, RefuseItemRoute: true, Permission: graphemu.PermissionRead})
	h.emu.SetPatchStatus(200)
	h.emu.RefuseItemRoute(false)
	h.emu.SetPermission(graphemu.PermissionReadWrite)
	h.emu.Reset()
	p := asgPath("beta", graphemu.ConfigESP, graphemu.AssignmentESPGroup)
	if r := h.patch(p, groupBody); r.status != 403 {
		t.Errorf("PATCH after Reset = %d, want 403 from Options.Permission", r.status)
	}
	h.emu.SetPermission(graphemu.PermissionReadWrite)
	if r := h.patch(p, groupBody); r.status != 400 || r.code(t) != graphemu.CodeNoRoute {
		t.Errorf("PATCH = %d, want the routing 400 from Options.RefuseItemRoute", r.status)
	}
	h.emu.RefuseItemRoute(false)
	if r := h.patch(p, groupBody); r.status != 204 {
		t.Errorf("PATCH = %d, want 204 from Options.PatchStatus", r.status)
	}
}

func TestGzipAndMediaTypes(t *testing.T) {
	p := asgPath("beta", graphemu.ConfigESP, graphemu.AssignmentESPGroup)
	tests := []struct {
		name   string
		q      req
		status int
		code   string
	}{
		{"gzip PATCH", req{gzip: true, body: groupBody}, 200, ""},
		{"gzip header on a plain body", req{body: groupBody, header: map[string]string{"Content-Encoding": "gzip"}}, 400, graphemu.CodeBadRequest},
		{"brotli", req{body: groupBody, header: map[string]string{"Content-Encoding": "br"}}, 415, graphemu.CodeUnsupportedMedia},
		{"no Content-Type", req{body: groupBody, noType: true}, 415, graphemu.CodeUnsupportedMedia},
		{"text/plain", req{body: groupBody, header: map[string]string{"Content-Type": "text/plain"}}, 415, graphemu.CodeUnsupportedMedia},
		{"JSON with parameters", req{body: groupBody, header: map[string]string{"Content-Type": "application/json; charset=utf-8"}}, 200, ""},
		{"body over 4 MiB", req{body: `{"x":"` + strings.Repeat("a", 4<<20) + `"}`}, 413, graphemu.CodeTooLarge},
		{"gzip bomb", req{gzip: true, body: `{"x":"` + strings.Repeat("a", 5<<20) + `"}`}, 413, graphemu.CodeTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil)
			q := tt.q
			q.method, q.path = http.MethodPatch, p
			r := h.do(q)
			if r.status != tt.status {
				t.Fatalf("status = %d %s, want %d", r.status, r.body, tt.status)
			}
			if tt.code != "" && r.code(t) != tt.code {
				t.Errorf("code = %q, want %q", r.code(t), tt.code)
			}
			wantWrites := 0
			if tt.status == 200 {
				wantWrites = 1
			}
			if h.emu.Writes() != wantWrites {
				t.Errorf("Writes() = %d, want %d", h.emu.Writes(), wantWrites)
			}
		})
	}
}

func TestCalls(t *testing.T) {
	h := newHarness(t, nil)
	h.do(req{method: http.MethodPatch, path: asgPath("beta", graphemu.ConfigESP, graphemu.AssignmentESPGroup) + "?$select=id",
		gzip: true, body: groupBody, header: map[string]string{"client-request-id": "c-1", "Prefer": "return=minimal"}})
	h.do(req{method: http.MethodGet, path: cfgPath("v1.0", "nope"), noAuth: true})

	calls := h.emu.Calls()
	if len(calls) != 2 {
		t.Fatalf("len(Calls()) = %d, want 2", len(calls))
	}
	c := calls[0]
	if c.Method != http.MethodPatch || c.Path != asgPath("beta", graphemu.ConfigESP, graphemu.AssignmentESPGroup) || c.Query != "$select=id" ||
		c.Status != 200 || c.Code != "" || c.ClientRequestID != "c-1" || !c.HasAuthorization || c.RequestID == "" {
		t.Errorf("PATCH call = %+v", c)
	}
	if string(c.Body) != groupBody {
		t.Errorf("recorded body = %q, want the inflated body", c.Body)
	}
	if c.Header.Get("Prefer") != "return=minimal" || c.Header.Get("Content-Encoding") != "gzip" {
		t.Errorf("recorded header = %v", c.Header)
	}
	if _, has := c.Header["Authorization"]; has {
		t.Error("recorded header keeps Authorization")
	}
	for _, call := range calls {
		for _, vals := range call.Header {
			for _, v := range vals {
				if strings.Contains(v, h.token) {
					t.Errorf("a call keeps the token: %+v", call)
				}
			}
		}
	}
	if d := calls[1]; d.Status != 401 || d.Code != graphemu.CodeInvalidToken || d.HasAuthorization || d.ClientRequestID != "" {
		t.Errorf("unauthenticated call = %+v", d)
	}
	// Calls returns copies.
	calls[0].Body[0] = 'X'
	if h.emu.Calls()[0].Body[0] == 'X' {
		t.Error("Calls() shares its bodies with the emulator")
	}
}

func TestConcurrentPatches(t *testing.T) {
	h := newHarness(t, nil)
	p := asgPath("beta", graphemu.ConfigESP, graphemu.AssignmentESPGroup)
	const n = 32
	sent := make(map[string]bool, n)
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i := range n {
		g := fmt.Sprintf("aaaa0000-0000-0000-0000-%012d", i)
		sent[g] = true
		wg.Add(2)
		go func() {
			defer wg.Done()
			statuses[i] = h.patch(p, tgt(`"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"`+g+`"`)).status
		}()
		go func() { // readers and observers race with the writers
			defer wg.Done()
			h.get(asgsPath("v1.0", graphemu.ConfigESP))
			h.emu.Calls()
			h.emu.Assignments(graphemu.ConfigESP)
		}()
	}
	wg.Wait()
	for i, s := range statuses {
		if s != 200 {
			t.Errorf("PATCH %d = %d, want 200", i, s)
		}
	}
	if h.emu.Writes() != n {
		t.Errorf("Writes() = %d, want %d", h.emu.Writes(), n)
	}
	if g := targetOf(t, stored(t, h.emu, graphemu.ConfigESP, graphemu.AssignmentESPGroup))["groupId"].(string); !sent[g] {
		t.Errorf("final groupId %q was never sent", g)
	}
	if len(h.emu.Calls()) != 2*n {
		t.Errorf("len(Calls()) = %d, want %d", len(h.emu.Calls()), 2*n)
	}
}

func TestLogNeverHoldsTokensOrBodies(t *testing.T) {
	var buf syncBuffer
	h := newHarness(t, &graphemu.Options{Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	h.patch(asgPath("beta", graphemu.ConfigESP, graphemu.AssignmentESPGroup), groupBody)
	h.get(configs("beta") + "?$filter=secret-filter")
	h.tokenRes(http.MethodGet, "api-version=2019-08-01&resource=https%3A%2F%2Fgraph.microsoft.com", "wrong-header-value")

	log := buf.String()
	if !strings.Contains(log, `"status":200`) || !strings.Contains(log, "graph request") || !strings.Contains(log, "token request") {
		t.Fatalf("log lacks the requests: %s", log)
	}
	forbidden := append([]string{"11110000-0000-0000-0000-000000000099", "secret-filter", "wrong-header-value",
		graphemu.DefaultIdentityHeader}, h.emu.IssuedTokens()...)
	for _, s := range forbidden {
		if strings.Contains(log, s) {
			t.Errorf("log holds %q: %s", s, log)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
