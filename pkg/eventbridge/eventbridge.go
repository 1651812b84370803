package eventbridge

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/enrollhook/enrollhook/pkg/apply"
	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/sender"
)

// AllowList says which events may ask at all (pkg/policy's eventbridge
// section).
type AllowList interface {
	// CheckEvent returns nil when an event of source, account and
	// detailType may ask for a change. Errors are *change.Error with
	// CodeForbidden and change.KindPolicyEvent.
	CheckEvent(source, account, detailType string) error
}

// Handler applies EventBridge events through the pipeline every sender
// uses.
type Handler struct {
	pipe  *apply.Pipeline
	allow AllowList
	log   *slog.Logger
	now   func() time.Time // the clock an event's time is checked against
}

// New returns the handler that checks events against allow and applies
// them through p. A nil allow refuses every event (fail closed).
func New(p *apply.Pipeline, allow AllowList) *Handler {
	return &Handler{pipe: p, allow: allow, log: p.Logger(), now: time.Now}
}

// Bounds of an event's time. An event is applied once because its id is
// kept in the de-duplication table, for as long as answers are kept
// (apply.Pipeline.AnswersKept, ENROLLHOOK_IDEMPOTENCY_TTL, 48 h by
// default): a copy older than that (an archive's replay, a dead letter put
// back, an invoke of a captured event) would be applied again. So an event
// whose time is older than that less maxAgeMargin, or ahead of the clock by
// more than maxAhead (PutEvents lets its caller set the time), is refused.
// EventBridge's and Lambda's retries (template.yaml: within an hour each)
// stay well inside.
const (
	maxAgeMargin = time.Hour
	maxAhead     = 5 * time.Minute
)

// Handle outcomes, logged as the outcome of an "eventbridge" line.
const (
	outcomeApplied  = "applied"  // Graph applied the change
	outcomePlanned  = "planned"  // a dry run: read, nothing written
	outcomeReplayed = "replayed" // decided before: a redelivered event
	outcomeRefused  = "refused"  // refused or failed for good: final, not retried
	outcomeRetry    = "retry"    // a retryable failure: the error goes back to Lambda
)

// RetryError is what Handle returns for a retryable failure: Lambda retries
// the asynchronous invocation, then sends the event to the dead-letter
// queue. Its text names the event and the problem type only; the cause is
// in the function's log.
type RetryError struct {
	EventID string
	// Problem is the problem type of the failure (after
	// urn:enrollhook:problem:), e.g. write-limit or graph-unavailable.
	Problem string
	err     error
}

func (e *RetryError) Error() string {
	return "eventbridge: event " + e.EventID + " not applied (" + e.Problem + "); retry it"
}

// Unwrap returns the failure.
func (e *RetryError) Unwrap() error { return e.err }

// Handle applies one event exactly once and reports whether it should come
// again: nil when the event is decided (applied, planned, replayed, or
// refused: a refusal is final and is not retried), a *RetryError when the
// failure may pass (Graph throttled or unavailable, out of time, the store
// unreachable, another invocation holding the same event id). Every
// decision writes an audit line and its metrics, the refusals with their
// reason.
func (h *Handler) Handle(ctx context.Context, ev events.EventBridgeEvent) error {
	start := time.Now()
	line := &eventLine{ev: &ev}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		line.requestID = lc.AwsRequestID
	}
	if err := h.admit(&ev); err != nil {
		return h.refuse(ctx, line, err, start)
	}
	req, err := change.Decode(ev.Detail, h.pipe.ChangeOptions())
	if err != nil {
		return h.refuse(ctx, line, err, start)
	}
	line.req = req
	// Decode validated the change; the pipeline checks approval, the
	// policy, separation of duties and the window. The event id is the
	// delivery id, so the store key is the event's; a refusal that follows
	// the take is kept, so a redelivered event gets it again without
	// reaching Graph.
	job := &apply.Job{Sender: sender.EventBridge, DeliveryID: ev.ID, RequestID: line.requestID, Request: req, Start: start,
		Via: apply.ViaWorker, DryRun: req.DryRun, KeepRefusals: true}
	o := h.pipe.Run(ctx, job)
	line.o = &o
	switch {
	case o.Err == nil:
		line.outcome = outcomeApplied
		switch {
		case o.Replay:
			line.outcome = outcomeReplayed
		case o.Planned:
			line.outcome = outcomePlanned
		}
		h.logLine(ctx, line, start)
		h.pipe.Finish(ctx, &o)
		return nil
	case apply.Retryable(o.Err), apply.InProgress(o.Err):
		// Not a decision: the event comes back, and its audit line is
		// written by the attempt that decides it.
		line.outcome = outcomeRetry
		h.logLine(ctx, line, start)
		o.Audit, o.WriteBack = "", false
		h.pipe.Finish(ctx, &o)
		return &RetryError{EventID: ev.ID, Problem: apply.Slug(o.Err), err: o.Err}
	}
	line.outcome = outcomeRefused
	h.logLine(ctx, line, start)
	h.pipe.Finish(ctx, &o)
	return nil
}

