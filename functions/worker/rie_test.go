package main

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/enrollhook/enrollhook/functions/internal/rietest"
	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/graphemu"
	"github.com/enrollhook/enrollhook/pkg/queue"
)

// The worker under the Lambda runtime interface emulator, as
// functions/webhook/rie_test.go drives the webhook: the real bootstrap,
// built as `make build-WorkerFunction` builds it, invoked with SQS events,
// against the Graph emulator, its managed-identity endpoint, the
// de-duplication table on dynalite and a loopback stand-in for Slack's
// response_url.

// startWorker builds the bootstrap as the Makefile does (for this
// machine's architecture) and runs it under the emulator with env.
func startWorker(t testing.TB, env ...string) (invokeURL string, logs *rietest.Buffer) {
	t.Helper()
	rietest.Binary(t) // skipped without the emulator before building
	env = append([]string{"AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local", "ENROLLHOOK_QUEUE_SECRET=" + rieQueueSecret}, env...)
	sink.EnvSecrets(env) // the queue key among them
	f := rietest.Start(t, bootstrap.Build(t, "."), rietest.Options{Name: "enrollhook-worker", Output: sink, Env: env})
	return f.URL, f.Logs
}

// rieQueueSecret is the deployment's queue key in these tests: the webhook
// seals with it, the worker opens with it.
const rieQueueSecret = "worker-rie-test-queue-key-0123456789abcdef"

// rieKey is rieQueueSecret as a key.
var rieKey = func() *queue.Key {
	k, err := queue.NewKey(rieQueueSecret)
	if err != nil {
		panic(err)
	}
	return k
}()

// bootstrap is the function's bootstrap, built once per test binary.
var bootstrap rietest.Bootstrap

func invokeSQS(t testing.TB, url string, records ...events.SQSMessage) events.SQSEventResponse {
	t.Helper()
	ev, _ := json.Marshal(events.SQSEvent{Records: records})
	resp, err := http.Post(url, "application/json", bytes.NewReader(ev))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out events.SQSEventResponse
	if err := json.Unmarshal(raw, &out); err != nil || bytes.Contains(raw, []byte("errorMessage")) {
		t.Fatalf("invoke answered %d %s, not an SQSEventResponse", resp.StatusCode, raw)
	}
	return out
}

func record(t testing.TB, id string, receive int, m *queue.Message) events.SQSMessage {
	t.Helper()
	body := []byte("not a message")
	if m != nil {
		var err error
		if body, err = m.Seal(rieKey); err != nil {
			t.Fatal(err)
		}
	}
	return events.SQSMessage{MessageId: id, Body: string(body), EventSource: "aws:sqs",
		Attributes: map[string]string{"ApproximateReceiveCount": fmt.Sprint(receive)}}
}

func message(key, assignmentID, groupID string, chat *queue.Chat) *queue.Message {
	return &queue.Message{Source: "generic", DeliveryID: key, Key: "generic:" + key, Fingerprint: "fp-" + key + groupID,
		RequestID: "req-" + key, Received: time.Now(), Chat: chat,
		Request: &change.Request{
			Ticket:          change.Ticket{ID: "CHG-" + key, State: "approved", RequestedBy: "alice@contoso.com", ApprovedBy: "bob@contoso.com"},
			ConfigurationID: graphemu.ConfigESP, AssignmentID: assignmentID,
			Assignment: change.Assignment{Target: &change.Target{ODataType: change.TypeGroup, GroupID: groupID}},
		}}
}

// deadLetterSQS is a loopback stand-in for the dead-letter queue: it
// answers SendMessage in SQS's JSON protocol and keeps each request, or
// refuses with AccessDenied while failing is set.
type deadLetterSQS struct {
	mu      sync.Mutex
	sent    []deadLetterRequest
	failing bool
}

type deadLetterRequest struct {
	Target            string `json:"-"`
	QueueUrl          string
	MessageBody       string
	MessageAttributes map[string]struct{ DataType, StringValue string }
}

