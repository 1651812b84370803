package webhook

// The write-back of outcomes to ServiceNow and Jira, through the handler and
// the worker, against loopback fakes of both APIs.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
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
	"github.com/enrollhook/enrollhook/pkg/queue"
	"github.com/enrollhook/enrollhook/pkg/source/jira"
	"github.com/enrollhook/enrollhook/pkg/source/servicenow"
	"github.com/enrollhook/enrollhook/pkg/worker"
	"github.com/enrollhook/enrollhook/pkg/writeback"
)

const (
	wbSNCreds   = "svc.writeback:wb-SN-pa55word-0123456789"
	wbJiraCreds = "bot@contoso.com:ATATT3x-wb-jira-token-0123456789"
	snRecord    = "/api/now/table/change_request/c83c5e5347c12200e0ef563dbb9a7190"
)

// ticketAPI is a loopback ServiceNow Table API or Jira REST API.
type ticketAPI struct {
	srv    *httptest.Server
	mu     sync.Mutex
	got    []ticketCall
	status int
	delay  time.Duration
}

type ticketCall struct {
	method, path, auth string
	body               []byte
}

func newTicketAPI(t *testing.T, status int, delay time.Duration) *ticketAPI {
	t.Helper()
	f := &ticketAPI{status: status, delay: delay}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.got = append(f.got, ticketCall{r.Method, r.URL.EscapedPath(), r.Header.Get("Authorization"), b})
		f.mu.Unlock()
		if f.delay > 0 {
			select {
			case <-time.After(f.delay):
			case <-r.Context().Done():
			}
		}
		w.WriteHeader(f.status)
		_, _ = io.WriteString(w, `{"error":{"message":"echo `+wbSNCreds+`"}}`)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *ticketAPI) calls() []ticketCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]ticketCall(nil), f.got...)
}

// withWriteBack configures the handler to write back to sn and jr (either
// may be nil: not configured).
func withWriteBack(hs *harness, sn, jr *ticketAPI, timeout time.Duration) *writeback.Writer {
	var o writeback.Options
	if sn != nil {
		o.ServiceNow = writeback.Target{URL: sn.srv.URL, Credentials: wbSNCreds}
	}
	if jr != nil {
		o.Jira = writeback.Target{URL: jr.srv.URL, Credentials: wbJiraCreds}
	}
	o.Timeout = timeout
	w := writeback.New(o)
	if w != nil {
		hs.h.set(func(o *testOptions) { o.WriteBack = w })
	}
	return w
}

func basicOf(creds string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(creds)) }

// noCredentials fails when any form of the write-back credentials is in s.
func noCredentials(t *testing.T, what, s string) {
	t.Helper()
	for _, c := range []string{wbSNCreds, wbJiraCreds} {
		_, secret, _ := strings.Cut(c, ":")
		for _, form := range []string{c, secret, base64.StdEncoding.EncodeToString([]byte(c))} {
			if strings.Contains(s, form) {
				t.Errorf("%s contains the write-back credentials (%q)", what, form)
			}
		}
	}
}

func answerText(w *httptest.ResponseRecorder) string {
	var b strings.Builder
	for k, vs := range w.Header() {
		b.WriteString(k + ": " + strings.Join(vs, ",") + "\n")
	}
	return b.String() + w.Body.String()
}

