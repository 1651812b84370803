package apply

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"

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
	key, _ := p.keyOf(job)
	r := &record.Record{
		ID:              strings.TrimPrefix(key, workKeyPrefix), // the delivery's key, whichever function applied it
		Action:          record.ActionApply,
		Sender:          job.Sender,
		DeliveryID:      job.DeliveryID,
		Ticket:          recordTicket(job),
		ConfigurationID: req.ConfigurationID,
		AssignmentID:    req.AssignmentID,
		Before:          orNull(a.Prior),
		After:           orNull(a.Body),
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
}

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
