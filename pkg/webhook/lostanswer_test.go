package webhook

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/apply"
	"github.com/enrollhook/enrollhook/pkg/graphemu"
	"github.com/enrollhook/enrollhook/pkg/idempotency"
	"github.com/enrollhook/enrollhook/pkg/policy"
	"github.com/enrollhook/enrollhook/pkg/queue"
	changerecord "github.com/enrollhook/enrollhook/pkg/record"
	"github.com/enrollhook/enrollhook/pkg/source/generic"
)

// A write whose answer is lost (the emulator applies it, then answers 504)
// leaves its delivery to the sender's retry, which must find out what the
// first attempt did before it writes again: answer it as applied, apply
// it, or refuse it when a newer change stands.

// loseTheAnswer sends validBody (delivery msg_test_1) while the emulator
// applies every write and loses its answer; it returns the emulator's
// write count after it.
func loseTheAnswer(t *testing.T, s *stack) int {
	t.Helper()
	s.emu.LoseWrites(100, http.StatusGatewayTimeout)
	w := s.send(t, validBody)
	s.emu.LoseWrites(0, http.StatusGatewayTimeout)
	if p := decodeProblem(t, w); w.Code != http.StatusServiceUnavailable || p.Type != apply.ProblemTypePrefix+"graph-unavailable" {
		t.Fatalf("the write with its answer lost = %d %s, want 503 graph-unavailable", w.Code, w.Body)
	} else if !strings.Contains(p.Detail, "may have been applied") || !strings.Contains(p.Detail, "send the delivery again (the same id)") {
		t.Errorf("detail %q, want it to say the change may have been applied and how to settle it", p.Detail)
	}
	if targetOf(t, s.emu)["deviceAndAppManagementAssignmentFilterId"] != validFilter {
		t.Fatalf("the emulator did not apply the write whose answer it lost: %v", targetOf(t, s.emu))
	}
	return s.emu.Writes()
}

// validFilter is the assignment filter validBody sets (the emulator's
// assignment has none before).
const validFilter = "a1b2c3d4-0000-0000-0000-00000000f117"

// storedProblem decodes a refusal replayed from the store: its instance is
// the first attempt's request id.
func storedProblem(t *testing.T, w *httptest.ResponseRecorder) apply.Problem {
	t.Helper()
	var p apply.Problem
	if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" || json.Unmarshal(w.Body.Bytes(), &p) != nil || p.Status != w.Code {
		t.Fatalf("replayed refusal = %d %q %s, want problem+json", w.Code, ct, w.Body)
	}
	return p
}

// throttleWrites makes every write answer 429 (reads are served): the
// write is not applied, but from here its outcome is unknown.
func throttleWrites(t *testing.T, s *stack) {
	t.Helper()
	s.emu.Throttle(100, "0")
	w := s.send(t, validBody)
	s.emu.Throttle(0, "")
	if p := decodeProblem(t, w); w.Code != http.StatusServiceUnavailable || p.Type != apply.ProblemTypePrefix+"graph-unavailable" {
		t.Fatalf("the throttled write = %d %s, want 503 graph-unavailable", w.Code, w.Body)
	}
	if s.emu.Writes() != 0 {
		t.Fatalf("the throttled write was applied: %v", targetOf(t, s.emu))
	}
}

// TestLostAnswerIsNotWrittenAgain: the retry finds the change applied and
// answers it so, without a second write; the change record has it, and
// later retries are replays.
func TestLostAnswerIsNotWrittenAgain(t *testing.T) {
	s, recs := revertStack(t)
	writes := loseTheAnswer(t, s)
	w := s.send(t, validBody)
	if w.Code != http.StatusOK || w.Header().Get(HeaderReplay) != "" || !strings.Contains(w.Body.String(), graphemu.GroupCorporate) {
		t.Fatalf("the retry = %d %s, want 200 with the assignment", w.Code, w.Body)
	}
	if s.emu.Writes() != writes {
		t.Errorf("the retry wrote again: %d writes, want %d", s.emu.Writes(), writes)
	}
	if !strings.Contains(s.logs.String(), `"outcome":"applied"`) {
		t.Errorf("no applied audit line:\n%s", s.logs)
	}
	got, err := recs.ByTicket(context.Background(), "generic", "CHG0030042")
	if err != nil || len(got) != 1 || got[0].ID != "generic:msg_test_1" || strings.Contains(string(got[0].Before), validFilter) ||
		!strings.Contains(string(got[0].After), validFilter) {
		t.Fatalf("change record = %+v, %v; want the change, with the assignment before the first attempt", got, err)
	}
	if again := s.send(t, validBody); again.Code != http.StatusOK || again.Header().Get(HeaderReplay) != "true" {
		t.Errorf("the next retry = %d replay=%q, want the stored answer", again.Code, again.Header().Get(HeaderReplay))
	}
}

