package webhook

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/chat"
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
