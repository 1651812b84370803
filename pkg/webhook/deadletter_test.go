package webhook

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/idempotency"
	"github.com/enrollhook/enrollhook/pkg/queue"
)

// fakeDeadLetters keeps what the worker dead-letters, or fails with err.
type fakeDeadLetters struct {
	mu      sync.Mutex
	bodies  [][]byte
	reasons []queue.Reason
	err     error
}

func (f *fakeDeadLetters) DeadLetter(ctx context.Context, body []byte, r queue.Reason) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.bodies = append(f.bodies, append([]byte(nil), body...))
	f.reasons = append(f.reasons, r)
	return nil
}

func (f *fakeDeadLetters) sent() ([][]byte, []queue.Reason) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]byte(nil), f.bodies...), append([]queue.Reason(nil), f.reasons...)
}

// newWorkerHarness is a worker with the embedded store and dlq.
func newWorkerHarness(t *testing.T, dlq DeadLetterQueue) *harness {
	t.Helper()
	hs := newHarness(t, &Options{Store: idempotency.NewMemory(nil, 0)})
	hs.h.opts.DeadLetters = dlq
	return hs
}

// TestWorkerLastReceiveDeadLettersWithTheReason: a retryable failure comes
// back until the last receive; then the worker sends the message to the
// dead-letter queue with its reason and reports it done, so SQS deletes it
// from the main queue.
func TestWorkerLastReceiveDeadLettersWithTheReason(t *testing.T) {
	body := queuedMessage(t)
	m, err := queue.Decode(body)
	if err != nil {
		t.Fatal(err)
	}
	dlq := &fakeDeadLetters{}
	hs := newWorkerHarness(t, dlq)
	hs.g.err = &change.Error{Code: change.CodeUnavailable, RetryAfter: 7 * time.Second, Message: "Graph is throttling"}
	for i := 1; i < MaxReceive; i++ {
		if err := hs.h.Process(context.Background(), queue.Delivery{ID: "m1", Body: body, ReceiveCount: i}); err == nil {
			t.Fatalf("receive %d: Process = nil, want the failure (the message comes back)", i)
		}
	}
	if bodies, _ := dlq.sent(); len(bodies) != 0 {
		t.Fatalf("dead-lettered before the last receive")
	}
	if err := hs.h.Process(context.Background(), queue.Delivery{ID: "m1", Body: body, ReceiveCount: MaxReceive}); err != nil {
		t.Fatalf("last receive: Process = %v, want nil (in the dead-letter queue, deleted from the main queue)", err)
	}
	bodies, reasons := dlq.sent()
	if len(bodies) != 1 || string(bodies[0]) != string(body) {
		t.Fatalf("dead letters = %q, want the message as queued", bodies)
	}
	want := queue.Reason{Problem: "graph-unavailable", Detail: "Graph is throttling", Failure: queue.FailureExhausted,
		ReceiveCount: MaxReceive, RequestID: m.RequestID, MessageID: "m1"}
	if reasons[0] != want {
		t.Errorf("reason = %+v, want %+v", reasons[0], want)
	}
	logs := hs.logs.String()
	if !strings.Contains(logs, `"deadLetter":"sent"`) || !strings.Contains(logs, `"outcome":"dead-lettered"`) {
		t.Errorf("log lacks the dead letter:\n%s", logs)
	}
}

// TestWorkerDeadLetterFailureComesBack: if the dead-letter queue refuses,
// the message is reported as failed (batchItemFailures), so SQS's redrive
// still moves it: nothing is lost. The same for a permanent failure, whose
// record is released so the next receive tries again.
func TestWorkerDeadLetterFailureComesBack(t *testing.T) {
	body := queuedMessage(t)
	dlq := &fakeDeadLetters{err: errors.New("queue: sqs:SendMessage to the dead-letter queue: AccessDenied")}
	hs := newWorkerHarness(t, dlq)
	hs.g.err = &change.Error{Code: change.CodeUnavailable, Message: "Graph is throttling"}
	ev := events.SQSEvent{Records: []events.SQSMessage{
		{MessageId: "m1", Body: string(body), Attributes: map[string]string{"ApproximateReceiveCount": "5"}},
	}}
	resp := queue.HandleSQS(context.Background(), ev, hs.h.Process)
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "m1" {
		t.Fatalf("batchItemFailures = %+v, want [m1] (redrive moves it)", resp.BatchItemFailures)
	}
	logs := hs.logs.String()
	if !strings.Contains(logs, `"deadLetter":"failed"`) || !strings.Contains(logs, `"deadLetterCause":"queue: sqs:SendMessage to the dead-letter queue: AccessDenied"`) {
		t.Errorf("log lacks the failed dead letter:\n%s", logs)
	}

	hs.g.mu.Lock()
	hs.g.err = &change.Error{Code: change.CodeNotFound, Message: "Intune has no such assignment"}
	hs.g.mu.Unlock()
	ev.Records[0].Attributes["ApproximateReceiveCount"] = "1"
	resp = queue.HandleSQS(context.Background(), ev, hs.h.Process)
	if len(resp.BatchItemFailures) != 1 {
		t.Fatalf("permanent failure, dead-letter queue down: batchItemFailures = %+v, want [m1]", resp.BatchItemFailures)
	}
	before := hs.g.count()
	dlq.mu.Lock()
	dlq.err = nil
	dlq.mu.Unlock()
	ev.Records[0].Attributes["ApproximateReceiveCount"] = "2"
	if resp = queue.HandleSQS(context.Background(), ev, hs.h.Process); len(resp.BatchItemFailures) != 0 {
		t.Fatalf("batchItemFailures = %+v, want none once the dead-letter queue takes it", resp.BatchItemFailures)
	}
	if hs.g.count() != before+1 {
		t.Errorf("the next receive made %d Graph calls, want 1 (the record was released)", hs.g.count()-before)
	}
	if _, reasons := dlq.sent(); len(reasons) != 1 || reasons[0].Problem != "not-found" || reasons[0].Failure != queue.FailurePermanent {
		t.Errorf("reasons = %+v, want one not-found, permanent", reasons)
	}
}