// TestLostAnswerDoesNotOverwriteANewerChange: a newer change applied
// between the lost answer and the retry stands; the retry is refused 409
// drifted, saying why, and so is every retry after it.
func TestLostAnswerDoesNotOverwriteANewerChange(t *testing.T) {
	s, _ := revertStack(t)
	loseTheAnswer(t, s)
	if w := s.serve(t, signedID(t, "msg_newer", withTicket("CHG0030077", graphemu.GroupExcluded), testNow)); w.Code != http.StatusOK {
		t.Fatalf("the newer change = %d %s", w.Code, w.Body)
	}
	writes := s.emu.Writes()
	var first string
	for i, want := range []string{"", "true"} {
		w := s.send(t, validBody)
		p := storedProblem(t, w)
		if w.Code != http.StatusConflict || p.Type != apply.ProblemTypePrefix+"drifted" || w.Header().Get(HeaderReplay) != want ||
			!strings.Contains(p.Detail, "outcome is unknown") || !strings.Contains(p.Detail, graphemu.GroupExcluded) {
			t.Fatalf("retry %d = %d replay=%q %s, want 409 drifted naming the newer target", i, w.Code, w.Header().Get(HeaderReplay), w.Body)
		}
		// The final answer, kept: never told that sending it again
		// settles it, and its replay says the same.
		if strings.Contains(p.Detail, "send the delivery again") || i == 1 && p.Detail != first {
			t.Errorf("retry %d detail %q (first %q)", i, p.Detail, first)
		}
		first = p.Detail
	}
	if s.emu.Writes() != writes || targetOf(t, s.emu)["groupId"] != graphemu.GroupExcluded {
		t.Errorf("the newer change was overwritten: %d writes (want %d), target %v", s.emu.Writes(), writes, targetOf(t, s.emu))
	}
}

// TestFailedWriteIsAppliedByTheRetry: a write Graph did not take (429,
// nothing applied) may have been applied for all we know; the retry finds
// the assignment as it was and applies the change.
func TestFailedWriteIsAppliedByTheRetry(t *testing.T) {
	s, recs := revertStack(t)
	throttleWrites(t, s)
	if w := s.send(t, validBody); w.Code != http.StatusOK || w.Header().Get(HeaderReplay) != "" {
		t.Fatalf("the retry = %d %s, want 200", w.Code, w.Body)
	}
	if s.emu.Writes() != 1 || targetOf(t, s.emu)["deviceAndAppManagementAssignmentFilterId"] != validFilter {
		t.Errorf("after the retry: %d writes, target %v; want the change applied once", s.emu.Writes(), targetOf(t, s.emu))
	}
	if got, err := recs.ByTicket(context.Background(), "generic", "CHG0030042"); err != nil || len(got) != 1 {
		t.Errorf("change record = %+v, %v; want the change", got, err)
	}
}

