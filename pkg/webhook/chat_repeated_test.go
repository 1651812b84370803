package webhook

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/apply"
	"github.com/enrollhook/enrollhook/pkg/chat"
)

// The chat senders are held to the contract's rule that a property sent
// twice is refused anywhere in a body: a form or an activity that names
// its user (or its text, or its workspace) twice could be read as one
// user by a reviewer and run as the other. Each is refused 422
// invalid-fields, as the generic route refuses a repeated property, with
// the field named; nothing runs, as either user.

// wantRepeated checks w is the 422 invalid-fields problem naming field,
// and that its detail names it too.
func wantRepeated(t *testing.T, w *httptest.ResponseRecorder, field string) {
	t.Helper()
	if w.Code != http.StatusUnprocessableEntity {
		t.Fatalf("status = %d, want 422: %s", w.Code, w.Body)
	}
	p := decodeProblem(t, w)
	if p.Type != apply.ProblemTypePrefix+"invalid-fields" || len(p.Errors) != 1 || p.Errors[0].Field != field ||
		!strings.Contains(p.Errors[0].Reason, "more than once") || !strings.Contains(p.Detail, " "+field+" more than once") {
		t.Errorf("problem %+v, want invalid-fields naming %s", p, field)
	}
}

// TestSlackRepeatedFormFieldIsRefused: a slash command whose form names
// user_id (or text, team_id) twice runs neither as the allowed user nor
// as the other, whichever comes first.
func TestSlackRepeatedFormFieldIsRefused(t *testing.T) {
	c := newChatHarness(t, &fakeGraph{}, time.Second)
	assign := "assign " + chatCfg + " " + chatAsg + " alldevices"
	tests := []struct {
		name, body, field string
	}{
		{"user_id, the allowed user first", slackForm(assign) + "&user_id=U0999MALLORY", "/user_id"},
		{"user_id, the allowed user last", "user_id=U0999MALLORY&" + slackForm(assign), "/user_id"},
		{"user_id escaped", slackForm(assign) + "&user%5Fid=U0999MALLORY", "/user_id"},
		{"text", slackForm("help") + "&text=" + url.QueryEscape(assign), "/text"},
		{"team_id", "team_id=T0666&" + slackForm(assign), "/team_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantRepeated(t, c.do(t, slackRequest(t, tt.body, testNow)), tt.field)
		})
	}
	if n := c.g.count(); n != 0 {
		t.Errorf("Graph calls = %d, want none", n)
	}
	logs := c.logs.String()
	if strings.Contains(logs, `"approvedBy"`) || strings.Contains(logs, `"command":"assign"`) || !strings.Contains(logs, `"problem":"invalid-fields"`) {
		t.Errorf("a refused command's log names a command or an approver, or not the problem:\n%s", logs)
	}
}

// TestTeamsRepeatedPropertyIsRefused: an activity with two from objects
// (also from and FROM, one name to a JSON decoder), or two texts, runs
// neither as the allowed user nor as the other.
func TestTeamsRepeatedPropertyIsRefused(t *testing.T) {
	c := newChatHarness(t, &fakeGraph{}, time.Second)
	assign := "assign " + chatCfg + " " + chatAsg + " alldevices"
	const mallory = `{"id":"29:mallory","name":"Mallory","aadObjectId":"0a1b2c3d-0000-0000-0000-000000000666"}`
	first := func(body, member string) string { return "{" + member + "," + body[1:] }
	last := func(body, member string) string { return body[:len(body)-1] + "," + member + "}" }
	tests := []struct {
		name, body, field string
	}{
		{"from, the allowed user last", first(teamsActivity(assign, testNow), `"from":`+mallory), "/from"},
		{"from, the allowed user first", last(teamsActivity(assign, testNow), `"from":`+mallory), "/from"},
		{"FROM", last(teamsActivity(assign, testNow), `"FROM":`+mallory), "/FROM"},
		{"from escaped", last(teamsActivity(assign, testNow), `"fr\u006fm":`+mallory), "/from"},
		{"text", first(teamsActivity(assign, testNow), `"text":"<at>IntuneBot</at> help"`), "/text"},
		{"aadObjectId", strings.Replace(teamsActivity(assign, testNow), `"aadObjectId":"`, `"aadObjectId":"0a1b2c3d-0000-0000-0000-000000000666","AadObjectId":"`, 1), "/from/AadObjectId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantRepeated(t, c.do(t, teamsRequest(t, tt.body)), tt.field)
		})
	}
	if n := c.g.count(); n != 0 {
		t.Errorf("Graph calls = %d, want none", n)
	}
	logs := c.logs.String()
	if strings.Contains(logs, `"approvedBy"`) || strings.Contains(logs, `"command":"assign"`) || !strings.Contains(logs, `"problem":"invalid-fields"`) {
		t.Errorf("a refused command's log names a command or an approver, or not the problem:\n%s", logs)
	}
}

// TestButtonPressRepeatedUserIsRefused: a press whose payload names its
// user twice, the requester and an approver, approves nothing: the
// request stays pending, and the approver's own press then applies it.
func TestButtonPressRepeatedUserIsRefused(t *testing.T) {
	s := newApprovalStack(t)
	id := s.ask(t, requester)
	payload := func(users ...string) string {
		b, _ := json.Marshal(map[string]any{
			"type": "block_actions", "trigger_id": nextID("press."), "response_url": s.hook.URL + "/actions/T0001/1/x",
			"team":      map[string]any{"id": "T0001"},
			"container": map[string]any{"message_ts": "1714032000.000100"},
			"actions":   []any{map[string]any{"type": "button", "action_id": "enrollhook-action-0", "value": "approve " + id, "action_ts": "1714032001.0001"}},
		})
		p := string(b)
		for _, u := range users {
			p = p[:len(p)-1] + `,"user":{"id":"` + u + `","username":"someone"}}`
		}
		return p
	}
	// Served as TestApproveButton does: the contract lists slash commands.
	press := func(p ...string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		s.h.ServeHTTP(w, slackRequest(t, url.Values{"payload": p}.Encode(), testNow))
		return w
	}
	for _, users := range [][]string{{requester, approver}, {approver, requester}} {
		wantRepeated(t, press(payload(users...)), "/payload/user")
	}
	// The payload field itself twice: the requester's press and the
	// approver's.
	wantRepeated(t, press(payload(requester), payload(approver)), "/payload")
	if n := s.emu.Writes(); n != 0 {
		t.Fatalf("a press naming two users wrote to Graph: %d writes", n)
	}
	w := press(payload(approver))
	if w.Code != http.StatusOK || w.Header().Get(HeaderOutcome) != string(chat.StatusApplied) || s.emu.Writes() != 1 {
		t.Errorf("the approver's own press after the refusals: %d %s %s, %d writes; want the request still pending, then applied",
			w.Code, w.Header().Get(HeaderOutcome), w.Body, s.emu.Writes())
	}
}
