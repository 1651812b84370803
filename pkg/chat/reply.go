package chat

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/enrollhook/enrollhook/pkg/change"
)

// Status is the outcome a reply reports, also logged as the outcome.
type Status string

// Statuses of a reply.
const (
	StatusApplied Status = "applied" // the change is in Intune
	StatusShown   Status = "shown"   // show answered
	StatusHelp    Status = "help"    // help asked for
	StatusUsage   Status = "usage"   // not a command: usage help
	StatusRefused Status = "refused" // the user may not run commands
	StatusInvalid Status = "invalid" // a command with invalid values
	StatusFailed  Status = "failed"  // Graph refused or failed
	StatusPending Status = "pending" // still working after the sender's deadline
	StatusQueued  Status = "queued"  // accepted and queued for the worker
	StatusPlanned Status = "planned" // a dry run: what assign would do
	StatusHistory Status = "history" // history answered
	// StatusRequested: an assign the policy wants a second person for is
	// planned and waits for approve or reject; StatusRejected: one was
	// rejected.
	StatusRequested Status = "requested"
	StatusRejected  Status = "rejected"
	// StatusReplayed is logged, never rendered: a command sent again got
	// its first answer from the de-duplication store.
	StatusReplayed Status = "replayed"
)

// Reply is what the chat user sees, before a sender renders it in its own
// format. Lines use the markup Slack and Teams share: `code` only. No line
// quotes a secret, a signature, a token, a Graph URL or Graph's raw body;
// ids appear only once validated.
type Reply struct {
	Status Status
	Lines  []string
	// Public marks a reply every member of the channel may see (an
	// outcome); help, usage and refusals stay with the user.
	Public bool
	// Actions are buttons a sender that has them shows under the reply
	// (Slack: Approve and Reject on a pending request); the text says the
	// same as commands, for a sender without buttons (Teams).
	Actions []Action
}

// Action is a button: its label, the command text it stands for (what
// the sender sends back when it is pressed: "approve 7KQ2XMPA"), and its
// style ("primary", "danger" or "").
type Action struct {
	Label, Command, Style string
}

// Text joins the lines with sep.
func (r *Reply) Text(sep string) string { return strings.Join(r.Lines, sep) }

func usageLines(prefix string) []string {
	if prefix == "" {
		prefix = "/intune"
	}
	return []string{
		"Usage:",
		"`" + prefix + " assign <configurationId> <assignmentId> <target> [filter <filterId> include|exclude]`",
		"Targets: `group <groupId>`, `exclude <groupId>`, `alldevices`, `allusers` or `collection <collectionId>`; `filter none` removes a filter.",
		"`" + prefix + " plan ...` takes the same words as assign and shows what it would change, without changing it.",
		"`" + prefix + " show <configurationId> <assignmentId>`",
		"`" + prefix + " history <configurationId> <assignmentId>` lists its last changes: who, when, before and after.",
		"`" + prefix + " revert <change id or ticket id>` puts back what that change (an id from history) or that ticket's changes replaced, if Intune still holds what they applied.",
		"`" + prefix + " help`",
	}
}

// Help is the answer to help.
func Help(prefix string) *Reply {
	return &Reply{Status: StatusHelp, Lines: append([]string{
		"enrollhook changes one Intune enrollment configuration assignment through Microsoft Graph. Your command is the approval, and it is logged with your user id."},
		usageLines(prefix)...)}
}

// Usage answers a text that is not a command: the reason and the usage.
func Usage(prefix string, err error) *Reply {
	reason := "that is not a command"
	var pe *ParseError
	if errors.As(err, &pe) {
		reason = pe.Reason
	}
	return &Reply{Status: StatusUsage, Lines: append([]string{"Nothing was changed: " + reason + "."}, usageLines(prefix)...)}
}

// Refused answers a user who may not run commands.
func Refused(inv *Invocation) *Reply {
	msg := "you may not run enrollhook commands"
	var r *Refusal
	if errors.As(inv.Denied, &r) {
		msg = r.Message
	}
	lines := []string{"Refused, nothing was changed: " + msg + "."}
	if safeID(inv.User) {
		lines = append(lines, "Your user id: `"+inv.User+"`")
	}
	return &Reply{Status: StatusRefused, Lines: lines}
}