// writeBackLine returns the handler's "write-back" log line, or nil.
func writeBackLine(t *testing.T, hs *harness) map[string]any {
	t.Helper()
	for _, l := range strings.Split(strings.TrimSpace(hs.logs.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "write-back" {
			return m
		}
	}
	return nil
}

func TestWriteBackAfterApply(t *testing.T) {
	snBody := itsmSample(t, "../source/servicenow/testdata/approved.json")
	jiraBody := itsmSample(t, "../source/jira/testdata/issue-approved.json")
	tests := []struct {
		name       string
		req        func(t *testing.T) *http.Request
		graphErr   error
		status     int
		method     string
		path       string
		auth       string
		wantInNote []string
	}{
		{"servicenow applied", func(t *testing.T) *http.Request { return snRequest(t, snBody, testNow) }, nil, 200,
			http.MethodPatch, snRecord, basicOf(wbSNCreds),
			[]string{"was applied", "Outcome: applied", "Graph request id: graph-req-1", "Approved by: fred.luddy@contoso.com", "Requested by: abel.tuter@contoso.com"}},
		{"jira applied", func(t *testing.T) *http.Request { return jiraRequest(t, jiraBody) }, nil, 200,
			http.MethodPost, "/rest/api/3/issue/ITSM-42/comment", basicOf(wbJiraCreds),
			[]string{"was applied", "Outcome: applied", "Graph request id: graph-req-1", "Approved by: mia.approver@contoso.com"}},
		{"servicenow refused by Graph", func(t *testing.T) *http.Request { return snRequest(t, snBody, testNow) },
			&change.Error{Code: change.CodeNotFound, Message: "Intune has no such configuration or assignment"}, 404,
			http.MethodPatch, snRecord, basicOf(wbSNCreds),
			[]string{"NOT applied", "Outcome: refused", "Problem: not-found", "Approved by: fred.luddy@contoso.com"}},
		{"jira failed", func(t *testing.T) *http.Request { return jiraRequest(t, jiraBody) },
			&change.Error{Code: change.CodeUnavailable, Message: "Graph is unavailable", RetryAfter: time.Second}, 503,
			http.MethodPost, "/rest/api/3/issue/ITSM-42/comment", basicOf(wbJiraCreds),
			// Graph unavailable after the write was sent: the note must not
			// claim the change was not applied.
			[]string{"could not be confirmed", "Outcome: unknown", "Problem: graph-unavailable"}},
		{"servicenow, Graph refused the PATCH", func(t *testing.T) *http.Request { return snRequest(t, snBody, testNow) },
			&change.Error{Code: change.CodeGraphRefused, Message: "Graph refused the change (BadRequest)"}, 502,
			http.MethodPatch, snRecord, basicOf(wbSNCreds),
			[]string{"NOT applied: Microsoft Graph refused it", "Outcome: refused", "Problem: graph-refused"}},
		{"servicenow, Graph timed out the PATCH (408): it may have gone through", func(t *testing.T) *http.Request { return snRequest(t, snBody, testNow) },
			&change.Error{Code: change.CodeUnavailable, Message: "Graph is unavailable", RetryAfter: time.Second, Err: &graph.ResponseError{StatusCode: 408}}, 503,
			http.MethodPatch, snRecord, basicOf(wbSNCreds),
			[]string{"could not be confirmed", "Outcome: unknown"}},
		{"jira, out of time before anything was sent", func(t *testing.T) *http.Request { return jiraRequest(t, jiraBody) },
			&change.Error{Code: change.CodeTimeout, Message: "no write slot before the deadline; nothing was applied", RetryAfter: time.Second, Err: change.ErrNothingSent}, 503,
			http.MethodPost, "/rest/api/3/issue/ITSM-42/comment", basicOf(wbJiraCreds),
			[]string{"was NOT applied (the reason is below)", "Outcome: failed", "Problem: out-of-time"}},
		{"servicenow, a [code] tag in the reason", func(t *testing.T) *http.Request { return snRequest(t, snBody, testNow) },
			&change.Error{Code: change.CodeGraphRefused, Message: "[code]<a href=x>y</a>[/code]"}, 502,
			http.MethodPatch, snRecord, basicOf(wbSNCreds),
			[]string{"Reason: <a href=x>y</a>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := newITSMHarness(t, false)
			hs.g.err = tt.graphErr
			sn, jr := newTicketAPI(t, http.StatusOK, 0), newTicketAPI(t, http.StatusCreated, 0)
			withWriteBack(hs, sn, jr, 0)
			w := hs.do(t, tt.req(t))
			if w.Code != tt.status {
				t.Fatalf("status = %d %s, want %d", w.Code, w.Body, tt.status)
			}
			got := append(sn.calls(), jr.calls()...)
			if len(got) != 1 {
				t.Fatalf("write-backs = %d, want 1", len(got))
			}
			c := got[0]
			if c.method != tt.method || c.path != tt.path || c.auth != tt.auth {
				t.Errorf("write-back = %s %s auth %q, want %s %s %q", c.method, c.path, c.auth, tt.method, tt.path, tt.auth)
			}
			note := noteText(t, c)
			for _, want := range tt.wantInNote {
				if !strings.Contains(note, want) {
					t.Errorf("note lacks %q:\n%s", want, note)
				}
			}
			if !strings.Contains(note, "enrollhook request id: "+w.Header().Get(HeaderRequestID)) {
				t.Errorf("note lacks our request id:\n%s", note)
			}
			if l := writeBackLine(t, hs); l == nil || l["writeBack"] != "posted" {
				t.Errorf("write-back line = %v, want posted", l)
			}
			noCredentials(t, "the logs", hs.logs.String())
			noCredentials(t, "the answer", answerText(w))
		})
	}
}

// noteText is the text a write-back posted: ServiceNow's work_notes, or
// the text of a Jira comment's ADF paragraphs.
func noteText(t *testing.T, c ticketCall) string {
	t.Helper()
	if strings.HasPrefix(c.path, "/api/now/") {
		var b map[string]string
		if err := json.Unmarshal(c.body, &b); err != nil || len(b) != 1 || b["work_notes"] == "" {
			t.Fatalf("ServiceNow body = %s, want {work_notes}", c.body)
		}
		return b["work_notes"]
	}
	var b struct {
		Body struct {
			Type    string
			Content []struct {
				Type    string
				Content []struct{ Type, Text string }
			}
		}
	}
	if err := json.Unmarshal(c.body, &b); err != nil || b.Body.Type != "doc" {
		t.Fatalf("Jira body = %s, want {body: ADF doc}", c.body)
	}
	var lines []string
	for _, p := range b.Body.Content {
		for _, n := range p.Content {
			lines = append(lines, n.Text)
		}
	}
	return strings.Join(lines, "\n")
}

func TestWriteBackNotConfiguredPostsNothing(t *testing.T) {
	snBody := itsmSample(t, "../source/servicenow/testdata/approved.json")
	jiraBody := itsmSample(t, "../source/jira/testdata/issue-approved.json")
	t.Run("none", func(t *testing.T) {
		hs := newITSMHarness(t, false)
		if w := withWriteBack(hs, nil, nil, 0); w != nil {
			t.Fatal("a writer without systems")
		}
		if w := hs.do(t, snRequest(t, snBody, testNow)); w.Code != 200 {
			t.Fatalf("status = %d", w.Code)
		}
		if l := writeBackLine(t, hs); l != nil {
			t.Errorf("write-back line %v without write-back", l)
		}
	})
	t.Run("only jira", func(t *testing.T) {
		hs := newITSMHarness(t, false)
		jr := newTicketAPI(t, http.StatusCreated, 0)
		withWriteBack(hs, nil, jr, 0)
		if w := hs.do(t, snRequest(t, snBody, testNow)); w.Code != 200 {
			t.Fatalf("status = %d", w.Code)
		}
		if n := len(jr.calls()); n != 0 {
			t.Errorf("a ServiceNow change was written to Jira %d times", n)
		}
		if w := hs.do(t, jiraRequest(t, jiraBody)); w.Code != 200 {
			t.Fatalf("status = %d", w.Code)
		}
		if n := len(jr.calls()); n != 1 {
			t.Errorf("Jira write-backs = %d, want 1", n)
		}
	})
	t.Run("generic sender", func(t *testing.T) {
		hs := newITSMHarness(t, false)
		sn := newTicketAPI(t, http.StatusOK, 0)
		withWriteBack(hs, sn, nil, 0)
		if w := hs.do(t, signed(t, validBody, testNow)); w.Code != 200 {
			t.Fatalf("status = %d %s", w.Code, w.Body)
		}
		if n := len(sn.calls()); n != 0 {
			t.Errorf("a generic change (ticket.system servicenow) was written back %d times", n)
		}
	})
	t.Run("refused before apply", func(t *testing.T) {
		hs := newITSMHarness(t, false)
		sn := newTicketAPI(t, http.StatusOK, 0)
		withWriteBack(hs, sn, nil, 0)
		rejected := strings.Replace(snBody, `"state": "approved"`, `"state": "rejected"`, 1)
		if w := hs.do(t, snRequest(t, rejected, testNow)); w.Code != http.StatusForbidden {
			t.Fatalf("status = %d %s", w.Code, w.Body)
		}
		if n := len(sn.calls()); n != 0 {
			t.Errorf("a refusal the sender was answered was written back %d times", n)
		}
	})
}

func TestWriteBackFailureLeavesTheAnswer(t *testing.T) {
	snBody := itsmSample(t, "../source/servicenow/testdata/approved.json")
	// The answer without write-back, to compare with.
	base := newITSMHarness(t, false)
	want := base.do(t, snRequest(t, snBody, testNow))
	if want.Code != 200 {
		t.Fatalf("status = %d", want.Code)
	}
	// The ticket API that never answers in time holds its answer 10 s;
	// the write-back gives up after 200 ms. The 500 has time to spare.
	for _, tc := range []struct {
		name    string
		status  int
		delay   time.Duration
		timeout time.Duration
		cause   string
	}{
		{"500", http.StatusInternalServerError, 0, 5 * time.Second, "HTTP 500"},
		{"timeout", http.StatusOK, 10 * time.Second, 200 * time.Millisecond, "timed out"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs := newITSMHarness(t, false)
			sn := newTicketAPI(t, tc.status, tc.delay)
			wr := withWriteBack(hs, sn, nil, tc.timeout)
			began := time.Now()
			w := hs.do(t, snRequest(t, snBody, testNow))
			if took := time.Since(began); took > 5*time.Second {
				t.Errorf("the request took %v: the write-back's timeout did not bound it", took)
			}
			if w.Code != want.Code || w.Body.String() != want.Body.String() ||
				w.Header().Get(HeaderGraphRequestID) != want.Header().Get(HeaderGraphRequestID) || w.Header().Get("Content-Type") != want.Header().Get("Content-Type") {
				t.Errorf("answer = %d %s, want %d %s as without write-back", w.Code, w.Body, want.Code, want.Body)
			}
			if len(sn.calls()) != 1 {
				t.Fatalf("write-backs = %d, want 1", len(sn.calls()))
			}
			if hs.g.count() != 1 {
				t.Errorf("Graph calls = %d: the change must stay applied, once", hs.g.count())
			}
			l := writeBackLine(t, hs)
			if l == nil || l["writeBack"] != "failed" || !strings.Contains(l["cause"].(string), tc.cause) || l["writeBackFailures"] != float64(1) ||
				l["ticket"] != "CHG0030042" || l["level"] != "WARN" {
				t.Errorf("write-back line = %v, want failed (%s), counted", l, tc.cause)
			}
			if wr.Failures() != 1 {
				t.Errorf("failures = %d, want 1", wr.Failures())
			}
			// The webhook line still says applied.
			found := false
			for _, line := range strings.Split(hs.logs.String(), "\n") {
				if strings.Contains(line, `"msg":"webhook"`) && strings.Contains(line, `"outcome":"applied"`) {
					found = true
				}
			}
			if !found {
				t.Errorf("no webhook line with outcome applied:\n%s", hs.logs)
			}
			// Neither the credentials nor the ticket API's body.
			noCredentials(t, "the logs", hs.logs.String())
			noCredentials(t, "the answer", answerText(w))
			if strings.Contains(hs.logs.String(), "echo ") {
				t.Errorf("the logs quote the ticket API's body:\n%s", hs.logs)
			}
		})
	}
}

