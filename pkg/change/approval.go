package change

import (
	"bytes"
	"strings"
)

// ticketStates are the ticket states of the generic envelope, besides
// approved, that a refusal names back to the sender; any other state is
// refused without being quoted.
var ticketStates = [...]string{"requested", "pending", "rejected", "cancelled", "canceled", "not_required", "skipped",
	"not_yet_requested", "declined", "not requested"}

// TicketStates returns (a copy of) the states NotApproved names back.
func TicketStates() []string { return append([]string(nil), ticketStates[:]...) }

// NotApproved is the refusal of a change whose ticket state is not
// approved: an *Error with CodeNotApproved that names the state when it is
// one of TicketStates (in any letter case) and quotes no other.
func NotApproved(state string) *Error {
	return NotApprovedAs("the ticket state", state, ticketStates[:])
}

// NotApprovedAs is NotApproved for a sender's own states: what names the
// state in the message ("the approval state"), known are the states that
// may be named back.
func NotApprovedAs(what, state string, known []string) *Error {
	state = strings.TrimSpace(state)
	for _, k := range known {
		if strings.EqualFold(state, k) {
			return &Error{Code: CodeNotApproved, Message: what + " is " + k + "; only approved changes are applied, nothing was changed"}
		}
	}
	return &Error{Code: CodeNotApproved, Message: what + " is not approved; only approved changes are applied, nothing was changed"}
}

// IsDryRunName reports whether name spells the dry-run flag: "dryRun" in
// any letter case, with or without '-', '_', '.' or spaces (dry-run,
// DRY_RUN), as the HTTP routes' query and an EventBridge detail take it:
// a misspelled flag must never be an unknown name, ignored, and a change
// applied.
func IsDryRunName[T string | []byte](name T) bool {
	const want = "dryrun"
	n := 0
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '-' || c == '_' || c == '.' || c == ' ':
			continue
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		if n == len(want) || c != want[n] {
			return false
		}
		n++
	}
	return n == len(want)
}

// AsksDryRun reports whether raw, the JSON value of a dry-run flag,
// asks for a dry run: anything but false or null (a "yes" or a 1 too), so
// that a flag meant as a dry run is never read as a real change.
func AsksDryRun(raw []byte) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && !bytes.Equal(raw, []byte("false")) && !bytes.Equal(raw, []byte("null"))
}