// Invalid answers an assign command whose values are not a valid change.
func Invalid(err error) *Reply {
	lines := []string{"Nothing was changed: the command has invalid values."}
	var ce *change.Error
	if errors.As(err, &ce) {
		for _, f := range ce.Fields {
			lines = append(lines, "- "+fieldWord(f.Field)+" "+f.Reason)
		}
	}
	return &Reply{Status: StatusInvalid, Lines: lines}
}

// fieldWord names a JSON pointer of a change in the command's words.
func fieldWord(pointer string) string {
	switch pointer {
	case "/configurationId":
		return "the configuration id"
	case "/assignmentId":
		return "the assignment id"
	case "/assignment/target/groupId":
		return "the group id"
	case "/assignment/target/collectionId":
		return "the collection id"
	case "/assignment/target/deviceAndAppManagementAssignmentFilterId":
		return "the filter id"
	case "/assignment/target/deviceAndAppManagementAssignmentFilterType":
		return "the filter"
	case "/assignment/target/@odata.type":
		return "the target"
	}
	if strings.HasPrefix(pointer, "/ticket") {
		return "your user or workspace id"
	}
	return "the value at " + pointer
}

// Applied reports a change Graph applied; body is the assignment as Graph
// holds it afterwards (nil when it could not be read back).
func Applied(inv *Invocation, req *change.Request, body json.RawMessage, graphRequestID string) *Reply {
	lines := []string{"Done: assignment `" + req.AssignmentID + "` of configuration `" + req.ConfigurationID + "` now targets " + describe(body, req.Assignment.Target) + "."}
	lines = append(lines, "Requested and approved by "+actor(inv)+" with this command.")
	if safeID(graphRequestID) {
		lines = append(lines, "Graph request id: `"+graphRequestID+"`")
	}
	return &Reply{Status: StatusApplied, Lines: lines, Public: true}
}

// RevertedChange is one change a revert put back, for Reverted.
type RevertedChange struct {
	Reverts                       string // the change record id put back
	ConfigurationID, AssignmentID string
	Assignment                    json.RawMessage // as Graph holds it afterwards
}

// Reverted reports a revert Graph applied.
func Reverted(inv *Invocation, changes []RevertedChange) *Reply {
	lines := make([]string, 0, len(changes)+1)
	for _, c := range changes {
		lines = append(lines, "Reverted "+code(c.Reverts)+": assignment "+code(c.AssignmentID)+" of configuration "+code(c.ConfigurationID)+
			" targets "+describe(c.Assignment, nil)+" again.")
	}
	lines = append(lines, "Requested and approved by "+actor(inv)+" with this command.")
	return &Reply{Status: StatusApplied, Lines: lines, Public: true}
}

// HistoryEntry is one recorded change of an assignment, for History.
type HistoryEntry struct {
	ID, Action, Ticket      string
	RequestedBy, ApprovedBy string
	Time                    string // RFC 3339, UTC
	Before, After           json.RawMessage
	Reverts                 string // for a revert: the id it put back
	// Scheduled, for a change waiting for its window, is when it is to
	// be applied (RFC 3339, UTC).
	Scheduled string
}

// History answers history with the latest recorded changes, latest first.
func History(cmd *Command, entries []HistoryEntry) *Reply {
	head := "Assignment " + code(cmd.AssignmentID) + " of configuration " + code(cmd.ConfigurationID)
	if len(entries) == 0 {
		return &Reply{Status: StatusHistory, Lines: []string{head + " has no recorded change."}}
	}
	lines := []string{head + ", latest change first:"}
	for _, e := range entries {
		what := "changed,"
		switch {
		case e.Scheduled != "":
			what = "scheduled for " + code(e.Scheduled) + ","
		case e.Action == change.ActionRevert:
			what = "reverted " + code(e.Reverts) + ","
		}
		by := "requested by " + who(e.RequestedBy) + ", approved by " + who(e.ApprovedBy)
		lines = append(lines, "- "+code(e.Time)+" "+code(e.ID)+" (ticket "+code(e.Ticket)+") "+what+" "+by+": "+
			describe(e.Before, nil)+" → "+describe(e.After, nil)+".")
	}
	lines = append(lines, "`revert <id>` puts one back.")
	return &Reply{Status: StatusHistory, Lines: lines}
}

