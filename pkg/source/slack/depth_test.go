package slack

import (
	"strings"
	"testing"

	"github.com/enrollhook/enrollhook/pkg/change"
)

// TestPayloadTooDeep: an interactivity payload that nests deeper than the
// limit is told so at /payload, not that it is not a JSON object.
func TestPayloadTooDeep(t *testing.T) {
	_, err := readPress(`{"type":"block_actions","x":` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `}`)
	if err == nil || err.Code != change.CodeMalformed || len(err.Fields) != 1 || err.Fields[0] != (change.FieldError{Field: "/payload", Reason: change.ReasonTooDeep}) {
		t.Errorf("readPress(too deep) = %v, want one error at /payload: %q", err, change.ReasonTooDeep)
	}
	_, err = readPress(`{"type":`)
	if err == nil || len(err.Fields) != 1 || err.Fields[0].Reason != "is not a JSON object" {
		t.Errorf("readPress(truncated) = %v", err)
	}
}