// TestFailedWriteThenAnotherRecordedChange: the assignment is as it was,
// but another change of it is recorded since the first attempt (applied,
// then put back by hand): the first write may have landed in between, so
// the retry is refused, naming that change.
func TestFailedWriteThenAnotherRecordedChange(t *testing.T) {
	s, recs := revertStack(t)
	throttleWrites(t, s)
	// Another ticket's change of the assignment, recorded since (and put
	// back by hand in Intune: Graph holds what the note read).
	current, _ := s.emu.Assignment(graphemu.ConfigESP, graphemu.AssignmentESPGroup)
	moved := json.RawMessage(strings.Replace(string(current), `"groupId":"`+graphemu.GroupCorporate, `"groupId":"`+graphemu.GroupExcluded, 1))
	if string(moved) == string(current) {
		t.Fatalf("the assignment has no group %s: %s", graphemu.GroupCorporate, current)
	}
	other := &changerecord.Record{ID: "generic:msg_between", Action: changerecord.ActionApply, Sender: "generic",
		Ticket: changerecord.Ticket{ID: "CHG0030088"}, ConfigurationID: graphemu.ConfigESP, AssignmentID: graphemu.AssignmentESPGroup,
		Before: current, After: moved, Time: time.Now().Add(time.Second)}
	if err := recs.Put(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	w := s.send(t, validBody)
	if p := decodeProblem(t, w); w.Code != http.StatusConflict || p.Type != apply.ProblemTypePrefix+"drifted" ||
		!strings.Contains(p.Detail, "generic:msg_between") || !strings.Contains(p.Detail, "CHG0030088") {
		t.Fatalf("the retry = %d %s, want 409 drifted naming the change in between", w.Code, w.Body)
	}
	if s.emu.Writes() != 0 {
		t.Errorf("the retry wrote: %d writes", s.emu.Writes())
	}
}

// TestWorkerLostAnswerIsNotWrittenAgain: the same on the async path: the
// worker's write whose answer is lost sends the message back, and the next
// receive finds the change applied and does not write again.
func TestWorkerLostAnswerIsNotWrittenAgain(t *testing.T) {
	s, _ := revertStack(t)
	q := &captureQueue{}
	s.h.set(func(o *testOptions) { o.Queue = q })
	s.h.async = map[string]bool{generic.Name: true}
	if w := s.send(t, validBody); w.Code != http.StatusAccepted {
		t.Fatalf("status = %d %s, want 202", w.Code, w.Body)
	}
	msg := q.messages()[0]
	s.emu.LoseWrites(100, http.StatusGatewayTimeout)
	if err := s.h.Process(context.Background(), queue.Delivery{ID: "m1", Body: msg, ReceiveCount: 1}); err == nil {
		t.Fatal("the receive whose write lost its answer succeeded; want the message back in the queue")
	}
	s.emu.LoseWrites(0, http.StatusGatewayTimeout)
	writes := s.emu.Writes()
	if writes == 0 || targetOf(t, s.emu)["deviceAndAppManagementAssignmentFilterId"] != validFilter {
		t.Fatalf("the lost write was not applied: %v", targetOf(t, s.emu))
	}
	if err := s.h.Process(context.Background(), queue.Delivery{ID: "m1", Body: msg, ReceiveCount: 2}); err != nil {
		t.Fatalf("the next receive = %v, want done", err)
	}
	if s.emu.Writes() != writes {
		t.Errorf("the next receive wrote again: %d writes, want %d", s.emu.Writes(), writes)
	}
}

// recordStack is newStrategyStack with a change record, de-duplication and
// the built-in policy.
func recordStack(t *testing.T, strategy string) (*stack, changerecord.Store) {
	t.Helper()
	s := newStrategyStack(t, strategy, "beta")
	recs := changerecord.NewMemory(nil)
	s.h.set(func(o *testOptions) {
		o.Records, o.Store, o.Policy = recs, idempotency.NewMemory(nil, 0), policy.Default()
	})
	return s, recs
}

// loseTheAssign sends body while the emulator names the changed assignment
// anew (newID) and loses every write's answer; it returns the write count
// after it.
func loseTheAssign(t *testing.T, s *stack, body, configuration, newID string) int {
	t.Helper()
	s.emu.RenameOnAssign(true)
	s.emu.LoseWrites(100, http.StatusGatewayTimeout)
	w := s.send(t, body)
	s.emu.LoseWrites(0, http.StatusGatewayTimeout)
	if w.Code != http.StatusServiceUnavailable {
		t.Fatalf("the assign whose answer was lost = %d %s, want 503", w.Code, w.Body)
	}
	if _, ok := s.emu.Assignment(configuration, newID); !ok {
		t.Fatal("the lost assign was not applied under a new id")
	}
	return s.emu.Writes()
}

// TestLostAssignUnderANewID: under the assign strategy, Intune may name
// the changed assignment anew; the retry of an assign action whose answer
// was lost finds the change under the new id (not one of the assignments
// the action kept) and answers it as applied, with the new id, without
// writing again; the change record has it under the new id.
func TestLostAssignUnderANewID(t *testing.T) {
	s, recs := recordStack(t, apply.StrategyAssign)
	writes := loseTheAssign(t, s, regroupBody, graphemu.ConfigESP, espPrefix+newGroup)
	w := s.send(t, regroupBody)
	if w.Code != http.StatusOK || w.Header().Get(apply.HeaderAssignmentID) != espPrefix+newGroup || w.Header().Get(apply.HeaderStrategy) != apply.StrategyAssign ||
		!strings.Contains(w.Body.String(), newGroup) {
		t.Fatalf("the retry = %d %v %s, want 200 with the new assignment id", w.Code, w.Header(), w.Body)
	}
	if s.emu.Writes() != writes {
		t.Errorf("the retry wrote again: %d writes, want %d", s.emu.Writes(), writes)
	}
	if got, err := recs.ByAssignment(context.Background(), graphemu.ConfigESP, espPrefix+newGroup, 0); err != nil || len(got) != 1 {
		t.Errorf("change records under the new id = %+v, %v; want the change", got, err)
	}
}

// TestLostRevertAnswer: a revert whose write's answer was lost is retried;
// the retry finds the change put back, records the revert and answers it,
// without writing again (before, it was refused as drifted, and history
// still showed the change standing).
func TestLostRevertAnswer(t *testing.T) {
	s, recs := revertStack(t)
	if w := s.serve(t, signedID(t, "msg_apply", validBody, testNow)); w.Code != http.StatusOK {
		t.Fatalf("apply: %d %s", w.Code, w.Body)
	}
	s.emu.LoseWrites(100, http.StatusGatewayTimeout)
	if w := s.serve(t, signedID(t, "msg_revert", revertBody("carol@contoso.com"), testNow)); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("the revert whose answer was lost = %d %s, want 503", w.Code, w.Body)
	}
	s.emu.LoseWrites(0, http.StatusGatewayTimeout)
	if targetOf(t, s.emu)["deviceAndAppManagementAssignmentFilterId"] == validFilter {
		t.Fatal("the lost revert was not applied")
	}
	writes := s.emu.Writes()
	w := s.serve(t, signedID(t, "msg_revert", revertBody("carol@contoso.com"), testNow))
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"reverts":"generic:msg_apply"`) {
		t.Fatalf("the retry = %d %s, want 200 putting back generic:msg_apply", w.Code, w.Body)
	}
	if s.emu.Writes() != writes {
		t.Errorf("the retry wrote again: %d writes, want %d", s.emu.Writes(), writes)
	}
	got, err := recs.ByTicket(context.Background(), "generic", "CHG0030042")
	if err != nil || len(got) != 2 || got[1].Action != changerecord.ActionRevert || got[1].Reverts != "generic:msg_apply" ||
		!strings.Contains(string(got[1].Before), validFilter) || strings.Contains(string(got[1].After), validFilter) {
		t.Fatalf("change records = %+v, %v; want the change and its revert", got, err)
	}
	if w := s.serve(t, signedID(t, "msg_revert_again", revertBody("carol@contoso.com"), testNow)); w.Code != http.StatusNotFound ||
		!strings.Contains(w.Body.String(), "nothing-to-revert") {
		t.Errorf("a new revert of the reverted ticket = %d %s, want 404 nothing-to-revert", w.Code, w.Body)
	}
}

// TestLostAnswerOfATargetWithoutAFilter: a change that sends no filter
// (Graph then holds filter type none, filter id null) is recognised as
// applied on the retry too: the target is compared by what it targets,
// not byte for byte.
func TestLostAnswerOfATargetWithoutAFilter(t *testing.T) {
	s, _ := revertStack(t)
	plain := strings.NewReplacer(`,"deviceAndAppManagementAssignmentFilterId":"`+validFilter+`","deviceAndAppManagementAssignmentFilterType":"include"`, "",
		`"groupId":"`+graphemu.GroupCorporate+`"`, `"groupId":"`+graphemu.GroupPlatform+`"`, `,"source":"direct"`, "").Replace(validBody)
	if strings.Contains(plain, "Filter") || !strings.Contains(plain, graphemu.GroupPlatform) {
		t.Fatalf("the body still has a filter, or not the group: %s", plain)
	}
	s.emu.LoseWrites(100, http.StatusGatewayTimeout)
	if w := s.send(t, plain); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("the write whose answer was lost = %d %s, want 503", w.Code, w.Body)
	}
	s.emu.LoseWrites(0, http.StatusGatewayTimeout)
	if targetOf(t, s.emu)["groupId"] != graphemu.GroupPlatform {
		t.Fatalf("the lost write was not applied: %v", targetOf(t, s.emu))
	}
	writes := s.emu.Writes()
	if w := s.send(t, plain); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), graphemu.GroupPlatform) {
		t.Fatalf("the retry = %d %s, want 200 with the assignment", w.Code, w.Body)
	}
	if s.emu.Writes() != writes {
		t.Errorf("the retry wrote again: %d writes, want %d", s.emu.Writes(), writes)
	}
}

// TestLostAssignOfAConfigurationsOnlyAssignment: the same when the
// assignment renamed is the configuration's only one (the action kept no
// other beside it).
func TestLostAssignOfAConfigurationsOnlyAssignment(t *testing.T) {
	body := `{"ticket":{"id":"CHG0030045","state":"approved","requestedBy":"alice@contoso.com","approvedBy":"bob@contoso.com"},` +
		`"configurationId":"` + graphemu.ConfigPlatform + `","assignmentId":"` + graphemu.AssignmentPlatformGroup + `",` +
		`"assignment":{"target":{"@odata.type":"microsoft.graph.groupAssignmentTarget","groupId":"` + newGroup + `"}}}`
	s, _ := recordStack(t, apply.StrategyAssign)
	if _, ok := s.emu.Assignment(graphemu.ConfigPlatform, graphemu.AssignmentPlatformGroup); !ok {
		t.Fatal("the emulator has no platform assignment to rename")
	}
	writes := loseTheAssign(t, s, body, graphemu.ConfigPlatform, strings.TrimSuffix(graphemu.AssignmentPlatformGroup, graphemu.GroupPlatform)+newGroup)
	if w := s.send(t, body); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), newGroup) || w.Header().Get(apply.HeaderAssignmentID) == "" {
		t.Errorf("the retry = %d %v %s, want 200 with the renamed assignment", w.Code, w.Header(), w.Body)
	}
	if s.emu.Writes() != writes {
		t.Errorf("the retry wrote again: %d writes, want %d", s.emu.Writes(), writes)
	}
}

// TestLostAnswerAcrossTheSwitchToAssign: the first attempt sends the item
// PATCH, which Graph does not take (429); the retry finds the route
// refused, goes through the assign action, which names the assignment
// anew, and loses that answer. Its note now lists the assignments the
// action kept, so the next retry finds the change under the new id.
func TestLostAnswerAcrossTheSwitchToAssign(t *testing.T) {
	s, _ := recordStack(t, apply.StrategyAuto)
	s.emu.Throttle(100, "0")
	if w := s.send(t, regroupBody); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("the throttled PATCH = %d %s, want 503", w.Code, w.Body)
	}
	s.emu.Throttle(0, "")
	s.emu.RefuseItemRoute(true)
	writes := loseTheAssign(t, s, regroupBody, graphemu.ConfigESP, espPrefix+newGroup)
	if w := s.send(t, regroupBody); w.Code != http.StatusOK || w.Header().Get(apply.HeaderAssignmentID) != espPrefix+newGroup {
		t.Fatalf("the next retry = %d %v %s, want 200 under the new id", w.Code, w.Header(), w.Body)
	}
	if s.emu.Writes() != writes {
		t.Errorf("the next retry wrote again: %d writes, want %d", s.emu.Writes(), writes)
	}
}
