package apply

import (
	"context"
	"errors"
	"fmt"
	"time"

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
	// CheckWindow returns nil when the change may be applied at now as
	// far as its timing goes: its ticket's window (ticket.window) and the
	// policy's window rules, or a chat command's hours. A refusal is
	// *change.Error with CodeForbidden (outside-change-window,
	// policy-window-required, policy-window-too-long); opensIn > 0 says
	// the window opens that much later.
	CheckWindow(sender string, chat bool, w *change.Window, now time.Time) (opensIn time.Duration, err error)
	// ScheduleAhead is how far ahead a change of sender whose window opens
	// later than MaxQueueDelay may be scheduled (Options.Scheduler).
	ScheduleAhead(sender string) time.Duration
	// SecondPerson reports whether a chat sender's assign is a request
	// another user approves; MayApprove whether user may approve one of
	// configurationID.
	SecondPerson(sender, command string) bool
	MayApprove(sender, user, configurationID string) bool
}

// SecondPerson reports whether the policy wants a second person to approve
// a chat sender's command, assign or revert (false without a policy).
func (p *Pipeline) SecondPerson(sender, command string) bool {
	return p.opts.Policy != nil && p.opts.Policy.SecondPerson(sender, command)
}

// MayApprove reports whether the policy lets user approve a chat request
// of configurationID (false without a policy).
func (p *Pipeline) MayApprove(sender, user, configurationID string) bool {
	return p.opts.Policy != nil && p.opts.Policy.MayApprove(sender, user, configurationID)
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

// window checks the change's timing at the pipeline's clock. A change whose
// window opens within queue.MaxDelay is not refused when the job can be
// queued: notBefore is then when to apply it.
func (p *Pipeline) window(job *Job) (notBefore time.Time, err error) {
	now := p.now()
	opensIn, err := p.checkWindow(job, now)
	if err != nil && opensIn > 0 && opensIn <= maxEarly && job.Scheduled && !job.DryRun {
		// Held for its window, it arrived a little early (the
		// Scheduler's minute, clocks apart): run waits for it, or it
		// comes back; a refusal would dead-letter it. Much earlier is
		// not a held change's clock but a wrong one: refused.
		// Its own kind, not graph-unavailable (which counts towards
		// the operators' Graph alarm): a 503 that comes back.
		return now.Add(opensIn), &change.Error{Code: change.CodeUnavailable, Kind: change.KindOutsideWindow, RetryAfter: opensIn,
			Message: fmt.Sprintf("the change arrived %s before its window opens; nothing was changed yet, it comes back", opensIn.Round(time.Millisecond)), Err: errors.Join(change.ErrNothingSent, err)}
	}
	if err == nil || opensIn <= 0 || job.Enqueue == nil || job.DryRun {
		return time.Time{}, err
	}
	if opensIn <= MaxQueueDelay {
		return now.Add(opensIn), nil
	}
	if job.Request.Reverts() {
		// A revert is not held on a schedule: it names no assignment to
		// record it under, so nothing could show or cancel it.
		if ce, ok := errors.AsType[*change.Error](err); ok {
			e := *ce
			e.Message += fmt.Sprintf(" (it opens in %s; a revert is held for its window only up to %s: send it again then)", opensIn.Round(time.Minute), MaxQueueDelay)
			err = &e
		}
		return time.Time{}, err
	}
	if p.opts.Scheduler != nil {
		ahead := DefaultScheduleAhead
		if p.opts.Policy != nil {
			ahead = p.opts.Policy.ScheduleAhead(job.Sender)
		}
		if opensIn <= ahead {
			return now.Add(opensIn), nil
		}
		ce, _ := errors.AsType[*change.Error](err)
		if ce != nil {
			e := *ce
			e.Message += fmt.Sprintf(" (it opens in %s, and changes are scheduled at most %s ahead)", opensIn.Round(time.Minute), ahead)
			err = &e
		}
	}
	return time.Time{}, err
}

// maxEarly is how early a held change may arrive and still be waited for
// or sent back to its queue rather than refused.
const maxEarly = 5 * time.Minute

// checkWindow checks the job's change window at now: the policy's, or
// without a policy the ticket's own.
func (p *Pipeline) checkWindow(job *Job, now time.Time) (opensIn time.Duration, err error) {
	switch w := job.Request.Ticket.Window; {
	case p.opts.Policy != nil:
		return p.opts.Policy.CheckWindow(job.Sender, job.Chat, w, now)
	case w != nil:
		return w.Check(now)
	}
	return 0, nil
}

// DefaultScheduleAhead is how far ahead a change is scheduled without a
// policy: 14 days, as the built-in policy says.
const DefaultScheduleAhead = 14 * 24 * time.Hour

// Scheduler holds a change whose window opens later than MaxQueueDelay
// until it opens (pkg/scheduler): the caller's Enqueue schedules it; the
// pipeline deletes the schedule of a ticket's change of an assignment that
// a revert or a newer delivery overtakes.
type Scheduler interface {
	Unschedule(ctx context.Context, sender, ticket, configurationID, assignmentID string) error
}

// scheduled reports whether a change queued until notBefore waits on a
// schedule rather than in the queue.
func scheduled(notBefore, now time.Time) bool {
	return !notBefore.IsZero() && notBefore.Sub(now) > MaxQueueDelay
}

// MaxQueueDelay is the longest the queue holds a change back for its
// window (SQS's DelaySeconds limit, queue.MaxDelay): a change whose window
// opens later is refused with outside-change-window.
const MaxQueueDelay = 15 * time.Minute

func (p *Pipeline) now() time.Time {
	if p.opts.Now != nil {
		return p.opts.Now()
	}
	return time.Now()
}
