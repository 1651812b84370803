package apply

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/enrollhook/enrollhook/pkg/change"
	"github.com/enrollhook/enrollhook/pkg/record"
)

// recordChange keeps an applied change in the change record (Options.Records):
// the delivery, the ticket and its people, the assignment before and after,
// Graph's request ids. The change is applied whatever happens here: a
// record that cannot be written is logged as an error (the change cannot
// be reverted by its ticket then) and the answer stays the change's.
func (p *Pipeline) recordChange(ctx context.Context, job *Job, a *Applied) {
	if p.opts.Records == nil {
		return
	}
	req := job.Request
	r := &record.Record{
		ID:              p.recordID(job), // the delivery's key, whichever function applied it
		Action:          record.ActionApply,
		Sender:          job.Sender,
		DeliveryID:      job.DeliveryID,
		Ticket:          recordTicket(job),
		ConfigurationID: req.ConfigurationID,
		AssignmentID:    req.AssignmentID,
		Before:          orNull(a.Prior),
		After:           orNull(a.Body),
		Time:            a.written, // zero (the store's clock, now) but for a write settled late
	}
	if id := a.Headers[HeaderAssignmentID]; id != "" {
		r.AssignmentID = id // the assign action named it anew
	}
	for _, id := range []string{a.PriorRequestID, a.Result.RequestID, a.Result.ReadBackRequestID} {
		if id != "" {
			r.GraphRequestIDs = append(r.GraphRequestIDs, id)
		}
	}
	p.putRecord(ctx, job, r)
	// A newer change of the ticket's assignment overtakes its schedule.
	if _, err := p.cancelScheduled(ctx, job.Sender, req.Ticket.ID, req.ConfigurationID, req.AssignmentID, job.RequestID, true); err != nil {
		p.log.ErrorContext(ctx, "a scheduled change of the same assignment could not be cancelled: it may still apply when its window opens",
			slog.String("xRequestId", job.RequestID), Cause(err))
	}
}

// recordID is the id of the job's change record: its delivery's store
// key, whichever function applies it (the worker's without its prefix).
// RecordID is the change record id of job's change (its steps, for a
// revert of several, are the id with ".N").
func (p *Pipeline) RecordID(job *Job) string { return p.recordID(job) }

func (p *Pipeline) recordID(job *Job) string {
	key, _ := p.keyOf(job)
	return strings.TrimPrefix(key, workKeyPrefix)
}

// scheduledSuffix marks the record of a scheduled change: the change
// applied when the schedule fires is recorded under the delivery's key
// itself.
const scheduledSuffix = ".scheduled"

// recordScheduled records a change held until its window opens (on a
// schedule, or in the queue's delay), before it is queued: a held change
// that history does not show could not be cancelled by a revert of its
// ticket. It fails when the record cannot be written (the change is then
// not held; the sender retries); the record of an earlier attempt of the
// same delivery counts. A revert is not recorded (it names no assignment);
// it is never held on a schedule (window).
func (p *Pipeline) recordScheduled(ctx context.Context, job *Job, notBefore time.Time) error {
	if p.opts.Records == nil || job.Request.Reverts() {
		return nil
	}
	req := job.Request
	r := &record.Record{ID: p.recordID(job) + scheduledSuffix, Action: record.ActionApply, State: record.StateScheduled,
		Sender: job.Sender, DeliveryID: job.DeliveryID, Ticket: recordTicket(job), ConfigurationID: req.ConfigurationID,
		AssignmentID: req.AssignmentID, Before: orNull(nil), After: orNull(nil), NotBefore: notBefore.UTC()}
	unavailable := func(err error) error {
		return &change.Error{Code: change.CodeUnavailable, Kind: change.KindRecordUnavailable, RetryAfter: 5 * time.Second,
			Message: "the change record could not be written, so the change was not held for its window; nothing was queued or changed; retry later", Err: errors.Join(change.ErrNothingSent, err)}
	}
	err := p.storeWrite(ctx, func(ctx context.Context) error { return p.opts.Records.Put(ctx, r) })
	if !errors.Is(err, record.ErrConflict) {
		if err != nil {
			return unavailable(err)
		}
		return nil
	}
	// An earlier attempt of this delivery recorded it (its enqueue
	// failed, and the sender retried): it is this change's only if it
	// holds the same change and nothing cancelled it since.
	had, err := p.opts.Records.Get(ctx, r.ID)
	if err != nil {
		return unavailable(err)
	}
	if had.ConfigurationID != r.ConfigurationID || had.AssignmentID != r.AssignmentID || had.State != record.StateScheduled {
		return &change.Error{Code: change.CodeConflict, Message: "delivery id " + job.DeliveryID + " was held earlier for another change (configuration " +
			had.ConfigurationID + "); nothing was queued or changed: send this change as a new delivery"}
	}
	switch _, err := p.opts.Records.Get(ctx, r.ID+canceledSuffix); {
	case err == nil:
		return &change.Error{Code: change.CodeConflict, Message: "this change was cancelled (a revert of its ticket, or a newer change of its assignment) after an earlier attempt of this delivery; nothing was queued or changed: send it as a new delivery if it is still wanted"}
	case !errors.Is(err, record.ErrNotFound):
		return unavailable(err)
	}
	return nil
}