// admit checks the event's envelope and who sent it, before its detail is
// read.
func (h *Handler) admit(ev *events.EventBridgeEvent) error {
	if ev.ID == "" {
		return &change.Error{Code: change.CodeMalformed, Kind: change.KindMalformedRequest,
			Message: "the event has no id, so it cannot be de-duplicated; nothing was changed"}
	}
	if h.allow == nil {
		return change.Refuse(change.KindPolicyEvent, "no eventbridge allow-list, so every event is refused; nothing was changed")
	}
	if err := h.allow.CheckEvent(ev.Source, ev.AccountID, ev.DetailType); err != nil {
		return err
	}
	return h.fresh(ev)
}

// fresh refuses an event whose time is missing, too old to be told from a
// copy of an event applied before, or ahead of the clock (the bounds
// above).
func (h *Handler) fresh(ev *events.EventBridgeEvent) error {
	if ev.Time.IsZero() {
		return &change.Error{Code: change.CodeMalformed, Kind: change.KindMalformedRequest,
			Message: "the event has no time, so it cannot be told from an old copy; nothing was changed"}
	}
	now, maxAge := h.now(), h.pipe.AnswersKept()-maxAgeMargin
	switch {
	case ev.Time.After(now.Add(maxAhead)):
		return &change.Error{Code: change.CodeUnauthenticated, Kind: change.KindTimestampOutside,
			Message: "the event's time is more than 5 minutes ahead of the function's clock; nothing was changed"}
	case now.Sub(ev.Time) > maxAge:
		return &change.Error{Code: change.CodeUnauthenticated, Kind: change.KindTimestampOutside,
			Message: "the event is older than " + hours(maxAge) + " (as long as an event id is kept, less an hour), so a copy of an event applied before could not be told from it; nothing was changed: send the change as a new event"}
	}
	return nil
}

// refuse settles an event refused before the pipeline: logged, written to
// the audit line with its reason and counted; nil, so it is not retried.
func (h *Handler) refuse(ctx context.Context, line *eventLine, err error, start time.Time) error {
	line.outcome, line.err = outcomeRefused, err
	h.logLine(ctx, line, start)
	h.pipe.Audit(ctx, &apply.Entry{RequestID: line.requestID, DeliveryID: line.ev.ID, Sender: sender.EventBridge,
		Outcome: apply.FailedOutcome(err), Reason: apply.Slug(err), Start: start})
	return nil
}

// eventLine is what one eventbridge line says.
type eventLine struct {
	ev        *events.EventBridgeEvent
	requestID string
	req       *change.Request
	o         *apply.Outcome
	err       error // a refusal before the pipeline
	outcome   string
}

// logLine writes the handler's one line per event: the event's ids and
// origin, the ticket, the outcome and, for a failure, its problem type and
// caller-safe reason; never the detail.
func (h *Handler) logLine(ctx context.Context, l *eventLine, start time.Time) {
	attrs := make([]slog.Attr, 0, 16)
	attrs = append(attrs, slog.String("eventId", l.ev.ID), slog.String("xRequestId", l.requestID),
		slog.String("source", l.ev.Source), slog.String("account", l.ev.AccountID), slog.String("detailType", l.ev.DetailType))
	if r := l.req; r != nil {
		attrs = append(attrs, slog.String("ticket", r.Ticket.ID), slog.String("approvedBy", r.Ticket.ApprovedBy),
			slog.String("requestedBy", r.Ticket.RequestedBy), slog.String("configurationId", r.ConfigurationID),
			slog.String("assignmentId", r.AssignmentID))
	}
	err := l.err
	if l.o != nil {
		err = l.o.Err
		attrs = append(attrs, slog.Bool("dryRun", l.o.Job().DryRun))
		if res := l.o.Result; res != nil {
			attrs = append(attrs, slog.String("graphRequestId", res.RequestID))
		}
	}
	level := slog.LevelInfo
	if err != nil {
		p, _ := apply.ProblemFor(err, "")
		attrs = append(attrs, slog.String("problem", p.Type[len(apply.ProblemTypePrefix):]), slog.String("reason", p.Detail))
		if cause := errors.Unwrap(err); cause != nil && p.Status >= 500 {
			attrs = append(attrs, apply.Cause(cause))
		}
		level = slog.LevelWarn
	}
	attrs = append(attrs, slog.String("outcome", l.outcome),
		slog.Float64("durationMs", float64(time.Since(start).Microseconds())/1000))
	h.log.LogAttrs(ctx, level, "eventbridge", attrs...)
}

// hours is d in hours ("47 h"), or as time.Duration writes it when it is
// not a whole number of hours.
func hours(d time.Duration) string {
	if d%time.Hour != 0 {
		return d.String()
	}
	return strconv.Itoa(int(d/time.Hour)) + " h"
}
