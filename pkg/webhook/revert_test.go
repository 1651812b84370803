package webhook

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/apply"
	"github.com/enrollhook/enrollhook/pkg/graphemu"
	"github.com/enrollhook/enrollhook/pkg/idempotency"
	"github.com/enrollhook/enrollhook/pkg/policy"
	"github.com/enrollhook/enrollhook/pkg/queue"
	changerecord "github.com/enrollhook/enrollhook/pkg/record"
)

// revertStack is the handler against the shared emulator with a change
// record, de-duplication and the built-in policy.
func revertStack(t *testing.T) (*stack, changerecord.Store) {
	t.Helper()
	recs := changerecord.NewMemory(nil)
	s := newStack(t, 2, func(o *testOptions) {
		o.Records, o.Store, o.Policy = recs, idempotency.NewMemory(nil, 0), policy.Default()
	})
	return s, recs
}

// revertBody is a revert of validBody's ticket, approved by approver.
func revertBody(approver string) string {
	return `{"action":"revert","ticket":{"id":"CHG0030042","system":"servicenow","state":"approved","requestedBy":"alice@contoso.com","approvedBy":"` + approver + `"}}`
}

// withTicket is validBody as another ticket, targeting group.
func withTicket(ticket, group string) string {
	b := strings.Replace(validBody, `"id":"CHG0030042"`, `"id":"`+ticket+`"`, 1)
	return strings.Replace(b, `"groupId":"`+graphemu.GroupCorporate+`"`, `"groupId":"`+group+`"`, 1)
}

// targetOf is the emulator's target of the ESP group assignment.
func targetOf(t *testing.T, e *graphemu.Server) map[string]any {
	t.Helper()
	raw, ok := e.Assignment(graphemu.ConfigESP, graphemu.AssignmentESPGroup)
	if !ok {
		t.Fatal("the emulator lost the assignment")
	}
	var a struct {
		Target map[string]any `json:"target"`
	}
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatal(err)
	}
	return a.Target
}

// TestRevertPutsBackTheRecordedBefore: an applied change is recorded with
// the assignment before and after; a revert of its ticket puts the before
// back (one write), is recorded itself, and a second revert finds nothing
// standing.
func TestRevertPutsBackTheRecordedBefore(t *testing.T) {
	s, recs := revertStack(t)
	seed := targetOf(t, s.emu)
	if w := s.serve(t, signedID(t, "msg_apply", validBody, testNow)); w.Code != http.StatusOK {
		t.Fatalf("apply: %d %s", w.Code, w.Body)
	}
	applied := targetOf(t, s.emu)
	if applied["deviceAndAppManagementAssignmentFilterType"] != "include" {
		t.Fatalf("the apply did not change the emulator: %v", applied)
	}
	got, err := recs.ByTicket(t.Context(), "generic", "CHG0030042")
	if err != nil || len(got) != 1 || got[0].Action != changerecord.ActionApply || !strings.Contains(string(got[0].Before), `"filterType":"none"`) &&
		!strings.Contains(string(got[0].Before), `"deviceAndAppManagementAssignmentFilterType":"none"`) || len(got[0].GraphRequestIDs) < 2 {
		t.Fatalf("the change record = %+v, %v; want the apply with its before (filter none) and Graph's request ids", got, err)
	}
	writes := s.emu.Writes()
	w := s.serve(t, signedID(t, "msg_revert", revertBody("carol@contoso.com"), testNow))
	if w.Code != http.StatusOK {
		t.Fatalf("revert: %d %s", w.Code, w.Body)
	}
	var out apply.Reverted
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || len(out.Changes) != 1 || out.Changes[0].Reverts != "generic:msg_apply" {
		t.Fatalf("revert answer %s: %v", w.Body, err)
	}
	if now := targetOf(t, s.emu); now["deviceAndAppManagementAssignmentFilterType"] != seed["deviceAndAppManagementAssignmentFilterType"] {
		t.Errorf("after the revert the target is %v, want the seed's %v", now, seed)
	}
	if n := s.emu.Writes() - writes; n != 1 {
		t.Errorf("the revert made %d Graph writes, want 1", n)
	}
	if w.Header().Get(HeaderGraphRequestID) == "" {
		t.Errorf("the revert's answer has no %s", HeaderGraphRequestID)
	}
	if logs := s.logs.String(); !strings.Contains(logs, `"action":"revert","ticketId":"CHG0030042"`) ||
		!strings.Contains(logs, `"approver":"carol@contoso.com","configurationId":"`+graphemu.ConfigESP+`","assignmentId":"`+graphemu.AssignmentESPGroup+`"`) {
		t.Errorf("no audit line of the revert naming what it put back:\n%s", logs)
	}
	got, _ = recs.ByTicket(t.Context(), "generic", "CHG0030042")
	if len(got) != 2 || got[1].Action != changerecord.ActionRevert || got[1].Reverts != "generic:msg_apply" || got[1].Ticket.ApprovedBy != "carol@contoso.com" {
		t.Errorf("after the revert the record = %+v", got)
	}
	w = s.serve(t, signedID(t, "msg_revert_2", revertBody("carol@contoso.com"), testNow))
	if p := decodeProblem(t, w); w.Code != http.StatusNotFound || p.Type != apply.ProblemTypePrefix+"nothing-to-revert" || !strings.Contains(p.Detail, "reverted already") {
		t.Errorf("a second revert: %d %+v", w.Code, p)
	}
	// The same revert delivery again is its first answer.
	if w := s.serve(t, signedID(t, "msg_revert", revertBody("carol@contoso.com"), testNow)); w.Code != http.StatusOK || w.Header().Get("Idempotent-Replay") != "true" {
		t.Errorf("the revert's replay: %d %v", w.Code, w.Header())
	}
}