// overtakeHeld cancels the other held changes of a newly held change's
// ticket and assignment, once it is queued or scheduled: it overtakes
// them (a new schedule replaced their schedule already).
func (p *Pipeline) overtakeHeld(ctx context.Context, job *Job, sched bool) {
	if p.opts.Records == nil || job.Request.Reverts() {
		return
	}
	req := job.Request
	if _, err := p.cancelScheduled(ctx, job.Sender, req.Ticket.ID, req.ConfigurationID, req.AssignmentID, job.RequestID, !sched,
		p.recordID(job)+scheduledSuffix); err != nil {
		p.log.WarnContext(ctx, "the overtaken held change's cancellation could not be recorded: when it arrives, the worker applies it, before or after this one",
			slog.String("xRequestId", job.RequestID), Cause(err))
	}
}

// pendingScheduled returns the scheduled changes of recs that have neither
// been applied (their schedule fired) nor cancelled.
func pendingScheduled(recs []record.Record) []record.Record {
	ids := make(map[string]bool, len(recs))
	for _, r := range recs {
		ids[r.ID] = true
	}
	var out []record.Record
	for _, r := range recs {
		if r.State != record.StateScheduled || ids[strings.TrimSuffix(r.ID, scheduledSuffix)] {
			continue
		}
		if _, gone := record.RevertedBy(recs, r.ID); !gone {
			out = append(out, r)
		}
	}
	return out
}

// cancelScheduled cancels the pending scheduled changes of a ticket's
// assignment (every assignment when configurationID is empty), but those
// in keep. It records each cancellation first (as a revert that wrote
// nothing): the worker refuses a scheduled change whose cancellation is
// recorded, so it never applies, even if its schedule still fires; then,
// when unschedule is set (not when a new schedule replaced it), it deletes
// the schedule. It returns the records cancelled, and an error when the
// record could not be read or a cancellation not recorded.
func (p *Pipeline) cancelScheduled(ctx context.Context, sender, ticket, configurationID, assignmentID, requestID string, unschedule bool, keep ...string) ([]record.Record, error) {
	if p.opts.Records == nil {
		return nil, nil
	}
	recs, err := p.opts.Records.ByTicket(ctx, sender, ticket)
	if err != nil {
		return nil, recordUnavailable(err)
	}
	var out []record.Record
	for _, s := range pendingScheduled(recs) {
		if slices.Contains(keep, s.ID) || configurationID != "" && (s.ConfigurationID != configurationID || s.AssignmentID != assignmentID) {
			continue
		}
		out = append(out, s)
	}
	_, err = p.cancelRecords(ctx, out, requestID, unschedule)
	return out, err
}

