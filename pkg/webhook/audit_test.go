package webhook

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/apply"
	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/graphemu"
	"github.com/enrollhook/enrollhook/pkg/idempotency"
	"github.com/enrollhook/enrollhook/pkg/queue"
)

// logLines are the JSON lines of logs whose msg is msg.
func logLines(t *testing.T, logs, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("not a JSON log line: %q", sc.Text())
		}
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// wantAuditKeys is the exact key set of every audit line.
var wantAuditKeys = []string{"time", "level", "msg", "xRequestId", "deliveryId", "sender", "action", "ticketId", "ticketUrl", "requester",
	"approver", "configurationId", "assignmentId", "before", "after", "graphRequestId", "clientRequestId", "outcome", "reason", "durationMs"}

// oneAudit checks logs hold exactly one audit line, with exactly the audit
// keys, and returns it.
func oneAudit(t *testing.T, logs, outcome string) map[string]any {
	t.Helper()
	lines := logLines(t, logs, apply.AuditMessage)
	if len(lines) != 1 {
		t.Fatalf("%d audit lines, want 1:\n%s", len(lines), logs)
	}
	l := lines[0]
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	want := append([]string(nil), wantAuditKeys...)
	sort.Strings(want)
	if !reflect.DeepEqual(keys, want) {
		t.Fatalf("audit keys = %v\nwant        %v", keys, want)
	}
	if l["outcome"] != outcome {
		t.Fatalf("outcome = %v, want %s: %v", l["outcome"], outcome, l)
	}
	if _, ok := l["durationMs"].(float64); !ok {
		t.Fatalf("durationMs = %v, want a number", l["durationMs"])
	}
	return l
}

// checkEMF checks logs hold one EMF document naming metric (with the
// reason dimension when reason is set) and returns it.
func checkEMF(t *testing.T, logs, metric, reason string) map[string]any {
	t.Helper()
	for _, d := range logLines(t, logs, apply.MetricsMessage) {
		if _, ok := d[metric]; !ok {
			continue
		}
		aws, ok := d["_aws"].(map[string]any)
		if !ok {
			t.Fatalf("no _aws block: %v", d)
		}
		if ts, ok := aws["Timestamp"].(float64); !ok || ts < 1e12 {
			t.Fatalf("_aws.Timestamp = %v, want epoch milliseconds", aws["Timestamp"])
		}
		dirs, _ := aws["CloudWatchMetrics"].([]any)
		found := false
		for _, di := range dirs {
			dir := di.(map[string]any)
			if dir["Namespace"] != apply.MetricsNamespace {
				t.Fatalf("Namespace = %v", dir["Namespace"])
			}
			dims, ok := dir["Dimensions"].([]any)
			if !ok || len(dims) != 1 {
				t.Fatalf("Dimensions = %v, want one dimension set", dir["Dimensions"])
			}
			for _, mi := range dir["Metrics"].([]any) {
				m := mi.(map[string]any)
				if m["Name"] == "" || m["Unit"] == "" {
					t.Fatalf("metric without Name or Unit: %v", m)
				}
				if _, ok := d[m["Name"].(string)].(float64); !ok {
					t.Fatalf("metric %v has no numeric value in the document", m["Name"])
				}
				if m["Name"] != metric {
					continue
				}
				found = true
				set := dims[0].([]any)
				if reason != "" {
					if len(set) != 1 || set[0] != "reason" || d["reason"] != reason {
						t.Fatalf("%s dimensions %v reason %v, want [reason] %s", metric, set, d["reason"], reason)
					}
				} else if len(set) != 0 {
					t.Fatalf("%s dimensions %v, want none", metric, set)
				}
			}
		}
		if found {
			return d
		}
	}
	t.Fatalf("no EMF document with %s:\n%s", metric, logs)
	return nil
}

func TestAuditLineApplied(t *testing.T) {
	hs := newHarness(t, nil)
	if w := hs.do(t, signed(t, validBody, testNow)); w.Code != http.StatusOK {
		t.Fatalf("status %d %s", w.Code, w.Body)
	}
	l := oneAudit(t, hs.logs.String(), apply.AuditApplied)
	want := map[string]any{"deliveryId": "msg_test_1", "sender": "generic", "ticketId": "CHG0030042", "ticketUrl": nil,
		"requester": "alice@contoso.com", "approver": "bob@contoso.com", "graphRequestId": "graph-req-1",
		"clientRequestId": "client-req-1", "reason": nil, "before": nil,
		"configurationId": "2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_Windows10EnrollmentCompletionPageConfiguration",
		"assignmentId":    "2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_5e6f0000-0000-0000-0000-000000000001"}
	for k, v := range want {
		if !reflect.DeepEqual(l[k], v) {
			t.Errorf("%s = %v, want %v", k, l[k], v)
		}
	}
	after, _ := l["after"].(map[string]any)
	if after["groupId"] != "5e6f0000-0000-0000-0000-000000000001" || after["deviceAndAppManagementAssignmentFilterType"] != "include" {
		t.Errorf("after = %v, want the target Graph holds", l["after"])
	}
	if l["xRequestId"] == nil {
		t.Errorf("no requestId")
	}
	d := checkEMF(t, hs.logs.String(), "Applied", "")
	checkEMF(t, hs.logs.String(), "GraphLatency", "")
	if d["GraphRetries"] != 0.0 {
		t.Errorf("GraphRetries = %v", d["GraphRetries"])
	}
}

