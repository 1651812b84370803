package teams

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/change/changetest"
	"github.com/enrollhook/enrollhook/pkg/chat"
	"github.com/enrollhook/enrollhook/pkg/source"
)

// Vector #5 of reference/webhooks.md §8.
const (
	vecToken = "vqF0En+Z0ucuRTM/01o2GuhMH3hKKk/N2bOmlM31zaA="
	vecBody  = `{"type":"message","id":"1714000000000","text":"<at>IntuneBot</at> approve CHG0030042","channelId":"msteams"}`
	vecAuth  = "HMAC xxOzDaZtuwOFVGTpB4H3TrKvWoCiTI8ZFwVt/oZzuDs="

	tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	aad    = "0a1b2c3d-0000-0000-0000-000000000042"
	cfgID  = "2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_Windows10EnrollmentCompletionPageConfiguration"
	asgID  = "2b5b6f4e-1111-4c6e-9a3b-1f2d3c4b5a69_5e6f0000-0000-0000-0000-000000000001"
)

var now = time.Date(2024, 4, 25, 8, 0, 0, 0, time.UTC)

func sample(text string, ts time.Time) string {
	return `{"type":"message","id":"1714032000123","timestamp":"` + ts.Format(time.RFC3339Nano) + `","text":"` + text +
		`","from":{"id":"29:1abcDEF","name":"Alice","aadObjectId":"` + strings.ToUpper(aad) + `"},"recipient":{"id":"28:bot","name":"IntuneBot"},` +
		`"conversation":{"tenantId":"` + tenant + `"},"channelData":{"tenant":{"id":"` + tenant + `"}}}`
}

func signed(body string) http.Header {
	h, _ := Sign(vecToken, []byte(body))
	return h
}

