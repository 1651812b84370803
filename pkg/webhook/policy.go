package webhook

import (
	"errors"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/chat"
	"github.com/enrollhook/enrollhook/pkg/queue"
)

// Policy is what the handler needs from the guardrail policy (pkg/policy).
type Policy interface {
	// Check returns nil when sender may apply req; chat marks a chat
	// command, its own approval. Errors are *change.Error with
	// CodeForbidden and a policy-* Kind.
	Check(sender string, chat bool, req *change.Request) error
	// CheckCommand returns nil when the chat user may run verb. Errors are
	// *change.Error with CodeForbidden and Kind policy-command.
	CheckCommand(sender, tenant, user, verb string) error
}

// checkPolicy runs the change through the policy, if there is one.
func (h *Handler) checkPolicy(sender string, chat bool, req *change.Request) error {
	if h.opts.Policy == nil {
		return nil
	}
	return h.opts.Policy.Check(sender, chat, req)
}

// checkCommand runs a chat command through the policy, if there is one.
func (h *Handler) checkCommand(sender, tenant, user, verb string) error {
	if h.opts.Policy == nil {
		return nil
	}
	return h.opts.Policy.CheckCommand(sender, tenant, user, verb)
}

// checkQueued is the worker's check of a queued change: a chat command's
// user may still run assign, and the change is still allowed.
func (h *Handler) checkQueued(m *queue.Message) error {
	if m.Chat != nil {
		if err := h.checkCommand(m.Source, m.Chat.Tenant, m.Chat.User, string(chat.VerbAssign)); err != nil {
			return err
		}
	}
	return h.checkPolicy(m.Source, m.Chat != nil, m.Request)
}

// policyRefused is the chat reply to a command the policy refuses: the
// rule's reason, written for the user, and the user's id to hand to the
// administrator.
func policyRefused(inv *chat.Invocation, err error) *chat.Reply {
	msg := "the policy does not allow this command"
	var ce *change.Error
	if errors.As(err, &ce) {
		msg = ce.Message
	}
	return chat.Refused(&chat.Invocation{User: inv.User, Denied: &chat.Refusal{Message: msg}})
}
