package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/apply"
	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/graph"
	"github.com/enrollhook/enrollhook/pkg/idempotency"
	"github.com/enrollhook/enrollhook/pkg/limiter"
	"github.com/enrollhook/enrollhook/pkg/queue"
	"github.com/enrollhook/enrollhook/pkg/source/generic"
	"github.com/enrollhook/enrollhook/pkg/source/slack"
	"github.com/enrollhook/enrollhook/pkg/worker"
)

// captureQueue keeps what is enqueued, or fails with err.
type captureQueue struct {
	mu   sync.Mutex
	msgs [][]byte
	err  error
}

func (q *captureQueue) Enqueue(ctx context.Context, m *queue.Message) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.err != nil {
		return q.err
	}
	b, err := m.Seal(nil)
	if err != nil {
		return err
	}
	q.msgs = append(q.msgs, b)
	return nil
}

func (q *captureQueue) messages() [][]byte {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([][]byte(nil), q.msgs...)
}

// newAsyncHarness serves the generic sender asynchronously on q, with the
// embedded store.
func newAsyncHarness(t *testing.T, q Queue) *harness {
	t.Helper()
	hs := newHarness(t, &testOptions{Store: idempotency.NewMemory(nil, 0)})
	hs.h.set(func(o *testOptions) { o.Queue = q })
	hs.h.async = map[string]bool{generic.Name: true}
	return hs
}

