package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/enrollhook/enrollhook/pkg/apply"
	"github.com/enrollhook/enrollhook/pkg/awsapi"
	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/chat"
	"github.com/enrollhook/enrollhook/pkg/queue"
)

// Queue is what the handler needs to hand a change to the worker.
type Queue interface {
	// Enqueue sends m; any error means it was not queued.
	Enqueue(ctx context.Context, m *queue.Message) error
}

// StatusQueued is the status of a 202 answer; StatusScheduled when the
// change waits for its window on a schedule (more than 15 minutes ahead).
const (
	StatusQueued    = "queued"
	StatusScheduled = "scheduled"
)

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
	// NotBefore is when the change's window opens, when it is queued
	// until then (RFC 3339).
	NotBefore string `json:"notBefore,omitempty"`
}

// enqueueTimeout bounds the enqueue call within the request's deadline.
const enqueueTimeout = 5 * time.Second

// send enqueues m, or schedules it when it must wait longer than the
// queue can hold it; a failure is 503 queue-unavailable.
func (h *Handler) send(ctx context.Context, m *queue.Message, schedule bool) error {
	ctx, cancel := h.pipe.Outbound(ctx)
	defer cancel()
	ctx, cancel2 := context.WithTimeout(ctx, enqueueTimeout)
	defer cancel2()
	if s := h.opts.Async.Scheduler; s != nil && schedule {
		if err := s.Schedule(ctx, m, m.NotBefore); err != nil {
			return queueFailure(err, "the scheduler is unavailable, so the change was not scheduled for its window; retry later",
				"the scheduler did not confirm the change's schedule (no answer, or its own failure), so it may or may not be scheduled for its window; retry later with the same delivery: it is scheduled once")
		}
		return nil
	}
	if err := h.opts.Async.Queue.Enqueue(ctx, m); err != nil {
		return queueFailure(err, "the queue is unavailable, so nothing was queued or applied; retry later",
			"the queue did not confirm the change (no answer, or its own failure), so it may or may not be queued; retry later with the same delivery: a change queued twice is applied once")
	}
	return nil
}

// queueFailure is the 503 of a failed enqueue or schedule: refused says
// nothing was queued, unconfirmed (awsapi.Unconfirmed: no answer, or the
// service's own fault) that it may have been, and marks the error
// change.ErrOutcomeUnknown, so the ticket is told "unknown", not "failed".
func queueFailure(err error, refused, unconfirmed string) error {
	e := &change.Error{Code: change.CodeUnavailable, Kind: change.KindQueueUnavailable, RetryAfter: 5 * time.Second,
		Message: refused, Err: err}
	if awsapi.Unconfirmed(err) {
		e.Message, e.Err = unconfirmed, errors.Join(change.ErrOutcomeUnknown, err)
	}
	return e
}

// queueJob makes job a queued one: the pipeline takes the delivery, sends
// the change to the queue (a failure is 503 queue-unavailable and releases
// the delivery, so the sender's retry runs), and stores the 202 as the
// delivery's answer.
func (h *Handler) queueJob(job *apply.Job) {
	req, sender, deliveryID, reqID, received := job.Request, job.Sender, job.DeliveryID, job.RequestID, job.Start
	job.Enqueue = func(ctx context.Context, key, fingerprint string, notBefore time.Time, schedule bool) error {
		return h.send(ctx, &queue.Message{Source: sender, DeliveryID: deliveryID, Key: key, Fingerprint: fingerprint,
			RequestID: reqID, Request: req, Received: received, Record: req.Ticket.Record, NotBefore: notBefore}, schedule)
	}
	job.QueuedBody = func(notBefore time.Time, schedule bool) []byte {
		q := Queued{Status: StatusQueued, RequestID: reqID, DeliveryID: deliveryID, Ticket: req.Ticket.ID,
			ConfigurationID: req.ConfigurationID, AssignmentID: req.AssignmentID,
			Detail: "the change is approved and queued; it is applied within Intune's write limit, and the outcome is in the audit log under this requestId"}
		if !notBefore.IsZero() {
			if schedule {
				q.Status = StatusScheduled
			}
			q.NotBefore = notBefore.UTC().Format(time.RFC3339)
			q.Detail = "the change is approved and queued until its change window opens at " + q.NotBefore +
				"; it is applied then, within Intune's write limit, and the outcome is in the audit log under this requestId"
		}
		b, _ := json.Marshal(q)
		return b
	}
}

// chatEnqueue queues an assign command and answers "accepted". The
// pipeline checks the policy and takes the change in the de-duplication
// store first, so the same delivery sent twice is queued once; the
// worker's own record makes the apply exactly-once in any case.
func (h *Handler) chatEnqueue(w http.ResponseWriter, r *http.Request, rp Replier, rec *chatRecord, start time.Time) {
	inv, cmd := rec.inv, rec.inv.Command
	job := &apply.Job{Sender: rec.source, DeliveryID: rec.deliveryID, RequestID: rec.requestID, Request: rec.req, Start: start,
		Via: apply.ViaChat, Chat: true}
	job.Enqueue = func(ctx context.Context, key, fingerprint string, notBefore time.Time, schedule bool) error {
		m := &queue.Message{NotBefore: notBefore, Source: rec.source, DeliveryID: rec.deliveryID, Key: key, Fingerprint: fingerprint,
			RequestID: rec.requestID, Request: rec.req, Received: start,
			Chat: &queue.Chat{Tenant: inv.Tenant, User: inv.User, OtherUser: inv.OtherUser}}
		if inv.CanFollowUp {
			m.Chat.ResponseURL = inv.ResponseURL
		}
		return h.send(ctx, m, schedule)
	}
	o := h.pipe.Run(r.Context(), job)
	rec.o, rec.err = &o, o.Err
	reply := chat.Queued(cmd, inv.CanFollowUp)
	switch {
	case o.Replay, apply.InProgress(o.Err):
		// Queued already, or being queued by another attempt.
		o.Err, o.Audit, rec.err = nil, apply.AuditQueued, nil
	case o.Err != nil:
		reply = notDone(inv, cmd, o.Err, rec.requestID)
	}
	h.chatAnswer(w, r, rp, rec, reply, start)
}