func TestAuditLineReplayed(t *testing.T) {
	hs := newHarness(t, &testOptions{Store: idempotency.NewMemory(nil, 0)})
	for i := 0; i < 2; i++ {
		if w := hs.do(t, signed(t, validBody, testNow)); w.Code != http.StatusOK {
			t.Fatalf("status %d %s", w.Code, w.Body)
		}
		if i == 0 {
			hs.logs.Reset()
		}
	}
	l := oneAudit(t, hs.logs.String(), apply.AuditReplayed)
	if after, _ := l["after"].(map[string]any); after["groupId"] == nil || l["deliveryId"] != "msg_test_1" {
		t.Errorf("replayed line = %v, want the stored after target and the delivery id", l)
	}
	checkEMF(t, hs.logs.String(), "Replayed", "")
}

func TestAuditLineRefused(t *testing.T) {
	hs := newHarness(t, nil)
	body := strings.Replace(validBody, `"state":"approved"`, `"state":"rejected"`, 1)
	if w := hs.do(t, signed(t, body, testNow)); w.Code != http.StatusForbidden {
		t.Fatalf("status %d %s", w.Code, w.Body)
	}
	l := oneAudit(t, hs.logs.String(), apply.AuditRefused)
	if l["reason"] != "not-approved" || l["after"] != nil || l["graphRequestId"] != nil || l["ticketId"] != "CHG0030042" {
		t.Errorf("refused line = %v", l)
	}
	checkEMF(t, hs.logs.String(), "Refused", "not-approved")

	// Refused before anything was decoded: the same keys, null values.
	hs.logs.Reset()
	r := signed(t, validBody, testNow)
	r.Header.Set("webhook-signature", "v1,AAAA")
	if w := hs.do(t, r); w.Code != http.StatusUnauthorized {
		t.Fatalf("status %d", w.Code)
	}
	l = oneAudit(t, hs.logs.String(), apply.AuditRefused)
	if l["reason"] != "signature-mismatch" || l["ticketId"] != nil || l["sender"] != "generic" {
		t.Errorf("refused line = %v", l)
	}
	checkEMF(t, hs.logs.String(), "Refused", "signature-mismatch")
}

// TestAuditLineFailedOrUnknown: a write Graph gave no clear answer to is
// audited unknown (it may have been applied, as the ticket is told); a
// failure before anything was sent is failed. Both warn and count as
// Failed.
func TestAuditLineFailedOrUnknown(t *testing.T) {
	for _, c := range []struct {
		name, outcome string
		err           error
	}{
		{"sent", apply.AuditUnknown, &change.Error{Code: change.CodeUnavailable, RetryAfter: time.Second, Message: "Graph is unavailable"}},
		{"nothing sent", apply.AuditFailed, &change.Error{Code: change.CodeUnavailable, RetryAfter: time.Second, Message: "Graph is unavailable",
			Err: change.ErrNothingSent}},
	} {
		t.Run(c.name, func(t *testing.T) {
			hs := newHarness(t, nil)
			hs.g.err = c.err
			if w := hs.do(t, signed(t, validBody, testNow)); w.Code < 500 {
				t.Fatalf("status %d %s", w.Code, w.Body)
			}
			l := oneAudit(t, hs.logs.String(), c.outcome)
			if l["reason"] != "graph-unavailable" || l["after"] != nil || l["level"] != "WARN" {
				t.Errorf("%s line = %v", c.outcome, l)
			}
			// The request's own line says the same.
			if lines := logLines(t, hs.logs.String(), "webhook"); len(lines) != 1 || lines[0]["outcome"] != c.outcome {
				t.Errorf("webhook lines %v, want one with outcome %s", lines, c.outcome)
			}
			checkEMF(t, hs.logs.String(), "Failed", "graph-unavailable")
		})
	}
}

