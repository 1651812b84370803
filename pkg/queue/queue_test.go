package queue

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/enrollhook/enrollhook/pkg/awsapi"
	"github.com/enrollhook/enrollhook/pkg/change"
)

const queueURL = "https://sqs.eu-west-1.amazonaws.com/123456789012/enrollhook-changes"

func sample() *Message {
	return &Message{Source: "slack", DeliveryID: "123.456.abc", Key: "slack:123.456.abc", Fingerprint: "f00d",
		RequestID: "req-1", Received: time.Unix(1764403200, 0).UTC(),
		Request: &change.Request{Ticket: change.Ticket{ID: "123.456.abc", State: "approved", ApprovedBy: "slack:T1/U1"},
			ConfigurationID: "cfg_1", AssignmentID: "asg_1",
			Assignment: change.Assignment{Target: &change.Target{ODataType: change.TypeAllDevices}}},
		Chat: &Chat{Tenant: "T1", User: "U1", ResponseURL: "https://hooks.slack.com/commands/T1/1/x"}}
}

// TestSQSEnqueueRequest: the SQS client speaks SQS's JSON protocol to a
// loopback endpoint: the target, the content type, a SigV4 signature, and a
// body with the queue URL and the message.
func TestSQSEnqueueRequest(t *testing.T) {
	var got struct {
		target, contentType, auth string
		body                      map[string]any
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.target, got.contentType, got.auth = r.Header.Get("X-Amz-Target"), r.Header.Get("Content-Type"), r.Header.Get("Authorization")
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &got.body)
		sum := md5.Sum([]byte(fmt.Sprint(got.body["MessageBody"])))
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		_, _ = io.WriteString(w, `{"MessageId":"5fea7756-0ea4-451a-a703-a558b933e274","MD5OfMessageBody":"`+hex.EncodeToString(sum[:])+`"}`)
	}))
	defer srv.Close()
	client := newClient(t, srv.URL)
	if err := NewSQS(client, queueURL, nil).Enqueue(context.Background(), sample()); err != nil {
		t.Fatal(err)
	}
	if got.target != "AmazonSQS.SendMessage" {
		t.Errorf("X-Amz-Target = %q, want AmazonSQS.SendMessage", got.target)
	}
	if got.contentType != "application/x-amz-json-1.0" {
		t.Errorf("Content-Type = %q, want application/x-amz-json-1.0", got.contentType)
	}
	if !strings.HasPrefix(got.auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/") || !strings.Contains(got.auth, "/eu-west-1/sqs/aws4_request") || !strings.Contains(got.auth, "Signature=") {
		t.Errorf("Authorization = %q, want a SigV4 signature for sqs in eu-west-1", got.auth)
	}
	if got.body["QueueUrl"] != queueURL {
		t.Errorf("QueueUrl = %v", got.body["QueueUrl"])
	}
	body, _ := got.body["MessageBody"].(string)
	m, err := Open(nil, []byte(body))
	if err != nil {
		t.Fatalf("MessageBody does not decode: %v", err)
	}
	if m.Key != "slack:123.456.abc" || m.Request.AssignmentID != "asg_1" || m.Chat.ResponseURL == "" || m.Version != Version {
		t.Errorf("message = %+v", m)
	}
}

func TestSQSEnqueueErrorNamesTheCodeNotTheBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.WriteHeader(400)
		_, _ = io.WriteString(w, `{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The specified queue does not exist."}`)
	}))
	defer srv.Close()
	client := newClient(t, srv.URL)
	err := NewSQS(client, queueURL, nil).Enqueue(context.Background(), sample())
	if err == nil || !strings.Contains(err.Error(), "QueueDoesNotExist") || strings.Contains(err.Error(), "hooks.slack.com") {
		t.Fatalf("Enqueue = %v", err)
	}
}

// TestOpenRefusesOtherVersionsAndShapes: under a valid seal, a body that
// is not a message of this version is refused as malformed.
func TestOpenRefusesOtherVersionsAndShapes(t *testing.T) {
	for _, js := range []string{`not json`, `{"v":1,"source":"x","key":"k","request":{}}`, `{"v":2,"source":"x","key":"k"}`} {
		if _, err := Open(nil, sealRaw(t, developmentKey, js)); !errors.Is(err, ErrMalformed) || errors.Is(err, ErrNotSealed) {
			t.Errorf("Open(%q) = %v, want ErrMalformed (sealed, but not a message)", js, err)
		}
	}
}

// sealRaw seals js as Seal would, whatever it is.
func sealRaw(t *testing.T, k *Key, js string) []byte {
	t.Helper()
	return []byte(sealPrefix + base64.RawURLEncoding.EncodeToString(k.mac([]byte(js))) + "." + js)
}

