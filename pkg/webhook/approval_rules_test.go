package webhook

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/apply"
	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/chat"
	"github.com/enrollhook/enrollhook/pkg/chatrequest"
	"github.com/enrollhook/enrollhook/pkg/graph"
	"github.com/enrollhook/enrollhook/pkg/graphemu"
	"github.com/enrollhook/enrollhook/pkg/idempotency"
	"github.com/enrollhook/enrollhook/pkg/policy"
	"github.com/enrollhook/enrollhook/pkg/queue"
	changerecord "github.com/enrollhook/enrollhook/pkg/record"
	"github.com/enrollhook/enrollhook/pkg/source/generic"
	"github.com/enrollhook/enrollhook/pkg/source/slack"
)

// rulesStack is Slack and the generic sender against the emulator, whose
// request store, change record and de-duplication store outlive rebuild:
// a new cold start with another policy, the requests still pending.
type rulesStack struct {
	*approvalStack
	reqs  *chatrequest.Memory
	store *idempotency.Memory
	clock *atomic.Int64 // the pipeline's clock runs this far from testNow
	q     *captureQueue
	wrap  func(apply.Graph) apply.Graph
}

func newRulesStack(t *testing.T, slackRule string, wrap func(apply.Graph) apply.Graph) *rulesStack {
	t.Helper()
	s := &rulesStack{approvalStack: &approvalStack{offset: &atomic.Int64{}}, clock: &atomic.Int64{},
		reqs: chatrequest.NewMemory(nil), store: idempotency.NewMemory(nil, 0), q: &captureQueue{}, wrap: wrap}
	s.recs = changerecord.NewMemory(nil)
	s.hook = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(s.hook.Close)
	s.rebuild(t, slackRule)
	return s
}

