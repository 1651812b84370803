package slack

import (
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/source"
)

// TestRepeatedFormFieldIsRefused: a form that sends a field twice, in any
// spelling that decodes to the same name, is refused 422 naming the field,
// whichever value comes first: form.Get reads the first, another reader
// the last, so the command must run as neither. A field in another letter
// case is another field, which enrollhook does not read.
func TestRepeatedFormFieldIsRefused(t *testing.T) {
	s := pressSource(t, nil) // allows U0456EFGH and U0999BOB in T0001
	body := strings.Replace(vecBody7, "text=CHG0030042+approve", "text="+url.QueryEscape("assign "+cfgID+" "+asgID+" allusers"), 1)
	now := time.Unix(1714032000, 0)
	tests := []struct {
		name, body, field string
	}{
		{"user_id last", body + "&user_id=U0999BOB", "/user_id"},
		{"user_id first", "user_id=U0999BOB&" + body, "/user_id"},
		{"user_id escaped", body + "&user%5Fid=U0999BOB", "/user_id"},
		{"text", body + "&text=help", "/text"},
		{"team_id", "team_id=T0002&" + body, "/team_id"},
		{"response_url", body + "&response_url=" + url.QueryEscape("https://hooks.slack.com/commands/T0001/9/z"), "/response_url"},
		{"command", body + "&command=%2Fother", "/command"},
		{"payload", string(pressBody(t, pressPayload("approve "+requestID, nil))) + "&payload=" + url.QueryEscape(`{"type":"block_actions"}`), "/payload"},
		{"a name to escape", body + "&a%2Fb~=1&a%2Fb~=2", "/a~1b~0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := Sign(vecSecret, now, []byte(tt.body))
			h.Set("Content-Type", "application/x-www-form-urlencoded")
			inv, err := authenticateAndRead(s, h, []byte(tt.body), now)
			ce, ok := errors.AsType[*change.Error](err)
			if !ok || ce.Code != change.CodeInvalid || ce.Kind != "" || len(ce.Fields) != 1 || ce.Fields[0].Field != tt.field {
				t.Fatalf("Invocation = %+v, %v; want 422 invalid-fields naming %s", inv, err, tt.field)
			}
			if want := "the form sends " + tt.field + " more than once"; tt.field != "/a~1b~0" && !strings.HasPrefix(ce.Message, want) {
				t.Errorf("message %q, want it to start %q", ce.Message, want)
			}
			if strings.Contains(ce.Message, "U0999BOB") || strings.Contains(ce.Message, "U0456EFGH") {
				t.Errorf("message %q quotes a value", ce.Message)
			}
			if _, err := s.Decode(source.Delivery{Body: []byte(tt.body)}, nil); change.ErrorCode(err) != change.CodeInvalid {
				t.Errorf("Decode = %v, want CodeInvalid", err)
			}
		})
	}
	// Another letter case is another field: not read, not refused.
	h, _ := Sign(vecSecret, now, []byte(body+"&USER_ID=U0999BOB"))
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	if inv, err := authenticateAndRead(s, h, []byte(body+"&USER_ID=U0999BOB"), now); err != nil || inv.User != "U0456EFGH" || inv.Command == nil {
		t.Errorf("USER_ID: %+v, %v; want the command of user_id", inv, err)
	}
}

// TestButtonPressRepeatedPropertyIsRefused: a payload that sends a
// property twice in the same object, in any spelling encoding/json takes
// for the same name, is refused 422 naming it under /payload: the press
// runs as neither user.
func TestButtonPressRepeatedPropertyIsRefused(t *testing.T) {
	s := pressSource(t, nil)
	raw, err := json.Marshal(pressPayload("approve "+requestID, nil))
	if err != nil {
		t.Fatal(err)
	}
	payload := string(raw)
	const alice = `{"id":"U0456EFGH","username":"alice"}`
	first := func(member string) string { return "{" + member + "," + payload[1:] }
	last := func(member string) string { return payload[:len(payload)-1] + "," + member + "}" }
	tests := []struct {
		name, payload, field string
	}{
		{"user first", first(`"user":` + alice), "/payload/user"},
		{"user last", last(`"user":` + alice), "/payload/user"},
		{"USER last", last(`"USER":` + alice), "/payload/USER"},
		{"user escaped", last(`"\u0075ser":` + alice), "/payload/user"},
		{"user id", strings.Replace(payload, `"user":{`, `"user":{"id":"U0456EFGH",`, 1), "/payload/user/id"},
		{"team", first(`"team":{"id":"T0002"}`), "/payload/team"},
		{"a button's value", strings.Replace(payload, `"value":"`, `"value":"reject `+requestID+`","Value":"`, 1), "/payload/actions/0/Value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.payload == payload {
				t.Fatal("the payload did not change")
			}
			body := pressBody(t, tt.payload)
			inv, err := authenticateAndRead(s, signedPress(t, vecSecret, body), body, pressNow)
			ce, ok := errors.AsType[*change.Error](err)
			if !ok || ce.Code != change.CodeInvalid || ce.Kind != "" || len(ce.Fields) != 1 || ce.Fields[0].Field != tt.field {
				t.Fatalf("Invocation = %+v, %v; want 422 invalid-fields naming %s", inv, err, tt.field)
			}
			if !strings.HasPrefix(ce.Message, "the form field payload sends ") || strings.Contains(ce.Message, "U0") || strings.Contains(ce.Message, requestID) {
				t.Errorf("message %q", ce.Message)
			}
		})
	}
}
