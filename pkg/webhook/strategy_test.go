package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/enrollhook/enrollhook/pkg/apply"
	"github.com/enrollhook/enrollhook/pkg/idempotency"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/graph"
	"github.com/enrollhook/enrollhook/pkg/graphemu"
	"github.com/enrollhook/enrollhook/pkg/source/generic"
)

// The update strategies through the real Graph client against the emulator.

const (
	espPrefix = "2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_"
	newGroup  = "44440000-0000-0000-0000-000000000044"
)

// v1Body changes the ESP group assignment without the beta-only properties.
const v1Body = `{"ticket":{"id":"CHG0030043","state":"approved","requestedBy":"alice@contoso.com","approvedBy":"bob@contoso.com"},` +
	`"configurationId":"` + graphemu.ConfigESP + `","assignmentId":"` + graphemu.AssignmentESPGroup + `",` +
	`"assignment":{"target":{"@odata.type":"microsoft.graph.groupAssignmentTarget","groupId":"` + newGroup + `"}}}`

// regroupBody moves the ESP group assignment to newGroup with a filter.
const regroupBody = `{"ticket":{"id":"CHG0030044","state":"approved","requestedBy":"alice@contoso.com","approvedBy":"bob@contoso.com"},` +
	`"configurationId":"` + graphemu.ConfigESP + `","assignmentId":"` + graphemu.AssignmentESPGroup + `",` +
	`"assignment":{"target":{"@odata.type":"microsoft.graph.groupAssignmentTarget","groupId":"` + newGroup + `",` +
	`"deviceAndAppManagementAssignmentFilterId":"` + graphemu.FilterCorporate + `","deviceAndAppManagementAssignmentFilterType":"exclude"}}}`