// cancelRecords cancels the held changes recs (cancelScheduled); it
// returns how many of them it cancelled before a failure.
func (p *Pipeline) cancelRecords(ctx context.Context, recs []record.Record, requestID string, unschedule bool) (int, error) {
	for i, s := range recs {
		c := &record.Record{ID: s.ID + canceledSuffix, Action: record.ActionRevert, Reverts: s.ID, Sender: s.Sender, Ticket: s.Ticket,
			ConfigurationID: s.ConfigurationID, AssignmentID: s.AssignmentID, Before: orNull(nil), After: orNull(nil)}
		err := p.storeWrite(ctx, func(ctx context.Context) error { return p.opts.Records.Put(ctx, c) })
		if err != nil && !errors.Is(err, record.ErrConflict) {
			return i, &change.Error{Code: change.CodeUnavailable, Kind: change.KindRecordUnavailable, RetryAfter: 5 * time.Second,
				Message: "the change record could not be written, so held change " + s.ID + " was not cancelled; retry later",
				Err:     errors.Join(change.ErrNothingSent, err)}
		}
		if unschedule && p.opts.Scheduler != nil {
			if err := p.opts.Scheduler.Unschedule(ctx, s.Sender, s.Ticket.ID, s.ConfigurationID, s.AssignmentID); err != nil {
				p.log.WarnContext(ctx, "a cancelled change's schedule could not be deleted: when it fires, the worker refuses it (its cancellation is recorded)",
					slog.String("xRequestId", requestID), slog.String("record", s.ID), Cause(err))
			}
		}
	}
	return len(recs), nil
}

// canceledSuffix names the record of a scheduled change's cancellation.
const canceledSuffix = ".canceled"

// checkNotCanceled refuses a scheduled change (arriving from its schedule)
// whose cancellation is recorded.
func (p *Pipeline) checkNotCanceled(ctx context.Context, job *Job) error {
	if p.opts.Records == nil {
		return nil
	}
	_, err := p.opts.Records.Get(ctx, p.recordID(job)+scheduledSuffix+canceledSuffix)
	switch {
	case errors.Is(err, record.ErrNotFound):
		return nil
	case err != nil:
		return recordUnavailable(err)
	}
	return &change.Error{Code: change.CodeConflict,
		Message: "this scheduled change was cancelled (a revert of its ticket, or a newer change of its assignment) before its window opened; nothing was changed",
		Err:     errScheduleCanceled}
}

// errScheduleCanceled is the cause of checkNotCanceled's refusal.
var errScheduleCanceled = errors.New("apply: the scheduled change's cancellation is recorded")

// Canceled reports whether err refuses a scheduled change because its
// cancellation is recorded: its schedule fired although it was cancelled
// (its delete had failed). Nothing was changed, as intended; the worker
// reports it done rather than as a failure.
func Canceled(err error) bool { return errors.Is(err, errScheduleCanceled) }

// putRecord writes r; the change is made, so a failure is only logged.
func (p *Pipeline) putRecord(ctx context.Context, job *Job, r *record.Record) {
	err := p.storeWrite(ctx, func(ctx context.Context) error { return p.opts.Records.Put(ctx, r) })
	if err != nil {
		p.log.ErrorContext(ctx, "change applied but not recorded: it cannot be reverted by its ticket",
			slog.String("xRequestId", job.RequestID), slog.String("record", r.ID), Cause(err))
	}
}

// recordTicket is the ticket of a job as the record keeps it.
func recordTicket(job *Job) record.Ticket {
	t := job.Request.Ticket
	return record.Ticket{ID: t.ID, System: t.System, URL: t.URL, RequestedBy: t.RequestedBy, RequestedByID: t.RequestedByID,
		ApprovedBy: t.ApprovedBy, ApprovedByID: t.ApprovedByID}
}

// orNull is b, or JSON null when there is none (the record's "none").
func orNull(b []byte) json.RawMessage {
	if len(b) == 0 {
		return json.RawMessage("null")
	}
	return b
}

// RecordedSince reports whether a change of a sender's ticket was recorded
// at or after since (any, for a zero since); known is false without a
// change record, which cannot tell.
func (p *Pipeline) RecordedSince(ctx context.Context, sender, ticket string, since time.Time) (recorded, known bool, err error) {
	if p.opts.Records == nil {
		return false, false, nil
	}
	recs, err := p.opts.Records.ByTicket(ctx, sender, ticket)
	if err != nil {
		return false, true, err
	}
	for _, r := range recs {
		if !r.Time.Before(since) {
			return true, true, nil
		}
	}
	return false, true, nil
}
