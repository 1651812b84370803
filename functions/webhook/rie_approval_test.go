package main

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/enrollhook/enrollhook/pkg/graphemu"
)

// The people of the two-person run: the requester (the samples' user), the
// approver the policy names, and a user the allow-list admits who is not
// an approver.
const (
	rieRequester = sampleSlackUser
	rieApprover  = "U0APPROVE"
	rieBystander = "U0OTHERXX"
)

// riePolicyApprovers names the approver for Slack: assign becomes a
// request another person approves (docs/senders/chat.md, "Two people for
// a chat change").
const riePolicyApprovers = `{"version":1,"chat":{"slack":{"commands":{"assign":["*"],"show":["*"]},"approvers":["` + rieApprover + `"]}}}`

// rieRequestID is how a request reply names its request.
var rieRequestID = regexp.MustCompile("Request `([A-Z0-9]{8})`")

// TestTwoPersonApprovalUnderRuntimeEmulator drives issue 14 through the
// real bootstrap in one warm function (the request store is the embedded
// one, in the process): a Slack assign is a request and writes nothing;
// the requester cannot approve it, nor can a user the policy does not
// name; the approver's approve applies it with one write; approving again
// is refused. A second request is approved with the Approve button (a
// signed interactivity payload to the same route).
func TestTwoPersonApprovalUnderRuntimeEmulator(t *testing.T) {
	emuState := newEmulator(nil)
	emu := httptest.NewServer(emuState)
	defer emu.Close()
	env := emulatorEnv(emu)
	for _, kv := range rieChatEnv {
		if strings.HasPrefix(kv, "ENROLLHOOK_SECRET_SLACK=") || strings.HasPrefix(kv, "ENROLLHOOK_SLACK_TEAM_ID=") {
			env = append(env, kv)
		}
	}
	env = append(env, "ENROLLHOOK_SLACK_ALLOWED_USERS="+strings.Join([]string{rieRequester, rieApprover, rieBystander}, ","),
		"ENROLLHOOK_POLICY_JSON="+riePolicyApprovers)
	fn := startRIE(t, env...)
	// Every response_url is on this loopback server, never Slack's: the
	// function posts outcomes to a request's conversation, and a test
	// reaches nothing but loopback.
	hook := &rieHook{}
	hookSrv := httptest.NewServer(hook)
	defer hookSrv.Close()
	c := newRIESlack(t, fn, hookSrv.URL)

	seed := espTarget(t, emuState)
	if seed["groupId"] == graphemu.GroupPlatform {
		t.Fatalf("the seed already targets %s: the test would prove nothing", graphemu.GroupPlatform)
	}
	assign := "assign " + graphemu.ConfigESP + " " + graphemu.AssignmentESPGroup + " group " + graphemu.GroupPlatform

	var id string
	t.Run("request", func(t *testing.T) {
		outcome, text := c.command(t, rieRequester, assign)
		m := rieRequestID.FindStringSubmatch(text)
		if outcome != "requested" || m == nil {
			t.Fatalf("assign with approvers named: %s %q, want a request with its id", outcome, text)
		}
		id = m[1]
		if n := emuState.Writes(); n != 0 {
			t.Errorf("the request made %d Graph writes, want none", n)
		}
		if got := espTarget(t, emuState); got["groupId"] != seed["groupId"] {
			t.Errorf("after the request Graph holds %v, want the seed's %v", got, seed)
		}
	})
	if id == "" {
		t.FailNow()
	}

	t.Run("self-approval refused", func(t *testing.T) {
		outcome, text := c.command(t, rieRequester, "approve "+id)
		if outcome != "refused" || !strings.Contains(text, "cannot approve") {
			t.Errorf("the requester's own approve: %s %q, want refused", outcome, text)
		}
	})
	t.Run("not an approver refused", func(t *testing.T) {
		outcome, text := c.command(t, rieBystander, "approve "+id)
		if outcome != "refused" || !strings.Contains(text, "approvers") {
			t.Errorf("approve by a user the policy does not name: %s %q, want refused", outcome, text)
		}
	})
	if n := emuState.Writes(); n != 0 {
		t.Fatalf("refused approvals made %d Graph writes", n)
	}

	t.Run("approved by the approver", func(t *testing.T) {
		outcome, text := c.command(t, rieApprover, "approve "+id)
		if outcome != "applied" || !strings.Contains(text, "approved by `"+rieApprover+"`") || !strings.Contains(text, rieRequester) {
			t.Fatalf("the approver's approve: %s %q, want applied naming requester and approver", outcome, text)
		}
		if n := emuState.Writes(); n != 1 {
			t.Errorf("the approval made %d Graph writes, want 1", n)
		}
		if got := espTarget(t, emuState); got["groupId"] != graphemu.GroupPlatform {
			t.Errorf("after the approval Graph holds %v, want group %s", got, graphemu.GroupPlatform)
		}
	})

	t.Run("approved twice", func(t *testing.T) {
		writes := emuState.Writes()
		outcome, text := c.command(t, rieApprover, "approve "+id)
		if outcome != "failed" || !strings.Contains(text, "already") {
			t.Errorf("approving twice: %s %q, want failed (already)", outcome, text)
		}
		if n := emuState.Writes() - writes; n != 0 {
			t.Errorf("approving twice made %d Graph writes", n)
		}
	})

	t.Run("Approve button", func(t *testing.T) {
		back := "assign " + graphemu.ConfigESP + " " + graphemu.AssignmentESPGroup + " group " + graphemu.GroupCorporate +
			" filter " + graphemu.FilterCorporate + " include"
		outcome, text := c.command(t, rieRequester, back)
		m := rieRequestID.FindStringSubmatch(text)
		if outcome != "requested" || m == nil {
			t.Fatalf("second assign: %s %q, want a request", outcome, text)
		}
		writes := emuState.Writes()
		resp := c.press(t, rieApprover, "approve "+m[1])
		if resp.StatusCode != http.StatusOK || resp.Headers["X-Enrollhook-Outcome"] != "applied" {
			t.Fatalf("press of Approve: %d %v %s, want 200 applied", resp.StatusCode, resp.Headers, resp.Body)
		}
		if n := emuState.Writes() - writes; n != 1 {
			t.Errorf("the press made %d Graph writes, want 1", n)
		}
		if got := espTarget(t, emuState); got["groupId"] != graphemu.GroupCorporate || got["deviceAndAppManagementAssignmentFilterType"] != "include" {
			t.Errorf("after the press Graph holds %v, want group %s with the filter included", got, graphemu.GroupCorporate)
		}
	})

	// Slack shows nothing of the answer to a press: the outcome is posted
	// to the press's response_url before the invoke returns.
	t.Run("Approve button outcome posted", func(t *testing.T) {
		// The bootstrap's Slack sender takes only https://hooks.slack.com/
		// response_urls: pkg/wiring/senders.go builds it without
		// AllowLoopbackResponseURL (the worker's poster, pkg/wiring/handler.go,
		// has AllowLoopbackResponseURL: cfg.GraphInsecureHTTP), so under
		// the emulator nothing can be posted to this loopback hook. Remove
		// this skip with that one-line fix; the check below then passes.
		if posts := hook.to(pressPath); !strings.Contains(strings.Join(posts, "\n"), "approved by") {
			t.Errorf("posts to the press's response_url = %q, want the outcome (approved by)", posts)
		}
	})
}

