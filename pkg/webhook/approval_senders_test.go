package webhook

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/chat"
	"github.com/enrollhook/enrollhook/pkg/graphemu"
	"github.com/enrollhook/enrollhook/pkg/idempotency"
	"github.com/enrollhook/enrollhook/pkg/source/slack"
)

// selfApprovalRefusal is what a requester who approves their own request
// is told, on every chat sender (decide).
const selfApprovalRefusal = "Refused, nothing was changed: you asked for this change, so you cannot approve it: another person the policy names must."

// assignESP is the assign command of the two-person tests.
const assignESP = "assign " + graphemu.ConfigESP + " " + graphemu.AssignmentESPGroup + " group " + graphemu.GroupPlatform

// teams sends a signed Teams outgoing-webhook activity from the user with
// Entra object id aad (shown as name, with Teams' own id from); it returns
// the outcome header and the reply text.
func (s *approvalStack) teams(t *testing.T, aad, from, name, text string) (string, string) {
	t.Helper()
	w := s.serve(t, teamsRequest(t, teamsActivity(text, testNow, func(a map[string]any) {
		a["from"] = map[string]any{"id": from, "name": name, "aadObjectId": aad}
	})))
	return w.Header().Get(HeaderOutcome), decodeTeams(t, w)
}

// askTeams has aad ask for assignESP on Teams and returns the request id.
func (s *approvalStack) askTeams(t *testing.T, aad string) string {
	t.Helper()
	outcome, text := s.teams(t, aad, "29:1requester", "Requester", assignESP)
	m := requestIDRe.FindStringSubmatch(text)
	if outcome != string(chat.StatusRequested) || m == nil {
		t.Fatalf("Teams assign with approvers named: %s %q, want a request", outcome, text)
	}
	return m[1]
}

// slackIn sends a signed Slack command from user of workspace team.
func (s *approvalStack) slackIn(t *testing.T, team, user, text string) (string, string) {
	t.Helper()
	w := s.serve(t, slackRequest(t, slackForm(text, "team_id", team, "user_id", user,
		"response_url", s.hook.URL+"/commands/"+team+"/1/x"), testNow))
	return w.Header().Get(HeaderOutcome), decodeSlack(t, w).Text
}

// press is a signed Slack interactivity payload: user of workspace team
// pressing the request's button that stands for command.
func (s *approvalStack) press(t *testing.T, team, user, command string) (string, string) {
	t.Helper()
	payload, _ := json.Marshal(map[string]any{
		"type": "block_actions", "trigger_id": nextID("press."), "response_url": s.hook.URL + "/actions/" + team + "/1/x",
		"user": map[string]any{"id": user, "username": "someone"}, "team": map[string]any{"id": team},
		"container": map[string]any{"message_ts": "1714032000.000100"},
		"actions":   []any{map[string]any{"type": "button", "action_id": "enrollhook-action-0", "value": command, "action_ts": "1714032001.0001"}},
	})
	// Served as TestApproveButton does: the contract lists slash commands.
	w := httptest.NewRecorder()
	s.h.ServeHTTP(w, slackRequest(t, url.Values{"payload": {string(payload)}}.Encode(), testNow))
	return w.Header().Get(HeaderOutcome), w.Body.String()
}

// auditProblem is the problem of the chat audit line of a delivery: the
// line whose requestedBy is actor and whose command is approve, the last
// of them.
func auditProblem(t *testing.T, logs, actor string) string {
	t.Helper()
	problem := ""
	for _, line := range strings.Split(logs, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil || m["command"] != "approve" || m["requestedBy"] != actor {
			continue
		}
		problem, _ = m["problem"].(string)
	}
	return problem
}

