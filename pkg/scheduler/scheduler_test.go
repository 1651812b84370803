package scheduler_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/queue"
	"github.com/enrollhook/enrollhook/pkg/scheduler"
	"github.com/enrollhook/enrollhook/pkg/scheduler/schedulertest"
)

func message(ticket, group string) *queue.Message {
	return &queue.Message{Version: queue.Version, Source: "servicenow", DeliveryID: "d-" + group, Key: "servicenow:d-" + group, RequestID: "r",
		Request: &change.Request{Ticket: change.Ticket{ID: ticket, State: "approved", ApprovedBy: "bob"}, ConfigurationID: "cfg_1", AssignmentID: "asg_1",
			Assignment: change.Assignment{Target: &change.Target{ODataType: change.TypeGroup, GroupID: group}}}}
}

func newClient(t *testing.T, f *schedulertest.Fake) *scheduler.Client {
	t.Helper()
	c, err := scheduler.New(f.Client(t), scheduler.Options{Group: "enrollhook", TargetARN: "arn:aws:sqs:eu-west-1:123456789012:changes",
		RoleARN: "arn:aws:iam::123456789012:role/schedule", DeadLetterARN: "arn:aws:sqs:eu-west-1:123456789012:schedule-dlq"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestScheduleReplaceUnschedule: a change is held by one schedule at its
// window's start (rounded up to the second); a new delivery of the same
// ticket and assignment replaces it; a revert deletes it, and deleting one
// that is gone is not an error.
func TestScheduleReplaceUnschedule(t *testing.T) {
	f := schedulertest.New(t)
	c := newClient(t, f)
	ctx := context.Background()
	at := time.Now().Add(72 * time.Hour).Truncate(time.Second).Add(300 * time.Millisecond)
	if err := c.Schedule(ctx, message("CHG1", "g1"), at); err != nil {
		t.Fatal(err)
	}
	got := f.Schedules()
	if len(got) != 1 || !got[0].At.Equal(at.Truncate(time.Second).Add(time.Second).UTC()) || got[0].Group != "enrollhook" ||
		!strings.HasSuffix(got[0].DeadLetterARN, "schedule-dlq") {
		t.Fatalf("schedules = %+v, want one at %v (rounded up), in the group, with its DLQ", got, at)
	}
	m, err := queue.Open(nil, got[0].Input)
	if err != nil || m.Request.Assignment.Target.GroupID != "g1" {
		t.Fatalf("the schedule's input is not the queued change: %v %+v", err, m)
	}
	// The same ticket and assignment again: replaced, not a second one.
	if err := c.Schedule(ctx, message("CHG1", "g2"), at.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got = f.Schedules(); len(got) != 1 || !strings.Contains(string(got[0].Input), `"g2"`) {
		t.Fatalf("after a new delivery: %+v", got)
	}
	// Another ticket: a schedule of its own.
	if err := c.Schedule(ctx, message("CHG2", "g3"), at); err != nil || len(f.Schedules()) != 2 {
		t.Fatalf("another ticket: %v, %d schedules", err, len(f.Schedules()))
	}
	if err := c.Unschedule(ctx, "servicenow", "CHG1", "cfg_1", "asg_1"); err != nil {
		t.Fatal(err)
	}
	if got = f.Schedules(); len(got) != 1 || !strings.Contains(string(got[0].Input), "CHG2") {
		t.Fatalf("after the revert of CHG1: %+v", got)
	}
	if err := c.Unschedule(ctx, "servicenow", "CHG1", "cfg_1", "asg_1"); err != nil {
		t.Errorf("deleting a schedule that is gone = %v, want nil", err)
	}
	// Fired: the due schedule's input goes to the queue, and it is gone.
	if in := f.Fire(at.Add(2 * time.Second)); len(in) != 1 || len(f.Schedules()) != 0 {
		t.Errorf("fire = %d inputs, %d left", len(in), len(f.Schedules()))
	}
}

func TestExpression(t *testing.T) {
	at := time.Date(2026, 3, 2, 20, 0, 0, 0, time.FixedZone("CET", 3600))
	if got := scheduler.Expression(at); got != "at(2026-03-02T19:00:00)" {
		t.Errorf("Expression = %s", got)
	}
	if got := scheduler.Expression(at.Add(time.Millisecond)); got != "at(2026-03-02T19:00:01)" {
		t.Errorf("Expression rounds %s, want up to the next second", got)
	}
}

func TestNewNeedsEveryName(t *testing.T) {
	if _, err := scheduler.New(nil, scheduler.Options{Group: "g"}); err == nil {
		t.Error("New without target, role and DLQ = nil error")
	}
}