// TestOpenRefusesWhatTheWebhookDidNotSeal: a message someone else put on
// the queue (the JSON alone, a version 1 body, sealed with another key,
// changed after sealing, its seal cut or padded) is refused as not sealed,
// before its JSON is read; the sealed original opens.
func TestOpenRefusesWhatTheWebhookDidNotSeal(t *testing.T) {
	key, err := NewKey("a-deployment-key-of-thirty-two-bytes-or-more")
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewKey("another-deployment-key-of-thirty-two-bytes")
	body, err := sample().Seal(key)
	if err != nil {
		t.Fatal(err)
	}
	if m, err := Open(key, body); err != nil || m.Request == nil || m.Source != sample().Source {
		t.Fatalf("Open(the sealed body) = %+v, %v", m, err)
	}
	_, js, _ := bytes.Cut(body[len(sealPrefix):], []byte("."))
	forged, _ := sample().Seal(other)
	changed := bytes.Replace(body, []byte(`"approved"`), []byte(`"Approved"`), 1)
	if bytes.Equal(changed, body) {
		t.Fatal("the sample has no approved state to change")
	}
	for name, b := range map[string][]byte{
		"the JSON alone":        js,
		"version 1":             bytes.Replace(js, []byte(`"v":2`), []byte(`"v":1`), 1),
		"another key":           forged,
		"changed after sealing": changed,
		"the development key":   func() []byte { b, _ := sample().Seal(nil); return b }(),
		"no MAC":                append([]byte(sealPrefix+"."), js...),
		"a short MAC":           append([]byte(sealPrefix+"AAAA."), js...),
		"a padded MAC":          bytes.Replace(body, []byte("."+string(js)), []byte("=."+string(js)), 1),
		"a MAC too long":        bytes.Replace(body, []byte("."+string(js)), []byte("AAAAAAAA."+string(js)), 1),
		"a MAC twice as long":   append([]byte(sealPrefix+strings.Repeat("A", 86)+"."), js...),
		// The same 256 bits with an unused low bit of the last character
		// set: the MAC decodes equal unless the decoding is strict.
		"the MAC spelt otherwise": func() []byte {
			const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
			b := bytes.Clone(body)
			i := len(sealPrefix) + base64.RawURLEncoding.EncodedLen(32) - 1
			b[i] = alphabet[strings.IndexByte(alphabet, b[i])^1]
			return b
		}(),
		"empty": nil,
	} {
		if _, err := Open(key, b); !errors.Is(err, ErrNotSealed) || !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Open = %v, want ErrNotSealed", name, err)
		}
	}
	if _, err := NewKey("short"); err == nil {
		t.Error("NewKey took a key of 5 bytes")
	}
}

// FuzzOpen: whatever the body, Open neither panics nor opens a body that
// Seal did not make with the key (the oracle: re-sealing what it opened
// gives the body back byte for byte).
func FuzzOpen(f *testing.F) {
	body, _ := sample().Seal(nil)
	f.Add(body)
	f.Add([]byte("v2..{}"))
	f.Add([]byte("v2.AAAA.{}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Open(nil, b)
		if err != nil {
			return
		}
		again, err := m.Seal(nil)
		if err != nil || !bytes.Equal(again, b) {
			t.Errorf("Open took %q, which Seal writes as %q", b, again)
		}
	})
}

// TestHandleSQSContainsAPanic: a message whose processing panics fails
// alone; the others of the batch are still processed.
func TestHandleSQSContainsAPanic(t *testing.T) {
	ev := events.SQSEvent{Records: []events.SQSMessage{{MessageId: "a", Body: "ok"}, {MessageId: "b", Body: "boom"}, {MessageId: "c", Body: "ok"}}}
	var done []string
	resp := HandleSQS(context.Background(), ev, func(ctx context.Context, d Delivery) error {
		if string(d.Body) == "boom" {
			var b []byte
			_ = b[len(d.Body)] // index out of range
		}
		done = append(done, d.ID)
		return nil
	})
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "b" || strings.Join(done, ",") != "a,c" {
		t.Errorf("failures = %+v, processed %v; want [b], a and c", resp.BatchItemFailures, done)
	}
}

