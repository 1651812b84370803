package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/apply"
	"github.com/enrollhook/enrollhook/pkg/awsapi"
	"github.com/enrollhook/enrollhook/pkg/idempotency"
	"github.com/enrollhook/enrollhook/pkg/policy"
	"github.com/enrollhook/enrollhook/pkg/queue"
	changerecord "github.com/enrollhook/enrollhook/pkg/record"
	"github.com/enrollhook/enrollhook/pkg/scheduler"
	"github.com/enrollhook/enrollhook/pkg/scheduler/schedulertest"
)

// flakyScheduler is the scheduler client of the fake whose Unschedule
// (DeleteSchedule) fails while failing is set, as the Scheduler does when
// throttled or unavailable; the failed calls never reach the fake.
type flakyScheduler struct {
	*scheduler.Client
	failing atomic.Bool
	mu      sync.Mutex
	calls   []string // "ok" or "failed", per Unschedule
}

func (f *flakyScheduler) Unschedule(ctx context.Context, sender, ticket, configurationID, assignmentID string) error {
	failed := f.failing.Load()
	f.mu.Lock()
	f.calls = append(f.calls, map[bool]string{true: "failed", false: "ok"}[failed])
	f.mu.Unlock()
	if failed {
		return &awsapi.Error{StatusCode: http.StatusInternalServerError, Code: "InternalServerException", Message: "scheduler unavailable"}
	}
	return f.Client.Unschedule(ctx, sender, ticket, configurationID, assignmentID)
}

func (f *flakyScheduler) unschedules() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.calls, ",")
}

// flakyRecords is a change record whose Put of a cancellation fails while
// failing is set.
type flakyRecords struct {
	changerecord.Store
	failing atomic.Bool
}

func (f *flakyRecords) Put(ctx context.Context, r *changerecord.Record) error {
	if f.failing.Load() && strings.HasSuffix(r.ID, ".canceled") {
		return errors.New("record store: connection reset")
	}
	return f.Store.Put(ctx, r)
}

// countingDLQ is a dead-letter queue that counts what it is sent.
type countingDLQ struct{ n atomic.Int64 }

func (d *countingDLQ) DeadLetter(context.Context, []byte, queue.Reason) error {
	d.n.Add(1)
	return nil
}

func (d *countingDLQ) count() int64 { return d.n.Load() }

// unscheduleStack serves the generic sender asynchronously: changes whose
// window opens days ahead are scheduled on the fake Scheduler (through
// sc), the rest (a revert) captured on q for the test to hand to the
// worker; the pipeline's clock runs offset ahead of the wall clock.
type unscheduleStack struct {
	*stack
	fake   *schedulertest.Fake
	sc     *flakyScheduler
	recs   *flakyRecords
	q      *captureQueue
	offset *atomic.Int64
}

func newUnscheduleStack(t *testing.T, tweaks ...func(*testOptions)) *unscheduleStack {
	t.Helper()
	fake := schedulertest.New(t)
	c, err := scheduler.New(fake.Client(t), scheduler.Options{Group: "enrollhook", TargetARN: "arn:aws:sqs:eu-west-1:123456789012:changes",
		RoleARN: "arn:aws:iam::123456789012:role/schedule", DeadLetterARN: "arn:aws:sqs:eu-west-1:123456789012:schedule-dlq"})
	if err != nil {
		t.Fatal(err)
	}
	u := &unscheduleStack{fake: fake, sc: &flakyScheduler{Client: c}, recs: &flakyRecords{Store: changerecord.NewMemory(nil)},
		q: &captureQueue{}, offset: &atomic.Int64{}}
	u.stack = newStack(t, 2, func(o *testOptions) {
		o.Records, o.Store, o.Policy, o.Queue, o.AsyncSources, o.Scheduler = u.recs, idempotency.NewMemory(nil, 0), policy.Default(), u.q, []string{"generic"}, u.sc
		o.Clock = func() time.Time { return time.Now().Add(time.Duration(u.offset.Load())) }
		for _, tweak := range tweaks {
			tweak(o)
		}
	})
	return u
}

