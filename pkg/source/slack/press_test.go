package slack

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/chat"
	"github.com/enrollhook/enrollhook/pkg/source"
)

const (
	pressTrigger = "6751234567890.4567890123.9f8e7d6c5b4a39281706f5e4d3c2b1a0"
	pressMsgTS   = "1764403100.000100"
	pressRespURL = "https://hooks.slack.com/actions/T0001/6751234567890/Hx7kQ2xmPAbcdEFGhijk"
	requestID    = "7KQ2XMPA"
)

var pressNow = time.Unix(1764403200, 0)

// requestReply is the reply to an assign that waits for a second person.
func requestReply() *chat.Reply {
	return &chat.Reply{Status: chat.StatusPending, Public: true,
		Lines: []string{"Request `" + requestID + "`: assign <configuration> & group, waiting for a second person.",
			"Approve with `/intune approve " + requestID + "`, reject with `/intune reject " + requestID + "`."},
		Actions: []chat.Action{{Label: "Approve", Command: "approve " + requestID, Style: "primary"},
			{Label: "Reject", Command: "reject " + requestID, Style: "danger"}}}
}

// pressPayload is a block_actions payload as Slack sends it when bob
// presses a button of value on enrollhook's message; mutate edits it.
func pressPayload(value string, mutate func(p map[string]any)) map[string]any {
	p := map[string]any{
		"type":       "block_actions",
		"user":       map[string]any{"id": "U0999BOB", "username": "bob", "name": "bob", "team_id": "T0001"},
		"api_app_id": "A0789IJKL",
		"token":      "xyz",
		"container":  map[string]any{"type": "message", "message_ts": pressMsgTS, "channel_id": "C0123ABCD", "is_ephemeral": false},
		"trigger_id": pressTrigger,
		"team":       map[string]any{"id": "T0001", "domain": "contoso"},
		"enterprise": nil, "is_enterprise_install": false,
		"channel":      map[string]any{"id": "C0123ABCD", "name": "itsm-approvals"},
		"message":      map[string]any{"type": "message", "text": "Request", "ts": pressMsgTS},
		"response_url": pressRespURL,
		"actions": []any{map[string]any{"action_id": "enrollhook-action-0", "block_id": "enrollhook-actions",
			"text": map[string]any{"type": "plain_text", "text": "Approve"}, "value": value, "style": "primary",
			"type": "button", "action_ts": "1764403190.000200"}},
		"state": map[string]any{"values": map[string]any{}},
	}
	if mutate != nil {
		mutate(p)
	}
	return p
}

// pressBody is the form Slack posts: one field, payload, holding the JSON.
func pressBody(t *testing.T, payload any) []byte {
	t.Helper()
	raw, ok := payload.(string)
	if !ok {
		b, err := json.Marshal(payload)
		if err != nil {
			t.Fatal(err)
		}
		raw = string(b)
	}
	return []byte(url.Values{"payload": {raw}}.Encode())
}

// signedPress signs body with secret as Slack does at pressNow.
func signedPress(t *testing.T, secret string, body []byte) http.Header {
	t.Helper()
	h, err := Sign(secret, pressNow, body)
	if err != nil {
		t.Fatal(err)
	}
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	return h
}

