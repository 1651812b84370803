package webhook

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/enrollhook/enrollhook/pkg/apply"
	"github.com/enrollhook/enrollhook/pkg/awsapi"
	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/chat"
	"github.com/enrollhook/enrollhook/pkg/graph"
	"github.com/enrollhook/enrollhook/pkg/idempotency"
	"github.com/enrollhook/enrollhook/pkg/queue"
	changerecord "github.com/enrollhook/enrollhook/pkg/record"
)

// What a chat user or a sender is told never claims more than is known.

// TestChatToldUnknownWhenGraphFailsAfterThePatch: Graph unavailable after
// the PATCH went out (not marked as nothing sent) is an unknown outcome, as
// the ticket is told, never "not applied".
// TestHTTPToldNothingOfAChangeWhenNothingWasSent: Graph failing the read
// before the write (the change record's) is told as it is, without the
// "may have been applied" of a write without a clear answer
// (loseTheAnswer checks that one).
func TestHTTPToldNothingOfAChangeWhenNothingWasSent(t *testing.T) {
	s := newStack(t, 0, func(o *testOptions) { o.Records = changerecord.NewMemory(nil) })
	s.emu.Fail(10, http.StatusServiceUnavailable)
	w := s.send(t, validBody)
	if p := decodeProblem(t, w); w.Code != http.StatusServiceUnavailable || strings.Contains(p.Detail, "may have been applied") || s.emu.Writes() != 0 {
		t.Errorf("a failure before the write: %d %s, %d writes", w.Code, w.Body, s.emu.Writes())
	}

	// A dry run whose read fails wrote nothing, whatever the stack: its
	// audit line (which the alarms count) says failed, never unknown.
	dry := newStack(t, 0)
	dry.emu.Fail(10, http.StatusServiceUnavailable)
	r := signed(t, validBody, testNow)
	r.URL.RawQuery = "dryRun=true"
	w = httptest.NewRecorder()
	dry.h.ServeHTTP(w, r)
	if p := decodeProblem(t, w); w.Code != http.StatusServiceUnavailable || strings.Contains(p.Detail, "may have been applied") {
		t.Errorf("a dry run whose read failed: %d %s", w.Code, w.Body)
	}
	if l := logLines(t, dry.logs.String(), apply.AuditMessage); len(l) != 1 || l[0]["outcome"] != apply.AuditFailed || l[0]["reason"] != "graph-unavailable" {
		t.Errorf("a failed dry run's audit lines = %v, want one: failed, graph-unavailable", l)
	}
}

func TestChatToldUnknownWhenGraphFailsAfterThePatch(t *testing.T) {
	g := &fakeGraph{err: &change.Error{Code: change.CodeUnavailable, Message: "Graph is unavailable; try again later"}}
	c := newChatHarness(t, g, time.Second)
	m := decodeSlack(t, c.do(t, slackRequest(t, slackForm("assign "+chatCfg+" "+chatAsg+" alldevices"), testNow)))
	if c.g.count() != 1 {
		t.Fatalf("PATCH calls = %d, want 1", c.g.count())
	}
	if !strings.HasPrefix(m.Text, "The outcome is unknown") || strings.Contains(m.Text, "not applied") || !strings.Contains(m.Text, "`show`") {
		t.Errorf("reply = %q, want the outcome unknown and `show` to check", m.Text)
	}
	// Graph refusing before anything went out stays "not applied".
	g.mu.Lock()
	g.err = &change.Error{Code: change.CodeUnavailable, Message: "could not get a token for Graph", Err: change.ErrNothingSent}
	g.mu.Unlock()
	m = decodeSlack(t, c.do(t, slackRequest(t, slackForm("assign "+chatCfg+" "+chatAsg+" exclude 5e6f0000-0000-0000-0000-000000000002"), testNow)))
	if !strings.HasPrefix(m.Text, "The change was not applied") {
		t.Errorf("reply with nothing sent = %q, want not applied", m.Text)
	}
}