// TestRevertRefusesDrift: when the assignment changed since the ticket's
// change (another ticket applied over it), the revert writes nothing and
// says what was recorded and what Graph holds now.
func TestRevertRefusesDrift(t *testing.T) {
	s, _ := revertStack(t)
	if w := s.serve(t, signedID(t, "msg_a", validBody, testNow)); w.Code != http.StatusOK {
		t.Fatalf("apply: %d %s", w.Code, w.Body)
	}
	other := withTicket("CHG0030099", graphemu.GroupPlatform)
	if w := s.serve(t, signedID(t, "msg_other", other, testNow)); w.Code != http.StatusOK {
		t.Fatalf("the other ticket: %d %s", w.Code, w.Body)
	}
	writes := s.emu.Writes()
	w := s.serve(t, signedID(t, "msg_r", revertBody("carol@contoso.com"), testNow))
	p := decodeProblem(t, w)
	if w.Code != http.StatusConflict || p.Type != apply.ProblemTypePrefix+"drifted" || !strings.Contains(p.Detail, graphemu.GroupPlatform) || !strings.Contains(p.Detail, graphemu.GroupCorporate) {
		t.Errorf("revert after drift: %d %+v", w.Code, p)
	}
	if s.emu.Writes() != writes || targetOf(t, s.emu)["groupId"] != graphemu.GroupPlatform {
		t.Errorf("the drifted revert wrote: %d writes, target %v", s.emu.Writes()-writes, targetOf(t, s.emu))
	}
}

// TestRevertDryRunAndNothing: a dry run of a revert plans it without a
// write; a ticket that applied nothing is 404 nothing-to-revert; the
// revert's approver must not be its requester.
func TestRevertDryRunAndNothing(t *testing.T) {
	s, _ := revertStack(t)
	w := s.serve(t, signedID(t, "msg_none", revertBody("carol@contoso.com"), testNow))
	if p := decodeProblem(t, w); w.Code != http.StatusNotFound || p.Type != apply.ProblemTypePrefix+"nothing-to-revert" {
		t.Errorf("a revert of a ticket that applied nothing: %d %+v", w.Code, p)
	}
	if w := s.serve(t, signedID(t, "msg_a", validBody, testNow)); w.Code != http.StatusOK {
		t.Fatalf("apply: %d %s", w.Code, w.Body)
	}
	writes := s.emu.Writes()
	r := signedID(t, "msg_dry", revertBody("carol@contoso.com"), testNow)
	r.URL.RawQuery = "dryRun=true"
	w = s.serve(t, r)
	var out apply.Reverted
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &out) != nil || !out.DryRun || len(out.Changes) != 1 || len(out.Changes[0].Before) == 0 {
		t.Errorf("dry run of the revert: %d %s", w.Code, w.Body)
	}
	if s.emu.Writes() != writes {
		t.Errorf("the dry run wrote")
	}
	w = s.serve(t, signedID(t, "msg_self", revertBody("alice@contoso.com"), testNow))
	if p := decodeProblem(t, w); w.Code != http.StatusForbidden || p.Type != apply.ProblemTypePrefix+"policy-separation-of-duties" {
		t.Errorf("a revert approved by its requester: %d %+v", w.Code, p)
	}
}

// TestConcurrentRevertsWriteOnce: 20 reverts of one ticket at once (20
// deliveries) make one Graph write; the others find nothing left.
func TestConcurrentRevertsWriteOnce(t *testing.T) {
	s, _ := revertStack(t)
	if w := s.serve(t, signedID(t, "msg_a", validBody, testNow)); w.Code != http.StatusOK {
		t.Fatalf("apply: %d %s", w.Code, w.Body)
	}
	writes := s.emu.Writes()
	var wg sync.WaitGroup
	codes := make([]int, 20)
	for i := range codes {
		wg.Go(func() {
			w := httptest.NewRecorder()
			s.h.ServeHTTP(w, signedID(t, "msg_rev_"+string(rune('a'+i)), revertBody("carol@contoso.com"), testNow))
			codes[i] = w.Code
		})
	}
	wg.Wait()
	ok, none := 0, 0
	for _, c := range codes {
		switch c {
		case http.StatusOK:
			ok++
		case http.StatusNotFound:
			none++
		}
	}
	if n := s.emu.Writes() - writes; n != 1 || ok != 1 || none != 19 {
		t.Errorf("20 concurrent reverts: %d writes, %d answered 200 and %d 404 (codes %v); want 1, 1 and 19", n, ok, none, codes)
	}
}