// TestWriteBackFromTheWorker: for an async sender, the webhook answers 202
// and writes nothing back; the worker posts the outcome once it is final.
func TestWriteBackFromTheWorker(t *testing.T) {
	snBody := itsmSample(t, "../source/servicenow/testdata/approved.json")
	jiraBody := itsmSample(t, "../source/jira/testdata/issue-approved.json")
	for _, tc := range []struct {
		name      string
		req       func(t *testing.T) *http.Request
		graphErr  error
		receive   int
		writeBack bool
		outcome   string
	}{
		{"servicenow applied", func(t *testing.T) *http.Request { return snRequest(t, snBody, testNow) }, nil, 1, true, "Outcome: applied"},
		{"jira applied", func(t *testing.T) *http.Request { return jiraRequest(t, jiraBody) }, nil, 1, true, "Outcome: applied"},
		{"refused, permanent", func(t *testing.T) *http.Request { return snRequest(t, snBody, testNow) },
			&change.Error{Code: change.CodeNotFound, Message: "Intune has no such configuration or assignment"}, 1, true, "Outcome: refused"},
		{"throttled, will be retried", func(t *testing.T) *http.Request { return snRequest(t, snBody, testNow) },
			&change.Error{Code: change.CodeUnavailable, Message: "Graph is unavailable", RetryAfter: time.Second}, 1, false, ""},
		{"throttled, last receive", func(t *testing.T) *http.Request { return snRequest(t, snBody, testNow) },
			&change.Error{Code: change.CodeUnavailable, Message: "Graph is unavailable", RetryAfter: time.Second}, worker.MaxReceive, true, "Outcome: unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs := newITSMHarness(t, false)
			q := &captureQueue{}
			hs.h.set(func(o *testOptions) { o.Queue = q })
			hs.h.async = map[string]bool{servicenow.Name: true, jira.Name: true}
			sn, jr := newTicketAPI(t, http.StatusOK, 0), newTicketAPI(t, http.StatusCreated, 0)
			withWriteBack(hs, sn, jr, 0)
			w := hs.do(t, tc.req(t))
			if w.Code != http.StatusAccepted {
				t.Fatalf("status = %d %s, want 202", w.Code, w.Body)
			}
			if n := len(sn.calls()) + len(jr.calls()); n != 0 {
				t.Fatalf("the webhook wrote back %d times before the worker ran", n)
			}
			msgs := q.messages()
			if len(msgs) != 1 {
				t.Fatalf("queued %d", len(msgs))
			}
			hs.g.err = tc.graphErr
			_ = hs.h.Process(context.Background(), queue.Delivery{ID: "m-1", Body: msgs[0], ReceiveCount: tc.receive})
			got := append(sn.calls(), jr.calls()...)
			if !tc.writeBack {
				if len(got) != 0 {
					t.Errorf("write-backs = %d for an outcome that is not final", len(got))
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("write-backs = %d, want 1", len(got))
			}
			if got[0].path != snRecord && got[0].path != "/rest/api/3/issue/ITSM-42/comment" {
				t.Errorf("write-back to %s", got[0].path)
			}
			note := noteText(t, got[0])
			if !strings.Contains(note, tc.outcome) || !strings.Contains(note, "enrollhook request id: "+w.Header().Get(HeaderRequestID)) {
				t.Errorf("note = %s, want %q and the 202's request id", note, tc.outcome)
			}
			noCredentials(t, "the logs", hs.logs.String())
			noCredentials(t, "the queued message", string(msgs[0]))
		})
	}
}

