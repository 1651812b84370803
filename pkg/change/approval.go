package change

import "strings"

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