func (s *rulesStack) rebuild(t *testing.T, slackRule string) {
	t.Helper()
	gc, e, logs, log := emulatorClient(t, "", 2) // a fresh Intune: count its writes
	sl, err := slack.New(chatSlackSecret, &slack.Options{
		Allow:        chat.Allowlist{Tenant: "T0001", Users: []string{requester, approver, bystander, espApprover}},
		AnswerWithin: 5 * time.Second, AllowLoopbackResponseURL: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	pol, err := policy.Parse([]byte(`{"version": 1, "chat": {"slack": `+slackRule+`}}`), "test", false)
	if err != nil {
		t.Fatal(err)
	}
	gen, _ := generic.New(testSecret, 5*time.Minute)
	var g apply.Graph = gc
	if s.wrap != nil {
		g = s.wrap(gc)
	}
	h := newTestHandler(g, []Source{sl, gen}, &testOptions{Now: func() time.Time { return testNow }, Logger: log, Timeout: 3 * time.Second,
		Clock: func() time.Time { return testNow.Add(time.Duration(s.clock.Load())) },
		Store: s.store, Policy: pol, Records: s.recs, Requests: s.reqs, Queue: s.q})
	s.stack = &stack{h: h, emu: e, logs: logs}
	t.Cleanup(func() { _ = h.Wait(context.Background()) })
}

// platformChange is a generic change of the Platform configuration's
// assignment under ticket.
func platformChange(ticket string) string {
	return `{"ticket":{"id":"` + ticket + `","system":"servicenow","state":"approved","requestedBy":"alice@contoso.com","approvedBy":"bob@contoso.com"},` +
		`"configurationId":"` + graphemu.ConfigPlatform + `","assignmentId":"` + graphemu.AssignmentPlatformGroup + `",` +
		`"assignment":{"target":{"@odata.type":"microsoft.graph.exclusionGroupAssignmentTarget","groupId":"` + graphemu.GroupPlatform + `"}}}`
}

// TestRevertApprovalCoversItsPlanOnly: a chat revert request shows its plan,
// and its approval covers that plan only. A change the ticket gained after
// the request (here of a configuration with approvers of its own) makes
// the approval a 409-like refusal that names it, nothing is written, and
// the request is open again; asked anew, its plan names both, and its
// approver must be one of each configuration's.
func TestRevertApprovalCoversItsPlanOnly(t *testing.T) {
	s := newRulesStack(t, `{"commands": {"assign": ["*"], "show": ["*"]}, "approvers": ["`+approver+`"],
  "configurationApprovers": {"`+strings.ToLower(graphemu.ConfigPlatform)+`": ["`+espApprover+`"]}}`, nil)
	if w := s.serve(t, signedID(t, "msg_plan_esp", validBody, testNow)); w.Code != http.StatusOK {
		t.Fatalf("ESP change: %d %s", w.Code, w.Body)
	}
	outcome, text := s.slack(t, requester, "revert CHG0030042")
	m := requestIDRe.FindStringSubmatch(text)
	if outcome != string(chat.StatusRequested) || m == nil {
		t.Fatalf("revert request: %s %q", outcome, text)
	}
	if !strings.Contains(text, "puts back `generic:msg_plan_esp`") || !strings.Contains(text, graphemu.ConfigESP) ||
		!strings.Contains(text, "covers these changes only") {
		t.Errorf("the request does not show its plan: %q", text)
	}
	if w := s.serve(t, signedID(t, "msg_plan_platform", platformChange("CHG0030042"), testNow)); w.Code != http.StatusOK {
		t.Fatalf("Platform change: %d %s", w.Code, w.Body)
	}
	writes := s.emu.Writes()
	outcome, text = s.slack(t, approver, "approve "+m[1])
	if outcome == string(chat.StatusApplied) || s.emu.Writes() != writes {
		t.Fatalf("approval of a revert whose ticket gained a change: %s %q, %d writes, want refused and none", outcome, text, s.emu.Writes()-writes)
	}
	for _, want := range []string{"generic:msg_plan_platform", graphemu.ConfigPlatform, "not in the plan that was approved", "nothing was changed", "open again"} {
		if !strings.Contains(text, want) {
			t.Errorf("the refusal does not say %q: %q", want, text)
		}
	}
	if r, err := s.reqs.Get(t.Context(), m[1]); err != nil || r.State != chatrequest.StatePending {
		t.Errorf("the request after the refusal: %+v %v, want pending", r, err)
	}
	// Asked again, the plan has both, and the general approver is not
	// an approver of Platform.
	outcome, text = s.slack(t, requester, "revert CHG0030042")
	m2 := requestIDRe.FindStringSubmatch(text)
	if outcome != string(chat.StatusRequested) || m2 == nil || !strings.Contains(text, "generic:msg_plan_platform") {
		t.Fatalf("the revert asked again: %s %q", outcome, text)
	}
	if outcome, text = s.slack(t, approver, "approve "+m2[1]); outcome == string(chat.StatusApplied) ||
		!strings.Contains(text, "approvers of configuration "+graphemu.ConfigPlatform) || s.emu.Writes() != writes {
		t.Fatalf("the general approver on a revert of Platform: %s %q", outcome, text)
	}
}

// TestRefusedApprovalReopensTheRequest: an approval the pipeline refuses
// (outside the chat hours) applies nothing and leaves the request pending,
// not "approved": approved again inside the hours, it is applied.
func TestRefusedApprovalReopensTheRequest(t *testing.T) {
	// testNow is Saturday 08:00 UTC.
	s := newRulesStack(t, `{"commands": {"assign": ["*"], "show": ["*"]}, "approvers": ["`+approver+`"],
  "hours": {"zone": "UTC", "days": ["sat"], "from": "07:00", "to": "08:30"}}`, nil)
	id := s.ask(t, requester)
	s.clock.Store(int64(40 * time.Minute))
	outcome, text := s.slack(t, approver, "approve "+id)
	if outcome != string(chat.StatusRefused) || !strings.Contains(text, "hours") || !strings.Contains(text, "open again") || s.emu.Writes() != 0 {
		t.Fatalf("approval after hours: %s %q, %d writes", outcome, text, s.emu.Writes())
	}
	if r, _ := s.reqs.Get(t.Context(), id); r.State != chatrequest.StatePending {
		t.Fatalf("the request after a refused approval is %s, want pending", r.State)
	}
	s.clock.Store(int64(10 * time.Minute))
	if outcome, text = s.slack(t, approver, "approve "+id); outcome != string(chat.StatusApplied) || s.emu.Writes() != 1 {
		t.Fatalf("approval inside the hours: %s %q, %d writes", outcome, text, s.emu.Writes())
	}
}

// TestApprovalChecksTheRequesterAgain: a request whose requester the
// policy no longer lets assign (narrowed by a new cold start) is refused
// when approved, saying it is the requester's right.
func TestApprovalChecksTheRequesterAgain(t *testing.T) {
	s := newRulesStack(t, `{"commands": {"assign": ["*"], "show": ["*"]}, "approvers": ["`+approver+`"]}`, nil)
	id := s.ask(t, requester)
	s.rebuild(t, `{"commands": {"assign": ["`+approver+`"], "show": ["*"]}, "approvers": ["`+approver+`"]}`)
	outcome, text := s.slack(t, approver, "approve "+id)
	if outcome != string(chat.StatusRefused) || s.emu.Writes() != 0 || !strings.Contains(text, "requester may not run it any more") {
		t.Fatalf("approval of a request whose requester may no longer assign: %s %q, %d writes", outcome, text, s.emu.Writes())
	}
}

// TestWorkerRefusesAOnePersonChangeOnceTwoAreWanted: a chat assign queued
// as its own approval is not applied by the worker once the policy wants
// a second person.
func TestWorkerRefusesAOnePersonChangeOnceTwoAreWanted(t *testing.T) {
	s := newRulesStack(t, `{"commands": {"assign": ["*"], "show": ["*"]}}`, nil)
	s.h.async = map[string]bool{slack.Name: true}
	outcome, text := s.slack(t, requester, "assign "+graphemu.ConfigESP+" "+graphemu.AssignmentESPGroup+" group "+graphemu.GroupPlatform)
	if outcome != string(chat.StatusQueued) || len(s.q.messages()) != 1 {
		t.Fatalf("queued: %s %q", outcome, text)
	}
	s.rebuild(t, `{"commands": {"assign": ["*"], "show": ["*"]}, "approvers": ["`+approver+`"]}`)
	err := s.h.Process(context.Background(), queue.Delivery{ID: "m1", Body: s.q.messages()[0], ReceiveCount: 1})
	if s.emu.Writes() != 0 {
		t.Fatalf("the worker applied a one-person chat change under a policy that wants two (err %v)", err)
	}
	if !strings.Contains(s.logs.String(), "wants another person to approve assign") {
		t.Errorf("the worker's log does not say why: %s", s.logs.String())
	}
	// Without the second-person rule it is applied (the control).
	s2 := newRulesStack(t, `{"commands": {"assign": ["*"], "show": ["*"]}}`, nil)
	s2.h.async = map[string]bool{slack.Name: true}
	s2.slack(t, requester, "assign "+graphemu.ConfigESP+" "+graphemu.AssignmentESPGroup+" group "+graphemu.GroupPlatform)
	if err := s2.h.Process(context.Background(), queue.Delivery{ID: "m1", Body: s2.q.messages()[0], ReceiveCount: 1}); err != nil || s2.emu.Writes() != 1 {
		t.Fatalf("control: %v, %d writes", err, s2.emu.Writes())
	}
}

// lostAnswer applies the PATCH and then loses its answer to the deadline,
// as a Lambda freeze would.
type lostAnswer struct {
	apply.Graph
	on *atomic.Bool
}

func (g lostAnswer) PatchAssignment(ctx context.Context, cfg, asg string, body any) (*graph.Result, error) {
	res, err := g.Graph.PatchAssignment(ctx, cfg, asg, body)
	if err == nil && g.on.Load() {
		return nil, &change.Error{Code: change.CodeTimeout, RetryAfter: 5 * time.Second, Message: "Graph did not answer in time"}
	}
	return res, err
}

// TestApprovalOutOfTimeSaysTheOutcomeIsUnknown: an approval whose PATCH
// went out but whose answer was lost does not say "not applied", and
// approving it again writes nothing a second time.
func TestApprovalOutOfTimeSaysTheOutcomeIsUnknown(t *testing.T) {
	on := &atomic.Bool{}
	s := newRulesStack(t, `{"commands": {"assign": ["*"], "show": ["*"]}, "approvers": ["`+approver+`"]}`,
		func(g apply.Graph) apply.Graph { return lostAnswer{Graph: g, on: on} })
	id := s.ask(t, requester)
	on.Store(true)
	outcome, text := s.slack(t, approver, "approve "+id)
	on.Store(false)
	if s.emu.Writes() != 1 || strings.Contains(text, "not applied") || !strings.Contains(text, "outcome is unknown") {
		t.Fatalf("approval whose answer was lost: %s %q, %d writes", outcome, text, s.emu.Writes())
	}
	if _, text = s.slack(t, approver, "approve "+id); s.emu.Writes() != 1 {
		t.Fatalf("approved again: %q, %d writes, want the one", text, s.emu.Writes())
	}
}

// TestRevertRequestsWithoutAPlanOrWithItGone: a revert request stored
// before approvals were bound to plans is refused, saying to ask again,
// and stays pending (its requester can reject it); a request whose planned
// change was put back meanwhile writes nothing.
func TestRevertRequestsWithoutAPlanOrWithItGone(t *testing.T) {
	s := newRulesStack(t, `{"commands": {"assign": ["*"], "show": ["*"]}, "approvers": ["`+approver+`"]}`, nil)
	if w := s.serve(t, signedID(t, "msg_gone", validBody, testNow)); w.Code != http.StatusOK {
		t.Fatalf("change: %d %s", w.Code, w.Body)
	}
	_, text := s.slack(t, requester, "revert CHG0030042")
	m := requestIDRe.FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("revert request: %q", text)
	}
	// The same request as an earlier version kept it: no plan.
	r, err := s.reqs.Get(t.Context(), m[1])
	if err != nil {
		t.Fatal(err)
	}
	var kept map[string]json.RawMessage
	if json.Unmarshal(r.Change, &kept) != nil || kept["plan"] == nil {
		t.Fatalf("the request keeps no plan: %s", r.Change)
	}
	delete(kept, "plan")
	old := *r
	old.Change, _ = json.Marshal(kept)
	old.ID = chat.NewRequestID([]byte("oldreqst"))
	if err := s.reqs.Create(t.Context(), &old); err != nil {
		t.Fatal(err)
	}
	writes := s.emu.Writes()
	outcome, text := s.slack(t, approver, "approve "+old.ID)
	if outcome == string(chat.StatusApplied) || s.emu.Writes() != writes || !strings.Contains(text, "ask for the revert again") {
		t.Fatalf("approval of a request without a plan: %s %q", outcome, text)
	}
	if got, _ := s.reqs.Get(t.Context(), old.ID); got.State != chatrequest.StatePending {
		t.Errorf("the request without a plan is %s, want pending", got.State)
	}
	// The planned change put back by the ticket's own revert meanwhile.
	if w := s.serve(t, signedID(t, "msg_gone_revert", revertBody("carol@contoso.com"), testNow)); w.Code != http.StatusOK {
		t.Fatalf("the ticket's revert: %d %s", w.Code, w.Body)
	}
	writes = s.emu.Writes()
	outcome, text = s.slack(t, approver, "approve "+m[1])
	if outcome == string(chat.StatusApplied) || s.emu.Writes() != writes || !strings.Contains(text, "reverted already") {
		t.Fatalf("approval of a plan put back meanwhile: %s %q, %d writes", outcome, text, s.emu.Writes()-writes)
	}
}