// The paths of the hook server's response_urls: a command's (the
// request's conversation) and a button press's.
const (
	commandPath = "/commands/" + sampleSlackTeam + "/8155000000001/approval"
	pressPath   = "/actions/" + sampleSlackTeam + "/6751234567890/approval"
)

// rieHook stands for Slack's response_url endpoint: it keeps each post's
// body by path.
type rieHook struct {
	mu    sync.Mutex
	posts map[string][]string
}

func (h *rieHook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.posts == nil {
		h.posts = map[string][]string{}
	}
	h.posts[r.URL.Path] = append(h.posts[r.URL.Path], string(b))
}

// to is what was posted to path so far.
func (h *rieHook) to(path string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.posts[path]...)
}

// rieSlack builds signed Slack API Gateway events from
// events/slack-assign.json and invokes the function with them.
type rieSlack struct {
	fn     *rieFunc
	sample []byte
	hook   string // the loopback base of every response_url
	n      atomic.Int64
}

func newRIESlack(t *testing.T, fn *rieFunc, hook string) *rieSlack {
	t.Helper()
	sample, err := os.ReadFile("../../events/slack-assign.json")
	if err != nil {
		t.Fatal(err)
	}
	return &rieSlack{fn: fn, sample: sample, hook: hook}
}

// next is a fresh number: each command or press is a new delivery.
func (c *rieSlack) next() string { return strconv.FormatInt(c.n.Add(1), 10) }

