package chat

import (
	"errors"
	"strings"

	"github.com/enrollhook/enrollhook/pkg/change"
)

// Verb is what a command asks for.
type Verb string

// Verbs of the command language.
const (
	VerbHelp   Verb = "help"
	VerbShow   Verb = "show"
	VerbAssign Verb = "assign"
	// VerbPlan is a dry run of assign: everything but the write.
	VerbPlan Verb = "plan"
	// VerbRevert puts back what a change (by its record id) or a ticket's
	// changes replaced.
	VerbRevert Verb = "revert"
	// VerbHistory lists the latest recorded changes of an assignment.
	VerbHistory Verb = "history"
	// VerbApprove and VerbReject decide another user's pending request
	// (an assign the policy wants a second person for), by its id (Ref).
	VerbApprove Verb = "approve"
	VerbReject  Verb = "reject"
)

// Command is one parsed chat command.
type Command struct {
	Verb            Verb
	ConfigurationID string
	AssignmentID    string
	// Target is set for VerbAssign and VerbPlan: the Graph target as the
	// PATCH sends it.
	Target *change.Target
	// Ref is set for VerbRevert: the change record id (a delivery's id as
	// history shows it) or the ticket id to revert.
	Ref string
}

// ParseError says why a command text is not a command. Its message never
// quotes the text: it names the part that is wrong.
type ParseError struct{ Reason string }

func (e *ParseError) Error() string { return "chat: " + e.Reason }

// ErrEmpty is returned by Parse for a text without a command.
var ErrEmpty = &ParseError{Reason: "no command given"}

// maxWords bounds the work one command can cause; the longest valid
// command has 10 words.
const maxWords = 16

// Parse reads a command text (what follows /intune, or the Teams message
// without the mention). Keywords are matched without regard to case; ids
// are kept as written. Errors are *ParseError.
//
//	help
//	show <configurationId> <assignmentId>
//	assign <configurationId> <assignmentId> <target> [filter <filterId> include|exclude | filter none]
//	plan <configurationId> <assignmentId> <target> [filter ...]   (a dry run of assign)
//	revert <change id or ticket id>
//	approve <request id> | reject <request id>
//	history <configurationId> <assignmentId>
//	target: group <groupId> | exclude <groupId> | alldevices | allusers | collection <collectionId>
func Parse(text string) (*Command, error) {
	words := strings.Fields(text)
	if len(words) == 0 {
		return nil, ErrEmpty
	}
	if len(words) > maxWords {
		return nil, &ParseError{Reason: "the command has too many words"}
	}
	switch Verb(strings.ToLower(words[0])) {
	case VerbHelp, "?", "usage":
		return &Command{Verb: VerbHelp}, nil
	case VerbShow, "get", VerbHistory:
		v := VerbShow
		if Verb(strings.ToLower(words[0])) == VerbHistory {
			v = VerbHistory
		}
		c, rest, err := keys(v, words[1:])
		if err != nil {
			return nil, err
		}
		if len(rest) > 0 {
			return nil, &ParseError{Reason: string(v) + " takes only a configuration id and an assignment id"}
		}
		return c, nil
	case VerbApprove, VerbReject:
		v := Verb(strings.ToLower(words[0]))
		if len(words) != 2 || !ValidRequestID(words[1]) {
			return nil, &ParseError{Reason: string(v) + " takes one request id, as the request's message shows it"}
		}
		return &Command{Verb: v, Ref: strings.ToUpper(words[1])}, nil
	case VerbRevert, "undo":
		if len(words) != 2 {
			return nil, &ParseError{Reason: "revert takes one id: a change id (as history shows it) or a ticket id"}
		}
		if !ValidRef(words[1]) {
			return nil, &ParseError{Reason: "the id to revert must be 1 to 256 letters, digits or - _ . : # @ /"}
		}
		return &Command{Verb: VerbRevert, Ref: words[1]}, nil
	case VerbAssign, "set", VerbPlan:
		v := VerbAssign
		if Verb(strings.ToLower(words[0])) == VerbPlan {
			v = VerbPlan
		}
		c, rest, err := keys(v, words[1:])
		if err != nil {
			return nil, err
		}
		if c.Target, rest, err = target(rest); err != nil {
			return nil, err
		}
		if err := filter(c.Target, rest); err != nil {
			return nil, err
		}
		return c, nil
	default:
		return nil, &ParseError{Reason: "unknown command; the commands are assign, plan, show, history, revert, approve, reject and help"}
	}
}

