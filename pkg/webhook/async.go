package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/chat"
	"github.com/enrollhook/enrollhook/pkg/graph"
	"github.com/enrollhook/enrollhook/pkg/idempotency"
	"github.com/enrollhook/enrollhook/pkg/queue"
)

// Queue is what the handler needs to hand a change to the worker.
type Queue interface {
	// Enqueue sends m; any error means it was not queued.
	Enqueue(ctx context.Context, m *queue.Message) error
}

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

// StatusQueued is the status of a 202 answer.
const StatusQueued = "queued"

// Queued is the body of a 202: the change is approved, taken in the
// de-duplication store and queued; the worker applies it.
type Queued struct {
	Status          string `json:"status"`
	Detail          string `json:"detail"`
	RequestID       string `json:"requestId"`
	DeliveryID      string `json:"deliveryId,omitempty"`
	Ticket          string `json:"ticket"`
	ConfigurationID string `json:"configurationId"`
	AssignmentID    string `json:"assignmentId"`
}

// applyKeyPrefix marks the worker's own record of a change in the store:
// the webhook's record says the delivery was queued, the worker's says it
// was applied, so a message SQS delivers twice is applied once.
const applyKeyPrefix = "apply:"

// enqueueTimeout bounds the enqueue call within the request's deadline.
const enqueueTimeout = 5 * time.Second

// send enqueues m; a failure is 503 queue-unavailable.
func (h *Handler) send(ctx context.Context, m *queue.Message) error {
	ctx, cancel := h.outbound(ctx)
	defer cancel()
	ctx, cancel2 := context.WithTimeout(ctx, enqueueTimeout)
	defer cancel2()
	if err := h.opts.Queue.Enqueue(ctx, m); err != nil {
		return &change.Error{Code: change.CodeUnavailable, Kind: "queue-unavailable", RetryAfter: 5 * time.Second,
			Message: "the queue is unavailable, so nothing was queued or applied; retry later", Err: err}
	}
	return nil
}

// enqueue is the async end of handleHook: the delivery is taken (lease), the
// change goes to the queue, the 202 is stored as the delivery's answer and
// sent. A failed enqueue releases the delivery so the sender's retry runs.
func (h *Handler) enqueue(ctx context.Context, w http.ResponseWriter, r *http.Request, rec record, lease *idempotency.Lease, start time.Time) {
	reqID := w.Header().Get(HeaderRequestID)
	key, fp := dedupeKey(rec.source, rec.deliveryID, rec.req)
	m := &queue.Message{Source: rec.source, DeliveryID: rec.deliveryID, Key: key, Fingerprint: fp,
		RequestID: reqID, Request: rec.req, Received: start, Record: rec.req.Ticket.Record}
	if err := h.send(ctx, m); err != nil {
		h.dedupeEnd(ctx, lease, true, 0, nil, nil)
		h.finish(w, r, rec, start, err)
		return
	}
	body, _ := json.Marshal(Queued{Status: StatusQueued, RequestID: reqID, DeliveryID: rec.deliveryID, Ticket: rec.req.Ticket.ID,
		ConfigurationID: rec.req.ConfigurationID, AssignmentID: rec.req.AssignmentID,
		Detail: "the change is approved and queued; it is applied within Intune's write limit, and the outcome is in the audit log under this requestId"})
	h.dedupeEnd(ctx, lease, false, http.StatusAccepted, nil, body)
	rec.queued = true
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write(body)
	h.finish(w, r, rec, start, nil)
}

