package webhook

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/chat"
	"github.com/enrollhook/enrollhook/pkg/chatrequest"
	"github.com/enrollhook/enrollhook/pkg/idempotency"
	"github.com/enrollhook/enrollhook/pkg/source/slack"
)

// TestChatRepliesSayTheirOutcome: every chat reply is a 200, so the
// outcome it reports is in HeaderOutcome, refusals included.
func TestChatRepliesSayTheirOutcome(t *testing.T) {
	c := newChatHarness(t, &fakeGraph{}, time.Second)
	assign := "assign " + chatCfg + " " + chatAsg + " alldevices"
	tests := []struct {
		name string
		req  func() *http.Request
		want chat.Status
	}{
		{"slack assign", func() *http.Request { return slackRequest(t, slackForm(assign), testNow) }, chat.StatusApplied},
		{"slack not allowed", func() *http.Request { return slackRequest(t, slackForm(assign, "user_id", "U9999"), testNow) }, chat.StatusRefused},
		{"slack malformed", func() *http.Request { return slackRequest(t, slackForm("assign nothing"), testNow) }, chat.StatusUsage},
		{"slack help", func() *http.Request { return slackRequest(t, slackForm("help"), testNow) }, chat.StatusHelp},
		{"teams assign", func() *http.Request { return teamsRequest(t, teamsActivity(assign, testNow)) }, chat.StatusApplied},
		{"teams not allowed", func() *http.Request {
			return teamsRequest(t, teamsActivity(assign, testNow, func(a map[string]any) {
				a["from"] = map[string]any{"id": "29:other", "name": "Mallory", "aadObjectId": "0a1b2c3d-0000-0000-0000-000000000666"}
			}))
		}, chat.StatusRefused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := c.do(t, tt.req())
			if got := w.Header().Get(HeaderOutcome); w.Code != http.StatusOK || got != string(tt.want) {
				t.Errorf("answer %d with %s: %q, want 200 with %q: %s", w.Code, HeaderOutcome, got, tt.want, w.Body)
			}
		})
	}
}

// TestChatReplayKeepsItsOutcome: a replayed chat reply carries the first
// answer's outcome, so a refusal sent again is still a refusal.
func TestChatReplayKeepsItsOutcome(t *testing.T) {
	s, err := slack.New(chatSlackSecret, &slack.Options{Allow: chat.Allowlist{Tenant: "T0001", Users: []string{"U0456EFGH"}}})
	if err != nil {
		t.Fatal(err)
	}
	h := newTestHandler(&fakeGraph{}, []Source{s}, &testOptions{Now: func() time.Time { return testNow }, Logger: testLogger(&lockedBuffer{}),
		Store: idempotency.NewMemory(nil, 0)})
	form := slackForm("assign "+chatCfg+" "+chatAsg+" alldevices", "user_id", "U9999")
	for i, replay := range []string{"", "true"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, slackRequest(t, form, testNow))
		if got := w.Header().Get(HeaderOutcome); w.Code != http.StatusOK || got != string(chat.StatusRefused) || w.Header().Get(HeaderReplay) != replay {
			t.Errorf("send %d: %d, %s %q, %s %q; want 200, %q, %q", i+1, w.Code, HeaderOutcome, got, HeaderReplay, w.Header().Get(HeaderReplay),
				chat.StatusRefused, replay)
		}
	}
}

