package slack_test

// The Slack adapter held against slack-go (github.com/slack-go/slack, a
// test-only dependency): its request verifier, its slash-command parser, its
// model of interactivity payloads and of Block Kit. Where both read the same
// bytes they must agree; where slack-go builds what Slack sends, enrollhook
// must read it.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	slackgo "github.com/slack-go/slack"

	"github.com/enrollhook/enrollhook/pkg/chat"
	"github.com/enrollhook/enrollhook/pkg/source/slack"
)

const goSecret = "8f742231b10e8888abcd99yyyzzz85a5"

func newSource(t *testing.T, secret string) *slack.Source {
	t.Helper()
	s, err := slack.New(secret, &slack.Options{Tolerance: 5 * time.Minute,
		Allow: chat.Allowlist{Tenant: "T0001", Users: []string{"U0456EFGH", "U0999BOB"}}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// slackGoAccepts is slack-go's verdict on a request: NewSecretsVerifier
// (which reads the clock for its 5-minute window), the raw body, Ensure.
func slackGoAccepts(h http.Header, secret string, body []byte) bool {
	v, err := slackgo.NewSecretsVerifier(h, secret)
	if err != nil {
		return false
	}
	if _, err := v.Write(body); err != nil {
		return false
	}
	return v.Ensure() == nil
}

// TestSignaturesAgreeWithSlackGo: enrollhook's verification and slack-go's
// accept and refuse the same requests: valid signatures at several skews,
// and forgeries (a changed digit, another secret or body, another version,
// a shortened or lengthened value, a moved timestamp, headers missing).
// Skews near the 5-minute edge are left out: the two read the clock at
// different instants. Both sides read the wall clock: the requests are
// signed relative to time.Now().
func TestSignaturesAgreeWithSlackGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	src := newSource(t, goSecret)
	skews := []time.Duration{0, 30 * time.Second, -30 * time.Second, 4 * time.Minute, -4 * time.Minute,
		6 * time.Minute, -6 * time.Minute, time.Hour, -24 * time.Hour}
	type mutation func(h http.Header, body []byte) []byte
	sig := func(h http.Header) string { return h.Get("X-Slack-Signature") }
	mutations := map[string]mutation{
		"as signed": func(http.Header, []byte) []byte { return nil },
		"one digit changed": func(h http.Header, _ []byte) []byte {
			s := []byte(sig(h))
			i := 3 + rng.IntN(64)
			s[i] = "0123456789abcdef"[(strings.IndexByte("0123456789abcdef", s[i])+1)%16]
			h.Set("X-Slack-Signature", string(s))
			return nil
		},
		"upper-case hex": func(h http.Header, _ []byte) []byte {
			h.Set("X-Slack-Signature", "v0="+strings.ToUpper(sig(h)[3:]))
			return nil
		},
		"another secret": func(h http.Header, body []byte) []byte {
			o, _ := slack.Sign("0000000000000000ffffffffffffffff", tsOf(h), body)
			h.Set("X-Slack-Signature", o.Get("X-Slack-Signature"))
			return nil
		},
		"another body": func(_ http.Header, body []byte) []byte { return append(bytes.Clone(body), '&') },
		"version v1":   func(h http.Header, _ []byte) []byte { h.Set("X-Slack-Signature", "v1="+sig(h)[3:]); return nil },
		"no version":   func(h http.Header, _ []byte) []byte { h.Set("X-Slack-Signature", sig(h)[3:]); return nil },
		"shortened":    func(h http.Header, _ []byte) []byte { h.Set("X-Slack-Signature", sig(h)[:len(sig(h))-2]); return nil },
		"lengthened":   func(h http.Header, _ []byte) []byte { h.Set("X-Slack-Signature", sig(h)+"00"); return nil },
		"timestamp moved": func(h http.Header, _ []byte) []byte {
			n, _ := strconv.ParseInt(h.Get("X-Slack-Request-Timestamp"), 10, 64)
			h.Set("X-Slack-Request-Timestamp", strconv.FormatInt(n+1, 10))
			return nil
		},
		"timestamp not a number": func(h http.Header, _ []byte) []byte { h.Set("X-Slack-Request-Timestamp", "soon"); return nil },
		"no signature":           func(h http.Header, _ []byte) []byte { h.Del("X-Slack-Signature"); return nil },
		"no timestamp":           func(h http.Header, _ []byte) []byte { h.Del("X-Slack-Request-Timestamp"); return nil },
	}
	var accepted, refused int
	for name, mutate := range mutations {
		for _, skew := range skews {
			for range 4 {
				body := randomForm(rng)
				h, err := slack.Sign(goSecret, time.Now().Add(-skew), body)
				if err != nil {
					t.Fatal(err)
				}
				if b := mutate(h, body); b != nil {
					body = b
				}
				_, err = src.Authenticate(h, body, time.Now())
				ours, theirs := err == nil, slackGoAccepts(h, goSecret, body)
				if ours != theirs {
					t.Errorf("%s, signed %v ago: enrollhook accepts=%v (%v), slack-go accepts=%v", name, skew, ours, err, theirs)
				}
				if ours {
					accepted++
				} else {
					refused++
				}
			}
		}
	}
	// Valid at the skews inside the window: as signed and in upper case.
	if want := 2 * 5 * 4; accepted != want {
		t.Errorf("%d requests accepted by both, want %d", accepted, want)
	}
	if refused == 0 {
		t.Error("no request was refused")
	}
}

func tsOf(h http.Header) time.Time {
	n, _ := strconv.ParseInt(h.Get("X-Slack-Request-Timestamp"), 10, 64)
	return time.Unix(n, 0)
}

// randomForm is a slash-command form with random, encoded values.
func randomForm(rng *rand.Rand) []byte {
	word := func() string {
		const chars = "abcXYZ019 +&=%/é€😀<>\"'"
		var b strings.Builder
		for range 1 + rng.IntN(20) {
			r := []rune(chars)
			b.WriteRune(r[rng.IntN(len(r))])
		}
		return b.String()
	}
	return []byte(url.Values{"team_id": {"T0001"}, "user_id": {"U" + strconv.Itoa(rng.IntN(1e6))}, "user_name": {word()},
		"command": {"/intune"}, "text": {word()}, "trigger_id": {strconv.Itoa(rng.IntN(1e9)) + ".123.abc"},
		"response_url": {"https://hooks.slack.com/commands/T0001/" + strconv.Itoa(rng.IntN(1e9)) + "/x"}}.Encode())
}

// TestSlashCommandsReadAsSlackGoReadsThem: the fields enrollhook takes from
// a slash command (team, user, command, response_url, trigger_id, text)
// are the ones slack-go's SlashCommandParse reads from the same form: the
// signed samples in events/ and random forms with escapes, '+' and
// non-ASCII. A form with a repeated key, of which slack-go reads the
// first, is refused instead (422, naming the key): another reader could
// take the last.
func TestSlashCommandsReadAsSlackGoReadsThem(t *testing.T) {
	var bodies [][]byte
	for _, name := range []string{"slack-assign.json", "slack-show.json", "slack-malformed-command.json", "slack-not-allowed.json"} {
		bodies = append(bodies, sampleBody(t, name))
	}
	rng := rand.New(rand.NewPCG(3, 5))
	for range 50 {
		bodies = append(bodies, randomForm(rng))
	}
	src := newSource(t, goSecret)
	repeated := []byte("team_id=T0001&user_id=U0456EFGH&user_id=U0999BOB&command=%2Fintune&text=show+a+b&trigger_id=1.2.x&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2Fx")
	h, _ := slack.Sign(goSecret, time.Now(), repeated)
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	if d, err := src.Authenticate(h, repeated, time.Now()); err != nil {
		t.Errorf("%s: %v", repeated, err)
	} else if _, err := src.Invocation(h, d); !strings.Contains(fmt.Sprint(err), "user_id more than once") {
		t.Errorf("%s: %v, want a refusal naming user_id", repeated, err)
	}
	for _, body := range bodies {
		h, err := slack.Sign(goSecret, time.Now(), body)
		if err != nil {
			t.Fatal(err)
		}
		h.Set("Content-Type", "application/x-www-form-urlencoded")
		d, err := src.Authenticate(h, body, time.Now())
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		inv, err := src.Invocation(h, d)
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		r, _ := http.NewRequest(http.MethodPost, "https://example.invalid/hooks/slack", bytes.NewReader(body))
		r.Header = h
		sc, err := slackgo.SlashCommandParse(r)
		if err != nil {
			t.Fatalf("slack-go cannot parse %s: %v", body, err)
		}
		if inv.Tenant != sc.TeamID || inv.User != sc.UserID || inv.UserName != sc.UserName || inv.ResponseURL != sc.ResponseURL {
			t.Errorf("%s: enrollhook read team %q user %q (%q) response_url %q; slack-go %q %q (%q) %q",
				body, inv.Tenant, inv.User, inv.UserName, inv.ResponseURL, sc.TeamID, sc.UserID, sc.UserName, sc.ResponseURL)
		}
		if inv.Prefix != sc.Command {
			t.Errorf("%s: command %q, slack-go %q", body, inv.Prefix, sc.Command)
		}
		if d.ID != sc.TriggerID {
			t.Errorf("%s: delivery id %q, want the trigger_id %q", body, d.ID, sc.TriggerID)
		}
		// The command text enrollhook parses is slack-go's Text.
		want, wantErr := chat.Parse(sc.Text)
		if !reflect.DeepEqual(inv.Command, want) || fmt.Sprint(inv.ParseErr) != fmt.Sprint(wantErr) {
			t.Errorf("%s: command %v (%v), slack-go's text %q parses as %v (%v)", body, inv.Command, inv.ParseErr, sc.Text, want, wantErr)
		}
	}
}

// sampleBody is the decoded form body of an events/ sample.
func sampleBody(t *testing.T, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile("../../../events/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var ev struct {
		Body            string `json:"body"`
		IsBase64Encoded bool   `json:"isBase64Encoded"`
	}
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	if !ev.IsBase64Encoded {
		return []byte(ev.Body)
	}
	b, err := base64.StdEncoding.DecodeString(ev.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRepliesAreBlockKitToSlackGo: enrollhook's replies with buttons, read
// with slack-go's Block Kit model, are sections of valid mrkdwn and one
// actions block of buttons within Block Kit's limits (a long reply and many
// actions included); no block is of a type slack-go does not know.
func TestRepliesAreBlockKitToSlackGo(t *testing.T) {
	long := strings.Repeat("é&<x> ", 700) // past a section's 3000 characters once escaped
	var many []chat.Action
	for i := range 30 {
		many = append(many, chat.Action{Label: strings.Repeat("L", 80+i), Command: "approve R" + strconv.Itoa(i)})
	}
	replies := map[string]*chat.Reply{
		"a request for a second person": pending("7KQ2XMPA"),
		"a long reply":                  {Lines: []string{long, long, "end"}, Actions: []chat.Action{{Label: "Approve", Command: "approve X", Style: "primary"}}},
		"thirty actions":                {Lines: []string{"many"}, Actions: many},
	}
	src := newSource(t, goSecret)
	for name, r := range replies {
		ct, body := src.Reply(&chat.Invocation{}, r)
		if ct != "application/json" {
			t.Errorf("%s: Content-Type %q", name, ct)
		}
		var m slackgo.Msg
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("%s: slack-go cannot read the reply: %v\n%s", name, err, body)
		}
		if m.Text == "" || (m.ResponseType != "ephemeral" && m.ResponseType != "in_channel") {
			t.Errorf("%s: text %q, response_type %q", name, m.Text, m.ResponseType)
		}
		bl := m.Blocks.BlockSet
		if len(bl) == 0 || len(bl) > 50 {
			t.Fatalf("%s: %d blocks, want 1 to 50", name, len(bl))
		}
		for i, b := range bl[:len(bl)-1] {
			sec, ok := b.(*slackgo.SectionBlock)
			if !ok {
				t.Fatalf("%s: block %d is %T, want a section", name, i, b)
			}
			if err := sec.Text.Validate(); err != nil || sec.Text.Type != "mrkdwn" {
				t.Errorf("%s: section %d: %v (%s)", name, i, err, sec.Text.Type)
			}
		}
		act, ok := bl[len(bl)-1].(*slackgo.ActionBlock)
		if !ok {
			t.Fatalf("%s: the last block is %T, want the actions", name, bl[len(bl)-1])
		}
		els := act.Elements.ElementSet
		if len(els) == 0 || len(els) > 25 {
			t.Errorf("%s: %d buttons, want 1 to 25", name, len(els))
		}
		ids := map[string]bool{}
		for _, e := range els {
			btn, ok := e.(*slackgo.ButtonBlockElement)
			if !ok {
				t.Fatalf("%s: an element is %T, want a button", name, e)
			}
			if err := btn.Text.Validate(); err != nil || btn.Text.Type != "plain_text" || utf8.RuneCountInString(btn.Text.Text) > 75 {
				t.Errorf("%s: button text %q: %v", name, btn.Text.Text, err)
			}
			if btn.Value == "" || len(btn.Value) > 2000 || btn.ActionID == "" || ids[btn.ActionID] {
				t.Errorf("%s: button value %q action_id %q (action ids must be unique)", name, btn.Value, btn.ActionID)
			}
			ids[btn.ActionID] = true
			if btn.Style != "" && btn.Style != slackgo.StylePrimary && btn.Style != slackgo.StyleDanger {
				t.Errorf("%s: button style %q", name, btn.Style)
			}
		}
	}
}

// pending is the reply to a change that waits for a second person, with
// its Approve and Reject buttons.
func pending(id string) *chat.Reply {
	return &chat.Reply{Status: chat.StatusPending, Public: true,
		Lines: []string{"Request `" + id + "`: assign <configuration> & group, waiting for a second person."},
		Actions: []chat.Action{{Label: "Approve", Command: "approve " + id, Style: "primary"},
			{Label: "Reject", Command: "reject " + id, Style: "danger"}}}
}

// TestAButtonPressBuiltBySlackGo: the press of a button of enrollhook's
// reply, built with slack-go's InteractionCallback from the button as
// slack-go reads it, is read by enrollhook as the command the button
// stands for, by the user who pressed it, named by its trigger_id.
func TestAButtonPressBuiltBySlackGo(t *testing.T) {
	src := newSource(t, goSecret)
	_, body := src.Reply(&chat.Invocation{}, pending("7KQ2XMPA"))
	var m slackgo.Msg
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	act := m.Blocks.BlockSet[len(m.Blocks.BlockSet)-1].(*slackgo.ActionBlock)
	for _, e := range act.Elements.ElementSet {
		btn := e.(*slackgo.ButtonBlockElement)
		cb := slackgo.InteractionCallback{
			Type:        slackgo.InteractionTypeBlockActions,
			Team:        slackgo.Team{ID: "T0001", Domain: "contoso"},
			User:        slackgo.User{ID: "U0999BOB", Name: "bob", Username: "bob", TeamID: "T0001"},
			APIAppID:    "A0789IJKL",
			TriggerID:   "6751234567890.4567890123.9f8e7d6c5b4a39281706f5e4d3c2b1a0",
			ResponseURL: "https://hooks.slack.com/actions/T0001/6751234567890/Hx7kQ2xmPAbcdEFGhijk",
			Container:   slackgo.Container{Type: "message", MessageTs: "1764403100.000100", ChannelID: "C0123ABCD"},
			ActionCallback: slackgo.ActionCallbacks{BlockActions: []*slackgo.BlockAction{{
				ActionID: btn.ActionID, BlockID: act.BlockID, Type: slackgo.ActionType(btn.Type), Text: *btn.Text,
				Value: btn.Value, ActionTs: "1764403190.000200"}}},
		}
		payload, err := json.Marshal(cb)
		if err != nil {
			t.Fatal(err)
		}
		form := []byte(url.Values{"payload": {string(payload)}}.Encode())
		h, err := slack.Sign(goSecret, time.Now(), form)
		if err != nil {
			t.Fatal(err)
		}
		h.Set("Content-Type", "application/x-www-form-urlencoded")
		if !slackGoAccepts(h, goSecret, form) {
			t.Fatal("slack-go refuses the signed press")
		}
		d, err := src.Authenticate(h, form, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		inv, err := src.Invocation(h, d)
		if err != nil {
			t.Fatalf("a press slack-go built: %v\n%s", err, payload)
		}
		want, _ := chat.Parse(btn.Value)
		if inv.ParseErr != nil || inv.Command == nil || !reflect.DeepEqual(inv.Command, want) {
			t.Errorf("button %q: command %v (%v), want %v", btn.Value, inv.Command, inv.ParseErr, want)
		}
		if inv.User != "U0999BOB" || inv.Tenant != "T0001" || inv.UserName != "bob" || d.ID != cb.TriggerID ||
			inv.ResponseURL != cb.ResponseURL || !inv.CanFollowUp || inv.Denied != nil {
			t.Errorf("button %q read as user %q team %q name %q id %q response_url %q (follow-up %v, denied %v)",
				btn.Value, inv.User, inv.Tenant, inv.UserName, d.ID, inv.ResponseURL, inv.CanFollowUp, inv.Denied)
		}
	}
}