// chatEnqueue queues an assign command and answers "accepted". The command
// is taken in the de-duplication store first, so the same delivery sent
// twice is queued once; the worker's own record makes the apply
// exactly-once in any case.
func (h *Handler) chatEnqueue(w http.ResponseWriter, r *http.Request, rp Replier, rec *chatRecord, start time.Time) {
	ctx := r.Context()
	if _, has := ctx.Deadline(); !has {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, h.opts.Timeout)
		defer cancel()
	}
	inv, cmd := rec.inv, rec.inv.Command
	key, fp := dedupeKey(rec.source, rec.deliveryID, rec.req)
	var lease *idempotency.Lease
	if h.opts.Store != nil {
		until, _ := ctx.Deadline()
		var err error
		lease, err = h.opts.Store.Begin(ctx, key, fp, until)
		var inProgress *idempotency.InProgressError
		switch {
		case err == nil && lease.Replay != nil, errors.As(err, &inProgress):
			// Queued already, or being queued by another attempt.
			h.chatAnswer(w, r, rp, rec, chat.Queued(cmd, inv.CanFollowUp), start)
			return
		case errors.Is(err, idempotency.ErrMismatch):
			rec.err = &change.Error{Code: change.CodeConflict, Kind: "delivery-mismatch",
				Message: "this command's delivery id was already used with a different change"}
			h.chatAnswer(w, r, rp, rec, chat.Failed(cmd, rec.err, rec.requestID), start)
			return
		case err != nil:
			rec.err = &change.Error{Code: change.CodeUnavailable, Kind: "dedupe-unavailable", RetryAfter: 5 * time.Second,
				Message: "the de-duplication store is unavailable, so nothing was queued", Err: err}
			h.chatAnswer(w, r, rp, rec, chat.Failed(cmd, rec.err, rec.requestID), start)
			return
		}
	}
	m := &queue.Message{Source: rec.source, DeliveryID: rec.deliveryID, Key: key, Fingerprint: fp,
		RequestID: rec.requestID, Request: rec.req, Received: start,
		Chat: &queue.Chat{Tenant: inv.Tenant, User: inv.User}}
	if inv.CanFollowUp {
		m.Chat.ResponseURL = inv.ResponseURL
	}
	if err := h.send(ctx, m); err != nil {
		h.dedupeEnd(ctx, lease, true, 0, nil, nil)
		rec.err = err
		h.chatAnswer(w, r, rp, rec, chat.Failed(cmd, err, rec.requestID), start)
		return
	}
	h.dedupeEnd(ctx, lease, false, http.StatusAccepted, nil, nil)
	h.chatAnswer(w, r, rp, rec, chat.Queued(cmd, inv.CanFollowUp), start)
}