// TestTeamsSelfApprovalRefused: on Teams, the person who asked for a
// change cannot approve it, even when the policy names them an approver
// and they approve under another display name, another Teams id and their
// Entra object id in capitals: the stable id decides. The refusal is the
// Slack path's, word for word, with the same problem in the audit line;
// nothing is written and the request stays pending (its requester can
// still withdraw it).
func TestTeamsSelfApprovalRefused(t *testing.T) {
	// Two Slack approvers, so that one can ask and the other approve.
	s := newApprovalStack(t, `{"commands": {"assign": ["*"], "show": ["*"]}, "approvers": ["`+approver+`", "`+espApprover+`"]}`)

	// Slack: the approver asks, then approves their own request.
	slackID := s.ask(t, approver)
	slackOutcome, slackText := s.slack(t, approver, "approve "+slackID)
	if slackOutcome != string(chat.StatusRefused) || !strings.Contains(slackText, selfApprovalRefusal) {
		t.Fatalf("Slack self-approval: %s %q", slackOutcome, slackText)
	}

	// Teams: the approver the policy names asks, then approves.
	id := s.askTeams(t, teamsApprov)
	outcome, text := s.teams(t, strings.ToUpper(teamsApprov), "29:9otherConversationId", "Bob (admin)", "approve "+id)
	if outcome != slackOutcome || !strings.Contains(text, selfApprovalRefusal) {
		t.Errorf("Teams self-approval by the same Entra object id: %s %q, want %s with %q", outcome, text, slackOutcome, selfApprovalRefusal)
	}
	if s.emu.Writes() != 0 {
		t.Fatalf("a self-approval wrote to Graph: %d writes", s.emu.Writes())
	}
	slackProblem := auditProblem(t, s.logs.String(), "slack:T0001/"+approver)
	teamsProblem := auditProblem(t, s.logs.String(), "teams:"+chatTenant+"/"+teamsApprov)
	if slackProblem == "" || teamsProblem != slackProblem {
		t.Errorf("audit problem of the self-approval: Teams %q, Slack %q; want the same, not empty", teamsProblem, slackProblem)
	}

	// The refusal decided nothing: the requester can still withdraw it,
	// and the Slack one is applied by the other approver.
	if outcome, text := s.teams(t, teamsApprov, "29:1requester", "Bob", "reject "+id); outcome != string(chat.StatusRejected) {
		t.Errorf("withdrawing the Teams request after the refused self-approval: %s %q", outcome, text)
	}
	if outcome, text := s.slack(t, espApprover, "approve "+slackID); outcome != string(chat.StatusApplied) || s.emu.Writes() != 1 {
		t.Errorf("the other Slack approver: %s %q, %d writes", outcome, text, s.emu.Writes())
	}
}

// TestApprovalFromAnotherSlackWorkspaceRefused: the named approver's user
// id sent from another Slack workspace (team id) than the one allowed
// cannot approve, by slash command or by the request's button: refused,
// nothing written, and the request stays pending for the approver in the
// allowed workspace.
func TestApprovalFromAnotherSlackWorkspaceRefused(t *testing.T) {
	s := newApprovalStack(t)
	id := s.ask(t, requester)
	for _, team := range []string{"T0002", "E0001" /* an Enterprise Grid org */} {
		if outcome, text := s.slackIn(t, team, approver, "approve "+id); outcome != string(chat.StatusRefused) ||
			!strings.Contains(text, "does not take commands from this workspace or tenant") {
			t.Errorf("approve from workspace %s: %s %q", team, outcome, text)
		}
		if outcome, body := s.press(t, team, approver, "approve "+id); outcome != string(chat.StatusRefused) ||
			!strings.Contains(body, "does not take commands from this workspace or tenant") {
			t.Errorf("Approve button pressed in workspace %s: %s %s", team, outcome, body)
		}
	}
	if s.emu.Writes() != 0 {
		t.Fatalf("an approval from another workspace wrote to Graph: %d writes", s.emu.Writes())
	}
	if outcome, text := s.slack(t, approver, "approve "+id); outcome != string(chat.StatusApplied) || s.emu.Writes() != 1 {
		t.Errorf("the approver in the allowed workspace, afterwards: %s %q, %d writes", outcome, text, s.emu.Writes())
	}
}