// who names a person of a record, when the name is safe to show: an id,
// an address, or a chat user as workspace/user.
func who(s string) string {
	if s == "" {
		return "(unknown)"
	}
	if a, b, ok := strings.Cut(s, "/"); ok && safeID(a) && safeID(b) {
		return "`" + s + "`"
	}
	return code(s)
}

// Requested answers an assign that waits for a second person: the plan,
// the request id, who may approve, when it expires, and the Approve and
// Reject actions. Nothing was changed.
func Requested(inv *Invocation, req *change.Request, id string, before, after json.RawMessage, expires string) *Reply {
	lines := []string{"Request " + code(id) + " by " + actor(inv) + ", nothing changed yet: assignment " + code(req.AssignmentID) +
		" of configuration " + code(req.ConfigurationID) + " targets " + describe(before, nil) + "; approved, it will target " +
		describe(after, req.Assignment.Target) + ".",
		"Another person the policy names approves it with `approve " + id + "` (or rejects it with `reject " + id + "`) before " + code(expires) + "."}
	return &Reply{Status: StatusRequested, Lines: lines, Public: true, Actions: []Action{
		{Label: "Approve", Command: "approve " + id, Style: "primary"},
		{Label: "Reject", Command: "reject " + id, Style: "danger"},
	}}
}

// RevertRequested answers a revert that waits for a second person, with
// its plan: the changes it would put back and the scheduled changes it
// would cancel, which are all its approval covers. Nothing was changed.
func RevertRequested(inv *Invocation, id, ref, expires string, changes []RevertedChange, canceled []string) *Reply {
	lines := []string{"Request " + code(id) + " by " + actor(inv) + ", nothing changed yet: revert " + code(ref) + "."}
	for _, c := range changes {
		lines = append(lines, "- puts back "+code(c.Reverts)+": assignment "+code(c.AssignmentID)+" of configuration "+
			code(c.ConfigurationID)+" would target "+describe(c.Assignment, nil)+" again.")
	}
	for _, c := range canceled {
		lines = append(lines, "- cancels scheduled change "+code(c)+".")
	}
	lines = append(lines, "Another person the policy names approves it with `approve "+id+"` (or rejects it with `reject "+id+
		"`) before "+code(expires)+". The approval covers these changes only: if the ticket changes meanwhile, it is refused.")
	return &Reply{Status: StatusRequested, Public: true, Lines: lines,
		Actions: []Action{{Label: "Approve", Command: "approve " + id, Style: "primary"}, {Label: "Reject", Command: "reject " + id, Style: "danger"}}}
}

// ApprovedReverted reports a revert request another user approved, done.
func ApprovedReverted(inv *Invocation, id, requester, ref string) *Reply {
	return &Reply{Status: StatusApplied, Public: true, Lines: []string{"Done: request " + code(id) + " of " + who(requester) +
		", approved by " + actor(inv) + ": " + code(ref) + " is reverted."}}
}

// ApprovedApplied reports a request another user approved, applied.
func ApprovedApplied(inv *Invocation, id, requester string, req *change.Request, body json.RawMessage, graphRequestID string) *Reply {
	lines := []string{"Done: request " + code(id) + " of " + who(requester) + ", approved by " + actor(inv) + ": assignment " +
		code(req.AssignmentID) + " of configuration " + code(req.ConfigurationID) + " now targets " + describe(body, req.Assignment.Target) + "."}
	if safeID(graphRequestID) {
		lines = append(lines, "Graph request id: `"+graphRequestID+"`")
	}
	return &Reply{Status: StatusApplied, Lines: lines, Public: true}
}

// RequestRejected reports a request rejected (or withdrawn by its
// requester). Nothing was changed by it; but when an earlier approval's
// write got no clear answer (attempted, by attemptedBy), the change may
// be in Intune all the same, and the reply says so.
func RequestRejected(inv *Invocation, id, requester string, attempted time.Time, attemptedBy string) *Reply {
	line := "Request " + code(id) + " of " + who(requester) + " was rejected by " + actor(inv)
	if attempted.IsZero() {
		line += "; nothing was changed."
	} else {
		line += ", but its approval by " + who(attemptedBy) + " at " + code(attempted.UTC().Format(time.RFC3339)) + " " + MayHaveSent + ", and revert it if it is."
	}
	return &Reply{Status: StatusRejected, Public: true, Lines: []string{line}}
}

