package webhook

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/idempotency"
	"github.com/enrollhook/enrollhook/pkg/policy"
	"github.com/enrollhook/enrollhook/pkg/queue"
	changerecord "github.com/enrollhook/enrollhook/pkg/record"
	"github.com/enrollhook/enrollhook/pkg/scheduler"
	"github.com/enrollhook/enrollhook/pkg/scheduler/schedulertest"
)

// TestChangeScheduledForItsWindow: with the async path and a scheduler, a
// change whose window opens days ahead is answered 202 scheduled with
// notBefore, held by one schedule and recorded as scheduled; a new
// delivery of the same ticket and assignment replaces the schedule; when
// the schedule fires, the worker checks the window again and applies it;
// a revert of a ticket whose change is still scheduled deletes the
// schedule; a window beyond the policy's 14 days is refused.
func TestChangeScheduledForItsWindow(t *testing.T) {
	fake := schedulertest.New(t)
	sc, err := scheduler.New(fake.Client(t), scheduler.Options{Group: "enrollhook", TargetARN: "arn:aws:sqs:eu-west-1:123456789012:changes",
		RoleARN: "arn:aws:iam::123456789012:role/schedule", DeadLetterARN: "arn:aws:sqs:eu-west-1:123456789012:schedule-dlq"})
	if err != nil {
		t.Fatal(err)
	}
	recs := changerecord.NewMemory(nil)
	var offset atomic.Int64 // the pipeline's clock runs this far ahead of the wall clock
	q := queue.NewLocal(nil)
	s := newStack(t, 2, func(o *testOptions) {
		o.Records, o.Store, o.Policy, o.Queue, o.AsyncSources, o.Scheduler = recs, idempotency.NewMemory(nil, 0), policy.Default(), q, []string{"generic"}, sc
		o.Clock = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	})
	q.Start(s.h.Process)
	defer q.Close()
	opens := time.Now().Add(72 * time.Hour).Truncate(time.Second)
	w := s.serve(t, signedID(t, "msg_sched_1", withWindow(opens, opens.Add(4*time.Hour)), testNow))
	var body Queued
	if w.Code != http.StatusAccepted || json.Unmarshal(w.Body.Bytes(), &body) != nil || body.Status != StatusScheduled || body.NotBefore != opens.UTC().Format(time.RFC3339) {
		t.Fatalf("scheduled change: %d %s", w.Code, w.Body)
	}
	if got := fake.Schedules(); len(got) != 1 || !got[0].At.Equal(opens.UTC()) {
		t.Fatalf("schedules = %+v, want one at %v", got, opens)
	}
	got, _ := recs.ByTicket(t.Context(), "generic", "CHG0030042")
	if len(got) != 1 || got[0].State != changerecord.StateScheduled || !got[0].NotBefore.Equal(opens.UTC()) {
		t.Fatalf("record = %+v, want the change scheduled for %v", got, opens)
	}
	// A new delivery of the same ticket and assignment: one schedule, the
	// new one's; the first is recorded as cancelled.
	w = s.serve(t, signedID(t, "msg_sched_2", withWindow(opens.Add(time.Hour), opens.Add(4*time.Hour)), testNow))
	if w.Code != http.StatusAccepted {
		t.Fatalf("second delivery: %d %s", w.Code, w.Body)
	}
	sched := fake.Schedules()
	if len(sched) != 1 || !strings.Contains(string(sched[0].Input), "msg_sched_2") {
		t.Fatalf("after a new delivery: %+v", sched)
	}
	if s.emu.Writes() != 0 {
		t.Fatalf("%d Graph writes before the window", s.emu.Writes())
	}
	// The schedule fires when the window opens: its input reaches the
	// worker, which applies it (the pipeline's clock is then inside the
	// window).
	offset.Store(int64(73 * time.Hour))
	fired := fake.Fire(opens.Add(time.Hour))
	if len(fired) != 1 {
		t.Fatalf("fired %d", len(fired))
	}
	if err := s.h.Process(context.Background(), queue.Delivery{ID: "sched-1", Body: fired[0], ReceiveCount: 1}); err != nil {
		t.Fatalf("the worker: %v", err)
	}
	if s.emu.Writes() != 1 {
		t.Errorf("%d Graph writes once the window opened, want 1", s.emu.Writes())
	}
	if r, err := recs.Get(t.Context(), "generic:msg_sched_2"); err != nil || r.State != changerecord.StateApplied {
		t.Errorf("the applied change's record = %+v, %v", r, err)
	}
	offset.Store(0)

	// Another ticket scheduled, then reverted before its window: the
	// schedule is deleted and nothing is written.
	other := strings.Replace(withWindow(opens, opens.Add(4*time.Hour)), `"id":"CHG0030042"`, `"id":"CHG0030077"`, 1)
	if w := s.serve(t, signedID(t, "msg_sched_3", other, testNow)); w.Code != http.StatusAccepted {
		t.Fatalf("other ticket: %d %s", w.Code, w.Body)
	}
	revert := strings.Replace(revertBody("carol@contoso.com"), `"id":"CHG0030042"`, `"id":"CHG0030077"`, 1)
	// What the schedule would deliver, kept to fire it after the revert
	// (as a schedule whose deletion failed would).
	var held []byte
	for _, sc := range fake.Schedules() {
		if strings.Contains(string(sc.Input), "msg_sched_3") {
			held = sc.Input
		}
	}
	// The revert of an async sender is queued like its changes; the
	// worker runs it.
	w = s.serve(t, signedID(t, "msg_sched_revert", revert, testNow))
	if w.Code != http.StatusAccepted {
		t.Errorf("revert of a scheduled change: %d %s", w.Code, w.Body)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := q.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if c, err := recs.Get(t.Context(), "generic:msg_sched_3.scheduled.canceled"); err != nil || c.Reverts != "generic:msg_sched_3.scheduled" {
		t.Errorf("the cancellation's record = %+v, %v\n%s", c, err, s.logs.String())
	}
	if n := len(fake.Schedules()); n != 0 {
		t.Errorf("%d schedules left after the revert", n)
	}
	// Fired anyway, the cancelled change is refused by the worker: its
	// cancellation is recorded.
	writes := s.emu.Writes()
	offset.Store(int64(73 * time.Hour))
	_ = s.h.Process(context.Background(), queue.Delivery{ID: "sched-late", Body: held, ReceiveCount: 1})
	offset.Store(0)
	if s.emu.Writes() != writes {
		t.Errorf("a cancelled scheduled change was applied when its schedule fired")
	}
	// Beyond the built-in policy's 14 days: refused, not scheduled.
	far := strings.Replace(withWindow(time.Now().Add(15*24*time.Hour), time.Now().Add(16*24*time.Hour)), `"id":"CHG0030042"`, `"id":"CHG0030078"`, 1)
	w = s.serve(t, signedID(t, "msg_sched_far", far, testNow))
	if p := decodeProblem(t, w); w.Code != http.StatusForbidden || !strings.Contains(p.Detail, "scheduled at most") {
		t.Errorf("a window 15 days ahead: %d %+v", w.Code, p)
	}
}