// TestChatReplayAuditedLikeItsFirstAnswer: a replayed show or help writes
// no audit line (the first wrote none; neither changes anything), while a
// replayed assign is audited as a replay.
func TestChatReplayAuditedLikeItsFirstAnswer(t *testing.T) {
	s, err := slack.New(chatSlackSecret, &slack.Options{Allow: chat.Allowlist{Tenant: "T0001", Users: []string{"U0456EFGH"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		text    string
		audited bool
	}{
		{"show " + chatCfg + " " + chatAsg, false},
		{"help", false},
		{"assign " + chatCfg + " " + chatAsg + " alldevices", true},
	} {
		logs := &lockedBuffer{}
		h := newTestHandler(&fakeGraph{}, []Source{s}, &testOptions{Now: func() time.Time { return testNow }, Logger: testLogger(logs),
			Store: idempotency.NewMemory(nil, 0)})
		form := slackForm(tt.text) // one delivery (its trigger_id), sent twice
		for i := range 2 {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, slackRequest(t, form, testNow))
			waitChat(t, h)
			if got := w.Header().Get(HeaderReplay) == "true"; got != (i == 1) {
				t.Fatalf("%q send %d: replay %v", tt.text, i+1, got)
			}
		}
		got := false
		for _, line := range strings.Split(logs.String(), "\n") {
			got = got || strings.Contains(line, `"msg":"audit"`) && strings.Contains(line, `"outcome":"replayed"`)
		}
		if got != tt.audited {
			t.Errorf("%q sent twice: replay audited %v, want %v:\n%s", tt.text, got, tt.audited, logs)
		}
	}
}

// TestChatRefusalAuditNamesWhoSentIt: a command refused before it became a
// change (the user is not on the allow-list) is audited with that user as
// its requester; an approve refused so, with the user as the approver of
// the request it names.
func TestChatRefusalAuditNamesWhoSentIt(t *testing.T) {
	logs := &lockedBuffer{}
	s, err := slack.New(chatSlackSecret, &slack.Options{Allow: chat.Allowlist{Tenant: "T0001", Users: []string{"U0456EFGH"}}})
	if err != nil {
		t.Fatal(err)
	}
	h := newTestHandler(&fakeGraph{}, []Source{s}, &testOptions{Now: func() time.Time { return testNow }, Logger: testLogger(logs)})
	for _, tt := range []struct{ text, want string }{
		{"assign " + chatCfg + " " + chatAsg + " alldevices", `"requester":"slack:T0001/U9999","approver":null`},
		{"approve KMA7R5BW", `"ticketId":"KMA7R5BW","ticketUrl":null,"requester":null,"approver":"slack:T0001/U9999"`},
	} {
		h.ServeHTTP(httptest.NewRecorder(), slackRequest(t, slackForm(tt.text, "user_id", "U9999"), testNow))
		waitChat(t, h)
		found := false
		for _, line := range strings.Split(logs.String(), "\n") {
			found = found || strings.Contains(line, `"msg":"audit"`) && strings.Contains(line, `"outcome":"refused"`) && strings.Contains(line, tt.want)
		}
		if !found {
			t.Errorf("%q refused: no audit line with %s:\n%s", tt.text, tt.want, logs)
		}
	}
}

// failingRequests is a chat request store that cannot be read.
type failingRequests struct{ chatrequest.Store }

func (failingRequests) Get(context.Context, string) (*chatrequest.Request, error) {
	return nil, errors.New("dynamodb: connection refused")
}

// TestRequestStoreDownIsNotGraphUnavailable: an approval whose request
// store (the change record's table) cannot be read is refused as
// record-unavailable, not as graph-unavailable (the Graph alarm's).
func TestRequestStoreDownIsNotGraphUnavailable(t *testing.T) {
	logs := &lockedBuffer{}
	s, err := slack.New(chatSlackSecret, &slack.Options{Allow: chat.Allowlist{Tenant: "T0001", Users: []string{"U0456EFGH"}}})
	if err != nil {
		t.Fatal(err)
	}
	h := newTestHandler(&fakeGraph{}, []Source{s}, &testOptions{Now: func() time.Time { return testNow }, Logger: testLogger(logs),
		Requests: failingRequests{}})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, slackRequest(t, slackForm("approve KMA7R5BW"), testNow))
	waitChat(t, h)
	if m := decodeSlack(t, w); !strings.Contains(m.Text, "request store") || strings.Contains(logs.String(), "graph-unavailable") ||
		!strings.Contains(logs.String(), `"record-unavailable"`) {
		t.Errorf("reply %q; logs:\n%s", m.Text, logs)
	}
}

// TestAPartRevertIsNotToldRefused: a chat revert that stopped part way on
// a 403 (its window, the chat hours, closing between its writes) is told
// what it put back, never "Refused, nothing was changed"; a plain policy
// refusal still is.
func TestAPartRevertIsNotToldRefused(t *testing.T) {
	inv := &chat.Invocation{User: "U0456EFGH", Command: &chat.Command{Verb: chat.VerbRevert, Ref: "CHG0030042"}}
	part := &change.Error{Code: change.CodeForbidden, Kind: change.KindOutsideWindow, Err: change.ErrPartlyApplied,
		Message: "the revert put back servicenow:A2 (done and recorded), then stopped at servicenow:A1; for servicenow:A1 and any after it: the change window has closed"}
	if text := notDone(inv, inv.Command, part, "r").Text("\n"); strings.Contains(text, "nothing was changed") || !strings.Contains(text, "put back servicenow:A2") {
		t.Errorf("a revert that put back a change is told %q", text)
	}
	refused := change.Refuse(change.KindPolicyGroup, "the policy does not allow group x")
	if text := notDone(inv, inv.Command, refused, "r").Text("\n"); !strings.HasPrefix(text, "Refused, nothing was changed") {
		t.Errorf("a policy refusal is told %q", text)
	}
}
