package writeback

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	snCreds   = "svc.enrollhook:sn-Pa55word-0123456789"
	jiraCreds = "bot@contoso.com:ATATT3xFfGF0-jira-api-token-0123456789"
)

// fakeAPI is a loopback ServiceNow or Jira: it records each request and
// answers status after delay.
type fakeAPI struct {
	srv    *httptest.Server
	mu     sync.Mutex
	reqs   []seen
	status int
	delay  time.Duration
}

type seen struct {
	method, path, auth, contentType string
	body                            []byte
}

func newFakeAPI(t *testing.T, status int) *fakeAPI {
	t.Helper()
	f := &fakeAPI{status: status}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.reqs = append(f.reqs, seen{r.Method, r.URL.EscapedPath(), r.Header.Get("Authorization"), r.Header.Get("Content-Type"), b})
		delay, status := f.delay, f.status
		f.mu.Unlock()
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, `{"result":{"echo":"`+snCreds+`"}}`) // a body that must never be repeated
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAPI) requests() []seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seen(nil), f.reqs...)
}

func basic(creds string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(creds)) }

func note(system string) *Note {
	return &Note{System: system, Ticket: "CHG0030042", Record: "change_request/c83c5e5347c12200e0ef563dbb9a7190",
		Outcome: Applied, RequestID: "req-1", GraphRequestID: "graph-req-1",
		ApprovedBy: "fred.luddy@contoso.com", RequestedBy: "abel.tuter@contoso.com",
		ConfigurationID: "cfg_1", AssignmentID: "asg_1", TargetType: "groupAssignmentTarget"}
}

func TestNotConfiguredIsNil(t *testing.T) {
	if w := New(Options{}); w != nil {
		t.Fatalf("New without a system = %v, want nil", w)
	}
	if w := New(Options{ServiceNow: Target{URL: "https://x.service-now.com"}}); w != nil {
		t.Fatalf("New with a URL but no credentials = %v, want nil", w)
	}
	var w *Writer
	if err := w.Write(context.Background(), note(ServiceNow)); !errors.Is(err, ErrSkipped) {
		t.Fatalf("nil Writer: %v, want ErrSkipped", err)
	}
}

func TestServiceNowWorkNote(t *testing.T) {
	f := newFakeAPI(t, http.StatusOK)
	w := New(Options{ServiceNow: Target{URL: f.srv.URL + "/", Credentials: snCreds}})
	if err := w.Write(context.Background(), note(ServiceNow)); err != nil {
		t.Fatal(err)
	}
	reqs := f.requests()
	if len(reqs) != 1 {
		t.Fatalf("requests = %d, want 1", len(reqs))
	}
	r := reqs[0]
	if r.method != http.MethodPatch || r.path != "/api/now/table/change_request/c83c5e5347c12200e0ef563dbb9a7190" {
		t.Errorf("request = %s %s", r.method, r.path)
	}
	if r.auth != basic(snCreds) || r.contentType != "application/json" {
		t.Errorf("Authorization = %q, Content-Type = %q", r.auth, r.contentType)
	}
	var body map[string]string
	if err := json.Unmarshal(r.body, &body); err != nil || len(body) != 1 {
		t.Fatalf("body = %s, want {work_notes}", r.body)
	}
	for _, want := range []string{"was applied", "Outcome: applied", "Graph request id: graph-req-1", "Approved by: fred.luddy@contoso.com",
		"enrollhook request id: req-1", "Configuration: cfg_1", "Assignment: asg_1"} {
		if !strings.Contains(body["work_notes"], want) {
			t.Errorf("work_notes lacks %q:\n%s", want, body["work_notes"])
		}
	}
	if w.Written() != 1 || w.Failures() != 0 {
		t.Errorf("written %d failures %d", w.Written(), w.Failures())
	}
}

