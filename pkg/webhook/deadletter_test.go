package webhook

import (
	"context"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/idempotency"
	"github.com/enrollhook/enrollhook/pkg/queue"
	"github.com/enrollhook/enrollhook/pkg/worker"
)

// newWorkerHarness is a worker with the embedded store and dlq (nil: none;
// queue.NewLocal's dead-letter list keeps what is sent, with its reason).
// The worker's own tests are in package worker; these follow a change from
// the handler through the worker.
func newWorkerHarness(t *testing.T, dlq worker.DeadLetterQueue) *harness {
	t.Helper()
	hs := newHarness(t, &testOptions{Store: idempotency.NewMemory(nil, 0)})
	hs.h.set(func(o *testOptions) { o.DeadLetters = dlq })
	return hs
}

// TestLocalQueueDeadLettersWithTheReason: under `make run` the in-process
// queue's workers send to its own dead-letter list, with the reason.
func TestLocalQueueDeadLettersWithTheReason(t *testing.T) {
	local := queue.NewLocal(&queue.LocalOptions{Workers: 1, RetryDelay: time.Millisecond, MaxReceive: worker.MaxReceive})
	defer local.Close()
	hs := newAsyncHarness(t, local)
	hs.h.set(func(o *testOptions) { o.DeadLetters = local })
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
	if m, err := queue.Open(nil, dead[0].Body); err != nil || m.Request.Ticket.ID != "CHG0030042" {
		t.Errorf("dead letter body: %v", err)
	}
}