func TestAuthenticate(t *testing.T) {
	s, err := New(vecToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := signed(vecBody).Get("Authorization"); got != vecAuth {
		t.Fatalf("Sign(vector 5) = %s, want %s", got, vecAuth)
	}
	// The vector's activity has no timestamp: authentic, but outside any
	// replay window, so refused.
	if _, err := s.Authenticate(http.Header{"Authorization": {vecAuth}}, []byte(vecBody), now); kind(err) != "timestamp-out-of-window" {
		t.Errorf("Authenticate(vector 5) = %v, want timestamp-out-of-window", err)
	}
	body := sample("<at>IntuneBot</at> help", now.Add(-time.Minute))
	if id, err := idOf(s.Authenticate(signed(body), []byte(body), now)); err != nil || id != "1714032000123" {
		t.Errorf("Authenticate = %q, %v; want the activity id", id, err)
	}
	// Without a usable id the signed activity names the delivery: the same
	// bytes give the same id, other bytes another.
	noID := strings.Replace(body, `"id":"1714032000123"`, `"id":"a b"`, 1)
	other := strings.Replace(noID, "help", "show", 1)
	id1, err1 := idOf(s.Authenticate(signed(noID), []byte(noID), now))
	id2, err2 := idOf(s.Authenticate(signed(noID), []byte(noID), now))
	id3, err3 := idOf(s.Authenticate(signed(other), []byte(other), now))
	if err1 != nil || err2 != nil || err3 != nil || id1 == "" || id1 != id2 || id1 == id3 || !strings.HasPrefix(id1, "sha256-") {
		t.Errorf("Authenticate(no usable id) = %q %q %q, %v %v %v; want one body hash per body", id1, id2, id3, err1, err2, err3)
	}
	tests := []struct {
		name string
		h    http.Header
		body string
		kind change.Kind
	}{
		{"missing", http.Header{}, body, "signature-missing"},
		{"hmac header name (the docs' wording)", http.Header{"Hmac": {vecAuth}}, body, "signature-missing"},
		{"malformed", http.Header{"Authorization": {"HMAC not-base64"}}, body, "signature-malformed"},
		{"mismatch", http.Header{"Authorization": {vecAuth}}, body, "signature-mismatch"},
		{"re-encoded", signed(body), body + "\n", "body-re-encoded"},
		{"stale", signed(sample("help", now.Add(-6*time.Minute))), sample("help", now.Add(-6*time.Minute)), "timestamp-out-of-window"},
		{"future", signed(sample("help", now.Add(6*time.Minute))), sample("help", now.Add(6*time.Minute)), "timestamp-out-of-window"},
	}
	for _, tt := range tests {
		_, err := s.Authenticate(tt.h, []byte(tt.body), now)
		if kind(err) != tt.kind {
			t.Errorf("%s: Authenticate = %v, want %s", tt.name, err, tt.kind)
		}
		if err != nil && (strings.Contains(err.(*change.Error).Message, vecToken) || strings.Contains(err.(*change.Error).Message, vecAuth[5:])) {
			t.Errorf("%s: message quotes the token or the signature", tt.name)
		}
	}
}

func kind(err error) change.Kind {
	var ce *change.Error
	if errors.As(err, &ce) && ce.Code == change.CodeUnauthenticated {
		return ce.Kind
	}
	return ""
}

func TestCommandText(t *testing.T) {
	for in, want := range map[string]string{
		"<at>IntuneBot</at> assign a b alldevices": "assign a b alldevices",
		"<at>Intune Bot</at>&nbsp;show a b\n":      "show a b",
		"<AT>IntuneBot</AT> help <at>Bob</at>":     "help",
		"<p><at>IntuneBot</at> show a&#95;1 b</p>": "show a_1 b",
		"help":               "help",
		"<at>IntuneBot</at>": "",
		"<at>IntuneBot</at> assign a b group x filter y include": "assign a b group x filter y include",
	} {
		if got := CommandText(in); got != want {
			t.Errorf("CommandText(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestInvocation(t *testing.T) {
	s, _ := New(vecToken, &Options{Allow: chat.Allowlist{Tenant: tenant, Users: []string{aad}}})
	js := http.Header{"Content-Type": {"application/json; charset=utf-8"}}
	body := sample("<at>IntuneBot</at> assign "+cfgID+" "+asgID+" alldevices", now)
	inv, err := s.Invocation(js, source.Delivery{ID: "1714032000123", Body: []byte(body)})
	if err != nil || inv.Denied != nil || inv.Command == nil || inv.Prefix != "@IntuneBot" || inv.User != aad || inv.CanFollowUp {
		t.Fatalf("Invocation = %+v, %v", inv, err)
	}
	req, err := s.Decode(source.Delivery{Body: []byte(body)}, nil)
	if err != nil || req.Ticket.ApprovedBy != "teams:"+tenant+"/"+aad || req.Assignment.Target.ODataType != change.TypeAllDevices {
		t.Errorf("Decode = %+v, %v", req, err)
	}
	if _, err := s.Invocation(http.Header{"Content-Type": {"text/plain"}}, source.Delivery{ID: "", Body: []byte(body)}); change.ErrorCode(err) != change.CodeMediaType {
		t.Errorf("Invocation(text/plain) = %v", err)
	}
	if _, err := s.Invocation(js, source.Delivery{ID: "", Body: []byte(`[1]`)}); change.ErrorCode(err) != change.CodeMalformed {
		t.Errorf("Invocation([1]) = %v", err)
	}
	// Allowed by the Teams user id as well.
	s2, _ := New(vecToken, &Options{Allow: chat.Allowlist{Tenant: tenant, Users: []string{"29:1abcDEF"}}})
	if inv, _ := s2.Invocation(js, source.Delivery{ID: "", Body: []byte(body)}); inv.Denied != nil {
		t.Errorf("29: id not allowed: %v", inv.Denied)
	}
	unconfigured, _ := New(vecToken, nil)
	if inv, _ := unconfigured.Invocation(js, source.Delivery{ID: "", Body: []byte(body)}); inv.Denied == nil || !strings.Contains(inv.Denied.Error(), "ENROLLHOOK_TEAMS_TENANT_ID") {
		t.Errorf("unconfigured: %v", inv.Denied)
	}
	if err := s.FollowUp(context.Background(), inv, nil); !errors.Is(err, chat.ErrNoFollowUp) {
		t.Errorf("FollowUp = %v", err)
	}
	ct, b := s.Reply(inv, chat.Help("@IntuneBot"))
	if ct != "application/json" || !strings.HasPrefix(string(b), `{"type":"message","text":"`) || !strings.Contains(string(b), "\\u0026lt;configurationId\\u0026gt;") {
		t.Errorf("Reply = %s %s", ct, b)
	}
}

// FuzzDecodeTeams: no panic; an accepted activity is a valid change
// approved by the allowed user; no error quotes an id of the body.
func FuzzDecodeTeams(f *testing.F) {
	f.Add([]byte(vecBody))
	f.Add([]byte(sample("<at>IntuneBot</at> assign "+cfgID+" "+asgID+" group 5e6f0000-0000-0000-0000-000000000001 filter a1b2c3d4-0000-0000-0000-00000000f117 include", now)))
	f.Add([]byte(sample("<at>IntuneBot</at> assign c1 a1 collection 5e6f0000-0000-0000-0000-000000000001", now)))
	f.Add([]byte(`{"type":"message","text":null}`))
	f.Add([]byte(strings.ReplaceAll(sample("<at>IntuneBot</at> assign "+cfgID+" "+asgID+" alldevices", now), tenant, strings.ToUpper(tenant[:12])+tenant[12:]))) // the tenant in another case
	f.Add([]byte(`{`))
	f.Add([]byte(`{"from":{"aadObjectId":"x"},` + sample("<at>IntuneBot</at> assign "+cfgID+" "+asgID+" alldevices", now)[1:]))
	f.Add([]byte(`{"type":"message","text":"a","TEXT":"b","fr\u006fm":{}}`))
	s, _ := New(vecToken, &Options{Allow: chat.Allowlist{Tenant: tenant, Users: []string{aad}}})
	fixed := changetest.FixedTexts(".")
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := s.Decode(source.Delivery{Body: body}, nil)
		if err == nil {
			if err := req.Validate(nil); err != nil || req.Ticket.ApprovedBy != "teams:"+tenant+"/"+aad {
				t.Fatalf("accepted %+v (%v)", req, err)
			}
			return
		}
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
		// An id-like word of the command (digits in it) that is a piece
		// of the product's own texts (as SMS00001 in a reason) does not
		// count.
		var ids []string
		for _, w := range strings.Fields(CommandText(string(body))) {
			if strings.ContainsAny(w, "0123456789") {
				ids = append(ids, w)
			}
		}
		if w, ok := fixed.Quotes(msg, ids, 9); ok {
			t.Fatalf("error %q quotes the input %q", msg, w)
		}
	})
}

// TestDeliveryIDNamesTheConversation: a channel's activity id is the
// message's epoch milliseconds, unique only within its conversation, so
// two commands sent in the same millisecond in two channels are two
// deliveries, and one activity sent again is the same one.
func TestDeliveryIDNamesTheConversation(t *testing.T) {
	s, err := New(vecToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	in := func(conv string) string {
		return strings.Replace(sample("help", now), `"conversation":{`, `"conversation":{"id":"`+conv+`",`, 1)
	}
	a := in("19:aaa@thread.tacv2;messageid=1714032000123")
	b := in("19:bbb@thread.tacv2;messageid=1714032000123")
	ida, err1 := idOf(s.Authenticate(signed(a), []byte(a), now))
	ida2, err2 := idOf(s.Authenticate(signed(a), []byte(a), now))
	idb, err3 := idOf(s.Authenticate(signed(b), []byte(b), now))
	if err1 != nil || err2 != nil || err3 != nil || ida != ida2 || ida == idb || !strings.HasPrefix(ida, "1714032000123.") {
		t.Errorf("delivery ids %q %q %q (%v %v %v); want the activity id per conversation", ida, ida2, idb, err1, err2, err3)
	}
}

// idOf is the delivery id of Authenticate's answer.
func idOf(d source.Delivery, err error) (string, error) { return d.ID, err }

// TestAuthenticNotJSONIsMalformed: a signed body that is not a JSON
// object is refused 400 malformed, not as a replay: its signature held.
func TestAuthenticNotJSONIsMalformed(t *testing.T) {
	s, _ := New(vecToken, nil)
	for _, body := range []string{"", "null", "[]", "\ufeff" + vecBody, vecBody + "x", strings.Repeat("[", 20000)} {
		if _, err := s.Authenticate(signed(body), []byte(body), now); change.ErrorCode(err) != change.CodeMalformed {
			t.Errorf("%.20q: %v, want malformed", body, err)
		}
	}
	if _, err := s.Authenticate(signed(vecBody), []byte(vecBody), now); kind(err) != "timestamp-out-of-window" {
		t.Errorf("an object without a timestamp: %v, want timestamp-out-of-window", err)
	}
}

// TestWrongTypeIsNamed: an authentic activity with a property of the wrong
// type is refused 422 naming it, not as "not a JSON object".
func TestWrongTypeIsNamed(t *testing.T) {
	s, _ := New(vecToken, &Options{Allow: chat.Allowlist{Tenant: tenant, Users: []string{aad}}})
	body := sample("<at>IntuneBot</at> help", now)
	for from, field := range map[string]string{`"text":"`: "/text", `"from":{`: "/from", `"channelData":{`: "/channelData"} {
		i := strings.Index(body, from)
		if i < 0 {
			t.Fatalf("the sample has no %s", from)
		}
		bad := body[:i] + from[:strings.Index(from, ":")+1] + `5,"x":` + body[i+len(from)-1:]
		_, err := s.Invocation(http.Header{"Content-Type": {"application/json"}}, source.Delivery{Body: []byte(bad)})
		ce, ok := errors.AsType[*change.Error](err)
		if !ok || ce.Code != change.CodeInvalid || len(ce.Fields) != 1 || ce.Fields[0].Field != field {
			t.Errorf("%s a number: %v, want 422 naming %s", field, err, field)
		}
	}
}

// TestRepeatedPropertyIsRefused: an activity that sends a property twice
// in the same object, at any depth and in any spelling encoding/json
// takes for the same name (another letter case, an escape), is refused
// 422 naming it by its JSON pointer, as the envelope is; it does not run
// as the first "from" nor as the last. A single property in another
// letter case is the property, as it is to encoding/json and to the
// envelope.
func TestRepeatedPropertyIsRefused(t *testing.T) {
	s, _ := New(vecToken, &Options{Allow: chat.Allowlist{Tenant: tenant, Users: []string{aad, "0a1b2c3d-0000-0000-0000-000000000666"}}})
	body := sample("<at>IntuneBot</at> assign "+cfgID+" "+asgID+" alldevices", now)
	const mallory = `{"id":"29:mallory","name":"Mallory","aadObjectId":"0a1b2c3d-0000-0000-0000-000000000666"}`
	// first puts member at the start of the activity, before what the
	// sample sends.
	first := func(member string) string { return "{" + member + "," + body[1:] }
	// last puts member at the end of the activity.
	last := func(member string) string { return body[:len(body)-1] + "," + member + "}" }
	tests := []struct {
		name, body, field string
	}{
		{"two from, the first Mallory", first(`"from":` + mallory), "/from"},
		{"two from, the last Mallory", last(`"from":` + mallory), "/from"},
		{"FROM after from", last(`"FROM":` + mallory), "/FROM"},
		{"From before from", first(`"From":` + mallory), "/from"},
		{"from escaped", last(`"fr\u006fm":` + mallory), "/from"},
		{"two text", last(`"text":"<at>IntuneBot</at> help"`), "/text"},
		{"Text after text", last(`"Text":"<at>IntuneBot</at> help"`), "/Text"},
		{"aadObjectId twice", strings.Replace(body, `"aadObjectId":"`, `"aadObjectId":"0a1b2c3d-0000-0000-0000-000000000666","AADOBJECTID":"`, 1), "/from/AADOBJECTID"},
		{"tenant twice", strings.Replace(body, `"channelData":{`, `"channelData":{"tenant":{"id":"00000000-0000-0000-0000-000000000000"},`, 1), "/channelData/tenant"},
		{"a property enrollhook does not read", last(`"serviceUrl":"a","serviceUrl":"b"`), "/serviceUrl"},
	}
	js := http.Header{"Content-Type": {"application/json"}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := s.Authenticate(signed(tt.body), []byte(tt.body), now)
			if err != nil {
				t.Fatalf("Authenticate = %v", err)
			}
			inv, err := s.Invocation(js, d)
			ce, ok := errors.AsType[*change.Error](err)
			if !ok || ce.Code != change.CodeInvalid || ce.Kind != "" || len(ce.Fields) != 1 || ce.Fields[0].Field != tt.field ||
				!strings.Contains(ce.Fields[0].Reason, "more than once") {
				t.Fatalf("Invocation = %+v, %v; want 422 invalid-fields naming %s", inv, err, tt.field)
			}
			if strings.Contains(ce.Message, "0a1b2c3d") || strings.Contains(ce.Message, "Mallory") {
				t.Errorf("message %q quotes a value", ce.Message)
			}
			if _, err := s.Decode(source.Delivery{Body: []byte(tt.body)}, nil); change.ErrorCode(err) != change.CodeInvalid {
				t.Errorf("Decode = %v, want CodeInvalid", err)
			}
		})
	}
	// The message names a plain field, and counts the others.
	twice := last(`"from":` + mallory + `,"text":"help"`)
	_, err := s.Decode(source.Delivery{Body: []byte(twice)}, nil)
	if ce, ok := errors.AsType[*change.Error](err); !ok || len(ce.Fields) != 2 || ce.Message != "the activity sends /from more than once (and 1 other field: see errors); send each once, since only one of the values would be read" {
		t.Errorf("two repeated: %v", err)
	}
	// One FROM, without from, is from: read, not refused.
	lone := strings.Replace(body, `"from":`, `"FROM":`, 1)
	if inv, err := s.Invocation(js, source.Delivery{Body: []byte(lone)}); err != nil || inv.User != aad || inv.Command == nil {
		t.Errorf("a lone FROM: %+v, %v; want it read as from", inv, err)
	}
}
