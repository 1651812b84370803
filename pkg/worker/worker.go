package worker

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/enrollhook/enrollhook/pkg/apply"
	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/chat"
	"github.com/enrollhook/enrollhook/pkg/graph"
	"github.com/enrollhook/enrollhook/pkg/queue"
)

// FollowUpper posts a reply to a chat command after its answer (Slack's
// response_url).
type FollowUpper interface {
	FollowUp(ctx context.Context, inv *chat.Invocation, r *chat.Reply) error
}

// DeadLetterQueue is where the worker sends a message it gives up on: the
// body as received, with the reason as message attributes.
type DeadLetterQueue interface {
	// DeadLetter keeps body with r; any error means it was not kept.
	DeadLetter(ctx context.Context, body []byte, r queue.Reason) error
}

// Options tune the worker. A nil *Options means the defaults.
type Options struct {
	// FollowUps post the outcome of a queued chat command, by sender name;
	// default none (the outcome is in the audit line only).
	FollowUps map[string]FollowUpper
	// DeadLetters keeps the messages the worker gives up on, with their
	// reason (Process); nil leaves them to the queue's redrive, without a
	// reason.
	DeadLetters DeadLetterQueue
	// Key is the key the webhook seals messages with; a message not
	// sealed with it is not applied (dead-lettered as malformed). nil is
	// the development key of the in-process queue and tests.
	Key *queue.Key
	// Allowlists are the chat senders' allow-lists, by sender name: a
	// queued chat command whose user the allow-list in force no longer
	// admits is refused (policy-command). A sender without one here is
	// not checked (nil: none is).
	Allowlists map[string]chat.Allowlist
}

// Worker applies queued changes through the pipeline the request path uses.
type Worker struct {
	pipe *apply.Pipeline
	opts Options
	log  *slog.Logger
}

// New returns the worker that applies queued changes through p.
func New(p *apply.Pipeline, opts *Options) *Worker {
	w := &Worker{pipe: p, log: p.Logger()}
	if opts != nil {
		w.opts = *opts
	}
	return w
}

// Worker outcomes, logged as the outcome of a "worker" line.
const (
	workApplied  = "applied"       // Graph applied the change
	workReplayed = "replayed"      // applied (or refused) before: a redelivered message
	workRetry    = "retry"         // a retryable failure: the message comes back
	workDead     = "dead-lettered" // a retryable failure on the last receive
	workFailed   = "failed"        // a permanent failure: not retried (unless the dead-letter queue failed)
	workDropped  = "dropped"       // not a message this worker can read
	workCanceled = "cancelled"     // a cancelled schedule fired (its delete had failed): nothing to do
)

// Values of the worker line's deadLetter attribute.
const (
	deadLetterSent   = "sent"   // in the dead-letter queue with its reason; the message is done
	deadLetterFailed = "failed" // not sent: the message comes back (or moves by redrive)
)

// deadLetterTimeout bounds the send to the dead-letter queue; the invoke's
// deadline bounds it too.
const deadLetterTimeout = 5 * time.Second

// workRecord is what one worker line says.
type workRecord struct {
	d          queue.Delivery
	msg        *queue.Message
	result     *graph.Result
	err        error
	followUp   string
	deadLetter string // deadLetterSent, deadLetterFailed, or "" when not tried
	dlErr      error
	o          *apply.Outcome // the pipeline's outcome; nil when the message was not read
}