// Worker outcomes, logged as the outcome of a "worker" line.
const (
	workApplied  = "applied"       // Graph applied the change
	workReplayed = "replayed"      // applied (or refused) before: a redelivered message
	workRetry    = "retry"         // a retryable failure: the message comes back
	workDead     = "dead-lettered" // a retryable failure on the last receive
	workFailed   = "failed"        // a permanent failure: not retried (unless the dead-letter queue failed)
	workDropped  = "dropped"       // not a message this worker can read
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
	a          *applied // the apply, for the audit line (audit.go)
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
// kept, so a redelivered copy does not reach Graph again.
func (h *Handler) Process(ctx context.Context, d queue.Delivery) error {
	start := time.Now()
	wr := &workRecord{d: d}
	m, err := queue.Decode(d.Body)
	if err != nil {
		wr.err = &change.Error{Code: change.CodeMalformed, Kind: "malformed-request", Message: "the message is not a queued change of this version", Err: err}
		return h.workFail(ctx, wr, workDropped, start)
	}
	wr.msg = m
	req := m.Request
	req.Ticket.Record = m.Record // for the write-back (writeback.go)
	// The webhook validated the change; the worker checks again, since the
	// queue is a trust boundary of its own.
	if err := req.Validate(&h.change); err != nil {
		wr.err = err
		return h.workFail(ctx, wr, workFailed, start)
	}
	if !req.Approved() {
		wr.err = notApproved(req.Ticket.State)
		return h.workFail(ctx, wr, workFailed, start)
	}
	// The policy in force now, not the one the webhook saw: a message
	// queued before a policy change does not bypass it (policy.go).
	if err := h.checkQueued(m); err != nil {
		wr.err = err
		return h.workFail(ctx, wr, workFailed, start)
	}
	if _, has := ctx.Deadline(); !has {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, h.opts.Timeout)
		defer cancel()
	}
	var lease *idempotency.Lease
	if h.opts.Store != nil {
		until, _ := ctx.Deadline()
		lease, err = h.opts.Store.Begin(ctx, applyKeyPrefix+m.Key, m.Fingerprint, until)
		var inProgress *idempotency.InProgressError
		switch {
		case errors.As(err, &inProgress):
			wr.err = &change.Error{Code: change.CodeConflict, Kind: "delivery-in-progress", RetryAfter: inProgress.RetryAfter,
				Message: "another worker is applying this change", Err: err}
			return h.workRetry(ctx, wr, start)
		case errors.Is(err, idempotency.ErrMismatch):
			wr.err = &change.Error{Code: change.CodeConflict, Kind: "delivery-mismatch",
				Message: "this delivery id was already applied with a different change", Err: err}
			return h.workFail(ctx, wr, workFailed, start)
		case err != nil:
			wr.err = &change.Error{Code: change.CodeUnavailable, Kind: "dedupe-unavailable", RetryAfter: 5 * time.Second,
				Message: "the de-duplication store is unavailable, so nothing was applied", Err: err}
			return h.workRetry(ctx, wr, start)
		case lease.Replay != nil:
			h.workLog(ctx, wr, workReplayed, start)
			return nil
		}
	}
	a, err := h.apply(ctx, req, m.RequestID)
	wr.result, wr.a = a.result, a
	if err != nil {
		wr.err = err
		if retryable(err) {
			h.dedupeEnd(ctx, lease, true, 0, nil, nil)
			return h.workRetry(ctx, wr, start)
		}
		if h.opts.DeadLetters != nil {
			// The dead-letter queue keeps the message: release the
			// record, so that moving it back applies the change.
			h.dedupeEnd(ctx, lease, true, 0, nil, nil)
		} else {
			// Keep the refusal, so a redelivered copy does not reach
			// Graph again.
			p, _ := problemFor(err, m.RequestID)
			body, _ := json.Marshal(p)
			h.dedupeEnd(ctx, lease, false, p.Status, nil, body)
		}
		return h.workFail(ctx, wr, workFailed, start)
	}
	h.dedupeEnd(ctx, lease, false, http.StatusOK, a.headers, a.body)
	if m.Chat != nil {
		wr.followUp = h.workFollowUp(ctx, m, chat.Applied(invocationOf(m), req, a.body, a.result.RequestID))
	}
	h.workLog(ctx, wr, workApplied, start)
	h.writeBack(ctx, m.Source, m.RequestID, req, a.result, nil) // writeback.go
	return nil
}

// MaxReceive is how often the queue delivers a message before it moves to
// the dead-letter queue: the redrive policy's maxReceiveCount in
// template.yaml, and Local's default. The worker's last attempt reports
// the failure to the chat user and sends the message to the dead-letter
// queue with its reason itself (Options.DeadLetters).
const MaxReceive = 5

// workRetry logs a retryable failure and returns it, so the queue delivers
// the message again. On the last receive the failure is final: reported to
// the chat user and sent to the dead-letter queue with its reason; nil is
// returned once it is there, the failure if it could not be sent (SQS's
// redrive moves it then).
func (h *Handler) workRetry(ctx context.Context, wr *workRecord, start time.Time) error {
	if wr.d.ReceiveCount < MaxReceive {
		h.workLog(ctx, wr, workRetry, start)
		return wr.err
	}
	if wr.msg.Chat != nil {
		wr.followUp = h.workFollowUp(ctx, wr.msg, chat.Failed(nil, wr.err, wr.msg.RequestID))
	}
	sent := h.deadLetter(ctx, wr, queue.FailureExhausted)
	h.workLog(ctx, wr, workDead, start)
	h.writeBack(ctx, wr.msg.Source, wr.msg.RequestID, wr.msg.Request, wr.result, wr.err) // the last receive: final
	if sent {
		return nil
	}
	return wr.err
}