// TestWorkerPermanentFailureDeadLettered: a permanent failure is not
// retried; it goes to the dead-letter queue with its reason, and its record
// is released, so that moving the message back once the cause is fixed
// applies the change. An unreadable message goes there too (a newer
// webhook's message can be moved back after the worker's update).
func TestWorkerPermanentFailureDeadLettered(t *testing.T) {
	body := queuedMessage(t)
	dlq := &fakeDeadLetters{}
	hs := newWorkerHarness(t, dlq)
	hs.g.err = &change.Error{Code: change.CodeNotFound, Message: "Intune has no such assignment"}
	if err := hs.h.Process(context.Background(), queue.Delivery{ID: "m1", Body: body, ReceiveCount: 1}); err != nil {
		t.Fatalf("Process = %v, want nil (not retried)", err)
	}
	if err := hs.h.Process(context.Background(), queue.Delivery{ID: "m2", Body: []byte(`{"v":99}`), ReceiveCount: 1}); err != nil {
		t.Fatalf("Process = %v, want nil (not retried)", err)
	}
	bodies, reasons := dlq.sent()
	if len(reasons) != 2 {
		t.Fatalf("reasons = %+v, want 2", reasons)
	}
	if r := reasons[0]; r.Problem != "not-found" || r.Failure != queue.FailurePermanent || r.ReceiveCount != 1 || r.MessageID != "m1" || r.RequestID == "" || r.Detail == "" {
		t.Errorf("reason = %+v, want not-found, permanent, with the request id", r)
	}
	if r := reasons[1]; r.Problem != "malformed-request" || r.RequestID != "" || string(bodies[1]) != `{"v":99}` {
		t.Errorf("reason = %+v body %s, want malformed-request without a request id", r, bodies[1])
	}
	logs := hs.logs.String()
	if strings.Count(logs, `"deadLetter":"sent"`) != 2 || !strings.Contains(logs, `"outcome":"failed"`) || !strings.Contains(logs, `"outcome":"dropped"`) {
		t.Errorf("log:\n%s", logs)
	}

	// The operator fixes the cause and moves the message back: applied.
	hs.g.mu.Lock()
	hs.g.err = nil
	hs.g.mu.Unlock()
	before := hs.g.count()
	if err := hs.h.Process(context.Background(), queue.Delivery{ID: "m1-replayed", Body: bodies[0], ReceiveCount: 1}); err != nil {
		t.Fatal(err)
	}
	if hs.g.count() != before+1 || !strings.Contains(hs.logs.String(), `"outcome":"applied"`) {
		t.Errorf("the moved-back message was not applied (%d Graph calls):\n%s", hs.g.count()-before, hs.logs)
	}
}

// TestLocalQueueDeadLettersWithTheReason: under `make run` the in-process
// queue's workers send to its own dead-letter list, with the reason.
func TestLocalQueueDeadLettersWithTheReason(t *testing.T) {
	local := queue.NewLocal(&queue.LocalOptions{Workers: 1, RetryDelay: time.Millisecond, MaxReceive: MaxReceive})
	defer local.Close()
	hs := newAsyncHarness(t, local)
	hs.h.opts.DeadLetters = local
	hs.g.err = &change.Error{Code: change.CodeGraphRefused, Message: "Graph refused the change"}
	if w := hs.do(t, signed(t, validBody, testNow)); w.Code != 202 {
		t.Fatalf("status = %d %s", w.Code, w.Body)
	}
	local.Start(hs.h.Process)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := local.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	dead := local.DeadLetters()
	if len(dead) != 1 || dead[0].Reason.Problem != "graph-refused" || dead[0].Reason.Failure != queue.FailurePermanent || dead[0].Reason.ReceiveCount != 1 {
		t.Fatalf("dead letters = %+v, want one graph-refused after one receive", dead)
	}
	if m, err := queue.Decode(dead[0].Body); err != nil || m.Request.Ticket.ID != "CHG0030042" {
		t.Errorf("dead letter body: %v", err)
	}
}
