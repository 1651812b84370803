package chat

import (
	"errors"
	"strings"
	"testing"

	"github.com/enrollhook/enrollhook/pkg/change"
)

// TestFailedOutOfTimeSaysWhatIsKnown: a timeout, or Graph unavailable,
// after the write went out leaves the outcome unknown (assign, approve,
// revert), as the ticket and the audit line are told; one reached before
// anything was sent (a lock, a write slot) says nothing was applied.
func TestFailedOutOfTimeSaysWhatIsKnown(t *testing.T) {
	sent := &change.Error{Code: change.CodeTimeout, Message: "Graph did not answer in time"}
	down := &change.Error{Code: change.CodeUnavailable, Message: "Graph is unavailable; try again later"}
	unsent := &change.Error{Code: change.CodeTimeout, Message: "no write slot before the deadline; nothing was applied", Err: change.ErrNothingSent}
	for _, verb := range []Verb{VerbAssign, VerbApprove, VerbRevert} {
		for _, err := range []error{sent, down} {
			if got := Failed(&Command{Verb: verb}, err, "r").Lines[0]; !strings.Contains(got, "outcome is unknown") {
				t.Errorf("%s, sent: %q", verb, got)
			}
		}
		if got := Failed(&Command{Verb: verb}, unsent, "r").Lines[0]; strings.Contains(got, "unknown") || !strings.HasPrefix(got, "The change was not applied") {
			t.Errorf("%s, nothing sent: %q", verb, got)
		}
	}
	if got := Failed(&Command{Verb: VerbHistory}, sent, "r").Lines[0]; strings.Contains(got, "unknown") || strings.Contains(got, "applied") {
		t.Errorf("history out of time: %q, want nothing said of a change", got)
	}
}

// TestFailedRevertOfNothing: a revert with nothing to put back says so,
// not that a change was not applied.
func TestFailedRevertOfNothing(t *testing.T) {
	err := &change.Error{Code: change.CodeNotFound, Kind: change.KindNothingToRevert, Message: "no change of ticket or change id X1 is recorded here; nothing was changed"}
	if got := Failed(&Command{Verb: VerbRevert}, err, "r").Lines[0]; !strings.HasPrefix(got, "Nothing to revert: no change of ticket") || strings.Contains(got, "not applied") {
		t.Errorf("revert of nothing: %q", got)
	}
}

// TestFailedDecisionThatDidNothing: an approve of a request decided
// already, expired or unknown did nothing, and says so, never that the
// change was not applied (another approval may have applied it).
func TestFailedDecisionThatDidNothing(t *testing.T) {
	for _, err := range []error{
		&change.Error{Code: change.CodeConflict, Message: "request X1 was approved already, by slack:T1/U1"},
		&change.Error{Code: change.CodeNotFound, Message: "there is no request X1"},
	} {
		if got := Failed(&Command{Verb: VerbApprove}, err, "r").Lines[0]; !strings.HasPrefix(got, "Nothing was done: ") || strings.Contains(got, "not applied") {
			t.Errorf("approve: %q", got)
		}
	}
}

// TestFailedSaysWhatMayHaveBeenApplied: a write marked as possibly applied
// (whatever its code, a fault of ours included) is told unknown, and a
// revert that stopped part way as applied in part; never "not applied".
func TestFailedSaysWhatMayHaveBeenApplied(t *testing.T) {
	unavailable := &change.Error{Code: change.CodeUnavailable, Message: "Graph is unavailable; try again later"}
	for name, err := range map[string]error{
		"unavailable": change.Mark(unavailable, change.ErrOutcomeUnknown),
		"refused on a retry": change.Mark(&change.Error{Code: change.CodeGraphRefused, Message: "Graph refused the change: BadRequest"},
			change.ErrOutcomeUnknown),
		"a fault of ours": change.Mark(errors.New("boom"), change.ErrOutcomeUnknown),
	} {
		got := Failed(&Command{Verb: VerbAssign}, err, "r").Lines[0]
		if !strings.HasPrefix(got, "The outcome is unknown") || !strings.Contains(got, "`show`") || strings.Contains(got, "boom") {
			t.Errorf("%s: %q", name, got)
		}
	}
	partial := &change.Error{Code: change.CodeGraphRefused, Message: "the revert put back a, then stopped at b; for b: Graph refused it",
		Err: change.ErrPartlyApplied}
	if got := Failed(&Command{Verb: VerbRevert}, partial, "r").Lines[0]; !strings.HasPrefix(got, "The change was applied only in part: the revert put back a") {
		t.Errorf("partial revert: %q", got)
	}
}