// schedule sends a change of ticket whose window opens at opens, as
// delivery id; it must be scheduled.
func (u *unscheduleStack) schedule(t *testing.T, id, ticket string, opens time.Time) {
	t.Helper()
	body := strings.Replace(withWindow(opens, opens.Add(4*time.Hour)), `"id":"CHG0030042"`, `"id":"`+ticket+`"`, 1)
	w := u.serve(t, signedID(t, id, body, testNow))
	var q Queued
	if w.Code != http.StatusAccepted || json.Unmarshal(w.Body.Bytes(), &q) != nil || q.Status != StatusScheduled {
		t.Fatalf("change of %s: %d %s, want it scheduled", ticket, w.Code, w.Body)
	}
}

// revert sends a revert of ticket as delivery id, which is queued, and
// returns the queued message for the worker.
func (u *unscheduleStack) revert(t *testing.T, id, ticket string) []byte {
	t.Helper()
	before := len(u.q.messages())
	w := u.serve(t, signedID(t, id, strings.Replace(revertBody("carol@contoso.com"), `"id":"CHG0030042"`, `"id":"`+ticket+`"`, 1), testNow))
	msgs := u.q.messages()
	if w.Code != http.StatusAccepted || len(msgs) != before+1 {
		t.Fatalf("revert of %s: %d %s, %d messages queued", ticket, w.Code, w.Body, len(msgs)-before)
	}
	return msgs[len(msgs)-1]
}