// Process is the worker: it applies one queued change exactly once and
// reports the outcome. It returns an error only when the message should be
// received again (Graph throttled or unavailable, out of time, the store
// unreachable, another worker holding the change); a permanent failure (not
// found, refused, invalid, not approved, not a message of this version) is
// logged as an audit line with its reason, posted to the chat user where
// the sender allows (Slack), and not retried. The worker takes "apply:"+key
// in the store before it applies, so a message delivered twice is applied
// once; and it runs the same apply step as the request path (write slot,
// PATCH, read-back).
//
// With Options.DeadLetters, a message the worker gives up on (a permanent
// failure, or a retryable one on the last receive, MaxReceive) goes to the
// dead-letter queue with its reason (queue.Reason), and Process returns nil
// so the queue deletes it; if that send fails, Process returns an error, so
// the message comes back and, after MaxReceive, SQS's redrive moves it: no
// message is lost. A permanent failure sent there releases the worker's
// record, so that the operator can move the message back once the cause is
// fixed (the change's Graph permission granted, the group created) and
// the change is applied then; without a dead-letter queue the refusal is
// kept, so a redelivered copy does not reach Graph again. One refusal is
// kept either way: the retry of a change whose earlier write's answer was
// lost, refused 409 drifted because a newer change stands (package apply,
// attempt.go): moved back, it is answered with that refusal again.
func (w *Worker) Process(ctx context.Context, d queue.Delivery) error {
	start := time.Now()
	wr := &workRecord{d: d}
	m, err := queue.Open(w.opts.Key, d.Body)
	if err != nil {
		msg := "the message is not a queued change of this version"
		if errors.Is(err, queue.ErrNotSealed) {
			msg = "the message is not sealed by this deployment's webhook: nothing was applied"
		}
		wr.err = &change.Error{Code: change.CodeMalformed, Kind: change.KindMalformedRequest, Message: msg, Err: err}
		return w.fail(ctx, wr, workDropped, start)
	}
	wr.msg = m
	req := m.Request
	req.Ticket.Record = m.Record // for the write-back
	// The webhook validated the change; the pipeline validates it again,
	// since the queue is a trust boundary of its own, and checks it against
	// the policy in force now, not the one the webhook saw: a message
	// queued before a policy change does not bypass it. Without a
	// dead-letter queue a refusal is kept, so a redelivered copy does not
	// reach Graph again; with one, the record is released, so that moving
	// the message back applies the change.
	job := &apply.Job{Sender: m.Source, DeliveryID: m.DeliveryID, RequestID: m.RequestID, Request: req, Start: start,
		Via: apply.ViaWorker, Chat: m.Chat != nil, Validate: true, Key: apply.WorkKey(m.Key), Fingerprint: m.Fingerprint,
		KeepRefusals: w.opts.DeadLetters == nil, Scheduled: !m.NotBefore.IsZero()}
	if m.Chat != nil {
		job.Command = &apply.Command{Tenant: m.Chat.Tenant, User: m.Chat.User, Verb: string(chat.VerbAssign)}
		if al, ok := w.opts.Allowlists[m.Source]; ok {
			job.Command.Allowed = func() error { return al.Check(m.Chat.Tenant, m.Chat.User, m.Chat.OtherUser) }
		}
	}
	o := w.pipe.Run(ctx, job)
	wr.o, wr.result, wr.err = &o, o.Result, o.Err
	switch {
	case o.Replay:
		w.logLine(ctx, wr, workReplayed, start, false)
		return nil
	case o.Err == nil:
		if m.Chat != nil {
			wr.followUp = w.followUp(ctx, m, chat.Applied(invocationOf(m), req, o.Body, o.Result.RequestID))
		}
		w.logLine(ctx, wr, workApplied, start, true)
		return nil
	case apply.Canceled(o.Err):
		return w.canceled(ctx, wr, start)
	case apply.InProgress(o.Err):
		// Another worker holds the change: not a decision, even on the
		// last receive (no write-back, no dead letter of ours). The
		// holder settles it; this copy comes back and is answered from
		// the store, or, after its last receive, SQS's redrive moves it
		// to the dead-letter queue (moved back, it is a replay).
		w.logLine(ctx, wr, workRetry, start, false)
		return wr.err
	case apply.Retryable(o.Err):
		// Graph throttled or unavailable, out of time, the store
		// unreachable.
		return w.retry(ctx, wr, start)
	}
	return w.fail(ctx, wr, workFailed, start)
}

// MaxReceive is how often the queue delivers a message before it moves to
// the dead-letter queue: the redrive policy's maxReceiveCount in
// template.yaml, and Local's default. The worker's last attempt reports
// the failure to the chat user and sends the message to the dead-letter
// queue with its reason itself (Options.DeadLetters).
const MaxReceive = 5

