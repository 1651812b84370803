package slack

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/change/changetest"
	"github.com/enrollhook/enrollhook/pkg/chat"
	"github.com/enrollhook/enrollhook/pkg/source"
)

// Vector #7 of reference/webhooks.md §8 (and #1, Slack's published one).
const (
	vecSecret = "8f742231b10e8888abcd99yyyzzz85a5"
	vecBody7  = "token=xyz&team_id=T0001&team_domain=contoso&channel_id=C0123ABCD&channel_name=itsm-approvals&user_id=U0456EFGH&user_name=alice&command=%2Fintune-assign&text=CHG0030042+approve&api_app_id=A0789IJKL&is_enterprise_install=false&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT0001%2F123%2Fabc&trigger_id=123.456.abcdef"
	vecSig7   = "v0=bf078a8d89719269aad38be36c36fa021bfc4ebfe35a7eaa0ce6e5ad1a9f4d53"
	vecBody1  = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
	vecSig1   = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"

	cfgID = "2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_Windows10EnrollmentCompletionPageConfiguration"
	asgID = "2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_5e6f0000-0000-0000-0000-000000000001"
)

func headers(ts, sig string) http.Header {
	h := http.Header{}
	h.Set("x-slack-request-timestamp", ts) // as API Gateway sends them: lower case
	h.Set("x-slack-signature", sig)
	return h
}

func TestAuthenticateVectors(t *testing.T) {
	s, err := New(vecSecret, nil)
	if err != nil {
		t.Fatal(err)
	}
	id, err := idOf(s.Authenticate(headers("1714032000", vecSig7), []byte(vecBody7), time.Unix(1714032000, 0)))
	if err != nil || id != "123.456.abcdef" {
		t.Errorf("Authenticate(#7) = %q, %v; want the trigger_id", id, err)
	}
	id, err = idOf(s.Authenticate(headers("1531420618", vecSig1), []byte(vecBody1), time.Unix(1531420618, 0)))
	if err != nil || id != "398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c" {
		t.Errorf("Authenticate(#1) = %q, %v", id, err)
	}
	// Without a usable trigger_id the signed timestamp and body name the
	// delivery: the same request gives the same id, another timestamp another.
	noTrigger := strings.Replace(vecBody7, "trigger_id=123.456.abcdef", "trigger_id=", 1)
	sign := func(ts string) http.Header {
		h, _ := Sign(vecSecret, time.Unix(mustInt(t, ts), 0), []byte(noTrigger))
		return h
	}
	id1, err1 := idOf(s.Authenticate(sign("1714032000"), []byte(noTrigger), time.Unix(1714032000, 0)))
	id2, err2 := idOf(s.Authenticate(sign("1714032000"), []byte(noTrigger), time.Unix(1714032000, 0)))
	id3, err3 := idOf(s.Authenticate(sign("1714032001"), []byte(noTrigger), time.Unix(1714032000, 0)))
	if err1 != nil || err2 != nil || err3 != nil || id1 == "" || id1 != id2 || id1 == id3 || !strings.HasPrefix(id1, "sha256-") {
		t.Errorf("Authenticate(no trigger_id) = %q %q %q, %v %v %v; want one hash per signed request", id1, id2, id3, err1, err2, err3)
	}
	tests := []struct {
		name string
		h    http.Header
		body string
		now  time.Time
		kind change.Kind
	}{
		{"missing", http.Header{}, vecBody7, time.Unix(1714032000, 0), "signature-missing"},
		{"malformed", headers("1714032000", "sha256="+vecSig7[3:]), vecBody7, time.Unix(1714032000, 0), "signature-malformed"},
		{"stale", headers("1714032000", vecSig7), vecBody7, time.Unix(1714032000+301, 0), "timestamp-out-of-window"},
		{"mismatch", headers("1714032000", vecSig1), vecBody7, time.Unix(1714032000, 0), "signature-mismatch"},
		{"re-encoded", headers("1714032000", vecSig7), strings.ReplaceAll(vecBody7, "+", "%20"), time.Unix(1714032000, 0), "body-re-encoded"},
	}
	for _, tt := range tests {
		_, err := s.Authenticate(tt.h, []byte(tt.body), tt.now)
		ce, ok := err.(*change.Error)
		if !ok || ce.Code != change.CodeUnauthenticated || ce.Kind != tt.kind {
			t.Errorf("%s: Authenticate = %v, want %s", tt.name, err, tt.kind)
			continue
		}
		if strings.Contains(ce.Message, vecSecret) || strings.Contains(ce.Message, vecSig7[3:]) || strings.Contains(ce.Message, vecSig1[3:]) {
			t.Errorf("%s: message quotes the secret or a signature", tt.name)
		}
	}
	if _, err := New("short", nil); err == nil || strings.Contains(err.Error(), "short") {
		t.Errorf("New(short) = %v", err)
	}
}

