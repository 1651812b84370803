package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/enrollhook/enrollhook/pkg/apply"
	"github.com/enrollhook/enrollhook/pkg/change"
)

// problemCases are errors whose problem bodies appendProblem must encode
// byte for byte as json.Marshal encodes apply.Problem.
var problemCases = []struct {
	err       error
	requestID string
}{
	{&change.Error{Code: change.CodeUnauthenticated, Kind: change.KindSignatureMismatch, Message: "no signature matches"}, "5f0c0a4e-0000-4000-8000-000000000001"},
	{&change.Error{Code: change.CodeInvalid, Message: "the request has invalid fields", Fields: []change.FieldError{
		{Field: "/assignment/target/<x>&\"y\"", Reason: "is not\ta property of \u2028 \u2029 \x01 \x7f \b\f\r\n \\"},
		{Field: "/a\xffb", Reason: "é 日本"},
	}}, "req=1"},
	{change.Errorf(change.CodeMethodNotAllowed, "webhooks are sent with POST"), ""},
	{errors.New("an uncoded failure"), "id"},
	{&change.Error{Code: change.CodeTooLarge}, "id"},
}

func TestAppendProblemIsJSONMarshal(t *testing.T) {
	for _, tc := range problemCases {
		p, _ := apply.ProblemFor(tc.err, tc.requestID)
		want, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendProblem(nil, apply.Describe(tc.err), tc.requestID); string(got) != string(want) {
			t.Errorf("appendProblem(%v) = %s, want %s", tc.err, got, want)
		}
	}
}

func FuzzAppendProblem(f *testing.F) {
	for _, tc := range problemCases {
		var ce *change.Error
		if errors.As(tc.err, &ce) && len(ce.Fields) > 0 {
			f.Add(ce.Message, ce.Fields[0].Field, ce.Fields[0].Reason, tc.requestID)
		} else {
			f.Add(tc.err.Error(), "", "", tc.requestID)
		}
	}
	f.Fuzz(func(t *testing.T, msg, field, reason, id string) {
		err := &change.Error{Code: change.CodeInvalid, Message: msg}
		if field != "" || reason != "" {
			err.Fields = []change.FieldError{{Field: field, Reason: reason}}
		}
		p, _ := apply.ProblemFor(err, id)
		want, _ := json.Marshal(p)
		if got := appendProblem(nil, apply.Describe(err), id); string(got) != string(want) {
			t.Fatalf("appendProblem = %s, want %s", got, want)
		}
	})
}

// TestFieldErrorsAreBounded: an authentic body of thousands of unknown
// keys is refused 422 in a few kilobytes: the first 50 field errors, and
// the detail says how many there were.
func TestFieldErrorsAreBounded(t *testing.T) {
	s := newStack(t, 2)
	var keys strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&keys, `,"k%d":0`, i)
	}
	body := strings.Replace(validBody, `"groupId":"`, strings.TrimPrefix(keys.String(), ",")+`,"groupId":"`, 1)
	w := s.serve(t, signedID(t, "msg_many_keys", body, testNow))
	p := decodeProblem(t, w)
	if w.Code != http.StatusUnprocessableEntity || len(p.Errors) != apply.MaxFieldErrors ||
		!strings.Contains(p.Detail, "the first 50 of 3000 field errors") || w.Body.Len() > 16<<10 {
		t.Fatalf("%d, %d errors, %d bytes: %q", w.Code, len(p.Errors), w.Body.Len(), p.Detail)
	}
}
