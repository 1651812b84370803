package chat

import (
	"strings"
	"testing"

	"github.com/enrollhook/enrollhook/pkg/change"
)

// TestFailedOutOfTimeSaysWhatIsKnown: a timeout after the write went out
// leaves the outcome unknown (assign, approve, revert); one reached before
// anything was sent (a lock, a write slot) says nothing was applied.
func TestFailedOutOfTimeSaysWhatIsKnown(t *testing.T) {
	sent := &change.Error{Code: change.CodeTimeout, Message: "Graph did not answer in time"}
	unsent := &change.Error{Code: change.CodeTimeout, Message: "no write slot before the deadline; nothing was applied", Err: change.ErrNothingSent}
	for _, verb := range []Verb{VerbAssign, VerbApprove, VerbRevert} {
		if got := Failed(&Command{Verb: verb}, sent, "r").Lines[0]; !strings.Contains(got, "outcome is unknown") {
			t.Errorf("%s, sent: %q", verb, got)
		}
		if got := Failed(&Command{Verb: verb}, unsent, "r").Lines[0]; strings.Contains(got, "unknown") || !strings.HasPrefix(got, "The change was not applied") {
			t.Errorf("%s, nothing sent: %q", verb, got)
		}
	}
}
