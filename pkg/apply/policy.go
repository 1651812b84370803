package apply

import (
	"github.com/enrollhook/enrollhook/pkg/change"
)

// Policy is what the pipeline needs from the guardrail policy (pkg/policy).
type Policy interface {
	// Check returns nil when sender may apply req; chat marks a chat
	// command, its own approval. Errors are *change.Error with
	// CodeForbidden and a policy-* Kind.
	Check(sender string, chat bool, req *change.Request) error
	// CheckCommand returns nil when the chat user may run verb. Errors are
	// *change.Error with CodeForbidden and Kind policy-command.
	CheckCommand(sender, tenant, user, verb string) error
}

// Check runs the change through the policy, if there is one: before the
// delivery is taken or anything applied on the request path, and again, with
// the policy in force then, before the worker applies a queued change.
func (p *Pipeline) Check(sender string, chat bool, req *change.Request) error {
	if p.opts.Policy == nil {
		return nil
	}
	return p.opts.Policy.Check(sender, chat, req)
}

// CheckCommand runs a chat command through the policy, if there is one.
func (p *Pipeline) CheckCommand(sender, tenant, user, verb string) error {
	if p.opts.Policy == nil {
		return nil
	}
	return p.opts.Policy.CheckCommand(sender, tenant, user, verb)
}
