package change_test

import (
	"strings"
	"testing"

	"github.com/enrollhook/enrollhook/pkg/change"
)

// TestDecodeTooDeep: a body that nests arrays and objects deeper than
// the limit is told so, not that it is not well-formed JSON; at the limit
// it is read; a body broken before it goes too deep is not well-formed.
func TestDecodeTooDeep(t *testing.T) {
	nest := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	for _, tt := range []struct {
		name, body, message string
	}{
		{"an array too deep", nest(10001), change.MessageTooDeep},
		{"too deep inside the envelope", `{"ticket":{"id":"CHG1","state":"approved"},"pad":` + nest(10000) + `}`, change.MessageTooDeep},
		{"too deep, and broken after", `{"pad":` + nest(10001) + `,`, change.MessageTooDeep},
		{"broken before it is too deep", `{"pad":1,,"x":` + nest(10001) + `}`, change.MessageNotJSON},
	} {
		_, err := change.Decode([]byte(tt.body), nil)
		// An EventBridge event's detail is read by Read, to the same answer.
		_, err2 := change.Read([]byte(tt.body), &change.ReadOptions{Stamp: "dryRun"}).Decode(nil)
		for _, err := range []error{err, err2} {
			ce, ok := err.(*change.Error)
			if !ok || ce.Code != change.CodeMalformed || ce.Message != tt.message || len(ce.Fields) != 0 {
				t.Errorf("%s: %v; want malformed-json %q", tt.name, err, tt.message)
			}
		}
		if got := change.TooDeep([]byte(tt.body)); got != (tt.message == change.MessageTooDeep) {
			t.Errorf("%s: TooDeep = %v", tt.name, got)
		}
	}
	// At the limit (the envelope's own object counts as one level).
	_, err := change.Decode([]byte(`{"pad":`+nest(9999)+`}`), nil)
	if ce, ok := err.(*change.Error); !ok || ce.Code != change.CodeInvalid {
		t.Errorf("nested to the limit: %v; want it read (and refused for its fields)", err)
	}
	if !strings.Contains(change.MessageTooDeep, "10000") || !strings.Contains(change.ReasonTooDeep, "10000") {
		t.Errorf("the texts do not name the limit")
	}
}