// TestChatCopyWhileTheFirstRunsIsNotARefusal: the same command arriving
// while its first attempt is applying it is told that the first attempt
// answers, not "not applied", and is not audited as refused; the first
// then applies it.
func TestChatCopyWhileTheFirstRunsIsNotARefusal(t *testing.T) {
	g := &enteredGraph{gatedGraph: gatedGraph{fakeGraph: &fakeGraph{}, release: make(chan struct{})}, entered: make(chan struct{}, 1)}
	c := newChatHarness(t, g, 2*time.Second)
	c.h.set(func(o *testOptions) { o.Store = idempotency.NewMemory(nil, 0) })
	form := slackForm("assign " + chatCfg + " " + chatAsg + " alldevices")
	first := make(chan *httptest.ResponseRecorder)
	go func() {
		w := httptest.NewRecorder()
		c.h.ServeHTTP(w, slackRequest(t, form, testNow))
		first <- w
	}()
	select { // the first holds the delivery once its PATCH waits on Graph
	case <-g.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the first attempt never reached Graph")
	}
	w := httptest.NewRecorder()
	c.h.ServeHTTP(w, slackRequest(t, form, testNow))
	copyReply := decodeSlack(t, w)
	close(g.release)
	firstReply := decodeSlack(t, <-first)
	if !strings.HasPrefix(firstReply.Text, "Done") {
		t.Fatalf("the first attempt = %q, want Done", firstReply.Text)
	}
	if strings.Contains(copyReply.Text, "not applied") || !strings.Contains(copyReply.Text, "first attempt") ||
		w.Header().Get(HeaderOutcome) != string(chat.StatusPending) {
		t.Errorf("the copy = %s %q, want pending, answered by the first attempt", w.Header().Get(HeaderOutcome), copyReply.Text)
	}
	if logs := c.logs.String(); strings.Contains(logs, `"reason":"delivery-in-progress"`) {
		t.Errorf("the copy was audited as a refusal:\n%s", logs)
	}
}

// enteredGraph is a gatedGraph that says when a PATCH has begun.
type enteredGraph struct {
	gatedGraph
	entered chan struct{}
}

func (g *enteredGraph) PatchAssignment(ctx context.Context, cfg, asg string, body any) (*graph.Result, error) {
	select {
	case g.entered <- struct{}{}:
	default:
	}
	return g.gatedGraph.PatchAssignment(ctx, cfg, asg, body)
}

// sqsAnswering is an SQS queue on a loopback endpoint that takes every
// message and answers status with code; it counts the messages taken.
func sqsAnswering(t *testing.T, status int, code string) (*queue.SQS, *atomic.Int32) {
	t.Helper()
	var taken atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		taken.Add(1)
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, `{"__type":"`+code+`","message":"x"}`)
	}))
	t.Cleanup(srv.Close)
	client, err := awsapi.New(aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")}, "sqs")
	if err != nil {
		t.Fatal(err)
	}
	return queue.NewSQS(client, srv.URL+"/123456789012/enrollhook-changes", nil), &taken
}

// TestEnqueueUnconfirmedIsNotNothingQueued: SQS failing with its own fault
// may have queued the change, so the 503 says it may be queued (a retry
// with the same delivery is applied once); SQS refusing it says nothing
// was queued.
func TestEnqueueUnconfirmedIsNotNothingQueued(t *testing.T) {
	for _, tt := range []struct {
		name, code string
		status     int
		want       string
		unknown    bool
	}{
		{"its own fault", "InternalError", 500, "may or may not be queued", true},
		{"refused", "com.amazonaws.sqs#QueueDoesNotExist", 400, "nothing was queued or applied", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q, taken := sqsAnswering(t, tt.status, tt.code)
			hs := newAsyncHarness(t, q)
			w := hs.do(t, signed(t, validBody, testNow))
			p := decodeProblem(t, w)
			if w.Code != http.StatusServiceUnavailable || p.Type != apply.ProblemTypePrefix+string(change.KindQueueUnavailable) ||
				!strings.Contains(p.Detail, tt.want) || taken.Load() == 0 {
				t.Fatalf("answer %d %s (%d sends), want 503 queue-unavailable saying %q", w.Code, w.Body, taken.Load(), tt.want)
			}
			if (tt.unknown && strings.Contains(p.Detail, "nothing was queued")) || w.Header().Get("Retry-After") == "" ||
				strings.Contains(p.Detail, "went to Graph") {
				t.Errorf("detail %q, Retry-After %q", p.Detail, w.Header().Get("Retry-After"))
			}
		})
	}
}