func pressSource(t *testing.T, opts *Options) *Source {
	t.Helper()
	if opts == nil {
		opts = &Options{}
	}
	opts.Allow = chat.Allowlist{Tenant: "T0001", Users: []string{"U0456EFGH", "U0999BOB"}}
	s, err := New(vecSecret, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// buttons decodes a rendered message's blocks.
type renderedMessage struct {
	ResponseType    string `json:"response_type"`
	Text            string `json:"text"`
	ReplaceOriginal *bool  `json:"replace_original"`
	Blocks          []struct {
		Type    string `json:"type"`
		BlockID string `json:"block_id"`
		Text    *struct {
			Type, Text string
		} `json:"text"`
		Elements []struct {
			Type string `json:"type"`
			Text struct {
				Type, Text string
			} `json:"text"`
			Style    *string `json:"style"`
			Value    string  `json:"value"`
			ActionID string  `json:"action_id"`
		} `json:"elements"`
	} `json:"blocks"`
}

func decodeMessage(t *testing.T, b []byte) renderedMessage {
	t.Helper()
	var m renderedMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("message %s: %v", b, err)
	}
	return m
}

// TestReplyButtons: a request's Approve and Reject show as Block Kit
// buttons under its text, each carrying the command it stands for; the
// plain text stays for notifications.
func TestReplyButtons(t *testing.T) {
	s := pressSource(t, &Options{ResponseType: "in_channel"})
	r := requestReply()
	r.Actions = append(r.Actions, chat.Action{Label: "Details", Command: "show a b", Style: "secondary"},
		chat.Action{Label: "", Command: "approve " + requestID}) // no label: no button
	ct, b := s.Reply(nil, r)
	m := decodeMessage(t, b)
	wantText := "Request `7KQ2XMPA`: assign &lt;configuration&gt; &amp; group, waiting for a second person.\n" +
		"Approve with `/intune approve 7KQ2XMPA`, reject with `/intune reject 7KQ2XMPA`."
	if ct != "application/json" || m.ResponseType != "in_channel" || m.Text != wantText || m.ReplaceOriginal != nil {
		t.Fatalf("Reply = %s %s", ct, b)
	}
	if len(m.Blocks) != 2 || m.Blocks[0].Type != "section" || m.Blocks[0].Text == nil || m.Blocks[0].Text.Type != "mrkdwn" ||
		m.Blocks[0].Text.Text != wantText || m.Blocks[1].Type != "actions" {
		t.Fatalf("blocks of %s: want a section with the text, then the actions", b)
	}
	els := m.Blocks[1].Elements
	want := []struct{ label, value, style string }{
		{"Approve", "approve 7KQ2XMPA", "primary"}, {"Reject", "reject 7KQ2XMPA", "danger"}, {"Details", "show a b", ""}}
	if len(els) != len(want) {
		t.Fatalf("buttons of %s: want %d", b, len(want))
	}
	ids := map[string]bool{}
	for i, w := range want {
		e := els[i]
		style := ""
		if e.Style != nil {
			style = *e.Style
		}
		if e.Type != "button" || e.Text.Type != "plain_text" || e.Text.Text != w.label || e.Value != w.value || style != w.style || e.ActionID == "" {
			t.Errorf("button %d = %+v, want %+v", i, e, w)
		}
		ids[e.ActionID] = true
	}
	if len(ids) != len(want) {
		t.Errorf("action ids are not unique: %s", b)
	}
	if strings.Contains(string(b), `"style":"secondary"`) {
		t.Errorf("a style Slack does not know was sent: %s", b)
	}

	// Actions a button cannot carry leave the message as it was.
	_, plain := s.Reply(nil, &chat.Reply{Lines: []string{"ok"}, Public: true})
	_, none := s.Reply(nil, &chat.Reply{Lines: []string{"ok"}, Public: true, Actions: []chat.Action{{Label: "Approve"}}})
	if string(plain) != `{"response_type":"in_channel","text":"ok"}` || string(none) != string(plain) {
		t.Errorf("Reply without usable actions = %s, %s", plain, none)
	}
}

// TestReplyButtonsLongText: Slack refuses a section of more than 3000
// characters, so a long reply is cut into sections, between lines where
// it can be and never inside an escape.
func TestReplyButtonsLongText(t *testing.T) {
	s := pressSource(t, nil)
	r := requestReply()
	r.Lines = nil
	for range 100 {
		r.Lines = append(r.Lines, strings.Repeat("before <x> & after ", 5))
	}
	m := decodeMessage(t, mustReply(s, r))
	var texts []string
	for _, bl := range m.Blocks[:len(m.Blocks)-1] {
		if bl.Type != "section" || len(bl.Text.Text) > 3000 {
			t.Fatalf("section %q... of %d bytes", bl.Text.Text[:20], len(bl.Text.Text))
		}
		texts = append(texts, bl.Text.Text)
	}
	if len(texts) < 2 || strings.Join(texts, "\n") != m.Text {
		t.Errorf("%d sections do not make up the text", len(texts))
	}
	r.Lines = []string{strings.Repeat("ab&", 4000)} // "ab&amp;": a cut every 3000 bytes would fall inside an escape
	m = decodeMessage(t, mustReply(s, r))
	texts = texts[:0]
	for _, bl := range m.Blocks[:len(m.Blocks)-1] {
		if len(bl.Text.Text) > 3000 || !strings.HasPrefix(bl.Text.Text, "ab") && !strings.HasPrefix(bl.Text.Text, "&amp;") {
			t.Fatalf("section of %d bytes starting %q", len(bl.Text.Text), bl.Text.Text[:5])
		}
		texts = append(texts, bl.Text.Text)
	}
	if strings.Join(texts, "") != m.Text || m.Blocks[len(m.Blocks)-1].Type != "actions" {
		t.Errorf("a long line's sections do not make it up")
	}
}

func mustReply(s *Source, r *chat.Reply) []byte {
	_, b := s.Reply(nil, r)
	return b
}

// TestButtonPress: a signed block_actions payload for the button enrollhook
// rendered is the command that button stands for, run by whoever pressed
// it, with its response_url to follow up at.
func TestButtonPress(t *testing.T) {
	s := pressSource(t, nil)
	m := decodeMessage(t, mustReply(s, requestReply()))
	for i, verb := range []chat.Verb{chat.VerbApprove, chat.VerbReject} {
		value := m.Blocks[len(m.Blocks)-1].Elements[i].Value
		body := pressBody(t, pressPayload(value, nil))
		h := signedPress(t, vecSecret, body)
		d, err := s.Authenticate(h, body, pressNow)
		if err != nil || d.ID != pressTrigger || !s.Pressed(d) {
			t.Fatalf("Authenticate(%s) = %q, %v (pressed %v); want the trigger_id", verb, d.ID, err, s.Pressed(d))
		}
		inv, err := s.Invocation(h, d)
		if err != nil {
			t.Fatal(err)
		}
		if inv.Command == nil || inv.Command.Verb != verb || inv.Command.Ref != requestID || inv.ParseErr != nil || inv.Denied != nil {
			t.Errorf("press %q: command %+v, parse %v, denied %v", value, inv.Command, inv.ParseErr, inv.Denied)
		}
		if inv.Sender != "slack" || inv.User != "U0999BOB" || inv.UserName != "bob" || inv.Tenant != "T0001" || inv.DeliveryID != pressTrigger ||
			inv.Actor() != "slack:T0001/U0999BOB" || inv.ResponseURL != pressRespURL || !inv.CanFollowUp || inv.Prefix != "/intune" {
			t.Errorf("press %q: invocation %+v", value, inv)
		}
	}
	// A slash command is not a press.
	d, err := s.Authenticate(headers("1714032000", vecSig7), []byte(vecBody7), time.Unix(1714032000, 0))
	if err != nil || s.Pressed(d) {
		t.Errorf("slash command: pressed %v, %v", s.Pressed(d), err)
	}
	// Sent as anything but a form, a press is refused like a command.
	body := pressBody(t, pressPayload("approve "+requestID, nil))
	if _, err := s.Invocation(http.Header{"Content-Type": {"application/json"}}, source.Delivery{Body: body}); change.ErrorCode(err) != change.CodeMediaType {
		t.Errorf("Invocation(JSON) = %v, want CodeMediaType", err)
	}
}

// TestButtonPressDeliveryID: without a trigger_id a press is named by its
// message and the moment it was pressed, both signed: the same press sent
// again is the same delivery, another press another.
func TestButtonPressDeliveryID(t *testing.T) {
	s := pressSource(t, nil)
	at := func(actionTS string) string {
		body := pressBody(t, pressPayload("approve "+requestID, func(p map[string]any) {
			delete(p, "trigger_id")
			p["actions"].([]any)[0].(map[string]any)["action_ts"] = actionTS
		}))
		d, err := s.Authenticate(signedPress(t, vecSecret, body), body, pressNow)
		if err != nil {
			t.Fatal(err)
		}
		return d.ID
	}
	a, again, b := at("1764403190.000200"), at("1764403190.000200"), at("1764403195.000300")
	if a != "press-"+pressMsgTS+"-1764403190.000200" || a != again || a == b {
		t.Errorf("delivery ids %q %q %q", a, again, b)
	}
}

// TestButtonPressForged: a press is verified like any delivery, before its
// payload is read; a verification token inside it counts for nothing.
func TestButtonPressForged(t *testing.T) {
	s := pressSource(t, nil)
	body := pressBody(t, pressPayload("reject "+requestID, nil))
	approve := []byte(strings.Replace(string(body), "reject", "approve", 1))
	tests := []struct {
		name string
		h    http.Header
		body []byte
		kind change.Kind
	}{
		{"unsigned", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, body, "signature-missing"},
		{"other secret", signedPress(t, "another-signing-secret-0123456789", body), body, "signature-mismatch"},
		{"changed after signing", signedPress(t, vecSecret, body), approve, "signature-mismatch"},
		{"stale", signedPress(t, vecSecret, body), body, "timestamp-out-of-window"},
	}
	for _, tt := range tests {
		now := pressNow
		if tt.name == "stale" {
			now = now.Add(10 * time.Minute)
		}
		d, err := s.Authenticate(tt.h, tt.body, now)
		ce, ok := err.(*change.Error)
		if !ok || ce.Code != change.CodeUnauthenticated || ce.Kind != tt.kind || d.Payload != nil {
			t.Errorf("%s: Authenticate = %+v, %v; want %s and nothing read", tt.name, d, err, tt.kind)
		}
	}
}

// TestButtonPressOnlyApproveOrReject: a button stands for approve or
// reject only; any other value, another element or another kind of
// interaction is answered with usage help, and runs nothing.
func TestButtonPressOnlyApproveOrReject(t *testing.T) {
	s := pressSource(t, nil)
	setAction := func(k string, v any) func(p map[string]any) {
		return func(p map[string]any) { p["actions"].([]any)[0].(map[string]any)[k] = v }
	}
	tests := []struct {
		name   string
		value  string
		mutate func(p map[string]any)
		reason string
	}{
		{"assign", "assign " + cfgID + " " + asgID + " allusers", nil, "only approve or reject"},
		{"show", "show " + cfgID + " " + asgID, nil, "only approve or reject"},
		{"help", "help", nil, "only approve or reject"},
		{"revert", "revert 123.456.abcdef", nil, "only approve or reject"},
		{"not a request id", "approve 7KQ2XMP0", nil, "request id"},
		{"empty", "", nil, "no command"},
		{"select menu", "approve " + requestID, setAction("type", "static_select"), "Approve and Reject buttons"},
		{"shortcut", "approve " + requestID, func(p map[string]any) { p["type"] = "shortcut"; delete(p, "actions") }, "Approve and Reject buttons"},
	}
	for _, tt := range tests {
		body := pressBody(t, pressPayload(tt.value, tt.mutate))
		inv, err := authenticateAndRead(s, signedPress(t, vecSecret, body), body, pressNow)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		usage := chat.Usage(inv.Prefix, inv.ParseErr)
		if inv.Command != nil || inv.ParseErr == nil || usage.Status != chat.StatusUsage || !strings.Contains(usage.Lines[0], tt.reason) {
			t.Errorf("%s: command %+v, usage %q; want usage saying %q", tt.name, inv.Command, usage.Lines[0], tt.reason)
		}
		if inv.User != "U0999BOB" || inv.Denied != nil {
			t.Errorf("%s: presser %q, denied %v", tt.name, inv.User, inv.Denied)
		}
	}
}

// TestButtonPressAllowList: the slash commands' allow-list decides who may
// press: a user or a workspace not on it is refused, with their id.
func TestButtonPressAllowList(t *testing.T) {
	s := pressSource(t, nil)
	for _, tt := range []struct {
		name   string
		mutate func(p map[string]any)
		says   string
	}{
		{"user", func(p map[string]any) { p["user"] = map[string]any{"id": "U0999MALLORY", "username": "mallory"} }, "ENROLLHOOK_SLACK_ALLOWED_USERS"},
		{"workspace", func(p map[string]any) { p["team"] = map[string]any{"id": "T0666", "domain": "elsewhere"} }, "workspace"},
		{"no workspace", func(p map[string]any) { p["team"] = nil }, "workspace"},
	} {
		body := pressBody(t, pressPayload("approve "+requestID, tt.mutate))
		inv, err := authenticateAndRead(s, signedPress(t, vecSecret, body), body, pressNow)
		if err != nil || !chat.IsRefusal(inv.Denied) {
			t.Errorf("%s: denied %v, %v; want a refusal", tt.name, inv, err)
			continue
		}
		if r := chat.Refused(inv); r.Status != chat.StatusRefused || !strings.Contains(r.Text(" "), tt.says) {
			t.Errorf("%s: refusal %q, want it to mention %q", tt.name, r.Text(" "), tt.says)
		}
	}
	nobody, _ := New(vecSecret, nil)
	body := pressBody(t, pressPayload("approve "+requestID, nil))
	if inv, err := authenticateAndRead(nobody, signedPress(t, vecSecret, body), body, pressNow); err != nil || !chat.IsRefusal(inv.Denied) {
		t.Errorf("without an allow-list: %+v, %v; want a refusal", inv, err)
	}
}

// TestButtonPressMalformed: a payload enrollhook cannot read is refused
// with a problem naming the field, never quoting the payload.
func TestButtonPressMalformed(t *testing.T) {
	s := pressSource(t, nil)
	button := map[string]any{"type": "button", "value": "approve " + requestID, "action_ts": "1764403190.000200"}
	tests := []struct {
		name    string
		payload any
		field   string
	}{
		{"not JSON", "approve " + requestID, "/payload"},
		{"an array", []any{button}, "/payload"},
		{"no type", map[string]any{"actions": []any{button}, "user": map[string]any{"id": "U0999BOB"}}, "/payload/type"},
		{"no action", pressPayload("", func(p map[string]any) { p["actions"] = []any{} }), "/payload/actions"},
		{"two actions", pressPayload("", func(p map[string]any) { p["actions"] = []any{button, button} }), "/payload/actions"},
		{"team a string", pressPayload("approve "+requestID, func(p map[string]any) { p["team"] = "T0001" }), "/payload/team"},
		{"user id a number", pressPayload("approve "+requestID, func(p map[string]any) { p["user"] = map[string]any{"id": 42} }), "/payload/user/id"},
		{"value a number", pressPayload("", func(p map[string]any) { p["actions"] = []any{map[string]any{"type": "button", "value": 7}} }), "/payload/actions/value"},
	}
	for _, tt := range tests {
		body := pressBody(t, tt.payload)
		_, err := authenticateAndRead(s, signedPress(t, vecSecret, body), body, pressNow)
		ce, ok := err.(*change.Error)
		if !ok || ce.Code != change.CodeMalformed || len(ce.Fields) != 1 || ce.Fields[0].Field != tt.field || !strings.Contains(ce.Message, tt.field+" ") {
			t.Errorf("%s: %v (%+v), want a malformed request naming %s", tt.name, err, ce, tt.field)
			continue
		}
		if strings.Contains(ce.Message, requestID) || strings.Contains(ce.Message, "U0999BOB") || strings.Contains(ce.Fields[0].Reason, requestID) {
			t.Errorf("%s: %q quotes the payload", tt.name, ce.Message)
		}
	}
}

// TestButtonPressResponseURL: a press's response_url is held to the slash
// commands' rules: outcomes are posted only to https://hooks.slack.com/
// (loopback when allowed for tests).
func TestButtonPressResponseURL(t *testing.T) {
	var posted []renderedMessage
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m renderedMessage
		_ = json.NewDecoder(r.Body).Decode(&m)
		posted = append(posted, m)
	}))
	defer srv.Close()
	outcome := &chat.Reply{Status: chat.StatusApplied, Lines: []string{"Approved and applied."}, Public: true}
	strict := pressSource(t, nil)
	for _, u := range []string{srv.URL + "/actions/T0001/1/x", "https://hooks.slack.com.evil.example/actions/T0001/1/x",
		"http://hooks.slack.com/actions/T0001/1/x", "https://evil.example/actions/T0001/1/x", "https://bob@hooks.slack.com/actions/T0001/1/x"} {
		body := pressBody(t, pressPayload("approve "+requestID, func(p map[string]any) { p["response_url"] = u }))
		inv, err := authenticateAndRead(strict, signedPress(t, vecSecret, body), body, pressNow)
		if err != nil || inv.CanFollowUp || inv.Command == nil {
			t.Errorf("response_url %s: can follow up %v, %v", u, inv.CanFollowUp, err)
			continue
		}
		if err := strict.FollowUp(context.Background(), inv, outcome); err == nil || strings.Contains(err.Error(), u) {
			t.Errorf("FollowUp(%s) = %v, want a refusal that does not quote it", u, err)
		}
	}
	if len(posted) != 0 {
		t.Fatalf("posted %d follow-ups to a refused response_url", len(posted))
	}
	loop := pressSource(t, &Options{AllowLoopbackResponseURL: true})
	body := pressBody(t, pressPayload("approve "+requestID, func(p map[string]any) { p["response_url"] = srv.URL + "/actions/T0001/1/x" }))
	inv, err := authenticateAndRead(loop, signedPress(t, vecSecret, body), body, pressNow)
	if err != nil || !inv.CanFollowUp {
		t.Fatalf("loopback response_url allowed: %+v, %v", inv, err)
	}
	inv.Received = time.Now()
	if err := loop.FollowUp(context.Background(), inv, outcome); err != nil || len(posted) != 1 || posted[0].Text != "Approved and applied." ||
		posted[0].ReplaceOriginal == nil || *posted[0].ReplaceOriginal {
		t.Errorf("FollowUp = %v, posted %+v", err, posted)
	}
	// A reply with buttons posted later keeps them.
	if err := loop.FollowUp(context.Background(), inv, requestReply()); err != nil || len(posted) != 2 || len(posted[1].Blocks) != 2 ||
		posted[1].Blocks[1].Elements[0].Value != "approve "+requestID {
		t.Errorf("FollowUp(request) = %v, posted %+v", err, posted)
	}
}

// TestButtonPressReadsTheDelivery: a press's payload is read once, in
// Authenticate; Invocation works from that reading.
func TestButtonPressReadsTheDelivery(t *testing.T) {
	s := pressSource(t, nil)
	body := pressBody(t, pressPayload("approve "+requestID, nil))
	h := signedPress(t, vecSecret, body)
	d, err := s.Authenticate(h, body, pressNow)
	if err != nil {
		t.Fatal(err)
	}
	for i := range body {
		body[i] = ' '
	}
	inv, err := s.Invocation(h, d)
	if err != nil || inv.Command == nil || inv.Command.Verb != chat.VerbApprove || inv.User != "U0999BOB" {
		t.Errorf("Invocation after the bytes are gone = %+v, %v", inv, err)
	}
}