func TestAuditLineQueuedAndWorker(t *testing.T) {
	q := &captureQueue{}
	hs := newAsyncHarness(t, q)
	if w := hs.do(t, signed(t, validBody, testNow)); w.Code != http.StatusAccepted {
		t.Fatalf("status %d %s", w.Code, w.Body)
	}
	queued := oneAudit(t, hs.logs.String(), apply.AuditQueued)
	if queued["after"] != nil || queued["ticketId"] != "CHG0030042" {
		t.Errorf("queued line = %v", queued)
	}

	wk := newWorkerHarness(t, queue.NewLocal(nil))
	if err := wk.h.Process(context.Background(), queue.Delivery{ID: "m1", Body: q.messages()[0], ReceiveCount: 1}); err != nil {
		t.Fatal(err)
	}
	l := oneAudit(t, wk.logs.String(), apply.AuditApplied)
	if l["xRequestId"] != queued["xRequestId"] || l["deliveryId"] != "msg_test_1" || l["graphRequestId"] != "graph-req-1" {
		t.Errorf("worker line = %v, want the webhook's request id", l)
	}
	checkEMF(t, wk.logs.String(), "Applied", "")

	// Dead-lettered: a permanent failure with a dead-letter queue.
	dl := newWorkerHarness(t, queue.NewLocal(nil))
	dl.g.err = &change.Error{Code: change.CodeNotFound, Message: "no such assignment"}
	if err := dl.h.Process(context.Background(), queue.Delivery{ID: "m2", Body: q.messages()[0], ReceiveCount: 1}); err != nil {
		t.Fatal(err)
	}
	l = oneAudit(t, dl.logs.String(), apply.AuditDeadLettered)
	if l["reason"] != "not-found" {
		t.Errorf("dead-lettered line = %v", l)
	}
	checkEMF(t, dl.logs.String(), "Failed", "not-found")
}

// TestAuditLineChat: a chat assign writes the same audit line, the user as
// requester and approver; help writes none; a user not allowed is refused.
func TestAuditLineChat(t *testing.T) {
	ids := chatCfg + " " + chatAsg
	c := newChatHarness(t, &fakeGraph{}, 2*time.Second)
	if w := c.do(t, slackRequest(t, slackForm("assign "+ids+" group "+chatGroup), testNow)); w.Code != http.StatusOK {
		t.Fatalf("status %d", w.Code)
	}
	l := oneAudit(t, c.logs.String(), apply.AuditApplied)
	if l["sender"] != "slack" || l["requester"] == nil || l["requester"] != l["approver"] || l["after"] == nil || l["graphRequestId"] != "graph-req-1" {
		t.Errorf("chat applied line = %v", l)
	}
	checkEMF(t, c.logs.String(), "Applied", "")

	c = newChatHarness(t, &fakeGraph{}, 2*time.Second)
	c.do(t, slackRequest(t, slackForm("help"), testNow))
	if n := len(logLines(t, c.logs.String(), apply.AuditMessage)); n != 0 {
		t.Errorf("help wrote %d audit lines", n)
	}
	c.do(t, slackRequest(t, slackForm("assign "+ids+" alldevices", "user_id", "U0999NOPE"), testNow))
	l = oneAudit(t, c.logs.String(), apply.AuditRefused)
	if l["reason"] != string(change.CodeForbidden) {
		t.Errorf("chat refused line = %v, want reason forbidden (a problem type)", l)
	}
	checkEMF(t, c.logs.String(), "Refused", string(change.CodeForbidden))
}

// TestAuditBeforeUnderTheAssignStrategy: through the real client against
// the emulator, the assign strategy's line carries the target the list read
// showed before the change, the patch strategy's says null.
func TestAuditBeforeUnderTheAssignStrategy(t *testing.T) {
	for _, strategy := range []string{apply.StrategyAssign, apply.StrategyPatch} {
		t.Run(strategy, func(t *testing.T) {
			s := newStrategyStack(t, strategy, "beta")
			was := byID(s.emu.Assignments(graphemu.ConfigESP))[graphemu.AssignmentESPGroup]
			if w := s.send(t, validBody); w.Code != http.StatusOK {
				t.Fatalf("status %d %s", w.Code, w.Body)
			}
			l := oneAudit(t, s.logs.String(), apply.AuditApplied)
			if strategy == apply.StrategyPatch {
				if l["before"] != nil {
					t.Errorf("patch: before = %v, want null (no read before the PATCH)", l["before"])
				}
				return
			}
			var want map[string]any
			_ = json.Unmarshal([]byte(was), &want)
			if !reflect.DeepEqual(l["before"], want["target"]) || l["after"] == nil || reflect.DeepEqual(l["before"], l["after"]) {
				t.Errorf("assign: before = %v, after = %v; want before %v", l["before"], l["after"], want["target"])
			}
		})
	}
}