func TestHandleSQSReportsOnlyTheFailures(t *testing.T) {
	ev := events.SQSEvent{Records: []events.SQSMessage{
		{MessageId: "a", Body: "ok", Attributes: map[string]string{"ApproximateReceiveCount": "1"}},
		{MessageId: "b", Body: "retry", Attributes: map[string]string{"ApproximateReceiveCount": "3"}},
		{MessageId: "c", Body: "ok"},
	}}
	var counts []int
	resp := HandleSQS(context.Background(), ev, func(ctx context.Context, d Delivery) error {
		counts = append(counts, d.ReceiveCount)
		if string(d.Body) == "retry" {
			return errors.New("throttled")
		}
		return nil
	})
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "b" {
		t.Errorf("failures = %+v, want [b]", resp.BatchItemFailures)
	}
	if len(counts) != 3 || counts[1] != 3 {
		t.Errorf("receive counts = %v", counts)
	}
	// Past the deadline nothing is tried and everything comes back.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	resp = HandleSQS(ctx, ev, func(context.Context, Delivery) error { t.Error("called after the deadline"); return nil })
	if len(resp.BatchItemFailures) != 3 {
		t.Errorf("failures after the deadline = %d, want 3", len(resp.BatchItemFailures))
	}
}

func TestLocalRetriesThenDeadLetters(t *testing.T) {
	q := NewLocal(&LocalOptions{Workers: 2, RetryDelay: time.Millisecond, MaxReceive: 3, Logger: slog.New(slog.DiscardHandler)})
	var mu sync.Mutex
	seen := map[string][]int{}
	q.Start(func(ctx context.Context, d Delivery) error {
		m, err := Open(nil, d.Body)
		if err != nil {
			t.Error(err)
			return nil
		}
		mu.Lock()
		seen[m.Key] = append(seen[m.Key], d.ReceiveCount)
		mu.Unlock()
		if m.Key == "always-fails" || (m.Key == "fails-once" && d.ReceiveCount == 1) {
			return errors.New("throttled")
		}
		return nil
	})
	defer q.Close()
	for _, k := range []string{"ok", "fails-once", "always-fails"} {
		m := sample()
		m.Key = k
		if err := q.Enqueue(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := q.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen["ok"]) != 1 || len(seen["fails-once"]) != 2 || len(seen["always-fails"]) != 3 || seen["always-fails"][2] != 3 {
		t.Errorf("receives = %v", seen)
	}
	if q.DeadLettered() != 1 {
		t.Errorf("dead-lettered = %d, want 1", q.DeadLettered())
	}
}

func TestLocalRefusesAfterClose(t *testing.T) {
	q := NewLocal(nil)
	q.Start(func(context.Context, Delivery) error { return nil })
	q.Close()
	if err := q.Enqueue(context.Background(), sample()); !errors.Is(err, ErrClosed) {
		t.Errorf("Enqueue after Close = %v, want ErrClosed", err)
	}
}

// TestSQSDeadLetterRequest: a dead letter goes to the dead-letter queue as
// SendMessage in SQS's JSON protocol: the body as the main queue carried
// it, and the reason as String message attributes (none empty).
func TestSQSDeadLetterRequest(t *testing.T) {
	var got struct {
		target string
		body   struct {
			QueueUrl          string
			MessageBody       string
			MessageAttributes map[string]struct{ DataType, StringValue string }
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.target = r.Header.Get("X-Amz-Target")
		b, _ := io.ReadAll(r.Body)
		got.body.MessageAttributes = nil
		if err := json.Unmarshal(b, &got.body); err != nil {
			t.Errorf("request body %s: %v", b, err)
		}
		sum := md5.Sum([]byte(got.body.MessageBody))
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		_, _ = io.WriteString(w, `{"MessageId":"0b6f3c1e-5d1a-4c57-9a55-3f0f4b2d7e11","MD5OfMessageBody":"`+hex.EncodeToString(sum[:])+`"}`)
	}))
	defer srv.Close()
	client := newClient(t, srv.URL)
	const dlq = "https://sqs.eu-west-1.amazonaws.com/123456789012/enrollhook-dead-letters"
	body, err := sample().Seal(nil)
	if err != nil {
		t.Fatal(err)
	}
	r := Reason{Problem: "graph-unavailable", Detail: "Graph is throttling; retry later", Failure: FailureExhausted,
		ReceiveCount: 5, RequestID: "req-1", MessageID: "5fea7756-0ea4-451a-a703-a558b933e274"}
	if err := NewSQS(client, dlq, nil).DeadLetter(context.Background(), body, r); err != nil {
		t.Fatal(err)
	}
	if got.target != "AmazonSQS.SendMessage" || got.body.QueueUrl != dlq {
		t.Errorf("X-Amz-Target %q to %q, want AmazonSQS.SendMessage to the dead-letter queue", got.target, got.body.QueueUrl)
	}
	if got.body.MessageBody != string(body) {
		t.Errorf("MessageBody = %s, want the message as queued", got.body.MessageBody)
	}
	want := map[string]string{AttrReason: "graph-unavailable", AttrDetail: "Graph is throttling; retry later", AttrFailure: "exhausted",
		AttrReceiveCount: "5", AttrRequestID: "req-1", AttrMessageID: "5fea7756-0ea4-451a-a703-a558b933e274"}
	if len(got.body.MessageAttributes) != len(want) {
		t.Errorf("MessageAttributes = %+v, want %v", got.body.MessageAttributes, want)
	}
	for k, v := range want {
		if a := got.body.MessageAttributes[k]; a.DataType != "String" || a.StringValue != v {
			t.Errorf("MessageAttributes[%s] = %+v, want String %q", k, a, v)
		}
	}

	// An unreadable message has no request id: the attribute is left out
	// (SQS refuses an empty value); characters SQS refuses are replaced.
	if err := NewSQS(client, dlq, nil).DeadLetter(context.Background(), []byte("not a message"),
		Reason{Problem: "malformed-request", Detail: "bad\x00byte \xff", Failure: FailurePermanent, ReceiveCount: 1, MessageID: "m4"}); err != nil {
		t.Fatal(err)
	}
	if _, has := got.body.MessageAttributes[AttrRequestID]; has || got.body.MessageAttributes[AttrReason].StringValue != "malformed-request" ||
		got.body.MessageAttributes[AttrDetail].StringValue != "bad\uFFFDbyte \uFFFD" {
		t.Errorf("MessageAttributes = %+v", got.body.MessageAttributes)
	}
}