// workFail reports a permanent failure and sends the message to the
// dead-letter queue with its reason. It returns nil, so the message is not
// received again, unless the dead-letter queue was configured and failed:
// then the failure comes back to be sent again (and moves by redrive after
// the last receive), so that it is not lost. The chat user hears of it
// once the message is done with, or on the last receive.
func (h *Handler) workFail(ctx context.Context, wr *workRecord, outcome string, start time.Time) error {
	sent := h.deadLetter(ctx, wr, queue.FailurePermanent)
	final := sent || h.opts.DeadLetters == nil || wr.d.ReceiveCount >= MaxReceive
	if final && wr.msg != nil && wr.msg.Chat != nil {
		wr.followUp = h.workFollowUp(ctx, wr.msg, chat.Failed(nil, wr.err, wr.msg.RequestID))
	}
	h.workLog(ctx, wr, outcome, start)
	if final && wr.msg != nil {
		h.writeBack(ctx, wr.msg.Source, wr.msg.RequestID, wr.msg.Request, wr.result, wr.err) // writeback.go
	}
	if wr.deadLetter == deadLetterFailed {
		return wr.err
	}
	return nil
}

// deadLetter sends the delivery's body to Options.DeadLetters with the
// reason of wr.err, and says whether it is there. Without a dead-letter
// queue it does nothing and reports false.
func (h *Handler) deadLetter(ctx context.Context, wr *workRecord, failure string) bool {
	if h.opts.DeadLetters == nil {
		return false
	}
	p, _ := problemFor(wr.err, "")
	r := queue.Reason{Problem: p.Type[len(ProblemTypePrefix):], Detail: p.Detail, Failure: failure,
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
	if err := h.opts.DeadLetters.DeadLetter(dctx, wr.d.Body, r); err != nil {
		wr.deadLetter, wr.dlErr = deadLetterFailed, err
		return false
	}
	wr.deadLetter = deadLetterSent
	return true
}

// retryable reports whether a failure of the apply step may pass: Graph
// throttled, unavailable or out of time, no write slot, or a fault of our
// own (which the dead-letter queue keeps if it persists).
func retryable(err error) bool {
	switch change.ErrorCode(err) {
	case change.CodeUnavailable, change.CodeTimeout, change.CodeInternal:
		return true
	}
	return false
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

// workFollowUp posts reply to the chat command's sender and says how it
// went: posted, failed or unavailable (Teams, or no response_url).
func (h *Handler) workFollowUp(ctx context.Context, m *queue.Message, reply *chat.Reply) string {
	fu := h.opts.FollowUps[m.Source]
	if fu == nil {
		if rp, ok := h.sources[m.Source].(Replier); ok {
			fu = rp
		}
	}
	inv := invocationOf(m)
	if fu == nil || !inv.CanFollowUp {
		return "unavailable"
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := fu.FollowUp(ctx, inv, reply); err != nil {
		h.log.WarnContext(ctx, "worker follow-up not posted", slog.String("xRequestId", m.RequestID), causeAttr(err))
		return "failed"
	}
	return "posted"
}

// workLog writes the worker's one audit line per delivery: ids, the ticket,
// who requested and approved it, the outcome and, for a failure, its
// problem type and caller-safe reason; never the payload or the
// response_url.
func (h *Handler) workLog(ctx context.Context, wr *workRecord, outcome string, start time.Time) {
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
			slog.String("targetType", targetType(req)),
			slog.Bool("deduplicated", h.opts.Store != nil))
	}
	if wr.result != nil {
		attrs = append(attrs, slog.String("graphRequestId", wr.result.RequestID), slog.String("clientRequestId", wr.result.ClientRequestID))
	}
	level := slog.LevelInfo
	if wr.err != nil {
		p, _ := problemFor(wr.err, "")
		attrs = append(attrs, slog.String("problem", p.Type[len(ProblemTypePrefix):]), slog.String("reason", p.Detail))
		if cause := errors.Unwrap(wr.err); cause != nil && p.Status >= 500 {
			attrs = append(attrs, causeAttr(cause))
		}
		level = slog.LevelWarn
		if outcome != workRetry {
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
		attrs = append(attrs, namedCause("deadLetterCause", wr.dlErr))
		level = slog.LevelError
	}
	attrs = append(attrs, slog.String("outcome", outcome),
		slog.Float64("durationMs", float64(time.Since(start).Microseconds())/1000))
	h.log.LogAttrs(ctx, level, "worker", attrs...)
	h.workAudit(ctx, wr, outcome, start)
}