// MayHaveSent says of an earlier approval of a request (Request.Attempted)
// what is known of its change: "may have sent the change to Graph ..., so
// it may be in Intune: check with `show`".
const MayHaveSent = "may have sent the change to Graph (it got no clear answer, or never finished), so it may be in Intune: check with `show`"

// Shown answers show with the assignment as Graph holds it.
func Shown(cmd *Command, body json.RawMessage) *Reply {
	return &Reply{Status: StatusShown, Lines: []string{"Assignment `" + cmd.AssignmentID + "` of configuration `" + cmd.ConfigurationID + "` targets " + describe(body, nil) + "."}}
}

// Planned answers plan, a dry run of assign: before is the assignment as
// Graph holds it, after what the change would make of it, changed the JSON
// pointers of the values that would change. Nothing was changed.
func Planned(inv *Invocation, req *change.Request, before, after json.RawMessage, changed []string) *Reply {
	lines := []string{"Dry run, nothing was changed: assignment `" + req.AssignmentID + "` of configuration `" + req.ConfigurationID +
		"` targets " + describe(before, nil) + "."}
	if len(changed) == 0 {
		lines = append(lines, "The change would change nothing.")
	} else {
		ps := make([]string, 0, len(changed))
		for _, p := range changed {
			if safePointer(p) {
				ps = append(ps, "`"+p+"`")
			}
		}
		lines = append(lines, "The change would make it target "+describe(after, req.Assignment.Target)+" (changes: "+strings.Join(ps, ", ")+").")
	}
	lines = append(lines, "Approved by "+actor(inv)+" with this command, and allowed by the policy; `assign` with the same words applies it.")
	return &Reply{Status: StatusPlanned, Lines: lines}
}

// Failed reports a Graph call that did not succeed. err is the *change.Error
// of the Graph client; its message is caller-safe by contract. requestID is
// ours, for the operator's log. A command that writes says "not applied"
// only when that is known: a write that may have been applied
// (change.ErrOutcomeUnknown, or out of time after it was sent) is told as
// unknown, and a revert that stopped part way (change.ErrPartlyApplied) as
// applied in part.
func Failed(cmd *Command, err error, requestID string) *Reply {
	what := "The change was not applied"
	check := ""
	writes := cmd == nil || cmd.Verb == VerbAssign || cmd.Verb == VerbApprove || cmd.Verb == VerbRevert
	partial := writes && errors.Is(err, change.ErrPartlyApplied) // its message is ours: what was done
	switch {
	case cmd != nil && cmd.Verb == VerbShow:
		what = "The assignment could not be read"
	case cmd != nil && cmd.Verb == VerbHistory:
		what = "The assignment's history could not be read"
	case cmd != nil && cmd.Verb == VerbPlan:
		what = "The dry run failed, nothing was changed"
	case !writes:
	case cmd != nil && cmd.Verb == VerbRevert && kindOf(err) == change.KindNothingToRevert:
		what = "Nothing to revert"
	case cmd != nil && (cmd.Verb == VerbApprove || cmd.Verb == VerbReject) && kindOf(err) == "" &&
		(change.ErrorCode(err) == change.CodeConflict || change.ErrorCode(err) == change.CodeNotFound) && !change.MayHaveApplied(err):
		// No such request, or one decided or expired: this command did
		// nothing (the change may well be applied, by another approval).
		what = "Nothing was done"
	case partial:
		what, check = "The change was applied only in part", " Check with `history`."
	case change.MayHaveApplied(err):
		// Graph may have applied it.
		what, check = "The outcome is unknown, the change may or may not be applied", " Check with `show`."
	}
	var ce *change.Error
	if !errors.As(err, &ce) || ce.Code == change.CodeInternal && !partial {
		return &Reply{Status: StatusFailed, Lines: []string{what + ": an internal error occurred; the operator's log has request id `" + safeOr(requestID) + "`." + check}}
	}
	lines := []string{what + ": " + ce.Message + "." + check}
	switch ce.Code {
	case change.CodeUnavailable, change.CodeTimeout:
		retry := "in a minute"
		if ce.RetryAfter > 0 {
			retry = "in " + strconv.Itoa(int(ce.RetryAfter.Seconds()+0.999)) + " s"
		}
		lines = append(lines, "Try again "+retry+".")
	case change.CodeInvalid:
		for _, f := range ce.Fields {
			lines = append(lines, "- "+fieldWord(f.Field)+" "+f.Reason)
		}
	}
	lines = append(lines, "Request id: `"+safeOr(requestID)+"`")
	return &Reply{Status: StatusFailed, Lines: lines}
}