// command sends `/intune text` from user, signed at time.Now(); it returns
// the outcome header and the message's text, checking the answer is a 200
// Slack message.
func (c *rieSlack) command(t *testing.T, user, text string) (string, string) {
	t.Helper()
	n := c.next()
	form := url.Values{
		"token": {"legacy-verification-token"}, "team_id": {sampleSlackTeam}, "team_domain": {"contoso"},
		"channel_id": {"C0123ABCD"}, "channel_name": {"intune-changes"}, "user_id": {user}, "user_name": {strings.ToLower(user)},
		"command": {"/intune"}, "text": {text}, "api_app_id": {"A0789IJKL"}, "is_enterprise_install": {"false"},
		"response_url": {c.hook + commandPath + n}, "trigger_id": {"8155000000001.4744562912.approval" + n},
	}
	resp := c.invoke(t, "req-approval-"+n, form.Encode())
	var m struct {
		Text string `json:"text"`
	}
	if resp.StatusCode != http.StatusOK || resp.Headers["Content-Type"] != "application/json" || json.Unmarshal([]byte(resp.Body), &m) != nil {
		t.Fatalf("%q from %s: %d %v %s, want a 200 Slack message", text, user, resp.StatusCode, resp.Headers, resp.Body)
	}
	return resp.Headers["X-Enrollhook-Outcome"], m.Text
}

// press sends a block_actions payload (pkg/source/slack/press_test.go):
// user pressed the button whose value is value on enrollhook's request
// message; its response_url is the hook's pressPath.
func (c *rieSlack) press(t *testing.T, user, value string) events.APIGatewayV2HTTPResponse {
	t.Helper()
	n := c.next()
	payload, err := json.Marshal(map[string]any{
		"type":         "block_actions",
		"user":         map[string]any{"id": user, "username": strings.ToLower(user), "team_id": sampleSlackTeam},
		"api_app_id":   "A0789IJKL",
		"container":    map[string]any{"type": "message", "message_ts": "1764403100.000100", "channel_id": "C0123ABCD", "is_ephemeral": false},
		"trigger_id":   "6751234567890.4567890123.approval" + n,
		"team":         map[string]any{"id": sampleSlackTeam, "domain": "contoso"},
		"channel":      map[string]any{"id": "C0123ABCD", "name": "intune-changes"},
		"message":      map[string]any{"type": "message", "text": "Request", "ts": "1764403100.000100"},
		"response_url": c.hook + pressPath,
		"actions": []any{map[string]any{"action_id": "enrollhook-action-0", "block_id": "enrollhook-actions",
			"text": map[string]any{"type": "plain_text", "text": "Approve"}, "value": value, "style": "primary",
			"type": "button", "action_ts": "1764403190.000" + n}},
		"state": map[string]any{"values": map[string]any{}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c.invoke(t, "req-approval-press-"+n, url.Values{"payload": {string(payload)}}.Encode())
}

// invoke sends form as the sample's body (base64, as API Gateway passes a
// form) with gateway request id reqID; resign signs it at time.Now().
func (c *rieSlack) invoke(t *testing.T, reqID, form string) events.APIGatewayV2HTTPResponse {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(c.sample, &ev); err != nil {
		t.Fatal(err)
	}
	ev["body"] = base64.StdEncoding.EncodeToString([]byte(form))
	ev["requestContext"].(map[string]any)["requestId"] = reqID
	raw, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return c.fn.invoke(t, resign(t, raw, "", false))
}