// retry logs a retryable failure and returns it, so the queue delivers
// the message again. On the last receive the failure is final: reported to
// the chat user and sent to the dead-letter queue with its reason; nil is
// returned once it is there, the failure if it could not be sent (SQS's
// redrive moves it then).
func (w *Worker) retry(ctx context.Context, wr *workRecord, start time.Time) error {
	if wr.d.ReceiveCount < MaxReceive {
		w.logLine(ctx, wr, workRetry, start, false)
		return wr.err
	}
	if wr.d.ReceiveCount > 1 && apply.Slug(wr.err) == string(change.KindDedupeUnavailable) {
		// The store that would say what an earlier receive did cannot be
		// read: one of them may have written before its answer was lost.
		wr.err = change.Mark(wr.err, change.ErrOutcomeUnknown)
		wr.o.Err = wr.err
	}
	if wr.msg.Chat != nil {
		wr.followUp = w.followUp(ctx, wr.msg, chat.Failed(nil, wr.err, wr.msg.RequestID))
	}
	sent := w.deadLetter(ctx, wr, queue.FailureExhausted)
	w.logLine(ctx, wr, workDead, start, true) // the last receive: final
	if sent {
		return nil
	}
	return wr.err
}

// fail reports a permanent failure and sends the message to the
// dead-letter queue with its reason. It returns nil, so the message is not
// received again, unless the dead-letter queue was configured and failed:
// then the failure comes back to be sent again (and moves by redrive after
// the last receive), so that it is not lost. The chat user hears of it
// once the message is done with, or on the last receive.
func (w *Worker) fail(ctx context.Context, wr *workRecord, outcome string, start time.Time) error {
	sent := w.deadLetter(ctx, wr, queue.FailurePermanent)
	final := sent || w.opts.DeadLetters == nil || wr.d.ReceiveCount >= MaxReceive
	if final && wr.msg != nil && wr.msg.Chat != nil {
		wr.followUp = w.followUp(ctx, wr.msg, chat.Failed(nil, wr.err, wr.msg.RequestID))
	}
	w.logLine(ctx, wr, outcome, start, final)
	if wr.deadLetter == deadLetterFailed {
		return wr.err
	}
	return nil
}

// canceled reports a scheduled change whose cancellation is recorded (a
// revert of its ticket, or a newer change of its assignment) and whose
// schedule fired all the same, its delete having failed: nothing was
// changed, as intended. It is done, not a failure: no dead letter (whose
// alarm would page someone for a cancellation), a line at info level; the
// chat user and the audit trail hear of it as of a refusal.
func (w *Worker) canceled(ctx context.Context, wr *workRecord, start time.Time) error {
	if wr.msg.Chat != nil {
		wr.followUp = w.followUp(ctx, wr.msg, chat.Failed(nil, wr.err, wr.msg.RequestID))
	}
	w.logLine(ctx, wr, workCanceled, start, true)
	return nil
}