// TestChatRevertAndHistory: a Slack user lists an assignment's recorded
// changes, reverts a ticket's change by the ticket's id, then reverts that
// revert by its change id (the change is applied again), and a revert of
// what is already put back says so. Every step is a signed Slack command
// against the emulator.
func TestChatRevertAndHistory(t *testing.T) {
	recs := changerecord.NewMemory(nil)
	s := newDryRunStack(t, apply.StrategyPatch, func(o *testOptions) { o.Records = recs })
	seed := targetOf(t, s.emu)
	if w := s.serve(t, signedID(t, "msg_chat_apply", validBody, testNow)); w.Code != http.StatusOK {
		t.Fatalf("apply: %d %s", w.Code, w.Body)
	}
	slackSays := func(text string) (string, string) {
		t.Helper()
		w := s.serve(t, slackRequest(t, slackForm(text), testNow))
		return w.Header().Get(HeaderOutcome), decodeSlack(t, w).Text
	}
	outcome, text := slackSays("history " + graphemu.ConfigESP + " " + graphemu.AssignmentESPGroup)
	if outcome != "history" || !strings.Contains(text, "`generic:msg_chat_apply`") || !strings.Contains(text, "CHG0030042") || !strings.Contains(text, "bob@contoso.com") {
		t.Fatalf("history: %s %q", outcome, text)
	}
	outcome, text = slackSays("revert CHG0030042")
	if outcome != "applied" || !strings.Contains(text, "Reverted `generic:msg_chat_apply`") {
		t.Fatalf("revert by ticket: %s %q", outcome, text)
	}
	if now := targetOf(t, s.emu); now["deviceAndAppManagementAssignmentFilterType"] != seed["deviceAndAppManagementAssignmentFilterType"] {
		t.Fatalf("after the chat revert the target is %v, want the seed's %v", now, seed)
	}
	got, _ := recs.ByTicket(t.Context(), "generic", "CHG0030042")
	if len(got) != 2 || got[1].Ticket.ApprovedBy == "" || !strings.HasPrefix(got[1].ID, "slack:") {
		t.Fatalf("the record after the chat revert = %+v", got)
	}
	revertID := got[1].ID
	// The revert of the revert applies the change again.
	outcome, text = slackSays("revert " + revertID)
	if outcome != "applied" || targetOf(t, s.emu)["deviceAndAppManagementAssignmentFilterType"] != "include" {
		t.Fatalf("revert of the revert: %s %q, target %v", outcome, text, targetOf(t, s.emu))
	}
	outcome, text = slackSays("revert msg_chat_apply") // the delivery id alone
	if outcome != "failed" || !strings.Contains(text, "reverted already") {
		t.Errorf("a revert by delivery id of a change already put back: %s %q", outcome, text)
	}
	outcome, text = slackSays("revert generic:msg_chat_apply")
	if outcome != "failed" || !strings.Contains(text, "reverted already") {
		t.Errorf("a revert of a change already put back: %s %q", outcome, text)
	}
	outcome, text = slackSays("history " + graphemu.ConfigESP + " " + graphemu.AssignmentESPGroup)
	if strings.Count(text, "\n- ") < 2 && strings.Count(text, "- `") < 3 {
		t.Errorf("history after two reverts: %s %q", outcome, text)
	}
}

// TestQueuedChangeIsRecordedUnderItsDelivery: a change the worker applies
// (the async path) is recorded under the delivery's id, the same id the
// request path would give it, so history and revert name it alike.
func TestQueuedChangeIsRecordedUnderItsDelivery(t *testing.T) {
	recs := changerecord.NewMemory(nil)
	q := queue.NewLocal(nil)
	s := newStack(t, 2, func(o *testOptions) {
		o.Records, o.Store, o.Policy, o.Queue, o.AsyncSources = recs, idempotency.NewMemory(nil, 0), policy.Default(), q, []string{"generic"}
	})
	q.Start(s.h.Process)
	defer q.Close()
	if w := s.serve(t, signedID(t, "msg_queued", validBody, testNow)); w.Code != http.StatusAccepted {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := q.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	r, err := recs.Get(t.Context(), "generic:msg_queued")
	if err != nil || r.Action != changerecord.ActionApply || len(r.Before) == 0 || string(r.Before) == "null" {
		t.Errorf("the worker's record = %+v, %v; want it under generic:msg_queued with its before", r, err)
	}
}
