package webhook

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/apply"
	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/chat"
	"github.com/enrollhook/enrollhook/pkg/graph"
	"github.com/enrollhook/enrollhook/pkg/source/slack"
	"github.com/enrollhook/enrollhook/pkg/source/teams"
)

// GetAssignment answers show from what the fake last applied, else a group
// target.
func (f *fakeGraph) GetAssignment(ctx context.Context, cfg, asg string) (*graph.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fakeCall{cfg, asg, nil})
	if f.err != nil {
		return nil, f.err
	}
	return &graph.Result{Body: []byte(`{"@odata.context":"https://graph.microsoft.com/beta/$metadata#x","id":"` + asg +
		`","target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"` + chatGroup + `"}}`), RequestID: "graph-get-1"}, nil
}

// gatedGraph holds every call until release is closed, like a slow Graph.
type gatedGraph struct {
	*fakeGraph
	release chan struct{}
}

func (g *gatedGraph) PatchAssignment(ctx context.Context, cfg, asg string, body any) (*graph.Result, error) {
	select {
	case <-g.release:
	case <-ctx.Done():
		return nil, &change.Error{Code: change.CodeTimeout, Message: "the invoke deadline arrived before Graph answered"}
	}
	return g.fakeGraph.PatchAssignment(ctx, cfg, asg, body)
}

const (
	chatSlackSecret = "test-slack-signing-secret-0123456789"
	chatTeamsToken  = "dGVzdC10ZWFtcy10b2tlbi0wMTIzNDU2Nzg5YWJjZGVm" // base64 of 32 bytes
	chatCfg         = "2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_Windows10EnrollmentCompletionPageConfiguration"
	chatAsg         = "2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_5e6f0000-0000-0000-0000-000000000001"
	chatGroup       = "5e6f0000-0000-0000-0000-000000000001"
	chatFilter      = "a1b2c3d4-0000-0000-0000-00000000f117"
	chatTenant      = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	chatAAD         = "0a1b2c3d-0000-0000-0000-000000000042"
)