func (d *deadLetterSQS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req deadLetterRequest
	_ = json.NewDecoder(r.Body).Decode(&req)
	req.Target = r.Header.Get("X-Amz-Target")
	d.mu.Lock()
	failing := d.failing
	if !failing {
		d.sent = append(d.sent, req)
	}
	d.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	if failing {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"__type":"com.amazonaws.sqs#AccessDenied","message":"Access to the resource is denied."}`)
		return
	}
	sum := md5.Sum([]byte(req.MessageBody))
	_, _ = fmt.Fprintf(w, `{"MessageId":"dl-%d","MD5OfMessageBody":"%s"}`, len(d.requests()), hex.EncodeToString(sum[:]))
}

func (d *deadLetterSQS) requests() []deadLetterRequest {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]deadLetterRequest(nil), d.sent...)
}

func (d *deadLetterSQS) fail(on bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.failing = on
}

// TestWorkerUnderRuntimeEmulator: a batch of SQS records through the real
// worker: an applied change, the same change delivered again (applied
// once), a Slack command whose outcome is posted to its response_url, an
// assignment Intune does not have (permanent: not retried, posted, sent to
// the dead-letter queue with its reason), a body that is not a message
// (dropped, dead-lettered); then Graph throttling beyond the budget
// (retryable: reported in batchItemFailures) and the retry that applies;
// and throttling on the last receive: dead-lettered with its reason and
// reported done, or reported failed (for SQS's redrive) while the
// dead-letter queue refuses.
func TestWorkerUnderRuntimeEmulator(t *testing.T) {
	endpoint, table := rietest.DeliveryTable(t)
	emuState := newEmulator(nil)
	emu := httptest.NewServer(emuState)
	defer emu.Close()
	posted := make(chan string, 8)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m struct{ Text string }
		_ = json.NewDecoder(r.Body).Decode(&m)
		posted <- m.Text
	}))
	defer hook.Close()
	dlq := &deadLetterSQS{}
	dlqSrv := httptest.NewServer(dlq)
	defer dlqSrv.Close()
	dlqURL := dlqSrv.URL + "/123456789012/enrollhook-dead-letters"
	url, logs := startWorker(t,
		"ENROLLHOOK_DEAD_LETTER_URL="+dlqURL,
		"AWS_ENDPOINT_URL_SQS="+dlqSrv.URL,
		"ENROLLHOOK_GRAPH_URL="+emu.URL+"/beta",
		"IDENTITY_ENDPOINT="+emu.URL+graphemu.TokenPath,
		"IDENTITY_HEADER="+graphemu.DefaultIdentityHeader,
		"ENROLLHOOK_IDEMPOTENCY_TABLE="+table,
		"AWS_ENDPOINT_URL_DYNAMODB="+endpoint,
		"ENROLLHOOK_SECRET_SLACK=", // the worker needs no sender secret
		// The allow-list a queued Slack command's user is checked against again.
		"ENROLLHOOK_SLACK_TEAM_ID=T0001", "ENROLLHOOK_SLACK_ALLOWED_USERS=U0456EFGH",
	)

	group2 := "7a8b0000-0000-0000-0000-0000000000aa"
	applied := message("d1", graphemu.AssignmentESPGroup, group2, nil)
	slackCmd := message("d2", graphemu.AssignmentESPExclusion, graphemu.GroupCorporate, &queue.Chat{Tenant: "T0001", User: "U0456EFGH", ResponseURL: hook.URL + "/commands/T0001/1/x"})
	slackCmd.Source = "slack"
	slackCmd.Request.Assignment.Target.ODataType = change.TypeExclusion
	missing := message("d3", graphemu.ConfigESP+"_nope", graphemu.GroupCorporate, &queue.Chat{Tenant: "T0001", User: "U0456EFGH", ResponseURL: hook.URL + "/commands/T0001/2/x"})
	missing.Source = "slack"
	missing.Request.AssignmentID = "2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_00000000-0000-0000-0000-00000000dead"

	// A message someone else put on the queue: a change no sender
	// approved, sealed with the published development key instead of the
	// deployment's.
	forgedBody, err := message("d4f", graphemu.AssignmentESPGroup, "666f0000-0000-0000-0000-000000000666", nil).Seal(nil)
	if err != nil {
		t.Fatal(err)
	}
	forged := events.SQSMessage{MessageId: "m4f", Body: string(forgedBody), EventSource: "aws:sqs", Attributes: map[string]string{"ApproximateReceiveCount": "1"}}
	resp := invokeSQS(t, url,
		record(t, "m1", 1, applied),
		record(t, "m1-copy", 1, applied),
		record(t, "m2", 1, slackCmd),
		record(t, "m3", 1, missing),
		record(t, "m4", 1, nil),
		forged,
	)
	if len(resp.BatchItemFailures) != 0 {
		t.Fatalf("batchItemFailures = %+v, want none (permanent failures are not retried)", resp.BatchItemFailures)
	}
	if n := emuState.Writes(); n != 2 {
		t.Errorf("Graph writes = %d, want 2 (the copy applied once, the missing assignment refused, the forged message dropped)", n)
	}
	got, _ := emuState.Assignment(graphemu.ConfigESP, graphemu.AssignmentESPGroup)
	if !strings.Contains(string(got), group2) {
		t.Errorf("Graph holds %s, want group %s", got, group2)
	}
	var texts []string
	for len(texts) < 2 {
		select {
		case s := <-posted:
			texts = append(texts, s)
		case <-time.After(5 * time.Second):
			t.Fatalf("follow-ups posted: %q, want 2", texts)
		}
	}
	all := strings.Join(texts, "\n")
	if !strings.Contains(all, "Done") || !strings.Contains(all, "not applied") {
		t.Errorf("follow-ups %q, want the applied change and the refusal", texts)
	}

	// Graph throttles beyond what the invoke can wait: the record comes back.
	emuState.Throttle(10, "120")
	again := message("d5", graphemu.AssignmentESPGroup, graphemu.GroupCorporate, nil)
	resp = invokeSQS(t, url, record(t, "m5", 1, again))
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "m5" {
		t.Fatalf("batchItemFailures = %+v, want [m5]", resp.BatchItemFailures)
	}
	emuState.Throttle(0, "")
	resp = invokeSQS(t, url, record(t, "m5", 2, again))
	if len(resp.BatchItemFailures) != 0 {
		t.Fatalf("retry: batchItemFailures = %+v", resp.BatchItemFailures)
	}
	if n := emuState.Writes(); n != 3 {
		t.Errorf("Graph writes = %d, want 3", n)
	}
	if n := emuState.TokenRequests(); n != 1 {
		t.Errorf("token requests = %d, want 1 (built once at cold start)", n)
	}

	// Throttled on the last receive: into the dead-letter queue with the
	// reason, and done; while the dead-letter queue refuses, reported
	// failed so that SQS's redrive moves it. (A change Graph does not
	// hold yet: the copy's receive reads first, since the throttled
	// write's outcome was not known, and writes again.)
	emuState.Throttle(10, "120")
	last := message("d6", graphemu.AssignmentESPGroup, graphemu.GroupPlatform, nil)
	if resp = invokeSQS(t, url, record(t, "m6", 5, last)); len(resp.BatchItemFailures) != 0 {
		t.Fatalf("last receive: batchItemFailures = %+v, want none (in the dead-letter queue)", resp.BatchItemFailures)
	}
	dlq.fail(true)
	emuState.Throttle(10, "120")
	if resp = invokeSQS(t, url, record(t, "m7", 5, last)); len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "m7" {
		t.Fatalf("dead-letter queue down: batchItemFailures = %+v, want [m7]", resp.BatchItemFailures)
	}
	emuState.Throttle(0, "")
	sent := dlq.requests()
	if len(sent) != 4 {
		t.Fatalf("dead letters = %+v, want 4 (not found, not a message, not sealed by the webhook, throttled on the last receive)", sent)
	}
	for i, want := range []struct{ id, reason, failure, receive, requestID, body string }{
		{"m3", "not-found", "permanent", "1", "req-d3", string(record(t, "m3", 1, missing).Body)},
		{"m4", "malformed-request", "permanent", "1", "", "not a message"},
		{"m4f", "malformed-request", "permanent", "1", "", string(forgedBody)},
		{"m6", "graph-unavailable", "exhausted", "5", "req-d6", ""},
	} {
		got := sent[i]
		attr := func(k string) string {
			a := got.MessageAttributes[k]
			if a.StringValue != "" && a.DataType != "String" {
				t.Errorf("%s: attribute %s has DataType %q", want.id, k, a.DataType)
			}
			return a.StringValue
		}
		if got.Target != "AmazonSQS.SendMessage" || got.QueueUrl != dlqURL {
			t.Errorf("%s: %s to %s, want AmazonSQS.SendMessage to %s", want.id, got.Target, got.QueueUrl, dlqURL)
		}
		if attr("messageId") != want.id || attr("reason") != want.reason || attr("failure") != want.failure ||
			attr("receiveCount") != want.receive || attr("requestId") != want.requestID || attr("detail") == "" {
			t.Errorf("dead letter %d attributes = %+v, want %+v", i, got.MessageAttributes, want)
		}
		if want.body != "" && got.MessageBody != want.body {
			t.Errorf("%s: body %q, want the message as queued", want.id, got.MessageBody)
		}
		if strings.Contains(fmt.Sprint(got.MessageAttributes), hook.URL) {
			t.Errorf("%s: the response_url reached the attributes", want.id)
		}
	}

	l := logs.AwaitCount(`"message":"worker"`, 10)
	for _, want := range []string{`"outcome":"applied"`, `"outcome":"replayed"`, `"outcome":"failed"`, `"problem":"not-found"`,
		`"outcome":"dropped"`, `"outcome":"retry"`, `"followUp":"posted"`, `"approvedBy":"bob@contoso.com"`,
		`"outcome":"dead-lettered"`, `"deadLetter":"sent"`, `"deadLetter":"failed"`, "not sealed by this deployment"} {
		if !strings.Contains(l, want) {
			t.Errorf("log lacks %s", want)
		}
	}
	if strings.Contains(l, hook.URL) {
		t.Errorf("the response_url reached the log")
	}
}

// TestWorkerPreflightUnderRuntimeEmulator: the worker answers an
// enrollhookCheck invoke with the preflight, run with its own role and
// environment (the worker's federated credential is its own, and a missing
// one would otherwise show only when a queued change fails), and SQS
// events still reach the handler after it.
func TestWorkerPreflightUnderRuntimeEmulator(t *testing.T) {
	endpoint, table := rietest.DeliveryTable(t)
	emuState := newEmulator(nil)
	emu := httptest.NewServer(emuState)
	defer emu.Close()
	url, _ := startWorker(t,
		"ENROLLHOOK_GRAPH_URL="+emu.URL+"/beta",
		"IDENTITY_ENDPOINT="+emu.URL+graphemu.TokenPath,
		"IDENTITY_HEADER="+graphemu.DefaultIdentityHeader,
		"ENROLLHOOK_IDEMPOTENCY_TABLE="+table,
		"AWS_ENDPOINT_URL_DYNAMODB="+endpoint,
	)
	rietest.PreflightReadyThenNot(t, url, graphemu.ConfigESP,
		func() { emuState.SetPermission(graphemu.PermissionNone) }, func() { emuState.SetPermission(graphemu.PermissionReadWrite) })
	if resp := invokeSQS(t, url, record(t, "m1", 1, message("p1", graphemu.AssignmentESPGroup, "7a8b0000-0000-0000-0000-0000000000ab", nil))); len(resp.BatchItemFailures) != 0 || emuState.Writes() != 1 {
		t.Errorf("an SQS event after the preflight: %+v, %d writes", resp, emuState.Writes())
	}
}