func TestAsyncAnswers202AndTheWorkerApplies(t *testing.T) {
	local := queue.NewLocal(&queue.LocalOptions{Workers: 1, RetryDelay: time.Millisecond})
	defer local.Close()
	hs := newAsyncHarness(t, local)
	w := hs.do(t, signed(t, validBody, testNow))
	if w.Code != http.StatusAccepted {
		t.Fatalf("status = %d %s, want 202", w.Code, w.Body)
	}
	var q Queued
	if err := json.Unmarshal(w.Body.Bytes(), &q); err != nil || q.Status != StatusQueued || q.RequestID != w.Header().Get(HeaderRequestID) ||
		q.Ticket != "CHG0030042" || q.DeliveryID != "msg_test_1" {
		t.Fatalf("body = %s, want status queued with the request id, ticket and delivery id", w.Body)
	}
	if hs.g.count() != 0 {
		t.Fatalf("Graph called before the worker ran")
	}
	local.Start(hs.h.Process)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := local.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if hs.g.count() != 1 {
		t.Fatalf("Graph calls = %d, want 1", hs.g.count())
	}
	// The sender's retry gets the 202 again and queues nothing.
	w = hs.do(t, signed(t, validBody, testNow))
	if w.Code != http.StatusAccepted || w.Header().Get(HeaderReplay) != "true" {
		t.Fatalf("retry: %d replay %q, want the stored 202", w.Code, w.Header().Get(HeaderReplay))
	}
	if err := local.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if hs.g.count() != 1 {
		t.Errorf("Graph calls after the retry = %d, want 1", hs.g.count())
	}
	logs := hs.logs.String()
	for _, want := range []string{`"outcome":"queued","status":202`, `"msg":"worker"`, `"outcome":"applied"`,
		`"ticket":"CHG0030042"`, `"approvedBy":"bob@contoso.com"`, `"graphRequestId":"graph-req-1"`, `"xRequestId":"` + q.RequestID + `"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s:\n%s", want, logs)
		}
	}
}

func TestEnqueueFailureReleasesTheDelivery(t *testing.T) {
	q := &captureQueue{err: errors.New("sqs down")}
	hs := newAsyncHarness(t, q)
	w := hs.do(t, signed(t, validBody, testNow))
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Fatalf("status = %d Retry-After %q, want 503 with Retry-After", w.Code, w.Header().Get("Retry-After"))
	}
	if p := decodeProblem(t, w); p.Type != apply.ProblemTypePrefix+"queue-unavailable" || strings.Contains(w.Body.String(), "sqs down") {
		t.Fatalf("problem = %s", w.Body)
	}
	q.mu.Lock()
	q.err = nil
	q.mu.Unlock()
	if w := hs.do(t, signed(t, validBody, testNow)); w.Code != http.StatusAccepted || w.Header().Get(HeaderReplay) != "" {
		t.Fatalf("retry: %d replay %q, want a fresh 202", w.Code, w.Header().Get(HeaderReplay))
	}
	if n := len(q.messages()); n != 1 {
		t.Errorf("%d messages queued, want 1", n)
	}
}

// queuedMessage returns the message the webhook queues for validBody.
func queuedMessage(t *testing.T) []byte {
	t.Helper()
	q := &captureQueue{}
	hs := newAsyncHarness(t, q)
	if w := hs.do(t, signed(t, validBody, testNow)); w.Code != http.StatusAccepted {
		t.Fatalf("status = %d %s", w.Code, w.Body)
	}
	return q.messages()[0]
}

// TestSlackAsyncAcceptedThenOutcomePosted: a queued Slack command is answered
// "accepted" at once; the worker, which has no signing secret (only a
// Poster), posts the outcome to response_url.
func TestSlackAsyncAcceptedThenOutcomePosted(t *testing.T) {
	posted := make(chan slackMessage, 4)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m slackMessage
		_ = json.NewDecoder(r.Body).Decode(&m)
		posted <- m
	}))
	defer hook.Close()
	c := newChatHarness(t, &fakeGraph{}, time.Second)
	q := &captureQueue{}
	c.h.set(func(o *testOptions) { o.Queue, o.Store = q, idempotency.NewMemory(nil, 0) })
	c.h.async = map[string]bool{slack.Name: true, "teams": true}
	form := slackForm("assign "+chatCfg+" "+chatAsg+" allusers", "response_url", hook.URL+"/commands/T0001/1/x")
	for i := 0; i < 2; i++ { // the same command twice is queued once
		m := decodeSlack(t, c.do(t, slackRequest(t, form, testNow)))
		if !strings.Contains(m.Text, "Accepted") || !strings.Contains(m.Text, "outcome will follow") {
			t.Fatalf("answer %q, want accepted", m.Text)
		}
	}
	text := decodeTeams(t, c.do(t, teamsRequest(t, teamsActivity("assign "+chatCfg+" "+chatAsg+" alldevices", testNow))))
	if !strings.Contains(text, "Accepted") || !strings.Contains(text, "check with `show`") {
		t.Fatalf("Teams answer %q", text)
	}
	msgs := q.messages()
	if len(msgs) != 2 || c.g.count() != 0 {
		t.Fatalf("%d messages queued and %d Graph calls, want 2 and 0", len(msgs), c.g.count())
	}
	// The Teams user's both ids go with the command, for the allow-list the
	// worker checks again.
	if m, err := queue.Open(nil, msgs[1]); err != nil || m.Chat == nil || m.Chat.User != chatAAD || m.Chat.OtherUser != "29:1abcDEF" {
		t.Errorf("the queued Teams command's user = %+v, %v; want %s and 29:1abcDEF", m, err, chatAAD)
	}
	// Show is a read: it is answered in the request, not queued.
	if m := decodeSlack(t, c.do(t, slackRequest(t, slackForm("show "+chatCfg+" "+chatAsg, "trigger_id", "999.1.x"), testNow))); !strings.Contains(m.Text, "targets") {
		t.Errorf("show answered %q", m.Text)
	}

	g := &fakeGraph{}
	logs := &lockedBuffer{}
	worker := newTestHandler(g, nil, &testOptions{Logger: testLogger(logs), Store: idempotency.NewMemory(nil, 0),
		FollowUps: map[string]worker.FollowUpper{slack.Name: slack.NewPoster(&slack.Options{AllowLoopbackResponseURL: true})}})
	for _, b := range msgs {
		if err := worker.Process(context.Background(), queue.Delivery{ID: "m", Body: b, ReceiveCount: 1}); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case m := <-posted:
		if !strings.Contains(m.Text, "Done") || !strings.Contains(m.Text, "all licensed users") || !strings.Contains(m.Text, "U0456EFGH") {
			t.Errorf("follow-up %q", m.Text)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no follow-up posted:\n%s", logs)
	}
	if g.count() != 2 {
		t.Errorf("worker Graph calls = %d, want 2", g.count())
	}
	l := logs.String()
	for _, want := range []string{`"followUp":"posted"`, `"followUp":"unavailable"`, `"requestedBy":"slack:T0001/U0456EFGH"`} {
		if !strings.Contains(l, want) {
			t.Errorf("worker log lacks %s:\n%s", want, l)
		}
	}
	if strings.Contains(l, hook.URL) {
		t.Errorf("the response_url reached the log")
	}

	// A permanent failure is posted too, in words.
	g.err = &change.Error{Code: change.CodeNotFound, Message: "Intune has no such assignment"}
	worker.set(func(o *testOptions) { o.Store = idempotency.NewMemory(nil, 0) })
	if err := worker.Process(context.Background(), queue.Delivery{ID: "m", Body: msgs[0], ReceiveCount: 1}); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-posted:
		if !strings.Contains(m.Text, "not applied") || !strings.Contains(m.Text, "no such assignment") {
			t.Errorf("failure follow-up %q", m.Text)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no failure follow-up posted")
	}
}

// TestOutOfTimeLeavesNoRecordBehind (issue 5, item 6): a delivery that runs
// out of time answers 503 with Retry-After and releases its record, so the
// sender's retry runs at once instead of meeting 409 until the record's
// expiry; the same for a write slot that would come after the deadline.
func TestOutOfTimeLeavesNoRecordBehind(t *testing.T) {
	// The Graph call is cut 400 ms before the deadline, time enough to
	// answer on a loaded machine.
	s := newStackGraph(t, 3, func(o *graph.Options) { o.DeadlineMargin = 400 * time.Millisecond })
	store := idempotency.NewMemory(nil, 0)
	s.h.set(func(o *testOptions) { o.Store = store })
	s.emu.SetLatency(2 * time.Second)
	r := signed(t, validBody, testNow)
	ctx, cancel := context.WithTimeout(r.Context(), 800*time.Millisecond)
	defer cancel()
	w := httptest.NewRecorder()
	s.h.ServeHTTP(w, r.WithContext(ctx))
	if p := decodeProblem(t, w); w.Code != http.StatusServiceUnavailable || p.Type != apply.ProblemTypePrefix+"out-of-time" || w.Header().Get("Retry-After") == "" || ctx.Err() != nil {
		t.Fatalf("status = %d Retry-After %q (answered in time: %v); body %s; want 503 out-of-time", w.Code, w.Header().Get("Retry-After"), ctx.Err() == nil, w.Body)
	}
	s.emu.SetLatency(0)
	if w := s.send(t, validBody); w.Code != http.StatusOK {
		t.Fatalf("retry after out-of-time: %d %s, want 200", w.Code, w.Body)
	}

	// No write slot before the deadline: 503 write-limit, and the retry is
	// not blocked by the first attempt's record.
	s2 := newStack(t, 3)
	s2.h.set(func(o *testOptions) { o.Store = idempotency.NewMemory(nil, 0) })
	s2.h.set(func(o *testOptions) { o.Limiter = limiter.New(1, time.Hour, nil) })
	other := strings.Replace(validBody, "CHG0030042", "CHG0030043", 1)
	r2 := httptest.NewRequest(http.MethodPost, "/hooks/generic", strings.NewReader(other))
	sig, _ := generic.Sign(testSecret, "msg_other", testNow, []byte(other))
	for k, v := range sig {
		r2.Header[k] = v
	}
	r2.Header.Set("Content-Type", "application/json")
	if w := httptest.NewRecorder(); func() int { s2.h.ServeHTTP(w, r2); return w.Code }() != http.StatusOK {
		t.Fatalf("first write: %d %s", w.Code, w.Body)
	}
	for i := 0; i < 2; i++ {
		w := httptest.NewRecorder()
		r := signed(t, validBody, testNow)
		s2.h.ServeHTTP(w, r)
		if p := decodeProblem(t, w); w.Code != http.StatusServiceUnavailable || p.Type != apply.ProblemTypePrefix+"write-limit" || w.Header().Get("Retry-After") == "" {
			t.Fatalf("attempt %d: %d %s, want 503 write-limit with Retry-After (not 409 in progress)", i, w.Code, w.Body)
		}
	}
}

// TestWriteSlotWaitKeepsTheMargin: a slot that frees up after the deadline
// less the margin is refused at once (503 write-limit), not granted for a
// Graph call that would have no time left.
func TestWriteSlotWaitKeepsTheMargin(t *testing.T) {
	hs := newHarness(t, &testOptions{Store: idempotency.NewMemory(nil, 0), Limiter: limiter.New(1, 700*time.Millisecond, &limiter.Options{Margin: -1})})
	hs.h.set(func(o *testOptions) { o.DeadlineMargin = 500 * time.Millisecond })
	send := func(id string) *httptest.ResponseRecorder {
		body := strings.Replace(validBody, "CHG0030042", "CHG-"+id, 1)
		r := httptest.NewRequest(http.MethodPost, "/hooks/generic", strings.NewReader(body))
		sig, _ := generic.Sign(testSecret, id, testNow, []byte(body))
		for k, v := range sig {
			r.Header[k] = v
		}
		r.Header.Set("Content-Type", "application/json")
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		defer cancel()
		w := httptest.NewRecorder()
		hs.h.ServeHTTP(w, r.WithContext(ctx))
		return w
	}
	if w := send("msg_a"); w.Code != http.StatusOK {
		t.Fatalf("first: %d %s", w.Code, w.Body)
	}
	// Without the margin the slot (0.7 s) would come before the deadline
	// (1 s) and be granted.
	w := send("msg_b")
	if p := decodeProblem(t, w); w.Code != http.StatusServiceUnavailable || p.Type != apply.ProblemTypePrefix+"write-limit" {
		t.Fatalf("second: %d %s, want 503 write-limit", w.Code, w.Body)
	}
	if hs.g.count() != 1 {
		t.Errorf("Graph calls = %d, want 1", hs.g.count())
	}
}