// TestWorkerCopyInProgressWritesNothing: a copy of a queued change
// received, on its last receive, while another receive holds the change,
// is not a decision: one note, the applied one, and no dead letter.
func TestWorkerCopyInProgressWritesNothing(t *testing.T) {
	snBody := itsmSample(t, "../source/servicenow/testdata/approved.json")
	hs := newITSMHarness(t, false)
	q := &captureQueue{}
	hs.h.set(func(o *testOptions) { o.Queue = q; o.Store = idempotency.NewMemory(nil, 0) })
	hs.h.async = map[string]bool{servicenow.Name: true}
	sn := newTicketAPI(t, http.StatusOK, 0)
	withWriteBack(hs, sn, nil, 0)
	if w := hs.do(t, snRequest(t, snBody, testNow)); w.Code != http.StatusAccepted {
		t.Fatalf("status %d %s", w.Code, w.Body)
	}
	msg := q.messages()[0]
	var copyErr error
	done := false
	hs.g.onPatch = func() {
		if !done {
			done = true // the overlapping receive, while the first holds the change
			copyErr = hs.h.Process(context.Background(), queue.Delivery{ID: "m-1", Body: msg, ReceiveCount: worker.MaxReceive})
		}
	}
	if err := hs.h.Process(context.Background(), queue.Delivery{ID: "m-1", Body: msg, ReceiveCount: 1}); err != nil {
		t.Fatalf("first receive: %v", err)
	}
	if !apply.InProgress(copyErr) {
		t.Errorf("the copy returned %v, want in progress (back to the queue)", copyErr)
	}
	if calls := sn.calls(); len(calls) != 1 || !strings.Contains(noteText(t, calls[0]), "Outcome: applied") {
		t.Fatalf("%d notes for one applied change", len(calls))
	}
	if strings.Contains(hs.logs.String(), "dead-lettered") {
		t.Errorf("an applied change's copy was dead-lettered")
	}
}