type chatHarness struct {
	h    *testHandler
	g    *fakeGraph
	logs *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// newChatHarness serves slack and teams. Allowed: Slack U0456EFGH in T0001,
// Teams chatAAD in chatTenant. g may wrap the fake (gatedGraph).
func newChatHarness(t *testing.T, g apply.Graph, answerWithin time.Duration) *chatHarness {
	t.Helper()
	s, err := slack.New(chatSlackSecret, &slack.Options{
		Allow:                    chat.Allowlist{Tenant: "T0001", Users: []string{"U0456EFGH"}},
		AnswerWithin:             answerWithin,
		AllowLoopbackResponseURL: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	tm, err := teams.New(chatTeamsToken, &teams.Options{
		Allow:        chat.Allowlist{Tenant: chatTenant, Users: []string{chatAAD}},
		AnswerWithin: answerWithin,
	})
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	fg, _ := g.(*fakeGraph)
	if gg, ok := g.(*gatedGraph); ok {
		fg = gg.fakeGraph
	}
	h := newTestHandler(g, []Source{s, tm}, &testOptions{Now: func() time.Time { return testNow }, Logger: testLogger(logs)})
	return &chatHarness{h: h, g: fg, logs: logs}
}

// chatSeq numbers the test commands: Slack makes a new trigger_id, and
// Teams a new activity id, for every command a user types.
var chatSeq atomic.Int64

func nextID(prefix string) string { return prefix + strconv.FormatInt(chatSeq.Add(1), 10) }

func slackForm(text string, extra ...string) string {
	v := url.Values{
		"token": {"legacy"}, "team_id": {"T0001"}, "team_domain": {"contoso"}, "channel_id": {"C0123ABCD"},
		"user_id": {"U0456EFGH"}, "user_name": {"alice"}, "command": {"/intune"}, "text": {text},
		"api_app_id": {"A0789IJKL"}, "response_url": {"https://hooks.slack.com/commands/T0001/123/abc"},
		"trigger_id": {nextID("123.456.")},
	}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	return v.Encode()
}

func slackRequest(t *testing.T, body string, ts time.Time) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/hooks/slack", strings.NewReader(body))
	h, err := slack.Sign(chatSlackSecret, ts, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		r.Header[k] = v
	}
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

func teamsActivity(text string, ts time.Time, mods ...func(map[string]any)) string {
	a := map[string]any{
		"type": "message", "id": nextID("1714032000"), "timestamp": ts.UTC().Format(time.RFC3339Nano),
		"serviceUrl": "https://smba.trafficmanager.net/emea/", "channelId": "msteams",
		"from":         map[string]any{"id": "29:1abcDEF", "name": "Alice", "aadObjectId": chatAAD},
		"conversation": map[string]any{"isGroup": true, "conversationType": "channel", "tenantId": chatTenant, "id": "19:abc@thread.tacv2;messageid=1714032000123"},
		"recipient":    map[string]any{"id": "28:bot", "name": "IntuneBot"},
		"text":         "<at>IntuneBot</at>&nbsp;" + text,
		"textFormat":   "plain",
		"channelData":  map[string]any{"tenant": map[string]any{"id": chatTenant}},
	}
	for _, m := range mods {
		m(a)
	}
	// Teams sends the mention markup as is, not HTML-escaped.
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(a)
	return strings.TrimSuffix(b.String(), "\n")
}

func teamsRequest(t *testing.T, body string) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/hooks/teams", strings.NewReader(body))
	h, err := teams.Sign(chatTeamsToken, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Authorization", h.Get("Authorization"))
	r.Header.Set("Content-Type", "application/json; charset=utf-8")
	return r
}

// do serves r and checks the exchange against the OpenAPI contract.
func (c *chatHarness) do(t *testing.T, r *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	reqBody, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(reqBody))
	reqHeaders := r.Header.Clone()
	w := httptest.NewRecorder()
	c.h.ServeHTTP(w, r)
	validateAgainstOpenAPI(t, r.Method, r.URL.RequestURI(), reqHeaders, reqBody, w.Code, w.Header(), w.Body.Bytes())
	return w
}

type slackMessage struct {
	ResponseType string `json:"response_type"`
	Text         string `json:"text"`
}

func decodeSlack(t *testing.T, w *httptest.ResponseRecorder) slackMessage {
	t.Helper()
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("answer %d %s: %s, want a 200 Slack message", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	var m slackMessage
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil || m.Text == "" {
		t.Fatalf("not a Slack message: %s", w.Body)
	}
	return m
}

func decodeTeams(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	var m struct{ Type, Text string }
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &m) != nil || m.Type != "message" || m.Text == "" {
		t.Fatalf("answer %d %s, want a 200 Teams message activity", w.Code, w.Body)
	}
	return m.Text
}

func TestSlackCommands(t *testing.T) {
	c := newChatHarness(t, &fakeGraph{}, time.Second)
	ids := chatCfg + " " + chatAsg
	tests := []struct {
		name   string
		text   string
		user   string
		calls  int
		status string
		says   []string
		public bool
	}{
		{"assign group with filter", "assign " + ids + " group " + chatGroup + " filter " + chatFilter + " include", "", 1, "applied",
			[]string{"Done", "group `" + chatGroup + "`, filter `" + chatFilter + "` (include)", "approved by `U0456EFGH`", "graph-req-1"}, true},
		{"assign all devices", "assign " + ids + " alldevices", "", 1, "applied", []string{"all devices, no filter"}, true},
		{"show", "show " + ids, "", 1, "shown", []string{"targets group `" + chatGroup + "`"}, false},
		{"help", "help", "", 0, "help", []string{"/intune assign &lt;configurationId&gt;"}, false},
		{"empty text is usage", "", "", 0, "usage", []string{"no command given", "Usage"}, false},
		{"malformed command is usage", "assign " + ids + " everyone", "", 0, "usage", []string{"unknown target", "Usage"}, false},
		{"invalid group id", "assign " + ids + " group sales-team", "", 0, "invalid", []string{"the group id must be a GUID"}, false},
		{"user not allowed", "assign " + ids + " alldevices", "U0999NOPE", 0, "refused", []string{"not allowed", "ENROLLHOOK_SLACK_ALLOWED_USERS", "`U0999NOPE`"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := c.g.count()
			extra := []string{}
			if tt.user != "" {
				extra = []string{"user_id", tt.user}
			}
			w := c.do(t, slackRequest(t, slackForm(tt.text, extra...), testNow))
			m := decodeSlack(t, w)
			for _, s := range tt.says {
				if !strings.Contains(m.Text, s) {
					t.Errorf("reply %q lacks %q", m.Text, s)
				}
			}
			if m.ResponseType != "ephemeral" {
				t.Errorf("response_type = %s, want ephemeral by default", m.ResponseType)
			}
			if got := c.g.count() - before; got != tt.calls {
				t.Errorf("Graph calls = %d, want %d", got, tt.calls)
			}
			if !strings.Contains(c.logs.String(), `"outcome":"`+tt.status+`"`) {
				t.Errorf("log lacks outcome %s:\n%s", tt.status, c.logs.String())
			}
		})
	}
	// The audit line of an applied change names requester and approver.
	logs := c.logs.String()
	for _, want := range []string{`"requestedBy":"slack:T0001/U0456EFGH"`, `"approvedBy":"slack:T0001/U0456EFGH"`, `"deliveryId":"123.456.`, `"command":"assign"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s", want)
		}
	}
	if strings.Contains(logs, "hooks.slack.com") || strings.Contains(logs, chatSlackSecret) {
		t.Errorf("log contains the response URL or the secret")
	}
	// The PATCH carried the command's target.
	last := c.g.calls[0] // the first assign
	if last.configurationID != chatCfg || !strings.Contains(string(last.body), `"groupId":"`+chatGroup+`"`) ||
		!strings.Contains(string(last.body), `"deviceAndAppManagementAssignmentFilterType":"include"`) {
		t.Errorf("PATCH = %+v %s", last, last.body)
	}
}

func TestSlackUnconfiguredAllowlistRefusesEveryone(t *testing.T) {
	s, _ := slack.New(chatSlackSecret, nil)
	g := &fakeGraph{}
	h := newTestHandler(g, []Source{s}, &testOptions{Now: func() time.Time { return testNow }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, slackRequest(t, slackForm("assign "+chatCfg+" "+chatAsg+" alldevices"), testNow))
	m := decodeSlack(t, w)
	if !strings.Contains(m.Text, "nobody may run enrollhook commands") || !strings.Contains(m.Text, "ENROLLHOOK_SLACK_TEAM_ID") || g.count() != 0 {
		t.Errorf("reply %q, Graph calls %d", m.Text, g.count())
	}
}

func TestTeamsCommands(t *testing.T) {
	c := newChatHarness(t, &fakeGraph{}, time.Second)
	ids := chatCfg + " " + chatAsg
	tests := []struct {
		name  string
		body  string
		calls int
		says  []string
	}{
		{"assign exclusion", teamsActivity("assign "+ids+" exclude "+chatGroup, testNow), 1, []string{"Done", "exclusion of group", "approved by `" + chatAAD + "`"}},
		{"show", teamsActivity("show "+ids, testNow), 1, []string{"targets group"}},
		{"help", teamsActivity("help", testNow), 0, []string{"@IntuneBot assign &lt;configurationId&gt;"}},
		{"mention only", teamsActivity("", testNow), 0, []string{"no command given"}},
		{"other tenant", teamsActivity("help", testNow, func(a map[string]any) {
			a["channelData"] = map[string]any{"tenant": map[string]any{"id": "00000000-0000-0000-0000-000000000000"}}
		}), 0, []string{"does not take commands from this workspace or tenant"}},
		{"user not allowed", teamsActivity("assign "+ids+" alldevices", testNow, func(a map[string]any) {
			a["from"] = map[string]any{"id": "29:other", "name": "Mallory", "aadObjectId": "0a1b2c3d-0000-0000-0000-000000000666"}
		}), 0, []string{"not allowed", "ENROLLHOOK_TEAMS_ALLOWED_USERS"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := c.g.count()
			text := decodeTeams(t, c.do(t, teamsRequest(t, tt.body)))
			for _, s := range tt.says {
				if !strings.Contains(text, s) {
					t.Errorf("reply %q lacks %q", text, s)
				}
			}
			if got := c.g.count() - before; got != tt.calls {
				t.Errorf("Graph calls = %d, want %d", got, tt.calls)
			}
		})
	}
	if logs := c.logs.String(); !strings.Contains(logs, `"approvedBy":"teams:`+chatTenant+`/`+chatAAD+`"`) || !strings.Contains(logs, `"deliveryId":"1714032000`) {
		t.Errorf("audit line lacks the approver or the activity id:\n%s", logs)
	}
}

// TestChatRefusals: every refusal before the command is read stays a
// problem, with its own type, quoting neither signature nor secret.
func TestChatRefusals(t *testing.T) {
	c := newChatHarness(t, &fakeGraph{}, time.Second)
	form := slackForm("assign " + chatCfg + " " + chatAsg + " alldevices")
	act := teamsActivity("assign "+chatCfg+" "+chatAsg+" alldevices", testNow)
	good := slackRequest(t, form, testNow)
	goodSig := good.Header.Get("X-Slack-Signature")
	tests := []struct {
		name    string
		req     func() *http.Request
		status  int
		problem string
	}{
		{"slack: no signature", func() *http.Request { r := slackRequest(t, form, testNow); r.Header.Del("X-Slack-Signature"); return r }, 401, "signature-missing"},
		{"slack: malformed signature", func() *http.Request {
			r := slackRequest(t, form, testNow)
			r.Header.Set("X-Slack-Signature", "v0=xyz")
			return r
		}, 401, "signature-malformed"},
		{"slack: wrong signature", func() *http.Request {
			r := slackRequest(t, form, testNow)
			r.Header.Set("X-Slack-Signature", "v0="+strings.Repeat("ab", 32))
			return r
		}, 401, "signature-mismatch"},
		{"slack: stale timestamp", func() *http.Request { return slackRequest(t, form, testNow.Add(-6*time.Minute)) }, 401, "timestamp-out-of-window"},
		{"slack: body still base64", func() *http.Request {
			r := slackRequest(t, form, testNow)
			r.Body = io.NopCloser(strings.NewReader(base64.StdEncoding.EncodeToString([]byte(form))))
			r.ContentLength = -1
			return r
		}, 401, "body-re-encoded"},
		{"slack: form re-encoded", func() *http.Request {
			r := slackRequest(t, form, testNow)
			r.Body = io.NopCloser(strings.NewReader(strings.ReplaceAll(form, "+", "%20")))
			r.ContentLength = -1
			return r
		}, 401, "body-re-encoded"},
		{"slack: signed but sent as JSON", func() *http.Request {
			r := slackRequest(t, form, testNow)
			r.Header.Set("Content-Type", "application/json")
			return r
		}, 415, "unsupported-media-type"},
		{"teams: no Authorization", func() *http.Request { r := teamsRequest(t, act); r.Header.Del("Authorization"); return r }, 401, "signature-missing"},
		{"teams: Bearer", func() *http.Request { r := teamsRequest(t, act); r.Header.Set("Authorization", "Bearer abc"); return r }, 401, "signature-malformed"},
		{"teams: wrong HMAC", func() *http.Request {
			r := teamsRequest(t, act)
			r.Header.Set("Authorization", "HMAC "+base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)))
			return r
		}, 401, "signature-mismatch"},
		{"teams: replayed activity", func() *http.Request { return teamsRequest(t, teamsActivity("help", testNow.Add(-10*time.Minute))) }, 401, "timestamp-out-of-window"},
		{"teams: JSON re-serialized with HTML escapes", func() *http.Request {
			r := teamsRequest(t, act)
			r.Body = io.NopCloser(strings.NewReader(strings.NewReplacer("<", `\u003c`, ">", `\u003e`).Replace(act)))
			r.ContentLength = -1
			return r
		}, 401, "body-re-encoded"},
		{"unknown route", func() *http.Request { return httptest.NewRequest(http.MethodPost, "/slack", strings.NewReader(form)) }, 404, "unknown-route"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.req()
			sent := r.Header.Get("X-Slack-Signature") + r.Header.Get("Authorization")
			w := c.do(t, r)
			if w.Code != tt.status {
				t.Fatalf("status = %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			p := decodeProblem(t, w)
			if p.Type != apply.ProblemTypePrefix+tt.problem {
				t.Errorf("type = %s, want %s", p.Type, tt.problem)
			}
			for _, secret := range []string{chatSlackSecret, chatTeamsToken, goodSig[3:], strings.TrimPrefix(sent, "HMAC ")} {
				if len(secret) > 8 && strings.Contains(w.Body.String(), secret) {
					t.Errorf("the problem quotes a signature or secret: %s", w.Body)
				}
			}
		})
	}
	if c.g.count() != 0 {
		t.Errorf("Graph calls = %d, want none", c.g.count())
	}
	// A chat sender without a secret is refused like any other.
	h := newTestHandler(&fakeGraph{}, nil, &testOptions{Disabled: []string{"slack", "teams"}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	for _, path := range []string{"/hooks/slack", "/hooks/teams"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, path, strings.NewReader(form)))
		if w.Code != 401 || !strings.Contains(w.Body.String(), "source-not-configured") {
			t.Errorf("%s without a secret: %d %s", path, w.Code, w.Body)
		}
	}
}

// TestSlackStillWorkingThenFollowUp: a Graph call that outlives the answer
// budget is answered "still working"; the change finishes and its outcome
// is posted to response_url.
func TestSlackStillWorkingThenFollowUp(t *testing.T) {
	posted := make(chan slackMessage, 1)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m slackMessage
		_ = json.NewDecoder(r.Body).Decode(&m)
		posted <- m
	}))
	defer hook.Close()
	g := &gatedGraph{fakeGraph: &fakeGraph{}, release: make(chan struct{})}
	c := newChatHarness(t, g, 50*time.Millisecond)
	w := c.do(t, slackRequest(t, slackForm("assign "+chatCfg+" "+chatAsg+" allusers", "response_url", hook.URL+"/commands/T0001/1/x"), testNow))
	m := decodeSlack(t, w)
	if !strings.Contains(m.Text, "Still working") || !strings.Contains(m.Text, "outcome will follow") {
		t.Fatalf("answer %q, want still working", m.Text)
	}
	close(g.release)
	select {
	case f := <-posted:
		if !strings.Contains(f.Text, "Done") || !strings.Contains(f.Text, "all licensed users") {
			t.Errorf("follow-up %q", f.Text)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no follow-up posted:\n%s", c.logs.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.h.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	logs := c.logs.String()
	for _, want := range []string{`"outcome":"pending"`, `"msg":"webhook follow-up"`, `"followUp":"posted"`, `"outcome":"applied"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s:\n%s", want, logs)
		}
	}
	if g.count() != 1 {
		t.Errorf("Graph calls = %d, want 1", g.count())
	}
}

// TestTeamsStillWorking: Teams cannot take a later message, so the answer
// says to check with show, and the outcome is only logged.
func TestTeamsStillWorking(t *testing.T) {
	g := &gatedGraph{fakeGraph: &fakeGraph{}, release: make(chan struct{})}
	c := newChatHarness(t, g, 50*time.Millisecond)
	text := decodeTeams(t, c.do(t, teamsRequest(t, teamsActivity("assign "+chatCfg+" "+chatAsg+" alldevices", testNow))))
	if !strings.Contains(text, "Still working") || !strings.Contains(text, "check with `show`") {
		t.Fatalf("answer %q", text)
	}
	close(g.release)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.h.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if logs := c.logs.String(); !strings.Contains(logs, `"followUp":"unavailable"`) || !strings.Contains(logs, `"outcome":"applied"`) {
		t.Errorf("log:\n%s", logs)
	}
}

// TestSlackFollowUpOnlyToSlack: a response_url elsewhere gets nothing, and
// the answer does not promise a follow-up.
func TestSlackFollowUpOnlyToSlack(t *testing.T) {
	s, _ := slack.New(chatSlackSecret, &slack.Options{Allow: chat.Allowlist{Tenant: "T0001", Users: []string{"U0456EFGH"}}, AnswerWithin: 20 * time.Millisecond})
	g := &gatedGraph{fakeGraph: &fakeGraph{}, release: make(chan struct{})}
	logs := &lockedBuffer{}
	h := newTestHandler(g, []Source{s}, &testOptions{Now: func() time.Time { return testNow }, Logger: testLogger(logs)})
	for _, u := range []string{"https://evil.example/commands/x", "http://hooks.slack.com/commands/x", "http://127.0.0.1:9001/2018-06-01/runtime/invocation/next"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, slackRequest(t, slackForm("show "+chatCfg+" "+chatAsg, "response_url", u), testNow))
		if m := decodeSlack(t, w); strings.Contains(m.Text, "outcome will follow") {
			t.Errorf("%s: answer promises a follow-up: %q", u, m.Text)
		}
	}
	close(g.release)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = h.Wait(ctx)
	if strings.Contains(logs.String(), `"followUp":"posted"`) {
		t.Errorf("a follow-up was posted outside hooks.slack.com:\n%s", logs)
	}
}

// TestChatGraphFailureIsAReply: a Graph refusal reaches the chat user as a
// message (Slack needs its 200), named by the problem type in the log.
func TestChatGraphFailureIsAReply(t *testing.T) {
	c := newChatHarness(t, &fakeGraph{err: &change.Error{Code: change.CodeNotFound, Message: "the configuration or assignment does not exist in Intune"}}, time.Second)
	m := decodeSlack(t, c.do(t, slackRequest(t, slackForm("assign "+chatCfg+" "+chatAsg+" alldevices"), testNow)))
	if !strings.Contains(m.Text, "not applied: the configuration or assignment does not exist in Intune") {
		t.Errorf("reply %q", m.Text)
	}
	if !strings.Contains(c.logs.String(), `"problem":"not-found"`) || !strings.Contains(c.logs.String(), `"outcome":"failed"`) {
		t.Errorf("log:\n%s", c.logs.String())
	}
}