func TestInvocation(t *testing.T) {
	s, _ := New(vecSecret, &Options{Allow: chat.Allowlist{Tenant: "T0001", Users: []string{"U0456EFGH"}}})
	form := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	// The vector's text is not enrollhook's language: usage help, with the
	// command name the workspace uses.
	inv, err := s.Invocation(form, source.Delivery{ID: "123.456.abcdef", Body: []byte(vecBody7)})
	if err != nil {
		t.Fatal(err)
	}
	if inv.Denied != nil || inv.ParseErr == nil || inv.Prefix != "/intune-assign" || inv.User != "U0456EFGH" || inv.Tenant != "T0001" || !inv.CanFollowUp {
		t.Errorf("invocation = %+v", inv)
	}
	body := strings.Replace(vecBody7, "text=CHG0030042+approve", "text="+url.QueryEscape("assign "+cfgID+" "+asgID+" allusers"), 1)
	inv, err = s.Invocation(form, source.Delivery{ID: "123.456.abcdef", Body: []byte(body)})
	if err != nil || inv.Command == nil || inv.Command.Verb != chat.VerbAssign {
		t.Fatalf("Invocation(assign) = %+v, %v", inv, err)
	}
	req, err := s.Decode(source.Delivery{Body: []byte(body)}, nil)
	if err != nil || req.Ticket.ApprovedBy != "slack:T0001/U0456EFGH" || req.Assignment.Target.ODataType != change.TypeAllLicensed {
		t.Errorf("Decode = %+v, %v", req, err)
	}
	if _, err := s.Invocation(http.Header{"Content-Type": {"application/json"}}, source.Delivery{ID: "", Body: []byte(body)}); change.ErrorCode(err) != change.CodeMediaType {
		t.Errorf("Invocation(JSON) = %v, want CodeMediaType", err)
	}
	if _, err := s.Invocation(form, source.Delivery{ID: "", Body: []byte("text=%zz")}); change.ErrorCode(err) != change.CodeMalformed {
		t.Errorf("Invocation(bad form) = %v, want CodeMalformed", err)
	}
	other := strings.Replace(body, "user_id=U0456EFGH", "user_id=U0999", 1)
	if _, err := s.Decode(source.Delivery{Body: []byte(other)}, nil); change.ErrorCode(err) != change.CodeForbidden {
		t.Errorf("Decode(other user) = %v, want CodeForbidden", err)
	}
	// A form without command but with payload is a button press
	// (press_test.go): one without its button is refused, naming the field.
	_, err = s.Invocation(form, source.Delivery{ID: "", Body: []byte("payload=%7B%22type%22%3A%22block_actions%22%7D")})
	if ce, ok := err.(*change.Error); !ok || ce.Code != change.CodeMalformed || len(ce.Fields) != 1 || ce.Fields[0].Field != "/payload/actions" {
		t.Errorf("interactivity payload without actions: %v", err)
	}
}

