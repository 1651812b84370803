package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/enrollhook/enrollhook/pkg/apply"
	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/chat"
	"github.com/enrollhook/enrollhook/pkg/graph"
	"github.com/enrollhook/enrollhook/pkg/idempotency"
	"github.com/enrollhook/enrollhook/pkg/queue"
	"github.com/enrollhook/enrollhook/pkg/writeback"
)

// responseURLSecret stands for the secret a Slack response_url is: no log
// line may carry it.
const responseURLSecret = "https://hooks.slack.com/commands/T0001/1/s3cr3t"

// validBody is an approved change of the generic envelope, as the webhook
// queues it.
const validBody = `{"ticket":{"id":"CHG0030042","system":"servicenow","state":"approved","requestedBy":"alice@contoso.com","approvedBy":"bob@contoso.com"},` +
	`"configurationId":"2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_Windows10EnrollmentCompletionPageConfiguration",` +
	`"assignmentId":"2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_5e6f0000-0000-0000-0000-000000000001",` +
	`"assignment":{"target":{"@odata.type":"microsoft.graph.groupAssignmentTarget","groupId":"5e6f0000-0000-0000-0000-000000000001",` +
	`"deviceAndAppManagementAssignmentFilterId":"a1b2c3d4-0000-0000-0000-00000000f117","deviceAndAppManagementAssignmentFilterType":"include"},"source":"direct"}}`

// fakeGraph is an in-memory Graph behind a mutex: it answers a PATCH with
// the assignment sent and keeps it, or fails with err (nothing kept);
// calls counts the PATCHes. A read answers what it keeps, else an
// all-devices target.
type fakeGraph struct {
	mu    sync.Mutex
	calls int
	err   error
	held  map[string][]byte
}

var _ apply.Graph = (*fakeGraph)(nil)

func (f *fakeGraph) PatchAssignment(ctx context.Context, cfg, asg string, body any) (*graph.Result, error) {
	b, _ := json.Marshal(body)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	m["id"] = asg
	out, _ := json.Marshal(m)
	if f.held == nil {
		f.held = map[string][]byte{}
	}
	f.held[asg] = out
	return &graph.Result{Body: out, RequestID: "graph-req-1", ClientRequestID: "client-req-1"}, nil
}

// GetAssignment is the read a retry makes after a write of unknown
// outcome.
func (f *fakeGraph) GetAssignment(ctx context.Context, cfg, asg string) (*graph.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if b, ok := f.held[asg]; ok {
		return &graph.Result{Body: b, RequestID: "graph-get-1"}, nil
	}
	return &graph.Result{Body: []byte(`{"id":"` + asg + `","target":{"@odata.type":"#microsoft.graph.allDevicesAssignmentTarget"}}`), RequestID: "graph-get-1"}, nil
}

func (f *fakeGraph) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// gatedGraph tells when a PATCH has started and holds it until release is
// closed, like a slow Graph.
type gatedGraph struct {
	*fakeGraph
	entered chan struct{}
	release chan struct{}
}

func (g *gatedGraph) PatchAssignment(ctx context.Context, cfg, asg string, body any) (*graph.Result, error) {
	g.entered <- struct{}{}
	select {
	case <-g.release:
	case <-ctx.Done():
		return nil, &change.Error{Code: change.CodeTimeout, Message: "the invoke deadline arrived before Graph answered"}
	}
	return g.fakeGraph.PatchAssignment(ctx, cfg, asg, body)
}

// fakeDeadLetters keeps what the worker dead-letters, or fails with err.
type fakeDeadLetters struct {
	mu      sync.Mutex
	bodies  [][]byte
	reasons []queue.Reason
	err     error
}

var _ DeadLetterQueue = (*fakeDeadLetters)(nil)

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

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// harness is a worker over g with the embedded store and, when dlq is not
// nil, a dead-letter queue.
type harness struct {
	w    *Worker
	g    *fakeGraph
	logs *lockedBuffer
}

func newHarness(t *testing.T, g apply.Graph, dlq DeadLetterQueue) *harness {
	t.Helper()
	logs := &lockedBuffer{}
	p := apply.New(g, &apply.Options{Logger: testLogger(logs), Dedupe: apply.Dedupe{Store: idempotency.NewMemory(nil, 0)}})
	hs := &harness{w: New(p, &Options{DeadLetters: dlq}), logs: logs}
	switch g := g.(type) {
	case *fakeGraph:
		hs.g = g
	case *gatedGraph:
		hs.g = g.fakeGraph
	}
	return hs
}