// fire runs the schedules due at the window's opening through the worker,
// with the pipeline's clock inside the window; it returns how many fired
// and the worker's errors.
func (u *unscheduleStack) fire(t *testing.T, opens time.Time, deliveries int) (int, []error) {
	t.Helper()
	u.offset.Store(int64(time.Until(opens) + time.Hour))
	defer u.offset.Store(0)
	var errs []error
	fired := u.fake.Fire(opens.Add(time.Minute))
	for _, b := range fired {
		// The queue delivers at least once: the same message again.
		for i := range deliveries {
			if err := u.h.Process(context.Background(), queue.Delivery{ID: nextID("sched-"), Body: b, ReceiveCount: i + 1}); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return len(fired), errs
}

// TestRevertWhenTheScheduleCannotBeDeleted: a revert of a ticket whose
// change waits on a schedule cancels it even when the Scheduler cannot
// delete the schedule, as apply's cancelScheduled documents: the
// cancellation is recorded before the delete is tried, the revert is done
// (not retried: the delete's failure is logged), and when the schedule
// fires anyway, delivered twice, the worker refuses the change for good
// (no retry) and nothing is written to Graph. The refusal is the intended
// outcome, not a failure: nothing goes to the dead-letter queue (whose
// alarm would page someone), and the worker's line says "cancelled" at
// info level. A second revert of the ticket finds nothing to put back and
// writes nothing.
func TestRevertWhenTheScheduleCannotBeDeleted(t *testing.T) {
	dlq := &countingDLQ{}
	u := newUnscheduleStack(t, func(o *testOptions) { o.DeadLetters = dlq })
	opens := time.Now().Add(72 * time.Hour).Truncate(time.Second)
	u.schedule(t, "msg_unsched_1", "CHG0030091", opens)
	if n := len(u.fake.Schedules()); n != 1 {
		t.Fatalf("%d schedules, want 1", n)
	}

	u.sc.failing.Store(true)
	msg := u.revert(t, "msg_unsched_revert", "CHG0030091")
	if err := u.h.Process(context.Background(), queue.Delivery{ID: "rev-1", Body: msg, ReceiveCount: 1}); err != nil {
		t.Fatalf("the worker's revert while the Scheduler fails: %v, want it done (the cancellation is recorded)", err)
	}
	if got := u.sc.unschedules(); got != "failed" {
		t.Fatalf("Unschedule calls = %q, want one, failed", got)
	}
	if n := len(u.fake.Schedules()); n != 1 {
		t.Fatalf("%d schedules, want the one whose delete failed", n)
	}
	c, err := u.recs.Get(t.Context(), "generic:msg_unsched_1.scheduled.canceled")
	if err != nil || c.Reverts != "generic:msg_unsched_1.scheduled" {
		t.Fatalf("the cancellation's record = %+v, %v", c, err)
	}
	if !strings.Contains(u.logs.String(), "schedule could not be deleted") {
		t.Errorf("the failed delete is not logged:\n%s", u.logs.String())
	}
	u.sc.failing.Store(false)

	// The schedule fires when the window opens, its message delivered
	// twice: refused each time, for good, and never written.
	n, errs := u.fire(t, opens, 2)
	if n != 1 {
		t.Fatalf("%d schedules fired, want 1", n)
	}
	if len(errs) != 0 {
		t.Errorf("the worker asked to retry a cancelled change: %v", errs)
	}
	if u.emu.Writes() != 0 {
		t.Fatalf("a cancelled scheduled change was applied when its undeleted schedule fired: %d writes", u.emu.Writes())
	}
	recs, _ := u.recs.ByTicket(t.Context(), "generic", "CHG0030091")
	for _, r := range recs {
		if r.State == changerecord.StateApplied && r.Action != changerecord.ActionRevert {
			t.Errorf("record %s is applied: %+v", r.ID, r)
		}
	}
	if !strings.Contains(u.logs.String(), "this scheduled change was cancelled") {
		t.Errorf("the worker's refusal is not logged:\n%s", u.logs.String())
	}
	if n := dlq.count(); n != 0 {
		t.Errorf("%d cancelled deliveries sent to the dead-letter queue, want none", n)
	}
	lines := 0
	for _, l := range strings.Split(u.logs.String(), "\n") {
		if strings.Contains(l, `"msg":"worker"`) && strings.Contains(l, `"outcome":"cancelled"`) {
			lines++
			if !strings.Contains(l, `"level":"INFO"`) {
				t.Errorf("the worker's line of a cancelled schedule is not at info level: %s", l)
			}
		}
	}
	if lines != 2 {
		t.Errorf("%d worker lines say cancelled, want one per delivery (2):\n%s", lines, u.logs.String())
	}
	if !strings.Contains(u.logs.String(), `"msg":"audit"`) || !regexp.MustCompile(`"msg":"audit".*"outcome":"refused","reason":"conflict"`).MatchString(u.logs.String()) {
		t.Errorf("no audit line says the cancelled change was refused:\n%s", u.logs.String())
	}

	// A second revert: nothing stands, nothing is written.
	msg = u.revert(t, "msg_unsched_revert_2", "CHG0030091")
	_ = u.h.Process(context.Background(), queue.Delivery{ID: "rev-2", Body: msg, ReceiveCount: 1})
	if u.emu.Writes() != 0 {
		t.Errorf("a second revert wrote %d times", u.emu.Writes())
	}
}

// TestRevertWhenTheCancellationCannotBeRecorded: when the cancellation of
// a scheduled change cannot be recorded, the revert fails in a retryable
// way (the worker asks the queue to deliver it again) before the schedule
// is touched, so the change is not lost uncancelled; delivered again once
// the record answers, the revert cancels it and deletes its schedule, and
// nothing is written to Graph.
func TestRevertWhenTheCancellationCannotBeRecorded(t *testing.T) {
	u := newUnscheduleStack(t)
	opens := time.Now().Add(72 * time.Hour).Truncate(time.Second)
	u.schedule(t, "msg_unsched_2", "CHG0030092", opens)

	u.recs.failing.Store(true)
	msg := u.revert(t, "msg_unsched_revert_3", "CHG0030092")
	err := u.h.Process(context.Background(), queue.Delivery{ID: "rev-3", Body: msg, ReceiveCount: 1})
	if err == nil || !apply.Retryable(err) {
		t.Fatalf("the worker's revert while the record fails: %v, want a retryable failure", err)
	}
	if got := u.sc.unschedules(); got != "" {
		t.Errorf("Unschedule calls = %q before the cancellation was recorded, want none", got)
	}
	if n := len(u.fake.Schedules()); n != 1 {
		t.Fatalf("%d schedules after the failed revert, want the change's still there", n)
	}

	u.recs.failing.Store(false)
	if err := u.h.Process(context.Background(), queue.Delivery{ID: "rev-3", Body: msg, ReceiveCount: 2}); err != nil {
		t.Fatalf("the revert delivered again: %v", err)
	}
	if got := u.sc.unschedules(); got != "ok" {
		t.Errorf("Unschedule calls = %q, want one, ok", got)
	}
	if n := len(u.fake.Schedules()); n != 0 {
		t.Errorf("%d schedules after the revert, want none", n)
	}
	if n, _ := u.fire(t, opens, 1); n != 0 || u.emu.Writes() != 0 {
		t.Errorf("after the revert: %d schedules fired, %d writes", n, u.emu.Writes())
	}
}
