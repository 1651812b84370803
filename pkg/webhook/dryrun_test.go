package webhook

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/apply"
	"github.com/enrollhook/enrollhook/pkg/chat"
	"github.com/enrollhook/enrollhook/pkg/graph"
	"github.com/enrollhook/enrollhook/pkg/graphemu"
	"github.com/enrollhook/enrollhook/pkg/idempotency"
	"github.com/enrollhook/enrollhook/pkg/policy"
	"github.com/enrollhook/enrollhook/pkg/source/generic"
	"github.com/enrollhook/enrollhook/pkg/source/servicenow"
	"github.com/enrollhook/enrollhook/pkg/source/slack"
)

// Dry runs through the handler against the Graph emulator.

// newDryRunStack serves generic, servicenow and slack against the emulator,
// with the embedded store and the built-in policy.
func newDryRunStack(t *testing.T, strategy string, tweak func(*testOptions)) *stack {
	t.Helper()
	gc, e, logs, log := emulatorClient(t, "", 2)
	gen, _ := generic.New(testSecret, 5*time.Minute)
	sn, err := servicenow.New(snSecret, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	sl, err := slack.New(chatSlackSecret, &slack.Options{
		Allow:        chat.Allowlist{Tenant: "T0001", Users: []string{"U0456EFGH"}},
		AnswerWithin: 2 * time.Second, AllowLoopbackResponseURL: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	o := &testOptions{Now: func() time.Time { return testNow }, Logger: log, Timeout: 3 * time.Second,
		UpdateStrategy: strategy, Store: idempotency.NewMemory(nil, 0), Policy: policy.Default()}
	if tweak != nil {
		tweak(o)
	}
	return &stack{h: newTestHandler(gc, []Source{gen, sn, sl}, o), emu: e, logs: logs}
}

// serve answers r and checks the exchange against openapi.yaml.
func (s *stack) serve(t *testing.T, r *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	reqBody, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(reqBody))
	reqHeaders := r.Header.Clone()
	w := httptest.NewRecorder()
	s.h.ServeHTTP(w, r)
	validateAgainstOpenAPI(t, r.Method, r.URL.RequestURI(), reqHeaders, reqBody, w.Code, w.Header(), w.Body.Bytes())
	return w
}

func decodePlan(t *testing.T, w *httptest.ResponseRecorder) apply.Plan {
	t.Helper()
	if w.Code != http.StatusOK {
		t.Fatalf("status %d %s, want 200 and a plan", w.Code, w.Body)
	}
	var p apply.Plan
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || !p.DryRun {
		t.Fatalf("not a dry run answer: %s (%v)", w.Body, err)
	}
	return p
}

// onlyReads fails unless the emulator saw no write and only GETs.
func onlyReads(t *testing.T, e *graphemu.Server) {
	t.Helper()
	if n := e.Writes(); n != 0 {
		t.Errorf("emulator writes = %d, want 0", n)
	}
	for _, c := range e.Calls() {
		if c.Method != http.MethodGet {
			t.Errorf("a dry run sent %s %s", c.Method, c.Path)
		}
	}
}

// emuAssignment is the assignment as the emulator holds it now.
func emuAssignment(t *testing.T, s *stack, cfg, asg string) map[string]any {
	t.Helper()
	res, err := s.h.graph.GetAssignment(t.Context(), cfg, asg)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(graph.PublicBody(res.Body), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func jsonValue(t *testing.T, raw []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func paths(p apply.Plan) []string {
	out := []string{}
	for _, c := range p.Changes {
		out = append(out, c.Path)
	}
	return out
}

func TestDryRunGenericPlansThenTheSameDeliveryApplies(t *testing.T) {
	s := newDryRunStack(t, apply.StrategyPatch, nil)
	before := emuAssignment(t, s, graphemu.ConfigESP, graphemu.AssignmentESPGroup)
	s.emu.Reset()

	r := signed(t, validBody, testNow)
	r.URL.RawQuery = "dryRun=true"
	w := s.serve(t, r)
	p := decodePlan(t, w)
	onlyReads(t, s.emu)
	if len(s.emu.Calls()) == 0 {
		t.Error("the dry run did not read the assignment from Graph")
	}
	if got := jsonValue(t, p.Before); !reflect.DeepEqual(got, any(before)) {
		t.Errorf("before = %v, want the assignment as Graph holds it %v", got, before)
	}
	after := jsonValue(t, p.After).(map[string]any)
	target := after["target"].(map[string]any)
	if target["deviceAndAppManagementAssignmentFilterType"] != "include" ||
		target["deviceAndAppManagementAssignmentFilterId"] != graphemu.FilterCorporate || after["id"] != graphemu.AssignmentESPGroup {
		t.Errorf("after = %s", p.After)
	}
	want := []string{"/target/deviceAndAppManagementAssignmentFilterId", "/target/deviceAndAppManagementAssignmentFilterType"}
	if got := paths(p); !reflect.DeepEqual(got, want) {
		t.Errorf("changes = %v, want %v", got, want)
	}
	for _, c := range p.Changes {
		if c.Path == want[1] && (c.From != "none" || c.To != "include") {
			t.Errorf("change %s: from %v to %v, want none to include", c.Path, c.From, c.To)
		}
	}
	if w.Header().Get(HeaderGraphRequestID) == "" {
		t.Error("no X-Graph-Request-Id of the read")
	}
	if !strings.Contains(s.logs.String(), `"outcome":"planned"`) {
		t.Errorf("the log does not say planned:\n%s", s.logs)
	}

	// The same delivery (same webhook-id) without the flag, which no
	// signature covers, never applies: its id was spent on the plan.
	w = s.serve(t, signed(t, validBody, testNow))
	if p := decodeProblem(t, w); w.Code != http.StatusConflict || p.Type != apply.ProblemTypePrefix+"delivery-was-dry-run" {
		t.Fatalf("the real delivery after a plan: %d %s, want 409 delivery-was-dry-run", w.Code, w.Body)
	}
	onlyReads(t, s.emu)
	// The plan again is answered from the store.
	r = signed(t, validBody, testNow)
	r.URL.RawQuery = "dryRun=true"
	if w := s.serve(t, r); w.Header().Get(HeaderReplay) != "true" || len(decodePlan(t, w).Changes) != 2 {
		t.Errorf("the plan sent again: %d %v %s", w.Code, w.Header(), w.Body)
	}
	// A new delivery of the change applies it.
	w = s.serve(t, signedID(t, "msg_test_2", validBody, testNow))
	if w.Code != http.StatusOK || w.Header().Get(HeaderReplay) != "" {
		t.Fatalf("a new delivery after a plan: %d %v %s", w.Code, w.Header(), w.Body)
	}
	if n := s.emu.Writes(); n != 1 {
		t.Errorf("writes after the real delivery = %d, want 1", n)
	}
	got := emuAssignment(t, s, graphemu.ConfigESP, graphemu.AssignmentESPGroup)
	if !reflect.DeepEqual(got, after) {
		t.Errorf("Graph holds %v after the change, the plan said %v", got, after)
	}
	// The applied delivery sent again with the flag gets its real answer,
	// not a plan.
	r = signedID(t, "msg_test_2", validBody, testNow)
	r.Header.Set("Prefer", "dry-run")
	w = s.serve(t, r)
	if w.Code != http.StatusOK || w.Header().Get(HeaderReplay) != "true" || strings.Contains(w.Body.String(), `"dryRun"`) {
		t.Errorf("the applied delivery with a dry-run flag: %d %v %s", w.Code, w.Header(), w.Body)
	}

	// Planned again as a new delivery: nothing would change.
	r = signedID(t, "msg_test_3", validBody, testNow)
	r.Header.Set("Prefer", "dry-run")
	p = decodePlan(t, s.serve(t, r))
	if len(p.Changes) != 0 {
		t.Errorf("changes after the apply = %v, want none", p.Changes)
	}
	if n := s.emu.Writes(); n != 1 {
		t.Errorf("writes = %d after a second plan, want 1", n)
	}
}

func TestDryRunSpellings(t *testing.T) {
	for _, tt := range []struct {
		name, query, prefer string
		dry                 bool
	}{
		{"dryRun=true", "dryRun=true", "", true},
		{"lower case, any value", "dryrun=1", "", true},
		{"hidden behind dryRun=false", "dryRun=false&dryRun=true", "", true},
		{"Prefer among others", "", "respond-async, dry-run", true},
		{"dryRun=false applies", "dryRun=false", "", false},
		{"escaped false applies", "dryRun=%66alse", "", false},
		{"False is not exactly false", "dryRun=False", "", true},
		{"FALSE is not exactly false", "dry_run=FALSE", "", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newDryRunStack(t, apply.StrategyPatch, nil)
			r := signed(t, validBody, testNow)
			r.URL.RawQuery = tt.query
			if tt.prefer != "" {
				r.Header.Set("Prefer", tt.prefer)
			}
			w := s.serve(t, r)
			if w.Code != http.StatusOK {
				t.Fatalf("status %d %s", w.Code, w.Body)
			}
			if tt.dry {
				decodePlan(t, w)
				onlyReads(t, s.emu)
			} else if s.emu.Writes() != 1 || strings.Contains(w.Body.String(), `"dryRun"`) {
				t.Errorf("dryRun=false: writes %d, body %s", s.emu.Writes(), w.Body)
			}
		})
	}
}

// TestDryRunAskedInTheSignedBody: the envelope's own dry-run flag (signed,
// the events function's too) is a dry run on the HTTP routes, on the async
// path as well: never a change applied, never queued.
func TestDryRunAskedInTheSignedBody(t *testing.T) {
	for _, async := range []bool{false, true} {
		for flag, dry := range map[string]bool{`"dryRun":true,`: true, `"Dry-Run":"yes",`: true, `"dryRun":false,`: false} {
			q := &captureQueue{}
			s := newDryRunStack(t, apply.StrategyPatch, func(o *testOptions) {
				if async {
					o.Queue, o.AsyncSources = q, []string{generic.Name}
				}
			})
			body := strings.Replace(validBody, `{"ticket"`, `{`+flag+`"ticket"`, 1)
			w := s.serve(t, signed(t, body, testNow))
			switch {
			case dry:
				decodePlan(t, w)
				onlyReads(t, s.emu)
				if n := len(q.messages()); n != 0 {
					t.Errorf("%s (async %v): %d messages queued", flag, async, n)
				}
			case async && w.Code != http.StatusAccepted, !async && (w.Code != http.StatusOK || s.emu.Writes() != 1):
				t.Errorf("%s (async %v): %d %s, %d writes; want the change applied or queued", flag, async, w.Code, w.Body, s.emu.Writes())
			}
		}
	}
}

func TestDryRunRefusedLikeTheRealOne(t *testing.T) {
	wide := strings.Replace(validBody, `"target":{"@odata.type":"microsoft.graph.groupAssignmentTarget","groupId":"5e6f0000-0000-0000-0000-000000000001",`+
		`"deviceAndAppManagementAssignmentFilterId":"a1b2c3d4-0000-0000-0000-00000000f117","deviceAndAppManagementAssignmentFilterType":"include"}`,
		`"target":{"@odata.type":"microsoft.graph.allDevicesAssignmentTarget"}`, 1)
	missing := strings.Replace(validBody, graphemu.AssignmentESPGroup, espPrefix+newGroup, 1)
	for _, tt := range []struct {
		name, body string
		status     int
		problem    string
	}{
		{"policy: wide target", wide, http.StatusForbidden, "policy-wide-target"},
		{"not approved", strings.Replace(validBody, `"state":"approved"`, `"state":"rejected"`, 1), http.StatusForbidden, "not-approved"},
		{"invalid fields", strings.Replace(validBody, `"groupId":"5e6f0000-0000-0000-0000-000000000001"`, `"groupId":"nope"`, 1), http.StatusUnprocessableEntity, "invalid-fields"},
		{"no such assignment", missing, http.StatusNotFound, "not-found"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got [2]apply.Problem
			for i, dry := range []bool{true, false} {
				s := newDryRunStack(t, apply.StrategyPatch, nil)
				r := signed(t, tt.body, testNow)
				if dry {
					r.URL.RawQuery = "dryRun=true"
				}
				w := s.serve(t, r)
				if w.Code != tt.status {
					t.Fatalf("dry=%v: status %d %s, want %d", dry, w.Code, w.Body, tt.status)
				}
				got[i] = decodeProblem(t, w)
				if dry {
					onlyReads(t, s.emu)
				}
			}
			if got[0].Type != apply.ProblemTypePrefix+tt.problem || got[0].Type != got[1].Type || got[0].Detail != got[1].Detail {
				t.Errorf("dry run %s %q, real %s %q, want both %s", got[0].Type, got[0].Detail, got[1].Type, got[1].Detail, tt.problem)
			}
		})
	}
}

// TestDryRunRefusedByThePolicySpendsItsID: a dry run the policy refuses
// keeps its refusal as its delivery's answer, like a plan: the same
// captured delivery without its (unsigned) flag never applies, even once
// the policy allows it.
func TestDryRunRefusedByThePolicySpendsItsID(t *testing.T) {
	s := newDryRunStack(t, apply.StrategyPatch, nil)
	s.h.set(func(o *testOptions) {
		o.Policy = mustPolicy(t, strings.Replace(testPolicy, validFilter, "a1b2c3d4-0000-0000-0000-0000000000ff", 1))
	})
	r := signed(t, validBody, testNow)
	r.URL.RawQuery = "dryRun=true"
	if w := s.serve(t, r); w.Code != http.StatusForbidden || decodeProblem(t, w).Type != apply.ProblemTypePrefix+"policy-filter" {
		t.Fatalf("the dry run = %d %s, want 403 policy-filter", w.Code, w.Body)
	}
	s.h.set(func(o *testOptions) { o.Policy = mustPolicy(t, testPolicy) })
	w := s.serve(t, signed(t, validBody, testNow))
	if p := decodeProblem(t, w); w.Code != http.StatusConflict || p.Type != apply.ProblemTypePrefix+"delivery-was-dry-run" {
		t.Fatalf("the same delivery without the flag = %d %s, want 409 delivery-was-dry-run", w.Code, w.Body)
	}
	onlyReads(t, s.emu)
}

func TestDryRunServiceNow(t *testing.T) {
	s := newDryRunStack(t, apply.StrategyPatch, nil)
	r := snRequest(t, itsmSample(t, "../source/servicenow/testdata/approved.json"), testNow)
	r.URL.RawQuery = "dryRun=true"
	p := decodePlan(t, s.serve(t, r))
	onlyReads(t, s.emu)
	want := []apply.PlanChange{{Path: "/target/deviceAndAppManagementAssignmentFilterType", From: "include", To: "exclude"}}
	if !reflect.DeepEqual(p.Changes, want) {
		t.Errorf("changes = %+v, want %+v", p.Changes, want)
	}
	// The same delivery without the flag is refused: its id (the
	// approval's sys_id, state and sys_mod_count) was spent on the plan.
	w := s.serve(t, snRequest(t, itsmSample(t, "../source/servicenow/testdata/approved.json"), testNow))
	if w.Code != http.StatusConflict || decodeProblem(t, w).Type != apply.ProblemTypePrefix+"delivery-was-dry-run" || s.emu.Writes() != 0 {
		t.Errorf("real delivery after the plan: %d %s writes %d", w.Code, w.Body, s.emu.Writes())
	}
}

// TestDryRunAskedInAServiceNowBody: the business rule's own body may ask
// for a dry run, at its top level or in data (the one pass, and the
// second look of a body it cannot read: a property in another letter
// case); false applies.
func TestDryRunAskedInAServiceNowBody(t *testing.T) {
	sample := itsmSample(t, "../source/servicenow/testdata/approved.json")
	for _, tt := range []struct {
		name, from, to string
		dry            bool
	}{
		{"top", `{`, `{"dryRun":true,`, true},
		{"in data", `"data": {`, `"data": {"DryRun":1,`, true},
		{"the second look", `{`, `{"é":1,"dry_run":"yes",`, true},
		{"false", `{`, `{"dryRun":false,`, false},
	} {
		s := newDryRunStack(t, apply.StrategyPatch, nil)
		w := s.serve(t, snRequest(t, strings.Replace(sample, tt.from, tt.to, 1), testNow))
		if tt.dry {
			decodePlan(t, w)
			onlyReads(t, s.emu)
		} else if w.Code != http.StatusOK || s.emu.Writes() != 1 {
			t.Errorf("%s: %d %s, %d writes; want the change applied", tt.name, w.Code, w.Body, s.emu.Writes())
		}
	}
}

func TestDryRunWithTheAssignStrategyReadsTheList(t *testing.T) {
	s := newDryRunStack(t, apply.StrategyAssign, nil)
	r := signed(t, validBody, testNow)
	r.URL.RawQuery = "dryRun=true"
	p := decodePlan(t, s.serve(t, r))
	onlyReads(t, s.emu)
	if _, _, lists := writesBy(s.emu.Calls()); lists != 1 {
		t.Errorf("list reads = %d, want 1", lists)
	}
	if got := paths(p); len(got) != 2 {
		t.Errorf("changes = %v", got)
	}
	if id := jsonValue(t, p.Before).(map[string]any)["id"]; id != graphemu.AssignmentESPGroup {
		t.Errorf("before id = %v", id)
	}
}

func TestDryRunOfAnAsyncSenderIsNotQueued(t *testing.T) {
	q := &captureQueue{}
	s := newDryRunStack(t, apply.StrategyPatch, func(o *testOptions) {
		o.Queue, o.AsyncSources = q, []string{generic.Name, "slack"}
	})
	r := signed(t, validBody, testNow)
	r.URL.RawQuery = "dryRun=true"
	decodePlan(t, s.serve(t, r))
	onlyReads(t, s.emu)
	w := s.serve(t, slackRequest(t, slackForm("plan "+graphemu.ConfigESP+" "+graphemu.AssignmentESPGroup+" group "+newGroup), testNow))
	if m := decodeSlack(t, w); !strings.HasPrefix(m.Text, "Dry run, nothing was changed") {
		t.Errorf("slack plan on the async path: %q", m.Text)
	}
	onlyReads(t, s.emu)
	if n := len(q.messages()); n != 0 {
		t.Errorf("%d messages queued by dry runs", n)
	}
	// The real change, as a new delivery, is still queued.
	if w := s.serve(t, signedID(t, "msg_test_2", validBody, testNow)); w.Code != http.StatusAccepted {
		t.Errorf("the real delivery after the plan: %d %s", w.Code, w.Body)
	}
}

func TestSlackPlan(t *testing.T) {
	s := newDryRunStack(t, apply.StrategyPatch, nil)
	cmd := graphemu.ConfigESP + " " + graphemu.AssignmentESPGroup + " group " + newGroup + " filter " + graphemu.FilterCorporate + " exclude"
	m := decodeSlack(t, s.serve(t, slackRequest(t, slackForm("PLAN "+cmd), testNow)))
	onlyReads(t, s.emu)
	for _, want := range []string{"Dry run, nothing was changed", "targets group `" + graphemu.GroupCorporate + "`, no filter",
		"would make it target group `" + newGroup + "`, filter `" + graphemu.FilterCorporate + "` (exclude)", "`/target/groupId`"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("reply %q lacks %q", m.Text, want)
		}
	}
	if !strings.Contains(s.logs.String(), `"command":"plan"`) || !strings.Contains(s.logs.String(), `"outcome":"planned"`) {
		t.Errorf("log:\n%s", s.logs)
	}
	// assign with ?dryRun=true on the URL plans too.
	r := slackRequest(t, slackForm("assign "+cmd), testNow)
	r.URL.RawQuery = "dryRun=true"
	if m := decodeSlack(t, s.serve(t, r)); !strings.HasPrefix(m.Text, "Dry run") {
		t.Errorf("assign with dryRun=true: %q", m.Text)
	}
	onlyReads(t, s.emu)
	// The policy refuses a plan as it refuses the assign.
	for _, verb := range []string{"plan", "assign"} {
		m := decodeSlack(t, s.serve(t, slackRequest(t, slackForm(verb+" "+graphemu.ConfigESP+" "+graphemu.AssignmentESPGroup+" alldevices"), testNow)))
		if !strings.HasPrefix(m.Text, "Refused") || !strings.Contains(m.Text, "allDevicesAssignmentTarget") {
			t.Errorf("%s of a wide target: %q", verb, m.Text)
		}
	}
	onlyReads(t, s.emu)
	// Unknown assignment: Graph's answer in words.
	m = decodeSlack(t, s.serve(t, slackRequest(t, slackForm("plan "+graphemu.ConfigESP+" "+espPrefix+newGroup+" group "+newGroup), testNow)))
	if !strings.HasPrefix(m.Text, "The dry run failed, nothing was changed") {
		t.Errorf("plan of an unknown assignment: %q", m.Text)
	}
}