func newStrategyStack(t *testing.T, strategy, version string) *stack {
	t.Helper()
	e := sharedEmulator(t)
	t.Setenv("IDENTITY_ENDPOINT", emuSrv.URL+graphemu.TokenPath)
	t.Setenv("IDENTITY_HEADER", graphemu.DefaultIdentityHeader)
	cred, err := azidentity.NewManagedIdentityCredential(nil)
	if err != nil {
		t.Fatal(err)
	}
	logs := &strings.Builder{}
	log := testLogger(&lockedWriter{w: logs})
	gc, err := graph.NewClient(emuSrv.URL+"/"+version, cred, "https://graph.microsoft.com/.default", &graph.Options{
		MaxRetries: 2, RetryDelay: 10 * time.Millisecond, InsecureAllowHTTP: true, Logger: log, DeadlineMargin: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	src, _ := generic.New(testSecret, 5*time.Minute)
	h := newTestHandler(gc, []Source{src}, &testOptions{Now: func() time.Time { return testNow }, Logger: log, Timeout: 3 * time.Second,
		GraphVersion: version, UpdateStrategy: strategy})
	return &stack{h: h, emu: e, logs: logs}
}

// writesBy counts the emulator's calls by method and path suffix.
func writesBy(calls []graphemu.Call) (patches, assigns, lists int) {
	for _, c := range calls {
		switch {
		case c.Method == http.MethodPatch:
			patches++
		case c.Method == http.MethodPost && strings.HasSuffix(c.Path, "/assign"):
			assigns++
		case c.Method == http.MethodGet && strings.HasSuffix(c.Path, "/assignments"):
			lists++
		}
	}
	return
}

func assignBodies(t *testing.T, calls []graphemu.Call) [][]map[string]any {
	t.Helper()
	var out [][]map[string]any
	for _, c := range calls {
		if c.Method != http.MethodPost || !strings.HasSuffix(c.Path, "/assign") {
			continue
		}
		var b struct {
			Set []map[string]any `json:"enrollmentConfigurationAssignments"`
		}
		if err := json.Unmarshal(c.Body, &b); err != nil {
			t.Fatalf("assign body %s: %v", c.Body, err)
		}
		out = append(out, b.Set)
	}
	return out
}

func byID(set []json.RawMessage) map[string]string {
	m := map[string]string{}
	for _, raw := range set {
		var a struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(raw, &a)
		m[a.ID] = string(raw)
	}
	return m
}

func TestStrategyPatch(t *testing.T) {
	t.Run("item route served", func(t *testing.T) {
		s := newStrategyStack(t, apply.StrategyPatch, "beta")
		w := s.send(t, validBody)
		if w.Code != http.StatusOK {
			t.Fatalf("status %d %s", w.Code, w.Body)
		}
		if p, a, _ := writesBy(s.emu.Calls()); p != 1 || a != 0 {
			t.Errorf("PATCHes = %d, assigns = %d, want 1 and 0", p, a)
		}
		if w.Header().Get(apply.HeaderStrategy) != "" || w.Header().Get(apply.HeaderAssignmentID) != "" {
			t.Errorf("a PATCH answer carries the assign headers: %v", w.Header())
		}
	})
	t.Run("item route refused: no fallback", func(t *testing.T) {
		s := newStrategyStack(t, apply.StrategyPatch, "beta")
		s.emu.RefuseItemRoute(true)
		w := s.send(t, validBody)
		if p := decodeProblem(t, w); w.Code != http.StatusBadGateway || p.Type != apply.ProblemTypePrefix+"graph-refused" ||
			!strings.Contains(p.Detail, "No method match route template") {
			t.Fatalf("status %d %s, want 502 graph-refused naming Graph's code", w.Code, w.Body)
		}
		if p, a, l := writesBy(s.emu.Calls()); p != 1 || a != 0 || l != 0 {
			t.Errorf("PATCHes = %d, assigns = %d, lists = %d, want 1, 0, 0", p, a, l)
		}
		if s.emu.Writes() != 0 {
			t.Errorf("writes = %d", s.emu.Writes())
		}
	})
}

// TestStrategyAssignKeepsEveryOtherAssignment: with the item route served
// or refused, assign sends no PATCH, replaces only the assignment of the
// request and leaves every other assignment of the configuration (and every
// other configuration) exactly as it was.
func TestStrategyAssignKeepsEveryOtherAssignment(t *testing.T) {
	for _, refuse := range []bool{false, true} {
		t.Run(map[bool]string{false: "item route served", true: "item route refused"}[refuse], func(t *testing.T) {
			s := newStrategyStack(t, apply.StrategyAssign, "beta")
			s.emu.RefuseItemRoute(refuse)
			before := byID(s.emu.Assignments(graphemu.ConfigESP))
			otherBefore := s.emu.Assignments(graphemu.ConfigPlatform)
			w := s.send(t, validBody)
			if w.Code != http.StatusOK {
				t.Fatalf("status %d %s", w.Code, w.Body)
			}
			p, a, l := writesBy(s.emu.Calls())
			if p != 0 || a != 1 || l != 2 || s.emu.Writes() != 1 {
				t.Errorf("PATCHes %d, assigns %d, lists %d, writes %d; want 0, 1, 2 (read, re-read), 1", p, a, l, s.emu.Writes())
			}
			after := byID(s.emu.Assignments(graphemu.ConfigESP))
			if len(after) != len(before) {
				t.Fatalf("the set went from %d to %d assignments", len(before), len(after))
			}
			for id, raw := range before {
				if id == graphemu.AssignmentESPGroup {
					continue
				}
				if after[id] != raw {
					t.Errorf("assignment %s changed:\n before %s\n after  %s", id, raw, after[id])
				}
			}
			changed := after[graphemu.AssignmentESPGroup]
			if !strings.Contains(changed, `"deviceAndAppManagementAssignmentFilterType":"include"`) || !strings.Contains(changed, graphemu.FilterCorporate) {
				t.Errorf("the changed assignment = %s, want the include filter", changed)
			}
			if got := s.emu.Assignments(graphemu.ConfigPlatform); string(got[0]) != string(otherBefore[0]) {
				t.Errorf("another configuration changed: %s", got[0])
			}
			var got map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || got["id"] != graphemu.AssignmentESPGroup {
				t.Errorf("answer = %s, want the updated assignment", w.Body)
			}
			if w.Header().Get(apply.HeaderStrategy) != apply.StrategyAssign || w.Header().Get(apply.HeaderAssignmentID) != graphemu.AssignmentESPGroup ||
				w.Header().Get(HeaderGraphRequestID) == "" {
				t.Errorf("headers = %v, want strategy assign, the assignment id and Graph's request id", w.Header())
			}
			// Each member carries its id and target; beta keeps source.
			sets := assignBodies(t, s.emu.Calls())
			if len(sets) != 1 || len(sets[0]) != len(before) {
				t.Fatalf("assign bodies = %v", sets)
			}
			for _, m := range sets[0] {
				if m["id"] == nil || m["target"] == nil || m["source"] != "direct" {
					t.Errorf("member %v lacks its id, target or source", m)
				}
			}
		})
	}
}

// TestStrategyAssignNewID: Intune may name the changed assignment anew; the
// answer is found by its target and names the new id in its headers.
func TestStrategyAssignNewID(t *testing.T) {
	s := newStrategyStack(t, apply.StrategyAssign, "beta")
	s.emu.RenameOnAssign(true)
	exclusion, _ := s.emu.Assignment(graphemu.ConfigESP, graphemu.AssignmentESPExclusion)
	w := s.send(t, regroupBody)
	if w.Code != http.StatusOK {
		t.Fatalf("status %d %s", w.Code, w.Body)
	}
	wantID := espPrefix + newGroup
	if got := w.Header().Get(apply.HeaderAssignmentID); got != wantID {
		t.Errorf("%s = %q, want %q", apply.HeaderAssignmentID, got, wantID)
	}
	var got struct {
		ID     string         `json:"id"`
		Target map[string]any `json:"target"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || got.ID != wantID || got.Target["groupId"] != newGroup ||
		got.Target["deviceAndAppManagementAssignmentFilterType"] != "exclude" {
		t.Errorf("answer = %s, want the assignment under its new id", w.Body)
	}
	if _, ok := s.emu.Assignment(graphemu.ConfigESP, graphemu.AssignmentESPGroup); ok {
		t.Error("the old id still exists")
	}
	if now, _ := s.emu.Assignment(graphemu.ConfigESP, graphemu.AssignmentESPExclusion); string(now) != string(exclusion) {
		t.Errorf("the exclusion changed: %s", now)
	}
	if !strings.Contains(s.logs.String(), "newAssignmentId") {
		t.Error("the new id is not logged")
	}
}

func TestStrategyAssignNotFound(t *testing.T) {
	for _, tc := range []struct{ name, cfg, asg string }{
		{"assignment not in the configuration", graphemu.ConfigESP, espPrefix + "99990000-0000-0000-0000-000000000099"},
		{"configuration unknown", "0000aaaa-0000-0000-0000-000000000000_Nope", graphemu.AssignmentESPGroup},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStrategyStack(t, apply.StrategyAssign, "beta")
			body := strings.Replace(strings.Replace(validBody, graphemu.AssignmentESPGroup, tc.asg, 1), graphemu.ConfigESP, tc.cfg, 1)
			w := s.send(t, body)
			if p := decodeProblem(t, w); w.Code != http.StatusNotFound || p.Type != apply.ProblemTypePrefix+"not-found" {
				t.Fatalf("status %d %s, want 404 not-found", w.Code, w.Body)
			}
			if _, a, _ := writesBy(s.emu.Calls()); a != 0 || s.emu.Writes() != 0 {
				t.Errorf("assign was sent (%d) or something written (%d)", a, s.emu.Writes())
			}
		})
	}
}

// TestStrategyAssignV1: on v1.0 the assign body carries no beta-only
// property (source, sourceId, filters), for kept and changed members alike.
func TestStrategyAssignV1(t *testing.T) {
	s := newStrategyStack(t, apply.StrategyAssign, "v1.0")
	w := s.send(t, v1Body)
	if w.Code != http.StatusOK {
		t.Fatalf("status %d %s", w.Code, w.Body)
	}
	var posted []graphemu.Call
	for _, c := range s.emu.Calls() {
		if c.Method == http.MethodPost {
			posted = append(posted, c)
		}
	}
	if len(posted) != 1 || !strings.HasPrefix(posted[0].Path, "/v1.0/") || posted[0].Status != http.StatusNoContent {
		t.Fatalf("assign calls = %+v", posted)
	}
	for _, beta := range []string{`"source"`, `"sourceId"`, "deviceAndAppManagementAssignmentFilter"} {
		if bytes.Contains(posted[0].Body, []byte(beta)) {
			t.Errorf("the v1.0 assign body carries %s: %s", beta, posted[0].Body)
		}
	}
	if sets := assignBodies(t, s.emu.Calls()); len(sets) != 1 || len(sets[0]) != 2 {
		t.Errorf("assign bodies = %v, want the two ESP assignments", sets)
	}
	stored, _ := s.emu.Assignment(graphemu.ConfigESP, graphemu.AssignmentESPGroup)
	if !strings.Contains(string(stored), newGroup) {
		t.Errorf("Graph holds %s", stored)
	}
}

// TestStrategyAutoSwitchesOnce: auto sends the PATCH; when Graph refuses
// the route it applies the change with assign, logs the switch once, and
// the next change goes straight to assign.
func TestStrategyAutoSwitchesOnce(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(e *graphemu.Server)
	}{
		{"400 No method match route template", func(e *graphemu.Server) { e.RefuseItemRoute(true) }},
		{"405", func(e *graphemu.Server) { e.Fail(1, http.StatusMethodNotAllowed) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStrategyStack(t, "", "beta") // the default is auto
			tc.setup(s.emu)
			w := s.send(t, validBody)
			if w.Code != http.StatusOK {
				t.Fatalf("first: status %d %s", w.Code, w.Body)
			}
			if w.Header().Get(apply.HeaderStrategy) != apply.StrategyAssign || w.Header().Get(apply.HeaderAssignmentID) != graphemu.AssignmentESPGroup {
				t.Errorf("first: headers %v, want the assign headers", w.Header())
			}
			if p, a, _ := writesBy(s.emu.Calls()); p != 1 || a != 1 {
				t.Errorf("first: PATCHes %d, assigns %d, want 1 and 1", p, a)
			}
			stored, _ := s.emu.Assignment(graphemu.ConfigESP, graphemu.AssignmentESPGroup)
			if !strings.Contains(string(stored), `"include"`) {
				t.Errorf("Graph does not hold the change: %s", stored)
			}

			n := len(s.emu.Calls())
			w = s.send(t, regroupBody)
			if w.Code != http.StatusOK || w.Header().Get(apply.HeaderStrategy) != apply.StrategyAssign {
				t.Fatalf("second: status %d %v %s", w.Code, w.Header(), w.Body)
			}
			if p, a, l := writesBy(s.emu.Calls()[n:]); p != 0 || a != 1 || l != 2 {
				t.Errorf("second: PATCHes %d, assigns %d, lists %d; want straight to assign (0, 1, 2)", p, a, l)
			}
			if c := strings.Count(s.logs.String(), "changes go through the assign action"); c != 1 {
				t.Errorf("the switch is logged %d times, want once:\n%s", c, s.logs)
			}
		})
	}
	t.Run("item route served: no switch", func(t *testing.T) {
		s := newStrategyStack(t, apply.StrategyAuto, "beta")
		for i := 0; i < 2; i++ {
			if w := s.send(t, validBody); w.Code != http.StatusOK || w.Header().Get(apply.HeaderStrategy) != "" {
				t.Fatalf("send %d: %d %v", i, w.Code, w.Header())
			}
		}
		if p, a, _ := writesBy(s.emu.Calls()); p != 2 || a != 0 {
			t.Errorf("PATCHes %d, assigns %d, want 2 and 0", p, a)
		}
	})
	t.Run("another refusal: no switch", func(t *testing.T) {
		s := newStrategyStack(t, apply.StrategyAuto, "beta")
		s.emu.Fail(1, http.StatusBadRequest)
		if w := s.send(t, validBody); w.Code != http.StatusBadGateway {
			t.Fatalf("status %d %s, want 502", w.Code, w.Body)
		}
		if _, a, l := writesBy(s.emu.Calls()); a != 0 || l != 0 {
			t.Errorf("assigns %d, lists %d after a plain 400, want none", a, l)
		}
	})
}

// TestStrategyAutoSwitchConcurrent: many changes refused at once switch
// once, and every one is applied through assign.
func TestStrategyAutoSwitchConcurrent(t *testing.T) {
	s := newStrategyStack(t, apply.StrategyAuto, "beta")
	s.emu.RefuseItemRoute(true)
	const n = 8
	codes := make(chan int, n)
	for i := 0; i < n; i++ {
		go func() {
			w := httptest.NewRecorder()
			s.h.ServeHTTP(w, signed(t, validBody, testNow))
			codes <- w.Code
		}()
	}
	for i := 0; i < n; i++ {
		if c := <-codes; c != http.StatusOK {
			t.Errorf("status %d", c)
		}
	}
	if c := strings.Count(s.logs.String(), "changes go through the assign action"); c != 1 {
		t.Errorf("the switch is logged %d times, want once", c)
	}
}

// TestAutoWithoutAssign: a Graph that cannot assign keeps the PATCH's
// refusal under auto; assign with it is a wiring bug, which apply.New
// refuses (TestNewPanicsOnAStrategyItCannotRun in package apply).
func TestAutoWithoutAssign(t *testing.T) {
	refused := &change.Error{Code: change.CodeGraphRefused, Message: "Graph refused the change: " + graph.CodeNoRoute,
		Err: &graph.ResponseError{StatusCode: 400, ErrorCode: graph.CodeNoRoute}}
	h := newHarness(t, nil)
	h.g.err = refused
	w := httptest.NewRecorder()
	h.h.ServeHTTP(w, signed(t, validBody, testNow))
	if w.Code != http.StatusBadGateway {
		t.Errorf("status %d %s, want 502", w.Code, w.Body)
	}
}

// TestStrategyHeadersInOpenAPI: the assign answer's headers are documented
// on every 200 that applies a change, and a real assign answer validates.
func TestStrategyHeadersInOpenAPI(t *testing.T) {
	doc, _ := oapiRouter(t)
	for _, path := range []string{"/hooks/generic", "/hooks/servicenow", "/hooks/jira"} {
		item := doc.Paths.Find(path)
		if item == nil {
			item = doc.Paths.Find("/hooks/{source}")
		}
		if item == nil || item.Post == nil || item.Post.Responses.Status(http.StatusOK) == nil {
			t.Fatalf("openapi.yaml: no POST %s 200", path)
		}
		ok := item.Post.Responses.Status(http.StatusOK)
		for _, h := range []string{apply.HeaderStrategy, apply.HeaderAssignmentID} {
			if _, found := ok.Value.Headers[h]; !found {
				t.Errorf("openapi.yaml: POST %s 200 does not document %s", path, h)
			}
		}
	}
	s := newStrategyStack(t, apply.StrategyAssign, "beta")
	s.emu.RenameOnAssign(true)
	r := signed(t, regroupBody, testNow)
	w := httptest.NewRecorder()
	s.h.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		t.Fatalf("status %d %s", w.Code, w.Body)
	}
	validateAgainstOpenAPI(t, http.MethodPost, "/hooks/generic", r.Header, []byte(regroupBody), w.Code, w.Header(), w.Body.Bytes())
}

// listingGraph is a fakeGraph that can also list and assign, with a list
// that carries beta-only properties whatever the version.
type listingGraph struct {
	fakeGraph
	list []json.RawMessage
	sent [][]json.RawMessage
}

func (g *listingGraph) ListAssignments(ctx context.Context, cfg string) ([]json.RawMessage, *graph.Result, error) {
	return g.list, &graph.Result{RequestID: "list"}, nil
}

func (g *listingGraph) AssignAll(ctx context.Context, cfg string, set []json.RawMessage) (*graph.Result, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.sent = append(g.sent, set)
	return &graph.Result{RequestID: "assign", StatusCode: http.StatusNoContent}, nil
}

// TestHandlerV1AssignBodyHasNoBetaFields: on v1.0 the handler's assign
// body carries no beta-only property even when Graph's list has them.
func TestHandlerV1AssignBodyHasNoBetaFields(t *testing.T) {
	g := &listingGraph{list: []json.RawMessage{
		json.RawMessage(`{"id":"` + graphemu.AssignmentESPGroup + `","source":"direct","sourceId":null,"target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"` + graphemu.GroupCorporate + `","deviceAndAppManagementAssignmentFilterId":null,"deviceAndAppManagementAssignmentFilterType":"none"}}`),
		json.RawMessage(`{"id":"` + graphemu.AssignmentESPExclusion + `","source":"direct","sourceId":null,"target":{"@odata.type":"#microsoft.graph.exclusionGroupAssignmentTarget","groupId":"` + graphemu.GroupExcluded + `","deviceAndAppManagementAssignmentFilterId":null,"deviceAndAppManagementAssignmentFilterType":"none"}}`),
	}}
	src, _ := generic.New(testSecret, 5*time.Minute)
	h := newTestHandler(g, []Source{src}, &testOptions{Now: func() time.Time { return testNow }, Logger: slog.New(slog.DiscardHandler),
		GraphVersion: "v1.0", UpdateStrategy: apply.StrategyAssign})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, signed(t, v1Body, testNow))
	if len(g.sent) != 1 || len(g.sent[0]) != 2 {
		t.Fatalf("assign sets = %s (answer %d %s)", g.sent, w.Code, w.Body)
	}
	// The fake's re-read still holds the old target: the change is not
	// found, so the answer is the applied body, marked as such.
	if w.Code != http.StatusOK || w.Header().Get(apply.HeaderReadBack) != "failed" || w.Header().Get(apply.HeaderStrategy) != apply.StrategyAssign ||
		w.Header().Get(apply.HeaderAssignmentID) != "" {
		t.Errorf("answer %d %v, want 200 with the read-back failed and no assignment id", w.Code, w.Header())
	}
	for _, m := range g.sent[0] {
		for _, beta := range []string{`"source"`, `"sourceId"`, "deviceAndAppManagementAssignmentFilter"} {
			if strings.Contains(string(m), beta) {
				t.Errorf("v1.0 member carries %s: %s", beta, m)
			}
		}
	}
}

// TestStrategyAssignSerializesAConfiguration: two changes of different
// assignments of one configuration, at once, both hold afterwards: the
// second read-modify-write does not overwrite the first.
func TestStrategyAssignSerializesAConfiguration(t *testing.T) {
	s := newStrategyStack(t, apply.StrategyAssign, "beta")
	s.emu.SetLatency(20 * time.Millisecond)
	defer s.emu.SetLatency(0)
	exclusionBody := strings.Replace(strings.Replace(regroupBody, graphemu.AssignmentESPGroup, graphemu.AssignmentESPExclusion, 1),
		"microsoft.graph.groupAssignmentTarget", "microsoft.graph.exclusionGroupAssignmentTarget", 1)
	codes := make(chan string, 2)
	for _, body := range []string{validBody, exclusionBody} {
		go func() {
			w := httptest.NewRecorder()
			s.h.ServeHTTP(w, signed(t, body, testNow))
			codes <- w.Result().Status + " " + w.Body.String()
		}()
	}
	for i := 0; i < 2; i++ {
		if c := <-codes; !strings.HasPrefix(c, "200") {
			t.Errorf("answer %s", c)
		}
	}
	group, _ := s.emu.Assignment(graphemu.ConfigESP, graphemu.AssignmentESPGroup)
	exclusion, _ := s.emu.Assignment(graphemu.ConfigESP, graphemu.AssignmentESPExclusion)
	if !strings.Contains(string(group), `"include"`) || !strings.Contains(string(exclusion), newGroup) {
		t.Errorf("a change was lost:\n group     %s\n exclusion %s", group, exclusion)
	}
}

// TestStrategyAssignSerializesAcrossInstances: two instances (two handlers)
// sharing one de-duplication store, as Lambda sandboxes share the DynamoDB
// table, change two assignments of one configuration at once; both changes
// hold, because the configuration's lease lives in the store, not in one
// process.
func TestStrategyAssignSerializesAcrossInstances(t *testing.T) {
	store := idempotency.NewMemory(nil, 0)
	a := newStrategyStack(t, apply.StrategyAssign, "beta")
	b := newStrategyStack(t, apply.StrategyAssign, "beta")
	a.h.set(func(o *testOptions) { o.Store = store })
	b.h.set(func(o *testOptions) { o.Store = store })
	a.emu.SetLatency(20 * time.Millisecond)
	defer a.emu.SetLatency(0)
	exclusionBody := strings.Replace(strings.Replace(regroupBody, graphemu.AssignmentESPGroup, graphemu.AssignmentESPExclusion, 1),
		"microsoft.graph.groupAssignmentTarget", "microsoft.graph.exclusionGroupAssignmentTarget", 1)
	codes := make(chan string, 2)
	for i, body := range []string{validBody, exclusionBody} {
		h := []*testHandler{a.h, b.h}[i]
		go func() {
			w := httptest.NewRecorder()
			r := signed(t, body, testNow)
			r.Header.Set("webhook-id", fmt.Sprintf("msg_instance_%d", i))
			sig, _ := generic.Sign(testSecret, fmt.Sprintf("msg_instance_%d", i), testNow, []byte(body))
			r.Header.Set("webhook-signature", sig.Get("webhook-signature"))
			h.ServeHTTP(w, r)
			codes <- w.Result().Status + " " + w.Body.String()
		}()
	}
	for i := 0; i < 2; i++ {
		if c := <-codes; !strings.HasPrefix(c, "200") {
			t.Errorf("answer %s", c)
		}
	}
	group, _ := a.emu.Assignment(graphemu.ConfigESP, graphemu.AssignmentESPGroup)
	exclusion, _ := a.emu.Assignment(graphemu.ConfigESP, graphemu.AssignmentESPExclusion)
	if !strings.Contains(string(group), `"include"`) || !strings.Contains(string(exclusion), newGroup) {
		t.Errorf("a change was lost across instances:\n group     %s\n exclusion %s", group, exclusion)
	}
}