func keys(v Verb, words []string) (*Command, []string, error) {
	if len(words) < 2 {
		return nil, nil, &ParseError{Reason: string(v) + " needs a configuration id and an assignment id"}
	}
	if !change.ValidKey(words[0]) {
		return nil, nil, &ParseError{Reason: "the configuration id must be 1 to 256 letters, digits, '-' or '_'"}
	}
	if !change.ValidKey(words[1]) {
		return nil, nil, &ParseError{Reason: "the assignment id must be 1 to 256 letters, digits, '-' or '_'"}
	}
	return &Command{Verb: v, ConfigurationID: words[0], AssignmentID: words[1]}, words[2:], nil
}

func target(words []string) (*change.Target, []string, error) {
	if len(words) == 0 {
		return nil, nil, &ParseError{Reason: "assign needs a target: group, exclude, alldevices, allusers or collection"}
	}
	withID := func(typ, what string) (*change.Target, []string, error) {
		if len(words) < 2 || isKeyword(words[1]) {
			return nil, nil, &ParseError{Reason: strings.ToLower(words[0]) + " needs " + what}
		}
		t := &change.Target{ODataType: typ}
		if typ == change.TypeCMCollection {
			t.CollectionID = words[1]
		} else {
			t.GroupID = words[1]
		}
		return t, words[2:], nil
	}
	switch strings.ToLower(words[0]) {
	case "group":
		return withID(change.TypeGroup, "a group id (an Entra group object id)")
	case "exclude", "exclusion":
		return withID(change.TypeExclusion, "a group id (an Entra group object id)")
	case "collection":
		return withID(change.TypeCMCollection, "a collection id (e.g. SMS00001)")
	case "alldevices", "all-devices":
		return &change.Target{ODataType: change.TypeAllDevices}, words[1:], nil
	case "allusers", "all-users", "alllicensedusers":
		return &change.Target{ODataType: change.TypeAllLicensed}, words[1:], nil
	default:
		return nil, nil, &ParseError{Reason: "unknown target; use group, exclude, alldevices, allusers or collection"}
	}
}

func filter(t *change.Target, words []string) error {
	if len(words) == 0 {
		return nil
	}
	if !strings.EqualFold(words[0], "filter") {
		return &ParseError{Reason: "after the target only a filter may follow: filter <filterId> include|exclude, or filter none"}
	}
	switch {
	case len(words) == 2 && strings.EqualFold(words[1], change.FilterNone):
		t.FilterType = change.FilterNone
		return nil
	case len(words) == 3 && !isKeyword(words[1]):
		mode := strings.ToLower(words[2])
		if mode != change.FilterInclude && mode != change.FilterExclude {
			return &ParseError{Reason: "a filter is include or exclude"}
		}
		t.FilterID, t.FilterType = words[1], mode
		return nil
	default:
		return &ParseError{Reason: "filter needs a filter id and include or exclude (or: filter none)"}
	}
}

func isKeyword(w string) bool {
	switch strings.ToLower(w) {
	case "filter", "include", "exclude", "none", "group", "alldevices", "allusers", "collection":
		return true
	}
	return false
}

// IsParseError reports whether err is a *ParseError.
func IsParseError(err error) bool {
	var pe *ParseError
	return errors.As(err, &pe)
}

// ValidRef reports whether s can name a change record or a ticket in a
// revert: 1 to 256 letters, digits or - _ . : # @ /.
func ValidRef(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.:#@/", c) >= 0) {
			return false
		}
	}
	return true
}

// RequestIDLength is the length of a pending request's id: letters and
// digits a person can type (no 0, 1, I, O).
const RequestIDLength = 8

// requestIDAlphabet is what a request id is made of.
const requestIDAlphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"

// ValidRequestID reports whether s can be a request id, in any letter case.
func ValidRequestID(s string) bool {
	if len(s) != RequestIDLength {
		return false
	}
	for _, c := range strings.ToUpper(s) {
		if !strings.ContainsRune(requestIDAlphabet, c) {
			return false
		}
	}
	return true
}

// NewRequestID makes a request id from random bytes (at least
// RequestIDLength of them; crypto/rand's in production).
func NewRequestID(random []byte) string {
	b := make([]byte, RequestIDLength)
	for i := range b {
		b[i] = requestIDAlphabet[int(random[i])%len(requestIDAlphabet)]
	}
	return string(b)
}