func TestJiraComment(t *testing.T) {
	f := newFakeAPI(t, http.StatusCreated)
	w := New(Options{Jira: Target{URL: f.srv.URL, Credentials: jiraCreds}})
	n := note(Jira)
	n.Ticket, n.Record = "ITSM-42", ""
	n.Outcome, n.Problem, n.Detail = Refused, "not-found", "Intune has no such assignment"
	if err := w.Write(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	r := f.requests()[0]
	if r.method != http.MethodPost || r.path != "/rest/api/3/issue/ITSM-42/comment" || r.auth != basic(jiraCreds) {
		t.Errorf("request = %s %s auth %q", r.method, r.path, r.auth)
	}
	var body struct {
		Body struct {
			Type    string `json:"type"`
			Version int    `json:"version"`
			Content []struct {
				Type    string `json:"type"`
				Content []struct{ Type, Text string }
			} `json:"content"`
		} `json:"body"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil || body.Body.Type != "doc" || body.Body.Version != 1 || len(body.Body.Content) == 0 {
		t.Fatalf("body = %s, want an ADF doc", r.body)
	}
	var text []string
	for _, p := range body.Body.Content {
		if p.Type != "paragraph" || len(p.Content) != 1 || p.Content[0].Type != "text" || p.Content[0].Text == "" {
			t.Fatalf("ADF node %+v, want a paragraph of one non-empty text", p)
		}
		text = append(text, p.Content[0].Text)
	}
	all := strings.Join(text, "\n")
	for _, want := range []string{"NOT applied", "Outcome: refused", "Problem: not-found", "Reason: Intune has no such assignment",
		"Graph request id: graph-req-1", "Approved by: fred.luddy@contoso.com"} {
		if !strings.Contains(all, want) {
			t.Errorf("comment lacks %q:\n%s", want, all)
		}
	}
}

func TestSkippedWithoutIDs(t *testing.T) {
	f := newFakeAPI(t, http.StatusOK)
	w := New(Options{ServiceNow: Target{URL: f.srv.URL, Credentials: snCreds}, Jira: Target{URL: f.srv.URL, Credentials: jiraCreds}})
	for _, n := range []*Note{
		{System: ServiceNow, Ticket: "CHG1"},                                                     // no record
		{System: ServiceNow, Ticket: "CHG1", Record: "../x/0123"},                                // not a record
		{System: Jira, Ticket: "ITSM-42/../../myself"},                                           // not an issue key
		{System: "generic", Ticket: "CHG1", Record: "change_request/" + strings.Repeat("a", 32)}, // not an ITSM sender
	} {
		if err := w.Write(context.Background(), n); !errors.Is(err, ErrSkipped) {
			t.Errorf("%+v: %v, want ErrSkipped", n, err)
		}
	}
	if len(f.requests()) != 0 || w.Failures() != 0 {
		t.Errorf("requests %d failures %d, want none", len(f.requests()), w.Failures())
	}
}

func TestFailuresAreReportedWithoutSecrets(t *testing.T) {
	// The ticket API that never answers in time holds its answer 10 s;
	// the write-back gives up after 100 ms. The others answer at once and
	// have time to spare on a loaded machine.
	slow := newFakeAPI(t, http.StatusOK)
	slow.delay = 10 * time.Second
	for _, tc := range []struct {
		name    string
		f       *fakeAPI
		timeout time.Duration
		want    string
	}{
		{"500", newFakeAPI(t, http.StatusInternalServerError), 5 * time.Second, "HTTP 500"},
		{"401", newFakeAPI(t, http.StatusUnauthorized), 5 * time.Second, "HTTP 401"},
		{"timeout", slow, 100 * time.Millisecond, "timed out"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := New(Options{ServiceNow: Target{URL: tc.f.srv.URL, Credentials: snCreds}, Timeout: tc.timeout})
			began := time.Now()
			err := w.Write(context.Background(), note(ServiceNow))
			if err == nil || errors.Is(err, ErrSkipped) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if took := time.Since(began); took > 5*time.Second {
				t.Errorf("took %v, want the write-back's own timeout", took)
			}
			for _, secret := range []string{snCreds, "sn-Pa55word", base64.StdEncoding.EncodeToString([]byte(snCreds))} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q quotes the credentials", err)
				}
			}
			if w.Failures() != 1 {
				t.Errorf("failures = %d, want 1", w.Failures())
			}
		})
	}
}

func TestCallerDeadlineBounds(t *testing.T) {
	f := newFakeAPI(t, http.StatusOK)
	f.delay = 10 * time.Second
	w := New(Options{Jira: Target{URL: f.srv.URL, Credentials: jiraCreds}})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	n := note(Jira)
	n.Ticket = "ITSM-42"
	began := time.Now()
	if err := w.Write(ctx, n); err == nil {
		t.Fatal("no error past the caller's deadline")
	}
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("took %v, want the caller's deadline (the API holds its answer 10 s)", took)
	}
}

// TestWorkNotesStayPlainText: a [code] tag in a name or a reason from the
// delivery, however spelled or split, does not reach the work note, where
// ServiceNow would render what follows as HTML.
func TestWorkNotesStayPlainText(t *testing.T) {
	for _, in := range []string{
		"[code]<a href=\"https://evil.example\">x</a>[/code]",
		"[CODE ]<img src=x onerror=alert(1)>[ / Code]",
		"[co[code]de]<b>x</b>[/co[/code]de]",
		"[\u00a0code\u2003]<b>x</b>[/\u00a0code]",
	} {
		n := &Note{Outcome: Applied, ApprovedBy: in, RequestedBy: "alice@contoso.com"}
		if out := plainJournal(n.Text()); codeTag().MatchString(out) || !strings.Contains(out, "alice@contoso.com") {
			t.Errorf("%q -> %q", in, out)
		}
	}
	if got := plainJournal("Approved by: [bob] (a [tag])"); got != "Approved by: [bob] (a [tag])" {
		t.Errorf("other brackets changed: %q", got)
	}
}