// deadLetter sends the delivery's body to Options.DeadLetters with the
// reason of wr.err, and says whether it is there. Without a dead-letter
// queue it does nothing and reports false.
func (w *Worker) deadLetter(ctx context.Context, wr *workRecord, failure string) bool {
	if w.opts.DeadLetters == nil {
		return false
	}
	p, _ := apply.ProblemFor(wr.err, "")
	r := queue.Reason{Problem: p.Type[len(apply.ProblemTypePrefix):], Detail: p.Detail, Failure: failure,
		ReceiveCount: wr.d.ReceiveCount, MessageID: wr.d.ID}
	if wr.msg != nil {
		r.RequestID = wr.msg.RequestID
	}
	// Not cut short by the end of the attempt's own calls, but never past
	// the invoke's deadline: a send that cannot finish leaves the message
	// to come back instead.
	deadline := time.Now().Add(deadLetterTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	dctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
	defer cancel()
	if err := w.opts.DeadLetters.DeadLetter(dctx, wr.d.Body, r); err != nil {
		wr.deadLetter, wr.dlErr = deadLetterFailed, err
		return false
	}
	wr.deadLetter = deadLetterSent
	return true
}

// invocationOf rebuilds the chat command's invocation for its reply.
func invocationOf(m *queue.Message) *chat.Invocation {
	inv := &chat.Invocation{Sender: m.Source, DeliveryID: m.DeliveryID, Received: m.Received}
	if m.Chat != nil {
		inv.Tenant, inv.User, inv.ResponseURL = m.Chat.Tenant, m.Chat.User, m.Chat.ResponseURL
		inv.CanFollowUp = m.Chat.ResponseURL != ""
	}
	return inv
}

// followUp posts reply to the chat command's sender and says how it
// went: posted, failed or unavailable (Teams, or no response_url).
func (w *Worker) followUp(ctx context.Context, m *queue.Message, reply *chat.Reply) string {
	fu := w.opts.FollowUps[m.Source]
	inv := invocationOf(m)
	if fu == nil || !inv.CanFollowUp {
		return "unavailable"
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := fu.FollowUp(ctx, inv, reply); err != nil {
		w.log.WarnContext(ctx, "worker follow-up not posted", slog.String("xRequestId", m.RequestID), apply.Cause(err))
		return "failed"
	}
	return "posted"
}

// logLine writes the worker's one audit line per delivery: ids, the ticket,
// who requested and approved it, the outcome and, for a failure, its
// problem type and caller-safe reason; never the payload or the
// response_url.
func (w *Worker) logLine(ctx context.Context, wr *workRecord, outcome string, start time.Time, final bool) {
	attrs := make([]slog.Attr, 0, 20)
	attrs = append(attrs, slog.String("messageId", wr.d.ID), slog.Int("receiveCount", wr.d.ReceiveCount))
	if m := wr.msg; m != nil {
		attrs = append(attrs, slog.String("xRequestId", m.RequestID), slog.String("source", m.Source))
		if m.DeliveryID != "" {
			attrs = append(attrs, slog.String("deliveryId", m.DeliveryID))
		}
		req := m.Request
		attrs = append(attrs,
			slog.String("ticket", req.Ticket.ID),
			slog.String("approvedBy", req.Ticket.ApprovedBy),
			slog.String("requestedBy", req.Ticket.RequestedBy),
			slog.String("configurationId", req.ConfigurationID),
			slog.String("assignmentId", req.AssignmentID),
			slog.String("targetType", apply.TargetType(req)),
			slog.Bool("deduplicated", w.pipe.Deduplicates()))
	}
	if wr.result != nil {
		attrs = append(attrs, slog.String("graphRequestId", wr.result.RequestID), slog.String("clientRequestId", wr.result.ClientRequestID))
	}
	level := slog.LevelInfo
	if wr.err != nil {
		p, _ := apply.ProblemFor(wr.err, "")
		attrs = append(attrs, slog.String("problem", p.Type[len(apply.ProblemTypePrefix):]), slog.String("reason", p.Detail))
		if cause := errors.Unwrap(wr.err); cause != nil && p.Status >= 500 {
			attrs = append(attrs, apply.Cause(cause))
		}
		switch outcome {
		case workRetry:
			level = slog.LevelWarn
		case workCanceled:
			level = slog.LevelInfo
		default:
			level = slog.LevelError
		}
	}
	if wr.followUp != "" {
		attrs = append(attrs, slog.String("followUp", wr.followUp))
	}
	if wr.deadLetter != "" {
		attrs = append(attrs, slog.String("deadLetter", wr.deadLetter))
	}
	if wr.dlErr != nil {
		attrs = append(attrs, apply.NamedCause("deadLetterCause", wr.dlErr))
		level = slog.LevelError
	}
	attrs = append(attrs, slog.String("outcome", outcome),
		slog.Float64("durationMs", float64(time.Since(start).Microseconds())/1000))
	w.log.LogAttrs(ctx, level, "worker", attrs...)
	w.finish(ctx, wr, outcome, start, final)
}

// finish writes the audit line of the worker's decision on one delivery
// (applied, replayed: applied before, refused or failed for good, or
// dead-lettered; a retry is not a decision: the message comes back) and,
// once the outcome is final, its write-back to the ticket, through the
// pipeline's Finish.
func (w *Worker) finish(ctx context.Context, wr *workRecord, outcome string, start time.Time, final bool) {
	audit := ""
	switch {
	case outcome == workApplied:
		audit = apply.AuditApplied
	case outcome == workReplayed:
		audit = apply.AuditReplayed
	case wr.deadLetter == deadLetterSent || outcome == workDead:
		audit = apply.AuditDeadLettered
	case outcome == workFailed || outcome == workDropped || outcome == workCanceled:
		audit = apply.FailedOutcome(wr.err)
	}
	if wr.o == nil {
		// Not a message this worker can read: no change to name.
		if audit != "" {
			w.pipe.Audit(ctx, &apply.Entry{Start: start, Reason: apply.Slug(wr.err), Outcome: audit})
		}
		return
	}
	wr.o.Audit, wr.o.WriteBack = audit, final
	w.pipe.Finish(ctx, wr.o)
}
