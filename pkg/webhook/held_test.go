package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/graphemu"
	"github.com/enrollhook/enrollhook/pkg/queue"
	changerecord "github.com/enrollhook/enrollhook/pkg/record"
)

// Changes held for their window (a schedule days ahead, or the queue's
// delay) and the reverts of their tickets.

// gateLimiter holds the first write slot until release is closed.
type gateLimiter struct {
	once             sync.Once
	entered, release chan struct{}
}

func (g *gateLimiter) Wait(ctx context.Context) (func(), error) {
	first := false
	g.once.Do(func() { first = true })
	if first {
		close(g.entered)
		<-g.release
	}
	return func() {}, nil
}

// TestRevertAndAFiredScheduleTakeTurns: the schedule fires and the worker
// is about to write (it waits for its write slot) when the ticket's revert
// arrives. They do not cross: the revert waits, then finds the change
// applied and puts it back; Intune ends as it began, and the change record
// says so.
func TestRevertAndAFiredScheduleTakeTurns(t *testing.T) {
	gate := &gateLimiter{entered: make(chan struct{}), release: make(chan struct{})}
	u := newUnscheduleStack(t, func(o *testOptions) { o.Limiter = gate })
	seed := targetOf(t, u.emu)
	opens := time.Now().Add(72 * time.Hour).Truncate(time.Second)
	u.schedule(t, "msg_turns_apply", "CHG0031001", opens)
	revertMsg := u.revert(t, "msg_turns_revert", "CHG0031001")

	u.offset.Store(int64(time.Until(opens) + time.Hour))
	fired := u.fake.Fire(opens.Add(time.Minute))
	if len(fired) != 1 {
		t.Fatalf("fired %d schedules", len(fired))
	}
	applied := make(chan error, 1)
	go func() {
		applied <- u.h.Process(context.Background(), queue.Delivery{ID: "sched-turns", Body: fired[0], ReceiveCount: 1})
	}()
	<-gate.entered
	reverted := make(chan error, 1)
	go func() {
		reverted <- u.h.Process(context.Background(), queue.Delivery{ID: "revert-turns", Body: revertMsg, ReceiveCount: 1})
	}()
	select {
	case err := <-reverted:
		t.Fatalf("the revert finished while the scheduled change was being written: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	close(gate.release)
	if err := <-applied; err != nil {
		t.Fatalf("scheduled change: %v", err)
	}
	if err := <-reverted; err != nil {
		t.Fatalf("revert: %v", err)
	}
	if got := targetOf(t, u.emu); got["groupId"] != seed["groupId"] || u.emu.Writes() != 2 {
		t.Fatalf("after the change and its revert Intune targets %v with %d writes, want %v after 2", got, u.emu.Writes(), seed)
	}
	recs, _ := u.recs.ByTicket(t.Context(), "generic", "CHG0031001")
	if _, ok := changerecord.RevertedBy(recs, "generic:msg_turns_apply"); !ok {
		t.Errorf("the change record does not say the applied change was put back: %+v", recs)
	}
}

// scheduledRecordsDown fails every write of a held change's record.
type scheduledRecordsDown struct{ changerecord.Store }

func (f scheduledRecordsDown) Put(ctx context.Context, r *changerecord.Record) error {
	if strings.HasSuffix(r.ID, ".scheduled") {
		return errors.New("record store: ProvisionedThroughputExceededException")
	}
	return f.Store.Put(ctx, r)
}

// TestAHeldChangeIsRecordedFirst: when the change record cannot be
// written, a change whose window opens later is neither scheduled nor
// queued: 503, the sender retries, and no schedule exists that history
// does not show and a revert could not cancel.
func TestAHeldChangeIsRecordedFirst(t *testing.T) {
	u := newUnscheduleStack(t, func(o *testOptions) { o.Records = scheduledRecordsDown{Store: changerecord.NewMemory(nil)} })
	for _, opens := range []time.Time{time.Now().Add(72 * time.Hour), time.Now().Add(10 * time.Minute)} {
		body := strings.Replace(withWindow(opens.Truncate(time.Second), opens.Add(4*time.Hour).Truncate(time.Second)), `"id":"CHG0030042"`, `"id":"CHG0031002"`, 1)
		w := u.serve(t, signedID(t, nextID("msg_norec_"), body, testNow))
		if w.Code != http.StatusServiceUnavailable || !strings.Contains(decodeProblem(t, w).Detail, "not held for its window") {
			t.Errorf("window opening at %s with the record down: %d %s, want 503", opens.Format(time.RFC3339), w.Code, w.Body)
		}
	}
	if n := len(u.fake.Schedules()); n != 0 || len(u.q.messages()) != 0 {
		t.Errorf("%d schedule(s) and %d queued message(s) without a record", n, len(u.q.messages()))
	}
}

// TestRevertCancelsAChangeWaitingInTheQueue: a change whose window opens
// in ten minutes waits in the queue's delay, recorded as scheduled; the
// ticket's revert cancels it, and when it arrives it is refused, with
// nothing written.
func TestRevertCancelsAChangeWaitingInTheQueue(t *testing.T) {
	u := newUnscheduleStack(t)
	opens := time.Now().Add(10 * time.Minute).Truncate(time.Second)
	body := strings.Replace(withWindow(opens, opens.Add(4*time.Hour)), `"id":"CHG0030042"`, `"id":"CHG0031005"`, 1)
	if w := u.serve(t, signedID(t, "msg_delay", body, testNow)); w.Code != http.StatusAccepted {
		t.Fatalf("change: %d %s", w.Code, w.Body)
	}
	queued := u.q.messages()[0]
	recs, _ := u.recs.ByTicket(t.Context(), "generic", "CHG0031005")
	if len(recs) != 1 || recs[0].State != changerecord.StateScheduled {
		t.Fatalf("the delayed change's record: %+v, want one, scheduled", recs)
	}
	revertMsg := u.revert(t, "msg_delay_revert", "CHG0031005")
	if err := u.h.Process(context.Background(), queue.Delivery{ID: "r", Body: revertMsg, ReceiveCount: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := u.recs.Get(t.Context(), "generic:msg_delay.scheduled.canceled"); err != nil {
		t.Fatalf("the revert recorded no cancellation: %v", err)
	}
	u.offset.Store(int64(11 * time.Minute))
	if err := u.h.Process(context.Background(), queue.Delivery{ID: "d", Body: queued, ReceiveCount: 1}); err != nil {
		t.Fatal(err)
	}
	if u.emu.Writes() != 0 {
		t.Errorf("the cancelled change was applied when it arrived: %d write(s)", u.emu.Writes())
	}
}

// TestAScheduleArrivingEarlyWaits: a schedule delivered half a second
// before the worker's clock reaches the window (clocks apart) is applied,
// not refused for good and dead-lettered.
func TestAScheduleArrivingEarlyWaits(t *testing.T) {
	dlq := &countingDLQ{}
	u := newUnscheduleStack(t, func(o *testOptions) { o.DeadLetters, o.Timeout = dlq, 10*time.Second })
	opens := time.Now().Add(72 * time.Hour).Truncate(time.Second)
	u.schedule(t, "msg_skew", "CHG0031003", opens)
	fired := u.fake.Fire(opens)
	u.offset.Store(int64(time.Until(opens) - 500*time.Millisecond))
	if err := u.h.Process(context.Background(), queue.Delivery{ID: "sched-skew", Body: fired[0], ReceiveCount: 1}); err != nil || dlq.count() != 0 || u.emu.Writes() != 1 {
		t.Fatalf("early by 0.5 s: %v, %d dead letters, %d writes; want it applied", err, dlq.count(), u.emu.Writes())
	}
}

// TestDryRunOfARevertListsWhatItWouldCancel: the dry run of a revert of a
// ticket whose only change waits on a schedule plans its cancellation, as
// the revert does it.
func TestDryRunOfARevertListsWhatItWouldCancel(t *testing.T) {
	u := newUnscheduleStack(t)
	opens := time.Now().Add(72 * time.Hour).Truncate(time.Second)
	u.schedule(t, "msg_dry_sched", "CHG0031004", opens)
	body := strings.Replace(revertBody("carol@contoso.com"), `"id":"CHG0030042"`, `"id":"CHG0031004"`, 1)
	r := signedID(t, "msg_dry_revert", body, testNow)
	r.URL.RawQuery = "dryRun=true"
	w := u.serve(t, r)
	var plan struct {
		DryRun   bool              `json:"dryRun"`
		Changes  []json.RawMessage `json:"changes"`
		Canceled []string          `json:"canceled"`
	}
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &plan) != nil || !plan.DryRun ||
		len(plan.Changes) != 0 || len(plan.Canceled) != 1 || plan.Canceled[0] != "generic:msg_dry_sched.scheduled" {
		t.Fatalf("dry run of the revert: %d %s", w.Code, w.Body)
	}
	if _, err := u.recs.Get(t.Context(), "generic:msg_dry_sched.scheduled.canceled"); err == nil || len(u.fake.Schedules()) != 1 {
		t.Errorf("the dry run cancelled the schedule (%v, %d schedules)", err, len(u.fake.Schedules()))
	}
}

// TestARevertIsNotScheduled: a revert whose window opens days ahead is
// refused, saying it is held only up to the queue's delay, rather than
// scheduled where nothing would show or cancel it.
func TestARevertIsNotScheduled(t *testing.T) {
	u := newUnscheduleStack(t)
	opens := time.Now().Add(72 * time.Hour).Truncate(time.Second)
	body := strings.Replace(revertBody("carol@contoso.com"), `"approvedBy":"carol@contoso.com"}`,
		`"approvedBy":"carol@contoso.com","window":{"start":"`+opens.UTC().Format(time.RFC3339)+`","end":"`+opens.Add(time.Hour).UTC().Format(time.RFC3339)+`"}}`, 1)
	w := u.serve(t, signedID(t, "msg_sched_revert", body, testNow))
	if w.Code != http.StatusForbidden || !strings.Contains(decodeProblem(t, w).Detail, "a revert is held for its window only up to") {
		t.Fatalf("a revert with a window days ahead: %d %s", w.Code, w.Body)
	}
	if len(u.fake.Schedules()) != 0 || len(u.q.messages()) != 0 {
		t.Errorf("the revert was held anyway")
	}
}

// TestRevertOfATicketThatChangedOneAssignmentTwice: a ticket that changed
// an assignment twice (a corrected change sent as a new delivery) is
// reverted to what the assignment was before the first.
func TestRevertOfATicketThatChangedOneAssignmentTwice(t *testing.T) {
	s, _ := revertStack(t)
	seed := targetOf(t, s.emu)
	if w := s.serve(t, signedID(t, "msg_two_1", validBody, testNow)); w.Code != http.StatusOK {
		t.Fatalf("first change: %d %s", w.Code, w.Body)
	}
	if w := s.serve(t, signedID(t, "msg_two_2", withTicket("CHG0030042", graphemu.GroupPlatform), testNow)); w.Code != http.StatusOK {
		t.Fatalf("second change: %d %s", w.Code, w.Body)
	}
	w := s.serve(t, signedID(t, "msg_two_revert", revertBody("carol@contoso.com"), testNow))
	if w.Code != http.StatusOK {
		t.Fatalf("revert of the ticket: %d %s", w.Code, w.Body)
	}
	if got := targetOf(t, s.emu); got["groupId"] != seed["groupId"] || s.emu.Writes() != 4 {
		t.Fatalf("after the revert Intune targets %v (%d writes), want %v", got, s.emu.Writes(), seed)
	}
	var rv struct {
		Changes []struct {
			Reverts string `json:"reverts"`
		} `json:"changes"`
	}
	if json.Unmarshal(w.Body.Bytes(), &rv) != nil || len(rv.Changes) != 2 || rv.Changes[0].Reverts != "generic:msg_two_2" || rv.Changes[1].Reverts != "generic:msg_two_1" {
		t.Errorf("the revert's answer, latest first: %s", w.Body)
	}
}

// TestRevertPutsTheSourceBack: a change that set the assignment's source
// is reverted with the source it had.
func TestRevertPutsTheSourceBack(t *testing.T) {
	s, _ := revertStack(t)
	body := strings.Replace(validBody, `"source":"direct"`, `"source":"policySets","sourceId":"ps-1"`, 1)
	if body == validBody {
		t.Fatal("the sample has no source to change")
	}
	if w := s.serve(t, signedID(t, "msg_src_1", body, testNow)); w.Code != http.StatusOK {
		t.Fatalf("change: %d %s", w.Code, w.Body)
	}
	if w := s.serve(t, signedID(t, "msg_src_revert", revertBody("carol@contoso.com"), testNow)); w.Code != http.StatusOK {
		t.Fatalf("revert: %d %s", w.Code, w.Body)
	}
	after, _ := s.emu.Assignment(graphemu.ConfigESP, graphemu.AssignmentESPGroup)
	if !strings.Contains(string(after), `"source":"direct"`) {
		t.Errorf("after the revert: %s, want source direct back", after)
	}
}

// TestAScheduleArrivingEarlyComesBack: early, without the time left to
// wait for its window, a held change goes back to its queue (a retryable
// failure), neither applied early nor dead-lettered; much earlier than a
// clock could explain, it is refused.
func TestAScheduleArrivingEarlyComesBack(t *testing.T) {
	dlq := &countingDLQ{}
	u := newUnscheduleStack(t, func(o *testOptions) { o.DeadLetters = dlq }) // 3 s to work
	opens := time.Now().Add(72 * time.Hour).Truncate(time.Second)
	u.schedule(t, "msg_skew_back", "CHG0031006", opens)
	fired := u.fake.Fire(opens)
	u.offset.Store(int64(time.Until(opens) - 2*time.Second))
	err := u.h.Process(context.Background(), queue.Delivery{ID: "sched-back", Body: fired[0], ReceiveCount: 1})
	if err == nil || dlq.count() != 0 || u.emu.Writes() != 0 {
		t.Fatalf("early by 2 s with 3 s to work: %v, %d dead letters, %d writes; want it back in the queue", err, dlq.count(), u.emu.Writes())
	}
	// Logged under its own reason: not graph-unavailable, which the
	// operators' Graph alarm counts.
	if logs := u.logs.String(); strings.Contains(logs, `"problem":"graph-unavailable"`) || !strings.Contains(logs, `"problem":"outside-change-window"`) {
		t.Errorf("the early arrival's reason:\n%s", logs)
	}
	u.offset.Store(int64(time.Until(opens) - time.Hour))
	err = u.h.Process(context.Background(), queue.Delivery{ID: "sched-back", Body: fired[0], ReceiveCount: 2})
	if err != nil || u.emu.Writes() != 0 || dlq.count() != 1 {
		t.Fatalf("an hour early: %v, %d writes, %d dead letters; want it refused for good", err, u.emu.Writes(), dlq.count())
	}
}

// TestARetryAfterAFailedEnqueueIsHeldOnce: the sender's retry of a held
// change whose enqueue failed is held and applied once; after a revert of
// its ticket cancelled it in between, the retry is refused saying so; and
// a delivery id reused for another change does not take its record.
func TestARetryAfterAFailedEnqueueIsHeldOnce(t *testing.T) {
	u := newUnscheduleStack(t)
	opens := time.Now().Add(10 * time.Minute).Truncate(time.Second)
	held := func(ticket string) string {
		return strings.Replace(withWindow(opens, opens.Add(4*time.Hour)), `"id":"CHG0030042"`, `"id":"`+ticket+`"`, 1)
	}
	setQueueErr := func(err error) { u.q.mu.Lock(); u.q.err = err; u.q.mu.Unlock() }

	setQueueErr(errors.New("sqs: unavailable"))
	if w := u.serve(t, signedID(t, "msg_retry", held("CHG0039001"), testNow)); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("enqueue failing: %d %s", w.Code, w.Body)
	}
	setQueueErr(nil)
	if w := u.serve(t, signedID(t, "msg_retry", held("CHG0039001"), testNow)); w.Code != http.StatusAccepted {
		t.Fatalf("the retry: %d %s", w.Code, w.Body)
	}
	u.offset.Store(int64(11 * time.Minute))
	msgs := u.q.messages()
	if err := u.h.Process(context.Background(), queue.Delivery{ID: "d1", Body: msgs[len(msgs)-1], ReceiveCount: 1}); err != nil || u.emu.Writes() != 1 {
		t.Fatalf("the retried change: %v, %d writes", err, u.emu.Writes())
	}
	u.offset.Store(0)

	// Cancelled in between: the retry says so.
	setQueueErr(errors.New("sqs: unavailable"))
	u.serve(t, signedID(t, "msg_retry2", held("CHG0039002"), testNow))
	setQueueErr(nil)
	if err := u.h.Process(context.Background(), queue.Delivery{ID: "r", Body: u.revert(t, "msg_retry2_revert", "CHG0039002"), ReceiveCount: 1}); err != nil {
		t.Fatal(err)
	}
	w := u.serve(t, signedID(t, "msg_retry2", held("CHG0039002"), testNow))
	if w.Code != http.StatusConflict || !strings.Contains(decodeProblem(t, w).Detail, "was cancelled") {
		t.Fatalf("the retry of a cancelled change: %d %s", w.Code, w.Body)
	}

	// The id reused for another change.
	setQueueErr(errors.New("sqs: unavailable"))
	u.serve(t, signedID(t, "msg_reuse", held("CHG0039003"), testNow))
	setQueueErr(nil)
	other := strings.Replace(platformChange("CHG0039003"), `"approvedBy":"bob@contoso.com"}`,
		`"approvedBy":"bob@contoso.com","window":{"start":"`+opens.UTC().Format(time.RFC3339)+`","end":"`+opens.Add(4*time.Hour).UTC().Format(time.RFC3339)+`"}}`, 1)
	w = u.serve(t, signedID(t, "msg_reuse", other, testNow))
	if w.Code != http.StatusConflict || !strings.Contains(decodeProblem(t, w).Detail, "held earlier for another change") {
		t.Fatalf("another change under a held id: %d %s", w.Code, w.Body)
	}
}

// TestHeldChangesOfOtherTicketsDoNotWait: a change arriving from its
// schedule waits only for reverts of its own ticket: while one waits for
// its write slot, another ticket's is applied.
func TestHeldChangesOfOtherTicketsDoNotWait(t *testing.T) {
	gate := &gateLimiter{entered: make(chan struct{}), release: make(chan struct{})}
	u := newUnscheduleStack(t, func(o *testOptions) { o.Limiter = gate })
	opens := time.Now().Add(72 * time.Hour).Truncate(time.Second)
	u.schedule(t, "msg_first", "CHG0031011", opens)
	second := strings.Replace(platformChange("CHG0031012"), `"approvedBy":"bob@contoso.com"}`,
		`"approvedBy":"bob@contoso.com","window":{"start":"`+opens.UTC().Format(time.RFC3339)+`","end":"`+opens.Add(4*time.Hour).UTC().Format(time.RFC3339)+`"}}`, 1)
	if w := u.serve(t, signedID(t, "msg_second", second, testNow)); w.Code != http.StatusAccepted {
		t.Fatalf("second: %d %s", w.Code, w.Body)
	}
	u.offset.Store(int64(time.Until(opens) + time.Hour))
	fired := u.fake.Fire(opens.Add(time.Minute))
	if len(fired) != 2 {
		t.Fatalf("fired %d", len(fired))
	}
	first := make(chan error, 1)
	go func() {
		first <- u.h.Process(context.Background(), queue.Delivery{ID: "f1", Body: fired[0], ReceiveCount: 1})
	}()
	<-gate.entered
	if err := u.h.Process(context.Background(), queue.Delivery{ID: "f2", Body: fired[1], ReceiveCount: 1}); err != nil || u.emu.Writes() != 1 {
		t.Fatalf("the other ticket's change while the first waits: %v, %d writes", err, u.emu.Writes())
	}
	close(gate.release)
	if err := <-first; err != nil || u.emu.Writes() != 2 {
		t.Fatalf("the first: %v, %d writes", err, u.emu.Writes())
	}
}

// TestARefusedRevertCancelsNothing: a revert refused as drifted leaves its
// ticket's held changes held.
func TestARefusedRevertCancelsNothing(t *testing.T) {
	u := newUnscheduleStack(t)
	opens := time.Now().Add(72 * time.Hour).Truncate(time.Second)
	heldBody := strings.Replace(platformChange("CHG0031020"), `"approvedBy":"bob@contoso.com"}`,
		`"approvedBy":"bob@contoso.com","window":{"start":"`+opens.UTC().Format(time.RFC3339)+`","end":"`+opens.Add(4*time.Hour).UTC().Format(time.RFC3339)+`"}}`, 1)
	if w := u.serve(t, signedID(t, "msg_held", heldBody, testNow)); w.Code != http.StatusAccepted {
		t.Fatalf("held: %d %s", w.Code, w.Body)
	}
	apply := func(id, ticket, group string) {
		t.Helper()
		if w := u.serve(t, signedID(t, id, withTicket(ticket, group), testNow)); w.Code != http.StatusAccepted {
			t.Fatalf("%s: %d %s", id, w.Code, w.Body)
		}
		msgs := u.q.messages()
		if err := u.h.Process(context.Background(), queue.Delivery{ID: id, Body: msgs[len(msgs)-1], ReceiveCount: 1}); err != nil {
			t.Fatal(err)
		}
	}
	apply("msg_mine", "CHG0031020", graphemu.GroupPlatform)
	apply("msg_theirs", "CHG0031021", graphemu.GroupCorporate) // the same assignment, another ticket: drift
	if err := u.h.Process(context.Background(), queue.Delivery{ID: "r", Body: u.revert(t, "msg_refused_revert", "CHG0031020"), ReceiveCount: 1}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(u.logs.String(), "drifted") {
		t.Fatalf("the revert was not refused as drifted: %s", u.logs.String())
	}
	if _, err := u.recs.Get(t.Context(), "generic:msg_held.scheduled.canceled"); !errors.Is(err, changerecord.ErrNotFound) || len(u.fake.Schedules()) != 1 {
		t.Errorf("the refused revert cancelled the held change (%v, %d schedules)", err, len(u.fake.Schedules()))
	}
}
