package chat

import (
	"errors"
	"strings"
	"time"

	"github.com/enrollhook/enrollhook/pkg/change"
)

// Invocation is one authenticated chat command, as a sender adapter read
// it from its delivery.
type Invocation struct {
	// Sender is the route name: "slack" or "teams"; it is also the
	// ticket system of the audit trail.
	Sender string
	// DeliveryID is the sender's id of this delivery (Slack trigger_id,
	// Teams activity id); it becomes the ticket id.
	DeliveryID string
	// Tenant is the Slack team id or the Entra tenant id.
	Tenant string
	// User is the id of the person who sent the command (Slack user id,
	// Entra object id); UserName is for messages only.
	User, UserName string
	// OtherUser is another id the sender names the same person by, which
	// the allow-list may hold instead (Teams: the 29: user id beside the
	// Entra object id); empty when there is none.
	OtherUser string
	// Prefix is how the user invokes enrollhook ("/intune", "@IntuneBot"),
	// for the usage text.
	Prefix string
	// Command is the parsed command, nil when ParseErr is set.
	Command  *Command
	ParseErr error
	// Denied, when set, is why the user may not run commands; its message
	// is written for the user.
	Denied error
	// ResponseURL is where a later reply goes (Slack), empty when the
	// sender has none. It is a capability: never log it.
	ResponseURL string
	// CanFollowUp says whether the sender can receive a reply after the
	// answer (Slack, with a response_url it may post to).
	CanFollowUp bool
	// Received is when the delivery arrived.
	Received time.Time
}

// Actor names the user for the audit trail: sender, tenant and user id,
// e.g. "slack:T0001/U0456EFGH".
func (inv *Invocation) Actor() string {
	return inv.Sender + ":" + inv.Tenant + "/" + inv.User
}

// Request turns an assign (or plan) command into a validated change. The chat
// command is its own approval: the allowed user who sent it is both the
// requester and the approver, and the delivery id is the ticket id.
// Errors are *change.Error with CodeForbidden (Denied: the user may not run
// commands) or CodeInvalid (ParseErr, or not an assign command).
func (inv *Invocation) Request(opts *change.Options) (*change.Request, error) {
	if inv.Denied != nil {
		return nil, &change.Error{Code: change.CodeForbidden, Message: inv.Denied.Error()}
	}
	if inv.ParseErr != nil {
		return nil, &change.Error{Code: change.CodeInvalid, Message: "the request has invalid fields",
			Fields: []change.FieldError{{Field: "/text", Reason: strings.TrimPrefix(inv.ParseErr.Error(), "chat: ")}}}
	}
	if inv.Command != nil && inv.Command.Verb == VerbRevert {
		// The revert's own ticket: the command is its approval; what it
		// puts back comes from the change record.
		r := &change.Request{Action: change.ActionRevert, Ticket: inv.ticket()}
		if err := r.Validate(opts); err != nil {
			return nil, err
		}
		return r, nil
	}
	if inv.Command == nil || inv.Command.Verb != VerbAssign && inv.Command.Verb != VerbPlan || inv.Command.Target == nil {
		return nil, &change.Error{Code: change.CodeInvalid, Message: "the request has invalid fields",
			Fields: []change.FieldError{{Field: "/text", Reason: "is not an assign command"}}}
	}
	t := *inv.Command.Target
	r := &change.Request{
		Ticket:          inv.ticket(),
		ConfigurationID: inv.Command.ConfigurationID,
		AssignmentID:    inv.Command.AssignmentID,
		Assignment:      change.Assignment{Target: &t},
	}
	if err := r.Validate(opts); err != nil {
		return nil, err
	}
	r.Normalize()
	return r, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// Allowlist says who may run commands: users of one tenant (Slack
// workspace or Entra tenant). An empty Tenant or Users refuses everyone
// (fail closed).
type Allowlist struct {
	Tenant string
	Users  []string
	// TenantSetting and UsersSetting name the configuration that fills
	// them, for the refusal message ("ENROLLHOOK_SLACK_TEAM_ID").
	TenantSetting, UsersSetting string
}

// Refusal is why a user may not run commands. Its message is written for
// the chat user and names the setting an administrator changes.
type Refusal struct{ Message string }

func (e *Refusal) Error() string { return e.Message }

// Check returns nil when one of ids (the ways the sender names the user)
// is allowed in tenant, else a *Refusal. Ids are compared exactly, tenants
// without regard to case (Entra tenant ids are GUIDs).
func (a Allowlist) Check(tenant string, ids ...string) error {
	if a.Tenant == "" || len(a.Users) == 0 {
		return &Refusal{Message: "nobody may run enrollhook commands yet: the administrator has not set " +
			a.TenantSetting + " and " + a.UsersSetting + " (fail closed)"}
	}
	if !strings.EqualFold(strings.TrimSpace(tenant), a.Tenant) {
		return &Refusal{Message: "enrollhook does not take commands from this workspace or tenant"}
	}
	for _, id := range ids {
		if id == "" {
			continue
		}
		for _, u := range a.Users {
			if id == u {
				return nil
			}
		}
	}
	return &Refusal{Message: "you are not allowed to run enrollhook commands; ask an administrator to add your user id to " + a.UsersSetting}
}

// IsRefusal reports whether err is a *Refusal.
func IsRefusal(err error) bool {
	var r *Refusal
	return errors.As(err, &r)
}

// ErrNoFollowUp is returned by a sender that cannot deliver a reply after
// its answer (a Teams outgoing webhook cannot post later).
var ErrNoFollowUp = errors.New("chat: this sender cannot receive a later reply")

// ticket is a command's ticket: the command itself, requested and approved
// by its user.
func (inv *Invocation) ticket() change.Ticket {
	return change.Ticket{
		ID:          truncate(inv.DeliveryID, 128),
		System:      inv.Sender,
		State:       change.ApprovedState,
		RequestedBy: truncate(inv.Actor(), 256),
		ApprovedBy:  truncate(inv.Actor(), 256),
	}
}