func TestSQSDeadLetterErrorNamesTheCodeNotTheBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.WriteHeader(400)
		_, _ = io.WriteString(w, `{"__type":"com.amazonaws.sqs#AccessDenied","message":"Access to the resource is denied."}`)
	}))
	defer srv.Close()
	client := newClient(t, srv.URL)
	body, _ := sample().Seal(nil)
	err := NewSQS(client, queueURL, nil).DeadLetter(context.Background(), body, Reason{Problem: "not-found"})
	if err == nil || !strings.Contains(err.Error(), "AccessDenied") || strings.Contains(err.Error(), "hooks.slack.com") {
		t.Fatalf("DeadLetter = %v", err)
	}
}

// TestLocalDeadLettersKeepTheReason: the worker's dead letters keep their
// body and reason; a message the queue dead-letters itself after
// MaxReceive (the worker could not send it) is kept without a reason.
func TestLocalDeadLettersKeepTheReason(t *testing.T) {
	q := NewLocal(&LocalOptions{Workers: 1, RetryDelay: time.Millisecond, MaxReceive: 2, Logger: slog.New(slog.DiscardHandler)})
	q.Start(func(ctx context.Context, d Delivery) error {
		m, err := Open(nil, d.Body)
		if err != nil {
			return err
		}
		if m.Key == "refused" {
			return q.DeadLetter(ctx, d.Body, Reason{Problem: "not-found", Detail: "Intune has no such assignment", Failure: FailurePermanent,
				ReceiveCount: d.ReceiveCount, RequestID: m.RequestID, MessageID: d.ID})
		}
		return errors.New("the dead-letter queue is down too")
	})
	defer q.Close()
	for _, k := range []string{"refused", "stuck"} {
		m := sample()
		m.Key = k
		if err := q.Enqueue(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := q.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	dead := q.DeadLetters()
	if len(dead) != 2 || q.DeadLettered() != 2 {
		t.Fatalf("dead letters = %+v, want 2", dead)
	}
	for _, dl := range dead {
		m, err := Open(nil, dl.Body)
		if err != nil {
			t.Fatalf("dead letter body: %v", err)
		}
		switch m.Key {
		case "refused":
			if want := (Reason{Problem: "not-found", Detail: "Intune has no such assignment", Failure: FailurePermanent, ReceiveCount: 1,
				RequestID: "req-1", MessageID: "local-1"}); dl.Reason != want {
				t.Errorf("reason = %+v, want %+v", dl.Reason, want)
			}
		case "stuck":
			if dl.Reason.Problem != "" || dl.Reason.ReceiveCount != 2 || dl.Reason.MessageID != "local-2" {
				t.Errorf("redriven reason = %+v, want none, after 2 receives", dl.Reason)
			}
		}
	}
}

// newClient is an SQS client of endpoint with static credentials.
func newClient(t *testing.T, endpoint string) *awsapi.Client {
	t.Helper()
	c, err := awsapi.New(aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")}, "sqs")
	if err != nil {
		t.Fatal(err)
	}
	return c
}