func TestReplyAndFollowUp(t *testing.T) {
	var got []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		_ = json.NewDecoder(r.Body).Decode(&m)
		got = append(got, m)
		if strings.HasSuffix(r.URL.Path, "/gone") {
			http.Redirect(w, r, "https://evil.example/", http.StatusFound)
		}
	}))
	defer srv.Close()
	s, _ := New(vecSecret, &Options{ResponseType: "in_channel", AllowLoopbackResponseURL: true})
	ct, b := s.Reply(nil, &chat.Reply{Status: chat.StatusApplied, Lines: []string{"Done <x> & y"}, Public: true})
	if ct != "application/json" || string(b) != `{"response_type":"in_channel","text":"Done \u0026lt;x\u0026gt; \u0026amp; y"}` {
		t.Errorf("Reply = %s %s", ct, b)
	}
	if _, b := s.Reply(nil, chat.Help("/intune")); !strings.Contains(string(b), `"ephemeral"`) {
		t.Errorf("help is not ephemeral: %s", b)
	}
	inv := &chat.Invocation{ResponseURL: srv.URL + "/commands/T/1/x", Received: time.Now()}
	if err := s.FollowUp(context.Background(), inv, &chat.Reply{Lines: []string{"ok"}, Public: true}); err != nil || len(got) != 1 || got[0]["replace_original"] != false {
		t.Errorf("FollowUp = %v, posted %v", err, got)
	}
	inv.ResponseURL = srv.URL + "/gone"
	if err := s.FollowUp(context.Background(), inv, &chat.Reply{Lines: []string{"ok"}}); err == nil || strings.Contains(err.Error(), srv.URL) {
		t.Errorf("FollowUp(redirect) = %v, want an error without the URL", err)
	}
	strict, _ := New(vecSecret, nil)
	for _, u := range []string{srv.URL + "/x", "https://hooks.slack.com.evil.example/x", "https://user@hooks.slack.com/x", "ftp://hooks.slack.com/x"} {
		inv.ResponseURL = u
		if err := strict.FollowUp(context.Background(), inv, &chat.Reply{Lines: []string{"ok"}}); err == nil {
			t.Errorf("FollowUp(%s) posted", u)
		}
	}
	inv.ResponseURL, inv.Received = "https://hooks.slack.com/commands/T/1/x", time.Now().Add(-31*time.Minute)
	if err := strict.FollowUp(context.Background(), inv, &chat.Reply{Lines: []string{"ok"}}); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("FollowUp(expired) = %v", err)
	}
}

// FuzzDecodeSlack: no panic; an accepted body is a valid change approved by
// an allowed user; no error quotes an id of the body.
func FuzzDecodeSlack(f *testing.F) {
	f.Add([]byte(vecBody7))
	f.Add([]byte(vecBody1))
	f.Add([]byte("team_id=T0001&user_id=U0456EFGH&text=" + url.QueryEscape("assign "+cfgID+" "+asgID+" group 5e6f0000-0000-0000-0000-000000000001 filter a1b2c3d4-0000-0000-0000-00000000f117 include")))
	f.Add([]byte("team_id=T0001&user_id=U0456EFGH&text=assign+c1+a1+group+not-a-guid"))
	f.Add([]byte("%zz=1;2"))
	f.Add([]byte("payload=" + url.QueryEscape(`{"type":"block_actions","team":{"id":"T0001"},"user":{"id":"U0456EFGH"},"actions":[{"type":"button","value":"approve 7KQ2XMPA"}]}`)))
	f.Add([]byte("payload=" + url.QueryEscape(`{"type":"block_actions","actions":[{"type":"button","value":"assign c1 a1 allusers"}]}`)))
	f.Add([]byte("team_id=T0001&user_id=U0456EFGH&user%5Fid=U0999&text=assign+c1+a1+allusers"))
	f.Add([]byte("payload=" + url.QueryEscape(`{"type":"block_actions","team":{"id":"T0001"},"user":{"id":"U0999"},"USER":{"id":"U0456EFGH"},"actions":[{"type":"button","value":"approve 7KQ2XMPA"}]}`)))
	s, _ := New(vecSecret, &Options{Allow: chat.Allowlist{Tenant: "T0001", Users: []string{"U0456EFGH"}}})
	fixed := changetest.FixedTexts(".")
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := s.Decode(source.Delivery{Body: body}, nil)
		if err == nil {
			if err := req.Validate(nil); err != nil || req.Ticket.ApprovedBy != "slack:T0001/U0456EFGH" {
				t.Fatalf("accepted %+v (%v)", req, err)
			}
			return
		}
		// What a caller sees: the message and the field reasons (the
		// cause stays in the log).
		msg := err.Error()
		if ce, ok := err.(*change.Error); ok {
			msg = ce.Message
			for _, fe := range ce.Fields {
				if strings.Contains(fe.Reason, "more than once") {
					// A repeated field is named by its key, as the
					// sender wrote it, never by a value.
					msg += " " + fe.Reason
					continue
				}
				msg += " " + fe.Field + " " + fe.Reason
			}
		}
		form, _ := url.ParseQuery(string(body))
		// An id-like word of the command (digits in it) that is a piece
		// of the product's own texts (as SMS00001 in a reason) does not
		// count.
		var ids []string
		for _, w := range strings.Fields(form.Get("text")) {
			if strings.ContainsAny(w, "0123456789") {
				ids = append(ids, w)
			}
		}
		if w, ok := fixed.Quotes(msg, ids, 9); ok {
			t.Fatalf("error %q quotes the input %q", msg, w)
		}
	})
}

func mustInt(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// idOf is the delivery id of Authenticate's answer.
func idOf(d source.Delivery, err error) (string, error) { return d.ID, err }