// kindOf is the problem kind of err, "" for none.
func kindOf(err error) change.Kind {
	if ce, ok := errors.AsType[*change.Error](err); ok {
		return ce.Kind
	}
	return ""
}

// Duplicate answers a copy of a command (the same delivery: a retry, a
// double press) that arrives while its first attempt is still running: the
// first attempt's outcome is the command's, so nothing is said of it here.
func Duplicate() *Reply {
	return &Reply{Status: StatusPending, Lines: []string{
		"This command is already being handled by its first attempt, whose answer tells the outcome; nothing more was run. Check with `show` in a minute."}}
}

// Pending answers when the Graph call has not finished by the sender's
// deadline. followUp says whether the outcome will be posted later.
func Pending(cmd *Command, followUp bool) *Reply {
	what := "Still working on the change"
	if cmd != nil && (cmd.Verb == VerbShow || cmd.Verb == VerbPlan) {
		what = "Still reading the assignment"
	}
	line := what + "; Graph is slow to answer."
	if followUp {
		line += " The outcome will follow in this conversation."
	} else {
		line += " This chat cannot receive a later answer: check with `show` in a minute."
	}
	return &Reply{Status: StatusPending, Lines: []string{line}}
}

// Queued answers an assign command that was accepted and queued: the
// worker applies it within Intune's write limit. followUp says whether the
// outcome will be posted later.
func Queued(cmd *Command, followUp bool) *Reply {
	line := "Accepted: the change is approved and queued; it is applied within Intune's write limit."
	if followUp {
		line += " The outcome will follow in this conversation."
	} else {
		line += " This chat cannot receive a later answer: check with `show` in a minute."
	}
	return &Reply{Status: StatusQueued, Lines: []string{line}}
}

func actor(inv *Invocation) string {
	if safeID(inv.User) {
		return "`" + inv.User + "`"
	}
	return "you"
}

// safeID reports whether s may be shown: ids of Slack, Teams and Graph
// are short runs of letters, digits and a few separators.
func safeID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == ':' || c == '.' || c == '@') {
			return false
		}
	}
	return true
}

// safePointer reports whether a JSON pointer of a plan may be shown: the
// member names of an assignment, nothing else.
func safePointer(p string) bool {
	if p == "" || len(p) > 128 {
		return false
	}
	for _, seg := range strings.Split(strings.TrimPrefix(p, "/"), "/") {
		if !safeID(seg) {
			return false
		}
	}
	return true
}

func safeOr(id string) string {
	if safeID(id) {
		return id
	}
	return "unknown"
}

// describe names the target Graph holds (from body), else the target sent.
func describe(body json.RawMessage, sent *change.Target) string {
	var a struct {
		Target *change.Target `json:"target"`
	}
	t := sent
	if len(body) > 0 && json.Unmarshal(body, &a) == nil && a.Target != nil {
		t = a.Target
	}
	if t == nil {
		return "a target enrollhook could not read"
	}
	var s string
	switch "#" + strings.TrimPrefix(t.ODataType, "#") {
	case change.TypeGroup:
		s = "group " + code(t.GroupID)
	case change.TypeExclusion:
		s = "the exclusion of group " + code(t.GroupID)
	case change.TypeAllDevices:
		s = "all devices"
	case change.TypeAllLicensed:
		s = "all licensed users"
	case change.TypeCMCollection:
		s = "Configuration Manager collection " + code(t.CollectionID)
	case change.TypeScopeTagGroup:
		s = "the scope tag group " + code(t.EntraObjectID)
	default:
		s = "a target of another type"
	}
	switch t.FilterType {
	case change.FilterInclude, change.FilterExclude:
		s += ", filter " + code(t.FilterID) + " (" + t.FilterType + ")"
	default:
		s += ", no filter"
	}
	return s
}

func code(id string) string {
	if safeID(id) {
		return "`" + id + "`"
	}
	return "(an id enrollhook does not show)"
}