// queuedMessage returns the message the webhook queues for validBody, sent
// by the generic sender as delivery msg_test_1.
func queuedMessage(t *testing.T) []byte {
	t.Helper()
	req, err := change.Decode([]byte(validBody), &change.Options{GraphVersion: "beta"})
	if err != nil {
		t.Fatal(err)
	}
	key, fp := apply.Key("generic", "msg_test_1", req)
	m := &queue.Message{Source: "generic", DeliveryID: "msg_test_1", Key: key, Fingerprint: fp,
		RequestID: "req-1", Request: req, Received: time.Unix(1764403200, 0)}
	b, err := m.Seal(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestWorkerAppliesARedeliveredMessageOnce: SQS delivers at least once; the
// worker's own record makes the second delivery a no-op.
func TestWorkerAppliesARedeliveredMessageOnce(t *testing.T) {
	body := queuedMessage(t)
	hs := newHarness(t, &fakeGraph{}, nil)
	for i := 1; i <= 3; i++ {
		if err := hs.w.Process(context.Background(), queue.Delivery{ID: "m1", Body: body, ReceiveCount: i}); err != nil {
			t.Fatalf("delivery %d: %v", i, err)
		}
	}
	if hs.g.count() != 1 {
		t.Errorf("Graph calls = %d, want 1", hs.g.count())
	}
	if logs := hs.logs.String(); strings.Count(logs, `"msg":"worker"`) != 3 || strings.Count(logs, `"outcome":"replayed"`) != 2*2 { // worker and audit lines
		t.Errorf("log:\n%s", logs)
	}
}

func TestWorkerFailures(t *testing.T) {
	body := queuedMessage(t)
	// A sealed message whose ticket is not approved (the worker checks
	// approval again), and the approved one changed on the way (its seal
	// no longer holds: dropped before it is read).
	m, err := queue.Open(nil, body)
	if err != nil {
		t.Fatal(err)
	}
	m.Request.Ticket.State = "rejected"
	rejected, err := m.Seal(nil)
	if err != nil {
		t.Fatal(err)
	}
	tampered := strings.Replace(string(body), `"state":"approved"`, `"state":"Approved"`, 1)
	if tampered == string(body) {
		t.Fatal("the message has no approved state to change")
	}
	tests := []struct {
		name      string
		body      string
		graphErr  error
		receive   int
		retry     bool // Process returns an error: the message comes back
		graphCall bool
		outcome   string
		problem   string
	}{
		{"Graph throttled beyond the budget", string(body), &change.Error{Code: change.CodeUnavailable, RetryAfter: 7 * time.Second, Message: "Graph is throttling"}, 1, true, true, "retry", "graph-unavailable"},
		{"out of time", string(body), &change.Error{Code: change.CodeTimeout, Message: "the invoke deadline arrived"}, 2, true, true, "retry", "out-of-time"},
		{"still failing on the last receive", string(body), &change.Error{Code: change.CodeUnavailable, Message: "Graph is throttling"}, MaxReceive, true, true, "dead-lettered", "graph-unavailable"},
		{"not found", string(body), &change.Error{Code: change.CodeNotFound, Message: "Intune has no such assignment"}, 1, false, true, "failed", "not-found"},
		{"refused", string(body), &change.Error{Code: change.CodeGraphRefused, Message: "Graph refused the change"}, 1, false, true, "failed", "graph-refused"},
		{"not approved", string(rejected), nil, 1, false, false, "failed", "not-approved"},
		{"changed on the way", tampered, nil, 1, false, false, "dropped", "malformed-request"},
		{"not a message", `{"v":99}`, nil, 1, false, false, "dropped", "malformed-request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := newHarness(t, &fakeGraph{}, nil)
			hs.g.err = tt.graphErr
			err := hs.w.Process(context.Background(), queue.Delivery{ID: "m1", Body: []byte(tt.body), ReceiveCount: tt.receive})
			if (err != nil) != tt.retry {
				t.Fatalf("Process = %v, want retry %v", err, tt.retry)
			}
			if (hs.g.count() > 0) != tt.graphCall {
				t.Fatalf("Graph calls = %d", hs.g.count())
			}
			logs := hs.logs.String()
			if !strings.Contains(logs, `"outcome":"`+tt.outcome+`"`) || !strings.Contains(logs, `"problem":"`+tt.problem+`"`) {
				t.Errorf("log lacks outcome %s, problem %s:\n%s", tt.outcome, tt.problem, logs)
			}
			// A retryable failure releases the change: the next receive
			// applies it. A permanent one is kept: it never reaches Graph
			// again.
			hs.g.mu.Lock()
			hs.g.err = nil
			hs.g.mu.Unlock()
			before := hs.g.count()
			_ = hs.w.Process(context.Background(), queue.Delivery{ID: "m1", Body: []byte(tt.body), ReceiveCount: tt.receive + 1})
			if got := hs.g.count() - before; tt.retry && got != 1 || !tt.retry && got != 0 {
				t.Errorf("next receive made %d Graph calls", got)
			}
		})
	}
}

// TestWorkerDuplicateInProgressComesBack: a copy of a message that arrives
// while another worker applies it is sent back (not applied, not dropped),
// and is a no-op once the first is done.
func TestWorkerDuplicateInProgressComesBack(t *testing.T) {
	body := queuedMessage(t)
	g := &gatedGraph{fakeGraph: &fakeGraph{}, entered: make(chan struct{}, 1), release: make(chan struct{})}
	hs := newHarness(t, g, nil)
	first := make(chan error, 1)
	go func() {
		first <- hs.w.Process(context.Background(), queue.Delivery{ID: "m1", Body: body, ReceiveCount: 1})
	}()
	<-g.entered
	if err := hs.w.Process(context.Background(), queue.Delivery{ID: "m1-copy", Body: body, ReceiveCount: 1}); err == nil {
		t.Fatalf("the copy was acknowledged while the first was in progress:\n%s", hs.logs)
	}
	if !strings.Contains(hs.logs.String(), `"problem":"delivery-in-progress"`) {
		t.Errorf("log:\n%s", hs.logs)
	}
	close(g.release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := hs.w.Process(context.Background(), queue.Delivery{ID: "m1-copy", Body: body, ReceiveCount: 2}); err != nil {
		t.Fatal(err)
	}
	if g.count() != 1 {
		t.Errorf("Graph calls = %d, want 1", g.count())
	}
}

// TestWorkerLastReceiveDeadLettersWithTheReason: a retryable failure comes
// back until the last receive; then the worker sends the message to the
// dead-letter queue with its reason and reports it done, so SQS deletes it
// from the main queue.
func TestWorkerLastReceiveDeadLettersWithTheReason(t *testing.T) {
	body := queuedMessage(t)
	m, err := queue.Open(nil, body)
	if err != nil {
		t.Fatal(err)
	}
	dlq := &fakeDeadLetters{}
	hs := newHarness(t, &fakeGraph{}, dlq)
	hs.g.err = &change.Error{Code: change.CodeUnavailable, RetryAfter: 7 * time.Second, Message: "Graph is throttling"}
	for i := 1; i < MaxReceive; i++ {
		if err := hs.w.Process(context.Background(), queue.Delivery{ID: "m1", Body: body, ReceiveCount: i}); err == nil {
			t.Fatalf("receive %d: Process = nil, want the failure (the message comes back)", i)
		}
	}
	if bodies, _ := dlq.sent(); len(bodies) != 0 {
		t.Fatalf("dead-lettered before the last receive")
	}
	if err := hs.w.Process(context.Background(), queue.Delivery{ID: "m1", Body: body, ReceiveCount: MaxReceive}); err != nil {
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
	hs := newHarness(t, &fakeGraph{}, dlq)
	hs.g.err = &change.Error{Code: change.CodeUnavailable, Message: "Graph is throttling"}
	ev := events.SQSEvent{Records: []events.SQSMessage{
		{MessageId: "m1", Body: string(body), Attributes: map[string]string{"ApproximateReceiveCount": "5"}},
	}}
	resp := queue.HandleSQS(context.Background(), ev, hs.w.Process)
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
	resp = queue.HandleSQS(context.Background(), ev, hs.w.Process)
	if len(resp.BatchItemFailures) != 1 {
		t.Fatalf("permanent failure, dead-letter queue down: batchItemFailures = %+v, want [m1]", resp.BatchItemFailures)
	}
	before := hs.g.count()
	dlq.mu.Lock()
	dlq.err = nil
	dlq.mu.Unlock()
	ev.Records[0].Attributes["ApproximateReceiveCount"] = "2"
	if resp = queue.HandleSQS(context.Background(), ev, hs.w.Process); len(resp.BatchItemFailures) != 0 {
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
	hs := newHarness(t, &fakeGraph{}, dlq)
	hs.g.err = &change.Error{Code: change.CodeNotFound, Message: "Intune has no such assignment"}
	if err := hs.w.Process(context.Background(), queue.Delivery{ID: "m1", Body: body, ReceiveCount: 1}); err != nil {
		t.Fatalf("Process = %v, want nil (not retried)", err)
	}
	if err := hs.w.Process(context.Background(), queue.Delivery{ID: "m2", Body: []byte(`{"v":99}`), ReceiveCount: 1}); err != nil {
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
	if err := hs.w.Process(context.Background(), queue.Delivery{ID: "m1-replayed", Body: bodies[0], ReceiveCount: 1}); err != nil {
		t.Fatal(err)
	}
	if hs.g.count() != before+1 || !strings.Contains(hs.logs.String(), `"outcome":"applied"`) {
		t.Errorf("the moved-back message was not applied (%d Graph calls):\n%s", hs.g.count()-before, hs.logs)
	}
}

// chatMessage is a queued chat command of sender: the change of validBody
// asked (and approved, as its own approval) by user, who is also known by
// other.
func chatMessage(t *testing.T, sender, tenant, user, other string) []byte {
	t.Helper()
	req, err := change.Decode([]byte(validBody), &change.Options{GraphVersion: "beta"})
	if err != nil {
		t.Fatal(err)
	}
	actor := sender + ":" + tenant + "/" + user
	req.Ticket = change.Ticket{ID: "Ev0001", System: sender, State: change.ApprovedState, RequestedBy: actor, RequestedByID: user, ApprovedBy: actor, ApprovedByID: user}
	key, fp := apply.Key(sender, "Ev0001", req)
	m := &queue.Message{Source: sender, DeliveryID: "Ev0001", Key: key, Fingerprint: fp, RequestID: "req-chat", Request: req,
		Received: time.Now(), Chat: &queue.Chat{Tenant: tenant, User: user, OtherUser: other}}
	b, err := m.Seal(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestWorkerChecksTheAllowListAgain: a chat command queued by a user an
// administrator removed from the sender's allow-list since is refused
// (policy-command) and never reaches Graph; one the allow-list admits,
// also by the user's other (Teams 29:) id, is applied.
func TestWorkerChecksTheAllowListAgain(t *testing.T) {
	const tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	allow := map[string]chat.Allowlist{
		"slack": {Tenant: "T0001", Users: []string{"U0APPROVE"}},
		"teams": {Tenant: tenant, Users: []string{"29:1abcDEF"}},
	}
	for _, tc := range []struct {
		name, sender, tenant, user, other string
		applied                           bool
	}{
		{"removed from the Slack allow-list", "slack", "T0001", "U0456EFGH", "", false},
		{"still on the Slack allow-list", "slack", "T0001", "U0APPROVE", "", true},
		{"on the Teams allow-list by the 29: id", "teams", tenant, "0a1b2c3d-0000-0000-0000-000000000042", "29:1abcDEF", true},
		{"not on the Teams allow-list", "teams", tenant, "0a1b2c3d-0000-0000-0000-000000000043", "29:9zzz", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs := newHarness(t, &fakeGraph{}, nil)
			hs.w.opts.Allowlists = allow
			err := hs.w.Process(context.Background(), queue.Delivery{ID: "m1", Body: chatMessage(t, tc.sender, tc.tenant, tc.user, tc.other), ReceiveCount: 1})
			if err != nil {
				t.Fatalf("Process = %v, want done (applied, or refused for good)", err)
			}
			if applied := hs.g.count() == 1; applied != tc.applied {
				t.Fatalf("applied = %v, want %v:\n%s", applied, tc.applied, hs.logs)
			}
			if !tc.applied && !strings.Contains(hs.logs.String(), `"problem":"policy-command"`) {
				t.Errorf("the refusal is not policy-command:\n%s", hs.logs)
			}
		})
	}
}

// TestWorkerAllowListAfterTheTake: a copy of a chat command applied
// already is answered from the store even once its user is off the
// allow-list (not refused, not dead-lettered); and a worker without the
// allow-list settings refuses a command naming them, not the user.
func TestWorkerAllowListAfterTheTake(t *testing.T) {
	dl := &fakeDeadLetters{}
	hs := newHarness(t, &fakeGraph{}, dl)
	hs.w.opts.Allowlists = map[string]chat.Allowlist{"slack": {Tenant: "T0001", Users: []string{"U0APPROVE"}}}
	body := chatMessage(t, "slack", "T0001", "U0APPROVE", "")
	if err := hs.w.Process(context.Background(), queue.Delivery{ID: "m1", Body: body, ReceiveCount: 1}); err != nil || hs.g.count() != 1 {
		t.Fatalf("the command = %v, %d Graph calls; want applied", err, hs.g.count())
	}
	hs.w.opts.Allowlists = map[string]chat.Allowlist{"slack": {Tenant: "T0001", Users: []string{"U0OTHER"}}}
	if err := hs.w.Process(context.Background(), queue.Delivery{ID: "m1", Body: body, ReceiveCount: 2}); err != nil {
		t.Fatalf("its copy = %v", err)
	}
	if sent, _ := dl.sent(); len(sent) != 0 || strings.Contains(hs.logs.String(), `"problem":"policy-command"`) || hs.g.count() != 1 {
		t.Errorf("the copy of an applied command was refused or dead-lettered (%d dead letters):\n%s", len(sent), hs.logs)
	}

	unset := newHarness(t, &fakeGraph{}, nil)
	unset.w.opts.Allowlists = map[string]chat.Allowlist{"slack": {TenantSetting: "ENROLLHOOK_SLACK_TEAM_ID", UsersSetting: "ENROLLHOOK_SLACK_ALLOWED_USERS"}}
	_ = unset.w.Process(context.Background(), queue.Delivery{ID: "m1", Body: chatMessage(t, "slack", "T0001", "U0APPROVE", ""), ReceiveCount: 1})
	if logs := unset.logs.String(); unset.g.count() != 0 || !strings.Contains(logs, "ENROLLHOOK_SLACK_ALLOWED_USERS") || !strings.Contains(logs, `"problem":"policy-command"`) {
		t.Errorf("a worker without the allow-list settings: %d Graph calls, log:\n%s", unset.g.count(), logs)
	}
}

type switchPolicy struct{ refuse bool }

func (switchPolicy) Check(string, bool, *change.Request) error { return nil }
func (p *switchPolicy) CheckCommand(string, string, string, string) error {
	if p.refuse {
		return &change.Error{Code: change.CodeForbidden, Kind: change.KindPolicyCommand, Message: "user may not assign any more"}
	}
	return nil
}
func (switchPolicy) CheckWindow(string, bool, *change.Window, time.Time) (time.Duration, error) {
	return 0, nil
}
func (switchPolicy) ScheduleAhead(string) time.Duration     { return 0 }
func (switchPolicy) SecondPerson(string, string) bool       { return false }
func (switchPolicy) MayApprove(string, string, string) bool { return false }

// TestWorkerPolicyRefusalOfAnAppliedCommandsCopy: a copy of an applied
// chat command whose user the policy (not the allow-list) now refuses is
// answered from the store, not refused and dead-lettered.
func TestWorkerPolicyRefusalOfAnAppliedCommandsCopy(t *testing.T) {
	logs := &lockedBuffer{}
	g, dl, pol := &fakeGraph{}, &fakeDeadLetters{}, &switchPolicy{}
	p := apply.New(g, &apply.Options{Logger: testLogger(logs), Dedupe: apply.Dedupe{Store: idempotency.NewMemory(nil, 0)}, Policy: pol})
	w := New(p, &Options{DeadLetters: dl})
	body := chatMessage(t, "slack", "T0001", "U0APPROVE", "")
	if err := w.Process(context.Background(), queue.Delivery{ID: "m1", Body: body, ReceiveCount: 1}); err != nil || g.count() != 1 {
		t.Fatalf("applied? %v %d", err, g.count())
	}
	pol.refuse = true
	_ = w.Process(context.Background(), queue.Delivery{ID: "m1", Body: body, ReceiveCount: 2})
	if sent, _ := dl.sent(); len(sent) != 0 {
		t.Errorf("the copy of an applied command was dead-lettered as refused (%d):\n%s", len(sent), logs)
	}
}

// narrowedPolicy refuses every change once narrowed is set.
type narrowedPolicy struct {
	switchPolicy
	narrowed bool
}

func (p *narrowedPolicy) Check(string, bool, *change.Request) error {
	if p.narrowed {
		return &change.Error{Code: change.CodeForbidden, Kind: change.KindPolicyConfiguration, Message: "the configuration is not allowed any more"}
	}
	return nil
}

// TestWorkerPolicyOnceItHoldsTheChange: a copy of an applied queued change
// (SQS delivers at least once) that a policy narrowed since would refuse
// is answered from the store, not refused "nothing was changed" and
// dead-lettered; a change not applied yet is refused as before, and
// released for the dead-letter queue to take.
func TestWorkerPolicyOnceItHoldsTheChange(t *testing.T) {
	logs := &lockedBuffer{}
	g, dl, pol := &fakeGraph{}, &fakeDeadLetters{}, &narrowedPolicy{}
	p := apply.New(g, &apply.Options{Logger: testLogger(logs), Dedupe: apply.Dedupe{Store: idempotency.NewMemory(nil, 0)}, Policy: pol})
	w := New(p, &Options{DeadLetters: dl})
	body := queuedMessage(t)
	if err := w.Process(context.Background(), queue.Delivery{ID: "m1", Body: body, ReceiveCount: 1}); err != nil || g.count() != 1 {
		t.Fatalf("the change = %v, %d Graph calls; want applied", err, g.count())
	}
	pol.narrowed = true
	if err := w.Process(context.Background(), queue.Delivery{ID: "m1", Body: body, ReceiveCount: 2}); err != nil {
		t.Fatalf("its copy = %v", err)
	}
	if sent, _ := dl.sent(); len(sent) != 0 || g.count() != 1 {
		t.Fatalf("the copy of an applied change was dead-lettered (%d) or applied again (%d calls):\n%s", len(sent), g.count(), logs)
	}
	other := chatMessage(t, "slack", "T0001", "U0APPROVE", "")
	if err := w.Process(context.Background(), queue.Delivery{ID: "m2", Body: other, ReceiveCount: 1}); err != nil {
		t.Fatalf("a change the narrowed policy refuses = %v, want done (dead-lettered)", err)
	}
	if sent, reasons := dl.sent(); len(sent) != 1 || reasons[0].Problem != "policy-configuration" || g.count() != 1 {
		t.Errorf("dead letters %d %+v, %d Graph calls; want the refused change dead-lettered with its rule", len(sent), reasons, g.count())
	}
}

// downStore is a de-duplication store that cannot be reached.
type downStore struct{}

func (downStore) Begin(context.Context, string, string, time.Time) (*idempotency.Lease, error) {
	return nil, errors.New("dynamodb: no route")
}
func (downStore) Complete(context.Context, *idempotency.Lease, idempotency.Response, time.Time) error {
	return nil
}
func (downStore) Release(context.Context, *idempotency.Lease) error { return nil }
func (downStore) Note(context.Context, *idempotency.Lease, []byte, time.Time) error {
	return errors.New("store down")
}
func (downStore) Attempted(context.Context, *idempotency.Lease, []byte, time.Time) error {
	return errors.New("store down")
}

// ticketNotes keeps the write-back's notes.
type ticketNotes struct {
	mu  sync.Mutex
	got []writeback.Note
}

func (n *ticketNotes) Write(_ context.Context, x *writeback.Note) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.got = append(n.got, *x)
	return nil
}

// TestWorkerLastReceiveWithTheStoreDownIsUnknown: on the last receive the
// store that would say what earlier receives did cannot be read: the
// ticket is told the outcome is unknown (an earlier receive may have
// written before its answer was lost), not that nothing was applied.
func TestWorkerLastReceiveWithTheStoreDownIsUnknown(t *testing.T) {
	req, err := change.Decode([]byte(validBody), &change.Options{GraphVersion: "beta"})
	if err != nil {
		t.Fatal(err)
	}
	key, fp := apply.Key("servicenow", "msg_sn_1", req)
	body, err := (&queue.Message{Source: "servicenow", DeliveryID: "msg_sn_1", Key: key, Fingerprint: fp, RequestID: "req-1",
		Request: req, Received: time.Now()}).Seal(nil)
	if err != nil {
		t.Fatal(err)
	}
	notes := &ticketNotes{}
	g := &fakeGraph{}
	p := apply.New(g, &apply.Options{Logger: slog.New(slog.DiscardHandler), Dedupe: apply.Dedupe{Store: downStore{}}, WriteBack: notes})
	w := New(p, &Options{DeadLetters: &fakeDeadLetters{}})
	_ = w.Process(context.Background(), queue.Delivery{ID: "m1", Body: body, ReceiveCount: MaxReceive})
	if len(notes.got) != 1 || notes.got[0].Outcome != writeback.Unknown || g.count() != 0 {
		t.Errorf("notes %+v, %d Graph calls; want one %q", notes.got, g.count(), writeback.Unknown)
	}
}