// TestRequestOfAnotherWorkspaceNotFound: two receivers sharing one
// request store (one per Slack workspace): a request asked in workspace
// T0002 cannot be approved from T0001, even by a user the policy names
// there; it is "not found in this workspace", nothing is written, and the
// request is still pending in its own workspace.
func TestRequestOfAnotherWorkspaceNotFound(t *testing.T) {
	s := newApprovalStack(t)
	const otherRequester = "U0T2ASKER"
	sl, err := slack.New(chatSlackSecret, &slack.Options{
		Allow:        chat.Allowlist{Tenant: "T0002", Users: []string{otherRequester, approver}},
		AnswerWithin: 5 * time.Second, AllowLoopbackResponseURL: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	o := s.h.opts
	o.Store = idempotency.NewMemory(nil, 0)
	other := &approvalStack{stack: &stack{h: newTestHandler(s.h.graph, []Source{sl}, &o), emu: s.emu, logs: s.logs}, hook: s.hook}
	t.Cleanup(func() { _ = other.h.Wait(context.Background()) })
	outcome, text := other.slackIn(t, "T0002", otherRequester, assignESP)
	m := requestIDRe.FindStringSubmatch(text)
	if outcome != string(chat.StatusRequested) || m == nil {
		t.Fatalf("request in workspace T0002: %s %q", outcome, text)
	}
	if outcome, text := s.slack(t, approver, "approve "+m[1]); outcome != string(chat.StatusFailed) ||
		!strings.Contains(text, "there is no request "+m[1]+" in this workspace") {
		t.Errorf("approving from T0001 a request of T0002: %s %q", outcome, text)
	}
	if s.emu.Writes() != 0 {
		t.Fatalf("%d writes after an approval from another workspace", s.emu.Writes())
	}
	if outcome, text := other.slackIn(t, "T0002", approver, "approve "+m[1]); outcome != string(chat.StatusApplied) || s.emu.Writes() != 1 {
		t.Errorf("approving in its own workspace: %s %q, %d writes", outcome, text, s.emu.Writes())
	}
}

// TestRequestApprovedOnTheOtherSender: a request belongs to the chat
// sender it was asked on. Asked on Teams, the Slack approver the policy
// names cannot approve it (nor the reverse): "no request in this
// workspace", nothing written; the approver on its own sender still can.
func TestRequestApprovedOnTheOtherSender(t *testing.T) {
	s := newApprovalStack(t)

	fromTeams := s.askTeams(t, chatAAD)
	if outcome, text := s.slack(t, approver, "approve "+fromTeams); outcome != string(chat.StatusFailed) ||
		!strings.Contains(text, "there is no request "+fromTeams+" in this workspace") {
		t.Errorf("a Teams request approved on Slack: %s %q", outcome, text)
	}
	if outcome, _ := s.slack(t, approver, "reject "+fromTeams); outcome != string(chat.StatusFailed) {
		t.Errorf("a Teams request rejected on Slack: %s, want failed", outcome)
	}

	fromSlack := s.ask(t, requester)
	if outcome, text := s.teams(t, teamsApprov, "29:2ghiJKL", "Bob", "approve "+fromSlack); outcome != string(chat.StatusFailed) ||
		!strings.Contains(text, "there is no request "+fromSlack+" in this workspace") {
		t.Errorf("a Slack request approved on Teams: %s %q", outcome, text)
	}
	// Even were the workspace id the same string as the Entra tenant id (a
	// receiver sharing the store, configured so; the configuration refuses
	// such a team id), the sender tells the requests apart: a Slack user
	// the Slack policy names does not approve a Teams request.
	sl, err := slack.New(chatSlackSecret, &slack.Options{
		Allow:        chat.Allowlist{Tenant: chatTenant, Users: []string{approver}},
		AnswerWithin: 5 * time.Second, AllowLoopbackResponseURL: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	o := s.h.opts
	o.Store = idempotency.NewMemory(nil, 0)
	collide := &approvalStack{stack: &stack{h: newTestHandler(s.h.graph, []Source{sl}, &o), emu: s.emu, logs: s.logs}, hook: s.hook}
	t.Cleanup(func() { _ = collide.h.Wait(context.Background()) })
	if outcome, text := collide.slackIn(t, chatTenant, approver, "approve "+fromTeams); outcome != string(chat.StatusFailed) ||
		!strings.Contains(text, "there is no request "+fromTeams+" in this workspace") {
		t.Errorf("a Teams request approved on Slack from a workspace named as the tenant: %s %q", outcome, text)
	}
	if s.emu.Writes() != 0 {
		t.Fatalf("an approval on the other sender wrote to Graph: %d writes", s.emu.Writes())
	}

	// Each is still pending on its own sender.
	if outcome, text := s.teams(t, teamsApprov, "29:2ghiJKL", "Bob", "approve "+fromTeams); outcome != string(chat.StatusApplied) || s.emu.Writes() != 1 {
		t.Errorf("the Teams request approved on Teams: %s %q, %d writes", outcome, text, s.emu.Writes())
	}
	if outcome, text := s.slack(t, approver, "reject "+fromSlack); outcome != string(chat.StatusRejected) {
		t.Errorf("the Slack request rejected on Slack: %s %q", outcome, text)
	}
}
